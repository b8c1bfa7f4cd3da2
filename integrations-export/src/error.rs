//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use integrations_core::id::ProviderId;

/// What can go wrong when exporting.
///
/// Messages never include a secret. [`retry_after`](Self::retry_after) and
/// [`is_transient`](Self::is_transient) tell the outbox whether to try
/// again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The vendor API failed: refused credentials, rate limited, an error
    /// body, a timeout.
    #[error(transparent)]
    Vendor(#[from] integrations_vendor::Error),

    /// An MCP server or its tool failed.
    #[cfg(feature = "mcp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
    #[error(transparent)]
    Mcp(#[from] integrations_mcp::Error),

    /// The core failed: an invalid id, the credential store.
    #[error(transparent)]
    Core(#[from] integrations_core::Error),

    /// No provider with this id is registered with the service.
    #[error(
        "no export provider `{provider}` is registered; add it with `ExportService::builder().provider(..)`"
    )]
    UnknownProvider {
        /// The id asked for.
        provider: ProviderId,
    },

    /// The request cannot be exported as it is: an empty destination, a
    /// destination of the wrong form, an invalid idempotency key.
    #[error("{provider}: {message}")]
    InvalidRequest {
        /// The provider.
        provider: ProviderId,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The provider panicked while exporting (a bug in it); the outbox
    /// does not send the export again.
    #[error("{provider}: the provider panicked while exporting; the export is not sent again")]
    Panicked {
        /// The provider.
        provider: ProviderId,
    },

    /// The provider answered something this crate cannot read (an MCP tool
    /// whose result is not the JSON the mapping expects, say).
    #[error("{provider}: unexpected answer: {message}")]
    Unexpected {
        /// The provider.
        provider: ProviderId,
        /// What was expected and what came.
        message: String,
    },

    /// The SMTP relay refused the message, or could not be reached.
    #[cfg(feature = "email")]
    #[cfg_attr(docsrs, doc(cfg(feature = "email")))]
    #[error("email via {relay}: {message}")]
    Smtp {
        /// The relay, `host:port`.
        relay: String,
        /// The relay's reply code, if it answered (say 451 or 554).
        code: Option<u16>,
        /// What happened, with the relay's own words.
        message: String,
        /// Whether trying again later may succeed (a 4xx reply, a timeout,
        /// no connection).
        transient: bool,
    },

    /// A webhook receiver answered with an error status.
    #[error("webhook {url}: HTTP {status}")]
    Webhook {
        /// The receiver's URL.
        url: String,
        /// The status.
        status: u16,
    },

    /// Writing the audit trail failed.
    #[error("audit trail {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },

    /// The export store (outbox and export log) failed.
    #[error("export store: {message}")]
    Store {
        /// What failed.
        message: String,
        /// The database's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The service was shut down before the export was accepted.
    #[error("the export service has shut down")]
    Stopped,
}

impl Error {
    /// How long the vendor asked to wait, when it rate limited us.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Vendor(error) => error.retry_after(),
            #[cfg(feature = "mcp")]
            Self::Mcp(error) => error.retry_after(),
            Self::Core(error) => error.retry_after(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: rate limits, timeouts,
    /// unreachable servers, 5xx answers, I/O and store failures, as each
    /// crate's own error answers it. Refused credentials, invalid requests
    /// and 4xx answers are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Vendor(error) => error.is_transient(),
            #[cfg(feature = "mcp")]
            Self::Mcp(error) => error.is_transient(),
            Self::Core(error) => error.is_transient(),
            Self::Webhook { status, .. } => *status >= 500 || *status == 429,
            #[cfg(feature = "email")]
            Self::Smtp { transient, .. } => *transient,
            Self::Io { .. } | Self::Store { .. } => true,
            _ => false,
        }
    }

    /// Whether the tenant must connect the account again before this export
    /// can succeed.
    pub fn needs_reauth(&self) -> bool {
        match self {
            Self::Vendor(error) => error.needs_reauth(),
            #[cfg(feature = "mcp")]
            Self::Mcp(error) => error.needs_reauth(),
            Self::Core(error) => error.needs_reauth(),
            // 535: authentication credentials invalid (RFC 4954).
            #[cfg(feature = "email")]
            Self::Smtp { code, .. } => *code == Some(535),
            _ => false,
        }
    }

    /// What kind of failure this is, as the export log stores it beside the
    /// message.
    pub fn kind(&self) -> ErrorKind {
        if self.needs_reauth() {
            ErrorKind::NeedsReauth
        } else if matches!(
            self,
            Self::Vendor(integrations_vendor::Error::RateLimited { .. })
        ) {
            ErrorKind::RateLimited
        } else if self.is_transient() {
            ErrorKind::Transient
        } else if matches!(
            self,
            Self::InvalidRequest { .. } | Self::UnknownProvider { .. }
        ) {
            ErrorKind::InvalidRequest
        } else if matches!(self, Self::Panicked { .. }) {
            ErrorKind::Abandoned
        } else {
            ErrorKind::Refused
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn store(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Store {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn invalid(provider: &ProviderId, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            provider: provider.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn unexpected(provider: &ProviderId, message: impl Into<String>) -> Self {
        Self::Unexpected {
            provider: provider.clone(),
            message: message.into(),
        }
    }
}

/// What kind of failure ended (or paused) an export: stored in the export
/// log beside the message, so a host can filter and act on it as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The vendor rate limited the export.
    RateLimited,
    /// A passing failure: a timeout, an unreachable vendor, a 5xx answer.
    Transient,
    /// The tenant must connect the account again.
    NeedsReauth,
    /// The request cannot be exported as it is (destination, provider).
    InvalidRequest,
    /// The vendor refused the export for another reason (a 4xx answer, an
    /// error body).
    Refused,
    /// The outbox gave the export up without an answer from the vendor:
    /// its provider panicked, or every delivery began and never finished
    /// (the process delivering it stopped each time).
    Abandoned,
}

impl ErrorKind {
    /// The stored name, e.g. `rate_limited`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::Transient => "transient",
            Self::NeedsReauth => "needs_reauth",
            Self::InvalidRequest => "invalid_request",
            Self::Refused => "refused",
            Self::Abandoned => "abandoned",
        }
    }

    /// The kind of a stored name; `None` for a name this version does not
    /// know.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::RateLimited,
            Self::Transient,
            Self::NeedsReauth,
            Self::InvalidRequest,
            Self::Refused,
            Self::Abandoned,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// Why an attempt of an export failed, as the export log keeps it: the kind
/// as a value and the message (with its causes) as text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// What kind of failure it was.
    pub kind: ErrorKind,
    /// The error and its causes, joined with `: `.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<&Error> for Failure {
    fn from(error: &Error) -> Self {
        Self::new(error.kind(), integrations_core::error::error_chain(error))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
