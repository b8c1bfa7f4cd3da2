//! [`Bridge`]: the runtime's built-in integrations as an MCP server.

use std::fmt;
use std::sync::Arc;

use integrations_core::Runtime;
use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};
use integrations_core::id::ServerName;
use integrations_core::integration::TaskSupport;
use rmcp::ServiceExt;
use rmcp::model::{JsonObject, Tool};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::SEPARATOR;
use crate::error::Error;

mod calls;
mod handler;
mod peer;
mod tasks;
mod toolbox;
mod wire;

use handler::SessionState;

/// The origins a bridge accepts by default: this machine's.
const LOOPBACK_ORIGINS: [&str; 6] = [
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://[::1]:*",
];

/// Serves the integrations of a [`Runtime`] over MCP: one tool per
/// capability, named `integration__action`, with the capability's JSON
/// Schema; calls go through [`Runtime::dispatch`], so arguments are
/// validated and health is recorded as for any other caller.
///
/// This closes the gap where a host's built-in integrations are invisible to
/// the agents it runs: point the agent at the bridge with
/// [`Bridge::stdio_entry`] in its `mcpServers` config.
///
/// ```
/// # use std::sync::Arc;
/// # use integrations_core::{Config, Registry, Runtime};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let runtime = Arc::new(Runtime::builder(Registry::new()).start(&Config::default()).await);
/// let bridge = integrations_mcp::Bridge::new(runtime);
/// // In the host's `--mcp-bridge` mode: bridge.serve_stdio().await
/// let (client_side, server_side) = tokio::io::duplex(4096);
/// let serving = tokio::spawn(async move { bridge.serve(server_side).await });
/// # drop(client_side); let _ = serving.await; });
/// ```
#[derive(Clone)]
pub struct Bridge {
    runtime: Arc<Runtime>,
    name: ServerName,
    flat: bool,
    session: Arc<SessionState>,
    header_read_timeout: std::time::Duration,
    allowed_origins: Vec<String>,
    /// Seals the `requestState` of 2026-07-28 rounds (MRTR); `None` only
    /// when the system gave no randomness for a key and none was set.
    states: Option<Arc<rmcp::model::RequestStateCodec>>,
    /// A tenant's pooled tools, offered as `search_tools` and `call_tool`.
    toolbox: Option<crate::client::Toolbox>,
    /// The tasks long actions run as (2026-07-28 clients with the Tasks
    /// extension), shared by every session of this bridge.
    tasks: Arc<Tasks>,
}

/// The bridge's tasks: stopped (the actions dropped) when the last copy of
/// the bridge goes.
#[derive(Default)]
struct Tasks {
    manager: rmcp::task_manager::TaskManager,
    /// The replica's name (see [`Bridge::replica`]).
    replica: Option<ServerName>,
}

/// The id a client sees of the task `id` of `replica`: `{replica}.{id}`
/// when the bridge has a replica name.
fn task_id(replica: Option<&ServerName>, id: String) -> String {
    match replica {
        Some(replica) => format!("{replica}.{id}"),
        None => id,
    }
}

impl Tasks {
    /// The id a client sees of the task `id`.
    fn outside(&self, id: String) -> String {
        task_id(self.replica.as_ref(), id)
    }

    /// The task a client's `id` names, if this replica made it.
    fn inside<'a>(&self, id: &'a str) -> Result<&'a str, rmcp::ErrorData> {
        let Some(replica) = &self.replica else {
            return Ok(id);
        };
        id.strip_prefix(replica.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or_else(|| {
                rmcp::ErrorData::invalid_params(
                    format!(
                        "task `{id}` was not made by this replica (`{replica}`): route \
                         tasks/get, tasks/update and tasks/cancel by the replica name that \
                         starts their Mcp-Name header"
                    ),
                    None,
                )
            })
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.manager.shutdown();
    }
}

/// The tool that searches the toolbox ([`Bridge::toolbox`]).
pub const SEARCH_TOOLS: &str = "search_tools";
/// The tool that calls a toolbox tool by name ([`Bridge::toolbox`]).
pub const CALL_TOOL: &str = "call_tool";

/// 32 bytes from the operating system: a key no one else knows (`None`
/// if the system has no randomness to give; a fixed key would be worse).
fn random_key() -> Option<Vec<u8>> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).ok()?;
    Some(key)
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// A bridge to the runtime's running integrations.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self {
            runtime,
            name: ServerName::from_static("integrations-bridge"),
            flat: false,
            session: Arc::default(),
            header_read_timeout: std::time::Duration::from_secs(10),
            allowed_origins: LOOPBACK_ORIGINS.iter().map(|o| (*o).to_owned()).collect(),
            states: random_key()
                .and_then(|key| rmcp::model::RequestStateCodec::try_new(key).ok())
                .map(Arc::new),
            toolbox: None,
            tasks: Arc::default(),
        }
    }

    /// Names this replica of several behind one load balancer. Tasks (long
    /// actions, [`Capability::long_running`](integrations_core::Capability::long_running))
    /// live in the replica that made them; with a name, their ids start
    /// with `{name}.`, so the load balancer can send `tasks/get`,
    /// `tasks/update` and `tasks/cancel`, whose `Mcp-Name` header is the
    /// task id, to that replica (everything else may go anywhere). A
    /// replica refuses (-32602, saying so) a task id another one made.
    /// Give each replica its own name, and set it before the bridge is
    /// copied or served.
    #[must_use]
    pub fn replica(mut self, name: ServerName) -> Self {
        self.tasks = Arc::new(Tasks {
            manager: rmcp::task_manager::TaskManager::default(),
            replica: Some(name),
        });
        self
    }

    /// Offers a tenant's pooled MCP tools to the agent as two tools instead
    /// of all of them: `search_tools {query, limit}` (at most 20; default
    /// 8) answers the best matches with their names, descriptions and
    /// input schemas ([`Toolbox::search`](crate::Toolbox::search), tool
    /// policies applied), and `call_tool {name, arguments}` calls one by
    /// its namespaced name, cancelled when the agent cancels. An agent with
    /// 500 tools across 20 servers starts with 2 (besides the runtime's).
    /// A toolbox serves one tenant: give each tenant's agent its own
    /// bridge.
    #[must_use]
    pub fn toolbox(mut self, toolbox: crate::client::Toolbox) -> Self {
        self.toolbox = Some(toolbox);
        self
    }

    /// The key that seals the `requestState` of a 2026-07-28 call whose
    /// action asks the client (elicitation, sampling): the state carries
    /// the answers so far, HMAC-SHA256-sealed to the tool and its
    /// arguments, for 10 minutes. By default each bridge draws its own, so
    /// a round must come back to the bridge that sealed it; bridges behind
    /// one load balancer share one key, and any of them takes any round.
    #[must_use]
    pub fn request_state_key(mut self, key: &secrecy::SecretBox<[u8; 32]>) -> Self {
        use secrecy::ExposeSecret;
        // 32 bytes: the codec's minimum, so it cannot refuse them.
        self.states = rmcp::model::RequestStateCodec::try_new(key.expose_secret().to_vec())
            .ok()
            .map(Arc::new);
        self
    }

    /// Browser origins whose pages may call the bridge over HTTP (e.g.
    /// `https://app.example.com:443`), replacing the default: loopback
    /// origins only (`http://localhost:*`, `http://127.0.0.1:*`,
    /// `http://[::1]:*` and their `https`). A request whose `Origin` is not
    /// among them is refused; agents send none, and a page of another site
    /// in the user's browser must not reach the host's integrations.
    #[must_use]
    pub fn allowed_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// How long [`serve_http`](Self::serve_http) waits for a request's
    /// headers before it closes the connection (a client that sends them a
    /// byte at a time holds a connection only this long); default 10 s.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets the server name announced in the handshake.
    #[must_use]
    pub fn with_name(mut self, name: ServerName) -> Self {
        self.name = name;
        self
    }

    /// Names tools by the action alone (`add` rather than
    /// `calculator__add`), for hosts whose action names are unique across
    /// integrations; where two integrations declare the same action, the one
    /// registered first serves it.
    #[must_use]
    pub fn with_flat_names(mut self) -> Self {
        self.flat = true;
        self
    }

    fn tool_name(&self, integration: &str, action: &str) -> String {
        if self.flat {
            action.to_owned()
        } else {
            format!("{integration}{SEPARATOR}{action}")
        }
    }

    /// The dispatch target (`integration.action`) of a tool name.
    fn target(&self, tool: &str) -> Option<String> {
        if !self.flat {
            let (integration, action) = tool.split_once(SEPARATOR)?;
            return Some(format!("{integration}.{action}"));
        }
        let registry = self.runtime.registry();
        registry
            .ids()
            .iter()
            .find(|id| {
                registry
                    .capabilities(id.as_str())
                    .is_some_and(|capabilities| capabilities.iter().any(|c| c.name == tool))
            })
            .map(|id| format!("{id}.{tool}"))
    }

    /// The MCP tools: one per capability of every running integration,
    /// and `search_tools` and `call_tool` with a [`toolbox`](Self::toolbox).
    pub fn tools(&self) -> Vec<Tool> {
        let mut tools = self.integration_tools();
        if self.toolbox.is_some() {
            tools.extend(toolbox::tools());
        }
        tools
    }

    fn integration_tools(&self) -> Vec<Tool> {
        let registry = self.runtime.registry();
        registry
            .ids()
            .iter()
            .flat_map(|id| {
                registry
                    .capabilities(id.as_str())
                    .unwrap_or_default()
                    .iter()
                    .map(move |capability| self.tool_of(id.as_str(), capability))
            })
            .collect()
    }

    /// The MCP tool of one capability of integration `id`.
    fn tool_of(&self, id: &str, capability: &integrations_core::Capability) -> Tool {
        let schema: JsonObject = match &capability.parameters {
            Value::Object(schema) => schema.clone(),
            _ => JsonObject::new(),
        };
        let mut tool = Tool::new(
            self.tool_name(id, &capability.name),
            capability.description.clone(),
            schema,
        );
        if let Some(Value::Object(output)) = &capability.output_schema {
            tool.output_schema = Some(Arc::new(output.clone()));
        }
        tool
    }

    /// Whether any action may run as a task (the bridge then declares the
    /// Tasks extension).
    fn has_long_actions(&self) -> bool {
        let registry = self.runtime.registry();
        registry.ids().iter().any(|id| {
            registry
                .capabilities(id.as_str())
                .is_some_and(|all| all.iter().any(|c| c.tasks != TaskSupport::Never))
        })
    }

    /// Whether the action a dispatch target names runs as a task, and
    /// whether it gathers its input first
    /// ([`Capability::input_first`](integrations_core::Capability::input_first)).
    fn tasks_of(&self, target: &str) -> (TaskSupport, bool) {
        let Some((id, action)) = target.split_once('.') else {
            return (TaskSupport::Never, false);
        };
        let capabilities = self.runtime.registry().capabilities(id);
        capabilities
            .and_then(|all| all.iter().find(|c| c.name == action))
            .map_or((TaskSupport::Never, false), |c| (c.tasks, c.input_first))
    }

    /// The tool named `name`, if an integration's capability is it (the
    /// toolbox's tools aside).
    fn integration_tool(&self, name: &str) -> Option<Tool> {
        let target = self.target(name)?;
        let (id, action) = target.split_once('.')?;
        let capabilities = self.runtime.registry().capabilities(id)?;
        let capability = capabilities.iter().find(|c| c.name == action)?;
        Some(self.tool_of(id, capability))
    }

    /// Serves one client over any byte stream (a socket, a pipe, a duplex
    /// in tests) until it disconnects.
    pub async fn serve<S>(self, stream: S) -> Result<(), Error>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let name = self.name.clone();
        let handshake = |e: &dyn std::fmt::Display| Error::Handshake {
            server: name.clone(),
            message: e.to_string(),
        };
        let session = self.for_session();
        let stream = crate::eof::EofSignal {
            inner: stream,
            eof: session.session.gone.clone(),
        };
        let service = ServiceExt::serve(session, stream)
            .await
            .map_err(|e| handshake(&e))?;
        service.waiting().await.map_err(|e| handshake(&e))?;
        Ok(())
    }

    /// Serves on this process's stdin and stdout, as an agent that started
    /// the host with the [`stdio_entry`](Self::stdio_entry) expects.
    pub async fn serve_stdio(self) -> Result<(), Error> {
        let (stdin, stdout) = rmcp::transport::stdio();
        self.serve(tokio::io::join(stdin, stdout)).await
    }

    /// The `mcpServers` entry that starts `program` with `args` (your host in
    /// its bridge mode, e.g. `["--mcp-bridge"]`), for
    /// [`ClaudeConfigFile`](crate::ClaudeConfigFile).
    pub fn stdio_entry(program: impl Into<String>, args: &[&str]) -> McpServerEntry {
        StdioServer::new(ConfigString::plain(program))
            .args(args.iter().copied())
            .into()
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl Bridge {
    /// Serves streamable HTTP at `/mcp` on `listener` until `shutdown` is
    /// cancelled, then lets its connections finish (5 s at most). Only
    /// loopback `Host`s are accepted, against DNS rebinding; a connection
    /// whose headers do not arrive within
    /// [`header_read_timeout`](Self::header_read_timeout) is closed. There
    /// is no authentication: serve [`router`](Self::router) behind your own
    /// to expose it further than this machine's own processes.
    ///
    /// Point an agent at it with [`http_entry`](Self::http_entry).
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let header_read_timeout = self.header_read_timeout;
        let router = self.router(&shutdown);
        serve_router(listener, router, header_read_timeout, shutdown).await;
    }

    /// The bridge as an axum router serving streamable HTTP at `/mcp`, for
    /// a host that serves it from its own server, behind its own layers
    /// (authentication, say); its sessions end when `shutdown` is
    /// cancelled. Loopback `Host`s only, and no `Origin` but the
    /// [`allowed_origins`](Self::allowed_origins).
    pub fn router(self, shutdown: &tokio_util::sync::CancellationToken) -> axum::Router {
        use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
        use rmcp::transport::streamable_http_server::{
            StreamableHttpServerConfig, StreamableHttpService,
        };

        let mut config = StreamableHttpServerConfig::default()
            .with_allowed_origins(self.allowed_origins.clone())
            .enforce_origin_validation();
        config.cancellation_token = shutdown.child_token();
        let service = StreamableHttpService::new(
            move || Ok(self.for_session()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        axum::Router::new().nest_service("/mcp", service)
    }

    /// The `mcpServers` entry for a bridge served at `url` (e.g.
    /// `http://127.0.0.1:7345/mcp`).
    pub fn http_entry(url: impl Into<String>) -> McpServerEntry {
        McpServerEntry::Http(integrations_core::config::HttpServer::new(
            ConfigString::plain(url),
        ))
    }
}

/// How long [`serve_router`] lets its connections finish after shutdown.
#[cfg(feature = "http")]
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `router` on `listener` over HTTP/1.1 until `shutdown` is
/// cancelled, then gives its connections 5 s to finish and closes the
/// rest (a server-sent events stream, say): what
/// [`Bridge::serve_http`] does, for a host's own routes. A connection
/// whose request headers have not all arrived within `header_read_timeout`
/// is closed (`axum::serve` sets no such limit, so a client sending them a
/// byte at a time holds a connection for ever).
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    header_read_timeout: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, say: wait, as axum does.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = shutdown.clone();
        connections.spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let connection = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    // A stream that never ends (server-sent events) is
                    // dropped after the grace.
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
                }
            }
        });
    }
    connections.close();
    connections.wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_takes_only_the_task_ids_it_made() {
        let tasks = Tasks {
            manager: rmcp::task_manager::TaskManager::default(),
            replica: Some(ServerName::from_static("r1")),
        };
        assert_eq!(tasks.outside("abc".into()), "r1.abc");
        assert_eq!(tasks.inside("r1.abc").unwrap(), "abc");
        for foreign in ["r10.abc", "r2.abc", "r1", "abc", "", ".r1.abc"] {
            let refused = tasks.inside(foreign).unwrap_err();
            assert!(
                refused.message.contains("not made by this replica"),
                "{foreign}"
            );
        }
        let unnamed = Tasks::default();
        assert_eq!(unnamed.outside("abc".into()), "abc");
        assert_eq!(unnamed.inside("r1.abc").unwrap(), "r1.abc");
    }
}
