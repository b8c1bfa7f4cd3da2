//! Slack through an MCP server's tools.

use std::time::Instant;

use async_trait::async_trait;
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{McpPool, SessionKey};
use serde_json::{Value, json};

use super::{converted, require_destination, slack_channels, slack_messages};
use crate::error::Error;
use crate::markdown::{SlackBlock, SlackFormat, SlackMessage};
use crate::provider::{
    ConnectionCheck, Content, DestinationPage, ExportContext, ExportResult, PlannedRequest,
    Provider,
};

/// Which tools of a Slack MCP server post and list, and the names of their
/// arguments. The default is the reference Slack MCP server's
/// (`@modelcontextprotocol/server-slack`): `slack_post_message {channel_id,
/// text}`, `slack_reply_to_thread {channel_id, thread_ts, text}` and
/// `slack_list_channels {limit, cursor}`.
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackToolMapping {
    /// The tool that posts a message.
    pub post_tool: String,
    /// The tool that replies in a thread; without one, `post_tool` is
    /// called with `thread_arg`.
    pub reply_tool: Option<String>,
    /// The tool that lists channels, if the server has one.
    pub list_tool: Option<String>,
    /// The channel argument's name.
    pub channel_arg: String,
    /// The text argument's name.
    pub text_arg: String,
    /// The thread argument's name.
    pub thread_arg: String,
}

impl Default for SlackToolMapping {
    fn default() -> Self {
        Self {
            post_tool: "slack_post_message".into(),
            reply_tool: Some("slack_reply_to_thread".into()),
            list_tool: Some("slack_list_channels".into()),
            channel_arg: "channel_id".into(),
            text_arg: "text".into(),
            thread_arg: "thread_ts".into(),
        }
    }
}

impl SlackToolMapping {
    /// A mapping with the default argument names and these tools.
    pub fn new(post_tool: impl Into<String>) -> Self {
        Self {
            post_tool: post_tool.into(),
            reply_tool: None,
            list_tool: None,
            ..Self::default()
        }
    }

    /// Sets the tool that replies in a thread.
    #[must_use]
    pub fn reply_tool(mut self, tool: impl Into<String>) -> Self {
        self.reply_tool = Some(tool.into());
        self
    }

    /// Sets the tool that lists channels.
    #[must_use]
    pub fn list_tool(mut self, tool: impl Into<String>) -> Self {
        self.list_tool = Some(tool.into());
        self
    }

    /// Renames the arguments: channel, text and thread.
    #[must_use]
    pub fn arguments(
        mut self,
        channel: impl Into<String>,
        text: impl Into<String>,
        thread: impl Into<String>,
    ) -> Self {
        self.channel_arg = channel.into();
        self.text_arg = text.into();
        self.thread_arg = thread.into();
        self
    }
}

/// Slack through a Slack MCP server in an [`McpPool`]: the same messages
/// as [`SlackProvider`](crate::providers::SlackProvider) (markdown split past Slack's
/// limits, the second and later messages in the first one's thread), sent
/// as mrkdwn text through the server's tools, for hosts whose Slack access
/// is an MCP server.
///
/// The tools must answer with Slack's JSON (`{"ok": true, "channel",
/// "ts"}`), as the reference server does; `ok: false` becomes
/// [`Error::Vendor`] with Slack's error code. The external URL is Slack's
/// `https://slack.com/archives/{channel}/p{ts}` form of a permalink. The
/// session is the tenant's (see [`McpPool::set_tenant_server`]), so each
/// tenant's server holds its own token.
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone)]
pub struct McpSlackProvider {
    pool: McpPool,
    server: String,
    mapping: SlackToolMapping,
}

impl McpSlackProvider {
    /// A provider that calls the tools of `server` in `pool`, with the
    /// default mapping.
    pub fn new(pool: McpPool, server: impl Into<String>) -> Self {
        Self {
            pool,
            server: server.into(),
            mapping: SlackToolMapping::default(),
        }
    }

    /// Uses `mapping` for tool and argument names.
    #[must_use]
    pub fn mapping(mut self, mapping: SlackToolMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// A message's blocks as one mrkdwn text, headers in bold.
    fn text(message: &SlackMessage) -> String {
        let texts: Vec<String> = message
            .blocks
            .iter()
            .map(|block| match block {
                SlackBlock::Header { text } => format!("*{}*", text.text),
                other => other.text().map_or_else(|| "———".to_owned(), Into::into),
            })
            .collect();
        texts.join("\n\n")
    }

    /// The tool and arguments of one message.
    fn call(&self, message: &SlackMessage, channel: &str, thread: Option<&str>) -> (&str, Value) {
        let mapping = &self.mapping;
        let mut arguments = json!({
            mapping.channel_arg.as_str(): channel,
            mapping.text_arg.as_str(): Self::text(message),
        });
        let Some(thread) = thread else {
            return (&mapping.post_tool, arguments);
        };
        arguments[mapping.thread_arg.as_str()] = json!(thread);
        (
            mapping.reply_tool.as_deref().unwrap_or(&mapping.post_tool),
            arguments,
        )
    }

    /// Calls a tool and reads its answer as Slack's JSON.
    async fn slack(
        &self,
        context: &ExportContext,
        tool: &str,
        arguments: Value,
    ) -> Result<Value, Error> {
        let key = SessionKey::new(context.tenant.clone(), self.server.clone());
        let result = self.pool.call_tool(&key, tool, arguments).await?;
        let text = result.text();
        if result.is_tool_error() {
            return Err(Error::unexpected(
                "slack-mcp",
                format!("tool `{tool}` failed: {text}"),
            ));
        }
        let answer: Value = serde_json::from_str(&text).map_err(|_| {
            Error::unexpected(
                "slack-mcp",
                format!("tool `{tool}` did not answer with Slack's JSON"),
            )
        })?;
        if answer["ok"] != true {
            return Err(Error::Vendor(integrations_vendor::Error::Api {
                vendor: "slack".into(),
                status: 200,
                code: answer["error"].as_str().map(str::to_owned),
                message: format!("through MCP tool `{tool}`"),
                attempts: 1,
            }));
        }
        Ok(answer)
    }
}

#[async_trait]
impl Provider for McpSlackProvider {
    fn id(&self) -> &str {
        "slack-mcp"
    }

    async fn list_destinations(
        &self,
        context: &ExportContext,
        cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        let Some(tool) = self.mapping.list_tool.clone() else {
            return Ok(DestinationPage::default());
        };
        let mut arguments = json!({"limit": 200});
        if let Some(cursor) = cursor {
            arguments["cursor"] = json!(cursor);
        }
        let page = self.slack(context, &tool, arguments).await?;
        Ok(slack_channels(&page))
    }

    /// Connects to the server and checks that it has the posting tool.
    async fn validate_connection(&self, context: &ExportContext) -> Result<ConnectionCheck, Error> {
        let started = Instant::now();
        let key = SessionKey::new(context.tenant.clone(), self.server.clone());
        let tools = self.pool.list_tools(&key).await?;
        if !tools.iter().any(|tool| tool.name == self.mapping.post_tool) {
            return Err(Error::invalid(
                "slack-mcp",
                format!(
                    "MCP server `{}` has no tool `{}`; set the tool mapping",
                    self.server, self.mapping.post_tool
                ),
            ));
        }
        Ok(ConnectionCheck::new(
            Some(self.server.clone()),
            started.elapsed(),
        ))
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(json!(
            slack_messages("slack-mcp", content, SlackFormat::Mrkdwn)?
                .iter()
                .map(Self::text)
                .collect::<Vec<_>>()
        ))
    }

    fn plan(
        &self,
        _context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        require_destination("slack-mcp", destination, "a channel id such as C024BE91L")?;
        let messages = slack_messages("slack-mcp", content, SlackFormat::Mrkdwn)?;
        Ok(messages
            .iter()
            .enumerate()
            .map(|(part, message)| {
                let thread = (part > 0).then_some("{{ts of request 1}}");
                let (tool, arguments) = self.call(message, destination, thread);
                PlannedRequest::new("tools/call", format!("{}/{tool}", self.server), arguments)
            })
            .collect())
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        require_destination("slack-mcp", destination, "a channel id such as C024BE91L")?;
        let messages = converted("slack-mcp", content, |content| {
            slack_messages("slack-mcp", content, SlackFormat::Mrkdwn)
        })
        .await?;
        let (mut channel, mut thread) = (destination.to_owned(), None::<String>);
        for message in &messages {
            let (tool, arguments) = self.call(message, &channel, thread.as_deref());
            let tool = tool.to_owned();
            let posted = self.slack(context, &tool, arguments).await?;
            if thread.is_none() {
                let ts = posted["ts"].as_str().ok_or_else(|| {
                    Error::unexpected(
                        "slack-mcp",
                        format!("tool `{tool}` answered without a `ts`"),
                    )
                })?;
                thread = Some(ts.to_owned());
                if let Some(id) = posted["channel"].as_str() {
                    channel = id.to_owned();
                }
            }
        }
        let ts = thread.unwrap_or_default();
        Ok(ExportResult::new("slack-mcp")
            .external_url(format!(
                "https://slack.com/archives/{channel}/p{}",
                ts.replace('.', "")
            ))
            .external_id(ts)
            .requests(messages.len()))
    }
}
