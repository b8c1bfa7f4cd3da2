//! Any MCP server's tool as a destination, through a declared mapping.

use std::sync::OnceLock;
use std::time::Instant;

use async_trait::async_trait;
use integrations_core::id::{ProviderId, ServerName};
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{McpPool, SessionKey};
use serde_json::{Value, json};

mod mapping;

pub use mapping::{Continuation, DestinationsTool, McpToolMapping, ToolAnswer, ToolContent};

use super::{converted, require_destination, slack_messages};
use crate::error::Error;
use crate::markdown::{SlackBlock, SlackMessage, SlackOptions};
use crate::provider::{
    ConnectionCheck, Content, Destination, DestinationPage, ExportContext, ExportResult,
    PlannedRequest, Provider,
};

/// A tool of an MCP server in an [`McpPool`] as an export destination: each
/// export calls the mapping's tool with the content, the title, the
/// destination and the idempotency key in the arguments it names, on the
/// tenant's session (see [`McpPool::set_tenant_server`]), and reads the
/// item's id and URL from the answer.
///
/// Slack through the reference Slack MCP server is one such mapping
/// ([`McpToolProvider::slack`]).
///
/// A tool that fails (`isError`) fails the export with its text; an answer
/// whose `ok` field is not `true` becomes [`Error::Vendor`] with its error
/// code. Whether an export is sent once depends on the tool: with an
/// idempotency argument, a tool that honours it makes a resumed export
/// harmless; without one, it is at least once.
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone)]
pub struct McpToolProvider {
    pool: McpPool,
    server: ServerName,
    id: ProviderId,
    mapping: McpToolMapping,
}

impl McpToolProvider {
    /// The provider `id` (the one export requests name), exporting
    /// through the tools of `server` in `pool` as `mapping` says.
    pub fn new(id: ProviderId, pool: McpPool, server: ServerName, mapping: McpToolMapping) -> Self {
        Self {
            pool,
            id,
            server,
            mapping,
        }
    }

    /// Slack through the reference Slack MCP server named `server` in
    /// `pool` ([`McpToolMapping::slack`]), with the id `slack-mcp`: the
    /// same messages as [`SlackProvider`](crate::providers::SlackProvider)'s
    /// mrkdwn, the second and later ones in the first one's thread.
    pub fn slack(pool: McpPool, server: ServerName) -> Self {
        static ID: OnceLock<ProviderId> = OnceLock::new();
        let id = ID.get_or_init(|| ProviderId::from_static("slack-mcp"));
        Self::new(id.clone(), pool, server, McpToolMapping::slack())
    }

    /// Refuses an empty destination where the mapping sends one.
    fn check_destination(&self, destination: &str) -> Result<(), Error> {
        match self.mapping.destination_arg {
            Some(_) => require_destination(&self.id, destination, "where the tool should put it"),
            None => Ok(()),
        }
    }

    /// The content's parts, one a call.
    fn parts(&self, content: &Content) -> Result<Vec<String>, Error> {
        match self.mapping.form {
            ToolContent::Markdown => {
                let markdown = if self.mapping.title_arg.is_some() {
                    content.markdown.clone()
                } else {
                    content.titled_markdown().into_owned()
                };
                if markdown.trim().is_empty() {
                    return Err(Error::invalid(
                        &self.id,
                        "the content is empty; nothing to send",
                    ));
                }
                Ok(vec![markdown])
            }
            ToolContent::SlackMrkdwn => {
                Ok(slack_messages(&self.id, content, SlackOptions::default())?
                    .iter()
                    .map(mrkdwn)
                    .collect())
            }
        }
    }

    /// The tool and arguments of part `part` (`continued`: the value the
    /// first answer gave for later calls).
    fn call(
        &self,
        context: &ExportContext,
        content: &Content,
        (part, text): (usize, String),
        destination: &str,
        continued: Option<Value>,
    ) -> (&str, Value) {
        let mapping = &self.mapping;
        let mut arguments = mapping.arguments.clone();
        arguments.insert(mapping.content_arg.clone(), json!(text));
        if let (Some(arg), Some(title)) = (&mapping.title_arg, &content.title) {
            arguments.insert(arg.clone(), json!(title));
        }
        if let Some(arg) = &mapping.destination_arg {
            arguments.insert(arg.clone(), json!(destination));
        }
        if let (Some(arg), Some(key)) = (&mapping.idempotency_arg, &context.idempotency_key) {
            let key = if part == 0 {
                key.clone()
            } else {
                format!("{key}-{}", part + 1)
            };
            arguments.insert(arg.clone(), json!(key));
        }
        let mut tool = mapping.tool.as_str();
        if part > 0
            && let Some(continuation) = &mapping.continuation
        {
            arguments.insert(continuation.arg.clone(), continued.unwrap_or(Value::Null));
            tool = continuation.tool.as_deref().unwrap_or(tool);
        }
        (tool, Value::Object(arguments))
    }

    /// Calls a tool and reads its answer: JSON where it is, else `Null`.
    async fn ask(
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
                &self.id,
                format!("tool `{tool}` failed: {text}"),
            ));
        }
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let shape = &self.mapping.answer;
        if let Some(ok) = &shape.ok
            && answer.pointer(ok) != Some(&Value::Bool(true))
        {
            if answer.is_null() {
                return Err(Error::unexpected(
                    &self.id,
                    format!("tool `{tool}` did not answer with JSON holding `{ok}`"),
                ));
            }
            let code = shape
                .error
                .as_deref()
                .and_then(|error| answer.pointer(error))
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Err(Error::Vendor(integrations_vendor::Error::Api {
                vendor: shape
                    .vendor
                    .clone()
                    .unwrap_or_else(|| self.server.to_string()),
                status: 200,
                code,
                message: format!("through MCP tool `{tool}`"),
                attempts: 1,
            }));
        }
        Ok(answer)
    }

    /// The export's result from the first answer.
    fn result(&self, first: &Value, destination: &str, calls: usize) -> ExportResult {
        let shape = &self.mapping.answer;
        let text = |pointer: &Option<String>| {
            pointer
                .as_deref()
                .and_then(|pointer| first.pointer(pointer))
                .and_then(|value| match value {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
        };
        let mut result = ExportResult::new(self.id.clone()).requests(calls);
        let id = text(&shape.id);
        let url = text(&shape.url).or_else(|| {
            let template = shape.url_template.as_deref()?;
            let id = id.as_deref()?;
            let digits: String = id.chars().filter(char::is_ascii_digit).collect();
            Some(
                template
                    .replace("{destination}", destination)
                    .replace("{id_digits}", &digits)
                    .replace("{id}", id),
            )
        });
        if let Some(id) = id {
            result = result.external_id(id);
        }
        if let Some(url) = url {
            result = result.external_url(url);
        }
        result
    }
}

/// A Slack message's blocks as one mrkdwn text, headers in bold.
fn mrkdwn(message: &SlackMessage) -> String {
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

#[async_trait]
impl Provider for McpToolProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn list_destinations(
        &self,
        context: &ExportContext,
        cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        let Some(list) = &self.mapping.destinations else {
            return Ok(DestinationPage::default());
        };
        let mut arguments = list.arguments.clone();
        if let (Some(arg), Some(cursor)) = (&list.cursor_arg, cursor) {
            arguments.insert(arg.clone(), json!(cursor));
        }
        let page = self
            .ask(context, &list.tool, Value::Object(arguments))
            .await?;
        let destinations = page
            .pointer(&list.items)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let id = item.pointer(&list.id)?.as_str()?;
                let name = list
                    .name
                    .as_deref()
                    .and_then(|name| item.pointer(name))
                    .and_then(Value::as_str)
                    .unwrap_or(id);
                Some(Destination::new(
                    id,
                    format!("{}{name}", list.name_prefix),
                    list.kind.clone(),
                ))
            })
            .collect();
        let next = list
            .next_cursor
            .as_deref()
            .and_then(|next| page.pointer(next))
            .and_then(Value::as_str)
            .filter(|next| !next.is_empty())
            .map(str::to_owned);
        Ok(DestinationPage::new(destinations, next))
    }

    /// Connects to the server and checks that it has the mapping's tools.
    async fn validate_connection(&self, context: &ExportContext) -> Result<ConnectionCheck, Error> {
        let started = Instant::now();
        let key = SessionKey::new(context.tenant.clone(), self.server.clone());
        let tools = self.pool.list_tools(&key).await?;
        let mapping = &self.mapping;
        let needed = std::iter::once(&mapping.tool)
            .chain(mapping.continuation.iter().filter_map(|c| c.tool.as_ref()))
            .chain(mapping.destinations.iter().map(|list| &list.tool));
        for tool in needed {
            if !tools.iter().any(|known| known.name == tool.as_str()) {
                return Err(Error::invalid(
                    &self.id,
                    format!(
                        "MCP server `{}` has no tool `{tool}`; set the tool mapping",
                        self.server
                    ),
                ));
            }
        }
        Ok(ConnectionCheck::new(
            Some(self.server.to_string()),
            started.elapsed(),
        ))
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(json!(self.parts(content)?))
    }

    fn plan(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        self.check_destination(destination)?;
        let continued = self
            .mapping
            .continuation
            .as_ref()
            .map(|continuation| json!(format!("{{{{{} of request 1}}}}", continuation.from)));
        Ok(self
            .parts(content)?
            .into_iter()
            .enumerate()
            .map(|part| {
                let (tool, arguments) =
                    self.call(context, content, part, destination, continued.clone());
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
        self.check_destination(destination)?;
        let provider = self.clone();
        let parts = converted(&self.id, content, move |content| provider.parts(content)).await?;
        let calls = parts.len();
        let (mut first, mut continued, mut place) = (Value::Null, None, destination.to_owned());
        for (part, text) in parts.into_iter().enumerate() {
            let (tool, arguments) =
                self.call(context, content, (part, text), &place, continued.clone());
            let tool = tool.to_owned();
            let answer = self.ask(context, &tool, arguments).await?;
            if part == 0 {
                continued = self
                    .mapping
                    .continuation
                    .as_ref()
                    .and_then(|continuation| answer.pointer(&continuation.from).cloned());
                if let Some(named) = self
                    .mapping
                    .answer
                    .destination
                    .as_deref()
                    .and_then(|pointer| answer.pointer(pointer))
                    .and_then(Value::as_str)
                {
                    named.clone_into(&mut place);
                }
                first = answer;
                if calls > 1 && self.mapping.continuation.is_some() && continued.is_none() {
                    return Err(Error::unexpected(
                        &self.id,
                        format!(
                            "tool `{tool}` answered without the value later calls need ({})",
                            self.mapping
                                .continuation
                                .as_ref()
                                .map_or("", |c| c.from.as_str())
                        ),
                    ));
                }
            }
        }
        Ok(self.result(&first, &place, calls))
    }
}
