//! A host app: a small axum server wired the way a real host wires the
//! crates, with a page to try it in a browser, all offline.
//!
//! Routes (the tenant comes from an `x-tenant` header, `demo` without one:
//! a stand-in for the tenant of a session; a real host derives it from its
//! own authentication, in a layer in front of these routes). Requests other
//! than `GET` must send JSON (`content-type: application/json`), so no page
//! on another site can post to them. The page shows every server-provided
//! string as text, never as HTML.
//!
//! - `GET /integrations/available?q=&kind=&category=`: the catalog, searched
//! - `GET /integrations/connected`: the tenant's connections, with health
//! - `DELETE /integrations/{provider}`: disconnect: deletes the credentials
//!   and closes the tenant's MCP session with the provider's server
//! - `GET /integrations/{provider}/tools`: the tools of the tenant's MCP
//!   server for a connected provider (the demo server's Slack tools, run
//!   with the tenant's token), through the host's `McpPool`
//! - `GET /integrations/mcp/metrics`: the pool's live sessions
//! - `POST /integrations/mcp/{name}`: connect an MCP server from the form.
//!   Over stdio: one of the servers this host installed (`{"server":
//!   "demo"}`: the demo server), its arguments, and its environment, each
//!   value text or a reference to one of the tenant's connections
//!   (`{"connection": "slack"}`: that connection's token, read from the
//!   credential store, never from the form); the tenant's session runs it.
//!   Over HTTP: `{"url"}`, one of the remote servers this host lists (never
//!   a URL a tenant typed: the host would fetch it); when the server asks
//!   for OAuth, the answer is `{"authorize": URL}` to send the user to,
//!   and the server's authorization server comes back to
//!   `/integrations/{name}/oauth/callback`
//! - `POST /integrations/{provider}/call`: call a tool of a connected MCP
//!   server (`{"tool", "arguments"}`)
//! - `GET /integrations/{provider}/oauth/start` and `/oauth/callback`: the
//!   OAuth code flow (against a local fake Slack with an OAuth endpoint;
//!   for a remote MCP server, the pool's flow against the server's own
//!   authorization server, a local one here)
//! - `POST /integrations/{provider}/token`: connect a vendor API whose auth
//!   method is a token (Notion's internal integration token, against a
//!   local fake Notion): `{"token"}`, stored sealed, never shown again
//! - `POST /integrations/{provider}/test`: a connection test (for an MCP
//!   server, through the tenant's session in the pool: latency, server,
//!   capabilities and tools)
//! - `GET /integrations/{provider}/destinations`: where content can go
//! - `GET /integrations/{provider}/events` and `/health`: the event log and
//!   health of a connection: the summary of its recent calls and tests, an
//!   MCP server's state in the pool, and the history, oldest first (every
//!   call and test, every change of the pool's state)
//! - `POST /integrations/export` and `GET /integrations/exports`: export
//!   markdown, and the tenant's export log
//! - `GET /events`: server-sent events of the runtime's notifications
//! - `GET /`: the page; `GET /health`: liveness
//!
//! ```sh
//! cargo run --example host_app            # walks the flow against itself and exits
//! cargo run --example host_app -- --serve # keeps serving; open the printed URL
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use integrations_core::catalog::CatalogQuery;
use integrations_core::catalog::{AuthMethod, Catalog, CatalogEntry, IntegrationKind};
use integrations_core::config::{ConfigString, McpServerEntry, StdioServer, ToolPolicy};
use integrations_core::credentials::CredentialKind;
use integrations_core::credentials::{CredentialStore, EncryptionKey, KeyRing, SqliteStore};
use integrations_core::events::{Event, EventKind, EventSink};
use integrations_core::health::{HealthMetrics, Sample};
use integrations_core::id::{KeyId, ProviderId, ServerName};
use integrations_core::{
    BoxError, Config, ConnectionId, Integration, IntegrationId, Notification, Registry, Runtime,
    TenantId, async_trait,
};
use integrations_export::providers::{ExportContext, NotionProvider, SlackProvider, VendorAccess};
use integrations_export::{
    AuditProvider, Content, ExportRequest, ExportService, SqliteExportStore,
};
use integrations_fakes::Reply;
use integrations_fakes::notion::FakeNotion;
use integrations_fakes::slack::FakeSlack;
use integrations_mcp::client::McpAuthorization;
use integrations_mcp::{Bridge, McpPool, SessionKey};
use integrations_vendor::oauth::{OAuthClient, OAuthFlow, OAuthProvider};
use integrations_vendor::{Auth, Vendor, VendorConnection};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The token the fake Slack's OAuth endpoint issues, and its API accepts.
const SLACK_TOKEN: &str = "xoxb-host-app";
/// The integration token the fake Notion accepts (a user pastes theirs in
/// the page).
const NOTION_TOKEN: &str = "secret_host_app_notion";
/// The remote MCP server this host lists: a notes server behind OAuth
/// (`integrations_examples::protected_mcp`, on a port of its own).
const REMOTE_MCP: &str = "notes-mcp";

/// Everything the routes share.
struct App {
    catalog: integrations_core::catalog::Catalog,
    store: Arc<dyn CredentialStore>,
    /// OAuth flows of the providers this host can connect.
    flows: HashMap<String, OAuthFlow>,
    slack_api: String,
    /// Vendor APIs a tenant connects with a token, and their API's base.
    token_vendors: HashMap<String, Vendor>,
    exports: ExportService,
    /// Each tenant's health records: one tenant's errors are not another's.
    health: Mutex<HashMap<TenantId, Arc<HealthMetrics>>>,
    log: Arc<EventLog>,
    runtime: Arc<Runtime>,
    /// The tenants' MCP sessions: one server per connected provider.
    mcp: McpPool,
    /// The MCP servers tenants connected from the form, by tenant and name.
    mcp_servers: Mutex<HashMap<(TenantId, String), McpServerEntry>>,
    /// The URL of [`REMOTE_MCP`]: the only one a tenant can connect over HTTP.
    remote_mcp: String,
    /// Where this host is reached: OAuth callbacks come back here.
    base: String,
}

impl App {
    /// Gives `tenant` its own MCP server for a connected Slack: the demo
    /// server's Slack tools (this binary with `--demo-server`), with the
    /// tenant's token in its environment. A new token replaces the
    /// session at the tenant's next call.
    async fn connect_mcp(&self, tenant: &TenantId, provider: &str) -> Result<(), Failure> {
        if provider != "slack" {
            return Ok(());
        }
        let credentials = self.store.get(tenant, &connection(provider)?).await?;
        let Some(CredentialKind::OAuth2(token)) = credentials.map(|c| c.value.kind) else {
            return Ok(());
        };
        let me = std::env::current_exe()
            .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let server = StdioServer::new(ConfigString::plain(me.to_string_lossy()))
            .args(["--demo-server", "--slack-api", &self.slack_api])
            // Of the demo server's tools, the agent gets Slack's.
            .tools(ToolPolicy::new(["slack_*"], Vec::<String>::new())?)
            .env(
                "SLACK_BOT_TOKEN",
                ConfigString::secret(token.access_token.expose_secret()),
            );
        self.mcp
            .set_tenant_server(tenant.clone(), server_name(provider)?, server.into());
        Ok(())
    }

    /// Records that `tenant` connected the MCP server `name`.
    fn connected_mcp(
        &self,
        tenant: &TenantId,
        name: &str,
        entry: McpServerEntry,
    ) -> Result<(), Failure> {
        self.mcp_servers
            .lock()
            .unwrap()
            .insert((tenant.clone(), name.to_owned()), entry);
        self.log.push(
            tenant,
            Event::now(IntegrationId::new(name)?, EventKind::Connected),
        );
        Ok(())
    }

    /// The MCP server `tenant` connected as `name` from the form, if any.
    fn mcp_server(&self, tenant: &TenantId, name: &str) -> Option<McpServerEntry> {
        self.mcp_servers
            .lock()
            .unwrap()
            .get(&(tenant.clone(), name.to_owned()))
            .cloned()
    }

    /// Records a call or a test of `tenant`'s MCP server `name` in its
    /// health history.
    fn record(
        &self,
        tenant: &TenantId,
        name: &str,
        took: Duration,
        error: Option<String>,
    ) -> Result<(), Failure> {
        let sample = match error {
            None => Sample::success(took),
            Some(error) => Sample::failure(took, error),
        };
        self.health(tenant)
            .record(&IntegrationId::new(name)?, sample);
        Ok(())
    }

    /// `tenant`'s health records.
    fn health(&self, tenant: &TenantId) -> Arc<HealthMetrics> {
        let mut health = self.health.lock().unwrap();
        Arc::clone(
            health
                .entry(tenant.clone())
                .or_insert_with(|| Arc::new(HealthMetrics::new(256))),
        )
    }
}

/// The event log: every event, with the tenant it concerns.
#[derive(Debug, Default)]
struct EventLog(Mutex<Vec<(String, Event)>>);

impl EventLog {
    fn push(&self, tenant: &TenantId, event: Event) {
        self.0.lock().unwrap().push((tenant.to_string(), event));
    }

    /// When `tenant` last connected `provider`, and the last error since.
    fn history(
        &self,
        tenant: &TenantId,
        provider: &str,
    ) -> (Option<chrono::DateTime<chrono::Utc>>, Option<String>) {
        let log = self.0.lock().unwrap();
        let mut since = None;
        let mut last_error = None;
        for (who, event) in log.iter() {
            if who != tenant.as_str() || event.integration.as_str() != provider {
                continue;
            }
            match &event.kind {
                EventKind::Connected => (since, last_error) = (Some(event.at), None),
                EventKind::Tested {
                    success: false,
                    error,
                    ..
                } => last_error = error.clone(),
                EventKind::Error { message, .. } => last_error = Some(message.clone()),
                _ => {}
            }
        }
        (since, last_error)
    }
}

/// The pool's events (sessions closed, health changes) in the log of the
/// tenant they concern.
#[derive(Debug)]
struct PoolEvents(Arc<EventLog>);

#[async_trait]
impl EventSink for PoolEvents {
    async fn record(&self, event: &Event) -> Result<(), integrations_core::Error> {
        let tenant = match &event.kind {
            EventKind::SessionClosed { tenant, .. } | EventKind::HealthChanged { tenant, .. } => {
                tenant.clone()
            }
            _ => return Ok(()),
        };
        self.0
            .0
            .lock()
            .unwrap()
            .push((tenant.to_string(), event.clone()));
        Ok(())
    }
}

/// A built-in integration whose tick the page shows live: a notification
/// for every tenant, and, with `HOST_APP_NOTE` set, that text as a
/// notification for tenant `demo` alone: a stand-in for the third-party
/// text notifications carry (a vendor's message, an issue title), which the
/// page shows as text and `/events` sends to its tenant only.
struct Heartbeat {
    note: Option<String>,
}

#[async_trait]
impl Integration for Heartbeat {
    fn id(&self) -> &str {
        "heartbeat"
    }
    fn name(&self) -> &str {
        "Heartbeat"
    }
    fn tick_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(500))
    }
    async fn tick(&self) -> Result<Vec<Notification>, BoxError> {
        let at = chrono::Utc::now().format("%H:%M:%S");
        let mut notifications = vec![Notification::new(
            "heartbeat",
            format!("all integrations running at {at}"),
        )];
        if let Some(note) = &self.note {
            notifications.push(Notification::new("note", note).for_tenant(TenantId::new("demo")?));
        }
        Ok(notifications)
    }
}

/// Errors as JSON with a status, never with a secret (the crates' errors
/// hold none).
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Self(StatusCode::BAD_GATEWAY, error.to_string())
    }
}

/// A provider's name from a URL or a form as an MCP server's name.
fn server_name(name: &str) -> Result<ServerName, Failure> {
    ServerName::new(name).map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))
}

fn tenant(headers: &HeaderMap) -> Result<TenantId, Failure> {
    let id = headers
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("demo");
    TenantId::new(id).map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))
}

fn connection(provider: &str) -> Result<ConnectionId, Failure> {
    ConnectionId::new(provider, "default")
        .map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))
}

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
    kind: Option<String>,
    category: Option<String>,
}

async fn available(
    State(app): State<Arc<App>>,
    Query(search): Query<Search>,
) -> Result<Json<Value>, Failure> {
    let mut query = CatalogQuery::new();
    if let Some(text) = search.q.filter(|q| !q.is_empty()) {
        query = query.text(text);
    }
    if let Some(kind) = search.kind {
        let kind = serde_json::from_value(json!(kind)).map_err(|_| {
            Failure(
                StatusCode::BAD_REQUEST,
                format!("unknown kind {kind:?}: mcp, vendor or custom"),
            )
        })?;
        query = query.kind(kind);
    }
    if let Some(category) = search.category {
        query = query.category(category);
    }
    let entries: Vec<Value> = app
        .catalog
        .search(&query)
        .into_iter()
        .map(|entry| {
            let mut value = json!(entry);
            value["connectable"] = json!(app.flows.contains_key(&entry.slug));
            value["token_form"] = json!(app.token_vendors.contains_key(&entry.slug));
            value
        })
        .collect();
    Ok(Json(json!(entries)))
}

async fn connected(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let connections = app.store.list(&tenant).await?;
    let history = |provider: &str| app.log.history(&tenant, provider);
    let mut listed: Vec<Value> = connections
        .iter()
        // The pool's OAuth tokens show with their server.
        .filter(|id| !McpAuthorization::is_pool_connection(id))
        .map(|id| {
            let provider = id.provider().as_str();
            let (since, last_error) = history(provider);
            json!({
                "kind": "vendor",
                "provider": provider,
                "connection": id.to_string(),
                "health": app.health(&tenant).summary(provider),
                "since": since, "last_error": last_error,
            })
        })
        .collect();
    let servers: Vec<String> = app
        .mcp_servers
        .lock()
        .unwrap()
        .keys()
        .filter(|(who, _)| *who == tenant)
        .map(|(_, name)| name.clone())
        .collect();
    for name in servers {
        let health = app
            .mcp
            .health(&SessionKey::new(tenant.clone(), server_name(&name)?));
        let (since, last_error) = history(&name);
        listed.push(json!({
            "kind": "mcp", "provider": name, "connection": name,
            "health": {"state": health.state, "reason": health.reason, "since": health.since},
            "since": since, "last_error": last_error.or(health.reason),
        }));
    }
    Ok(Json(json!(listed)))
}

/// The servers this host installed, which a tenant may run: never a
/// command a tenant typed.
fn installed(server: &str) -> Result<std::path::PathBuf, Failure> {
    match server {
        // This binary, serving the demo MCP server.
        "demo" => std::env::current_exe()
            .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        other => Err(Failure(
            StatusCode::BAD_REQUEST,
            format!("no MCP server {other:?} is installed on this host; choose `demo`"),
        )),
    }
}

/// The form that connects an MCP server: `server` (stdio) or `url` (HTTP).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct McpForm {
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: HashMap<String, EnvValue>,
}

/// An environment variable's value: text, or the token of one of the
/// tenant's connections.
#[derive(Deserialize)]
#[serde(untagged)]
enum EnvValue {
    Text(String),
    Connection { connection: String },
}

async fn connect_mcp_server(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(form): Json<McpForm>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    IntegrationId::new(&name).map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))?;
    let server = match (form.server, form.url) {
        (Some(server), None) => server,
        (None, Some(url)) => return connect_remote(&app, tenant, name, &url).await,
        _ => {
            return Err(Failure(
                StatusCode::BAD_REQUEST,
                "give `server` (a server installed on this host) or `url` (a remote server this host lists)".into(),
            ));
        }
    };
    let program = installed(&server)?;
    let mut args = vec!["--demo-server".to_owned()];
    args.extend(form.args);
    let mut server = StdioServer::new(ConfigString::plain(program.to_string_lossy())).args(args);
    for (variable, value) in form.env {
        let value = match value {
            EnvValue::Text(text) => ConfigString::plain(text),
            EnvValue::Connection {
                connection: provider,
            } => {
                let stored = app.store.get(&tenant, &connection(&provider)?).await?;
                let token = match stored.map(|c| c.value.kind) {
                    Some(CredentialKind::OAuth2(token)) => token.access_token,
                    Some(CredentialKind::Bearer { token }) => token,
                    Some(CredentialKind::ApiKey { key }) => key,
                    _ => {
                        return Err(Failure(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "{variable}: the tenant has no {provider} connection with a token; connect {provider} first"
                            ),
                        ));
                    }
                };
                ConfigString::secret(token.expose_secret())
            }
        };
        server = server.env(variable, value);
    }
    let entry = McpServerEntry::from(server);
    app.mcp
        .set_tenant_server(tenant.clone(), server_name(&name)?, entry.clone());
    app.connected_mcp(&tenant, &name, entry)?;
    Ok(Json(json!({"connected": name})))
}

/// Connects the remote MCP server at `url` (one this host lists) as
/// `name`: at once where the tenant's tokens are stored, else the answer
/// is where to send the user to authorize.
async fn connect_remote(
    app: &App,
    tenant: TenantId,
    name: String,
    url: &str,
) -> Result<Json<Value>, Failure> {
    if name != REMOTE_MCP || url != app.remote_mcp {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            format!(
                "{url:?} is not a remote MCP server this host lists; connect {REMOTE_MCP} at {}",
                app.remote_mcp
            ),
        ));
    }
    let entry = Bridge::http_entry(url);
    app.mcp
        .set_tenant_server(tenant.clone(), server_name(&name)?, entry.clone());
    let key = SessionKey::new(tenant.clone(), server_name(&name)?);
    match app.mcp.list_tools(&key).await {
        Ok(_) => {
            app.connected_mcp(&tenant, &name, entry)?;
            Ok(Json(json!({"connected": name})))
        }
        Err(integrations_mcp::Error::AuthorizationRequired { url, .. }) => {
            Ok(Json(json!({"authorize": url})))
        }
        Err(error) => {
            app.mcp.remove_tenant_server(&tenant, &key.server).await;
            Err(Failure(StatusCode::BAD_GATEWAY, error.to_string()))
        }
    }
}

#[derive(Deserialize)]
struct ToolCall {
    tool: String,
    #[serde(default)]
    arguments: Value,
}

async fn call_tool(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Json(call): Json<ToolCall>,
) -> Result<Json<Value>, Failure> {
    use integrations_mcp::client::ToolResultExt;
    let tenant = tenant(&headers)?;
    let key = SessionKey::new(tenant.clone(), server_name(&provider)?);
    let arguments = if call.arguments.is_null() {
        json!({})
    } else {
        call.arguments
    };
    let started = std::time::Instant::now();
    let result = app.mcp.call_tool(&key, &call.tool, arguments).await;
    if app.mcp_server(&tenant, &provider).is_some() {
        // Only servers the tenant connected: a name from the URL adds no
        // history of its own.
        let error = result.as_ref().err().map(ToString::to_string);
        app.record(&tenant, &provider, started.elapsed(), error)?;
    }
    let result = result.map_err(|e| Failure(StatusCode::BAD_GATEWAY, e.to_string()))?;
    Ok(Json(
        json!({"text": result.text(), "is_error": result.is_tool_error()}),
    ))
}

async fn disconnect(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let mut removed = app.store.delete(&tenant, &connection(&provider)?).await?;
    // The tokens the pool sealed for a remote MCP server go too.
    removed |= app
        .mcp
        .forget_authorization(&tenant, &server_name(&provider)?)
        .await
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    // The provider's MCP server ran with the token just deleted: its
    // session closes (after its calls in flight), its process with it.
    let closed = app
        .mcp
        .remove_tenant_server(&tenant, &server_name(&provider)?)
        .await;
    app.mcp_servers
        .lock()
        .unwrap()
        .remove(&(tenant.clone(), provider.clone()));
    app.log.push(
        &tenant,
        Event::now(IntegrationId::new(&provider)?, EventKind::Disconnected),
    );
    Ok(Json(
        json!({"removed": removed, "mcp_server_removed": closed}),
    ))
}

async fn mcp_tools(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let key = SessionKey::new(tenant, server_name(&provider)?);
    let tools = app
        .mcp
        .list_tools(&key)
        .await
        .map_err(|e| Failure(StatusCode::BAD_GATEWAY, e.to_string()))?;
    let names: Vec<&str> = tools.iter().map(|tool| &*tool.name).collect();
    Ok(Json(
        json!({"tools": names, "health": app.mcp.health(&key).state}),
    ))
}

async fn mcp_metrics(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({"sessions": app.mcp.metrics().sessions}))
}

async fn oauth_start(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Result<Redirect, Failure> {
    let tenant = tenant(&headers)?;
    let flow = app.flows.get(&provider).ok_or_else(|| {
        Failure(
            StatusCode::NOT_FOUND,
            format!("{provider} cannot be connected in this example"),
        )
    })?;
    Ok(Redirect::to(
        &flow.start(&tenant, &connection(&provider)?).url,
    ))
}

#[derive(Deserialize)]
struct Callback {
    state: String,
    code: String,
}

async fn oauth_callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    uri: axum::http::Uri,
    Query(back): Query<Callback>,
) -> Result<Redirect, Failure> {
    let tenant = tenant(&headers)?;
    if provider == REMOTE_MCP {
        // The pool's own flow: it checks the state (and the issuer, where
        // the server sends one) and exchanges the code.
        let server = app
            .mcp
            .complete_authorization(&tenant, &format!("{}{uri}", app.base))
            .await
            .map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))?;
        // Connected means it answers: the session starts with the tokens.
        let key = SessionKey::new(tenant.clone(), server.clone());
        app.mcp
            .list_tools(&key)
            .await
            .map_err(|e| Failure(StatusCode::BAD_GATEWAY, e.to_string()))?;
        app.connected_mcp(
            &tenant,
            server.as_str(),
            Bridge::http_entry(&app.remote_mcp),
        )?;
        return Ok(Redirect::to(&format!("/?connected={server}")));
    }
    let flow = app
        .flows
        .get(&provider)
        .ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("no flow for {provider}")))?;
    let id = flow
        .callback(&tenant, &back.state, &back.code)
        .await
        .map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))?;
    app.connect_mcp(&tenant, &provider).await?;
    app.log.push(
        &tenant,
        Event::now(
            IntegrationId::new(id.provider().as_str())?,
            EventKind::Connected,
        ),
    );
    Ok(Redirect::to(&format!("/?connected={provider}")))
}

/// `tenant`'s connection to a vendor API this host can connect.
fn vendor_connection(
    app: &App,
    tenant: &TenantId,
    provider: &str,
) -> Result<VendorConnection, Failure> {
    let vendor = match provider {
        "slack" => Vendor::slack().with_base_url(&app.slack_api),
        other => app.token_vendors.get(other).cloned().ok_or_else(|| {
            Failure(
                StatusCode::NOT_FOUND,
                format!("{other} has no connection test in this example"),
            )
        })?,
    };
    Ok(VendorConnection::builder(vendor)
        .auth(Auth::Bearer)
        .credentials(app.store.clone(), tenant.clone(), connection(provider)?)
        .health(app.health(tenant))
        .build()?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenForm {
    token: String,
}

/// Connects a vendor API whose auth method is a token: the token is
/// stored sealed, then tested; a token the vendor refuses is not kept.
async fn connect_token(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Json(form): Json<TokenForm>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    if !app.token_vendors.contains_key(&provider) {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            format!("{provider} is not connected with a token here"),
        ));
    }
    let token = form.token.trim();
    if token.is_empty() {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            "the token is empty".into(),
        ));
    }
    let id = connection(&provider)?;
    app.store
        .put(
            &tenant,
            &id,
            &integrations_core::credentials::Credentials::bearer(token),
        )
        .await?;
    let test = vendor_connection(&app, &tenant, &provider)?
        .test_connection()
        .await;
    if !test.success() {
        app.store.delete(&tenant, &id).await?;
        let why = test.error.map(|e| e.to_string()).unwrap_or_default();
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            format!("{provider} refused the token: {why}"),
        ));
    }
    app.log.push(
        &tenant,
        Event::now(IntegrationId::new(&provider)?, EventKind::Connected),
    );
    Ok(Json(
        json!({"connected": provider, "identity": test.identity}),
    ))
}

async fn test(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let (mut answer, took, error) = match app.mcp_server(&tenant, &provider) {
        // The tenant's own session: with its environment, or its tokens.
        Some(_) => {
            let key = SessionKey::new(tenant.clone(), server_name(&provider)?);
            let started = std::time::Instant::now();
            let listed = async {
                let session = app.mcp.get(&key).await?;
                let tools = app.mcp.list_tools(&key).await?;
                Ok::<_, integrations_mcp::Error>((session.server_info(), tools))
            }
            .await;
            let took = started.elapsed();
            match listed {
                Ok((info, tools)) => {
                    let names: Vec<&str> = tools.iter().map(|tool| &*tool.name).collect();
                    let answer = json!({
                        "server": info
                            .as_ref()
                            .and_then(|i| i.server_info.as_ref())
                            .map(|server| (&server.name, &server.version)),
                        "capabilities": info.as_ref().map(|i| &i.capabilities),
                        "tools": names,
                    });
                    (answer, took, None)
                }
                Err(error) => (json!({}), took, Some(error.to_string())),
            }
        }
        None => {
            let test = vendor_connection(&app, &tenant, &provider)?
                .test_connection()
                .await;
            let answer = json!({"identity": test.identity});
            (
                answer,
                test.response_time,
                test.error.map(|e| e.to_string()),
            )
        }
    };
    if app.mcp_server(&tenant, &provider).is_some() {
        // A vendor connection records its own calls, tests included.
        app.record(&tenant, &provider, took, error.clone())?;
    }
    let response_time_ms = millis(took);
    let success = error.is_none();
    app.log.push(
        &tenant,
        Event::now(
            IntegrationId::new(&provider)?,
            EventKind::Tested {
                success,
                response_time_ms,
                error: error.clone(),
            },
        ),
    );
    answer["success"] = json!(success);
    answer["response_time_ms"] = json!(response_time_ms);
    answer["error"] = json!(error);
    Ok(Json(answer))
}

async fn destinations(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let provider = app
        .exports
        .provider(&ProviderId::new(&provider)?)
        .map_err(|e| Failure(StatusCode::NOT_FOUND, e.to_string()))?;
    let page = provider
        .list_destinations(&ExportContext::new(tenant), None)
        .await?;
    Ok(Json(json!(page)))
}

async fn events(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?.to_string();
    let log = app.log.0.lock().unwrap();
    let events: Vec<&Event> = log
        .iter()
        .filter(|(who, event)| *who == tenant && event.integration.as_str() == provider)
        .map(|(_, event)| event)
        .collect();
    Ok(Json(json!(events)))
}

/// A connection's health: the summary of its recent calls and tests, an
/// MCP server's state in the pool, and its history, oldest first: each call
/// and test (`ok` or `failed`), and each change of the pool's state (the
/// state it went to, `from` the one before).
async fn health(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let metrics = app.health(&tenant);
    let mut history: Vec<(chrono::DateTime<chrono::Utc>, Value)> = metrics
        .samples(&provider)
        .into_iter()
        .map(|sample| {
            let status = if sample.is_success() { "ok" } else { "failed" };
            let entry = json!({"at": sample.at, "status": status, "response_time_ms": millis(sample.response_time), "detail": sample.error});
            (sample.at, entry)
        })
        .collect();
    let mut answer = json!({"summary": metrics.summary(&provider)});
    if app.mcp_server(&tenant, &provider).is_some() {
        let state = app
            .mcp
            .health(&SessionKey::new(tenant.clone(), server_name(&provider)?));
        answer["state"] =
            json!({"state": state.state, "reason": state.reason, "since": state.since});
        let log = app.log.0.lock().unwrap();
        for (_, event) in log.iter().filter(|(who, _)| *who == tenant.as_str()) {
            if let EventKind::HealthChanged {
                server,
                from,
                to,
                reason,
                ..
            } = &event.kind
                && server.as_str() == provider
            {
                let entry = json!({"at": event.at, "status": to, "from": from, "detail": reason});
                history.push((event.at, entry));
            }
        }
    }
    history.sort_by_key(|(at, _)| *at);
    answer["history"] = history.into_iter().map(|(_, entry)| entry).collect();
    Ok(Json(answer))
}

/// Whole milliseconds, as the page shows them.
fn millis(took: Duration) -> u64 {
    u64::try_from(took.as_millis()).unwrap_or(u64::MAX)
}

/// Refuses a request that changes something unless its body is JSON: a
/// page on another site can send a form post (with the user's cookies, once
/// the tenant comes from a session) but not a JSON one without CORS.
async fn json_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let json = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if request.method() != axum::http::Method::GET && !json {
        return Failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send `content-type: application/json`".into(),
        )
        .into_response();
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct ExportBody {
    provider: String,
    destination: String,
    title: Option<String>,
    markdown: String,
    idempotency_key: Option<String>,
}

async fn export(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<ExportBody>,
) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let mut content = Content::new(body.markdown);
    if let Some(title) = body.title {
        content = content.title(title);
    }
    let provider = IntegrationId::new(&body.provider)?;
    let mut request = ExportRequest::new(
        tenant.clone(),
        ProviderId::new(&body.provider)?,
        body.destination,
        content,
    );
    if let Some(key) = body.idempotency_key {
        request = request.idempotency_key(key);
    }
    let record = app
        .exports
        .export(request)
        .await
        .map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))?;
    // The event log is per tenant: the service's own event sink does not
    // say whose export it was, so the route records it.
    let kind = match (&record.result, &record.error) {
        (Some(result), _) => EventKind::Exported {
            destination: result
                .external_url
                .clone()
                .unwrap_or_else(|| record.request.destination.clone()),
        },
        (None, error) => EventKind::Error {
            operation: "export".into(),
            message: error
                .as_ref()
                .map_or_else(|| record.status.to_string(), |error| error.message.clone()),
        },
    };
    app.log.push(&tenant, Event::now(provider, kind));
    Ok(Json(record_json(&record)))
}

fn record_json(record: &integrations_export::ExportRecord) -> Value {
    json!({
        "id": record.id, "status": record.status, "provider": record.request.provider,
        "destination": record.request.destination, "key": record.request.idempotency_key,
        "external_url": record.result.as_ref().and_then(|r| r.external_url.clone()),
        "error": record.error.as_ref().map(|error| &error.message),
        "error_kind": record.error.as_ref().map(|error| error.kind),
        "attempts": record.attempts,
    })
}

async fn exports(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Value>, Failure> {
    let tenant = tenant(&headers)?;
    let log = app.exports.log(&tenant, 50).await?;
    Ok(Json(json!(log.iter().map(record_json).collect::<Vec<_>>())))
}

/// The runtime's notifications for the caller's tenant: those for every
/// tenant and its own, never another tenant's.
async fn notifications(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>, Failure> {
    let tenant = tenant(&headers)?;
    let events = app.runtime.subscribe();
    let stream = futures_util::stream::unfold(events, move |mut events| {
        let tenant = tenant.clone();
        async move {
            loop {
                match events.recv().await {
                    Ok(Event {
                        kind: EventKind::Notification { notification },
                        ..
                    }) if notification.is_for(&tenant) => {
                        return Some((Ok(SseEvent::default().data(notification.message)), events));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The fake Slack, with an OAuth endpoint pair beside its Web API.
async fn fake_slack() -> FakeSlack {
    let slack = FakeSlack::start(SLACK_TOKEN).await;
    slack
        .server()
        .route("GET", "/oauth/v2/authorize", |request| {
            let query: HashMap<String, String> = reqwest::Url::parse(&format!(
                "http://x/?{}",
                request.query.clone().unwrap_or_default()
            ))
            .map(|url| url.query_pairs().into_owned().collect())
            .unwrap_or_default();
            let back = format!(
                "{}?code=approved&state={}",
                query["redirect_uri"], query["state"]
            );
            Reply::text(302, "").header("location", &back)
        });
    slack.server().route("POST", "/api/oauth.v2.access", |_| {
        Reply::json(200, json!({"ok": true, "access_token": SLACK_TOKEN, "token_type": "bot", "scope": "chat:write,channels:read"}))
    });
    slack
}

/// The host at `base`, its files in `dir`, talking to the fakes and to the
/// remote MCP server at `remote_mcp`.
async fn app(
    base: &str,
    dir: &std::path::Path,
    slack: &FakeSlack,
    notion: &FakeNotion,
    remote_mcp: &str,
) -> Result<Arc<App>, Error> {
    let keys = KeyRing::new(KeyId::new("k1")?, EncryptionKey::generate()?);
    let store: Arc<dyn CredentialStore> =
        Arc::new(SqliteStore::open(dir.join("app.db"), keys).await?);
    let oauth = OAuthProvider::slack().with_endpoints(
        slack.server().url("/oauth/v2/authorize"),
        slack.server().url("/api/oauth.v2.access"),
    );
    let client = OAuthClient::new(
        oauth,
        "host-app",
        Some("host-app-secret".to_owned().into()),
        &format!("{base}/integrations/slack/oauth/callback"),
    )?;
    let flows = HashMap::from([("slack".to_owned(), OAuthFlow::new(client, store.clone()))]);
    let slack_access = VendorAccess::new(
        VendorConnection::builder(Vendor::slack().with_base_url(slack.api_url()))
            .auth(Auth::Bearer),
        store.clone(),
    )?;
    // Notion at API version 2026-03-11: pages are written with its
    // markdown API.
    let notion_api = Vendor::notion()
        .with_base_url(notion.api_url())
        .with_header("Notion-Version", "2026-03-11");
    let notion_access = VendorAccess::new(
        VendorConnection::builder(notion_api.clone()).auth(Auth::Bearer),
        store.clone(),
    )?;
    let log = Arc::new(EventLog::default());
    let exports = ExportService::builder(SqliteExportStore::open(dir.join("app.db")).await?)
        .provider(SlackProvider::new(slack_access))
        .provider(NotionProvider::new(notion_access))
        .provider(AuditProvider::new(dir.join("audit")))
        .build();
    exports.start();
    let mut registry = Registry::new();
    let note = std::env::var("HOST_APP_NOTE").ok();
    registry.register(Arc::new(Heartbeat { note }))?;
    let config = Config::from_toml_str("[integrations]\nenabled = [\"heartbeat\"]")?;
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    // A remote server's authorization: the pool discovers its authorization
    // server, registers, and seals each tenant's tokens in the host's store.
    let mcp = McpPool::builder()
        .events(PoolEvents(Arc::clone(&log)))
        .call_timeout(Duration::from_secs(10))
        .authorization(
            ServerName::from_static(REMOTE_MCP),
            McpAuthorization::authorization_code(format!(
                "{base}/integrations/{REMOTE_MCP}/oauth/callback"
            ))
            .client_name("host_app"),
        )
        .credential_store(store.clone())
        .build();
    Ok(Arc::new(App {
        catalog: catalog(remote_mcp)?,
        store,
        flows,
        slack_api: slack.api_url(),
        token_vendors: HashMap::from([("notion".to_owned(), notion_api)]),
        exports,
        health: Mutex::default(),
        log,
        runtime,
        mcp,
        mcp_servers: Mutex::default(),
        remote_mcp: remote_mcp.to_owned(),
        base: base.to_owned(),
    }))
}

/// The vendor APIs the crates know, the MCP servers this host installed,
/// and the remote one it lists (at `remote_mcp`).
fn catalog(remote_mcp: &str) -> Result<Catalog, Error> {
    let vendors = OAuthProvider::catalog(&OAuthProvider::builtin())?;
    let mut entries = vendors.entries().to_vec();
    let demo: CatalogEntry = serde_json::from_value(json!({
        "slug": "demo-mcp",
        "name": "Demo MCP server",
        "kind": IntegrationKind::Mcp,
        "category": "developer-tools",
        "description": "The crates' demo MCP server over stdio: echo, a calculator, Slack tools that post with a connected Slack's token.",
        "auth_methods": [AuthMethod::None],
        "config_schema": {
            "type": "object",
            "properties": {
                "server": {"enum": ["demo"]},
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "object"},
            },
            "required": ["server"],
        },
    }))?;
    entries.push(demo);
    let remote: CatalogEntry = serde_json::from_value(json!({
        "slug": REMOTE_MCP,
        "name": "Notes (remote MCP server)",
        "kind": IntegrationKind::Mcp,
        "category": "productivity",
        "description": "A notes server over streamable HTTP, behind OAuth: the user approves at its authorization server, the pool keeps the tokens.",
        "auth_methods": [AuthMethod::Oauth2],
        "config_schema": {
            "type": "object",
            "properties": {"url": {"enum": [remote_mcp]}},
            "required": ["url"],
        },
    }))?;
    entries.push(remote);
    Ok(Catalog::new(entries)?)
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Html(include_str!("host_app/index.html")) }),
        )
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/events", get(notifications))
        .route("/integrations/available", get(available))
        .route("/integrations/connected", get(connected))
        .route("/integrations/export", post(export))
        .route("/integrations/exports", get(exports))
        .route("/integrations/{provider}", delete(disconnect))
        .route("/integrations/{provider}/tools", get(mcp_tools))
        .route("/integrations/mcp/metrics", get(mcp_metrics))
        .route("/integrations/mcp/{name}", post(connect_mcp_server))
        .route("/integrations/{provider}/call", post(call_tool))
        .route("/integrations/{provider}/oauth/start", get(oauth_start))
        .route(
            "/integrations/{provider}/oauth/callback",
            get(oauth_callback),
        )
        .route("/integrations/{provider}/test", post(test))
        .route("/integrations/{provider}/token", post(connect_token))
        .route("/integrations/{provider}/destinations", get(destinations))
        .route("/integrations/{provider}/events", get(events))
        .route("/integrations/{provider}/health", get(health))
        .layer(axum::middleware::from_fn(json_only))
        .with_state(app)
}

/// Walks the whole flow over HTTP, as a user of the page would.
async fn demo(base: &str) -> Result<(), Error> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .header("x-tenant", "ada")
            .send()
    };
    let available: Value = get("/integrations/available?q=slack").await?.json().await?;
    println!("1. catalog search `slack`: {}", available[0]["name"]);
    let mut next = get("/integrations/slack/oauth/start").await?.headers()["location"]
        .to_str()?
        .to_owned();
    println!(
        "2. connect: the user is sent to the provider ({})",
        next.split('?').next().unwrap_or_default()
    );
    for _ in 0..2 {
        let url = if next.starts_with('/') {
            format!("{base}{next}")
        } else {
            next.clone()
        };
        next = http
            .get(&url)
            .header("x-tenant", "ada")
            .send()
            .await?
            .headers()["location"]
            .to_str()?
            .to_owned();
    }
    println!("3. the provider approved; the callback stored the token and sent the user to {next}");
    let connected: Value = get("/integrations/connected").await?.json().await?;
    println!("4. connected: {}", connected[0]["connection"]);
    let test: Value = http
        .post(format!("{base}/integrations/slack/test"))
        .header("x-tenant", "ada")
        .header("content-type", "application/json")
        .send()
        .await?
        .json()
        .await?;
    println!(
        "5. connection test: success={} as {} in {} ms",
        test["success"], test["identity"], test["response_time_ms"]
    );
    let destinations: Value = get("/integrations/slack/destinations")
        .await?
        .json()
        .await?;
    println!(
        "6. destinations: {}",
        destinations["destinations"][0]["name"]
    );
    let body = json!({"provider": "slack", "destination": "C0GENERAL", "title": "Hello", "markdown": "Exported from **host_app**."});
    let exported: Value = http
        .post(format!("{base}/integrations/export"))
        .header("x-tenant", "ada")
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "7. export: {} -> {}",
        exported["status"], exported["external_url"]
    );
    let notion: Value = http
        .post(format!("{base}/integrations/notion/token"))
        .header("x-tenant", "ada")
        .json(&json!({"token": NOTION_TOKEN}))
        .send()
        .await?
        .json()
        .await?;
    let body = json!({"provider": "notion", "destination": "parent-page", "title": "Hello", "markdown": "Exported from **host_app** with Notion's markdown API."});
    let page: Value = http
        .post(format!("{base}/integrations/export"))
        .header("x-tenant", "ada")
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "7b. Notion connected with its token as {}; a page under Reports: {} -> {}",
        notion["identity"], page["status"], page["external_url"]
    );
    let log: Value = get("/integrations/exports").await?.json().await?;
    println!(
        "8. export log: {} entries, the last {}",
        log.as_array().map_or(0, Vec::len),
        log[0]["status"]
    );
    let health: Value = get("/integrations/slack/health").await?.json().await?;
    println!(
        "9. health of slack: success rate {} over {} calls and tests",
        health["summary"]["success_rate"],
        health["history"].as_array().map_or(0, Vec::len)
    );
    let mut stream = get("/events").await?;
    let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
        .await??
        .unwrap_or_default();
    println!(
        "10. live notification: {}",
        String::from_utf8_lossy(&chunk).trim()
    );
    let tools: Value = get("/integrations/slack/tools").await?.json().await?;
    let sessions: Value = get("/integrations/mcp/metrics").await?.json().await?;
    println!(
        "11. the tenant's Slack MCP server: tools {}, {} session(s) live",
        tools["tools"], sessions["sessions"]
    );
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("x-tenant", "ada")
            .json(&body)
            .send()
    };
    let form = json!({"server": "demo", "env": {"GREETING": "hello", "SLACK_BOT_TOKEN": {"connection": "slack"}}});
    post("/integrations/mcp/demo-mcp", form)
        .await?
        .error_for_status()?;
    let test: Value = post("/integrations/demo-mcp/test", json!({}))
        .await?
        .json()
        .await?;
    println!(
        "12. MCP server connected from the form; test: success={} in {} ms, {} tools, server {}",
        test["success"],
        test["response_time_ms"],
        test["tools"].as_array().map_or(0, Vec::len),
        test["server"][0]
    );
    let called: Value = post(
        "/integrations/demo-mcp/call",
        json!({"tool": "env", "arguments": {"name": "GREETING"}}),
    )
    .await?
    .json()
    .await?;
    println!("13. called its `env` tool: GREETING={}", called["text"]);
    let delete = |path: &str| {
        http.delete(format!("{base}{path}"))
            .header("x-tenant", "ada")
            .header("content-type", "application/json")
            .send()
    };
    let listed: Value = get("/integrations/available?kind=mcp&q=notes")
        .await?
        .json()
        .await?;
    let url = &listed[0]["config_schema"]["properties"]["url"]["enum"][0];
    let asked: Value = post("/integrations/mcp/notes-mcp", json!({"url": url}))
        .await?
        .json()
        .await?;
    let approve = asked["authorize"]
        .as_str()
        .ok_or("the remote server asks for authorization")?;
    // The user's browser at the server's authorization server, which
    // approves at once and sends it back to the host's callback.
    let callback = http.get(approve).send().await?.headers()["location"]
        .to_str()?
        .to_owned();
    http.get(&callback)
        .header("x-tenant", "ada")
        .send()
        .await?
        .error_for_status()?;
    let tools: Value = get("/integrations/notes-mcp/tools").await?.json().await?;
    let tool = tools["tools"][0].as_str().unwrap_or_default();
    let called: Value = post("/integrations/notes-mcp/call", json!({"tool": tool}))
        .await?
        .json()
        .await?;
    let remote_gone: Value = delete("/integrations/notes-mcp").await?.json().await?;
    println!(
        "13b. remote MCP server {url} connected through its authorization server; {tool}: {}; disconnected, tokens removed={}",
        called["text"], remote_gone["removed"]
    );
    let mcp_gone: Value = delete("/integrations/demo-mcp").await?.json().await?;
    let sessions: Value = get("/integrations/mcp/metrics").await?.json().await?;
    println!(
        "14. disconnect the MCP server: removed={}, MCP sessions live: {}",
        mcp_gone["mcp_server_removed"], sessions["sessions"]
    );
    let gone: Value = delete("/integrations/slack").await?.json().await?;
    let sessions: Value = get("/integrations/mcp/metrics").await?.json().await?;
    println!(
        "15. disconnect Slack: credentials removed={}, MCP sessions live: {}",
        gone["removed"], sessions["sessions"]
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--demo-server") {
        // The MCP server of a tenant's connected Slack (see `connect_mcp`).
        // Exits at once when the client goes (the runtime would wait for
        // its blocked stdin reader).
        let served = integrations_mcp_demo::run(&args[1..]).await;
        std::process::exit(i32::from(served.is_err()));
    }
    integrations_examples::init_tracing();
    let serve = std::env::args().any(|arg| arg == "--serve");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let dir = tempfile::tempdir()?;
    let slack = fake_slack().await;
    let notion = FakeNotion::start(NOTION_TOKEN).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let remote = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let remote_base = format!("http://localhost:{}", remote.local_addr()?.port());
    integrations_examples::protected_mcp::serve(remote, remote_base.clone(), stop.clone()).await?;
    let app = app(
        &base,
        dir.path(),
        &slack,
        &notion,
        &format!("{remote_base}/mcp"),
    )
    .await?;
    let server = tokio::spawn({
        let (app, stop) = (app.clone(), stop.clone());
        // Not `axum::serve`: it sets no header-read timeout, so a client
        // sending its headers a byte at a time would hold a connection.
        integrations_mcp::server::serve_router(listener, router(app), Duration::from_secs(10), stop)
    });
    println!("host_app listening on {base}");
    if serve {
        tokio::signal::ctrl_c().await?;
    } else {
        demo(&base).await?;
    }
    stop.cancel();
    let _ = server.await;
    app.exports.shutdown(Duration::from_secs(5)).await;
    app.mcp.shutdown(Duration::from_secs(5)).await;
    app.runtime.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
