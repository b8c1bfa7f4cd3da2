//! The crate's one error type.

use std::path::PathBuf;
use std::time::Duration;

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
        provider: String,
    },

    /// The request cannot be exported as it is: an empty destination, a
    /// destination of the wrong form, an invalid idempotency key.
    #[error("{provider}: {message}")]
    InvalidRequest {
        /// The provider.
        provider: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The provider answered something this crate cannot read (an MCP tool
    /// whose result is not the JSON the mapping expects, say).
    #[error("{provider}: unexpected answer: {message}")]
    Unexpected {
        /// The provider.
        provider: String,
        /// What was expected and what came.
        message: String,
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
    #[error("audit trail {}: {source}", path.display())]
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
            Self::Vendor(integrations_vendor::Error::RateLimited { retry_after, .. }) => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether trying again later may succeed: rate limits, timeouts,
    /// unreachable servers, 5xx answers, I/O and store failures. Refused
    /// credentials, invalid requests and 4xx answers are not.
    pub fn is_transient(&self) -> bool {
        use integrations_vendor::Error as Vendor;
        match self {
            Self::Vendor(error) => match error {
                Vendor::RateLimited { .. } | Vendor::Timeout { .. } | Vendor::Network { .. } => {
                    true
                }
                Vendor::Api { status, .. } => *status >= 500 || *status == 429,
                _ => false,
            },
            #[cfg(feature = "mcp")]
            Self::Mcp(error) => matches!(
                error,
                integrations_mcp::Error::Spawn { .. }
                    | integrations_mcp::Error::Exited { .. }
                    | integrations_mcp::Error::HandshakeTimeout { .. }
                    | integrations_mcp::Error::Handshake { .. }
                    | integrations_mcp::Error::Timeout { .. }
                    | integrations_mcp::Error::SessionClosed { .. }
                    | integrations_mcp::Error::Io { .. }
            ),
            Self::Webhook { status, .. } => *status >= 500 || *status == 429,
            Self::Io { .. } | Self::Store { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn store(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Store {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn invalid(provider: &str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            provider: provider.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn unexpected(provider: &str, message: impl Into<String>) -> Self {
        Self::Unexpected {
            provider: provider.to_owned(),
            message: message.into(),
        }
    }
}
