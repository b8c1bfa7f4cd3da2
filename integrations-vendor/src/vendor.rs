//! [`Vendor`]: what the crate knows about one vendor's API, as data a host
//! can extend: where it lives, how it reports errors, how to test a
//! connection.

use http::Method;

/// How a vendor's API reports an error in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorStyle {
    /// By HTTP status; the body's `message` or `error` field, or its start,
    /// is the message.
    Status,
    /// Slack's Web API: HTTP 200 with `{"ok": false, "error": "code"}`.
    Slack,
    /// Notion: `{"object": "error", "status": 400, "code": "...",
    /// "message": "..."}`.
    Notion,
}

/// How [`test_connection`](crate::VendorConnection::test_connection) asks a
/// vendor who the credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestEndpoint {
    /// The method.
    pub method: Method,
    /// The path under the base URL.
    pub path: String,
    /// JSON pointers tried in order for the identity to show, e.g.
    /// `/user` for Slack's `auth.test`.
    pub identity: Vec<String>,
    /// A JSON body to send (a GraphQL query, for Linear).
    pub body: Option<serde_json::Value>,
}

impl TestEndpoint {
    /// `method path`, showing the first identity pointer that is present.
    pub fn new(method: Method, path: impl Into<String>, identity: &[&str]) -> Self {
        Self {
            method,
            path: path.into(),
            identity: identity.iter().map(|p| (*p).to_owned()).collect(),
            body: None,
        }
    }

    /// Sends `body` as JSON.
    #[must_use]
    pub fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// One vendor's API.
///
/// ```
/// use integrations_vendor::{ErrorStyle, TestEndpoint, Vendor};
///
/// // A vendor the crate does not ship, described by the host.
/// let acme = Vendor::new("acme", "https://api.acme.example/v2")
///     .with_test_endpoint(TestEndpoint::new(http::Method::GET, "/me", &["/email"]));
/// assert_eq!(acme.error_style, ErrorStyle::Status);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Vendor {
    /// A short id, used in errors, spans and health metrics (e.g. `slack`).
    pub id: String,
    /// Where the API lives; request paths are appended to it.
    pub base_url: String,
    /// How errors are reported.
    pub error_style: ErrorStyle,
    /// Headers every request carries (e.g. `Notion-Version`).
    pub headers: Vec<(String, String)>,
    /// The header that carries an idempotency key, when the vendor honours
    /// one.
    pub idempotency_header: Option<String>,
    /// How to test a connection.
    pub test_endpoint: Option<TestEndpoint>,
}

impl Vendor {
    /// A vendor at `base_url` reporting errors by status.
    pub fn new(id: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            base_url: base_url.into(),
            error_style: ErrorStyle::Status,
            headers: Vec::new(),
            idempotency_header: None,
            test_endpoint: None,
        }
    }

    /// Slack's Web API: errors as `ok: false`, tested with `auth.test`.
    pub fn slack() -> Self {
        Self::new("slack", "https://slack.com/api")
            .with_error_style(ErrorStyle::Slack)
            .with_test_endpoint(TestEndpoint::new(
                Method::POST,
                "/auth.test",
                &["/user", "/bot_id"],
            ))
    }

    /// Notion's API (version 2022-06-28), tested with `GET /v1/users/me`.
    pub fn notion() -> Self {
        Self::new("notion", "https://api.notion.com")
            .with_error_style(ErrorStyle::Notion)
            .with_header("Notion-Version", "2022-06-28")
            .with_test_endpoint(TestEndpoint::new(
                Method::GET,
                "/v1/users/me",
                &["/name", "/bot/owner/user/name", "/id"],
            ))
    }

    /// GitHub's REST API, tested with `GET /user`.
    pub fn github() -> Self {
        Self::new("github", "https://api.github.com")
            .with_header("Accept", "application/vnd.github+json")
            .with_header("X-GitHub-Api-Version", "2022-11-28")
            .with_test_endpoint(TestEndpoint::new(Method::GET, "/user", &["/login"]))
    }

    /// Google's APIs, tested with the OpenID Connect userinfo endpoint.
    pub fn google() -> Self {
        Self::new("google", "https://www.googleapis.com").with_test_endpoint(TestEndpoint::new(
            Method::GET,
            "/oauth2/v3/userinfo",
            &["/email", "/sub"],
        ))
    }

    /// Linear's GraphQL API, tested with a `viewer` query.
    pub fn linear() -> Self {
        Self::new("linear", "https://api.linear.app").with_test_endpoint(
            TestEndpoint::new(
                Method::POST,
                "/graphql",
                &["/data/viewer/email", "/data/viewer/name"],
            )
            .with_body(serde_json::json!({"query": "{ viewer { id name email } }"})),
        )
    }

    /// Sets where the API lives (a fake on loopback in tests, a proxy, a
    /// data-residency region).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Sets how errors are reported.
    #[must_use]
    pub fn with_error_style(mut self, style: ErrorStyle) -> Self {
        self.error_style = style;
        self
    }

    /// Sets a header every request carries, replacing one of the same
    /// name (in any case).
    ///
    /// ```
    /// use integrations_vendor::Vendor;
    ///
    /// let notion = Vendor::notion().with_header("notion-version", "2026-03-11");
    /// assert_eq!(notion.header("Notion-Version"), Some("2026-03-11"));
    /// assert_eq!(notion.headers.len(), 1);
    /// ```
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// The value of header `name` every request carries, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Names the header that carries idempotency keys.
    #[must_use]
    pub fn with_idempotency_header(mut self, name: impl Into<String>) -> Self {
        self.idempotency_header = Some(name.into());
        self
    }

    /// Sets how to test a connection.
    #[must_use]
    pub fn with_test_endpoint(mut self, endpoint: TestEndpoint) -> Self {
        self.test_endpoint = Some(endpoint);
        self
    }
}
