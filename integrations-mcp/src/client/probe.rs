//! [`test_server`]: can this server be reached, and what does it offer?

use std::time::{Duration, Instant};

use integrations_core::config::McpServerEntry;
use integrations_core::id::ServerName;
use tokio_util::task::TaskTracker;

use crate::client::call::CallOptions;
use crate::client::session::{Connect, Session};
use crate::error::Error;

/// The outcome of [`test_server`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ServerTest {
    /// How long the whole test took (spawn, handshake, tool list).
    pub response_time: Duration,
    /// The server's name and version from the handshake.
    pub server: Option<(String, String)>,
    /// The capabilities the server declared, as JSON.
    pub capabilities: serde_json::Value,
    /// The names of its tools.
    pub tools: Vec<String>,
    /// Why it failed; `None` on success.
    pub error: Option<Error>,
}

impl ServerTest {
    /// Whether the server started, shook hands and listed its tools.
    pub fn success(&self) -> bool {
        self.error.is_none()
    }
}

/// Starts or connects to a server, completes the handshake, lists its tools
/// and closes it again, all within `timeout`.
///
/// Failures come back in [`ServerTest::error`] as something a person can
/// act on: [`Error::Spawn`] (command not found), [`Error::Exited`] (with
/// the exit status and the last stderr lines), [`Error::HandshakeTimeout`],
/// [`Error::Handshake`].
pub async fn test_server(
    name: &ServerName,
    config: &McpServerEntry,
    timeout: Duration,
) -> ServerTest {
    let started = Instant::now();
    let tasks = TaskTracker::new();
    let mut test = ServerTest {
        response_time: Duration::ZERO,
        server: None,
        capabilities: serde_json::Value::Null,
        tools: Vec::new(),
        error: None,
    };
    let options = Connect {
        bearer: None,
        handshake: timeout,
        protocol: config.protocol().unwrap_or_default(),
        era: None,
        call_timeout: timeout,
        max_message: crate::client::session::MAX_MESSAGE,
        tasks: &tasks,
        hooks: None,
        #[cfg(feature = "http")]
        oauth: None,
    };
    match Session::connect(name, config, options).await {
        Ok(session) => {
            if let Some(info) = session.server_info() {
                test.server = info.server_info.as_ref().map(|implementation| {
                    (implementation.name.clone(), implementation.version.clone())
                });
                test.capabilities = serde_json::to_value(&info.capabilities).unwrap_or_default();
            }
            let remaining = timeout.saturating_sub(started.elapsed());
            match session
                .list_tools(&CallOptions::new().timeout(remaining))
                .await
            {
                Ok(tools) => test.tools = tools.iter().map(|tool| tool.name.to_string()).collect(),
                Err(error) => test.error = Some(error),
            }
            test.response_time = started.elapsed();
            session.close(Duration::from_secs(1)).await;
        }
        Err(error) => {
            test.response_time = started.elapsed();
            test.error = Some(error);
        }
    }
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    test
}
