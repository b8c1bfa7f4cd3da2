//! MCP over streamable HTTP on loopback, each figure beside a baseline run
//! in the same invocation, in alternating rounds:
//!
//! 1. `call_tool` latency p50/p99 on MCP 2026-07-28 (stateless HTTP)
//!    against the bridge: a bare rmcp client with the same lifecycle
//!    (baseline) vs `McpPool::call_tool`.
//! 2. The bridge's `tools/call` throughput, 32 calls in flight from a bare
//!    rmcp client, in both revisions, over streamable HTTP and over a byte
//!    stream (an in-process pipe: the stdio transport without the
//!    processes): a bare rmcp server exposing the same tool (baseline) vs
//!    the bridge.
//!
//! ```sh
//! cargo bench -p integrations-mcp --features http --bench http
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use integrations_core::id::ServerName;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, TenantId,
    async_trait,
};
use integrations_mcp::{Bridge, McpPool, SessionKey};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientLifecycleMode, ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The bridge's integration: `say` echoes its text.
struct Echo;

#[async_trait]
impl Integration for Echo {
    fn id(&self) -> &str {
        "echo"
    }
    fn name(&self) -> &str {
        "Echo"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("say", "Echoes its text").with_parameters(json!({
                "type": "object", "properties": {"text": {"type": "string"}}
            })),
        ]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        Ok(ActionResult::ok(action.arguments["text"].clone()))
    }
}

/// The same tool on a bare rmcp server.
#[derive(Clone)]
struct BareServer;

impl ServerHandler for BareServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}});
        let schema = Arc::new(schema.as_object().cloned().unwrap_or_default());
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "say",
            "Echoes its text",
            schema,
        )]))
    }
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = request
            .arguments
            .as_ref()
            .and_then(|arguments| arguments.get("text"))
            .and_then(|text| text.as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

/// A runtime with the echo integration.
async fn echo_runtime() -> Arc<Runtime> {
    let mut registry = Registry::new();
    registry.register(Arc::new(Echo)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"echo\"]").unwrap();
    Arc::new(Runtime::builder(registry).start(&config).await)
}

async fn bridge(stop: &CancellationToken) -> String {
    let runtime = echo_runtime().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(
        Bridge::new(runtime)
            .with_flat_names()
            .serve_http(listener, stop.clone()),
    );
    url
}

async fn bare_server(stop: &CancellationToken) -> String {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let mut config = StreamableHttpServerConfig::default();
    config.cancellation_token = stop.child_token();
    let service = StreamableHttpService::new(
        || Ok(BareServer),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let router = axum::Router::new().nest_service("/mcp", service);
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[derive(Clone)]
struct BareClient;

impl rmcp::ClientHandler for BareClient {}

fn lifecycle(modern: bool) -> ClientLifecycleMode {
    if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    }
}

async fn bare_client(url: &str, modern: bool) -> RunningService<RoleClient, BareClient> {
    rmcp::serve_client_with_lifecycle(
        BareClient,
        StreamableHttpClientTransport::from_uri(url.to_owned()),
        lifecycle(modern),
    )
    .await
    .unwrap()
}

fn say() -> CallToolRequestParams {
    CallToolRequestParams::new("say").with_arguments(
        json!({"text": "ping"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[((p * sorted.len()).div_ceil(100)).max(1) - 1]
}

fn summary(label: &str, mut times: Vec<Duration>, baseline_p50: Option<Duration>) -> Duration {
    times.sort();
    let (p50, p99) = (percentile(&times, 50), percentile(&times, 99));
    let ratio = baseline_p50.map_or(1.0, |b| p50.as_secs_f64() / b.as_secs_f64());
    println!(
        "  {label:<46} p50 {:>7.1} µs   p99 {:>7.1} µs   {ratio:>5.2}x",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    p50
}

async fn latency(rounds: usize, per_round: usize) {
    let stop = CancellationToken::new();
    let url = bridge(&stop).await;
    let bare = bare_client(&url, true).await;
    let pool = McpPool::builder()
        .server(ServerName::from_static("echo"), Bridge::http_entry(&url))
        .protocol(integrations_core::config::McpProtocol::Modern)
        .build();
    let key = SessionKey::new(
        TenantId::new("bench").unwrap(),
        ServerName::from_static("echo"),
    );
    for _ in 0..200 {
        bare.peer().call_tool_once(say()).await.unwrap();
        pool.call_tool(&key, "say", json!({"text": "ping"}))
            .await
            .unwrap();
    }
    let (mut bare_times, mut pool_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for turn in 0..2 {
            let pool_turn = (round + turn) % 2 == 1;
            for _ in 0..per_round {
                let started = Instant::now();
                if pool_turn {
                    black_box(
                        pool.call_tool(&key, "say", json!({"text": "ping"}))
                            .await
                            .unwrap(),
                    );
                    pool_times.push(started.elapsed());
                } else {
                    black_box(bare.peer().call_tool_once(say()).await.unwrap());
                    bare_times.push(started.elapsed());
                }
            }
        }
    }
    println!(
        "call_tool over stateless streamable HTTP (2026-07-28) against the bridge, {} sequential calls each in {rounds} alternating rounds:",
        rounds * per_round
    );
    let baseline = summary(
        "bare rmcp client, same lifecycle (baseline)",
        bare_times,
        None,
    );
    summary("McpPool::call_tool", pool_times, Some(baseline));
    bare.cancel().await.unwrap();
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// Calls per second with 32 callers on one client, `n` calls in all.
async fn in_flight(client: &RunningService<RoleClient, BareClient>, n: usize) -> f64 {
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let peer = client.peer().clone();
        workers.spawn(async move {
            for _ in 0..n / 32 {
                black_box(peer.call_tool_once(say()).await.unwrap());
            }
        });
    }
    while workers.join_next().await.is_some() {}
    (n / 32 * 32) as f64 / started.elapsed().as_secs_f64()
}

/// A bare client of a server served over an in-process byte stream (what
/// a stdio pipe is between two processes).
async fn over_stream(
    serve: impl FnOnce(tokio::io::DuplexStream),
    modern: bool,
) -> RunningService<RoleClient, BareClient> {
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    serve(server_side);
    rmcp::serve_client_with_lifecycle(BareClient, client_side, lifecycle(modern))
        .await
        .unwrap()
}

async fn throughput(rounds: usize, n: usize) {
    let stop = CancellationToken::new();
    let (bridge_url, bare_url) = (bridge(&stop).await, bare_server(&stop).await);
    for modern in [false, true] {
        let to_bridge = bare_client(&bridge_url, modern).await;
        let to_bare = bare_client(&bare_url, modern).await;
        compare("streamable HTTP", modern, (to_bare, to_bridge), rounds, n).await;
    }
    let runtime = echo_runtime().await;
    for modern in [false, true] {
        let bridge = Bridge::new(Arc::clone(&runtime)).with_flat_names();
        let to_bridge = over_stream(
            |stream| {
                tokio::spawn(bridge.serve(stream));
            },
            modern,
        )
        .await;
        let to_bare = over_stream(
            |stream| {
                tokio::spawn(async move {
                    if let Ok(server) = BareServer.serve(stream).await {
                        let _ = server.waiting().await;
                    }
                });
            },
            modern,
        )
        .await;
        compare(
            "a byte stream (stdio)",
            modern,
            (to_bare, to_bridge),
            rounds,
            n,
        )
        .await;
    }
    stop.cancel();
}

/// The bridge's throughput beside the bare server's, in alternating rounds.
async fn compare(
    over: &str,
    modern: bool,
    (to_bare, to_bridge): (
        RunningService<RoleClient, BareClient>,
        RunningService<RoleClient, BareClient>,
    ),
    rounds: usize,
    n: usize,
) {
    {
        let (mut bare_rates, mut bridge_rates) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                bare_rates.push(in_flight(&to_bare, n).await);
                bridge_rates.push(in_flight(&to_bridge, n).await);
            } else {
                bridge_rates.push(in_flight(&to_bridge, n).await);
                bare_rates.push(in_flight(&to_bare, n).await);
            }
        }
        let median = |mut rates: Vec<f64>| {
            rates.sort_by(f64::total_cmp);
            rates[rates.len() / 2]
        };
        let (bare_rate, bridge_rate) = (median(bare_rates), median(bridge_rates));
        println!(
            "\ntools/call throughput over {over}, {}, 32 calls in flight, {n} calls, median of {rounds} alternating rounds:",
            if modern { "2026-07-28" } else { "2025-11-25" }
        );
        println!(
            "  {:<46} {bare_rate:>9.0} calls/s   1.00x",
            "bare rmcp server, same tool (baseline)"
        );
        println!(
            "  {:<46} {bridge_rate:>9.0} calls/s   {:.2}x",
            "Bridge",
            bridge_rate / bare_rate
        );
        to_bridge.cancel().await.unwrap();
        to_bare.cancel().await.unwrap();
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(latency(20, 200));
    runtime.block_on(throughput(5, 3200));
}
