//! The export store on SQLite, with enqueues committed in groups.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use integrations_core::TenantId;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};

use super::{Claimed, ExportId, ExportPreference, ExportRecord, ExportStore, Outcome};
use crate::error::Error;
use crate::request::ExportRequest;

/// Most enqueues committed in one transaction.
const GROUP: usize = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS integrations_exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    provider TEXT NOT NULL,
    destination TEXT NOT NULL,
    connection TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    content TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    owner TEXT,
    first_attempt_at INTEGER,
    external_id TEXT,
    external_url TEXT,
    requests INTEGER,
    error TEXT,
    error_kind TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX IF NOT EXISTS integrations_exports_due
    ON integrations_exports (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS integrations_exports_log
    ON integrations_exports (tenant, id);
CREATE TABLE IF NOT EXISTS integrations_export_preferences (
    tenant TEXT NOT NULL,
    deliverable TEXT NOT NULL,
    provider TEXT NOT NULL,
    destination TEXT NOT NULL,
    connection TEXT NOT NULL,
    auto_export INTEGER NOT NULL,
    PRIMARY KEY (tenant, deliverable, provider, destination)
);
";

type Reply = oneshot::Sender<Result<(ExportId, bool), Error>>;

/// The export store on an SQLite file (the default embedded backend).
///
/// Its tables (`integrations_exports`, `integrations_export_preferences`)
/// are created if missing, so it can share a file with the credential
/// store. Enqueues from concurrent callers are committed together, up to
/// 512 per transaction, by one writer task: each caller's `enqueue`
/// returns once the transaction holding its export has committed (in WAL
/// mode with `synchronous=NORMAL`: the export survives a crash of the
/// process; open with [`connect`](Self::connect) and `synchronous=FULL` for
/// power loss too). The writer stops when the store is dropped.
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[derive(Clone)]
pub struct SqliteExportStore {
    pool: SqlitePool,
    writer: mpsc::Sender<(ExportRequest, Reply)>,
    _writer_task: Arc<WriterTask>,
}

/// Aborts the writer when the last handle goes.
struct WriterTask(tokio::task::JoinHandle<()>);

impl Drop for WriterTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for SqliteExportStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteExportStore").finish_non_exhaustive()
    }
}

fn store_error(what: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |error| Error::store(what, error)
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}

fn lease_millis(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

impl SqliteExportStore {
    /// Opens (creating if needed) the database at `path`; a new file is
    /// readable by its owner only (it holds what tenants export).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        integrations_core::credentials::create_private(path.as_ref())
            .await
            .map_err(|e| Error::store("create the database file", e))?;
        let options = SqliteConnectOptions::new()
            .filename(path.as_ref())
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    /// Opens a database from a URL such as `sqlite://data/app.db?mode=rwc`.
    pub async fn connect_url(url: &str) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(store_error("parse the database URL"))?
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    /// Opens a database from sqlx connection options.
    pub async fn connect(options: SqliteConnectOptions) -> Result<Self, Error> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(store_error("open the database"))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(store_error("create the export tables"))?;
        let (writer, queue) = mpsc::channel(GROUP * 4);
        let task = tokio::spawn(write_groups(pool.clone(), queue));
        Ok(Self {
            pool,
            writer,
            _writer_task: Arc::new(WriterTask(task)),
        })
    }
}

/// The writer: takes every enqueue waiting, commits them in one
/// transaction, answers each.
async fn write_groups(pool: SqlitePool, mut queue: mpsc::Receiver<(ExportRequest, Reply)>) {
    let mut group = Vec::with_capacity(GROUP);
    while queue.recv_many(&mut group, GROUP).await > 0 {
        match insert_group(&pool, &group).await {
            Ok(ids) => {
                for ((_, reply), id) in group.drain(..).zip(ids) {
                    let _ = reply.send(Ok(id));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for (_, reply) in group.drain(..) {
                    let _ = reply.send(Err(Error::Store {
                        message: format!("enqueue: {message}"),
                        source: None,
                    }));
                }
            }
        }
    }
}

async fn insert_group(
    pool: &SqlitePool,
    group: &[(ExportRequest, Reply)],
) -> Result<Vec<(ExportId, bool)>, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let mut ids = Vec::with_capacity(group.len());
    let now = millis(Utc::now());
    for (request, _) in group {
        let content = serde_json::to_string(&request.content).unwrap_or_default();
        let inserted: Option<ExportId> = sqlx::query_scalar(
            "INSERT INTO integrations_exports
                (tenant, provider, destination, connection, idempotency_key, content, status,
                 next_attempt_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
             ON CONFLICT (tenant, idempotency_key) DO NOTHING
             RETURNING id",
        )
        .bind(request.tenant.as_str())
        .bind(request.provider.as_str())
        .bind(&request.destination)
        .bind(&request.connection)
        .bind(&request.idempotency_key)
        .bind(content)
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        let id = match inserted {
            Some(id) => (id, true),
            None => {
                let id = sqlx::query_scalar(
                    "SELECT id FROM integrations_exports WHERE tenant = ? AND idempotency_key = ?",
                )
                .bind(request.tenant.as_str())
                .bind(&request.idempotency_key)
                .fetch_one(&mut *transaction)
                .await?;
                (id, false)
            }
        };
        ids.push(id);
    }
    transaction.commit().await?;
    Ok(ids)
}

fn record(row: &SqliteRow) -> Result<ExportRecord, Error> {
    super::record_from_row!(row, |at: i64| time(at))
}

fn claimed(row: &SqliteRow) -> Result<Claimed, Error> {
    let record = record(row)?;
    let first: Option<i64> = row
        .try_get("first_attempt_at")
        .map_err(|error| Error::store("read an export", error))?;
    let resumed_since = (record.attempts > 1).then(|| first.map(time)).flatten();
    Ok(Claimed {
        record,
        resumed_since,
    })
}

/// Due: pending and its time has come, or sending and its lease ran out.
const CLAIM: &str = "
UPDATE integrations_exports
SET status = 'sending', attempts = attempts + 1, lease_until = ?1 + ?2, owner = ?4,
    first_attempt_at = COALESCE(first_attempt_at, ?1), updated_at = ?1
WHERE id IN (
    SELECT id FROM integrations_exports
    WHERE (status = 'pending' AND next_attempt_at <= ?1)
       OR (status = 'sending' AND lease_until <= ?1)
    ORDER BY next_attempt_at, id
    LIMIT ?3
)
RETURNING *";

#[async_trait]
impl ExportStore for SqliteExportStore {
    async fn enqueue(&self, request: &ExportRequest) -> Result<(ExportId, bool), Error> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((request.clone(), reply))
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        owner: &str,
    ) -> Result<Vec<Claimed>, Error> {
        let rows = sqlx::query(CLAIM)
            .bind(millis(Utc::now()))
            .bind(lease_millis(lease))
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
        let now = millis(Utc::now());
        sqlx::query(
            "UPDATE integrations_exports
             SET status = 'sending', attempts = attempts + 1, lease_until = ?1 + ?2, owner = ?4,
                 first_attempt_at = COALESCE(first_attempt_at, ?1), updated_at = ?1
             WHERE id = ?3 AND (status = 'pending' OR (status = 'sending' AND lease_until <= ?1))
             RETURNING *",
        )
        .bind(now)
        .bind(lease_millis(lease))
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
        let now = millis(Utc::now());
        let renewed = sqlx::query(
            "UPDATE integrations_exports SET lease_until = ?1 + ?2
             WHERE id = ?3 AND attempts = ?4 AND owner = ?5 AND status = 'sending'",
        )
        .bind(now)
        .bind(lease_millis(lease))
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
             SET attempts = attempts + 1, lease_until = ?1 + ?2, updated_at = ?1
             WHERE status = 'sending' AND owner = ?3
             RETURNING *",
        )
        .bind(millis(Utc::now()))
        .bind(lease_millis(lease))
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("reclaim exports"))?;
        rows.iter().map(claimed).collect()
    }

    async fn finish(&self, id: ExportId, attempt: u32, outcome: &Outcome) -> Result<bool, Error> {
        let now = millis(Utc::now());
        let query = match outcome {
            Outcome::Delivered(result) => sqlx::query(
                "UPDATE integrations_exports
                 SET status = 'delivered', external_id = ?, external_url = ?, requests = ?,
                     error = NULL, error_kind = NULL, lease_until = NULL, updated_at = ?
                 WHERE id = ? AND attempts = ? AND status = 'sending'",
            )
            .bind(result.external_id.clone())
            .bind(result.external_url.clone())
            .bind(i64::try_from(result.requests).unwrap_or(i64::MAX)),
            Outcome::Retry { at, error } => sqlx::query(
                "UPDATE integrations_exports
                 SET status = 'pending', next_attempt_at = ?, error = ?, error_kind = ?,
                     lease_until = NULL, updated_at = ?
                 WHERE id = ? AND attempts = ? AND status = 'sending'",
            )
            .bind(millis(*at))
            .bind(error.message.clone())
            .bind(error.kind.as_str()),
            Outcome::Failed { error } => sqlx::query(
                "UPDATE integrations_exports
                 SET status = 'failed', error = ?, error_kind = ?, lease_until = NULL,
                     updated_at = ?
                 WHERE id = ? AND attempts = ? AND status = 'sending'",
            )
            .bind(error.message.clone())
            .bind(error.kind.as_str()),
        };
        let done = query
            .bind(now)
            .bind(id)
            .bind(i64::from(attempt))
            .execute(&self.pool)
            .await
            .map_err(store_error("record an export's outcome"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> Result<Option<ExportRecord>, Error> {
        sqlx::query("SELECT * FROM integrations_exports WHERE tenant = ? AND idempotency_key = ?")
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
            "SELECT * FROM integrations_exports WHERE tenant = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the export log"))?;
        rows.iter().map(record).collect()
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, Error> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END)
             FROM integrations_exports WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error("read the outbox"))?;
        Ok(next.map(time))
    }

    async fn set_preference(
        &self,
        tenant: &TenantId,
        preference: &ExportPreference,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO integrations_export_preferences
                (tenant, deliverable, provider, destination, connection, auto_export)
             VALUES (?, ?, ?, ?, ?, ?)
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
             WHERE tenant = ? AND deliverable = ? ORDER BY provider, destination",
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
