//! The crate's error type.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use integrations_core::{ConnectionId, TenantId};

/// Everything that can go wrong in `integrations-mcp`. Messages name the
/// server and say what to do; none carries a secret.
#[derive(Debug, thiserror::Error)]
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
        server: String,
    },

    /// The server's command could not be started.
    #[error("MCP server `{server}`: cannot start `{command}`: {source}")]
    Spawn {
        /// The server.
        server: String,
        /// The program.
        command: String,
        /// Why (e.g. not found, permission denied).
        #[source]
        source: std::io::Error,
    },

    /// The server process exited before or during the handshake.
    #[error("MCP server `{server}` exited{} before the handshake finished; last stderr lines:\n{stderr}", status.map(|s| format!(" with status {s}")).unwrap_or_default())]
    Exited {
        /// The server.
        server: String,
        /// Its exit status, when known.
        status: Option<i32>,
        /// The last lines it wrote to stderr.
        stderr: String,
    },

    /// The server did not complete the handshake in time.
    #[error("MCP server `{server}` did not complete the handshake within {after:?}")]
    HandshakeTimeout {
        /// The server.
        server: String,
        /// The limit.
        after: Duration,
    },

    /// The handshake failed (protocol error, garbage on stdout, HTTP error).
    #[error("MCP server `{server}`: handshake failed: {message}")]
    Handshake {
        /// The server.
        server: String,
        /// What rmcp reported.
        message: String,
    },

    /// The HTTP server refused the credentials (HTTP 401/403).
    #[error("MCP server `{server}` requires authorization (HTTP 401); check its token{}", challenge.as_ref().map(|c| format!(" (challenge: {c})")).unwrap_or_default())]
    Unauthorized {
        /// The server.
        server: String,
        /// The `WWW-Authenticate` challenge, if the server sent one.
        challenge: Option<String>,
    },

    /// The OAuth grant configured for the server failed: its metadata
    /// could not be discovered, or the authorization server refused the
    /// client.
    #[error("MCP server `{server}`: authorization failed: {message}")]
    Authorization {
        /// The server.
        server: String,
        /// What failed (never a secret).
        message: String,
    },

    /// The server refused a call for want of a scope (HTTP 403
    /// `insufficient_scope`) and no step-up was possible (no authorization
    /// code flow configured, or step-ups exhausted).
    #[error("MCP server `{server}` needs more scope than granted: {challenge}")]
    InsufficientScope {
        /// The server.
        server: String,
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
        server: String,
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
        server: String,
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
        server: String,
        /// The credential error from `integrations-core`.
        #[source]
        source: Arc<integrations_core::Error>,
    },

    /// The transport is configured in a way this build cannot serve.
    #[error("MCP server `{server}`: {message}")]
    Unsupported {
        /// The server.
        server: String,
        /// What is unsupported and what to use instead.
        message: String,
    },

    /// A call did not finish within its timeout; the server was sent
    /// `notifications/cancelled`.
    #[error("MCP server `{server}`: `{operation}` timed out after {after:?}")]
    Timeout {
        /// The server.
        server: String,
        /// The tool or method.
        operation: String,
        /// The limit.
        after: Duration,
    },

    /// The caller cancelled the call; the server was sent
    /// `notifications/cancelled`.
    #[error("MCP server `{server}`: `{operation}` was cancelled")]
    Cancelled {
        /// The server.
        server: String,
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
        server: String,
    },

    /// The server answered with a JSON-RPC error.
    #[error("MCP server `{server}`: `{operation}` failed: {message}")]
    Server {
        /// The server.
        server: String,
        /// The tool or method.
        operation: String,
        /// The server's message.
        message: String,
    },

    /// Tool arguments that MCP cannot carry (not a JSON object); nothing was
    /// sent to the server.
    #[error("MCP server `{server}`: invalid arguments for `{tool}`: {message}")]
    InvalidArguments {
        /// The server.
        server: String,
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
        source: std::io::Error,
    },
}

impl From<integrations_core::Error> for Error {
    fn from(error: integrations_core::Error) -> Self {
        Self::Core(Arc::new(error))
    }
}

impl Error {
    /// A copy of this error for each waiter of one shared connect. Every
    /// variant keeps its type and fields, so a host can match
    /// [`Error::NeedsReauth`] or [`Error::Unauthorized`] whoever started the
    /// connect; an I/O error keeps its kind and message.
    pub(crate) fn duplicate(&self) -> Self {
        let io = |error: &std::io::Error| std::io::Error::new(error.kind(), error.to_string());
        match self {
            Self::Core(error) => Self::Core(Arc::clone(error)),
            Self::UnknownServer { server } => Self::UnknownServer {
                server: server.clone(),
            },
            Self::Spawn {
                server,
                command,
                source,
            } => Self::Spawn {
                server: server.clone(),
                command: command.clone(),
                source: io(source),
            },
            Self::Exited {
                server,
                status,
                stderr,
            } => Self::Exited {
                server: server.clone(),
                status: *status,
                stderr: stderr.clone(),
            },
            Self::HandshakeTimeout { server, after } => Self::HandshakeTimeout {
                server: server.clone(),
                after: *after,
            },
            Self::Handshake { server, message } => Self::Handshake {
                server: server.clone(),
                message: message.clone(),
            },
            Self::Unauthorized { server, challenge } => Self::Unauthorized {
                server: server.clone(),
                challenge: challenge.clone(),
            },
            Self::Authorization { server, message } => Self::Authorization {
                server: server.clone(),
                message: message.clone(),
            },
            Self::InsufficientScope { server, challenge } => Self::InsufficientScope {
                server: server.clone(),
                challenge: challenge.clone(),
            },
            Self::AuthorizationRequired {
                server,
                tenant,
                url,
            } => Self::AuthorizationRequired {
                server: server.clone(),
                tenant: tenant.clone(),
                url: url.clone(),
            },
            Self::NeedsReauth {
                server,
                tenant,
                connection,
            } => Self::NeedsReauth {
                server: server.clone(),
                tenant: tenant.clone(),
                connection: connection.clone(),
            },
            Self::Credentials { server, source } => Self::Credentials {
                server: server.clone(),
                source: Arc::clone(source),
            },
            Self::Unsupported { server, message } => Self::Unsupported {
                server: server.clone(),
                message: message.clone(),
            },
            Self::Timeout {
                server,
                operation,
                after,
            } => Self::Timeout {
                server: server.clone(),
                operation: operation.clone(),
                after: *after,
            },
            Self::Cancelled { server, operation } => Self::Cancelled {
                server: server.clone(),
                operation: operation.clone(),
            },
            Self::SessionClosed { server } => Self::SessionClosed {
                server: server.clone(),
            },
            Self::Server {
                server,
                operation,
                message,
            } => Self::Server {
                server: server.clone(),
                operation: operation.clone(),
                message: message.clone(),
            },
            Self::InvalidArguments {
                server,
                tool,
                message,
            } => Self::InvalidArguments {
                server: server.clone(),
                tool: tool.clone(),
                message: message.clone(),
            },
            Self::UnknownTool { name } => Self::UnknownTool { name: name.clone() },
            Self::PoolClosed => Self::PoolClosed,
            Self::InvalidJson { message } => Self::InvalidJson {
                message: message.clone(),
            },
            Self::Io { path, source } => Self::Io {
                path: path.clone(),
                source: io(source),
            },
        }
    }
}
/// A TokenManager error as the pool reports it: needs-reauth on its own, so
/// a host can send the user to connect again.
pub(crate) fn credential_error(server: &str, error: integrations_core::Error) -> Error {
    match error {
        integrations_core::Error::Credentials(
            integrations_core::CredentialError::NeedsReauth { tenant, connection },
        ) => Error::NeedsReauth {
            server: server.to_owned(),
            tenant,
            connection,
        },
        other => Error::Credentials {
            server: server.to_owned(),
            source: Arc::new(other),
        },
    }
}
