//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in `integrations-mcp`. Messages name the
/// server and say what to do; none carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config error from `integrations-core` (missing variable, bad entry).
    #[error(transparent)]
    Core(#[from] integrations_core::Error),

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
