//! The [`TokenManager`]: valid access tokens, refreshed exactly once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::task::TaskTracker;

use super::CredentialStore;
#[cfg(doc)]
use crate::error::CredentialError;
use crate::error::{BoxError, Error, error_chain};
use crate::events::{Event, EventKind, EventSink};
use crate::id::{ConnectionId, TenantId};

mod builder;
mod changes;
mod refresh;

pub use builder::TokenManagerBuilder;

/// What a [`TokenRefresher`] is asked to refresh.
#[derive(Debug)]
#[non_exhaustive]
pub struct RefreshRequest<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The connection.
    pub connection: &'a ConnectionId,
    /// The refresh token to spend.
    pub refresh_token: &'a SecretString,
    /// The scopes granted so far.
    pub scopes: &'a [String],
    /// The connection's metadata (e.g. which OAuth client issued it).
    pub metadata: &'a BTreeMap<String, String>,
}

/// A provider's answer to a refresh.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The new access token.
    pub access_token: SecretString,
    /// A new refresh token, when the provider rotates them; `None` keeps the
    /// old one.
    pub refresh_token: Option<SecretString>,
    /// How long the access token lives; `None` when the provider does not say.
    pub expires_in: Option<Duration>,
    /// The granted scopes, when the provider says; `None` keeps the old ones.
    pub scopes: Option<Vec<String>>,
}

impl TokenResponse {
    /// A response carrying only an access token.
    pub fn new(access_token: impl Into<String>) -> Self {
        Self {
            access_token: SecretString::from(access_token.into()),
            refresh_token: None,
            expires_in: None,
            scopes: None,
        }
    }

    /// Sets a rotated refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: impl Into<String>) -> Self {
        self.refresh_token = Some(SecretString::from(refresh_token.into()));
        self
    }

    /// Sets the access token's lifetime.
    #[must_use]
    pub fn with_expires_in(mut self, expires_in: Duration) -> Self {
        self.expires_in = Some(expires_in);
        self
    }
}

/// Exchanges a refresh token for new tokens, usually at a provider's OAuth 2
/// token endpoint (`integrations-vendor` has one).
///
/// Return [`CredentialError::InvalidGrant`] (boxed) when the provider answers
/// `invalid_grant`; any other error counts as a transient failure.
#[async_trait]
pub trait TokenRefresher: Send + Sync + fmt::Debug + 'static {
    /// Performs one refresh.
    async fn refresh(&self, request: RefreshRequest<'_>) -> Result<TokenResponse, BoxError>;
}

/// Hands out valid access tokens, refreshing them before they expire.
///
/// - A token expiring within the margin (5 minutes by default) is refreshed
///   through the [`TokenRefresher`] before it is returned.
/// - One refresh at a time per connection: concurrent callers in this
///   process wait for it and share its result; other processes sharing the
///   store see a refresh lease (taken by the read that found the token
///   due, [`CredentialStore::get_for_refresh`]) and wait for the new token
///   instead of refreshing too.
/// - A response without a refresh token keeps the old one.
/// - On `invalid_grant` the store is read again: if another writer stored a
///   new refresh token meanwhile, that one is used; otherwise the connection
///   is marked [`CredentialStatus::NeedsReauth`](crate::credentials::CredentialStatus::NeedsReauth) and
///   [`CredentialError::NeedsReauth`] returned, now and on later calls.
/// - If a refresh fails otherwise while the current token has not yet
///   expired, the current token is returned.
/// - Events are emitted only on changes: `token_refreshed`,
///   `token_refresh_failed`, `needs_reauth`.
///
/// Valid tokens are cached in memory, so most calls touch neither the store
/// nor the refresher. A refresh runs in a task the manager owns, so a caller
/// that gives up mid-refresh cannot lose a rotated refresh token; call
/// [`close`](Self::close) at shutdown to let refreshes in flight finish.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn CredentialStore>,
    refresher: Arc<dyn TokenRefresher>,
    margin: chrono::Duration,
    refresh_timeout: Duration,
    poll_interval: Duration,
    owner: String,
    events: Option<Arc<dyn EventSink>>,
    cache: Mutex<HashMap<TenantId, HashMap<ConnectionId, CachedToken>>>,
    locks: Mutex<ConnectionLocks>,
    tasks: TaskTracker,
    /// The store's change notifications, asked for at the first read of
    /// the store (or by [`TokenManager::listen`]).
    listening: Arc<Mutex<changes::Listening>>,
}

/// One async lock per connection, held while its token is obtained.
type ConnectionLocks = HashMap<(TenantId, ConnectionId), Arc<tokio::sync::Mutex<()>>>;

/// A handle on a connection's lock in [`ConnectionLocks`]; the last handle
/// dropped removes the entry, so the map holds only connections in use.
struct ConnectionLock {
    inner: Arc<Inner>,
    key: (TenantId, ConnectionId),
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl ConnectionLock {
    fn new(inner: &Arc<Inner>, tenant: &TenantId, connection: &ConnectionId) -> Self {
        let key = (tenant.clone(), connection.clone());
        let lock = Arc::clone(lock(&inner.locks).entry(key.clone()).or_default());
        Self {
            inner: Arc::clone(inner),
            key,
            lock,
        }
    }
}

impl Drop for ConnectionLock {
    fn drop(&mut self) {
        let mut locks = lock(&self.inner.locks);
        // The map's reference and ours: nobody else holds or awaits it.
        if locks
            .get(&self.key)
            .is_some_and(|entry| Arc::strong_count(entry) == 2)
        {
            locks.remove(&self.key);
        }
    }
}

struct CachedToken {
    token: SecretString,
    expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the store nor the refresher: theirs may be a user type
        // whose derived Debug shows a client secret.
        f.debug_struct("TokenManager")
            .field("margin", &self.inner.margin)
            .field("refresh_timeout", &self.inner.refresh_timeout)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl TokenManager {
    /// Starts building a manager over `store`, refreshing through
    /// `refresher`.
    pub fn builder(
        store: Arc<dyn CredentialStore>,
        refresher: Arc<dyn TokenRefresher>,
    ) -> TokenManagerBuilder {
        TokenManagerBuilder::new(store, refresher)
    }

    /// A valid access token for the connection.
    ///
    /// For OAuth 2 credentials, the access token, refreshed first when it
    /// expires within the margin; for API keys and bearer tokens, the key or
    /// token itself. Errors: [`CredentialError::NotFound`],
    /// [`CredentialError::NeedsReauth`], [`CredentialError::RefreshFailed`],
    /// [`CredentialError::NoAccessToken`], and the store's errors.
    pub async fn access_token(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<SecretString, Error> {
        self.token(tenant, connection, None).await
    }

    /// The provider refused `rejected` (an HTTP 401): a token to retry with.
    ///
    /// If the stored access token is still `rejected`, it is refreshed first,
    /// whatever its expiry says: once, however many callers report the same
    /// token at once (they wait for that refresh and share it), and across
    /// processes as [`access_token`](Self::access_token) does. If another
    /// caller has already replaced it, the new token is returned with no
    /// refresh. API keys and bearer tokens have nothing to refresh: the
    /// stored value is returned.
    pub async fn refresh_rejected(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        rejected: &SecretString,
    ) -> Result<SecretString, Error> {
        self.token(tenant, connection, Some(rejected.clone())).await
    }

    async fn token(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        rejected: Option<SecretString>,
    ) -> Result<SecretString, Error> {
        if let Some(token) = self
            .inner
            .cached_unless(tenant, connection, rejected.as_ref())
        {
            return Ok(token);
        }
        let key = ConnectionLock::new(&self.inner, tenant, connection);
        let guard = Arc::clone(&key.lock).lock_owned().await;
        // Whoever held the lock may have just refreshed.
        if let Some(token) = self
            .inner
            .cached_unless(tenant, connection, rejected.as_ref())
        {
            return Ok(token);
        }
        let inner = Arc::clone(&self.inner);
        let (tenant, connection) = (tenant.clone(), connection.clone());
        // The task owns the lock: a caller that gives up cannot cut a
        // refresh short and lose a rotated refresh token.
        let task = self.inner.tasks.spawn(async move {
            let result = inner.obtain(&tenant, &connection, rejected.as_ref()).await;
            drop(guard);
            drop(key);
            result
        });
        task.await
            .map_err(|e| Error::store("refresh a token", format!("the refresh task failed: {e}")))?
    }

    /// Forgets the cached token of a connection, so the next call reads the
    /// store (e.g. after the provider answered 401).
    pub fn invalidate(&self, tenant: &TenantId, connection: &ConnectionId) {
        self.inner.forget(tenant, connection);
    }

    /// Waits for refreshes in flight to finish; new calls still work.
    pub async fn close(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        self.inner.tasks.reopen();
        // Stops listening to the store's changes, or connecting to them
        // (a later read listens again).
        *lock(&self.inner.listening) = changes::Listening::NotAsked;
    }

    /// Starts listening to the store's change notifications now, if the
    /// manager does not yet, and returns once it listens (`true`) or knows
    /// the store gives none (`false`: waiters poll every
    /// [`poll_interval`](TokenManagerBuilder::poll_interval)).
    ///
    /// A manager starts listening at its first read of the store anyway,
    /// in the background: reads go on meanwhile, and their callers poll if
    /// they have to wait for another process's refresh. Call this at
    /// startup so that the first waiters are woken instead.
    pub async fn listen(&self) -> bool {
        self.inner.listen().await
    }
}

impl Inner {
    fn is_fresh(&self, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        expires_at.is_none_or(|at| at - self.margin > now)
    }

    /// The cached token, if fresh and not the one a provider `rejected`.
    fn cached_unless(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        rejected: Option<&SecretString>,
    ) -> Option<SecretString> {
        let cache = lock(&self.cache);
        let entry = cache.get(tenant)?.get(connection)?;
        (self.is_fresh(entry.expires_at, Utc::now()) && !same(Some(&entry.token), rejected))
            .then(|| entry.token.clone())
    }

    fn remember(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        token: &SecretString,
        expires_at: Option<DateTime<Utc>>,
    ) {
        lock(&self.cache).entry(tenant.clone()).or_default().insert(
            connection.clone(),
            CachedToken {
                token: token.clone(),
                expires_at,
            },
        );
    }

    fn forget(&self, tenant: &TenantId, connection: &ConnectionId) {
        if let Some(connections) = lock(&self.cache).get_mut(tenant) {
            connections.remove(connection);
        }
    }

    async fn emit(&self, connection: &ConnectionId, kind: EventKind) {
        if let Some(events) = &self.events {
            let event = Event::now(connection.provider().clone(), kind);
            if let Err(error) = events.record(&event).await {
                tracing::warn!(error = %error_chain(&error), "token event sink failed");
            }
        }
    }
}

/// Whether `token` is `other` (both present and equal).
fn same(token: Option<&SecretString>, other: Option<&SecretString>) -> bool {
    matches!((token, other), (Some(a), Some(b)) if a.expose_secret() == b.expose_secret())
}

#[cfg(test)]
mod tests;
