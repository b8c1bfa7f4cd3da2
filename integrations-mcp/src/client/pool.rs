//! [`McpPool`]: sessions per (tenant, server), shared, healthy, bounded.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use integrations_core::config::McpServerEntry;
use integrations_core::credentials::TokenManager;
use integrations_core::events::{Event, EventSink};
use integrations_core::health::{HealthMetrics, HealthSummary};
use integrations_core::id::ServerName;
use integrations_core::{ConnectionId, IntegrationId, TenantId};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[cfg(feature = "http")]
mod auth;
mod builder;
mod health;
mod idle;
mod lifecycle;
mod requests;

/// Step-ups in a row for one session before `InsufficientScope` is final.
#[cfg(feature = "http")]
const MAX_STEP_UPS: u32 = 2;

pub use builder::McpPoolBuilder;
use health::Outcome;
pub use health::{HealthThresholds, ServerHealth};

use crate::client::hooks::{ClientHooks, HookContext};
use crate::client::session::{Connect, Session};
use crate::error::Error;

/// Which session: a tenant's connection to a named server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// The tenant.
    pub tenant: TenantId,
    /// The server's name, as configured.
    pub server: ServerName,
}

impl SessionKey {
    /// The session of `tenant` with `server`.
    pub fn new(tenant: TenantId, server: ServerName) -> Self {
        Self { tenant, server }
    }
}

/// Counters of an [`McpPool`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Live sessions now.
    pub sessions: usize,
    /// Sessions started (first connects and reconnects).
    pub connects: u64,
    /// Sessions started to replace a dead one.
    pub reconnects: u64,
    /// Connect attempts that failed.
    pub connect_failures: u64,
    /// Sessions closed for being idle.
    pub idle_closed: u64,
    /// Sessions closed to stay within the maximum.
    pub evicted: u64,
    /// Tool calls made.
    pub calls: u64,
    /// Tool calls that failed (transport, timeout, server error).
    pub errors: u64,
    /// Latency of recent calls, when any were made.
    pub latency: Option<HealthSummary>,
}

type Connecting = Shared<BoxFuture<'static, Result<Arc<Session>, Arc<Error>>>>;

enum Slot {
    Connecting { attempt: u64, future: Connecting },
    Ready(Arc<Session>),
}

/// Lock order: `slots` may be held while `failures`, `servers` or
/// `tenant_servers` is taken; `tenant_servers` while `servers` is; none of
/// the others is held while another lock is taken.
struct Inner {
    servers: Mutex<BTreeMap<ServerName, McpServerEntry>>,
    tokens: Option<TokenManager>,
    oauth: HashMap<ServerName, ConnectionId>,
    hooks: Option<Arc<dyn ClientHooks>>,
    tenant_hooks: HashMap<TenantId, Arc<dyn ClientHooks>>,
    #[cfg(feature = "http")]
    authorizations: HashMap<ServerName, crate::client::McpAuthorization>,
    /// Where the authorization code flow seals tokens and what refreshes
    /// them, or why there is none.
    #[cfg(feature = "http")]
    oauth_tokens: Result<crate::client::authorization::Tokens, &'static str>,
    /// Step-ups per session: how many so far, and the challenge the next
    /// connect authorises for.
    #[cfg(feature = "http")]
    step_ups: Mutex<HashMap<SessionKey, u32>>,
    tenant_servers: Mutex<HashMap<(TenantId, ServerName), McpServerEntry>>,
    /// Tenants' own narrowing of servers' tool policies.
    tenant_policies: Mutex<HashMap<(TenantId, ServerName), integrations_core::config::ToolPolicy>>,
    /// Whether any config or tenant has a tool policy (else none is looked up).
    has_policies: AtomicBool,
    /// Bumped whenever a tenant's server or policy is set: what a listing
    /// lets through may have changed.
    policy_generation: AtomicU64,
    health: Mutex<health::HealthMap>,
    thresholds: HealthThresholds,
    /// Where events go, through a queue of 4096 that one task of the pool's
    /// empties into `events`.
    events: Option<Arc<dyn EventSink>>,
    event_queue: Option<tokio::sync::mpsc::Sender<Event>>,
    event_receiver: Mutex<Option<tokio::sync::mpsc::Receiver<Event>>>,
    /// The integration id of the pool's events (`mcp`).
    events_id: IntegrationId,
    slots: Mutex<HashMap<SessionKey, Slot>>,
    failures: Mutex<HashMap<SessionKey, u32>>,
    call_timeout: Duration,
    max_message: usize,
    handshake_timeout: Duration,
    /// The revision spoken to servers whose config names none.
    protocol: integrations_core::config::McpProtocol,
    /// The revisions servers spoke.
    eras: crate::client::session::era::Eras,
    idle_timeout: Duration,
    max_sessions: usize,
    close_grace: Duration,
    max_backoff: Duration,
    attempts: AtomicU64,
    connects: AtomicU64,
    reconnects: AtomicU64,
    connect_failures: AtomicU64,
    idle_closed: AtomicU64,
    evicted: AtomicU64,
    calls: AtomicU64,
    errors: AtomicU64,
    latency: HealthMetrics,
    latency_key: IntegrationId,
    tasks: TaskTracker,
    stop: CancellationToken,
    closed: AtomicBool,
    reaper_started: AtomicBool,
}

/// A pool of MCP sessions keyed by (tenant, server).
///
/// - [`get`](Self::get) returns a shared handle to a live session; concurrent
///   `get`s of a cold key start exactly one connection and all share its
///   result or its error.
/// - Calls on one session run concurrently; each has a timeout (default
///   30 s, or per call) and may be cancelled, and the server is then sent
///   `notifications/cancelled`.
/// - A session whose process exited or whose transport closed is noticed at
///   the next `get` (and fails its calls in flight with
///   [`Error::SessionClosed`] at once) and is replaced, after a pause that
///   grows with repeated failures.
/// - Idle sessions close after `idle_timeout`; beyond `max_sessions` the
///   least recently used is closed.
/// - Servers run with a cleared environment plus what their config names,
///   each in its own process group; [`shutdown`](Self::shutdown) kills the
///   groups of servers that do not exit in time, so no child is left behind.
///
/// ```no_run
/// use integrations_core::id::ServerName;
/// use integrations_core::{Config, TenantId};
/// use integrations_mcp::{McpPool, SessionKey};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::from_toml_str(r#"
///     [agents.mcp.demo]
///     command = "integrations-mcp-demo"
/// "#)?;
/// let pool = McpPool::builder().servers(config.mcp_servers().clone()).build();
/// let key = SessionKey::new(TenantId::new("user-1")?, ServerName::new("demo")?);
/// let result = pool.call_tool(&key, "echo", serde_json::json!({"text": "hi"})).await?;
/// pool.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct McpPool {
    inner: Arc<Inner>,
}

impl fmt::Debug for McpPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One lock at a time (see `Inner`).
        let servers: Vec<ServerName> = lock(&self.inner.servers).keys().cloned().collect();
        let sessions = self.live_sessions();
        f.debug_struct("McpPool")
            .field("servers", &servers)
            .field("sessions", &sessions)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn config(&self, key: &SessionKey) -> Result<McpServerEntry, Error> {
        if let Some(config) =
            lock(&self.tenant_servers).get(&(key.tenant.clone(), key.server.clone()))
        {
            return Ok(config.clone());
        }
        lock(&self.servers)
            .get(&key.server)
            .cloned()
            .ok_or_else(|| Error::UnknownServer {
                server: key.server.clone(),
            })
    }

    /// Whether `config` is an HTTP server at the URL the host's own entry
    /// for `server` names: the token of an [`oauth`](McpPoolBuilder::oauth)
    /// mapping goes nowhere else (not to a tenant's own server of that name
    /// elsewhere).
    #[cfg(feature = "http")]
    fn at_host_resource(&self, server: &ServerName, config: &McpServerEntry) -> bool {
        let url = |entry: &McpServerEntry| match entry {
            McpServerEntry::Http(http) => Some(http.url.expose().to_owned()),
            _ => None,
        };
        let host = lock(&self.servers).get(server).and_then(url);
        host.zip(url(config))
            .is_some_and(|(host, this)| crate::client::http::same_resource(&host, &this))
    }

    /// Without HTTP there is nothing to send a token to.
    #[cfg(not(feature = "http"))]
    fn at_host_resource(&self, _: &ServerName, _: &McpServerEntry) -> bool {
        false
    }

    async fn connect(&self, key: &SessionKey, config: &McpServerEntry) -> Result<Session, Error> {
        let oauth = self
            .oauth
            .get(&key.server)
            .zip(self.tokens.as_ref())
            .filter(|_| self.at_host_resource(&key.server, config));
        let bearer = match oauth {
            Some((connection, tokens)) => Some(
                tokens
                    .access_token(&key.tenant, connection)
                    .await
                    .map_err(|error| crate::error::credential_error(&key.server, error))?,
            ),
            None => None,
        };
        let hooks = self
            .tenant_hooks
            .get(&key.tenant)
            .or(self.hooks.as_ref())
            .map(|hooks| {
                let context = HookContext {
                    tenant: key.tenant.clone(),
                    server: key.server.clone(),
                };
                (Arc::clone(hooks), context)
            });
        // The tenant's own authorization may reach another deployment.
        #[cfg(feature = "http")]
        let own_auth = oauth.is_some() || self.authorizations.contains_key(&key.server);
        #[cfg(not(feature = "http"))]
        let own_auth = oauth.is_some();
        let options = Connect {
            bearer,
            handshake: self.handshake_timeout,
            protocol: config.protocol().unwrap_or(self.protocol),
            era: Some(self.eras.slot(config, own_auth.then_some(&key.tenant))),
            call_timeout: self.call_timeout,
            max_message: self.max_message,
            tasks: &self.tasks,
            hooks,
            #[cfg(feature = "http")]
            oauth: self.authorizations.get(&key.server).map(|authorization| {
                crate::client::authorization::OAuthContext {
                    authorization: authorization.clone(),
                    tenant: key.tenant.clone(),
                    tokens: self.oauth_tokens.clone(),
                    step_up: None,
                }
            }),
        };
        let result = Session::connect(&key.server, config, options).await;
        if let (Err(Error::Unauthorized { .. }), Some((connection, tokens))) = (&result, oauth) {
            tokens.invalidate(&key.tenant, connection);
        }
        self.authorizing(key, result).await
    }

    /// `result`, or, when it is a refusal that sends the user to authorize
    /// (see [`after_refusal`](Self::after_refusal)), the
    /// [`Error::AuthorizationRequired`] that does.
    pub(super) async fn authorizing<T>(
        &self,
        key: &SessionKey,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        #[cfg(feature = "http")]
        if let Err(error) = &result
            && let Some(authorize) = self.after_refusal(key, error).await
        {
            return Err(authorize);
        }
        #[cfg(not(feature = "http"))]
        let _ = key;
        result
    }

    /// Connects in a task of the pool's, so the connect goes on when its
    /// callers give up, and stops (killing a half-started server) when the
    /// pool shuts down.
    fn start_connect(self: &Arc<Self>, key: &SessionKey, config: McpServerEntry) -> Connecting {
        let pause = self.backoff(key);
        let inner = Arc::clone(self);
        let target = key.clone();
        let task = self.tasks.spawn(async move {
            let stop = inner.stop.clone();
            let connect = async {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                inner.connect(&target, &config).await
            };
            tokio::select! {
                () = stop.cancelled() => Err(Arc::new(Error::PoolClosed)),
                result = connect => result.map(Arc::new).map_err(Arc::new),
            }
        });
        let server = key.server.clone();
        async move {
            task.await.unwrap_or_else(|error| {
                Err(Arc::new(Error::Handshake {
                    server,
                    message: format!("the connect task failed: {error}"),
                }))
            })
        }
        .boxed()
        .shared()
    }

    fn backoff(&self, key: &SessionKey) -> Duration {
        let failures = lock(&self.failures).get(key).copied().unwrap_or(0);
        if failures == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(100)
            .saturating_mul(2u32.saturating_pow(failures.min(20) - 1))
            .min(self.max_backoff)
    }
}

impl McpPool {
    /// Starts building a pool.
    pub fn builder() -> McpPoolBuilder {
        McpPoolBuilder::new()
    }

    /// The live session for `key`, connecting if there is none.
    ///
    /// Concurrent calls for a cold key share one connect, and all get its
    /// result or a copy of its error. After [`shutdown`](Self::shutdown)
    /// every call fails with [`Error::PoolClosed`].
    pub async fn get(&self, key: &SessionKey) -> Result<Arc<Session>, Error> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(Error::PoolClosed);
        }
        let (attempt, future) = {
            let mut slots = lock(&self.inner.slots);
            match slots.get(key) {
                Some(Slot::Ready(session)) if session.is_alive() => {
                    session.touch();
                    return Ok(Arc::clone(session));
                }
                Some(Slot::Connecting { attempt, future }) => (*attempt, future.clone()),
                _ => {
                    if let Some(Slot::Ready(dead)) = slots.remove(key) {
                        tracing::info!(server = %key.server, tenant = %key.tenant, "MCP session died; reconnecting");
                        self.inner.reconnects.fetch_add(1, Ordering::Relaxed);
                        self.inner.close_later(dead);
                    }
                    let config = self.inner.config(key)?;
                    let attempt = self.inner.attempts.fetch_add(1, Ordering::Relaxed);
                    let future = self.inner.start_connect(key, config);
                    slots.insert(
                        key.clone(),
                        Slot::Connecting {
                            attempt,
                            future: future.clone(),
                        },
                    );
                    (attempt, future)
                }
            }
        };
        self.inner.start_reaper();
        let result = future.await;
        let mut slots = lock(&self.inner.slots);
        let ours =
            matches!(slots.get(key), Some(Slot::Connecting { attempt: a, .. }) if *a == attempt);
        if self.inner.closed.load(Ordering::SeqCst) {
            // Shut down meanwhile: nothing is handed out, and a session that
            // got through goes down with the pool.
            if ours {
                slots.remove(key);
            }
            if let Ok(session) = result {
                session.kill();
            }
            return Err(Error::PoolClosed);
        }
        match result {
            Ok(session) => {
                if ours {
                    self.inner.connects.fetch_add(1, Ordering::Relaxed);
                    lock(&self.inner.failures).remove(key);
                    slots.insert(key.clone(), Slot::Ready(Arc::clone(&session)));
                    self.inner.evict(&mut slots);
                }
                session.touch();
                Ok(session)
            }
            Err(error) => {
                if ours {
                    slots.remove(key);
                    self.inner.connect_failures.fetch_add(1, Ordering::Relaxed);
                    *lock(&self.inner.failures).entry(key.clone()).or_default() += 1;
                    drop(slots);
                    self.inner.observe(key, &Outcome::Failed(&error));
                }
                Err(Error::clone(&error))
            }
        }
    }

    /// The servers a tenant can use: shared ones and its own.
    pub fn server_names(&self, tenant: &TenantId) -> Vec<ServerName> {
        let mut names: Vec<ServerName> = lock(&self.inner.servers).keys().cloned().collect();
        names.extend(
            lock(&self.inner.tenant_servers)
                .keys()
                .filter(|(owner, _)| owner == tenant)
                .map(|(_, name)| name.clone()),
        );
        names.sort();
        names.dedup();
        names
    }

    fn live_sessions(&self) -> usize {
        lock(&self.inner.slots)
            .values()
            .filter(|slot| matches!(slot, Slot::Ready(session) if session.is_alive()))
            .count()
    }

    /// The pool's counters.
    pub fn metrics(&self) -> PoolMetrics {
        let inner = &self.inner;
        PoolMetrics {
            sessions: self.live_sessions(),
            connects: inner.connects.load(Ordering::Relaxed),
            reconnects: inner.reconnects.load(Ordering::Relaxed),
            connect_failures: inner.connect_failures.load(Ordering::Relaxed),
            idle_closed: inner.idle_closed.load(Ordering::Relaxed),
            evicted: inner.evicted.load(Ordering::Relaxed),
            calls: inner.calls.load(Ordering::Relaxed),
            errors: inner.errors.load(Ordering::Relaxed),
            latency: inner.latency.summary(inner.latency_key.as_str()),
        }
    }

    /// Closes every session (concurrently, each given the close grace, all
    /// within `deadline`), stops connects in progress, kills what is left,
    /// and stops the pool's tasks. Later calls fail with
    /// [`Error::PoolClosed`]; once it returns, no server process of the
    /// pool's is running.
    pub async fn shutdown(&self, deadline: Duration) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        inner.stop.cancel();
        let mut sessions = Vec::new();
        let mut connecting = Vec::new();
        for (_, slot) in lock(&inner.slots).drain() {
            match slot {
                Slot::Ready(session) => sessions.push(session),
                Slot::Connecting { future, .. } => connecting.push(future),
            }
        }
        // Connects stop at once (their servers killed) or have just
        // finished: their sessions close with the rest.
        let finished = tokio::time::timeout(deadline, futures_util::future::join_all(connecting))
            .await
            .unwrap_or_default();
        sessions.extend(finished.into_iter().filter_map(Result::ok));
        let grace = inner.close_grace.min(deadline);
        let closing = futures_util::future::join_all(sessions.iter().map(|s| s.close(grace)));
        let _ = tokio::time::timeout(deadline, closing).await;
        for session in &sessions {
            session.kill();
        }
        #[cfg(feature = "http")]
        if let Ok(tokens) = &inner.oauth_tokens {
            // A refresh in flight finishes, so a rotated token is kept.
            let _ = tokio::time::timeout(deadline, tokens.manager.close()).await;
        }
        inner.tasks.close();
        if tokio::time::timeout(deadline, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("MCP pool tasks did not stop within {deadline:?}");
        }
    }
}
