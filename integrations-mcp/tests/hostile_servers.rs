//! MCP servers that misbehave on purpose, over real sockets on 127.0.0.1:
//! what the host relies on is that nothing of the pool's outlives its
//! timeout and that nothing of the host's leaks to another origin.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::credentials::MemoryStore;
use integrations_core::id::ServerName;
use integrations_mcp::client::{McpAuthorization, ToolResultExt};
use integrations_mcp::{Bridge, Error, McpPool, SessionKey};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A server that accepts connections and never answers; counts the
/// connections still open (the client has not closed them).
async fn silent_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let open = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&open);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut sink = [0u8; 1024];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (url, open)
}

/// Security review, finding 1: each code-flow connect to a server that
/// never answers left a blocking thread waiting on it for ever; with the
/// blocking pool full, `spawn_blocking` and DNS stopped host-wide.
#[test]
fn a_code_flow_server_that_never_answers_holds_no_thread_past_the_timeout() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let outcome: Result<(), String> = runtime.block_on(async {
        let (url, open) = silent_server().await;
        let pool = McpPool::builder()
            .server(ServerName::from_static("silent"), Bridge::http_entry(&url))
            .authorization(
                ServerName::from_static("silent"),
                McpAuthorization::authorization_code("http://127.0.0.1:9/callback"),
            )
            .credential_store(Arc::new(MemoryStore::new()))
            .handshake_timeout(Duration::from_millis(200))
            .build();
        for batch in 0..10 {
            let connects = (0..10).map(|n| {
                let pool = pool.clone();
                let key = SessionKey::new(
                    TenantId::new(format!("t{batch}-{n}")).unwrap(),
                    ServerName::from_static("silent"),
                );
                tokio::spawn(async move { pool.list_tools(&key).await })
            });
            let connects: Vec<_> = connects.collect();
            for connect in connects {
                match connect.await.unwrap() {
                    Err(Error::HandshakeTimeout { .. }) => {}
                    other => return Err(format!("expected HandshakeTimeout, got {other:?}")),
                }
            }
        }
        // Every connection the pool opened is closed soon after its timeout.
        let mut still_open = open.load(Ordering::SeqCst);
        for _ in 0..50 {
            if still_open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            still_open = open.load(Ordering::SeqCst);
        }
        if still_open > 0 {
            return Err(format!(
                "{still_open} connections to the silent server still open"
            ));
        }
        let blocking =
            tokio::time::timeout(Duration::from_secs(5), tokio::task::spawn_blocking(|| 42)).await;
        if !matches!(blocking, Ok(Ok(42))) {
            return Err("spawn_blocking work did not run: the blocking pool is full".into());
        }
        let lookup = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host("localhost:80"),
        )
        .await;
        if lookup.is_err() {
            return Err("a DNS lookup did not complete".into());
        }
        pool.shutdown(Duration::from_secs(1)).await;
        Ok(())
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome.unwrap();
}

/// Security review, finding 8: stderr without a newline was kept whole,
/// and quoted whole in the error; escape sequences reached the host's logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_writing_stderr_without_newlines_is_clipped_and_made_printable() {
    let flood = integrations_core::config::StdioServer::new(
        integrations_core::config::ConfigString::plain("sh"),
    )
    .args([
        "-c",
        "printf '\\033[31mred\\033[0m\\n' >&2; head -c 4000000 /dev/zero | tr '\\0' x >&2; exit 3",
    ]);
    let pool = McpPool::builder()
        .server(ServerName::from_static("flood"), flood.into())
        .handshake_timeout(Duration::from_secs(20))
        .build();
    let key = SessionKey::new(
        TenantId::new("t").unwrap(),
        ServerName::from_static("flood"),
    );
    let error = pool.get(&key).await.unwrap_err().to_string();
    assert!(error.len() < 64 * 1024, "an error of {} bytes", error.len());
    assert!(
        error.contains("[31mred") && !error.contains('\u{1b}'),
        "{error}"
    );
    assert!(error.contains("xxxx"), "{error}");
    pool.shutdown(Duration::from_secs(1)).await;
}

/// Security review, finding 10: a URL with a key in its query was printed
/// whole in handshake errors, which reach agents, logs and health records.
#[tokio::test]
async fn a_key_in_a_server_url_is_not_in_its_errors() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://user:pw-SECRET@{}/mcp?api_key=sk-URL-SECRET",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let pool = McpPool::builder()
        .server(ServerName::from_static("search"), Bridge::http_entry(&url))
        .handshake_timeout(Duration::from_secs(10))
        .build();
    let key = SessionKey::new(
        TenantId::new("t").unwrap(),
        ServerName::from_static("search"),
    );
    let error = pool.get(&key).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains("SECRET"), "{text}");
    assert!(text.contains("/mcp?[redacted]"), "{text}");
    pool.shutdown(Duration::from_secs(1)).await;
}

/// A runtime with no integrations, and a listener on 127.0.0.1 to serve
/// its bridge on.
async fn bridge_parts() -> (Arc<integrations_core::Runtime>, TcpListener) {
    let config = integrations_core::Config::from_toml_str("").unwrap();
    let runtime = integrations_core::Runtime::builder(integrations_core::Registry::new())
        .start(&config)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    (Arc::new(runtime), listener)
}

/// Security review, finding 16: the bridge's HTTP server kept connections
/// that never finish their headers open for ever (slowloris).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_closes_connections_that_never_finish_their_headers() {
    use tokio::io::AsyncWriteExt;
    let (runtime, listener) = bridge_parts().await;
    let address = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let bridge = Bridge::new(runtime).header_read_timeout(Duration::from_millis(500));
    let serving = tokio::spawn(bridge.serve_http(listener, stop.clone()));
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        socket
            .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(socket);
    }
    for mut socket in slow {
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "a connection without its headers stayed open"
        );
    }
    stop.cancel();
    serving.await.unwrap();
}

/// Security review, finding 21: a server that printed a configured secret
/// on stderr had it quoted in errors and logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_a_server_prints_on_stderr_are_masked_where_it_is_quoted() {
    let env = integrations_core::config::Env::from_vars([("GH", "ghp_FROM_THE_ENV_1234")]);
    let servers = integrations_mcp::servers_from_json(
        r#"{"mcpServers": {"leaky": {"command": "sh",
            "args": ["-c", "echo token=$GITHUB_TOKEN key=$OTHER_API_KEY mode=$MODE >&2; exit 4"],
            "env": {"GITHUB_TOKEN": "${GH}", "OTHER_API_KEY": "literal-SECRET-5678",
                    "MODE": "production"}}}}"#,
        &env,
    )
    .unwrap();
    let pool = McpPool::builder()
        .server(ServerName::from_static("leaky"), servers["leaky"].clone())
        .handshake_timeout(Duration::from_secs(20))
        .build();
    let key = SessionKey::new(
        TenantId::new("t").unwrap(),
        ServerName::from_static("leaky"),
    );
    let error = pool.get(&key).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("token=[redacted]"), "{text}");
    assert!(!text.contains("ghp_FROM_THE_ENV_1234"), "{text}");
    assert!(!text.contains("literal-SECRET-5678"), "{text}");
    assert!(
        text.contains("mode=production"),
        "ordinary values stay: {text}"
    );
    pool.shutdown(Duration::from_secs(1)).await;
}

/// A server that completes the handshake and exits at once.
fn exits_after_the_handshake() -> integrations_core::config::McpServerEntry {
    const SCRIPT: &str = r#"
const lines = require("readline").createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const message = JSON.parse(line);
  if (message.method === "initialize") {
    process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: {
      protocolVersion: message.params.protocolVersion, capabilities: { tools: {} },
      serverInfo: { name: "brief", version: "1" } } }) + "\n");
  } else if (message.method === "notifications/initialized") {
    process.exit(0);
  }
});
"#;
    integrations_core::config::StdioServer::new(integrations_core::config::ConfigString::plain(
        "node",
    ))
    .args(["-e", SCRIPT])
    .into()
}

/// Reliability probe, finding 19: a call made after its server died waited
/// its whole timeout on rmcp and came back as a `Timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_server_that_has_exited_is_session_closed_at_once() {
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("brief"),
            exits_after_the_handshake(),
        )
        .call_timeout(Duration::from_secs(20))
        .build();
    let key = SessionKey::new(
        TenantId::new("t").unwrap(),
        ServerName::from_static("brief"),
    );
    let session = pool.get(&key).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let error = session
        .list_tools(&integrations_mcp::CallOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::SessionClosed { .. }),
        "{error:?} after {:?}",
        started.elapsed()
    );
    pool.shutdown(Duration::from_secs(1)).await;
}

/// Security review, observation: the bridge over HTTP checked no `Origin`,
/// so a page in the user's browser could reach the host's integrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_refuses_a_browser_origin_it_was_not_told_of() {
    let (runtime, listener) = bridge_parts().await;
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(
        Bridge::new(runtime)
            .allowed_origins(["http://localhost:3000"])
            .serve_http(listener, stop.clone()),
    );
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}});
    let post = |origin: Option<&str>| {
        let mut request = reqwest::Client::new()
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    assert_eq!(
        post(Some("https://evil.example")).await.unwrap().status(),
        403
    );
    assert!(
        post(Some("http://localhost:3000"))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(
        post(None).await.unwrap().status().is_success(),
        "agents send no Origin"
    );
    stop.cancel();
    serving.await.unwrap();
}

/// A server that answers `tools/call` with a result of `bytes` characters.
fn answers_at_length(bytes: usize) -> integrations_core::config::McpServerEntry {
    let script = format!(
        r#"
const lines = require("readline").createInterface({{ input: process.stdin }});
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
lines.on("line", (line) => {{
  const message = JSON.parse(line);
  if (message.method === "initialize") {{
    send({{ jsonrpc: "2.0", id: message.id, result: {{
      protocolVersion: message.params.protocolVersion, capabilities: {{ tools: {{}} }},
      serverInfo: {{ name: "big", version: "1" }} }} }});
  }} else if (message.method === "tools/call") {{
    send({{ jsonrpc: "2.0", id: message.id, result: {{
      content: [{{ type: "text", text: "x".repeat({bytes}) }}] }} }});
  }}
}});
"#
    );
    integrations_core::config::StdioServer::new(integrations_core::config::ConfigString::plain(
        "node",
    ))
    .args(["-e", &script])
    .into()
}

/// Reliability probe, finding 20: a result over the line limit was dropped
/// by rmcp, and the call waited its whole timeout to report a `Timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_over_the_message_limit_is_a_typed_error_and_the_session_lives() {
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("big"),
            answers_at_length(2 * 1024 * 1024),
        )
        .max_message_bytes(1024 * 1024)
        .call_timeout(Duration::from_secs(5))
        .build();
    let key = SessionKey::new(TenantId::new("t").unwrap(), ServerName::from_static("big"));
    let error = pool
        .call_tool(&key, "any", serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::MessageTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        !error.is_transient(),
        "the same call would fail the same way"
    );
    assert_eq!(pool.metrics().connects, 1);
    pool.shutdown(Duration::from_secs(1)).await;
}

/// An answer over the limit while
/// another call was in flight was dropped by rmcp, and its call waited its
/// whole timeout. Now it fails at once and the other call gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_answer_fails_its_own_call_beside_others_in_flight() {
    let script = r#"
const lines = require("readline").createInterface({ input: process.stdin });
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
lines.on("line", (line) => {
  const message = JSON.parse(line);
  if (message.method === "initialize") {
    send({ jsonrpc: "2.0", id: message.id, result: {
      protocolVersion: message.params.protocolVersion, capabilities: { tools: {} },
      serverInfo: { name: "mixed", version: "1" } } });
  } else if (message.method === "tools/call") {
    const big = message.params.name === "big";
    setTimeout(() => send({ jsonrpc: "2.0", id: message.id, result: {
      content: [{ type: "text", text: big ? "x".repeat(2 * 1024 * 1024) : "small" }] } }),
      big ? 200 : 1500);
  }
});
"#;
    let server = integrations_core::config::StdioServer::new(
        integrations_core::config::ConfigString::plain("node"),
    )
    .args(["-e", script]);
    let pool = McpPool::builder()
        .server(ServerName::from_static("mixed"), server.into())
        .max_message_bytes(1024 * 1024)
        .call_timeout(Duration::from_secs(20))
        .build();
    let key = SessionKey::new(
        TenantId::new("t").unwrap(),
        ServerName::from_static("mixed"),
    );
    pool.get(&key).await.unwrap();
    let (big, small) = tokio::join!(
        pool.call_tool(&key, "big", serde_json::json!({})),
        pool.call_tool(&key, "small", serde_json::json!({})),
    );
    let error = big.unwrap_err();
    assert!(
        matches!(
            error,
            Error::MessageTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(small.unwrap().text(), "small");
    assert_eq!(pool.metrics().connects, 1, "the session lived");
    pool.shutdown(Duration::from_secs(1)).await;
}

/// A host's own routes through `serve_router`: a response that never ends
/// (server-sent events) does not keep the server from stopping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_stops_even_with_a_stream_that_never_ends() {
    let router = axum::Router::new().route(
        "/forever",
        axum::routing::get(|| async {
            axum::body::Body::from_stream(futures_util::stream::pending::<
                Result<String, std::io::Error>,
            >())
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/forever", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(integrations_mcp::server::serve_router(
        listener,
        router,
        Duration::from_secs(10),
        stop.clone(),
    ));
    let response = reqwest::get(&url).await.unwrap();
    assert!(response.status().is_success());
    stop.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(30), serving).await;
    assert!(stopped.is_ok(), "the server did not stop");
    drop(response);
}
