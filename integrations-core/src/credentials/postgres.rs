//! A credential store on PostgreSQL, every row encrypted.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

use super::crypto::Sealed;
use super::form::{from_plaintext, to_plaintext};
use super::{CredentialStore, Credentials, KeyRing, Versioned};
use crate::error::{CredentialError, Error};
use crate::id::{ConnectionId, KeyId, TenantId};

/// Credentials in PostgreSQL (feature `postgres`), for hosts that run
/// several replicas: the same sealed rows, key ids and rotation as
/// [`SqliteStore`](crate::credentials::SqliteStore), in table `integrations_credentials`.
///
/// Compare-and-swap is a single conditional `UPDATE`, atomic across
/// replicas, so a [`TokenManager`](crate::credentials::TokenManager) on each replica
/// refreshes a connection once in all (see its refresh lease). The same
/// pool can serve a [`PgTickLease`](crate::runtime::PgTickLease).
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
        Ok(Self {
            pool,
            keys: Arc::new(keys),
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
            "SELECT tenant, provider, name, version, key_id, nonce, ciphertext
             FROM integrations_credentials WHERE key_id <> $1 AND NOT deleted",
        )
        .bind(self.keys.active().as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read rows to rotate"))?;
        let rows = rows.iter().map(|row| {
            let tenant = TenantId::new(text(row, "tenant")?)?;
            let connection = ConnectionId::new(text(row, "provider")?, text(row, "name")?)?;
            let (version, sealed) = sealed_row(row)?;
            Ok((tenant, connection, version, sealed))
        });
        super::rotation::reseal(self, &self.keys, rows).await
    }

    /// Closes the connections, waiting for queries in flight.
    pub async fn close(&self) {
        self.pool.close().await;
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

fn text(row: &PgRow, column: &str) -> Result<String, Error> {
    row.try_get(column).map_err(store_error("read a row"))
}

fn sealed_row(row: &PgRow) -> Result<(u64, Sealed), Error> {
    let version: i64 = row.try_get("version").map_err(store_error("read a row"))?;
    Ok((
        version.unsigned_abs(),
        Sealed {
            key_id: KeyId::new(text(row, "key_id")?)?,
            nonce: row.try_get("nonce").map_err(store_error("read a row"))?,
            ciphertext: row
                .try_get("ciphertext")
                .map_err(store_error("read a row"))?,
        },
    ))
}

#[async_trait]
impl CredentialStore for PgStore {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        let row = sqlx::query(
            "SELECT version, key_id, nonce, ciphertext FROM integrations_credentials
             WHERE tenant = $1 AND provider = $2 AND name = $3 AND NOT deleted",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error("read credentials"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (version, sealed) = sealed_row(&row)?;
        let plaintext = self.keys.open(tenant, connection, &sealed)?;
        Ok(Some(Versioned {
            value: from_plaintext(&plaintext)?,
            version,
        }))
    }

    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, Error> {
        let sealed = self.seal(tenant, connection, credentials)?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO integrations_credentials
                 (tenant, provider, name, version, key_id, nonce, ciphertext, expires_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, now())
             ON CONFLICT (tenant, provider, name) DO UPDATE SET
                 version = integrations_credentials.version + 1, key_id = excluded.key_id,
                 nonce = excluded.nonce, ciphertext = excluded.ciphertext,
                 expires_at = excluded.expires_at, updated_at = now(), deleted = false
             RETURNING version",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .bind(sealed.key_id.as_str())
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(credentials.expires_at)
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
        let sealed = self.seal(tenant, connection, credentials)?;
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE integrations_credentials SET
                 version = version + 1, key_id = $4, nonce = $5, ciphertext = $6,
                 expires_at = $7, updated_at = now()
             WHERE tenant = $1 AND provider = $2 AND name = $3 AND version = $8 AND NOT deleted
             RETURNING version",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .bind(sealed.key_id.as_str())
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(credentials.expires_at)
        .bind(i64::try_from(expected).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error("update credentials"))?;
        Ok(version.map(i64::unsigned_abs))
    }

    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        let result = sqlx::query(
            "UPDATE integrations_credentials SET
                 deleted = true, version = version + 1, nonce = '', ciphertext = '',
                 expires_at = NULL, updated_at = now()
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

    /// Each row written, by any replica: a trigger's `NOTIFY` on
    /// `integrations_credentials_changed`, on a connection of its own.
    async fn changes(
        &self,
    ) -> Result<Option<futures_util::stream::BoxStream<'static, (TenantId, ConnectionId)>>, Error>
    {
        use futures_util::StreamExt;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(store_error("listen for credential changes"))?;
        listener
            .listen(CHANGED)
            .await
            .map_err(store_error("listen for credential changes"))?;
        // An error is a lost connection, which the listener makes again;
        // a waiter's fallback poll covers the gap.
        let changes = listener
            .into_stream()
            .filter_map(|notification| async move {
                match notification {
                    Ok(notification) => changed(notification.payload()),
                    Err(error) => {
                        tracing::debug!(%error, "credentials: the change listener reconnects");
                        None
                    }
                }
            });
        Ok(Some(changes.boxed()))
    }
}

/// The channel the credentials trigger notifies.
const CHANGED: &str = "integrations_credentials_changed";

/// The connection a notification names: `["tenant","provider","name"]`.
fn changed(payload: &str) -> Option<(TenantId, ConnectionId)> {
    let (tenant, provider, name): (String, String, String) = serde_json::from_str(payload).ok()?;
    Some((
        TenantId::new(tenant).ok()?,
        ConnectionId::new(provider, name).ok()?,
    ))
}
