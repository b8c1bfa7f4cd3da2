//! Streamable HTTP on loopback: the bridge served over HTTP and reached
//! through the pool, headers and OAuth tokens, a 401 reported as such, and
//! a restarted server reconnected.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use integrations_core::config::{ConfigString, HttpServer, McpProtocol, McpServerEntry};
use integrations_core::credentials::{
    CredentialStatus, CredentialStore, Credentials, MemoryStore, RefreshRequest, TokenManager,
    TokenRefresher, TokenResponse,
};
use integrations_core::error::CredentialError;
use integrations_core::id::ServerName;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, ConnectionId, Error as CoreError,
    Integration, Registry, Runtime, async_trait,
};
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{Bridge, Error, McpPool, SessionKey, Toolbox};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use support::tenant;
use tokio_util::sync::CancellationToken;

struct Clock;

#[async_trait]
impl Integration for Clock {
    fn id(&self) -> &str {
        "clock"
    }
    fn name(&self) -> &str {
        "Clock"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(
            "now",
            "The time, as seconds since the epoch",
        )]
    }
    async fn handle(&self, _: Action) -> Result<ActionResult, BoxError> {
        Ok(ActionResult::ok(json!(1_700_000_000)))
    }
}

async fn runtime() -> Arc<Runtime> {
    let mut registry = Registry::new();
    registry.register(Arc::new(Clock)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"clock\"]").unwrap();
    Arc::new(Runtime::builder(registry).start(&config).await)
}

/// Serves the bridge at `address` (port 0 for any), requiring
/// `Authorization: Bearer good` when `auth` is set.
async fn serve(
    address: &str,
    auth: bool,
) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let bridge = Bridge::new(runtime().await);
    let task = if auth {
        let mut config = StreamableHttpServerConfig::default();
        config.cancellation_token = stop.child_token();
        let service = StreamableHttpService::new(
            move || Ok(bridge.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let router = axum::Router::new()
            .nest_service("/mcp", service)
            .layer(from_fn(|request: Request, next: Next| async move {
                match request
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                {
                    Some("Bearer good") => next.run(request).await,
                    // A wrong token gets the RFC 6750 challenge; none, a bare 401.
                    Some(_) => Response::builder()
                        .status(StatusCode::UNAUTHORIZED)
                        .header(
                            "www-authenticate",
                            r#"Bearer realm="mcp", error="invalid_token""#,
                        )
                        .body(axum::body::Body::empty())
                        .unwrap(),
                    None => Response::builder()
                        .status(StatusCode::UNAUTHORIZED)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                }
            }));
        let stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
                .unwrap();
        })
    } else {
        let stop = stop.clone();
        tokio::spawn(async move { bridge.serve_http(listener, stop).await })
    };
    (url, stop, task)
}

fn http(url: &str, token: Option<&str>) -> McpServerEntry {
    let server = HttpServer::new(ConfigString::plain(url));
    match token {
        Some(token) => server.header(
            "Authorization",
            ConfigString::secret(format!("Bearer {token}")),
        ),
        None => server,
    }
    .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_over_http_through_the_pool() {
    let (url, stop, server) = serve("127.0.0.1:0", false).await;
    let pool = McpPool::builder()
        .server(ServerName::from_static("host"), Bridge::http_entry(&url))
        .build();
    let toolbox = Toolbox::new(pool.clone(), tenant()).unwrap();
    let names: Vec<String> = toolbox
        .tools()
        .await
        .tools
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["host__clock__now"]);
    let now = toolbox.call("host__clock__now", json!({})).await.unwrap();
    assert_eq!(now.text(), "1700000000");
    // The bridge serves both revisions: `auto` finds 2026-07-28.
    let session = pool
        .get(&integrations_mcp::SessionKey::new(
            tenant(),
            ServerName::from_static("host"),
        ))
        .await
        .unwrap();
    assert_eq!(
        session.server_info().unwrap().protocol_version.as_str(),
        "2026-07-28"
    );

    // Concurrent calls over one HTTP session.
    let calls = (0..16).map(|_| toolbox.call("host__clock__now", json!({})));
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(result.unwrap().text(), "1700000000");
    }
    assert_eq!(pool.metrics().connects, 1);
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
    server.await.unwrap();
}

#[derive(Debug)]
struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        Err("not used".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_oauth_tokens_authenticate_and_401_is_reported() {
    let (url, stop, server) = serve("127.0.0.1:0", true).await;
    let key = |server: &'static str| SessionKey::new(tenant(), ServerName::from_static(server));

    let pool = McpPool::builder()
        .server(ServerName::from_static("good"), http(&url, Some("good")))
        .server(ServerName::from_static("bad"), http(&url, Some("bad")))
        .server(ServerName::from_static("none"), http(&url, None))
        .build();
    let now = pool
        .call_tool(&key("good"), "clock__now", json!({}))
        .await
        .unwrap();
    assert_eq!(now.text(), "1700000000");
    for name in ["bad", "none"] {
        let err = pool.get(&key(name)).await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains("401"), "{err}");
    }
    pool.shutdown(Duration::from_secs(5)).await;

    // The token from the TokenManager, per tenant.
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let connection = ConnectionId::new("host", "main").unwrap();
    store
        .put(&tenant(), &connection, &Credentials::bearer("good"))
        .await
        .unwrap();
    let tokens = TokenManager::builder(store.clone(), Arc::new(NoRefresh))
        .build()
        .unwrap();
    let pool = McpPool::builder()
        .server(ServerName::from_static("host"), http(&url, None))
        .token_manager(tokens)
        .oauth(ServerName::from_static("host"), connection.clone())
        .build();
    let now = pool
        .call_tool(&key("host"), "clock__now", json!({}))
        .await
        .unwrap();
    assert_eq!(now.text(), "1700000000");
    let stranger = SessionKey::new(
        integrations_core::TenantId::new("stranger").unwrap(),
        ServerName::from_static("host"),
    );
    let err = pool.get(&stranger).await.unwrap_err();
    assert!(
        matches!(&err, Error::Credentials { source, .. }
            if matches!(**source, CoreError::Credentials(CredentialError::NotFound { .. }))),
        "a tenant without credentials cannot connect: {err:?}"
    );

    // Review item 8: a connection that needs re-authorisation is told as
    // such to every caller of a shared connect, not flattened into a
    // handshake error.
    let revoked = integrations_core::TenantId::new("revoked").unwrap();
    let mut dead = Credentials::bearer("good");
    dead.status = CredentialStatus::NeedsReauth;
    store.put(&revoked, &connection, &dead).await.unwrap();
    let mut gets = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (pool, key) = (
            pool.clone(),
            SessionKey::new(revoked.clone(), ServerName::from_static("host")),
        );
        gets.spawn(async move { pool.get(&key).await });
    }
    while let Some(result) = gets.join_next().await {
        let err = result.unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::NeedsReauth { server, tenant, connection: c }
                if server == "host" && *tenant == revoked && *c == connection),
            "{err:?}"
        );
    }
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_reconnected() {
    let (url, stop, server) = serve("127.0.0.1:0", false).await;
    let pool = McpPool::builder()
        .server(ServerName::from_static("host"), Bridge::http_entry(&url))
        .call_timeout(Duration::from_secs(2))
        .max_backoff(Duration::from_millis(100))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("host"));
    pool.call_tool(&key, "clock__now", json!({})).await.unwrap();

    stop.cancel();
    server.await.unwrap();
    let err = pool
        .call_tool(&key, "clock__now", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SessionClosed { .. } | Error::Timeout { .. } | Error::Server { .. }
        ),
        "a typed error within the call timeout: {err:?}"
    );

    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let (_, stop, server) = serve(&address, false).await;
    let mut last = None;
    for _ in 0..20 {
        match pool.call_tool(&key, "clock__now", json!({})).await {
            Ok(result) => {
                last = Some(result.text());
                break;
            }
            Err(error) => {
                last = Some(error.to_string());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert_eq!(last.as_deref(), Some("1700000000"));
    assert!(pool.metrics().reconnects >= 1);
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
    server.await.unwrap();
}

/// Review item 17: closing an HTTP session waited the close grace plus 2 s
/// for a process exit that cannot come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_a_pool_with_an_http_session_is_prompt() {
    let (url, stop, server) = serve("127.0.0.1:0", false).await;
    let pool = McpPool::builder()
        .server(ServerName::from_static("host"), Bridge::http_entry(&url))
        // Long enough that waiting for it would trip the guard below.
        .close_grace(Duration::from_secs(60))
        .build();
    pool.get(&SessionKey::new(tenant(), ServerName::from_static("host")))
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        pool.shutdown(Duration::from_secs(120)),
    )
    .await
    .expect("an HTTP session has no process to wait for");
    stop.cancel();
    server.await.unwrap();
}

/// Review item 19: HTTP failures printed rmcp's transport type names
/// instead of what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_failures_say_what_happened_in_words() {
    // Nothing listens: the port of a listener that was closed.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/mcp", listener.local_addr().unwrap())
    };
    // A server that fails every request with a body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let failing = format!("http://{}/mcp", listener.local_addr().unwrap());
    let down_url = format!("http://{}/down", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let stop = stop.clone();
        let router = axum::Router::new()
            .route(
                "/down",
                axum::routing::any(|| async {
                    (StatusCode::SERVICE_UNAVAILABLE, "database is down")
                }),
            )
            .fallback(|| async { (StatusCode::NOT_FOUND, "no MCP endpoint at this path") });
        async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
                .unwrap();
        }
    });
    let pool = McpPool::builder()
        .server(ServerName::from_static("closed"), http(&closed, None))
        .server(ServerName::from_static("failing"), http(&failing, None))
        .server(ServerName::from_static("down"), http(&down_url, None))
        .build();

    let refused = pool
        .get(&SessionKey::new(
            tenant(),
            ServerName::from_static("closed"),
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!("cannot connect to {closed}")),
        "{refused}"
    );
    assert!(refused.to_lowercase().contains("refused"), "{refused}");

    let missing = pool
        .get(&SessionKey::new(
            tenant(),
            ServerName::from_static("failing"),
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains(&format!("{failing} answered HTTP 404")),
        "{missing}"
    );
    assert!(
        missing.contains("no MCP endpoint at this path"),
        "{missing}"
    );
    // rmcp keeps only the status of a 429 or 5xx answer, not its body.
    let down = pool
        .get(&SessionKey::new(tenant(), ServerName::from_static("down")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        down.contains(&format!("{down_url} answered HTTP 503")),
        "{down}"
    );

    for message in [&refused, &missing, &down] {
        for type_name in [
            "WorkerTransport",
            "StreamableHttpClientWorker",
            "reqwest::",
            "<",
        ] {
            assert!(!message.contains(type_name), "{type_name} in {message}");
        }
    }
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
    server.await.unwrap();
}

/// A built-in integration on the richer contract: a sync that reports
/// progress, a summary that asks the caller's model, a wait that notices
/// its caller giving up, and an inbox resource whose tick says it changed.
struct Inbox;

/// Set when `inbox.wait` started.
static WAIT_STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Set when `inbox.wait` saw its caller cancel.
static WAIT_CANCELLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[async_trait]
impl Integration for Inbox {
    fn id(&self) -> &str {
        "inbox"
    }
    fn name(&self) -> &str {
        "Inbox"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("sync", "Syncs the inbox"),
            Capability::new("summarise", "Summarises the inbox"),
            Capability::new("wait", "Waits until the caller gives up"),
            Capability::new("connect", "Sends the user to a page to connect"),
        ]
    }
    fn serves(&self) -> integrations_core::integration::content::Serves {
        integrations_core::integration::content::Serves::nothing().subscriptions()
    }
    fn tick_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(100))
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        let context = action.context();
        Ok(match action.name.as_str() {
            "sync" => {
                for step in 0..=4 {
                    context.progress(f64::from(step), Some(4.0), None).await;
                }
                ActionResult::ok(json!("synced"))
            }
            "connect" => {
                let request = integrations_core::integration::Elicitation::Url {
                    message: "Connect your mailbox".into(),
                    url: "https://mail.example.com/connect".into(),
                    id: "connect-1".into(),
                };
                match context.elicit(request).await {
                    Ok(answer) => ActionResult::ok(json!(format!("{:?}", answer.action))),
                    Err(error) => ActionResult::error(error.to_string()),
                }
            }
            "wait" => {
                WAIT_STARTED.store(true, std::sync::atomic::Ordering::SeqCst);
                tokio::select! {
                    () = context.cancelled() => WAIT_CANCELLED.store(true, std::sync::atomic::Ordering::SeqCst),
                    () = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
                ActionResult::ok(json!("waited"))
            }
            _ => {
                let request = integrations_core::integration::SamplingRequest::new(
                    "Summarise: 3 messages",
                    50,
                );
                match context.sample(request).await {
                    Ok(answer) => ActionResult::ok(json!(answer.text)),
                    Err(error) => ActionResult::error(error.to_string()),
                }
            }
        })
    }
    async fn list_resources(
        &self,
    ) -> Result<Vec<integrations_core::integration::content::Resource>, BoxError> {
        Ok(vec![
            integrations_core::integration::content::Resource::new("inbox://messages", "Messages"),
        ])
    }
    async fn read_resource(
        &self,
        uri: &str,
    ) -> Result<Vec<integrations_core::integration::content::ResourceContents>, BoxError> {
        Ok(vec![
            integrations_core::integration::content::ResourceContents::text(
                uri,
                "text/plain",
                "3 messages",
            ),
        ])
    }
    async fn tick(&self) -> Result<Vec<integrations_core::Notification>, BoxError> {
        Ok(vec![integrations_core::Notification::resource_updated(
            "inbox://messages",
        )])
    }
}

/// The pool's hooks: answers sampling, and reports resource updates.
#[derive(Debug)]
struct Host(tokio::sync::mpsc::UnboundedSender<String>);

#[async_trait]
#[allow(deprecated)] // sampling, deprecated by rmcp for a later protocol
impl integrations_mcp::client::ClientHooks for Host {
    fn capabilities(&self) -> integrations_mcp::client::HookCapabilities {
        integrations_mcp::client::HookCapabilities::none()
            .sampling()
            .elicitation(true)
    }
    async fn elicit(
        &self,
        _context: &integrations_mcp::client::HookContext,
        request: integrations_mcp::rmcp::model::ElicitRequestParams,
    ) -> Result<integrations_mcp::rmcp::model::ElicitResult, integrations_mcp::rmcp::ErrorData>
    {
        let asked = serde_json::to_value(&request).unwrap();
        assert_eq!(asked["mode"], "url");
        assert_eq!(asked["url"], "https://mail.example.com/connect");
        Ok(integrations_mcp::rmcp::model::ElicitResult::new(
            integrations_mcp::rmcp::model::ElicitationAction::Accept,
        ))
    }
    async fn create_message(
        &self,
        _context: &integrations_mcp::client::HookContext,
        request: integrations_mcp::rmcp::model::CreateMessageRequestParams,
    ) -> Result<integrations_mcp::rmcp::model::CreateMessageResult, integrations_mcp::rmcp::ErrorData>
    {
        let asked = serde_json::to_value(&request.messages[0]).unwrap()["content"]["text"].clone();
        let answer = json!({"model": "host-model", "role": "assistant",
            "content": {"type": "text", "text": format!("model says: {}", asked.as_str().unwrap())}});
        Ok(serde_json::from_value(answer).unwrap())
    }
    async fn resource_updated(&self, _context: &integrations_mcp::client::HookContext, uri: &str) {
        let _ = self.0.send(uri.to_owned());
    }
}

/// The inbox bridge over HTTP on loopback, and a pool with `hooks`.
async fn inbox(
    hooks: Option<impl integrations_mcp::client::ClientHooks>,
    protocol: McpProtocol,
) -> (McpPool, SessionKey, CancellationToken) {
    let mut registry = Registry::new();
    registry.register(Arc::new(Inbox)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"inbox\"]").unwrap();
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(Bridge::new(runtime).serve_http(listener, stop.clone()));
    let builder = McpPool::builder()
        .server(ServerName::from_static("inbox"), Bridge::http_entry(&url))
        .protocol(protocol);
    let pool = match hooks {
        Some(hooks) => builder.hooks(hooks),
        None => builder,
    }
    .build();
    (
        pool,
        SessionKey::new(tenant(), ServerName::from_static("inbox")),
        stop,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_from_handle_reaches_the_pool_in_order() {
    let (pool, key, stop) = inbox(None::<Host>, McpProtocol::Auto).await;
    let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
    let options = integrations_mcp::CallOptions::new().progress(reports);
    let result = pool
        .call_tool_with(&key, "inbox__sync", json!({}), options)
        .await
        .unwrap();
    assert_eq!(result.text(), "synced");
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let report = tokio::time::timeout(Duration::from_secs(5), received.recv())
            .await
            .expect("all five reports arrive")
            .unwrap();
        assert_eq!(report.total, Some(4.0));
        seen.push(report.progress);
    }
    assert_eq!(seen, [0.0, 1.0, 2.0, 3.0, 4.0]);
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// A call whose action needed a capability the pool did not declare: on
/// 2025-11-25 the action's tool error says which; on 2026-07-28 the bridge
/// answers -32021 (MissingRequiredClientCapability).
fn assert_refused(
    refused: Result<rmcp::model::CallToolResult, Error>,
    protocol: McpProtocol,
    legacy_text: &str,
) {
    match (protocol, refused) {
        (McpProtocol::Legacy, Ok(result)) => {
            assert_eq!(result.is_error, Some(true));
            assert_eq!(result.text(), legacy_text);
        }
        (McpProtocol::Modern, Err(error @ Error::MissingCapability { .. })) => {
            let Error::MissingCapability { required, .. } = &error else {
                unreachable!()
            };
            let named = ["sampling", "elicitation"];
            assert!(
                named.iter().any(|name| required.get(name).is_some()),
                "{error}"
            );
            assert!(error.to_string().contains("-32021"), "{error}");
            assert!(!error.is_transient());
        }
        (protocol, other) => panic!("{protocol:?}: {other:?}"),
    }
}

/// In both revisions: on 2026-07-28 through MRTR (the action runs again
/// with the answer), on 2025-11-25 through a request of the bridge's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_from_handle_is_answered_by_the_pools_hook_or_declined_without_one() {
    for protocol in [McpProtocol::Legacy, McpProtocol::Modern] {
        sampling_from_handle_is_answered_by_the_pools_hook_or_declined_without_one_in(protocol)
            .await;
    }
}

async fn sampling_from_handle_is_answered_by_the_pools_hook_or_declined_without_one_in(
    protocol: McpProtocol,
) {
    let (events, _updates) = tokio::sync::mpsc::unbounded_channel();
    let (pool, key, stop) = inbox(Some(Host(events)), protocol).await;
    let answer = pool
        .call_tool(&key, "inbox__summarise", json!({}))
        .await
        .unwrap();
    assert_eq!(answer.text(), "model says: Summarise: 3 messages");
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();

    let (pool, key, stop) = inbox(None::<Host>, protocol).await;
    let refused = pool.call_tool(&key, "inbox__summarise", json!({})).await;
    assert_refused(
        refused,
        protocol,
        "sampling is not available: the MCP client did not declare the sampling capability",
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// In both revisions: on 2026-07-28 through MRTR (the action runs again
/// with the answer), on 2025-11-25 through a request of the bridge's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_update_from_tick_reaches_a_subscribed_pool() {
    for protocol in [McpProtocol::Legacy, McpProtocol::Modern] {
        a_resource_update_from_tick_reaches_a_subscribed_pool_in(protocol).await;
    }
}

async fn a_resource_update_from_tick_reaches_a_subscribed_pool_in(protocol: McpProtocol) {
    let (events, mut updates) = tokio::sync::mpsc::unbounded_channel();
    let (pool, key, stop) = inbox(Some(Host(events)), protocol).await;
    let read = pool.read_resource(&key, "inbox://messages").await.unwrap();
    assert_eq!(
        serde_json::to_value(&read).unwrap()["contents"][0]["text"],
        "3 messages"
    );
    pool.subscribe(&key, "inbox://messages").await.unwrap();
    let uri = tokio::time::timeout(Duration::from_secs(5), updates.recv())
        .await
        .expect("the next tick's update arrives")
        .unwrap();
    assert_eq!(uri, "inbox://messages");
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_pool_gives_up_on_is_cancelled_in_handle() {
    let (pool, key, stop) = inbox(None::<Host>, McpProtocol::Auto).await;
    // Without and with progress reports (sent another way, see `progress`).
    for with_progress in [false, true] {
        WAIT_STARTED.store(false, std::sync::atomic::Ordering::SeqCst);
        WAIT_CANCELLED.store(false, std::sync::atomic::Ordering::SeqCst);
        let cancel = CancellationToken::new();
        let mut options = integrations_mcp::CallOptions::new().cancel(cancel.clone());
        let (reports, _received) = tokio::sync::mpsc::unbounded_channel();
        if with_progress {
            options = options.progress(reports);
        }
        let waiting = {
            let (pool, key) = (pool.clone(), key.clone());
            tokio::spawn(async move {
                pool.call_tool_with(&key, "inbox__wait", json!({}), options)
                    .await
            })
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !WAIT_STARTED.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the call never reached handle"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cancel.cancel();
        assert!(matches!(
            waiting.await.unwrap(),
            Err(Error::Cancelled { .. })
        ));
        while !WAIT_CANCELLED.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "handle never saw the cancellation (progress: {with_progress})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// In both revisions: on 2026-07-28 through MRTR (the action runs again
/// with the answer), on 2025-11-25 through a request of the bridge's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_elicitation_from_handle_reaches_a_pool_that_declared_the_url_mode() {
    for protocol in [McpProtocol::Legacy, McpProtocol::Modern] {
        a_url_elicitation_from_handle_reaches_a_pool_that_declared_the_url_mode_in(protocol).await;
    }
}

async fn a_url_elicitation_from_handle_reaches_a_pool_that_declared_the_url_mode_in(
    protocol: McpProtocol,
) {
    let (events, _updates) = tokio::sync::mpsc::unbounded_channel();
    let (pool, key, stop) = inbox(Some(Host(events)), protocol).await;
    let answer = pool
        .call_tool(&key, "inbox__connect", json!({}))
        .await
        .unwrap();
    assert_eq!(answer.text(), "Accept");
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();

    let (pool, key, stop) = inbox(None::<Host>, protocol).await;
    let refused = pool.call_tool(&key, "inbox__connect", json!({})).await;
    assert_refused(
        refused,
        protocol,
        "elicitation is not available: the MCP client did not declare the elicitation capability",
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();

    // Forms only: the URL mode is not available.
    #[derive(Debug)]
    struct FormsOnly;
    impl integrations_mcp::client::ClientHooks for FormsOnly {
        fn capabilities(&self) -> integrations_mcp::client::HookCapabilities {
            integrations_mcp::client::HookCapabilities::none().elicitation(false)
        }
    }
    let (pool, key, stop) = inbox(Some(FormsOnly), protocol).await;
    let refused = pool.call_tool(&key, "inbox__connect", json!({})).await;
    assert_refused(
        refused,
        protocol,
        "elicitation is not available: the MCP client does not support URL elicitation",
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// A listener on 127.0.0.1 that keeps the first bytes of every request it
/// gets and answers 401: its MCP URL, and what it received.
async fn eavesdropper() -> (String, Arc<std::sync::Mutex<Vec<u8>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = Arc::clone(&heard);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0; 8192];
            let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buffer)).await;
            if let Ok(Ok(n)) = read {
                keep.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
            let _ = socket
                .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (url, heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_goes_only_to_the_url_the_host_configured() {
    // Security review, finding 4 (the static mapping): `oauth(server, …)`
    // sent the tenant's token to whatever URL a server of that name had,
    // a tenant's own server of the same name included.
    let (url, stop, server) = serve("127.0.0.1:0", true).await;
    let (elsewhere, heard) = eavesdropper().await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let connection = ConnectionId::new("host", "main").unwrap();
    store
        .put(&tenant(), &connection, &Credentials::bearer("good"))
        .await
        .unwrap();
    let tokens = TokenManager::builder(store, Arc::new(NoRefresh))
        .build()
        .unwrap();
    let pool = McpPool::builder()
        .server(ServerName::from_static("host"), http(&url, None))
        .token_manager(tokens)
        .oauth(ServerName::from_static("host"), connection)
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("host"));

    // The tenant's own entry at the same URL (a narrower tool policy) keeps
    // the token.
    let narrower = HttpServer::new(ConfigString::plain(format!("{url}/")))
        .tools(integrations_core::config::ToolPolicy::new(["clock__*"], ["clock__never"]).unwrap());
    pool.set_tenant_server(tenant(), ServerName::from_static("host"), narrower.into());
    let now = pool.call_tool(&key, "clock__now", json!({})).await.unwrap();
    assert_eq!(now.text(), "1700000000");

    // The tenant's own entry elsewhere does not get it.
    pool.set_tenant_server(
        tenant(),
        ServerName::from_static("host"),
        http(&elsewhere, None),
    );
    let err = pool.get(&key).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let heard = String::from_utf8_lossy(&heard.lock().unwrap()).to_lowercase();
    assert!(
        heard.contains("post /mcp"),
        "the server was reached: {heard}"
    );
    assert!(
        !heard.contains("authorization"),
        "the token reached another URL: {heard}"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
    server.await.unwrap();
}

/// Answers `pad` with `bytes` characters, `ping` with "pong".
struct Blob;

#[async_trait]
impl Integration for Blob {
    fn id(&self) -> &str {
        "blob"
    }
    fn name(&self) -> &str {
        "Blob"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("pad", "As many characters as `bytes` says"),
            Capability::new("ping", "pong"),
        ]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        Ok(match action.name.as_str() {
            "pad" => {
                let bytes = action.arguments["bytes"].as_u64().unwrap_or(0);
                ActionResult::ok(json!("x".repeat(usize::try_from(bytes)?)))
            }
            _ => ActionResult::ok(json!("pong")),
        })
    }
}

/// The bridge over a runtime with [`Blob`], answering with SSE or (with
/// `json`) with a JSON body.
async fn serve_blob(json: bool) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let mut registry = Registry::new();
    registry.register(Arc::new(Blob)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"blob\"]").unwrap();
    let bridge = Bridge::new(Arc::new(Runtime::builder(registry).start(&config).await));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default().with_json_response(json);
    config.cancellation_token = stop.child_token();
    let service = StreamableHttpService::new(
        move || Ok(bridge.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let serving = stop.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(serving.cancelled_owned())
            .await
            .unwrap();
    });
    (url, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_over_the_message_limit_over_http_is_a_typed_error_and_the_session_lives() {
    // Security review, finding 20: over HTTP the pool's limit did not
    // apply, and a result past rmcp's own 16 MiB ended the session as
    // `SessionClosed` ("the server exited").
    for json in [false, true] {
        let (url, stop, serving) = serve_blob(json).await;
        let pool = McpPool::builder()
            .server(ServerName::from_static("blob"), Bridge::http_entry(&url))
            .max_message_bytes(1024 * 1024)
            .call_timeout(Duration::from_secs(10))
            .build();
        let key = SessionKey::new(tenant(), ServerName::from_static("blob"));
        let fits = pool
            .call_tool(&key, "blob__pad", json!({"bytes": 1000}))
            .await
            .unwrap();
        assert_eq!(fits.text().len(), 1000);
        let error = match pool
            .call_tool(&key, "blob__pad", json!({"bytes": 2 * 1024 * 1024}))
            .await
        {
            Ok(result) => panic!("json {json}: {} bytes past the limit", result.text().len()),
            Err(error) => error,
        };
        assert!(
            matches!(
                error,
                Error::MessageTooLarge {
                    limit: 1_048_576,
                    ..
                }
            ),
            "json {json}: {error:?}"
        );
        assert!(
            !error.is_transient(),
            "the same call would fail the same way"
        );
        let pong = pool.call_tool(&key, "blob__ping", json!({})).await.unwrap();
        assert_eq!(pong.text(), "pong");
        assert_eq!(pool.metrics().connects, 1, "json {json}: the session lived");
        pool.shutdown(Duration::from_secs(5)).await;
        stop.cancel();
        serving.await.unwrap();
    }
}

/// `draft` asks the client's model; `route` takes a `region` that also
/// travels as the `Mcp-Param-Region` header (SEP-2243).
struct Asker;

#[async_trait]
impl Integration for Asker {
    fn id(&self) -> &str {
        "asker"
    }
    fn name(&self) -> &str {
        "Asker"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("draft", "Drafts with the client's model"),
            Capability::new("route", "Routes to a region").with_parameters(json!({
                "type": "object",
                "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
                "required": ["region"]
            })),
        ]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        if action.name == "draft" {
            let asked = integrations_core::integration::SamplingRequest::new("Draft it", 50);
            return Ok(match action.context().sample(asked).await {
                Ok(answer) => ActionResult::ok(json!(answer.text)),
                Err(error) => ActionResult::error(error.to_string()),
            });
        }
        Ok(ActionResult::ok(action.arguments["region"].clone()))
    }
}

/// A raw 2026-07-28 `tools/call` to the bridge at `url`: the HTTP status
/// and the body.
async fn call_2026(
    url: &str,
    tool: &str,
    arguments: serde_json::Value,
    capabilities: serde_json::Value,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
    "name": tool, "arguments": arguments,
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }}});
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.json(&body).send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_call_that_needs_an_undeclared_capability_is_32021_naming_it() {
    // MCP 2026-07-28 (SEP-2575): a server must not rely on a capability the
    // request's `_meta` did not declare; the bridge answered a tool error.
    let mut registry = Registry::new();
    registry.register(Arc::new(Asker)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"asker\"]").unwrap();
    let bridge = Bridge::new(Arc::new(Runtime::builder(registry).start(&config).await));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let serving = tokio::spawn(bridge.serve_http(listener, stop.clone()));

    let (status, body) = call_2026(&url, "asker__draft", json!({}), json!({}), &[]).await;
    assert_eq!(status, 400, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], -32021, "{body}");
    assert_eq!(
        error["error"]["data"]["requiredCapabilities"],
        json!({"sampling": {}}),
        "{body}"
    );
    // Declared, the call goes on: the question comes back as a round.
    let (status, body) = call_2026(
        &url,
        "asker__draft",
        json!({}),
        json!({"sampling": {}}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("input_required"), "{body}");

    // SEP-2243: a parameter marked `x-mcp-header` must match its header.
    let region = json!({"region": "eu-west"});
    let (status, body) = call_2026(
        &url,
        "asker__route",
        region.clone(),
        json!({}),
        &[("mcp-param-region", "eu-west")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("eu-west"), "{body}");
    for headers in [&[("mcp-param-region", "us-east")][..], &[][..]] {
        let (status, body) =
            call_2026(&url, "asker__route", region.clone(), json!({}), headers).await;
        assert_eq!(status, 400, "{headers:?}: {body}");
        assert!(body.contains("-32020"), "{headers:?}: {body}");
    }
    stop.cancel();
    serving.await.unwrap();
}
