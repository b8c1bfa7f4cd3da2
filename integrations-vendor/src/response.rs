//! Reading a vendor's answer: success, an error to retry, or an error to
//! report, by the vendor's documented error shapes.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::vendor::{ErrorStyle, Vendor};

/// The longest piece of a body quoted in an error.
const BODY_START: usize = 200;

/// Slack error codes that mean the token itself is no good.
const SLACK_AUTH_ERRORS: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
];

/// A response that passed the vendor's error checks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VendorResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    vendor: String,
}

impl VendorResponse {
    pub(crate) fn new(vendor: &str, status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            status,
            headers,
            body,
            vendor: vendor.to_owned(),
        }
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            vendor: self.vendor.clone(),
            message: format!("the body is not the JSON expected: {e}"),
        })
    }
}

/// What one attempt came to.
pub(crate) enum Outcome {
    /// A success.
    Done(VendorResponse),
    /// The credentials were refused: with OAuth 2, refresh once and retry.
    Refused(Error),
    /// Worth another attempt; `vendor_acted` says whether the vendor may
    /// have acted on the request (then only a repeatable one goes again).
    Retry {
        error: Error,
        retry_after: Option<Duration>,
        vendor_acted: bool,
    },
    /// Final.
    Fail(Error),
}

pub(crate) fn classify(
    vendor: &Vendor,
    response: VendorResponse,
    retry_after: Option<Duration>,
) -> Outcome {
    let id = vendor.id.clone();
    let status = response.status.as_u16();
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|body| body.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let api = |code: Option<String>, message: String| Error::Api {
        vendor: id.clone(),
        status,
        code,
        message,
        attempts: 1,
    };

    if response.status.is_success() {
        if vendor.error_style == ErrorStyle::Slack
            && body
                .as_ref()
                .and_then(|b| b.get("ok"))
                .and_then(Value::as_bool)
                == Some(false)
        {
            let code = field("error").unwrap_or_else(|| "unknown_error".into());
            return slack_error(&id, status, code, field("needed"), retry_after);
        }
        return Outcome::Done(response);
    }

    // The vendor's own code and message, by its style.
    let (code, message) = match vendor.error_style {
        ErrorStyle::Notion => (field("code"), field("message")),
        ErrorStyle::Slack => (field("error"), field("error")),
        ErrorStyle::Status => (
            field("code").or_else(|| field("error")),
            field("message").or_else(|| field("error_description")),
        ),
    };
    let message = message.unwrap_or_else(|| body_start(&response.body, status));

    match status {
        401 => Outcome::Refused(Error::Unauthorized {
            vendor: id,
            reason: code.unwrap_or_else(|| "HTTP 401".into()),
        }),
        429 => rate_limited(&id, retry_after),
        // GitHub's primary rate limit is a 403 with no requests left.
        403 if response
            .headers
            .get("x-ratelimit-remaining")
            .is_some_and(|left| left.as_bytes() == b"0") =>
        {
            let reset = response
                .headers
                .get("x-ratelimit-reset")
                .and_then(|at| at.to_str().ok()?.parse::<i64>().ok())
                .map(|at| {
                    Duration::from_secs(
                        u64::try_from(at - chrono::Utc::now().timestamp()).unwrap_or(0),
                    )
                });
            rate_limited(&id, retry_after.or(reset))
        }
        // 529 is Notion's "overloaded"; all 5xx may pass.
        500..=599 => Outcome::Retry {
            error: api(code, message),
            retry_after,
            vendor_acted: true,
        },
        _ => Outcome::Fail(api(code, message)),
    }
}

fn rate_limited(vendor: &str, retry_after: Option<Duration>) -> Outcome {
    Outcome::Retry {
        error: Error::RateLimited {
            vendor: vendor.to_owned(),
            retry_after,
            attempts: 1,
        },
        retry_after,
        // A 429 is refused before any work: safe to send again.
        vendor_acted: false,
    }
}

fn slack_error(
    vendor: &str,
    status: u16,
    code: String,
    needed: Option<String>,
    retry_after: Option<Duration>,
) -> Outcome {
    if SLACK_AUTH_ERRORS.contains(&code.as_str()) {
        return Outcome::Refused(Error::Unauthorized {
            vendor: vendor.to_owned(),
            reason: code,
        });
    }
    match code.as_str() {
        "missing_scope" => Outcome::Fail(Error::MissingScope {
            vendor: vendor.to_owned(),
            needed,
        }),
        "ratelimited" => rate_limited(vendor, retry_after),
        _ => Outcome::Fail(Error::Api {
            vendor: vendor.to_owned(),
            status,
            message: code.replace('_', " "),
            code: Some(code),
            attempts: 1,
        }),
    }
}

/// The start of a body, printable, for a message.
fn body_start(body: &[u8], status: u16) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(BODY_START)
        .collect();
    if text.trim().is_empty() {
        format!("HTTP {status} with no body")
    } else {
        text
    }
}
