//! The pool speaks MCP 2026-07-28 to servers that do and falls back to
//! 2025-11-25 (`initialize`) for those that do not, against real processes:
//! the official Python SDK (`mcp` 2.3.0, `testing/python/modern_server.py`)
//! over stdio and streamable HTTP, and a legacy server that meets the
//! `server/discover` probe in each way deployed servers do
//! (`testing/python/legacy_server.py`). server-everything (legacy) is in
//! `everything.rs`.

mod support;

use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::config::{
    ConfigString, HttpServer, McpProtocol, McpServerEntry, StdioServer,
};
use integrations_core::id::ServerName;
use integrations_fakes::python;
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{Error, McpPool, SessionKey};
use serde_json::json;
use support::tenant;

fn stdio(python: &str, args: &[&str]) -> StdioServer {
    StdioServer::new(ConfigString::plain(python)).args(args.iter().copied())
}

async fn protocol_of(pool: &McpPool, key: &SessionKey) -> String {
    let session = pool.get(key).await.unwrap();
    session
        .server_info()
        .unwrap()
        .protocol_version
        .as_str()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_over_stdio_speaks_2026_07_28() {
    let Some((python, script)) = python("modern_server.py") else {
        return;
    };
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("py"),
            stdio(&python, &[&script, "stdio"]).into(),
        )
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("py"));
    assert_eq!(protocol_of(&pool, &key).await, "2026-07-28");
    // The server saw the revision on the call itself (`_meta`).
    let said = pool.call_tool(&key, "protocol", json!({})).await.unwrap();
    assert_eq!(said.text(), "2026-07-28");
    let echoed = pool
        .call_tool(&key, "echo", json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(echoed.text(), "echo: hi");
    let tools = pool.list_tools(&key).await.unwrap();
    assert!(tools.iter().any(|tool| tool.name == "confirm"), "{tools:?}");
    pool.shutdown(Duration::from_secs(2)).await;
}

/// A Python server on streamable HTTP, stopped when dropped.
struct HttpFixture {
    child: std::process::Child,
    url: String,
}

impl Drop for HttpFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn python_over_http(python: &str, script: &str) -> HttpFixture {
    python_over(python, script, "http").await
}

/// The Python server on `transport` (`http` or `sse`) on a free port.
async fn python_over(python: &str, script: &str, transport: &str) -> HttpFixture {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(python)
        .args([script, transport, &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let fixture = HttpFixture {
        child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    };
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return fixture;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the Python server did not listen on {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_over_streamable_http_speaks_2026_07_28() {
    let Some((python, script)) = python("modern_server.py") else {
        return;
    };
    let fixture = python_over_http(&python, &script).await;
    let config: McpServerEntry = HttpServer::new(ConfigString::plain(&fixture.url)).into();
    let pool = McpPool::builder()
        .server(ServerName::from_static("py"), config.clone())
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("py"));
    assert_eq!(protocol_of(&pool, &key).await, "2026-07-28");
    let said = pool.call_tool(&key, "protocol", json!({})).await.unwrap();
    assert_eq!(said.text(), "2026-07-28");

    // Pinned to the legacy revision, the same server is spoken to with
    // `initialize`.
    let legacy = McpPool::builder()
        .server(ServerName::from_static("py"), config)
        .protocol(McpProtocol::Legacy)
        .build();
    assert_eq!(protocol_of(&legacy, &key).await, "2025-11-25");
    let said = legacy.call_tool(&key, "protocol", json!({})).await.unwrap();
    assert_eq!(said.text(), "2025-11-25");
    pool.shutdown(Duration::from_secs(2)).await;
    legacy.shutdown(Duration::from_secs(2)).await;
}

/// Every way a legacy server meets `server/discover` ends in a session by
/// `initialize`, within the handshake time (4 s here, so a silent server's
/// probe ends after 2 s, not rmcp's fixed 10 s), on a fresh process; a
/// second connect (another tenant, same config) does not probe again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_servers_are_reached_by_initialize_after_the_probe() {
    let Some((python, script)) = python("legacy_server.py") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for mode in ["unknown", "empty", "silent", "exits", "legacy-versions"] {
        let log = dir.path().join(format!("{mode}.log"));
        let config = stdio(&python, &[&script, mode, &log.display().to_string()]);
        let pool = McpPool::builder()
            .server(ServerName::from_static("legacy"), config.into())
            .handshake_timeout(Duration::from_secs(4))
            .build();
        let first = SessionKey::new(tenant(), ServerName::from_static("legacy"));
        let started = std::time::Instant::now();
        assert_eq!(protocol_of(&pool, &first).await, "2025-11-25", "{mode}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{mode}: connected within the handshake time"
        );
        let echoed = pool
            .call_tool(&first, "echo", json!({"text": mode}))
            .await
            .unwrap();
        assert_eq!(echoed.text(), format!("echo: {mode}"));

        let second = SessionKey::new(
            TenantId::new("tenant-2").unwrap(),
            ServerName::from_static("legacy"),
        );
        assert_eq!(protocol_of(&pool, &second).await, "2025-11-25", "{mode}");
        pool.shutdown(Duration::from_secs(2)).await;

        let methods = std::fs::read_to_string(&log).unwrap();
        let count = |method: &str| methods.lines().filter(|line| *line == method).count();
        assert_eq!(
            count("server/discover"),
            1,
            "{mode}: probed once\n{methods}"
        );
        assert_eq!(count("initialize"), 2, "{mode}: two sessions\n{methods}");
        // The probe's process never saw `initialize`: the fallback ran on
        // a process of its own.
        assert_eq!(
            methods.lines().nth(1),
            Some("initialize"),
            "{mode}\n{methods}"
        );
    }
}

/// A server that refuses the revision asked for says so, with the
/// versions it supports, though it exits right after (stdio).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_revision_is_the_error_even_when_the_server_exits() {
    let Some((python, script)) = python("legacy_server.py") else {
        return;
    };
    let config = stdio(&python, &[&script, "modern-only"]).protocol(McpProtocol::Legacy);
    let pool = McpPool::builder()
        .server(ServerName::from_static("modern"), config.into())
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("modern"));
    let error = pool.get(&key).await.unwrap_err();
    let Error::UnsupportedProtocol {
        requested,
        supported,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(requested, "2025-11-25");
    assert_eq!(supported, &["2026-07-28"]);
    assert!(error.to_string().contains("supports 2026-07-28"), "{error}");
    pool.shutdown(Duration::from_secs(2)).await;
}

/// Pinned to 2026-07-28, a legacy server is an error that says so, and no
/// `initialize` is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_to_2026_07_28_a_legacy_server_is_refused() {
    let Some((python, script)) = python("legacy_server.py") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("methods.log");
    let config = stdio(&python, &[&script, "unknown", &log.display().to_string()])
        .protocol(McpProtocol::Modern);
    let pool = McpPool::builder()
        .server(ServerName::from_static("legacy"), config.into())
        .build();
    let error = pool
        .get(&SessionKey::new(
            tenant(),
            ServerName::from_static("legacy"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Handshake { message, .. } if message.contains("-32601") || message.contains("Method not found")),
        "{error:?}"
    );
    pool.shutdown(Duration::from_secs(2)).await;
    let methods = std::fs::read_to_string(&log).unwrap();
    assert!(!methods.contains("initialize"), "{methods}");
}

/// The host's hooks: a user who says yes, a model that answers briefly.
#[derive(Debug)]
struct Answers;

#[async_trait::async_trait]
#[allow(deprecated)] // sampling: deprecated in 2026-07-28, still served
impl integrations_mcp::client::ClientHooks for Answers {
    fn capabilities(&self) -> integrations_mcp::client::HookCapabilities {
        integrations_mcp::client::HookCapabilities::none()
            .elicitation(false)
            .sampling()
    }

    async fn elicit(
        &self,
        _context: &integrations_mcp::client::HookContext,
        _request: rmcp::model::ElicitRequestParams,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        Ok(
            rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Accept)
                .with_content(json!({"yes": true})),
        )
    }

    async fn create_message(
        &self,
        _context: &integrations_mcp::client::HookContext,
        _request: rmcp::model::CreateMessageRequestParams,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        Ok(
            serde_json::from_value(json!({"model": "brief-1", "role": "assistant",
            "content": {"type": "text", "text": "short"}}))
            .unwrap(),
        )
    }
}

/// MRTR against the Python SDK: its elicitation and sampling mid-call are
/// answered by the pool's hooks, the sealed `requestState` echoed as it
/// came (the server refuses any other); a server that keeps asking ends
/// at the round cap with a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_servers_questions_mid_call_are_answered_by_the_hooks() {
    let Some((python, script)) = python("modern_server.py") else {
        return;
    };
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("py"),
            stdio(&python, &[&script, "stdio"]).into(),
        )
        .hooks(Answers)
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("py"));
    let confirmed = pool
        .call_tool(&key, "confirm", json!({"question": "Deploy?"}))
        .await
        .unwrap();
    assert_eq!(
        confirmed.text(),
        "action=accept yes=True state=asked-once",
        "{confirmed:?}"
    );
    let summary = pool
        .call_tool(&key, "summarize", json!({"text": "a long text"}))
        .await
        .unwrap();
    assert_eq!(summary.text(), "summary=short model=brief-1");
    let error = pool
        .call_tool(&key, "forever", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InputRounds { rounds: 10, operation, .. } if operation == "forever"),
        "{error:?}"
    );
    pool.shutdown(Duration::from_secs(2)).await;
}

/// Hooks that keep the resource updates they hear of.
#[derive(Debug, Default, Clone)]
struct Updates(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[async_trait::async_trait]
impl integrations_mcp::client::ClientHooks for Updates {
    fn capabilities(&self) -> integrations_mcp::client::HookCapabilities {
        integrations_mcp::client::HookCapabilities::none()
    }

    async fn resource_updated(&self, _context: &integrations_mcp::client::HookContext, uri: &str) {
        self.0.lock().unwrap().push(uri.to_owned());
    }
}

/// On 2026-07-28 a subscription is the session's `subscriptions/listen`
/// stream (no `resources/subscribe`, which a modern server refuses): the
/// Python server's update reaches the hooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_resource_update_arrives_on_the_listen_stream() {
    let Some((python, script)) = python("modern_server.py") else {
        return;
    };
    let updates = Updates::default();
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("py"),
            stdio(&python, &[&script, "stdio"]).into(),
        )
        .hooks(updates.clone())
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("py"));
    assert_eq!(protocol_of(&pool, &key).await, "2026-07-28");
    pool.subscribe(&key, "note://greeting").await.unwrap();
    pool.call_tool(&key, "touch", json!({"uri": "note://greeting"}))
        .await
        .unwrap();
    // Not subscribed: not delivered.
    pool.call_tool(&key, "touch", json!({"uri": "note://other"}))
        .await
        .unwrap();
    for _ in 0..100 {
        if !updates.0.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*updates.0.lock().unwrap(), ["note://greeting"]);
    pool.shutdown(Duration::from_secs(2)).await;
}

/// The HTTP+SSE transport of 2024-11-05, against the Python SDK's server
/// of it: named in the config (`type = "sse"`), and as the last fallback
/// of a plain `url` entry (its POST to the stream's URL is refused, so
/// `server/discover` and `initialize` over streamable HTTP fail first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_sse_server_is_reached_named_or_by_fallback() {
    let Some((python, script)) = python("modern_server.py") else {
        return;
    };
    let fixture = python_over(&python, &script, "sse").await;
    let url = fixture.url.replace("/mcp", "/sse");
    let named = McpServerEntry::from_json(
        "mcpServers.old",
        &json!({"type": "sse", "url": url}),
        &integrations_core::config::Env::none(),
    )
    .unwrap();
    let plain: McpServerEntry = HttpServer::new(ConfigString::plain(&url)).into();
    for config in [named, plain] {
        let pool = McpPool::builder()
            .server(ServerName::from_static("old"), config)
            .handshake_timeout(Duration::from_secs(10))
            .build();
        let key = SessionKey::new(tenant(), ServerName::from_static("old"));
        assert_eq!(protocol_of(&pool, &key).await, "2025-11-25");
        let tools = pool.list_tools(&key).await.unwrap();
        assert!(tools.iter().any(|tool| tool.name == "echo"), "{tools:?}");
        let echoed = pool
            .call_tool(&key, "echo", json!({"text": "over sse"}))
            .await
            .unwrap();
        assert_eq!(echoed.text(), "echo: over sse");
        // The server's own record of the revision, on the session's call.
        let said = pool.call_tool(&key, "protocol", json!({})).await.unwrap();
        assert_eq!(said.text(), "2025-11-25");
        // Another tenant: the remembered transport, straight away.
        let other = SessionKey::new(
            TenantId::new("tenant-2").unwrap(),
            ServerName::from_static("old"),
        );
        assert_eq!(protocol_of(&pool, &other).await, "2025-11-25");
        pool.shutdown(Duration::from_secs(2)).await;
    }
}

/// An HTTP+SSE server whose `endpoint` event names another origin is
/// refused: the pool's requests (and headers) go nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_endpoint_on_another_origin_is_refused() {
    use axum::response::IntoResponse;
    let posted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&posted);
    let app = axum::Router::new()
        .route(
            "/sse",
            axum::routing::get(|| async {
                (
                    [("content-type", "text/event-stream")],
                    "event: endpoint\ndata: http://127.0.0.2:9/messages\n\n",
                )
                    .into_response()
            }),
        )
        .fallback(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { axum::http::StatusCode::METHOD_NOT_ALLOWED }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sse", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config: McpServerEntry = HttpServer::new(ConfigString::plain(&url))
        .transport(integrations_core::config::HttpTransport::Sse)
        .into();
    let pool = McpPool::builder()
        .server(ServerName::from_static("sse"), config)
        .build();
    let error = pool
        .get(&SessionKey::new(tenant(), ServerName::from_static("sse")))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Handshake { message, .. } if message.contains("another origin")),
        "{error:?}"
    );
    assert_eq!(posted.load(std::sync::atomic::Ordering::SeqCst), 0);
    pool.shutdown(Duration::from_secs(1)).await;
}
