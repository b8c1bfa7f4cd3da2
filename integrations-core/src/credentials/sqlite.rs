//! A credential store on an SQLite file, every row encrypted.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::crypto::Sealed;
use super::form::{from_plaintext, to_plaintext};
use super::{CredentialStore, Credentials, KeyRing, Versioned};
use crate::error::{CredentialError, Error};
use crate::id::{ConnectionId, KeyId, TenantId};

/// Credentials in an SQLite file, each row sealed with the [`KeyRing`]'s
/// active key (XChaCha20-Poly1305, a fresh nonce per write, the tenant,
/// connection and key id bound as associated data).
///
/// The file is opened in WAL mode with a busy timeout, so several processes
/// can share it; compare-and-swap is a single conditional `UPDATE`, atomic
/// across processes.
///
/// ```
/// use integrations_core::{ConnectionId, TenantId};
/// use integrations_core::credentials::{CredentialStore, Credentials, EncryptionKey, KeyRing, SqliteStore};
/// use integrations_core::id::KeyId;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let keys = KeyRing::new(KeyId::new("k1")?, EncryptionKey::generate()?);
/// let store = SqliteStore::open(dir.path().join("credentials.db"), keys).await?;
///
/// let tenant = TenantId::new("user-42")?;
/// let connection = ConnectionId::new("github", "personal")?;
/// store.put(&tenant, &connection, &Credentials::bearer("ghp_example")).await?;
/// let stored = store.get(&tenant, &connection).await?.unwrap();
/// assert_eq!(stored.value.kind.name(), "bearer");
/// # Ok::<_, integrations_core::Error>(()) }).unwrap();
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    keys: Arc<KeyRing>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn store_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| Error::store(operation, e)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the
    /// migrations.
    /// A new file is readable by its owner only ([`create_private`]).
    ///
    /// [`create_private`]: crate::credentials::create_private
    pub async fn open(path: impl AsRef<Path>, keys: KeyRing) -> Result<Self, Error> {
        crate::credentials::create_private(path.as_ref())
            .await
            .map_err(|e| Error::store("create the database file", e))?;
        let options = SqliteConnectOptions::new()
            .filename(path.as_ref())
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options, keys).await
    }

    /// Opens a database from sqlx connection options (e.g. a URL such as
    /// `sqlite://data/credentials.db?mode=rwc`), applying the migrations.
    pub async fn connect(options: SqliteConnectOptions, keys: KeyRing) -> Result<Self, Error> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(store_error("open the database"))?;
        // Two processes migrating one new file at once: the loser sees the
        // winner's tables on its next try.
        let mut attempt = 0;
        loop {
            match sqlx::migrate!("./migrations").run(&pool).await {
                Ok(()) => break,
                Err(_) if attempt < 3 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => {
                    return Err(CredentialError::Store {
                        operation: "apply migrations",
                        source: Box::new(e),
                    }
                    .into());
                }
            }
        }
        Ok(Self {
            pool,
            keys: Arc::new(keys),
        })
    }

    /// Parses a URL such as `sqlite://data/credentials.db?mode=rwc` and
    /// opens it.
    pub async fn connect_url(url: &str, keys: KeyRing) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(store_error("parse the database URL"))?
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options, keys).await
    }

    /// The key ring in use.
    pub fn key_ring(&self) -> &KeyRing {
        &self.keys
    }

    /// Re-seals under the active key every row sealed with another key;
    /// returns how many rows were re-sealed. Afterwards the older keys can
    /// be removed from the ring.
    pub async fn rotate(&self) -> Result<u64, Error> {
        let rows = sqlx::query(
            "SELECT tenant, provider, name, version, key_id, nonce, ciphertext
             FROM credentials WHERE key_id <> ?1 AND deleted = 0",
        )
        .bind(self.keys.active().as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read rows to rotate"))?;
        let rows = rows.iter().map(|row| {
            let tenant = TenantId::new(text(row, "tenant")?)?;
            let connection = ConnectionId::new(text(row, "provider")?, text(row, "name")?)?;
            let (version, sealed) = sealed_row(row)?;
            let credentials = from_plaintext(&self.keys.open(&tenant, &connection, &sealed)?)?;
            Ok((tenant, connection, version, credentials))
        });
        super::rotation::reseal(self, rows).await
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
        let plaintext = to_plaintext(credentials)?;
        self.keys.seal(tenant, connection, &plaintext)
    }
}

fn text(row: &SqliteRow, column: &str) -> Result<String, Error> {
    row.try_get(column).map_err(store_error("read a row"))
}

fn sealed_row(row: &SqliteRow) -> Result<(u64, Sealed), Error> {
    let version: i64 = row.try_get("version").map_err(store_error("read a row"))?;
    let key_id: String = row.try_get("key_id").map_err(store_error("read a row"))?;
    Ok((
        version.unsigned_abs(),
        Sealed {
            key_id: KeyId::new(key_id)?,
            nonce: row.try_get("nonce").map_err(store_error("read a row"))?,
            ciphertext: row
                .try_get("ciphertext")
                .map_err(store_error("read a row"))?,
        },
    ))
}

fn timestamp(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(|at| at.to_rfc3339())
}

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        let row = sqlx::query(
            "SELECT version, key_id, nonce, ciphertext FROM credentials
             WHERE tenant = ?1 AND provider = ?2 AND name = ?3 AND deleted = 0",
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
            "INSERT INTO credentials
                 (tenant, provider, name, version, key_id, nonce, ciphertext, expires_at, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (tenant, provider, name) DO UPDATE SET
                 version = version + 1, key_id = excluded.key_id, nonce = excluded.nonce,
                 ciphertext = excluded.ciphertext, expires_at = excluded.expires_at,
                 updated_at = excluded.updated_at, deleted = 0
             RETURNING version",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .bind(sealed.key_id.as_str())
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(timestamp(credentials.expires_at))
        .bind(Utc::now().to_rfc3339())
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
        let expected = i64::try_from(expected).unwrap_or(i64::MAX);
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE credentials SET
                 version = version + 1, key_id = ?4, nonce = ?5, ciphertext = ?6,
                 expires_at = ?7, updated_at = ?8
             WHERE tenant = ?1 AND provider = ?2 AND name = ?3 AND version = ?9 AND deleted = 0
             RETURNING version",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .bind(sealed.key_id.as_str())
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(timestamp(credentials.expires_at))
        .bind(Utc::now().to_rfc3339())
        .bind(expected)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error("update credentials"))?;
        Ok(version.map(i64::unsigned_abs))
    }

    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        // A tombstone keeps the version counting (see the migration).
        let result = sqlx::query(
            "UPDATE credentials SET
                 deleted = 1, version = version + 1, nonce = x'', ciphertext = x'',
                 expires_at = NULL, updated_at = ?4
             WHERE tenant = ?1 AND provider = ?2 AND name = ?3 AND deleted = 0",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await
        .map_err(store_error("delete credentials"))?;
        Ok(result.rows_affected() > 0)
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, Error> {
        let rows = sqlx::query(
            "SELECT provider, name FROM credentials
             WHERE tenant = ?1 AND deleted = 0 ORDER BY provider, name",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("list credentials"))?;
        rows.iter()
            .map(|row| ConnectionId::new(text(row, "provider")?, text(row, "name")?))
            .collect()
    }
}
