//! [`Bridge`]: the runtime's built-in integrations as an MCP server.

// rmcp 3.11 marks logging, sampling and elicitation from servers as
// deprecated (SEP-2577, for protocol 2026-07-28); the protocol this bridge
// speaks (2025-11-25) has them, and clients use them.
#![allow(deprecated)]

use std::fmt;
use std::sync::Arc;

use std::collections::HashSet;
use std::sync::Mutex;

use integrations_core::{
    ActionContext, ActionResult, CompletionTarget, ConfigString, Error as CoreError, EventKind,
    Integration, IntegrationId, LogLevel, McpServerEntry, Prompt, Runtime, Serves, StdioServer,
};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, InitializeResult,
    JsonObject, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Reference, ServerCapabilities, SetLevelRequestParams,
    SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Error, SEPARATOR};

mod peer;
mod wire;

use peer::BridgePeer;

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
    name: String,
    flat: bool,
    session: Arc<SessionState>,
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
            name: "integrations-bridge".into(),
            flat: false,
            session: Arc::default(),
        }
    }

    /// Sets the server name announced in the handshake.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
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

    /// The MCP tools: one per capability of every running integration.
    pub fn tools(&self) -> Vec<Tool> {
        let registry = self.runtime.registry();
        registry
            .ids()
            .iter()
            .flat_map(|id| {
                registry
                    .capabilities(id.as_str())
                    .unwrap_or_default()
                    .iter()
                    .map(move |capability| {
                        let schema: JsonObject = match &capability.parameters {
                            Value::Object(schema) => schema.clone(),
                            _ => JsonObject::new(),
                        };
                        let mut tool = Tool::new(
                            self.tool_name(id.as_str(), &capability.name),
                            capability.description.clone(),
                            schema,
                        );
                        if let Some(Value::Object(output)) = &capability.output_schema {
                            tool.output_schema = Some(Arc::new(output.clone()));
                        }
                        tool
                    })
            })
            .collect()
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
        let service = ServiceExt::serve(self.for_session(), stream)
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

fn render(output: &Value) -> String {
    match output {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// What one client's session of the bridge holds: its log level and its
/// resource subscriptions, with the task that forwards their updates
/// (stopped when the session ends).
pub(crate) struct SessionState {
    level: Arc<Mutex<LogLevel>>,
    subscriptions: Arc<Mutex<HashSet<String>>>,
    forwarder: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Default for SessionState {
    fn default() -> Self {
        Self {
            level: Arc::new(Mutex::new(LogLevel::Info)),
            subscriptions: Arc::default(),
            forwarder: Mutex::new(None),
        }
    }
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.forwarder).take() {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn logging_level(level: &rmcp::model::LoggingLevel) -> LogLevel {
    use rmcp::model::LoggingLevel as Mcp;
    match level {
        Mcp::Debug => LogLevel::Debug,
        Mcp::Info => LogLevel::Info,
        Mcp::Notice => LogLevel::Notice,
        Mcp::Warning => LogLevel::Warning,
        Mcp::Error => LogLevel::Error,
        Mcp::Critical => LogLevel::Critical,
        Mcp::Alert => LogLevel::Alert,
        _ => LogLevel::Emergency,
    }
}

impl Bridge {
    /// A copy for one client's session, with state of its own.
    fn for_session(&self) -> Self {
        Self {
            session: Arc::default(),
            ..self.clone()
        }
    }

    /// What the running integrations serve, together.
    fn serves(&self) -> Serves {
        let mut all = Serves::nothing();
        for (_, integration) in self.runtime.registry().iter() {
            let serves = integration.serves();
            all.resources |= serves.resources;
            all.subscriptions |= serves.subscriptions;
            all.prompts |= serves.prompts;
            all.completions |= serves.completions;
            all.logging |= serves.logging;
        }
        all
    }

    /// The running integrations that serve what `wanted` picks.
    fn serving(&self, wanted: fn(&Serves) -> bool) -> Vec<(IntegrationId, Arc<dyn Integration>)> {
        self.runtime
            .registry()
            .iter()
            .filter(|(_, integration)| wanted(&integration.serves()))
            .map(|(id, integration)| (id.clone(), Arc::clone(integration)))
            .collect()
    }

    /// The integration whose templates or listed resources include `uri`.
    async fn resource_owner(&self, uri: &str) -> Option<Arc<dyn Integration>> {
        let serving = self.serving(|s| s.resources);
        for (_, integration) in &serving {
            if integration
                .resource_templates()
                .iter()
                .any(|template| template.matches(uri).is_some())
            {
                return Some(Arc::clone(integration));
            }
        }
        for (_, integration) in serving {
            if let Ok(resources) = integration.list_resources().await
                && resources.iter().any(|resource| resource.uri == uri)
            {
                return Some(integration);
            }
        }
        None
    }

    fn prompt_owner(&self, name: &str) -> Option<(Arc<dyn Integration>, Prompt)> {
        self.serving(|s| s.prompts)
            .into_iter()
            .find_map(|(_, integration)| {
                let prompt = integration.prompts().into_iter().find(|p| p.name == name)?;
                Some((integration, prompt))
            })
    }

    /// Starts forwarding resource updates to this session's client.
    fn forward_updates(&self, peer: rmcp::Peer<RoleServer>) {
        let mut forwarder = lock(&self.session.forwarder);
        if forwarder.is_some() {
            return;
        }
        let mut events = self.runtime.subscribe();
        let subscriptions = Arc::clone(&self.session.subscriptions);
        *forwarder = Some(tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let EventKind::Notification { notification } = &event.kind else {
                    continue;
                };
                let Some(uri) = notification.updated_resource() else {
                    continue;
                };
                if !lock(&subscriptions).contains(uri) {
                    continue;
                }
                let Ok(param) = wire::parse(json!({ "uri": uri })) else {
                    continue;
                };
                if peer.notify_resource_updated(param).await.is_err() {
                    return;
                }
            }
        }));
    }
}

fn failed(what: &str, error: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(format!("{what}: {error}"), None)
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> InitializeResult {
        let serves = self.serves();
        let mut capabilities = json!({});
        if !self.tools().is_empty() {
            capabilities["tools"] = json!({});
        }
        if serves.resources {
            capabilities["resources"] = json!({ "subscribe": serves.subscriptions });
        }
        if serves.prompts {
            capabilities["prompts"] = json!({});
        }
        if serves.completions {
            capabilities["completions"] = json!({});
        }
        if serves.logging {
            capabilities["logging"] = json!({});
        }
        let capabilities: ServerCapabilities = serde_json::from_value(capabilities)
            .unwrap_or_else(|_| ServerCapabilities::builder().enable_tools().build());
        InitializeResult::new(capabilities).with_server_info(Implementation::new(
            self.name.clone(),
            env!("CARGO_PKG_VERSION"),
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(target) = self.target(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        let peer = BridgePeer {
            peer: context.peer.clone(),
            progress: context.meta.get_progress_token(),
            level: Arc::clone(&self.session.level),
            logger: target.split('.').next().unwrap_or_default().to_owned(),
        };
        let action_context = ActionContext::new(Arc::new(peer), context.ct.clone());
        let result = match self
            .runtime
            .dispatch_with(&target, arguments, action_context)
            .await
        {
            Ok(result) => result,
            // The caller's mistakes are protocol errors...
            Err(error @ CoreError::Registry(_)) => {
                return Err(ErrorData::invalid_params(error.to_string(), None));
            }
            // ...the integration's failures are tool errors the agent sees.
            Err(error) => ActionResult::error(error.to_string()),
        };
        let content: Vec<Value> = if result.content.is_empty() {
            vec![json!({"type": "text", "text": render(&result.output)})]
        } else {
            result.content.iter().map(wire::content).collect()
        };
        let mut reply = json!({"content": content, "isError": result.is_error});
        if let Some(structured) = result.structured {
            reply["structuredContent"] = structured;
        }
        Ok(wire::parse::<CallToolResult>(reply)?.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut resources = Vec::new();
        for (id, integration) in self.serving(|s| s.resources) {
            let listed = integration
                .list_resources()
                .await
                .map_err(|e| failed(&format!("`{id}` could not list its resources"), e))?;
            resources.extend(listed.iter().map(wire::resource));
        }
        wire::parse(json!({ "resources": resources }))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let templates: Vec<Value> = self
            .serving(|s| s.resources)
            .iter()
            .flat_map(|(_, integration)| integration.resource_templates())
            .map(|template| wire::template(&template))
            .collect();
        wire::parse(json!({ "resourceTemplates": templates }))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let not_found = || {
            ErrorData::resource_not_found(
                format!("no resource `{}`", request.uri),
                Some(json!({ "uri": request.uri })),
            )
        };
        let owner = self
            .resource_owner(&request.uri)
            .await
            .ok_or_else(not_found)?;
        let contents = owner
            .read_resource(&request.uri)
            .await
            .map_err(|e| failed(&format!("reading `{}`", request.uri), e))?;
        let contents: Vec<Value> = contents.iter().map(wire::contents).collect();
        Ok(wire::parse::<ReadResourceResult>(json!({ "contents": contents }))?.into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !self.serves().subscriptions {
            return Err(ErrorData::invalid_request(
                "no integration here notifies resource updates",
                None,
            ));
        }
        lock(&self.session.subscriptions).insert(request.uri);
        self.forward_updates(context.peer);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        lock(&self.session.subscriptions).remove(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts: Vec<Value> = self
            .serving(|s| s.prompts)
            .iter()
            .flat_map(|(_, integration)| integration.prompts())
            .map(|prompt| wire::prompt(&prompt))
            .collect();
        wire::parse(json!({ "prompts": prompts }))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let (owner, prompt) = self.prompt_owner(&request.name).ok_or_else(|| {
            ErrorData::invalid_params(format!("no prompt `{}`", request.name), None)
        })?;
        let arguments = request.arguments.unwrap_or_default();
        if let Some(missing) = prompt
            .arguments
            .iter()
            .find(|argument| argument.required && !arguments.contains_key(&argument.name))
        {
            return Err(ErrorData::invalid_params(
                format!("prompt `{}` needs argument `{}`", prompt.name, missing.name),
                None,
            ));
        }
        let messages = owner
            .get_prompt(&request.name, &arguments)
            .await
            .map_err(|e| failed(&format!("prompt `{}`", request.name), e))?;
        let messages: Vec<Value> = messages.iter().map(wire::message).collect();
        let mut result = json!({ "messages": messages });
        if let Some(description) = prompt.description {
            result["description"] = json!(description);
        }
        Ok(wire::parse::<GetPromptResult>(result)?.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let (owner, target) = match &request.r#ref {
            Reference::Prompt(prompt) => (
                self.prompt_owner(&prompt.name).map(|(owner, _)| owner),
                CompletionTarget::Prompt(prompt.name.clone()),
            ),
            Reference::Resource(resource) => (
                self.serving(|s| s.resources)
                    .into_iter()
                    .map(|(_, integration)| integration)
                    .find(|integration| {
                        integration
                            .resource_templates()
                            .iter()
                            .any(|t| t.uri_template == resource.uri)
                    }),
                CompletionTarget::ResourceTemplate(resource.uri.clone()),
            ),
            _ => (None, CompletionTarget::Prompt(String::new())),
        };
        let mut values = match owner {
            Some(owner) => owner
                .complete(&target, &request.argument.name, &request.argument.value)
                .await
                .map_err(|e| failed("completing", e))?,
            None => Vec::new(),
        };
        let total = values.len();
        values.truncate(100);
        wire::parse(json!({
            "completion": { "values": values, "total": total, "hasMore": total > 100 }
        }))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        *lock(&self.session.level) = logging_level(&request.level);
        Ok(())
    }
}
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl Bridge {
    /// Serves streamable HTTP at `/mcp` on `listener` until `shutdown` is
    /// cancelled. Only loopback `Host`s are accepted, against DNS rebinding.
    ///
    /// Point an agent at it with [`http_entry`](Self::http_entry).
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<(), Error> {
        let address = listener.local_addr().ok();
        let router = self.router(&shutdown);
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(|source| Error::Io {
                path: address.map(|a| a.to_string()).unwrap_or_default().into(),
                source,
            })
    }

    /// The bridge as an axum router serving streamable HTTP at `/mcp`, for
    /// a host that serves it from its own server, behind its own layers
    /// (authentication, say); its sessions end when `shutdown` is
    /// cancelled.
    pub fn router(self, shutdown: &tokio_util::sync::CancellationToken) -> axum::Router {
        use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
        use rmcp::transport::streamable_http_server::{
            StreamableHttpServerConfig, StreamableHttpService,
        };

        let mut config = StreamableHttpServerConfig::default();
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
        McpServerEntry::Http(integrations_core::HttpServer::new(ConfigString::plain(url)))
    }
}
