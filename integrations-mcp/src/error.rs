//! The crate's error type.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use integrations_core::id::ServerName;
use integrations_core::{ConnectionId, TenantId};

/// Everything that can go wrong in `integrations-mcp`. Messages name the
/// server and say what to do; none carries a secret.
///
/// `Clone` (sources are shared), so one failed connect can be handed to
/// every caller that waited on it. Ask [`is_transient`](Self::is_transient),
/// [`retry_after`](Self::retry_after) and [`needs_reauth`](Self::needs_reauth)
/// rather than matching variants to decide what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from `integrations-core` (a missing variable, a bad config
    /// entry); shared, so copies of it can go to every waiter.
    #[error(transparent)]
    Core(Arc<integrations_core::Error>),

    /// No server with this name is configured for the tenant.
    #[error("no MCP server `{server}` is configured")]
    UnknownServer {
        /// The name asked for.
        server: ServerName,
    },

    /// The server's command could not be started.
    #[error("MCP server `{server}`: cannot start `{command}`")]
    Spawn {
        /// The server.
        server: ServerName,
        /// The program.
        command: String,
        /// Why (e.g. not found, permission denied).
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The server process exited before or during the handshake.
    #[error("MCP server `{server}` exited{} before the handshake finished; last stderr lines:\n{stderr}", status.map(|s| format!(" with status {s}")).unwrap_or_default())]
    Exited {
        /// The server.
        server: ServerName,
        /// Its exit status, when known.
        status: Option<i32>,
        /// The last lines it wrote to stderr.
        stderr: String,
    },

    /// The server did not complete the handshake in time.
    #[error("MCP server `{server}` did not complete the handshake within {after:?}")]
    HandshakeTimeout {
        /// The server.
        server: ServerName,
        /// The limit.
        after: Duration,
    },

    /// The handshake failed (protocol error, garbage on stdout, HTTP error).
    #[error("MCP server `{server}`: handshake failed: {message}")]
    Handshake {
        /// The server.
        server: ServerName,
        /// What rmcp reported.
        message: String,
    },

    /// The server does not speak the protocol revision asked for: it
    /// answered -32022, naming the revisions it does. A pinned
    /// [`McpProtocol`](integrations_core::config::McpProtocol) meets this;
    /// `auto` falls back where the specification allows.
    #[error("MCP server `{server}` does not speak MCP {requested}; it supports {}: set its `protocol` to one of them, or to \"auto\"", if supported.is_empty() { "no version it named".to_owned() } else { supported.join(", ") })]
    UnsupportedProtocol {
        /// The server.
        server: ServerName,
        /// The revision asked for.
        requested: String,
        /// The revisions the server named (at most 16).
        supported: Vec<String>,
    },

    /// The server asked for input (MCP 2026-07-28's `InputRequiredResult`)
    /// more rounds in a row than a request may take; the call is given up.
    #[error(
        "MCP server `{server}` asked for input {rounds} times on `{operation}` without finishing it"
    )]
    InputRounds {
        /// The server.
        server: ServerName,
        /// The tool or method.
        operation: String,
        /// The rounds taken.
        rounds: usize,
    },

    /// The HTTP server refused the credentials (HTTP 401/403).
    #[error("MCP server `{server}` requires authorization (HTTP 401); check its token{}", challenge.as_ref().map(|c| format!(" (challenge: {c})")).unwrap_or_default())]
    Unauthorized {
        /// The server.
        server: ServerName,
        /// The `WWW-Authenticate` challenge, if the server sent one.
        challenge: Option<String>,
    },

    /// The OAuth grant configured for the server failed: its metadata
    /// could not be discovered, or the authorization server refused the
    /// client.
    #[error("MCP server `{server}`: authorization failed: {message}")]
    Authorization {
        /// The server.
        server: ServerName,
        /// What failed (never a secret).
        message: String,
    },

    /// An authorization callback was refused before any server was known:
    /// its URL could not be read, its state is unknown, used, expired or
    /// another tenant's, or the pool keeps no tokens. Send the user to
    /// authorize again.
    #[error("authorization callback refused: {message}")]
    CallbackRefused {
        /// Why (never the state or the code).
        message: String,
    },

    /// The server refused a call for want of a scope (HTTP 403
    /// `insufficient_scope`) and no step-up was possible (no authorization
    /// code flow configured, or step-ups exhausted).
    #[error("MCP server `{server}` needs more scope than granted: {challenge}")]
    InsufficientScope {
        /// The server.
        server: ServerName,
        /// The `WWW-Authenticate` challenge, naming the scope wanted.
        challenge: String,
    },

    /// The server needs the tenant's authorization and none is stored: send
    /// the user to `url`; the callback then hands the code to
    /// [`McpPool::complete_authorization`](crate::McpPool::complete_authorization).
    #[error(
        "MCP server `{server}` needs tenant `{tenant}` to authorise the connection: send the user to the authorization URL"
    )]
    AuthorizationRequired {
        /// The server.
        server: ServerName,
        /// The tenant.
        tenant: String,
        /// Where to send the user (carries the one-time `state`).
        url: String,
    },

    /// The tenant's credentials for the server need to be authorised again
    /// (the provider refused the refresh token): send the user through the
    /// connection flow.
    #[error(
        "MCP server `{server}`: connection `{connection}` of tenant `{tenant}` needs to be authorised again"
    )]
    NeedsReauth {
        /// The server.
        server: ServerName,
        /// The tenant.
        tenant: TenantId,
        /// The credentials' connection.
        connection: ConnectionId,
    },

    /// No access token could be had for the server (no credentials stored,
    /// the store failed, the refresh failed); `source` says which.
    #[error("MCP server `{server}`: no access token")]
    Credentials {
        /// The server.
        server: ServerName,
        /// The credential error from `integrations-core`.
        #[source]
        source: Arc<integrations_core::Error>,
    },

    /// The transport is configured in a way this build cannot serve.
    #[error("MCP server `{server}`: {message}")]
    Unsupported {
        /// The server.
        server: ServerName,
        /// What is unsupported and what to use instead.
        message: String,
    },

    /// A call did not finish within its timeout; the server was sent
    /// `notifications/cancelled`.
    #[error("MCP server `{server}`: `{operation}` timed out after {after:?}")]
    Timeout {
        /// The server.
        server: ServerName,
        /// The tool or method.
        operation: String,
        /// The limit.
        after: Duration,
    },

    /// The server's answer was longer than the pool takes
    /// ([`McpPoolBuilder::max_message_bytes`](crate::client::McpPoolBuilder::max_message_bytes));
    /// it was dropped unread, and the session lives on.
    #[error(
        "MCP server `{server}`: the answer to `{operation}` is longer than {limit} bytes; it was dropped (raise `max_message_bytes`, or ask for less)"
    )]
    MessageTooLarge {
        /// The server.
        server: ServerName,
        /// The tool or method.
        operation: String,
        /// The limit, in bytes.
        limit: usize,
    },

    /// The caller cancelled the call; the server was sent
    /// `notifications/cancelled`.
    #[error("MCP server `{server}`: `{operation}` was cancelled")]
    Cancelled {
        /// The server.
        server: ServerName,
        /// The tool or method.
        operation: String,
    },

    /// The session's transport closed (the process exited or the connection
    /// dropped); the pool reconnects on next use.
    #[error(
        "MCP server `{server}`: the session closed (the server exited or the connection dropped)"
    )]
    SessionClosed {
        /// The server.
        server: ServerName,
    },

    /// The server answered with a JSON-RPC error (other than -32602,
    /// invalid params, which is [`Error::InvalidArguments`]).
    #[error("MCP server `{server}`: `{operation}` failed: {message}{}", code.map(|code| format!(" (JSON-RPC error {code})")).unwrap_or_default())]
    Server {
        /// The server.
        server: ServerName,
        /// The tool or method.
        operation: String,
        /// The JSON-RPC error code, when the server answered with one.
        code: Option<i32>,
        /// The server's message.
        message: String,
    },

    /// The server needs a client capability the pool did not declare
    /// (JSON-RPC error -32021 of MCP 2026-07-28): `required` names it, as
    /// MCP client capabilities (e.g. `{"sampling": {}}`). Give the pool
    /// [`ClientHooks`](crate::client::ClientHooks) that answer it.
    #[error(
        "MCP server `{server}`: `{operation}` needs the client capabilities {required}, which this pool does not declare (JSON-RPC error -32021); give it hooks that answer them"
    )]
    MissingCapability {
        /// The server.
        server: ServerName,
        /// The tool or method.
        operation: String,
        /// The capabilities the server asked for.
        required: serde_json::Value,
    },

    /// Arguments refused: not a JSON object (nothing was sent), or refused
    /// by the server with JSON-RPC error -32602 (invalid params).
    #[error("MCP server `{server}`: invalid arguments for `{tool}`: {message}")]
    InvalidArguments {
        /// The server.
        server: ServerName,
        /// The tool.
        tool: String,
        /// What is wrong.
        message: String,
    },

    /// A namespaced tool name did not match any server's tool.
    #[error("no tool `{name}`; namespaced tool names look like `server__tool`")]
    UnknownTool {
        /// The name asked for.
        name: String,
    },

    /// A tool policy (the server config's or the tenant's) denies this
    /// tool; nothing was sent.
    #[error("MCP server `{server}`: tool `{tool}` is not allowed by its tool policy")]
    ToolDenied {
        /// The server.
        server: ServerName,
        /// The tool.
        tool: String,
    },

    /// The pool has been shut down.
    #[error("the MCP pool has been shut down")]
    PoolClosed,

    /// An mcpServers JSON document could not be read.
    #[error("invalid mcpServers JSON: {message}")]
    InvalidJson {
        /// What is wrong.
        message: String,
    },

    /// A file could not be written.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
}

impl From<integrations_core::Error> for Error {
    fn from(error: integrations_core::Error) -> Self {
        Self::Core(Arc::new(error))
    }
}

impl Error {
    /// Whether trying again later may succeed: the server could not be
    /// started or reached, closed the session, or did not answer in time.
    /// Refused credentials, bad arguments, a server's own error answer and a
    /// closed pool are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Spawn { .. }
                | Self::Exited { .. }
                | Self::HandshakeTimeout { .. }
                | Self::Handshake { .. }
                | Self::Timeout { .. }
                | Self::SessionClosed { .. }
                | Self::Io { .. }
        )
    }

    /// The JSON-RPC error code the server answered with, when the error
    /// is one. (`InvalidArguments` is also made before a request is sent,
    /// for arguments that are no JSON object; the pool refuses those
    /// before it makes a request's span.)
    pub(crate) fn rpc_code(&self) -> Option<i32> {
        match self {
            Self::Server { code, .. } => *code,
            Self::InvalidArguments { .. } => Some(-32602),
            Self::MissingCapability { .. } => Some(-32021),
            _ => None,
        }
    }

    /// The variant's name in snake case (`timeout`, `session_closed`), as
    /// spans record it in `error.type`.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Core(..) => "core",
            Self::UnknownServer { .. } => "unknown_server",
            Self::Spawn { .. } => "spawn",
            Self::Exited { .. } => "exited",
            Self::HandshakeTimeout { .. } => "handshake_timeout",
            Self::Handshake { .. } => "handshake",
            Self::UnsupportedProtocol { .. } => "unsupported_protocol",
            Self::InputRounds { .. } => "input_rounds",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Authorization { .. } => "authorization",
            Self::CallbackRefused { .. } => "callback_refused",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::AuthorizationRequired { .. } => "authorization_required",
            Self::NeedsReauth { .. } => "needs_reauth",
            Self::Credentials { .. } => "credentials",
            Self::Unsupported { .. } => "unsupported",
            Self::Timeout { .. } => "timeout",
            Self::MessageTooLarge { .. } => "message_too_large",
            Self::Cancelled { .. } => "cancelled",
            Self::SessionClosed { .. } => "session_closed",
            Self::Server { .. } => "server",
            Self::MissingCapability { .. } => "missing_capability",
            Self::InvalidArguments { .. } => "invalid_arguments",
            Self::UnknownTool { .. } => "unknown_tool",
            Self::ToolDenied { .. } => "tool_denied",
            Self::PoolClosed => "pool_closed",
            Self::InvalidJson { .. } => "invalid_json",
            Self::Io { .. } => "io",
        }
    }

    /// How long to wait before trying again, when the server said. MCP
    /// servers do not say today, so this is always `None`; it is here so
    /// every crate of the family answers the same three questions.
    pub fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Whether the user must authorise the connection (again) before calls
    /// can succeed: [`Error::AuthorizationRequired`], [`Error::NeedsReauth`],
    /// [`Error::Unauthorized`] and [`Error::InsufficientScope`], or a core
    /// error that says so.
    pub fn needs_reauth(&self) -> bool {
        match self {
            Self::AuthorizationRequired { .. }
            | Self::CallbackRefused { .. }
            | Self::NeedsReauth { .. }
            | Self::Unauthorized { .. }
            | Self::InsufficientScope { .. } => true,
            Self::Core(error) | Self::Credentials { source: error, .. } => error.needs_reauth(),
            _ => false,
        }
    }
}

/// A TokenManager error as the pool reports it: needs-reauth on its own, so
/// a host can send the user to connect again.
pub(crate) fn credential_error(server: &ServerName, error: integrations_core::Error) -> Error {
    match error {
        integrations_core::Error::Credentials(
            integrations_core::error::CredentialError::NeedsReauth { tenant, connection },
        ) => Error::NeedsReauth {
            server: server.clone(),
            tenant,
            connection,
        },
        other => Error::Credentials {
            server: server.clone(),
            source: Arc::new(other),
        },
    }
}
