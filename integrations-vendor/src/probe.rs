//! [`VendorConnection::test_connection`]: do these credentials work, and
//! whose are they?

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::connection::VendorConnection;
use crate::error::Error;

/// The outcome of [`VendorConnection::test_connection`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectionTest {
    /// How long the test took, retries included.
    pub response_time: Duration,
    /// Who the credentials belong to, as the vendor names them (a Slack
    /// user id, a GitHub login, a Notion bot's owner).
    pub identity: Option<String>,
    /// The scopes granted, where the vendor says (`X-OAuth-Scopes` from
    /// Slack and GitHub).
    pub scopes: Vec<String>,
    /// Why it failed, as something a person can act on:
    /// [`Error::Unauthorized`] (bad or revoked token),
    /// [`Error::MissingScope`], [`Error::Network`], [`Error::RateLimited`].
    pub error: Option<Error>,
}

impl ConnectionTest {
    /// Whether the vendor accepted the credentials.
    pub fn success(&self) -> bool {
        self.error.is_none()
    }
}

impl VendorConnection {
    /// Calls the vendor's test endpoint ([`Vendor::test_endpoint`](crate::Vendor::test_endpoint):
    /// Slack `auth.test`, Notion `GET /v1/users/me`, GitHub `GET /user`,
    /// Google's userinfo, Linear's `viewer` query).
    pub async fn test_connection(&self) -> ConnectionTest {
        let started = Instant::now();
        let mut test = ConnectionTest {
            response_time: Duration::ZERO,
            identity: None,
            scopes: Vec::new(),
            error: None,
        };
        let Some(endpoint) = self.vendor().test_endpoint.clone() else {
            test.error = Some(Error::Config {
                vendor: self.vendor().id.clone(),
                message:
                    "the vendor has no test endpoint: set one with `Vendor::with_test_endpoint`"
                        .into(),
            });
            return test;
        };
        let mut request = self.request(endpoint.method, &endpoint.path);
        if let Some(body) = &endpoint.body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => {
                test.scopes = response
                    .headers
                    .get("x-oauth-scopes")
                    .and_then(|scopes| scopes.to_str().ok())
                    .map(|scopes| {
                        scopes
                            .split(',')
                            .map(str::trim)
                            .filter(|scope| !scope.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let body: Value = response.json().unwrap_or(Value::Null);
                test.identity = endpoint.identity.iter().find_map(|pointer| {
                    body.pointer(pointer).and_then(|value| match value {
                        Value::String(text) => Some(text.clone()),
                        Value::Number(number) => Some(number.to_string()),
                        _ => None,
                    })
                });
            }
            Err(error) => test.error = Some(error),
        }
        test.response_time = started.elapsed();
        test
    }
}
