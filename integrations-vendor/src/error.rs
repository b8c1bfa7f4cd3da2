//! The crate's error type.

use std::time::Duration;

/// Everything that can go wrong in `integrations-vendor`. Each variant names
/// the vendor and says what a person can do; none carries a secret, a
/// header or a request body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable credentials for the connection (none stored, the
    /// connection needs re-authorisation, the store failed): `source` says
    /// which.
    #[error("{vendor}: no usable credentials")]
    Credentials {
        /// The vendor.
        vendor: String,
        /// The error from `integrations-core`.
        #[source]
        source: integrations_core::Error,
    },

    /// The vendor refused the credentials (HTTP 401, or an error body that
    /// says so), after one refresh where the credentials are OAuth 2.
    #[error("{vendor}: the credentials were refused ({reason}); connect the account again")]
    Unauthorized {
        /// The vendor.
        vendor: String,
        /// The vendor's own word for it, e.g. `invalid_auth` or `HTTP 401`.
        reason: String,
    },

    /// The credentials work but lack a permission the call needs.
    #[error("{vendor}: missing permission{}; grant it and connect again", needed.as_ref().map(|n| format!(" `{n}`")).unwrap_or_default())]
    MissingScope {
        /// The vendor.
        vendor: String,
        /// The scope the vendor said is needed, when it said.
        needed: Option<String>,
    },

    /// The vendor kept answering "too many requests" until the retry budget
    /// was spent.
    #[error("{vendor}: rate limited after {attempts} attempts{}", retry_after.map(|d| format!("; the vendor asks to wait {d:?}")).unwrap_or_default())]
    RateLimited {
        /// The vendor.
        vendor: String,
        /// What the last `Retry-After` asked for, when it was readable.
        retry_after: Option<Duration>,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The vendor answered with an error: an HTTP error status after the
    /// retries allowed, or an error body (Slack's `ok: false`, Notion's
    /// `object: error`).
    #[error("{vendor}: {}{} (HTTP {status}, after {attempts} attempt{})", code.as_deref().map(|c| format!("`{c}`: ")).unwrap_or_default(), message, if *attempts == 1 { "" } else { "s" })]
    Api {
        /// The vendor.
        vendor: String,
        /// The HTTP status.
        status: u16,
        /// The vendor's error code, e.g. `channel_not_found`.
        code: Option<String>,
        /// The vendor's message, or the start of the body.
        message: String,
        /// How many requests were sent.
        attempts: u32,
    },

    /// No answer within the time limit. A request that changes something
    /// (a POST without an idempotency key) is not sent again, since the
    /// vendor may have acted on it.
    #[error("{vendor}: no answer to {method} {path} within {after:?}")]
    Timeout {
        /// The vendor.
        vendor: String,
        /// The method.
        method: String,
        /// The path template.
        path: String,
        /// The limit.
        after: Duration,
    },

    /// The vendor could not be reached (connection refused, DNS, TLS), after
    /// the retries allowed.
    #[error("{vendor}: cannot reach {url}: {message}")]
    Network {
        /// The vendor.
        vendor: String,
        /// The URL, without its query.
        url: String,
        /// What failed.
        message: String,
    },

    /// A response body was not what the vendor documents.
    #[error("{vendor}: unexpected response: {message}")]
    Decode {
        /// The vendor.
        vendor: String,
        /// What did not fit.
        message: String,
    },

    /// The connection is configured in a way that cannot work (a bad base
    /// URL, credentials of the wrong kind for the auth method).
    #[error("{vendor}: {message}")]
    Config {
        /// The vendor.
        vendor: String,
        /// What to fix.
        message: String,
    },

    /// The provider's token endpoint refused (e.g. `invalid_grant`: the
    /// code was used or expired; `invalid_client`: check the client id and
    /// secret).
    #[error("{vendor}: the token endpoint answered `{code}`{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// The provider.
        vendor: String,
        /// The OAuth error code.
        code: String,
        /// The provider's description, if any.
        description: Option<String>,
    },

    /// An OAuth callback's state was refused; nothing was exchanged.
    #[error("{vendor}: OAuth callback refused: {reason}")]
    OAuthState {
        /// The provider.
        vendor: String,
        /// Why.
        reason: crate::oauth::StateRefusal,
    },

    /// A webhook request failed verification; it must not be processed.
    #[error("webhook refused")]
    Webhook(#[from] WebhookError),
}

impl Error {
    /// Whether trying again later may succeed: rate limited, no answer in
    /// time, the vendor unreachable, a 5xx or 429 answer, or a credential
    /// store that failed for a passing reason. Refused credentials, missing
    /// permissions, 4xx answers and configuration mistakes are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout { .. } | Self::Network { .. } => true,
            Self::Api { status, .. } => *status >= 500 || *status == 429,
            Self::Credentials { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// How long the vendor asked to wait (its last `Retry-After`), when it
    /// rate limited us and the header was readable.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the user must connect the account again (or grant a
    /// permission) before this can succeed: refused credentials, a missing
    /// scope, a refused refresh token, an `invalid_grant` from the token
    /// endpoint.
    pub fn needs_reauth(&self) -> bool {
        match self {
            Self::Unauthorized { .. } | Self::MissingScope { .. } => true,
            Self::Credentials { source, .. } => source.needs_reauth(),
            Self::OAuth { code, .. } => code == "invalid_grant",
            _ => false,
        }
    }
}

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A header the scheme needs is absent or unreadable.
    #[error("header `{0}` is missing or malformed")]
    MissingHeader(&'static str),
    /// The timestamp is outside the accepted window (a replay or a skewed
    /// clock).
    #[error("timestamp is {age_secs} s from now, outside the {window_secs} s window")]
    Stale {
        /// Seconds between the timestamp and now (either way).
        age_secs: i64,
        /// The window.
        window_secs: i64,
    },
    /// No signature matches the body: a wrong secret or a tampered body.
    #[error("signature does not match")]
    BadSignature,
    /// This message id was already accepted within the window.
    #[error("message `{0}` was already received")]
    Replayed(String),
    /// The signing secret is malformed (e.g. a `whsec_` secret that is not
    /// base64).
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(&'static str),
}

/// What actually happened, from the deepest cause (e.g. `Connection
/// refused (os error 111)`).
pub(crate) fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}
