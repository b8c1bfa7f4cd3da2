//! A credential store on PostgreSQL, every row encrypted.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio_util::task::TaskTracker;

use batch::Batcher;
use notify::{CHANGED, changed};
use statements::{Clear, LeaseAsk, Read, Row, Swap, found_row, read, swap, text};

use super::crypto::Sealed;
use super::form::to_plaintext;
use super::{Change, CredentialStore, Credentials, KeyRing, RefreshLease, Versioned};
use crate::error::{CredentialError, Error};
use crate::id::{ConnectionId, TenantId};

mod batch;
mod notify;
mod statements;

/// Credentials in PostgreSQL (feature `postgres`), for hosts that run
/// several replicas: the same sealed rows, key ids and rotation as
/// [`SqliteStore`](crate::credentials::SqliteStore), in table `integrations_credentials`.
///
/// Compare-and-swap is a conditional `UPDATE`, atomic across replicas, so
/// a [`TokenManager`](crate::credentials::TokenManager) on each replica
/// refreshes a connection once in all (see its refresh lease). The same
/// pool can serve a [`PgTickLease`](crate::runtime::PgTickLease).
///
/// Reads and compare-and-swaps made at the same moment share statements:
/// a call goes at once when no statement of its kind runs, and the calls
/// that arrive meanwhile go together in the next (one row each; a second
/// call for the same row waits for the statement after). A lone caller
/// waits for nothing; many callers (every replica asking for the same
/// expired tokens) cost a few statements instead of one each. Rows are
/// locked in key order, so two replicas' statements cannot deadlock.
///
/// ```no_run
/// use integrations_core::credentials::{EncryptionKey, KeyRing, PgStore};
/// use integrations_core::id::KeyId;
/// # async fn run() -> Result<(), integrations_core::Error> {
/// let keys = KeyRing::new(KeyId::new("k1")?, EncryptionKey::generate()?);
/// let store = PgStore::connect("postgres://app@db.internal/app", keys).await?;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    keys: Arc<KeyRing>,
    batches: Arc<Batches>,
}

/// The statements concurrent calls share, and the tasks that run them.
struct Batches {
    reads: Batcher<Read, Option<Row>>,
    swaps: Batcher<Swap, Option<u64>>,
    tasks: TaskTracker,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn store_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| Error::store(operation, e)
}

/// Applies this crate's PostgreSQL migrations to `pool`. Migrations of
/// other crates and of the host in the same database are left alone.
pub(crate) async fn migrate(pool: &PgPool) -> Result<(), Error> {
    let mut migrator = sqlx::migrate!("./migrations-postgres");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await.map_err(|e| {
        CredentialError::Store {
            operation: "apply migrations",
            source: Box::new(e),
        }
        .into()
    })
}

impl PgStore {
    /// Connects to the database at `url` (a pool of up to 10
    /// connections) and applies the migrations.
    pub async fn connect(url: &str, keys: KeyRing) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .map_err(store_error("connect to PostgreSQL"))?;
        Self::with_pool(pool, keys).await
    }

    /// A store on the host's own pool; applies the migrations.
    pub async fn with_pool(pool: PgPool, keys: KeyRing) -> Result<Self, Error> {
        migrate(&pool).await?;
        let tasks = TaskTracker::new();
        let (reading, swapping) = (pool.clone(), pool.clone());
        let batches = Batches {
            reads: Batcher::new("read credentials", tasks.clone(), move |rows| {
                read(reading.clone(), rows).boxed()
            }),
            swaps: Batcher::new("update credentials", tasks.clone(), move |swaps| {
                swap(swapping.clone(), swaps).boxed()
            }),
            tasks,
        };
        Ok(Self {
            pool,
            keys: Arc::new(keys),
            batches: Arc::new(batches),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The key ring in use.
    pub fn key_ring(&self) -> &KeyRing {
        &self.keys
    }

    /// Re-seals under the active key every row sealed with another key;
    /// returns how many rows were re-sealed.
    pub async fn rotate(&self) -> Result<u64, Error> {
        let rows = sqlx::query(
            "SELECT tenant, provider, name, version, key_id, nonce, ciphertext, lease_owner,
                 leased_until
             FROM integrations_credentials WHERE key_id <> $1 AND NOT deleted",
        )
        .bind(self.keys.active().as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read rows to rotate"))?;
        let rows = rows.iter().map(|row| {
            let tenant = TenantId::new(text(row, "tenant")?)?;
            let connection = ConnectionId::new(text(row, "provider")?, text(row, "name")?)?;
            let found = found_row(row)?;
            let opened = found.open(&self.keys, &tenant, &connection)?;
            Ok((tenant, connection, opened.version, opened.value))
        });
        super::rotation::reseal(self, rows).await
    }

    /// Closes the connections, waiting for queries in flight.
    pub async fn close(&self) {
        self.batches.tasks.close();
        self.batches.tasks.wait().await;
        self.batches.tasks.reopen();
        self.pool.close().await;
    }

    /// Makes `read` in the next statement.
    async fn read(&self, read: Read) -> Result<Option<Row>, Error> {
        self.batches.reads.call(read).await
    }

    fn seal(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<Sealed, Error> {
        self.keys
            .seal(tenant, connection, &to_plaintext(credentials)?)
    }
}

#[async_trait]
impl CredentialStore for PgStore {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        let read = Read {
            tenant: tenant.clone(),
            connection: connection.clone(),
            lease: None,
        };
        let Some(row) = self.read(read).await? else {
            return Ok(None);
        };
        row.open(&self.keys, tenant, connection).map(Some)
    }

    /// Reads and leases in one statement (shared with the other reads of
    /// the moment). A row the statement may lease is locked while it
    /// decides, so of several replicas asking at once one takes the lease
    /// and the others see it: the row as the lease's write left it, not as
    /// it was. A row already leased by another owner is read without a
    /// lock: the caller waits for that lease anyway.
    async fn get_for_refresh(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        lease: &RefreshLease,
        due: DateTime<Utc>,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        let read = Read {
            tenant: tenant.clone(),
            connection: connection.clone(),
            lease: Some(LeaseAsk {
                lease: lease.clone(),
                due,
                now: Utc::now(),
            }),
        };
        let Some(row) = self.read(read).await? else {
            return Ok(None);
        };
        row.open(&self.keys, tenant, connection).map(Some)
    }

    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, Error> {
        let sealed = self.seal(tenant, connection, credentials)?;
        let clear = Clear::of(credentials);
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO integrations_credentials
                 (tenant, provider, name, version, key_id, nonce, ciphertext, expires_at,
                  leased_until, lease_owner, refreshable, updated_at)
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, now())
             ON CONFLICT (tenant, provider, name) DO UPDATE SET
                 version = integrations_credentials.version + 1, key_id = excluded.key_id,
                 nonce = excluded.nonce, ciphertext = excluded.ciphertext,
                 expires_at = excluded.expires_at, leased_until = excluded.leased_until,
                 lease_owner = excluded.lease_owner, refreshable = excluded.refreshable,
                 updated_at = now(), deleted = false
             RETURNING version",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .bind(sealed.key_id.as_str())
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(clear.expires_at)
        .bind(clear.lease.as_ref().map(RefreshLease::until))
        .bind(clear.lease.as_ref().map(RefreshLease::owner))
        .bind(clear.refreshable)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error("write credentials"))?;
        Ok(version.unsigned_abs())
    }

    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, Error> {
        let swap = Swap {
            tenant: tenant.clone(),
            connection: connection.clone(),
            expected,
            sealed: self.seal(tenant, connection, credentials)?,
            clear: Clear::of(credentials),
        };
        self.batches.swaps.call(swap).await
    }

    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        let result = sqlx::query(
            "UPDATE integrations_credentials SET
                 deleted = true, version = version + 1, nonce = '', ciphertext = '',
                 expires_at = NULL, leased_until = NULL, lease_owner = NULL, refreshable = NULL,
                 updated_at = now()
             WHERE tenant = $1 AND provider = $2 AND name = $3 AND NOT deleted",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .execute(&self.pool)
        .await
        .map_err(store_error("delete credentials"))?;
        Ok(result.rows_affected() > 0)
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, Error> {
        let rows = sqlx::query(
            "SELECT provider, name FROM integrations_credentials
             WHERE tenant = $1 AND NOT deleted ORDER BY provider, name",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("list credentials"))?;
        rows.iter()
            .map(|row| ConnectionId::new(text(row, "provider")?, text(row, "name")?))
            .collect()
    }

    /// Each row written without a refresh lease, by any replica (what
    /// ends a refresh: new tokens, a lease given back; and new
    /// credentials, deletes): a trigger's `NOTIFY` on
    /// `integrations_credentials_changed`, on a connection of its own.
    /// The write that takes a lease is left out: nobody waits for it.
    ///
    /// The listener has a connection of its own, not one of the store's
    /// pool (a host's pool of one connection would have none left); it
    /// closes when the stream is dropped.
    ///
    /// Each change carries the row as written where it fits in the
    /// notification (sealed values up to 5,000 bytes), opened only when a
    /// waiter asks for it.
    async fn changes(
        &self,
    ) -> Result<Option<futures_util::stream::BoxStream<'static, Change>>, Error> {
        use futures_util::StreamExt;
        let keys = Arc::clone(&self.keys);
        let changes = crate::postgres::notifications(&self.pool, CHANGED)
            .await
            .map_err(store_error("listen for credential changes"))?
            .filter_map(move |payload| std::future::ready(changed(&keys, &payload)));
        Ok(Some(changes.boxed()))
    }
}
