//! The demo server's Slack tools, forwarded to a Slack Web API (a fake one
//! in tests), as the reference Slack MCP server has them.

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, Tool};
use serde_json::{Value, json};

use super::{schema, text};

/// Where the Slack tools send their calls.
pub(super) struct SlackApi {
    pub(super) url: String,
    pub(super) token: String,
    pub(super) client: reqwest::Client,
}

impl SlackApi {
    /// The Slack tools: names, descriptions and arguments as the reference
    /// Slack MCP server has them.
    pub(super) fn tools() -> Vec<Tool> {
        vec![
            Tool::new(
                "slack_post_message",
                "Post a new message to a Slack channel",
                schema(
                    &json!({"channel_id": {"type": "string"}, "text": {"type": "string"}}),
                    &["channel_id", "text"],
                ),
            ),
            Tool::new(
                "slack_reply_to_thread",
                "Reply to a specific message thread in Slack",
                schema(
                    &json!({"channel_id": {"type": "string"}, "thread_ts": {"type": "string"}, "text": {"type": "string"}}),
                    &["channel_id", "thread_ts", "text"],
                ),
            ),
            Tool::new(
                "slack_list_channels",
                "List public channels in the workspace with pagination",
                schema(
                    &json!({"limit": {"type": "number"}, "cursor": {"type": "string"}}),
                    &[],
                ),
            ),
        ]
    }

    /// Calls Slack's `method` with `body` and answers with Slack's JSON.
    pub(super) async fn call(
        &self,
        method: &str,
        body: &Value,
    ) -> Result<CallToolResponse, ErrorData> {
        let answer = self
            .client
            .post(format!("{}/{method}", self.url))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|error| ErrorData::internal_error(error.without_url().to_string(), None))?;
        let text_body = answer
            .text()
            .await
            .map_err(|error| ErrorData::internal_error(error.without_url().to_string(), None))?;
        text(text_body)
    }
}
