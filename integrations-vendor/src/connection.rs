//! [`VendorConnection`]: one authenticated, polite, observable connection to
//! a vendor's API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::rate::wait_for;
use http::Method;
use integrations_core::health::{HealthMetrics, Sample};

use crate::auth::{Applied, Auth, Source, credential};
use crate::client::Shared;
use crate::error::Error;
use crate::request::{Plan, VendorRequest};
use crate::response::{Outcome, VendorResponse, classify};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::vendor::Vendor;

/// One tenant's connection to a vendor's API, a cheap view of its
/// [`VendorClient`](crate::VendorClient).
///
/// - **Authenticated** by an [`Auth`] method, with the secret from the
///   client's token cache (read from the core credential store when not
///   cached, or when the vendor refused it).
/// - **Polite**: a client-side rate limit (`governor`); 429, 5xx and
///   connection errors retried per [`RetryPolicy`], never sooner than
///   `Retry-After`; a request that changes something is sent again only
///   where the vendor cannot have acted on it, unless it carries an
///   idempotency key; a refused token is read again (with OAuth 2,
///   refreshed once, however many requests see it) and the request sent
///   again once.
/// - **Contained**: redirects are followed only to the same origin (scheme,
///   host and port), with no `Referer`; a redirect to another origin (a
///   download on a CDN, say) comes back to the caller as the 3xx it is, so
///   that no key or vendor header travels with it. Each attempt has a time
///   limit (30 s by default) and an answer a size limit (32 MiB,
///   `max_body_bytes`; 1 MiB from token endpoints).
/// - **Observable**: one `vendor.request` tracing span per request (vendor,
///   method, host, path template, status, attempts, wait; never headers,
///   tokens or bodies), and one health sample per request in
///   [`health`](Self::health).
///
/// Cloning is cheap; clones, and every connection of one client, share the
/// HTTP client, the rate limiter, the health metrics and the token cache.
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
    shared: Arc<Shared>,
    own: Arc<Own>,
    retry: RetryPolicy,
}

/// What is one (tenant, connection)'s alone; its client keeps it, so every
/// view of the connection shares the signed JWT and the certificate's client.
pub(crate) struct Own {
    source: Option<Source>,
    /// With a client certificate, the client that presents it: built at the
    /// first request, from the stored certificate.
    tls_client: tokio::sync::OnceCell<reqwest::Client>,
    jwt: crate::jwt::JwtCache,
}

impl Own {
    pub(crate) fn new(source: Option<Source>) -> Self {
        Self {
            source,
            tls_client: tokio::sync::OnceCell::new(),
            jwt: crate::jwt::JwtCache::default(),
        }
    }
}

impl fmt::Debug for VendorConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorConnection")
            .field("vendor", &self.shared.vendor.id)
            .field("base_url", &self.shared.vendor.base_url)
            .field("auth", &self.shared.auth)
            .field("source", &self.own.source)
            .finish_non_exhaustive()
    }
}

impl VendorConnection {
    pub(crate) fn view(shared: Arc<Shared>, own: Arc<Own>) -> Self {
        Self {
            retry: shared.retry.clone(),
            shared,
            own,
        }
    }

    /// The same connection with another retry policy, e.g.
    /// [`RetryPolicy::never`] where a caller (an outbox) retries the whole
    /// operation itself.
    #[must_use]
    pub fn with_retry(&self, policy: RetryPolicy) -> Self {
        Self {
            retry: policy,
            ..self.clone()
        }
    }

    /// Whether this connection and `other` share one HTTP client (made by
    /// one [`VendorClient`](crate::VendorClient)).
    pub fn shares_client_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The vendor.
    pub fn vendor(&self) -> &Vendor {
        &self.shared.vendor
    }

    /// Response times and outcomes of this connection's requests, under the
    /// vendor's id.
    pub fn health(&self) -> &HealthMetrics {
        &self.shared.health
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
        self.shared.timeout
    }

    /// Records one request's health sample.
    pub(crate) fn record(&self, sample: Sample) {
        self.shared.health.record(&self.shared.health_key, sample);
    }

    pub(crate) fn config(&self, message: String) -> Error {
        Error::Config {
            vendor: self.shared.vendor.id.clone(),
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
        let base = self.shared.vendor.base_url.trim_end_matches('/');
        let path = path.trim_start_matches('/');
        reqwest::Url::parse(&format!("{base}/{path}"))
            .map_err(|e| self.config(format!("invalid URL for {template:?}: {e}")))
    }

    /// The HTTP client for this connection's requests: with a client
    /// certificate, one that presents it (built once, from the store).
    async fn client(&self) -> Result<&reqwest::Client, Error> {
        let (inner, own) = (&*self.shared, &*self.own);
        if inner.auth != Auth::ClientCertificate {
            return Ok(&inner.client);
        }
        let vendor = inner.vendor.id.as_str();
        own.tls_client
            .get_or_try_init(|| async {
                let source = own.source.as_ref().ok_or_else(|| {
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
        let (inner, own) = (&*self.shared, &*self.own);
        let vendor = inner.vendor.id.as_str();
        let mut credential = match (&inner.auth, &own.source) {
            (Auth::JwtBearer { .. } | Auth::JwtGrant { .. }, Some(source)) => {
                crate::jwt::credential(
                    &inner.auth,
                    source,
                    vendor,
                    inner.token_client.as_ref().unwrap_or(&inner.client),
                    &own.jwt,
                )
                .await?
            }
            _ => credential(&inner.auth, own.source.as_ref(), vendor).await?,
        };
        let client = self.client().await?;
        let mut backoff = self.retry.backoff();
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
                    // Once: the token read again (OAuth 2: refreshed), and
                    // the same request again if it changed.
                    let renewed = match (&own.source, refreshed) {
                        (Some(source), false) => source.renew(vendor, &credential).await?,
                        _ => None,
                    };
                    refreshed = true;
                    match renewed {
                        Some(renewed) => {
                            credential = renewed;
                            continue;
                        }
                        None => break Err(error),
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
            if waited.saturating_add(pause) > self.retry.budget {
                break Err(error);
            }
            tracing::debug!(
                attempt = attempts,
                pause_ms = pause.as_millis() as u64,
                "retrying: {error}"
            );
            tokio::time::sleep(pause).await;
            waited = waited.saturating_add(pause);
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
        let inner = &*self.shared;
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
        let body = match body_within(response, inner.max_body).await {
            Ok(Some(body)) => body,
            Ok(None) => {
                return Outcome::Fail(Error::Decode {
                    vendor: vendor.to_owned(),
                    message: format!(
                        "the answer to {} {} is longer than {} bytes (`max_body_bytes`)",
                        plan.method, plan.template, inner.max_body
                    ),
                });
            }
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
        let vendor = self.shared.vendor.id.clone();
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

/// Bytes a token endpoint's answer may take.
pub(crate) const TOKEN_ANSWER_LIMIT: usize = 1024 * 1024;

/// The body of `response`, or `None` past `limit` bytes (the rest unread).
pub(crate) async fn body_within(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<bytes::Bytes>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}
