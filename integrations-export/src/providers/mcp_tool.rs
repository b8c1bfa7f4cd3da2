//! Any MCP server's tool as a destination, through a declared mapping.

use std::time::Instant;

use async_trait::async_trait;
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{McpPool, SessionKey};
use serde_json::{Map, Value, json};

use super::{converted, require_destination, slack_messages};
use crate::error::Error;
use crate::markdown::{SlackBlock, SlackFormat, SlackMessage};
use crate::provider::{
    ConnectionCheck, Content, Destination, DestinationPage, ExportContext, ExportResult,
    PlannedRequest, Provider,
};

/// What the content argument holds.
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolContent {
    /// The markdown as written, in one call (with the title as a heading
    /// first when no argument takes the title).
    #[default]
    Markdown,
    /// Slack mrkdwn, split under Slack's limits: one call a message, the
    /// second and later ones as the [`Continuation`] says.
    SlackMrkdwn,
}

/// How the second and later calls of an export follow the first (a reply
/// in the first message's thread, say).
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Continuation {
    /// The tool of the later calls; the mapping's own tool when `None`.
    pub tool: Option<String>,
    /// The argument that carries the value taken from the first answer.
    pub arg: String,
    /// Where that value is in the first answer (a JSON pointer, `/ts`).
    pub from: String,
}

impl Continuation {
    /// Later calls pass the value at `from` in the first answer as `arg`.
    pub fn new(arg: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            tool: None,
            arg: arg.into(),
            from: from.into(),
        }
    }

    /// Later calls go to `tool`.
    #[must_use]
    pub fn tool(mut self, tool: impl Into<String>) -> Self {
        self.tool = Some(tool.into());
        self
    }
}

/// How to read a tool's answer (its text, as JSON): JSON pointers to
/// success, the error code, the exported item's id, URL and place.
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolAnswer {
    /// The service behind the server, as errors name it (`slack`).
    pub vendor: Option<String>,
    /// A field that must be `true` (Slack's `/ok`); its error code at
    /// `error`.
    pub ok: Option<String>,
    /// The error code when `ok` is not `true`.
    pub error: Option<String>,
    /// The exported item's id.
    pub id: Option<String>,
    /// The exported item's URL.
    pub url: Option<String>,
    /// A URL built from `{destination}`, `{id}` and `{id_digits}` (the id
    /// without its other characters), where the answer has none.
    pub url_template: Option<String>,
    /// The destination as the service names it, for later calls (a
    /// channel name answered with its id).
    pub destination: Option<String>,
}

/// A tool that lists destinations, and where they are in its answer.
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationsTool {
    /// The tool.
    pub tool: String,
    /// Arguments every call carries (`{"limit": 200}`).
    pub arguments: Map<String, Value>,
    /// The argument that takes the cursor of the next page.
    pub cursor_arg: Option<String>,
    /// Where the next page's cursor is in the answer.
    pub next_cursor: Option<String>,
    /// Where the list is in the answer (`/channels`).
    pub items: String,
    /// Where an item's id is (`/id`).
    pub id: String,
    /// Where an item's name is (`/name`); the id when `None`.
    pub name: Option<String>,
    /// Written before each name (`#` for Slack channels).
    pub name_prefix: String,
    /// What a destination is (`channel`, `folder`).
    pub kind: String,
}

impl DestinationsTool {
    /// Destinations from `tool`: the array at `items`, each one's id at
    /// `id`.
    pub fn new(tool: impl Into<String>, items: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            arguments: Map::new(),
            cursor_arg: None,
            next_cursor: None,
            items: items.into(),
            id: id.into(),
            name: None,
            name_prefix: String::new(),
            kind: "destination".into(),
        }
    }

    /// Each item's name is at `name`, shown after `prefix`.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self.name_prefix = prefix.into();
        self
    }

    /// Pages: the cursor goes in argument `arg`; the next one is at
    /// `next` in the answer.
    #[must_use]
    pub fn cursor(mut self, arg: impl Into<String>, next: impl Into<String>) -> Self {
        self.cursor_arg = Some(arg.into());
        self.next_cursor = Some(next.into());
        self
    }

    /// Every call carries `name: value`.
    #[must_use]
    pub fn argument(mut self, name: impl Into<String>, value: Value) -> Self {
        self.arguments.insert(name.into(), value);
        self
    }

    /// What a destination is.
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }
}

/// Which tool of an MCP server receives an export, and which of its
/// arguments take the content, the title, the destination and the
/// idempotency key. [`McpToolMapping::slack`] is the reference Slack MCP
/// server's.
///
/// ```
/// use integrations_export::providers::{DestinationsTool, McpToolMapping, ToolAnswer};
///
/// // A notes server: `create_note {body, title, folder, request_id}`
/// // answering `{"id", "url"}`, folders from `list_folders`.
/// let mapping = McpToolMapping::new("create_note", "body")
///     .title("title")
///     .destination("folder")
///     .idempotency_key("request_id")
///     .answer(ToolAnswer::default().id("/id").url("/url"))
///     .destinations(DestinationsTool::new("list_folders", "/folders", "/key").name("/label", ""));
/// assert_eq!(mapping.tool, "create_note");
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct McpToolMapping {
    /// The tool that receives the content.
    pub tool: String,
    /// The argument that takes the content.
    pub content_arg: String,
    /// What the content argument holds.
    pub form: ToolContent,
    /// The argument that takes the title, if any.
    pub title_arg: Option<String>,
    /// The argument that takes the destination, if any.
    pub destination_arg: Option<String>,
    /// The argument that takes the idempotency key (`-2`, `-3`, ... added
    /// for the later calls of one export), if any.
    pub idempotency_arg: Option<String>,
    /// Arguments every call carries.
    pub arguments: Map<String, Value>,
    /// How later calls follow the first, for content sent in several.
    pub continuation: Option<Continuation>,
    /// How to read the answers.
    pub answer: ToolAnswer,
    /// The tool that lists destinations, if the server has one.
    pub destinations: Option<DestinationsTool>,
}

impl McpToolMapping {
    /// Exports call `tool` with the markdown in argument `content_arg`.
    pub fn new(tool: impl Into<String>, content_arg: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            content_arg: content_arg.into(),
            form: ToolContent::Markdown,
            title_arg: None,
            destination_arg: None,
            idempotency_arg: None,
            arguments: Map::new(),
            continuation: None,
            answer: ToolAnswer::default(),
            destinations: None,
        }
    }

    /// The reference Slack MCP server's tools
    /// (`@modelcontextprotocol/server-slack`): `slack_post_message
    /// {channel_id, text}` with mrkdwn split under Slack's limits, later
    /// messages with `slack_reply_to_thread {channel_id, thread_ts, text}`,
    /// channels from `slack_list_channels {limit, cursor}`; answers are
    /// Slack's JSON (`ok`, `error`, `ts`, `channel`).
    pub fn slack() -> Self {
        Self::new("slack_post_message", "text")
            .form(ToolContent::SlackMrkdwn)
            .destination("channel_id")
            .continuation(Continuation::new("thread_ts", "/ts").tool("slack_reply_to_thread"))
            .answer(
                ToolAnswer::default()
                    .vendor("slack")
                    .ok("/ok", "/error")
                    .id("/ts")
                    .url_template("https://slack.com/archives/{destination}/p{id_digits}")
                    .destination("/channel"),
            )
            .destinations(
                DestinationsTool::new("slack_list_channels", "/channels", "/id")
                    .name("/name", "#")
                    .cursor("cursor", "/response_metadata/next_cursor")
                    .argument("limit", json!(200))
                    .kind("channel"),
            )
    }

    /// What the content argument holds.
    #[must_use]
    pub fn form(mut self, form: ToolContent) -> Self {
        self.form = form;
        self
    }

    /// The title goes in argument `arg`.
    #[must_use]
    pub fn title(mut self, arg: impl Into<String>) -> Self {
        self.title_arg = Some(arg.into());
        self
    }

    /// The destination goes in argument `arg`.
    #[must_use]
    pub fn destination(mut self, arg: impl Into<String>) -> Self {
        self.destination_arg = Some(arg.into());
        self
    }

    /// The idempotency key goes in argument `arg`.
    #[must_use]
    pub fn idempotency_key(mut self, arg: impl Into<String>) -> Self {
        self.idempotency_arg = Some(arg.into());
        self
    }

    /// Every call carries `name: value`.
    #[must_use]
    pub fn argument(mut self, name: impl Into<String>, value: Value) -> Self {
        self.arguments.insert(name.into(), value);
        self
    }

    /// Later calls follow the first as `continuation` says.
    #[must_use]
    pub fn continuation(mut self, continuation: Continuation) -> Self {
        self.continuation = Some(continuation);
        self
    }

    /// Answers are read as `answer` says.
    #[must_use]
    pub fn answer(mut self, answer: ToolAnswer) -> Self {
        self.answer = answer;
        self
    }

    /// Destinations are listed by `tool`.
    #[must_use]
    pub fn destinations(mut self, tool: DestinationsTool) -> Self {
        self.destinations = Some(tool);
        self
    }
}

impl ToolAnswer {
    /// Errors name the service behind the server `vendor` (`slack`).
    #[must_use]
    pub fn vendor(mut self, vendor: impl Into<String>) -> Self {
        self.vendor = Some(vendor.into());
        self
    }

    /// Success is `true` at `ok`; otherwise the error code is at `error`.
    #[must_use]
    pub fn ok(mut self, ok: impl Into<String>, error: impl Into<String>) -> Self {
        self.ok = Some(ok.into());
        self.error = Some(error.into());
        self
    }

    /// The URL is built from `template` where the answer has none.
    #[must_use]
    pub fn url_template(mut self, template: impl Into<String>) -> Self {
        self.url_template = Some(template.into());
        self
    }

    /// The destination as the service names it is at `pointer`.
    #[must_use]
    pub fn destination(mut self, pointer: impl Into<String>) -> Self {
        self.destination = Some(pointer.into());
        self
    }

    /// The exported item's id is at `pointer`.
    #[must_use]
    pub fn id(mut self, pointer: impl Into<String>) -> Self {
        self.id = Some(pointer.into());
        self
    }

    /// The exported item's URL is at `pointer`.
    #[must_use]
    pub fn url(mut self, pointer: impl Into<String>) -> Self {
        self.url = Some(pointer.into());
        self
    }
}

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
    server: String,
    id: String,
    mapping: McpToolMapping,
}

impl McpToolProvider {
    /// Exports through the tools of `server` in `pool`, as `mapping` says;
    /// the provider's id is the server's name unless
    /// [`with_id`](Self::with_id) sets another.
    pub fn new(pool: McpPool, server: impl Into<String>, mapping: McpToolMapping) -> Self {
        let server = server.into();
        Self {
            pool,
            id: server.clone(),
            server,
            mapping,
        }
    }

    /// Slack through the reference Slack MCP server named `server` in
    /// `pool` ([`McpToolMapping::slack`]), with the id `slack-mcp`: the
    /// same messages as [`SlackProvider`](crate::providers::SlackProvider)'s
    /// mrkdwn, the second and later ones in the first one's thread.
    pub fn slack(pool: McpPool, server: impl Into<String>) -> Self {
        Self::new(pool, server, McpToolMapping::slack()).with_id("slack-mcp")
    }

    /// Sets the provider's id, the one export requests name.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
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
            ToolContent::SlackMrkdwn => Ok(slack_messages(&self.id, content, SlackFormat::Mrkdwn)?
                .iter()
                .map(mrkdwn)
                .collect()),
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
                vendor: shape.vendor.clone().unwrap_or_else(|| self.server.clone()),
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
    fn id(&self) -> &str {
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
            Some(self.server.clone()),
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
        if self.mapping.destination_arg.is_some() {
            require_destination(&self.id, destination, "where the tool should put it")?;
        }
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
        if self.mapping.destination_arg.is_some() {
            require_destination(&self.id, destination, "where the tool should put it")?;
        }
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
