//! [`VendorClient`]: one vendor's HTTP client, rate limiter, retry policy,
//! health and credential cache, shared by every tenant's
//! [`VendorConnection`]; and the builder both are made with.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::HeaderMap;
use integrations_core::credentials::{
    CredentialStore, RefreshRequest, TokenManager, TokenRefresher, TokenResponse,
};
use integrations_core::health::HealthMetrics;
use integrations_core::{BoxError, ConnectionId, IntegrationId, TenantId};

use crate::auth::{Auth, Source};
use crate::connection::{Own, VendorConnection};
use crate::error::Error;
use crate::rate::Limiter;
use crate::retry::RetryPolicy;
use crate::vendor::Vendor;

/// One vendor's client: a `reqwest::Client` (its connection pool), a rate
/// limiter, a retry policy, health metrics and a credential cache, built
/// once and shared by every tenant's [`VendorConnection`].
///
/// [`connection`](Self::connection) is a cheap view for one tenant's
/// connection: no HTTP client, limiter or cache of its own. Credentials come
/// from a [`TokenManager`]: the one given to the builder, or one over the
/// builder's store that caches tokens and keys, so a request reads the store
/// only when the token is not cached (or the vendor refused it).
///
/// ```
/// use std::sync::Arc;
/// use integrations_core::{ConnectionId, TenantId};
/// use integrations_core::credentials::{CredentialStore, MemoryStore};
/// use integrations_vendor::{Auth, Vendor, VendorConnection};
///
/// let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
/// let slack = VendorConnection::builder(Vendor::slack())
///     .auth(Auth::Bearer)
///     .store(store)
///     .client()?;
/// let ada = slack.connection(TenantId::new("ada")?, ConnectionId::new("slack", "default")?);
/// let bob = slack.connection(TenantId::new("bob")?, ConnectionId::new("slack", "default")?);
/// assert!(ada.shares_client_with(&bob));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct VendorClient {
    pub(crate) shared: Arc<Shared>,
}

/// What every connection of a client shares.
pub(crate) struct Shared {
    pub(crate) vendor: Vendor,
    pub(crate) health_key: IntegrationId,
    pub(crate) client: reqwest::Client,
    /// For the JWT grant's token exchange only: redirects off, so a signed
    /// assertion is never sent on to wherever a token endpoint points.
    pub(crate) token_client: Option<reqwest::Client>,
    pub(crate) settings: ClientSettings,
    pub(crate) auth: Auth,
    pub(crate) retry: RetryPolicy,
    pub(crate) limiter: Option<Limiter>,
    pub(crate) timeout: Duration,
    /// The most bytes of an answer read.
    pub(crate) max_body: usize,
    pub(crate) health: Arc<HealthMetrics>,
    pub(crate) store: Option<Arc<dyn CredentialStore>>,
    pub(crate) tokens: Option<TokenManager>,
    /// Whether `tokens` is the host's (it refreshes OAuth 2 tokens).
    pub(crate) refreshes: bool,
    /// What each recently used connection alone keeps.
    connections: Mutex<HashMap<(TenantId, ConnectionId), Arc<Own>>>,
}

/// How many connections' own state (signed JWTs, certificate clients) a
/// [`VendorClient`] keeps; past it, the ones no view holds are forgotten.
const KEPT_CONNECTIONS: usize = 4096;

impl fmt::Debug for VendorClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorClient")
            .field("vendor", &self.shared.vendor.id)
            .field("base_url", &self.shared.vendor.base_url)
            .field("auth", &self.shared.auth)
            .finish_non_exhaustive()
    }
}

impl VendorClient {
    /// The vendor.
    pub fn vendor(&self) -> &Vendor {
        &self.shared.vendor
    }

    /// Response times and outcomes of every connection's requests, under
    /// the vendor's id.
    pub fn health(&self) -> &HealthMetrics {
        &self.shared.health
    }

    /// The connection `connection` of `tenant`: a cheap view that shares
    /// this client's HTTP client, limiter, health and credential cache.
    ///
    /// Views of one (tenant, connection) share what it alone keeps: a signed
    /// JWT or the access token it was exchanged for, the client that presents
    /// a client certificate. The client keeps that for the 4,096 connections
    /// used last.
    pub fn connection(&self, tenant: TenantId, connection: ConnectionId) -> VendorConnection {
        let key = (tenant, connection);
        let mut kept = self
            .shared
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let own = match kept.get(&key) {
            Some(own) => Arc::clone(own),
            None => {
                if kept.len() >= KEPT_CONNECTIONS {
                    kept.retain(|_, own| Arc::strong_count(own) > 1);
                    if kept.len() >= KEPT_CONNECTIONS {
                        kept.clear();
                    }
                }
                let (tenant, connection) = key.clone();
                let source =
                    (self.shared.store.is_some() || self.shared.tokens.is_some()).then(|| Source {
                        tenant,
                        connection,
                        store: self.shared.store.clone(),
                        tokens: self.shared.tokens.clone(),
                        refreshes: self.shared.refreshes,
                    });
                let own = Arc::new(Own::new(source));
                kept.insert(key, Arc::clone(&own));
                own
            }
        };
        drop(kept);
        VendorConnection::view(Arc::clone(&self.shared), own)
    }

    /// A connection that carries no credentials (for [`Auth::None`]).
    pub fn anonymous(&self) -> VendorConnection {
        VendorConnection::view(Arc::clone(&self.shared), Arc::new(Own::new(None)))
    }
}

/// What every HTTP client of a connection is built with.
#[derive(Clone)]
pub(crate) struct ClientSettings {
    user_agent: String,
    headers: HeaderMap,
    connect_timeout: Duration,
    roots: Vec<reqwest::Certificate>,
}

/// Redirects one request may follow.
const MAX_REDIRECTS: usize = 10;

/// Follows a redirect to the same origin (scheme, host, port) only; one
/// to another origin comes back to the caller as the 3xx it is, since an
/// API key header, the vendor's headers and (through the URL) a query key
/// would go with it.
fn same_origin(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let same = attempt
        .previous()
        .first()
        .is_some_and(|first| first.origin() == attempt.url().origin());
    if !same {
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
    } else {
        attempt.follow()
    }
}

impl ClientSettings {
    /// Same-origin redirects only, no `Referer`, the connect timeout; each
    /// request sets its own total timeout.
    pub(crate) fn builder(&self) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .default_headers(self.headers.clone())
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::custom(same_origin))
            .referer(false);
        for root in &self.roots {
            builder = builder.add_root_certificate(root.clone());
        }
        builder
    }
}

/// A token manager's refresher for credentials that are never refreshed:
/// API keys and bearer tokens are cached and re-read from the store when
/// the vendor refuses them; an OAuth 2 token needs [`Auth::OAuth2`] and a
/// manager with a real refresher.
#[derive(Debug)]
struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        Err("this connection cannot refresh OAuth 2 tokens: give its client a TokenManager with `token_manager`".into())
    }
}

/// Options of a [`VendorClient`] or a single [`VendorConnection`]; made by
/// [`VendorConnection::builder`].
///
/// Finish it with [`client`](Self::client) for a client every tenant's
/// connection shares (what a host serving many tenants wants), or with
/// [`build`](Self::build) for one connection, after
/// [`credentials`](Self::credentials) or
/// [`token_manager`](Self::token_manager) named it.
#[derive(Clone)]
#[must_use = "call `client` or `build` to use it"]
pub struct VendorConnectionBuilder {
    vendor: Vendor,
    auth: Auth,
    store: Option<Arc<dyn CredentialStore>>,
    tokens: Option<TokenManager>,
    target: Option<(TenantId, ConnectionId)>,
    retry: RetryPolicy,
    rate_limit: Option<NonZeroU32>,
    timeout: Duration,
    connect_timeout: Duration,
    max_body: usize,
    user_agent: String,
    health: Option<Arc<HealthMetrics>>,
    roots: Vec<String>,
}

impl fmt::Debug for VendorConnectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorConnectionBuilder")
            .field("vendor", &self.vendor.id)
            .field("auth", &self.auth)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl VendorConnection {
    /// Starts building a client (or one connection) for `vendor`.
    pub fn builder(vendor: Vendor) -> VendorConnectionBuilder {
        VendorConnectionBuilder {
            vendor,
            auth: Auth::None,
            store: None,
            tokens: None,
            target: None,
            retry: RetryPolicy::default(),
            rate_limit: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: 32 * 1024 * 1024,
            user_agent: concat!("integrations-vendor/", env!("CARGO_PKG_VERSION")).to_owned(),
            health: None,
            roots: Vec::new(),
        }
    }
}

impl VendorConnectionBuilder {
    /// The vendor the connections will speak to.
    pub fn vendor(&self) -> &Vendor {
        &self.vendor
    }

    /// How requests authenticate; default none.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Reads credentials from `store` (keys and tokens through a cache, see
    /// [`VendorClient`]).
    pub fn store(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Takes tokens (OAuth 2, bearer, API keys) from `tokens`, which caches
    /// them and refreshes OAuth tokens exactly once; needed for
    /// [`Auth::OAuth2`].
    pub fn tokens(mut self, tokens: TokenManager) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// For [`build`](Self::build): the connection `connection` of `tenant`,
    /// with credentials read from `store`.
    pub fn credentials(
        self,
        store: Arc<dyn CredentialStore>,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Self {
        let mut builder = self.store(store);
        builder.target = Some((tenant, connection));
        builder
    }

    /// For [`build`](Self::build): the connection `connection` of `tenant`,
    /// with tokens from `tokens`.
    pub fn token_manager(
        self,
        tokens: TokenManager,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Self {
        let mut builder = self.tokens(tokens);
        builder.target = Some((tenant, connection));
        builder
    }

    /// When to send a request again; default [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// At most this many requests per second from the client (all its
    /// connections), bursts included; default unlimited.
    pub fn rate_limit(mut self, per_second: NonZeroU32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// The time limit of one attempt (connect, send, read); default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most bytes of an answer read; past it the request fails with
    /// [`Error::Decode`](crate::Error::Decode) and the rest is not read;
    /// default 32 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The time limit of opening a connection; default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent`; default `integrations-vendor/VERSION`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Also trusts the CA certificate in `pem` (a vendor behind a private
    /// CA, a test server); the system's roots stay trusted.
    pub fn root_certificate(mut self, pem: &str) -> Self {
        self.roots.push(pem.to_owned());
        self
    }

    /// Records a health sample per request into `health` (one shared by
    /// several clients) instead of the client's own.
    pub fn health(mut self, health: Arc<HealthMetrics>) -> Self {
        self.health = Some(health);
        self
    }

    /// Builds the one connection [`credentials`](Self::credentials) or
    /// [`token_manager`](Self::token_manager) named (or, without either, a
    /// connection that carries no credentials), on a client of its own.
    pub fn build(mut self) -> Result<VendorConnection, Error> {
        let target = self.target.take();
        let client = self.client()?;
        Ok(match target {
            Some((tenant, connection)) => client.connection(tenant, connection),
            None => client.anonymous(),
        })
    }

    /// Builds the client every tenant's connection shares.
    pub fn client(self) -> Result<VendorClient, Error> {
        let vendor_id = self.vendor.id.clone();
        let config = |message: String| Error::Config {
            vendor: vendor_id.clone(),
            message,
        };
        let base = reqwest::Url::parse(&self.vendor.base_url)
            .map_err(|e| config(format!("invalid base URL {:?}: {e}", self.vendor.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(config(format!(
                "the base URL must be http or https, not {}",
                base.scheme()
            )));
        }
        let health_key = IntegrationId::new(&self.vendor.id).map_err(|e| config(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &self.vendor.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| config(format!("invalid header name {name:?}")))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| config(format!("invalid value for header {name}")))?;
            headers.insert(name, value);
        }
        let roots = self
            .roots
            .iter()
            .map(|pem| {
                reqwest::Certificate::from_pem(pem.as_bytes())
                    .map_err(|_| config("a root certificate is not a PEM certificate".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let settings = ClientSettings {
            user_agent: self.user_agent,
            headers,
            connect_timeout: self.connect_timeout,
            roots,
        };
        let build = |builder: reqwest::ClientBuilder| {
            builder
                .build()
                .map_err(|e| config(format!("cannot build the HTTP client: {}", e.without_url())))
        };
        let client = build(settings.builder())?;
        let token_client = match self.auth {
            Auth::JwtGrant { .. } => Some(build(
                settings
                    .builder()
                    .redirect(reqwest::redirect::Policy::none()),
            )?),
            _ => None,
        };
        let refreshes = self.tokens.is_some();
        let tokens = match (self.tokens, &self.store) {
            (Some(tokens), _) => Some(tokens),
            (None, Some(store)) => Some(
                // No margin: nothing is refreshed here, so a token is used
                // until it expires, without lease writes before that.
                TokenManager::builder(Arc::clone(store), Arc::new(NoRefresh))
                    .margin(Duration::ZERO)
                    .build()
                    .map_err(|e| config(e.to_string()))?,
            ),
            (None, None) => None,
        };
        Ok(VendorClient {
            shared: Arc::new(Shared {
                health_key,
                client,
                token_client,
                settings,
                auth: self.auth,
                retry: self.retry,
                limiter: self.rate_limit.map(crate::rate::limiter),
                timeout: self.timeout,
                max_body: self.max_body,
                health: self
                    .health
                    .unwrap_or_else(|| Arc::new(HealthMetrics::new(1024))),
                vendor: self.vendor,
                store: self.store,
                tokens,
                refreshes,
                connections: Mutex::default(),
            }),
        })
    }
}
