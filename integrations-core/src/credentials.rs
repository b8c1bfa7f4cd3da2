//! Credentials: types, the [`CredentialStore`] trait, encryption at rest and
//! the [`TokenManager`].

// Sealing is used by the SQLite store; without it only the tests use it.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
mod crypto;
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
mod form;
mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rotation;
#[cfg(feature = "sqlite")]
mod sqlite;
mod token;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

pub use crypto::{EncryptionKey, KeyRing};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use token::{RefreshRequest, TokenManager, TokenManagerBuilder, TokenRefresher, TokenResponse};

use crate::error::Error;
use crate::id::{ConnectionId, TenantId};

/// Creates the file at `path`, readable and writable by its owner only
/// (0600 on Unix), unless it exists (an existing file keeps its mode).
/// Every data file of this crate family is created so: SQLite databases
/// (their `-wal` and `-shm` files take the database's mode), JSONL event
/// logs and audit trails, whatever the process's umask.
pub async fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path).await {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// An OAuth 2 token set.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuth2Token {
    /// The access token.
    pub access_token: SecretString,
    /// The refresh token, when the provider issued one.
    pub refresh_token: Option<SecretString>,
    /// The granted scopes.
    pub scopes: Vec<String>,
}

/// The secret material of a connection. `Debug` and `Display` never show it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An API key, sent in a header or query parameter.
    ApiKey {
        /// The key.
        key: SecretString,
    },
    /// A static bearer token.
    Bearer {
        /// The token.
        token: SecretString,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password.
        password: SecretString,
    },
    /// OAuth 2 tokens, refreshed by the [`TokenManager`].
    OAuth2(OAuth2Token),
    /// A private key that signs JWT assertions.
    Jwt {
        /// The key id to put in the JWT header, if any.
        key_id: Option<String>,
        /// The PEM-encoded private key.
        private_key: SecretString,
    },
    /// A TLS client certificate and its key.
    ClientCertificate {
        /// The PEM-encoded certificate chain (not secret).
        certificate: String,
        /// The PEM-encoded private key.
        private_key: SecretString,
    },
}

impl CredentialKind {
    /// A short name: `api_key`, `bearer`, `basic`, `oauth2`, `jwt` or
    /// `client_certificate`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ApiKey { .. } => "api_key",
            Self::Bearer { .. } => "bearer",
            Self::Basic { .. } => "basic",
            Self::OAuth2(_) => "oauth2",
            Self::Jwt { .. } => "jwt",
            Self::ClientCertificate { .. } => "client_certificate",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [redacted]", self.name())
    }
}

/// Whether a connection's credentials can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialStatus {
    /// Usable.
    #[default]
    Active,
    /// The provider refused the refresh token (`invalid_grant`); the user
    /// must authorise the connection again.
    NeedsReauth,
}

/// A connection's credentials: the secret material plus what a host needs to
/// manage it.
///
/// ```
/// use chrono::{Duration, Utc};
/// use integrations_core::credentials::Credentials;
///
/// let credentials = Credentials::oauth2("access-123", Some("refresh-456".into()), Some(Utc::now() + Duration::hours(1)))
///     .with_metadata("team_id", "T024BE7LD");
/// assert!(!format!("{credentials:?}").contains("access-123"));
/// assert_eq!(credentials.to_string(), "oauth2 [redacted]");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Credentials {
    /// The secret material.
    pub kind: CredentialKind,
    /// Non-secret facts about the connection, e.g. a Slack team id.
    pub metadata: BTreeMap<String, String>,
    /// When the credentials stop working (for OAuth 2, the access token's
    /// expiry); `None` when unknown or never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the secret was last replaced.
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// Whether they can be used.
    pub status: CredentialStatus,
    /// A refresh in progress somewhere, so other processes wait for it
    /// instead of refreshing too. Written and cleared by the
    /// [`TokenManager`]; a [`CredentialStore`] must keep it like any other
    /// field.
    pub refresh_lease: Option<RefreshLease>,
}

/// Who is refreshing a connection's token, and until when others must wait.
///
/// The [`TokenManager`] takes it on the row as it reads it
/// ([`CredentialStore::get_for_refresh`]) before it calls the provider, and
/// clears it when it stores the result, so managers in other processes that
/// share the store wait instead of spending the refresh token a second time.
/// A lease left by a process that died expires at [`until`](Self::until).
/// It holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLease {
    owner: String,
    until: DateTime<Utc>,
}

impl RefreshLease {
    /// A lease held by `owner` until `until`, kept to the microsecond (as
    /// databases keep time). Stores build one when they read a lease back;
    /// only the [`TokenManager`] takes leases.
    pub fn new(owner: impl Into<String>, until: DateTime<Utc>) -> Self {
        Self {
            owner: owner.into(),
            until: chrono::SubsecRound::trunc_subsecs(until, 6),
        }
    }

    /// An opaque id of the refresh that holds the lease.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// When the lease runs out if it is not released.
    pub fn until(&self) -> DateTime<Utc> {
        self.until
    }
}

impl Credentials {
    /// Whether a refresh can renew them: active OAuth 2 tokens with a
    /// refresh token. Kept in clear by stores that lease in SQL.
    pub(crate) fn refreshable(&self) -> bool {
        self.status == CredentialStatus::Active
            && matches!(
                &self.kind,
                CredentialKind::OAuth2(OAuth2Token {
                    refresh_token: Some(_),
                    ..
                })
            )
    }

    /// Whether [`CredentialStore::get_for_refresh`] takes `lease` on them
    /// at `now`: refreshable, expiring at or before `due`, and not leased
    /// to another owner past `now`.
    pub(crate) fn leasable(
        &self,
        lease: &RefreshLease,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        self.refreshable()
            && self.expires_at.is_some_and(|at| at <= due)
            && self
                .refresh_lease
                .as_ref()
                .is_none_or(|held| held.owner == lease.owner || held.until <= now)
    }

    /// Credentials of the given kind, active, with no metadata or expiry.
    pub fn new(kind: CredentialKind) -> Self {
        Self {
            kind,
            metadata: BTreeMap::new(),
            expires_at: None,
            last_rotated_at: None,
            status: CredentialStatus::Active,
            refresh_lease: None,
        }
    }

    /// An API key.
    pub fn api_key(key: impl Into<String>) -> Self {
        Self::new(CredentialKind::ApiKey {
            key: SecretString::from(key.into()),
        })
    }

    /// A static bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::new(CredentialKind::Bearer {
            token: SecretString::from(token.into()),
        })
    }

    /// A user name and password (HTTP basic authentication, an SMTP relay's
    /// `AUTH`).
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(CredentialKind::Basic {
            username: username.into(),
            password: SecretString::from(password.into()),
        })
    }

    /// OAuth 2 tokens with no scopes recorded.
    pub fn oauth2(
        access_token: impl Into<String>,
        refresh_token: Option<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        let mut credentials = Self::new(CredentialKind::OAuth2(OAuth2Token {
            access_token: SecretString::from(access_token.into()),
            refresh_token: refresh_token.map(SecretString::from),
            scopes: Vec::new(),
        }));
        credentials.expires_at = expires_at;
        credentials
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: DateTime<Utc>) -> Self {
        self.expires_at = Some(expires_at);
        self
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

/// A value read from a store, with the version to pass to
/// [`CredentialStore::compare_and_swap`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version: every write gives the row a higher one, and a
    /// connection never gets a version it had before, even after a delete.
    pub version: u64,
}

impl<T> Versioned<T> {
    /// `value` at `version`: what a store's `get` returns.
    pub fn new(value: T, version: u64) -> Self {
        Self { value, version }
    }
}

/// Where credentials live. Every operation is scoped by tenant: no call can
/// read or change another tenant's rows.
///
/// Implementations: [`MemoryStore`], and [`SqliteStore`] (feature `sqlite`,
/// on by default), which encrypts every row.
///
/// # The contract a store keeps
///
/// A host may write its own store (over its own database). The
/// [`TokenManager`]'s exactly-once refresh, across processes too, rests on
/// three promises:
///
/// - **Every field round-trips**: what [`get`](Self::get) returns equals what
///   was written, [`Credentials::refresh_lease`] and
///   [`Credentials::status`] included.
/// - **Versions never repeat**: each write of a connection (`put`, a
///   successful `compare_and_swap`) gives it a higher version than any it
///   had, even across `delete` and a later `put` (keep a tombstone or a
///   counter), so a compare-and-swap holder can never mistake a new row
///   for the one it read.
/// - **Compare-and-swap is atomic** across every process that shares the
///   store: one conditional update, or a transaction.
#[async_trait]
pub trait CredentialStore: Send + Sync + fmt::Debug + 'static {
    /// The credentials of a connection, if stored.
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, Error>;

    /// Stores credentials, replacing any; returns the new version.
    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, Error>;

    /// Replaces the credentials only if their version is still `expected`;
    /// returns the new version, or `None` when another writer got there
    /// first (or the row is gone).
    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, Error>;

    /// Reads a connection's credentials for the [`TokenManager`] and, when
    /// their token is due for a refresh, takes the refresh `lease` in the
    /// same step: one round trip where a read and a compare-and-swap
    /// would take two.
    ///
    /// The lease is taken when the row holds OAuth 2 tokens with a refresh
    /// token, is [`Active`](CredentialStatus::Active), expires at or before
    /// `due`, and holds no lease of another owner that runs past now. The
    /// row returned carries `lease` (equal to it) exactly when this call
    /// took it, at the version that write gave it. Otherwise it is the row
    /// as read: a lease another caller holds, or, where another writer got
    /// there first, possibly the row from just before that write (the
    /// caller reads again after the next change).
    ///
    /// The default reads with [`get`](Self::get) and leases with
    /// [`compare_and_swap`](Self::compare_and_swap); a store that can do
    /// both in one statement (as [`PgStore`] does) should, since every
    /// replica waiting for the same refresh makes this call.
    async fn get_for_refresh(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        lease: &RefreshLease,
        due: DateTime<Utc>,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        let Some(row) = self.get(tenant, connection).await? else {
            return Ok(None);
        };
        if !row.value.leasable(lease, due, Utc::now()) {
            return Ok(Some(row));
        }
        let mut leased = row.value.clone();
        leased.refresh_lease = Some(lease.clone());
        Ok(Some(
            match self
                .compare_and_swap(tenant, connection, row.version, &leased)
                .await?
            {
                Some(version) => Versioned::new(leased, version),
                None => row,
            },
        ))
    }

    /// Deletes a connection's credentials; returns whether there were any.
    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error>;

    /// The tenant's connections, ordered by provider and name.
    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, Error>;

    /// A stream telling of each connection written by any process sharing
    /// the store (PostgreSQL: `LISTEN`/`NOTIFY`), so a [`TokenManager`]
    /// waiting for another replica's refresh learns of the new token as
    /// soon as it is written: from the [`Change`] itself where the store
    /// sends the row with it, else by reading the row. `None`, the
    /// default, where the store cannot tell, and the manager polls. A store
    /// may leave out writes whose credentials carry a refresh lease
    /// (waiters wait for the lease to end, not to begin). A change the
    /// stream misses (say, while it reconnects) costs a waiter a poll,
    /// never a wrong token.
    async fn changes(
        &self,
    ) -> Result<Option<futures_util::stream::BoxStream<'static, Change>>, Error> {
        Ok(None)
    }
}

/// Opens the row a [`Change`] carries.
type OpenRow = dyn Fn() -> Result<Versioned<Credentials>, Error> + Send + Sync;

/// A write to a connection's credentials, as
/// [`CredentialStore::changes`] tells of it: whose row, and, where the
/// store sends it along, the row as written (sealed until a waiter opens
/// it: a replica hears of every write, and waits for few).
#[derive(Clone)]
#[non_exhaustive]
pub struct Change {
    /// The tenant whose row was written.
    pub tenant: TenantId,
    /// The connection whose row was written.
    pub connection: ConnectionId,
    row: Option<std::sync::Arc<OpenRow>>,
}

impl Change {
    /// A write to `tenant`'s `connection`, without the row.
    pub fn new(tenant: TenantId, connection: ConnectionId) -> Self {
        Self {
            tenant,
            connection,
            row: None,
        }
    }

    /// The same change carrying the row as written, which `open` returns
    /// (decrypting it, say) when a waiter wants it. The row must carry no
    /// refresh lease: a waiter takes a fresh token from it without reading
    /// the store.
    #[must_use]
    pub fn with_row(
        mut self,
        open: impl Fn() -> Result<Versioned<Credentials>, Error> + Send + Sync + 'static,
    ) -> Self {
        self.row = Some(std::sync::Arc::new(open));
        self
    }

    /// The row as written, where the store sent it.
    pub fn row(&self) -> Option<Result<Versioned<Credentials>, Error>> {
        self.row.as_ref().map(|open| open())
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Change")
            .field("tenant", &self.tenant)
            .field("connection", &self.connection)
            .field("row", &self.row.as_ref().map(|_| "sealed"))
            .finish()
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    /// Item 20 of the review: `TenantId::new` accepted `"bad tenant/.."`.
    #[test]
    fn tenant_ids_and_connection_names_are_safe_in_keys_paths_and_logs() {
        for good in [
            "user-1",
            "ada@example.com",
            "org_42",
            "a",
            "7f9c2b1e-1d2a-4c3b-9f8e-0a1b2c3d4e5f",
            "x+tag.y",
        ] {
            assert!(TenantId::new(good).is_ok(), "{good}");
            assert!(ConnectionId::new("slack", good).is_ok(), "{good}");
        }
        let long = "a".repeat(129);
        for bad in [
            "bad tenant/..",
            "",
            "..",
            ".hidden",
            "-flag",
            "a/b",
            "a\\b",
            "a b",
            "tab\t",
            "new\nline",
            "é",
            "a:b",
            &long,
        ] {
            assert!(
                matches!(TenantId::new(bad), Err(Error::InvalidId { .. })),
                "{bad:?} was accepted"
            );
            assert!(
                ConnectionId::new("slack", bad).is_err(),
                "{bad:?} was accepted"
            );
        }
        let err = TenantId::new("evil\u{1b}[31m").unwrap_err().to_string();
        assert!(
            !err.contains('\u{1b}'),
            "control characters are not echoed: {err:?}"
        );
    }
}
