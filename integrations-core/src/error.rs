//! The crate's error type.

use std::path::PathBuf;

use crate::id::{ConnectionId, IntegrationId, TenantId};

/// A boxed error that integrations return from their methods.
///
/// Any `std::error::Error + Send + Sync` converts into it with `?`, and so do
/// `String` and `&str` (`Err("no such channel".into())`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `integrations-core`, grouped by area so a
/// caller can match the area it can act on:
///
/// ```
/// use integrations_core::Error;
/// use integrations_core::error::CredentialError;
///
/// fn advice(error: &Error) -> &'static str {
///     match error {
///         Error::Credentials(CredentialError::NeedsReauth { .. }) => "ask the user to connect again",
///         Error::Credentials(_) => "check the credential store",
///         Error::Config(_) => "fix the config file",
///         _ => "see the message",
///     }
/// }
/// # let _ = advice;
/// ```
///
/// Messages name the thing that failed and, where possible, what to do about
/// it. No variant ever carries a secret value or config text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An id is empty, too long, or has characters it may not have (see
    /// [`IntegrationId`], [`TenantId`] and [`ConnectionId`]).
    #[error("invalid id {id:?}: {reason}")]
    InvalidId {
        /// The id as given (at most its first 64 characters).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Registering an integration or dispatching an action was refused.
    #[error(transparent)]
    Registry(#[from] RegistryError),

    /// An integration failed, panicked or timed out, or the runtime stopped.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    /// A config or catalog document is malformed or refers to something
    /// missing.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// Keys, credential stores, tokens and their refresh.
    #[error(transparent)]
    Credentials(#[from] CredentialError),

    /// A file could not be read or written.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A value could not be serialised to JSON.
    #[error("could not serialise to JSON")]
    Json {
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

/// Registering an integration or dispatching an action was refused; the
/// integration was not called.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An integration with this id is already registered.
    #[error("integration `{id}` is already registered; ids must be unique")]
    DuplicateIntegration {
        /// The id registered twice.
        id: IntegrationId,
    },

    /// A capability's parameter schema is not a valid JSON Schema.
    #[error("capability `{integration}.{capability}` has an invalid parameter schema: {message}")]
    InvalidSchema {
        /// The integration that declared the capability.
        integration: IntegrationId,
        /// The capability's name.
        capability: String,
        /// What the schema compiler reported.
        message: String,
    },

    /// Two capabilities of one integration share a name.
    #[error("integration `{integration}` declares capability `{capability}` twice")]
    DuplicateCapability {
        /// The integration.
        integration: IntegrationId,
        /// The repeated capability name.
        capability: String,
    },

    /// A dispatch target is not of the form `integration.action`.
    #[error("invalid action target {target:?}: expected `integration.action`")]
    InvalidTarget {
        /// The target as given.
        target: String,
    },

    /// No integration with this id is registered (or it failed to start).
    #[error("unknown integration `{id}`")]
    UnknownIntegration {
        /// The id that was looked up.
        id: String,
    },

    /// The integration exists but declares no such capability.
    #[error("integration `{integration}` has no action `{action}` (available: {})", available.join(", "))]
    UnknownAction {
        /// The integration.
        integration: IntegrationId,
        /// The action that was asked for.
        action: String,
        /// The actions it does declare.
        available: Vec<String>,
    },

    /// The arguments do not match the capability's JSON Schema.
    #[error("invalid arguments for `{target}`: {}", errors.join("; "))]
    InvalidArguments {
        /// `integration.action`.
        target: String,
        /// One message per violation, each starting with the JSON pointer of
        /// the offending value.
        errors: Vec<String>,
    },
}

/// An integration's own method failed, or the runtime is not running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// An integration's own method returned an error.
    #[error("integration `{integration}` failed in {operation}")]
    Failed {
        /// The integration.
        integration: IntegrationId,
        /// `init`, `handle`, `tick` or `shutdown`.
        operation: &'static str,
        /// What the integration returned.
        #[source]
        source: BoxError,
    },

    /// An integration's method panicked; the panic was contained.
    #[error("integration `{integration}` panicked in {operation}: {message}")]
    Panicked {
        /// The integration.
        integration: IntegrationId,
        /// `init`, `handle`, `tick` or `shutdown`.
        operation: &'static str,
        /// The panic payload, when it was a string.
        message: String,
    },

    /// An integration's method did not finish within its time limit.
    #[error("integration `{integration}` did not finish {operation} within {limit:?}")]
    Timeout {
        /// The integration.
        integration: IntegrationId,
        /// `init`, `handle`, `tick` or `shutdown`.
        operation: &'static str,
        /// The limit that was exceeded.
        limit: std::time::Duration,
    },

    /// An integration is listed in `[integrations] enabled` but was never
    /// registered with the runtime.
    #[error("integration `{id}` is enabled in the config but was not registered")]
    NotRegistered {
        /// The enabled id.
        id: IntegrationId,
    },

    /// The runtime was shut down; it dispatches no more actions.
    #[error("the runtime has been shut down")]
    Stopped,

    /// An action asked its caller for something the caller cannot give
    /// (sampling, elicitation or roots outside an MCP client that supports
    /// them).
    #[error("{request} is not available: {reason}")]
    NotAvailable {
        /// `sampling`, `elicitation`, `roots`, or `requests to the caller`
        /// (several, [`ActionContext::ask`](crate::integration::ActionContext::ask)).
        request: &'static str,
        /// Why not.
        reason: String,
    },

    /// An action's request to its caller failed (the client refused it,
    /// answered with an error, or went away).
    #[error("the caller did not answer the {request} request: {message}")]
    CallerRequest {
        /// The request: `sampling/createMessage`, `elicitation/create` or
        /// `roots/list`.
        request: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// A config or catalog document could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML text could not be parsed. Only the position, the nearest key
    /// and the parser's message are kept: never the text itself, which may
    /// hold secrets.
    #[error("config is not valid TOML at line {line}, column {column}{}: {message}", key.as_ref().map(|key| format!(" (key `{key}`)")).unwrap_or_default())]
    Syntax {
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error, from 1 (in characters).
        column: usize,
        /// The dotted key being read there, when one could be told.
        key: Option<String>,
        /// What the parser expected.
        message: String,
    },

    /// A config value has the wrong type or an unusable value.
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// The dotted TOML key, e.g. `integrations.clock.tick_interval`.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },

    /// A config value refers to an environment variable that is not set.
    #[error("config key `{key}` refers to environment variable `{var}`, which is not set")]
    MissingEnvVar {
        /// The dotted TOML key, e.g. `integrations.slack.token`.
        key: String,
        /// The variable's name.
        var: String,
    },

    /// A catalog document could not be read.
    #[error("invalid catalog {format}: {message}")]
    InvalidCatalog {
        /// `TOML` or `JSON`.
        format: &'static str,
        /// The parser's report.
        message: String,
    },
}

/// Keys, credential stores, access tokens and their refresh.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Encryption key material is missing or malformed.
    #[error("invalid encryption key: {message}")]
    InvalidKey {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// A row was sealed with a key that is not in the key ring.
    #[error(
        "credentials of tenant `{tenant}` for `{connection}` are sealed with key `{key_id}`, which is not in the key ring; add it with `KeyRing::with_previous`"
    )]
    UnknownKey {
        /// The key id stored with the row.
        key_id: String,
        /// The tenant.
        tenant: TenantId,
        /// The connection.
        connection: ConnectionId,
    },

    /// A row did not decrypt: the key is wrong, or the row was altered or
    /// copied from another tenant or connection.
    #[error(
        "credentials of tenant `{tenant}` for `{connection}` failed to decrypt: wrong key, or the row was altered or copied from elsewhere"
    )]
    Decrypt {
        /// The tenant.
        tenant: TenantId,
        /// The connection.
        connection: ConnectionId,
    },

    /// A credential store failed.
    #[error("credential store failed to {operation}")]
    Store {
        /// What it was doing, e.g. `read credentials`.
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },

    /// No credentials are stored for this connection.
    #[error("no credentials stored for tenant `{tenant}`, connection `{connection}`")]
    NotFound {
        /// The tenant.
        tenant: TenantId,
        /// The connection.
        connection: ConnectionId,
    },

    /// The credentials hold no access token (basic, JWT key or certificate).
    #[error("connection `{connection}` holds {kind} credentials, which have no access token")]
    NoAccessToken {
        /// The connection.
        connection: ConnectionId,
        /// The kind of credentials it holds.
        kind: &'static str,
    },

    /// The provider refused the refresh token; the user must authorise the
    /// connection again.
    #[error("connection `{connection}` of tenant `{tenant}` needs to be authorised again")]
    NeedsReauth {
        /// The tenant.
        tenant: TenantId,
        /// The connection.
        connection: ConnectionId,
    },

    /// A token refresh failed for a reason other than `invalid_grant`
    /// (network, provider outage, timeout); a later call will try again.
    #[error("refreshing the token of connection `{connection}` of tenant `{tenant}` failed")]
    RefreshFailed {
        /// The tenant.
        tenant: TenantId,
        /// The connection.
        connection: ConnectionId,
        /// What the refresher reported.
        #[source]
        source: BoxError,
    },

    /// Returned by a [`TokenRefresher`](crate::credentials::TokenRefresher) when the
    /// provider answers `invalid_grant`: the refresh token is no longer valid.
    #[error("the provider refused the refresh token (invalid_grant): {description}")]
    InvalidGrant {
        /// The provider's `error_description`, if any.
        description: String,
    },
}

impl Error {
    /// Whether trying again later may succeed: a timeout, a credential store
    /// or token refresh that failed for a passing reason, an I/O error.
    /// Refused input, a missing registration and a refused refresh token
    /// are not. Every crate of the family answers this question the same
    /// way, so a caller never matches another crate's variants.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Runtime(RuntimeError::Timeout { .. }) | Self::Io { .. } => true,
            Self::Credentials(error) => matches!(
                error,
                CredentialError::Store { .. } | CredentialError::RefreshFailed { .. }
            ),
            _ => false,
        }
    }

    /// How long to wait before trying again, when the failing party said.
    /// Core talks to no vendor, so this is `None`; it is here so every
    /// crate's error answers the same three questions.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        None
    }

    /// Whether the user must connect the account again before this can
    /// succeed ([`CredentialError::NeedsReauth`] or
    /// [`CredentialError::InvalidGrant`]).
    pub fn needs_reauth(&self) -> bool {
        matches!(
            self,
            Self::Credentials(
                CredentialError::NeedsReauth { .. } | CredentialError::InvalidGrant { .. }
            )
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid_config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config(ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        })
    }

    pub(crate) fn store(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Credentials(CredentialError::Store {
            operation,
            source: source.into(),
        })
    }
}

/// An error and its sources, joined with `: `: the whole story in one
/// line, for messages and logs (`Display` of most errors shows only the
/// outermost).
///
/// ```
/// let error = integrations_core::Error::from(integrations_core::error::RuntimeError::Failed {
///     integration: integrations_core::IntegrationId::new("inbox").unwrap(),
///     operation: "tick",
///     source: "connection reset".into(),
/// });
/// assert_eq!(
///     integrations_core::error::error_chain(&error),
///     "integration `inbox` failed in tick: connection reset"
/// );
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Turns a caught panic payload into a message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
