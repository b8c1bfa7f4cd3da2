//! [`VendorConnection`]: one authenticated, polite, observable connection to
//! a vendor's API.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::rate::{Limiter, wait_for};
use http::{HeaderMap, Method};
use integrations_core::credentials::{CredentialStore, TokenManager};
use integrations_core::health::{HealthMetrics, Sample};
use integrations_core::{ConnectionId, IntegrationId, TenantId};

use crate::auth::{Applied, Auth, Source, credential};
use crate::error::Error;
use crate::request::{Plan, VendorRequest};
use crate::response::{Outcome, VendorResponse, classify};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::vendor::Vendor;

/// One tenant's connection to a vendor's API.
///
/// - **Authenticated** by an [`Auth`] method, with the secret read from the
///   core credential store (or its `TokenManager`) per request.
/// - **Polite**: a client-side rate limit (`governor`); 429, 5xx and
///   connection errors retried per [`RetryPolicy`], never sooner than
///   `Retry-After`; a request that changes something is sent again only
///   where the vendor cannot have acted on it, unless it carries an
///   idempotency key; with OAuth 2, a 401 refreshes the token once (however
///   many requests see it) and the request is sent again.
/// - **Observable**: one `vendor.request` tracing span per request (vendor,
///   method, host, path template, status, attempts, wait; never headers,
///   tokens or bodies), and one health sample per request in
///   [`health`](Self::health).
///
/// Cloning is cheap; clones share the HTTP client, the rate limiter and the
/// health metrics.
///
/// ```no_run
/// use std::sync::Arc;
/// use integrations_core::{ConnectionId, TenantId};
/// use integrations_core::credentials::{CredentialStore, Credentials, MemoryStore};
/// use integrations_vendor::{Auth, Vendor, VendorConnection};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
/// let (tenant, connection) = (TenantId::new("user-1")?, ConnectionId::new("github", "personal")?);
/// store.put(&tenant, &connection, &Credentials::bearer("ghp_example")).await?;
///
/// let github = VendorConnection::builder(Vendor::github())
///     .auth(Auth::Bearer)
///     .credentials(store, tenant, connection)
///     .build()?;
/// let me: serde_json::Value = github.get("/user").send_json().await?;
/// println!("connected as {}", me["login"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct VendorConnection {
    inner: Arc<Inner>,
}

struct Inner {
    vendor: Vendor,
    health_key: IntegrationId,
    client: reqwest::Client,
    /// For the JWT grant's token exchange only: redirects off, so a signed
    /// assertion is never sent on to wherever a token endpoint points.
    token_client: Option<reqwest::Client>,
    /// With a client certificate, the client that presents it: built at the
    /// first request, from the stored certificate.
    tls_client: tokio::sync::OnceCell<reqwest::Client>,
    settings: ClientSettings,
    auth: Auth,
    source: Option<Source>,
    retry: RetryPolicy,
    limiter: Option<Limiter>,
    timeout: Duration,
    health: Arc<HealthMetrics>,
    jwt: crate::jwt::JwtCache,
}

impl fmt::Debug for VendorConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorConnection")
            .field("vendor", &self.inner.vendor.id)
            .field("base_url", &self.inner.vendor.base_url)
            .field("auth", &self.inner.auth)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

/// What every HTTP client of a connection is built with.
#[derive(Clone)]
struct ClientSettings {
    user_agent: String,
    headers: HeaderMap,
    connect_timeout: Duration,
    roots: Vec<reqwest::Certificate>,
}

impl ClientSettings {
    fn builder(&self) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .default_headers(self.headers.clone())
            .connect_timeout(self.connect_timeout);
        for root in &self.roots {
            builder = builder.add_root_certificate(root.clone());
        }
        builder
    }
}

/// Options of a [`VendorConnection`]; made by
/// [`VendorConnection::builder`].
///
/// A builder is cheap to clone: a host keeps one as the template of a
/// vendor's connections and finishes a clone per tenant with
/// [`credentials`](Self::credentials).
#[derive(Clone)]
#[must_use = "call `build` to get the connection"]
pub struct VendorConnectionBuilder {
    vendor: Vendor,
    auth: Auth,
    source: Option<Source>,
    retry: RetryPolicy,
    rate_limit: Option<NonZeroU32>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    health: Option<Arc<HealthMetrics>>,
    roots: Vec<String>,
}

impl fmt::Debug for VendorConnectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorConnectionBuilder")
            .field("vendor", &self.vendor.id)
            .field("auth", &self.auth)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl VendorConnectionBuilder {
    /// The vendor the connection will speak to.
    pub fn vendor(&self) -> &Vendor {
        &self.vendor
    }

    /// How requests authenticate; default none.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Reads the tenant's credentials for `connection` from `store`.
    pub fn credentials(
        mut self,
        store: Arc<dyn CredentialStore>,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Self {
        let tokens = self.source.take().and_then(|source| source.tokens);
        self.source = Some(Source {
            tenant,
            connection,
            store: Some(store),
            tokens,
        });
        self
    }

    /// Takes tokens (OAuth 2, bearer, API keys) from `tokens`, which caches
    /// them and refreshes OAuth tokens exactly once; needed for
    /// [`Auth::OAuth2`].
    pub fn token_manager(
        mut self,
        tokens: TokenManager,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Self {
        let store = self.source.take().and_then(|source| source.store);
        self.source = Some(Source {
            tenant,
            connection,
            store,
            tokens: Some(tokens),
        });
        self
    }

    /// When to send a request again; default [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// At most this many requests per second from this connection (and its
    /// clones), bursts included; default unlimited.
    pub fn rate_limit(mut self, per_second: NonZeroU32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// The time limit of one attempt (connect, send, read); default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
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
    /// several connections) instead of the connection's own.
    pub fn health(mut self, health: Arc<HealthMetrics>) -> Self {
        self.health = Some(health);
        self
    }

    /// Builds the connection.
    pub fn build(self) -> Result<VendorConnection, Error> {
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
        let client = settings
            .builder()
            .build()
            .map_err(|e| config(format!("cannot build the HTTP client: {}", e.without_url())))?;
        let token_client = match self.auth {
            Auth::JwtGrant { .. } => Some(
                settings
                    .builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| {
                        config(format!("cannot build the HTTP client: {}", e.without_url()))
                    })?,
            ),
            _ => None,
        };
        Ok(VendorConnection {
            inner: Arc::new(Inner {
                health_key,
                client,
                token_client,
                tls_client: tokio::sync::OnceCell::new(),
                settings,
                auth: self.auth,
                source: self.source,
                retry: self.retry,
                limiter: self.rate_limit.map(crate::rate::limiter),
                timeout: self.timeout,
                health: self
                    .health
                    .unwrap_or_else(|| Arc::new(HealthMetrics::new(1024))),
                vendor: self.vendor,
                jwt: crate::jwt::JwtCache::default(),
            }),
        })
    }
}

impl VendorConnection {
    /// Starts building a connection to `vendor`.
    pub fn builder(vendor: Vendor) -> VendorConnectionBuilder {
        VendorConnectionBuilder {
            vendor,
            auth: Auth::None,
            source: None,
            retry: RetryPolicy::default(),
            rate_limit: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("integrations-vendor/", env!("CARGO_PKG_VERSION")).to_owned(),
            health: None,
            roots: Vec::new(),
        }
    }

    /// The vendor.
    pub fn vendor(&self) -> &Vendor {
        &self.inner.vendor
    }

    /// Response times and outcomes of this connection's requests, under the
    /// vendor's id.
    pub fn health(&self) -> &HealthMetrics {
        &self.inner.health
    }

    /// A GET of `path` (a template such as `/v1/blocks/{id}/children`; fill
    /// it with [`param`](VendorRequest::param)).
    pub fn get(&self, path: &str) -> VendorRequest<'_> {
        self.request(Method::GET, path)
    }

    /// A POST of `path`.
    pub fn post(&self, path: &str) -> VendorRequest<'_> {
        self.request(Method::POST, path)
    }

    /// A request of any method.
    pub fn request(&self, method: Method, path: &str) -> VendorRequest<'_> {
        VendorRequest::new(self, method, path)
    }

    pub(crate) fn default_timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Records one request's health sample.
    pub(crate) fn record(&self, sample: Sample) {
        self.inner.health.record(&self.inner.health_key, sample);
    }

    pub(crate) fn config(&self, message: String) -> Error {
        Error::Config {
            vendor: self.inner.vendor.id.clone(),
            message,
        }
    }

    pub(crate) fn url(
        &self,
        template: &str,
        params: &[(String, String)],
    ) -> Result<reqwest::Url, Error> {
        let mut path = template.to_owned();
        for (name, value) in params {
            let encoded: String = url_encode_segment(value);
            path = path.replace(&format!("{{{name}}}"), &encoded);
        }
        if path.contains('{') {
            return Err(self.config(format!("path {template:?} has a parameter without a value")));
        }
        let base = self.inner.vendor.base_url.trim_end_matches('/');
        let path = path.trim_start_matches('/');
        reqwest::Url::parse(&format!("{base}/{path}"))
            .map_err(|e| self.config(format!("invalid URL for {template:?}: {e}")))
    }

    /// The HTTP client for this connection's requests: with a client
    /// certificate, one that presents it (built once, from the store).
    async fn client(&self) -> Result<&reqwest::Client, Error> {
        let inner = &self.inner;
        if inner.auth != Auth::ClientCertificate {
            return Ok(&inner.client);
        }
        let vendor = inner.vendor.id.as_str();
        inner
            .tls_client
            .get_or_try_init(|| async {
                let source = inner.source.as_ref().ok_or_else(|| {
                    self.config("a client certificate needs credentials: give the connection a store with `credentials`".into())
                })?;
                let (certificate, private_key) = match source.stored(vendor).await? {
                    integrations_core::credentials::CredentialKind::ClientCertificate {
                        certificate,
                        private_key,
                    } => (certificate, private_key),
                    other => {
                        return Err(self.config(format!(
                            "the stored credentials are {}, but this auth method needs a client certificate",
                            other.name()
                        )));
                    }
                };
                use secrecy::ExposeSecret;
                let pem = secrecy::SecretString::from(format!(
                    "{}\n{certificate}",
                    private_key.expose_secret()
                ));
                let identity = reqwest::Identity::from_pem(pem.expose_secret().as_bytes())
                    .map_err(|_| {
                        self.config("the stored client certificate or key is not valid PEM".into())
                    })?;
                inner
                    .settings
                    .builder()
                    .identity(identity)
                    .build()
                    .map_err(|e| {
                        self.config(format!("cannot build the HTTP client: {}", e.without_url()))
                    })
            })
            .await
    }

    /// Sends `plan` until it succeeds or may not be tried again.
    pub(crate) async fn run(&self, plan: &Plan) -> Result<VendorResponse, Error> {
        let inner = &self.inner;
        let vendor = inner.vendor.id.as_str();
        let mut credential = match (&inner.auth, &inner.source) {
            (Auth::JwtBearer { .. } | Auth::JwtGrant { .. }, Some(source)) => {
                crate::jwt::credential(
                    &inner.auth,
                    source,
                    vendor,
                    inner.token_client.as_ref().unwrap_or(&inner.client),
                    &inner.jwt,
                )
                .await?
            }
            _ => credential(&inner.auth, inner.source.as_ref(), vendor).await?,
        };
        let client = self.client().await?;
        let mut backoff = inner.retry.backoff();
        let (mut attempts, mut waited, mut refreshed) = (0u32, Duration::ZERO, false);
        let span = tracing::Span::current();
        let result = loop {
            if let Some(limiter) = &inner.limiter {
                wait_for(limiter).await;
            }
            attempts += 1;
            let outcome = self.attempt(client, plan, &credential, attempts).await;
            let (error, retry_after, vendor_acted) = match outcome {
                Outcome::Done(response) => {
                    span.record("status", response.status.as_u16());
                    break Ok(response);
                }
                Outcome::Refused(error) => {
                    // OAuth 2: one refresh, then the same request again.
                    match (credential.bearer(), &inner.source, refreshed) {
                        (Some(rejected), Some(source), false) if inner.auth == Auth::OAuth2 => {
                            refreshed = true;
                            credential = source.refresh(vendor, rejected).await?;
                            continue;
                        }
                        _ => break Err(error),
                    }
                }
                Outcome::Fail(error) => break Err(error),
                Outcome::Retry {
                    error,
                    retry_after,
                    vendor_acted,
                } => (error, retry_after, vendor_acted),
            };
            if vendor_acted && !plan.repeatable() {
                break Err(error);
            }
            let Some(pause) = backoff.next() else {
                break Err(error);
            };
            let pause = retry_after.map_or(pause, |asked| asked.max(pause));
            if waited + pause > inner.retry.budget {
                break Err(error);
            }
            tracing::debug!(
                attempt = attempts,
                pause_ms = pause.as_millis() as u64,
                "retrying: {error}"
            );
            tokio::time::sleep(pause).await;
            waited += pause;
        };
        span.record("attempts", attempts);
        span.record("wait_ms", waited.as_millis() as u64);
        result.map_err(|error| with_attempts(error, attempts))
    }

    /// One request, classified.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        plan: &Plan,
        credential: &Applied,
        attempt: u32,
    ) -> Outcome {
        let inner = &self.inner;
        let vendor = inner.vendor.id.as_str();
        let mut request = client
            .request(plan.method.clone(), plan.url.clone())
            .timeout(plan.timeout);
        if !plan.query.is_empty() {
            request = request.query(&plan.query);
        }
        if let Some((body, content_type)) = &plan.body {
            request = request
                .header(http::header::CONTENT_TYPE, *content_type)
                .body(body.clone());
        }
        if let (Some(key), Some(header)) = (&plan.idempotency_key, &inner.vendor.idempotency_header)
        {
            request = request.header(header.as_str(), key.as_str());
        }
        let request = credential.apply(request);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return self.transport_failure(plan, error),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return self.transport_failure(plan, error),
        };
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, chrono::Utc::now()));
        tracing::debug!(attempt, status = status.as_u16(), "vendor answered");
        classify(
            &inner.vendor,
            VendorResponse::new(vendor, status, headers, body),
            retry_after,
        )
    }

    fn transport_failure(&self, plan: &Plan, error: reqwest::Error) -> Outcome {
        let vendor = self.inner.vendor.id.clone();
        if error.is_timeout() {
            // The vendor may have acted: only a repeatable request goes again.
            return Outcome::Retry {
                error: Error::Timeout {
                    vendor,
                    method: plan.method.to_string(),
                    path: plan.template.clone(),
                    after: plan.timeout,
                },
                retry_after: None,
                vendor_acted: true,
            };
        }
        let mut url = plan.url.clone();
        url.set_query(None);
        // A connection that never opened carried nothing.
        let vendor_acted = !error.is_connect();
        Outcome::Retry {
            error: Error::Network {
                vendor,
                url: url.to_string(),
                // Without the URL, which may carry a query-string key.
                message: crate::error::innermost(&error.without_url()),
            },
            retry_after: None,
            vendor_acted,
        }
    }
}

fn with_attempts(error: Error, attempts: u32) -> Error {
    match error {
        Error::Api {
            vendor,
            status,
            code,
            message,
            ..
        } => Error::Api {
            vendor,
            status,
            code,
            message,
            attempts,
        },
        Error::RateLimited {
            vendor,
            retry_after,
            ..
        } => Error::RateLimited {
            vendor,
            retry_after,
            attempts,
        },
        other => other,
    }
}

/// Percent-encodes one path segment.
fn url_encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char);
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
