//! [`McpPoolBuilder`]: the options of an [`McpPool`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use integrations_core::config::{McpProtocol, McpServerEntry};
use integrations_core::credentials::TokenManager;
use integrations_core::events::EventSink;
use integrations_core::health::HealthMetrics;
use integrations_core::id::ServerName;
use integrations_core::{ConnectionId, IntegrationId, TenantId};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Inner, McpPool};
use crate::client::hooks::ClientHooks;

/// Options of an [`McpPool`]; made by [`McpPool::builder`].
#[derive(Debug)]
#[must_use = "call `build` to get the pool"]
pub struct McpPoolBuilder {
    servers: BTreeMap<ServerName, McpServerEntry>,
    tokens: Option<TokenManager>,
    oauth: HashMap<ServerName, ConnectionId>,
    call_timeout: Duration,
    max_message: usize,
    handshake_timeout: Duration,
    protocol: McpProtocol,
    idle_timeout: Duration,
    max_sessions: usize,
    close_grace: Duration,
    max_backoff: Duration,
    hooks: Option<Arc<dyn ClientHooks>>,
    tenant_hooks: HashMap<TenantId, Arc<dyn ClientHooks>>,
    #[cfg(feature = "http")]
    authorizations: HashMap<ServerName, crate::client::McpAuthorization>,
    #[cfg(feature = "http")]
    oauth_tokens: Option<Arc<dyn integrations_core::credentials::CredentialStore>>,
    events: Option<Arc<dyn EventSink>>,
    thresholds: super::HealthThresholds,
}

impl McpPoolBuilder {
    pub(super) fn new() -> Self {
        Self {
            servers: BTreeMap::new(),
            tokens: None,
            oauth: HashMap::new(),
            call_timeout: Duration::from_secs(30),
            max_message: crate::client::session::MAX_MESSAGE,
            handshake_timeout: Duration::from_secs(30),
            protocol: McpProtocol::Auto,
            idle_timeout: Duration::from_secs(600),
            max_sessions: 64,
            close_grace: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            hooks: None,
            tenant_hooks: HashMap::new(),
            #[cfg(feature = "http")]
            authorizations: HashMap::new(),
            #[cfg(feature = "http")]
            oauth_tokens: None,
            events: None,
            thresholds: super::HealthThresholds::default(),
        }
    }

    /// Adds servers available to every tenant (e.g. `config.mcp_servers()`).
    pub fn servers(mut self, servers: BTreeMap<ServerName, McpServerEntry>) -> Self {
        self.servers.extend(servers);
        self
    }

    /// Adds one server available to every tenant.
    pub fn server(mut self, name: ServerName, config: McpServerEntry) -> Self {
        self.servers.insert(name, config);
        self
    }

    /// Authenticates to HTTP servers with OAuth tokens from `tokens`; see
    /// [`oauth`](Self::oauth).
    pub fn token_manager(mut self, tokens: TokenManager) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Connects to the HTTP server `server` with the tenant's access token
    /// for `connection` (from the [`token_manager`](Self::token_manager)),
    /// sent as `Authorization: Bearer`. A 401 drops the cached token so the
    /// next connect reads the store again.
    ///
    /// The token is bound to the URL of the server `server` given to this
    /// builder: a tenant's own server of that name
    /// ([`McpPool::set_tenant_server`]) gets it only at the same URL (same
    /// scheme, host, port and path), and connects without it elsewhere.
    pub fn oauth(mut self, server: ServerName, connection: ConnectionId) -> Self {
        self.oauth.insert(server, connection);
        self
    }

    /// The default time limit of a call; default 30 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The longest message a server may send: a line of a stdio server's
    /// output, a JSON answer or an SSE event over HTTP; default 16 MiB. A
    /// longer one is dropped unread, and the call it answered fails at
    /// once with [`Error::MessageTooLarge`](crate::Error::MessageTooLarge)
    /// (over stdio, when it is the session's only call in flight;
    /// otherwise each call ends at its timeout). The session lives on.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message = bytes.max(1);
        self
    }

    /// The time limit of starting a server and its handshake; default 30 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The protocol revision spoken to servers whose config names none;
    /// default [`McpProtocol::Auto`]: `server/discover` first, within half
    /// the handshake time, and `initialize` for a server that does not
    /// answer it. What each server spoke is remembered per config (per
    /// tenant too where the tenant's authorization is its own), so
    /// reconnects do not probe again; a failed connect forgets it.
    pub fn protocol(mut self, protocol: McpProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Close sessions unused for this long; default 10 minutes.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The most sessions kept; the least recently used is closed beyond it.
    /// Default 64.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max.max(1);
        self
    }

    /// How long a closing server may take to exit before its process group
    /// is killed; default 2 s.
    pub fn close_grace(mut self, grace: Duration) -> Self {
        self.close_grace = grace;
        self
    }

    /// The longest pause before reconnecting after repeated failures;
    /// default 30 s (the pause starts at 100 ms and doubles).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Answers the requests servers send this pool's sessions
    /// (elicitation, sampling, roots) with `hooks`, and declares the
    /// capabilities they name. Without hooks, elicitation is declined,
    /// sampling is not supported and no roots are listed.
    pub fn hooks(mut self, hooks: impl ClientHooks) -> Self {
        self.hooks = Some(Arc::new(hooks));
        self
    }

    /// Authorises to the HTTP server `server` with an OAuth client
    /// credentials grant (discovery, token, refresh), for servers that
    /// follow the MCP authorization spec; a failure is
    /// [`Error::Authorization`](crate::Error::Authorization).
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn authorization(
        mut self,
        server: ServerName,
        authorization: crate::client::McpAuthorization,
    ) -> Self {
        self.authorizations.insert(server, authorization);
        self
    }

    /// Where the authorization code flow
    /// ([`McpAuthorization::authorization_code`](crate::client::McpAuthorization::authorization_code))
    /// seals each tenant's tokens, as connection `mcp/{server}`: they
    /// survive a restart of the host. The pool refreshes them through a
    /// [`TokenManager`] of its own over this store: 30 s before they
    /// expire, or when the server answers 401, once per connection however
    /// many calls are waiting, and once across the replicas sharing the
    /// store. When the authorization server refuses the refresh token
    /// (`invalid_grant`) the connection is marked as needing
    /// re-authorisation (one `needs_reauth` event, see
    /// [`events`](Self::events)) and the next connect fails with
    /// [`Error::AuthorizationRequired`](crate::Error::AuthorizationRequired).
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn credential_store(
        mut self,
        store: Arc<dyn integrations_core::credentials::CredentialStore>,
    ) -> Self {
        self.oauth_tokens = Some(store);
        self
    }

    /// Where the pool reports what happens: `session_closed` (a host's
    /// [`close`](McpPool::close), [`close_tenant`](McpPool::close_tenant),
    /// a removed or changed tenant server), `health_changed` (on each
    /// transition of a server's [`health`](McpPool::health)), and, for the
    /// tokens the pool's authorization code flow refreshes,
    /// `token_refreshed`, `token_refresh_failed` and `needs_reauth`. Events
    /// reach the sink in order from a task of the pool's, through a queue
    /// of 4096 (beyond it, new events are dropped with a warning).
    pub fn events(mut self, sink: impl EventSink) -> Self {
        self.events = Some(Arc::new(sink));
        self
    }

    /// When a server counts as degraded or down (see
    /// [`HealthThresholds`](super::HealthThresholds)).
    pub fn health(mut self, thresholds: super::HealthThresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// Answers the requests to `tenant`'s sessions with `hooks` instead of
    /// the pool's.
    pub fn tenant_hooks(mut self, tenant: TenantId, hooks: impl ClientHooks) -> Self {
        self.tenant_hooks.insert(tenant, Arc::new(hooks));
        self
    }

    /// Builds the pool. It needs no runtime yet: its idle reaper starts with
    /// the first session.
    pub fn build(self) -> McpPool {
        #[cfg(feature = "http")]
        let oauth_tokens = self.oauth_tokens.map_or(
            Err("the authorization code flow needs a credential store: give the pool one with `credential_store`"),
            |store| {
                let refresher = crate::client::authorization::McpRefresher {
                    authorizations: self.authorizations.clone(),
                    store: Arc::clone(&store),
                };
                let mut manager = TokenManager::builder(Arc::clone(&store), Arc::new(refresher))
                    .margin(Duration::from_secs(30));
                if let Some(events) = &self.events {
                    manager = manager.events(Arc::clone(events));
                }
                manager
                    .build()
                    .map(|manager| crate::client::authorization::Tokens { store, manager })
                    .map_err(|_| "the pool's token manager could not be made (no randomness for its id)")
            },
        );
        let has_policies = self
            .servers
            .values()
            .any(|config| !config.tools().is_unrestricted());
        let (event_queue, event_receiver) = match &self.events {
            Some(_) => {
                let (sender, receiver) = tokio::sync::mpsc::channel(4096);
                (Some(sender), Some(receiver))
            }
            None => (None, None),
        };
        let inner = Arc::new(Inner {
            servers: Mutex::new(self.servers),
            tenant_policies: Mutex::new(HashMap::new()),
            has_policies: AtomicBool::new(has_policies),
            policy_generation: AtomicU64::new(0),
            health: Mutex::new(HashMap::new()),
            thresholds: self.thresholds,
            events: self.events,
            event_queue,
            event_receiver: Mutex::new(event_receiver),
            events_id: IntegrationId::new("mcp").unwrap_or_else(|_| unreachable!("a valid id")),
            tokens: self.tokens,
            oauth: self.oauth,
            hooks: self.hooks,
            tenant_hooks: self.tenant_hooks,
            #[cfg(feature = "http")]
            authorizations: self.authorizations,
            #[cfg(feature = "http")]
            oauth_tokens,
            #[cfg(feature = "http")]
            step_ups: Mutex::new(HashMap::new()),
            tenant_servers: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            call_timeout: self.call_timeout,
            max_message: self.max_message,
            handshake_timeout: self.handshake_timeout,
            protocol: self.protocol,
            eras: crate::client::session::era::Eras::default(),
            idle_timeout: self.idle_timeout,
            max_sessions: self.max_sessions,
            close_grace: self.close_grace,
            max_backoff: self.max_backoff,
            attempts: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: HealthMetrics::new(4096),
            latency_key: IntegrationId::new("pool").unwrap_or_else(|_| unreachable!("a valid id")),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            closed: AtomicBool::new(false),
            reaper_started: AtomicBool::new(false),
        });
        McpPool { inner }
    }
}
