//! Which replica ticks an integration: [`TickLease`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Error;
use crate::id::IntegrationId;

/// Decides which of several replicas runs an integration's ticks: a lease
/// per integration, held by one replica until it expires.
///
/// With a lease on its [`RuntimeBuilder`](crate::runtime::RuntimeBuilder), a
/// runtime's tick loop asks for the lease before each tick and ticks only
/// while it holds it, renewing it with each tick. Other replicas skip
/// their ticks; when the holder dies, its lease expires after its TTL and
/// the next replica to ask takes over. [`PgTickLease`](crate::runtime::PgTickLease)
/// keeps the leases in PostgreSQL.
#[async_trait]
pub trait TickLease: Send + Sync + fmt::Debug + 'static {
    /// Takes the lease on `integration` for `holder` for `ttl`, or renews
    /// it if `holder` has it; true when `holder` holds it afterwards.
    async fn acquire(
        &self,
        integration: &IntegrationId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, Error>;

    /// Gives up `holder`'s lease on `integration`, so another replica can
    /// take it at once (on shutdown).
    async fn release(&self, integration: &IntegrationId, holder: &str) -> Result<(), Error>;
}

/// A runtime's lease, its name in it, and how long each grant lasts.
#[derive(Debug, Clone)]
pub(crate) struct Leasing {
    pub(crate) lease: std::sync::Arc<dyn TickLease>,
    pub(crate) holder: String,
    pub(crate) ttl: Duration,
}

#[cfg(feature = "postgres")]
pub use postgres::PgTickLease;

#[cfg(feature = "postgres")]
mod postgres {
    use std::time::Duration;

    use async_trait::async_trait;
    use sqlx::postgres::PgPool;

    use super::TickLease;
    use crate::error::Error;
    use crate::id::IntegrationId;

    /// Tick leases in PostgreSQL (feature `postgres`), in table
    /// `integrations_tick_leases`: one conditional upsert per tick, timed by
    /// the database's clock so replicas' clocks need not agree.
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    #[derive(Debug, Clone)]
    pub struct PgTickLease {
        pool: PgPool,
    }

    impl PgTickLease {
        /// Leases on `pool`'s database; applies the migrations (the same as
        /// [`PgStore`](crate::credentials::PgStore)'s).
        pub async fn new(pool: PgPool) -> Result<Self, Error> {
            crate::credentials::postgres::migrate(&pool).await?;
            Ok(Self { pool })
        }
    }

    #[async_trait]
    impl TickLease for PgTickLease {
        async fn acquire(
            &self,
            integration: &IntegrationId,
            holder: &str,
            ttl: Duration,
        ) -> Result<bool, Error> {
            let held: Option<String> = sqlx::query_scalar(
                "INSERT INTO integrations_tick_leases AS lease (integration, holder, until)
                 VALUES ($1, $2, now() + $3 * interval '1 millisecond')
                 ON CONFLICT (integration) DO UPDATE
                     SET holder = excluded.holder, until = excluded.until
                     WHERE lease.holder = excluded.holder OR lease.until < now()
                 RETURNING holder",
            )
            .bind(integration.as_str())
            .bind(holder)
            .bind(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| Error::store("take a tick lease", e))?;
            Ok(held.is_some())
        }

        async fn release(&self, integration: &IntegrationId, holder: &str) -> Result<(), Error> {
            sqlx::query(
                "DELETE FROM integrations_tick_leases WHERE integration = $1 AND holder = $2",
            )
            .bind(integration.as_str())
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(|e| Error::store("release a tick lease", e))?;
            Ok(())
        }
    }
}
