//! What a tool call takes and gives: [`CallOptions`], the argument check,
//! and [`ToolResultExt`] to read a result's text.

use std::time::Duration;

use integrations_core::id::ServerName;
use rmcp::model::{CallToolResult, JsonObject};
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// Options of one tool call. The defaults: the pool's call timeout, no
/// cancellation.
///
/// ```
/// use std::time::Duration;
/// use integrations_mcp::CallOptions;
/// use integrations_mcp::client::CancellationToken;
///
/// let cancel = CancellationToken::new();
/// let options = CallOptions::new().timeout(Duration::from_secs(5)).cancel(cancel.clone());
/// // ... cancel.cancel() from elsewhere stops the call and tells the server.
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// The call's time limit; the pool's call timeout when `None`.
    pub timeout: Option<Duration>,
    /// Cancels the call when cancelled; the server is sent
    /// `notifications/cancelled`.
    pub cancel: Option<CancellationToken>,
    /// Where the server's progress reports for the call go, in order (a
    /// report older than one already delivered is dropped, as progress
    /// only increases). Reports may trail the call's result by a moment.
    pub progress: Option<tokio::sync::mpsc::UnboundedSender<Progress>>,
}

/// One progress report of a call, from the server's
/// `notifications/progress`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// How far the call is.
    pub progress: f64,
    /// Of how much, when the server knows.
    pub total: Option<f64>,
    /// What it is doing.
    pub message: Option<String>,
}

impl CallOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the call's time limit.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets a cancellation token.
    #[must_use]
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Asks the server for progress reports, sent to `reports`.
    #[must_use]
    pub fn progress(mut self, reports: tokio::sync::mpsc::UnboundedSender<Progress>) -> Self {
        self.progress = Some(reports);
        self
    }
}

/// Tool arguments as MCP sends them: a JSON object, or none for `null`.
/// Anything else is refused here, before a server is involved.
pub(crate) fn tool_arguments(
    server: &ServerName,
    tool: &str,
    arguments: serde_json::Value,
) -> Result<Option<JsonObject>, Error> {
    match arguments {
        serde_json::Value::Object(map) => Ok(Some(map)),
        serde_json::Value::Null => Ok(None),
        other => Err(Error::InvalidArguments {
            server: server.clone(),
            tool: tool.to_owned(),
            message: format!(
                "tool arguments must be a JSON object (or null), not {}",
                json_kind(&other)
            ),
        }),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Reading a [`CallToolResult`] without taking its content blocks apart.
///
/// ```
/// use integrations_mcp::client::ToolResultExt;
/// use integrations_mcp::rmcp::model::CallToolResult;
/// use rmcp::model::ContentBlock;
///
/// let result = CallToolResult::success(vec![ContentBlock::text("line one"), ContentBlock::text("line two")]);
/// assert_eq!(result.text(), "line one\nline two");
/// assert!(!result.is_tool_error());
/// ```
pub trait ToolResultExt {
    /// The text blocks of the result, joined with newlines (other blocks,
    /// such as images, are skipped); empty when there are none.
    fn text(&self) -> String;

    /// Whether the server marked the result as a tool error (`isError`).
    fn is_tool_error(&self) -> bool;
}

impl ToolResultExt for CallToolResult {
    fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn is_tool_error(&self) -> bool {
        self.is_error.unwrap_or(false)
    }
}
