//! The declared mapping of an export onto an MCP server's tools: which
//! tool, which arguments, how to read its answers and list destinations.

use serde_json::{Map, Value, json};

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
