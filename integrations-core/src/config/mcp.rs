//! Typed `[agents.mcp.NAME]` entries.

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::{Table, Value};

use super::{ConfigString, Env, ToolPolicy};
use crate::error::Error;

/// How to reach one MCP server, as written under `[agents.mcp.NAME]`.
///
/// ```toml
/// [agents.mcp.github]
/// command = "npx"
/// args = ["-y", "@modelcontextprotocol/server-github"]
/// env = { GITHUB_TOKEN = "env:GITHUB_TOKEN" }
///
/// [agents.mcp.search]
/// url = "https://mcp.example.com/mcp"
/// headers = { Authorization = "Bearer ${SEARCH_TOKEN}" }
/// ```
///
/// An entry with `command` is [`Stdio`](Self::Stdio); one with `url` is
/// [`Http`](Self::Http) (streamable HTTP). `type` may say `"stdio"` or
/// `"http"` explicitly, or `"sse"` for the HTTP+SSE transport of 2024-11-05
/// (see [`HttpTransport`]). Either may
/// say which protocol revision to speak, `protocol = "auto"` (the default),
/// `"legacy"` or `"2026-07-28"` (see [`McpProtocol`]), and which of its
/// tools may be listed and called, `tools = { allow = [...], deny = [...] }`
/// (see [`ToolPolicy`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum McpServerEntry {
    /// A server started as a child process, speaking MCP on stdin/stdout.
    Stdio(StdioServer),
    /// A server reached over streamable HTTP.
    Http(HttpServer),
}

/// A child-process MCP server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StdioServer {
    /// The program to run.
    pub command: ConfigString,
    /// Its arguments.
    pub args: Vec<ConfigString>,
    /// Environment variables to set for it.
    pub env: BTreeMap<String, ConfigString>,
    /// The working directory, when set.
    pub cwd: Option<PathBuf>,
    /// The protocol revision to speak; `None` leaves it to the pool.
    pub protocol: Option<McpProtocol>,
    /// Which of its tools may be listed and called.
    pub tools: ToolPolicy,
}

impl StdioServer {
    /// A server run as `command` with no arguments.
    ///
    /// ```
    /// use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};
    /// let server: McpServerEntry = StdioServer::new(ConfigString::plain("npx"))
    ///     .args(["-y", "@modelcontextprotocol/server-github"])
    ///     .env("GITHUB_TOKEN", ConfigString::secret("ghp_example"))
    ///     .into();
    /// # let _ = server;
    /// ```
    pub fn new(command: ConfigString) -> Self {
        Self {
            command,
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            protocol: None,
            tools: ToolPolicy::default(),
        }
    }

    /// Lists and calls only the tools `policy` allows.
    #[must_use]
    pub fn tools(mut self, policy: ToolPolicy) -> Self {
        self.tools = policy;
        self
    }

    /// Speaks `protocol` to this server, whatever the pool's default.
    #[must_use]
    pub fn protocol(mut self, protocol: McpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(ConfigString::plain(arg));
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args
            .extend(args.into_iter().map(|arg| ConfigString::plain(arg)));
        self
    }

    /// Sets an environment variable of the server (a secret one with
    /// [`ConfigString::secret`]).
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: ConfigString) -> Self {
        self.env.insert(name.into(), value);
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
}

impl From<StdioServer> for McpServerEntry {
    fn from(server: StdioServer) -> Self {
        Self::Stdio(server)
    }
}

impl From<HttpServer> for McpServerEntry {
    fn from(server: HttpServer) -> Self {
        Self::Http(server)
    }
}

/// A streamable HTTP MCP server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpServer {
    /// The endpoint.
    pub url: ConfigString,
    /// Headers sent with every request (often `Authorization`).
    pub headers: BTreeMap<String, ConfigString>,
    /// The protocol revision to speak; `None` leaves it to the pool.
    pub protocol: Option<McpProtocol>,
    /// How requests travel.
    pub transport: HttpTransport,
    /// Which of its tools may be listed and called.
    pub tools: ToolPolicy,
}

/// How an MCP server over HTTP is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HttpTransport {
    /// Streamable HTTP (`type = "http"`); a server that refuses it is tried
    /// once more over the HTTP+SSE transport of 2024-11-05, as the
    /// specification's backward-compatibility section says.
    #[default]
    Streamable,
    /// The deprecated HTTP+SSE transport of 2024-11-05 only (`type =
    /// "sse"`): a GET stream whose `endpoint` event names where to POST.
    Sse,
}

impl HttpServer {
    /// A server at `url` with no extra headers.
    pub fn new(url: ConfigString) -> Self {
        Self {
            url,
            headers: BTreeMap::new(),
            protocol: None,
            transport: HttpTransport::Streamable,
            tools: ToolPolicy::default(),
        }
    }

    /// Lists and calls only the tools `policy` allows.
    #[must_use]
    pub fn tools(mut self, policy: ToolPolicy) -> Self {
        self.tools = policy;
        self
    }

    /// Speaks `transport` to this server.
    #[must_use]
    pub fn transport(mut self, transport: HttpTransport) -> Self {
        self.transport = transport;
        self
    }

    /// Speaks `protocol` to this server, whatever the pool's default.
    #[must_use]
    pub fn protocol(mut self, protocol: McpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Adds a header sent with every request (a secret one with
    /// [`ConfigString::secret`]).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: ConfigString) -> Self {
        self.headers.insert(name.into(), value);
        self
    }
}

/// Which revision of the MCP protocol a client speaks to a server.
///
/// The revision of 2026-07-28 has no `initialize` handshake: a client asks
/// `server/discover` and sends its version with every request. Servers
/// written before it know only `initialize` (2025-11-25 and earlier).
///
/// ```
/// use integrations_core::config::McpProtocol;
/// assert_eq!("2026-07-28".parse::<McpProtocol>()?, McpProtocol::Modern);
/// assert_eq!(McpProtocol::default(), McpProtocol::Auto);
/// assert_eq!(McpProtocol::Legacy.to_string(), "legacy");
/// # Ok::<_, integrations_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum McpProtocol {
    /// Asks `server/discover` first and speaks 2026-07-28 to a server that
    /// answers it; falls back to `initialize` (2025-11-25) for one that
    /// does not (an error, an answer of another shape, exiting, silence),
    /// as the specification's backward-compatibility rules say. Written
    /// `"auto"`.
    #[default]
    Auto,
    /// `initialize` only, 2025-11-25 (and what an older server offers).
    /// Written `"legacy"`.
    Legacy,
    /// 2026-07-28 only: `server/discover`, never `initialize`. Written
    /// `"2026-07-28"`.
    Modern,
}

impl McpProtocol {
    fn named(value: &str) -> Option<Self> {
        [Self::Auto, Self::Legacy, Self::Modern]
            .into_iter()
            .find(|protocol| protocol.as_str() == value)
    }

    fn unknown(value: &str) -> String {
        format!("unknown protocol {value:?}; expected \"auto\", \"legacy\" or \"2026-07-28\"")
    }

    /// How a config writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Legacy => "legacy",
            Self::Modern => "2026-07-28",
        }
    }
}

impl std::fmt::Display for McpProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for McpProtocol {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        Self::named(value).ok_or_else(|| Error::invalid_config("protocol", Self::unknown(value)))
    }
}

impl McpServerEntry {
    /// The protocol revision the entry asks for, if it names one.
    pub fn protocol(&self) -> Option<McpProtocol> {
        match self {
            Self::Stdio(stdio) => stdio.protocol,
            Self::Http(http) => http.protocol,
        }
    }

    /// Which of its tools may be listed and called.
    pub fn tools(&self) -> &ToolPolicy {
        match self {
            Self::Stdio(stdio) => &stdio.tools,
            Self::Http(http) => &http.tools,
        }
    }

    /// Parses one entry of an `mcpServers` JSON object (as Claude Code,
    /// Claude Desktop and Cursor write them), resolving `${VAR}` and
    /// `${VAR:-default}` from `env`; `key` names the entry in errors.
    ///
    /// ```
    /// use integrations_core::config::{Env, McpServerEntry};
    /// let entry = serde_json::json!({"type": "http", "url": "https://mcp.example.com/mcp",
    ///     "headers": {"Authorization": "Bearer ${TOKEN}"}});
    /// let env = Env::from_vars([("TOKEN", "t0k3n")]);
    /// let McpServerEntry::Http(http) = McpServerEntry::from_json("mcpServers.search", &entry, &env)? else { unreachable!() };
    /// assert_eq!(http.headers["Authorization"].expose(), "Bearer t0k3n");
    /// # Ok::<_, integrations_core::Error>(())
    /// ```
    pub fn from_json(key: &str, entry: &serde_json::Value, env: &Env) -> Result<Self, Error> {
        let serde_json::Value::Object(_) = entry else {
            return Err(Error::invalid_config(key, "expected a JSON object"));
        };
        // JSON has no TOML datetimes and TOML no nulls: drop nulls first.
        let without_nulls: serde_json::Map<String, serde_json::Value> = entry
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let table = Table::try_from(without_nulls)
            .map_err(|e| Error::invalid_config(key, format!("cannot read entry: {e}")))?;
        Self::from_table(key, &table, env)
    }

    /// Parses one entry; `key` is its dotted TOML key, for error messages.
    pub(crate) fn from_table(key: &str, table: &Table, env: &Env) -> Result<Self, Error> {
        let fields = Fields { key, table, env };
        fields.only(
            &[
                "type", "command", "args", "env", "cwd", "url", "headers", "protocol", "tools",
            ],
            "unknown field; expected one of type, command, args, env, cwd, url, headers, \
             protocol, tools",
        )?;
        let tools = match table.get("tools") {
            None => ToolPolicy::default(),
            Some(tools) => ToolPolicy::from_value(key, tools)?,
        };
        let protocol = match table.get("protocol") {
            None => None,
            Some(Value::String(protocol)) => Some(
                McpProtocol::named(protocol)
                    .ok_or_else(|| fields.invalid("protocol", McpProtocol::unknown(protocol)))?,
            ),
            Some(_) => return Err(fields.invalid("protocol", "expected a string")),
        };
        let kind = match table.get("type") {
            None => None,
            Some(Value::String(kind)) => Some(kind.as_str()),
            Some(_) => return Err(fields.invalid("type", "expected a string")),
        };
        match (kind, fields.string("command")?, fields.string("url")?) {
            (Some(other), _, _)
                if !["stdio", "http", "streamable-http", "sse"].contains(&other) =>
            {
                Err(fields.invalid(
                    "type",
                    format!("unknown transport {other:?}; expected \"stdio\", \"http\" or \"sse\""),
                ))
            }
            (_, Some(_), Some(_)) => Err(Error::invalid_config(
                key,
                "has both `command` and `url`; a server is either stdio or HTTP",
            )),
            (Some("http" | "streamable-http" | "sse"), Some(_), None) | (_, None, None) => Err(
                Error::invalid_config(key, "needs `command` (stdio) or `url` (HTTP)"),
            ),
            (_, Some(command), None) => {
                fields.none_of(
                    &["headers"],
                    "only HTTP servers (with `url`) take this field",
                )?;
                Ok(Self::Stdio(StdioServer {
                    command,
                    args: fields.args()?,
                    env: fields.map("env")?,
                    cwd: fields.string("cwd")?.map(|cwd| PathBuf::from(cwd.expose())),
                    protocol,
                    tools,
                }))
            }
            (kind, None, Some(url)) => {
                if kind == Some("stdio") {
                    return Err(Error::invalid_config(
                        key,
                        "type is \"stdio\" but there is no `command`",
                    ));
                }
                fields.none_of(
                    &["args", "env", "cwd"],
                    "only stdio servers (with `command`) take this field",
                )?;
                Ok(Self::Http(HttpServer {
                    url,
                    headers: fields.map("headers")?,
                    protocol,
                    transport: if kind == Some("sse") {
                        HttpTransport::Sse
                    } else {
                        HttpTransport::Streamable
                    },
                    tools,
                }))
            }
        }
    }
}

/// The fields of one server entry, read with references resolved and errors
/// that name the dotted key.
struct Fields<'a> {
    key: &'a str,
    table: &'a Table,
    env: &'a Env,
}

impl Fields<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>) -> Error {
        Error::invalid_config(format!("{}.{field}", self.key), message)
    }

    /// Refuses any field not in `allowed`.
    fn only(&self, allowed: &[&str], message: &str) -> Result<(), Error> {
        match self
            .table
            .keys()
            .find(|field| !allowed.contains(&field.as_str()))
        {
            Some(field) => Err(self.invalid(field, message)),
            None => Ok(()),
        }
    }

    /// Refuses any of `fields` that is present.
    fn none_of(&self, fields: &[&str], message: &str) -> Result<(), Error> {
        match fields.iter().find(|field| self.table.contains_key(**field)) {
            Some(field) => Err(self.invalid(field, message)),
            None => Ok(()),
        }
    }

    fn string(&self, field: &str) -> Result<Option<ConfigString>, Error> {
        let field_key = format!("{}.{field}", self.key);
        match self.table.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => self.env.expand(&field_key, s).map(Some),
            Some(_) => Err(Error::invalid_config(field_key, "expected a string")),
        }
    }

    fn map(&self, field: &str) -> Result<BTreeMap<String, ConfigString>, Error> {
        let field_key = format!("{}.{field}", self.key);
        match self.table.get(field) {
            None => Ok(BTreeMap::new()),
            Some(Value::Table(entries)) => entries
                .iter()
                .map(|(name, value)| {
                    let entry_key = format!("{field_key}.{name}");
                    match value {
                        Value::String(s) => Ok((name.clone(), self.env.expand(&entry_key, s)?)),
                        _ => Err(Error::invalid_config(entry_key, "expected a string")),
                    }
                })
                .collect(),
            Some(_) => Err(Error::invalid_config(
                field_key,
                "expected a table of strings",
            )),
        }
    }

    fn args(&self) -> Result<Vec<ConfigString>, Error> {
        match self.table.get("args") {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let item_key = format!("{}.args[{i}]", self.key);
                    match item {
                        Value::String(s) => self.env.expand(&item_key, s),
                        _ => Err(Error::invalid_config(item_key, "expected a string")),
                    }
                })
                .collect(),
            Some(_) => Err(self.invalid("args", "expected an array of strings")),
        }
    }
}
