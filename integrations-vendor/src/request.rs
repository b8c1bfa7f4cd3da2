//! [`VendorRequest`]: one request being built, and what it takes to send
//! it again.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use integrations_core::health::Sample;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::connection::VendorConnection;
use crate::error::Error;
use crate::response::VendorResponse;

/// One request being built; sent with [`send`](Self::send).
#[must_use = "a request does nothing until it is sent"]
pub struct VendorRequest<'a> {
    connection: &'a VendorConnection,
    method: Method,
    template: String,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<(Bytes, &'static str)>,
    idempotency_key: Option<String>,
    timeout: Option<Duration>,
    error: Option<Error>,
}

impl fmt::Debug for VendorRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorRequest")
            .field("method", &self.method)
            .field("path", &self.template)
            .finish_non_exhaustive()
    }
}

impl<'a> VendorRequest<'a> {
    pub(crate) fn new(connection: &'a VendorConnection, method: Method, path: &str) -> Self {
        Self {
            connection,
            method,
            template: path.to_owned(),
            params: Vec::new(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            timeout: None,
            error: None,
        }
    }

    /// Fills `{name}` in the path template with `value` (percent-encoded).
    /// The span shows the template, not the value.
    pub fn param(mut self, name: &str, value: impl AsRef<str>) -> Self {
        self.params
            .push((name.to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Sends `body` as JSON.
    pub fn json(mut self, body: &impl Serialize) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Some((bytes.into(), "application/json")),
            Err(e) => {
                self.error = Some(
                    self.connection
                        .config(format!("cannot encode the body: {e}")),
                )
            }
        }
        self
    }

    /// Sends `body` as `application/x-www-form-urlencoded` (Slack accepts
    /// both).
    pub fn form(mut self, body: &impl Serialize) -> Self {
        match serde_urlencoded_string(body) {
            Ok(text) => self.body = Some((text.into(), "application/x-www-form-urlencoded")),
            Err(message) => self.error = Some(self.connection.config(message)),
        }
        self
    }

    /// Marks a request that changes something as safe to send again: the
    /// key goes in the vendor's idempotency header, when it has one.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// This request's time limit per attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request (retrying as the policy allows) and checks the
    /// answer for the vendor's errors.
    pub async fn send(self) -> Result<VendorResponse, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let connection = self.connection;
        let url = connection.url(&self.template, &self.params)?;
        let span = tracing::info_span!(
            "vendor.request",
            vendor = %connection.vendor().id,
            method = %self.method,
            host = url.host_str().unwrap_or_default(),
            path = %self.template,
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            wait_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let plan = Plan {
            method: self.method,
            template: self.template,
            url,
            query: self.query,
            body: self.body,
            idempotency_key: self.idempotency_key,
            timeout: self.timeout.unwrap_or(connection.default_timeout()),
        };
        let result = connection.run(&plan).instrument(span).await;
        let elapsed = started.elapsed();
        let sample = match &result {
            Ok(_) => Sample::success(elapsed),
            Err(error) => Sample::failure(elapsed, error.to_string()),
        };
        connection.record(sample);
        result
    }

    /// Sends the request and reads the body as JSON.
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.send().await?.json()
    }
}

fn serde_urlencoded_string(body: &impl Serialize) -> Result<String, String> {
    // Through JSON: a flat object of strings, numbers and booleans.
    let value = serde_json::to_value(body).map_err(|e| format!("cannot encode the form: {e}"))?;
    let serde_json::Value::Object(fields) = value else {
        return Err("a form body must be an object".into());
    };
    let mut url = reqwest::Url::parse("http://form.invalid/").map_err(|e| e.to_string())?;
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in fields {
            let text = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            pairs.append_pair(&name, &text);
        }
    }
    Ok(url.query().unwrap_or_default().to_owned())
}

/// Everything needed to send one request again.
pub(crate) struct Plan {
    pub(crate) method: Method,
    pub(crate) template: String,
    pub(crate) url: reqwest::Url,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<(Bytes, &'static str)>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) timeout: Duration,
}

impl Plan {
    /// Whether sending it twice is harmless whatever the vendor did.
    pub(crate) fn repeatable(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(
                self.method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            )
    }
}
