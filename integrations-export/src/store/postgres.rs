//! The export store on PostgreSQL, for several replicas.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use integrations_core::TenantId;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

use super::{Claimed, ExportId, ExportPreference, ExportRecord, ExportStore, Outcome};
use crate::error::Error;
use crate::request::ExportRequest;

/// The export store on PostgreSQL (feature `postgres`), for hosts that run
/// several replicas on one database: workers on every replica claim due
/// exports with `FOR UPDATE SKIP LOCKED`, so each export goes to one
/// worker; an export whose worker died is claimed again when its lease
/// (timed by the database's clock) runs out, and the next attempt is told
/// to look for the first one's work.
///
/// Tables `integrations_exports` and `integrations_export_preferences` are
/// created by migrations that leave other crates' and the host's alone.
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Debug, Clone)]
pub struct PgExportStore {
    pool: PgPool,
}

fn store_error(what: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |error| Error::store(what, error)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

fn record(row: &PgRow) -> Result<ExportRecord, Error> {
    super::record_from_row!(row, |at: DateTime<Utc>| at)
}

fn claimed(row: &PgRow) -> Result<Claimed, Error> {
    let record = record(row)?;
    let first: Option<DateTime<Utc>> = row
        .try_get("first_attempt_at")
        .map_err(store_error("read an export"))?;
    let resumed_since = (record.attempts > 1).then_some(first).flatten();
    Ok(Claimed {
        record,
        resumed_since,
    })
}

/// The channel a trigger notifies on each enqueue (migration
/// `20261203130000_notify.sql`).
const ENQUEUED: &str = "integrations_exports_enqueued";

/// The claim's `SET`, shared by `claim` and `claim_id`.
macro_rules! take {
    () => {
        "status = 'sending', attempts = e.attempts + 1,
         lease_until = now() + $1 * interval '1 millisecond', owner = $3,
         first_attempt_at = COALESCE(e.first_attempt_at, now()), updated_at = now()"
    };
}

impl PgExportStore {
    /// Connects to the database at `url` (a pool of up to 10 connections)
    /// and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .map_err(store_error("connect to PostgreSQL"))?;
        Self::with_pool(pool).await
    }

    /// A store on the host's own pool; applies the migrations.
    pub async fn with_pool(pool: PgPool) -> Result<Self, Error> {
        let mut migrator = sqlx::migrate!("./migrations-postgres");
        migrator.set_ignore_missing(true);
        migrator
            .run(&pool)
            .await
            .map_err(|error| Error::store("apply the export migrations", error))?;
        Ok(Self { pool })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl ExportStore for PgExportStore {
    async fn enqueue(&self, request: &ExportRequest) -> Result<(ExportId, bool), Error> {
        let content = serde_json::to_string(&request.content)
            .map_err(|error| Error::store("write an export's content", error))?;
        let inserted: Option<ExportId> = sqlx::query_scalar(
            "INSERT INTO integrations_exports
                (tenant, provider, destination, connection, idempotency_key, content, status,
                 next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', now(), now(), now())
             ON CONFLICT (tenant, idempotency_key) DO NOTHING
             RETURNING id",
        )
        .bind(request.tenant.as_str())
        .bind(request.provider.as_str())
        .bind(&request.destination)
        .bind(&request.connection)
        .bind(&request.idempotency_key)
        .bind(content)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error("enqueue an export"))?;
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let id = sqlx::query_scalar(
            "SELECT id FROM integrations_exports WHERE tenant = $1 AND idempotency_key = $2",
        )
        .bind(request.tenant.as_str())
        .bind(&request.idempotency_key)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error("enqueue an export"))?;
        Ok((id, false))
    }

    async fn enqueues(
        &self,
    ) -> Result<Option<futures_util::stream::BoxStream<'static, ()>>, Error> {
        use futures_util::StreamExt;
        let wakes = integrations_core::postgres::notifications(&self.pool, ENQUEUED)
            .await
            .map_err(store_error("listen for enqueues"))?
            .map(|_| ());
        Ok(Some(wakes.boxed()))
    }

    async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        owner: &str,
    ) -> Result<Vec<Claimed>, Error> {
        let rows = sqlx::query(concat!(
            "WITH due AS (
                 SELECT id FROM integrations_exports
                 WHERE (status = 'pending' AND next_attempt_at <= now())
                    OR (status = 'sending' AND lease_until <= now())
                 ORDER BY next_attempt_at, id
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE integrations_exports AS e SET ",
            take!(),
            " FROM due WHERE e.id = due.id
             RETURNING e.*"
        ))
        .bind(millis(lease))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("claim exports"))?;
        rows.iter().map(claimed).collect()
    }

    async fn claim_id(
        &self,
        id: ExportId,
        lease: Duration,
        owner: &str,
    ) -> Result<Option<Claimed>, Error> {
        sqlx::query(concat!(
            "UPDATE integrations_exports AS e SET ",
            take!(),
            " WHERE e.id = $2
               AND (e.status = 'pending' OR (e.status = 'sending' AND e.lease_until <= now()))
             RETURNING e.*"
        ))
        .bind(millis(lease))
        .bind(id)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error("claim an export"))?
        .map(|row| claimed(&row))
        .transpose()
    }

    async fn renew(
        &self,
        id: ExportId,
        attempt: u32,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, Error> {
        let renewed = sqlx::query(
            "UPDATE integrations_exports
             SET lease_until = now() + $1 * interval '1 millisecond'
             WHERE id = $2 AND attempts = $3 AND owner = $4 AND status = 'sending'",
        )
        .bind(millis(lease))
        .bind(id)
        .bind(i64::from(attempt))
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(store_error("renew a lease"))?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn reclaim(&self, owner: &str, lease: Duration) -> Result<Vec<Claimed>, Error> {
        let rows = sqlx::query(
            "UPDATE integrations_exports
             SET attempts = attempts + 1,
                 lease_until = now() + $1 * interval '1 millisecond', updated_at = now()
             WHERE status = 'sending' AND owner = $2
             RETURNING *",
        )
        .bind(millis(lease))
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("reclaim exports"))?;
        rows.iter().map(claimed).collect()
    }

    async fn finish(&self, id: ExportId, attempt: u32, outcome: &Outcome) -> Result<bool, Error> {
        let query = match outcome {
            Outcome::Delivered(result) => sqlx::query(
                "UPDATE integrations_exports
                 SET status = 'delivered', external_id = $3, external_url = $4, requests = $5,
                     error = NULL, error_kind = NULL, lease_until = NULL, updated_at = now()
                 WHERE id = $1 AND attempts = $2 AND status = 'sending'",
            )
            .bind(id)
            .bind(i64::from(attempt))
            .bind(result.external_id.clone())
            .bind(result.external_url.clone())
            .bind(i64::try_from(result.requests).unwrap_or(i64::MAX)),
            Outcome::Retry { at, error } => sqlx::query(
                "UPDATE integrations_exports
                 SET status = 'pending', next_attempt_at = $3, error = $4, error_kind = $5,
                     lease_until = NULL, updated_at = now()
                 WHERE id = $1 AND attempts = $2 AND status = 'sending'",
            )
            .bind(id)
            .bind(i64::from(attempt))
            .bind(*at)
            .bind(error.message.clone())
            .bind(error.kind.as_str()),
            Outcome::Failed { error } => sqlx::query(
                "UPDATE integrations_exports
                 SET status = 'failed', error = $3, error_kind = $4, lease_until = NULL,
                     updated_at = now()
                 WHERE id = $1 AND attempts = $2 AND status = 'sending'",
            )
            .bind(id)
            .bind(i64::from(attempt))
            .bind(error.message.clone())
            .bind(error.kind.as_str()),
        };
        let done = query
            .execute(&self.pool)
            .await
            .map_err(store_error("record an export's outcome"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> Result<Option<ExportRecord>, Error> {
        sqlx::query("SELECT * FROM integrations_exports WHERE tenant = $1 AND idempotency_key = $2")
            .bind(tenant.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error("read an export"))?
            .map(|row| record(&row))
            .transpose()
    }

    async fn log(&self, tenant: &TenantId, limit: usize) -> Result<Vec<ExportRecord>, Error> {
        let rows = sqlx::query(
            "SELECT * FROM integrations_exports WHERE tenant = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the export log"))?;
        rows.iter().map(record).collect()
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, Error> {
        // The database's clock: how far away, applied to ours.
        let wait: Option<f64> = sqlx::query_scalar(
            "SELECT EXTRACT(EPOCH FROM MIN(CASE WHEN status = 'pending' THEN next_attempt_at
                                                ELSE lease_until END) - now())::float8
             FROM integrations_exports WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error("read the outbox"))?;
        Ok(wait
            .map(|seconds| Utc::now() + chrono::Duration::milliseconds((seconds * 1000.0) as i64)))
    }

    async fn set_preference(
        &self,
        tenant: &TenantId,
        preference: &ExportPreference,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO integrations_export_preferences
                (tenant, deliverable, provider, destination, connection, auto_export)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant, deliverable, provider, destination)
             DO UPDATE SET connection = excluded.connection, auto_export = excluded.auto_export",
        )
        .bind(tenant.as_str())
        .bind(&preference.deliverable)
        .bind(preference.provider.as_str())
        .bind(&preference.destination)
        .bind(&preference.connection)
        .bind(preference.auto_export)
        .execute(&self.pool)
        .await
        .map_err(store_error("save an export preference"))?;
        Ok(())
    }

    async fn preferences(
        &self,
        tenant: &TenantId,
        deliverable: &str,
    ) -> Result<Vec<ExportPreference>, Error> {
        let rows = sqlx::query(
            "SELECT * FROM integrations_export_preferences
             WHERE tenant = $1 AND deliverable = $2 ORDER BY provider, destination",
        )
        .bind(tenant.as_str())
        .bind(deliverable)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read export preferences"))?;
        rows.iter()
            .map(|row| super::preference_from_row!(row))
            .collect()
    }
}
