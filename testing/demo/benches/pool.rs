//! MCP pool benchmarks against the demo server, each beside a baseline run
//! in the same invocation:
//!
//! 1. `call_tool` (echo) latency p50/p99: a bare rmcp client (baseline) vs
//!    through the pool, on a multi-thread and on a current-thread runtime.
//!    Both clients are live at once and measured in alternating rounds, so
//!    drift on a shared machine hits both alike.
//! 2. Throughput with 32 calls in flight on one session: a bare rmcp client
//!    (baseline) vs the pool, in alternating rounds; and the pool's own
//!    sequential rate.
//! 3. `McpPool::get` on a live session vs a `Mutex<HashMap>` lookup
//!    (baseline).
//!
//! ```sh
//! cargo bench -p integrations-mcp-demo --bench pool
//! BENCH_SPANS=1 cargo bench -p integrations-mcp-demo --bench pool
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integrations_core::TenantId;
use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};
use integrations_core::id::ServerName;
use integrations_mcp::{McpPool, SessionKey};
use rmcp::ClientLifecycleMode;
use rmcp::model::CallToolRequestParams;
use serde_json::json;

const DEMO: &str = env!("CARGO_BIN_EXE_integrations-mcp-demo");

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

/// A bare rmcp client with the pool's lifecycle against the demo server
/// (MCP 2026-07-28: `server/discover`, `_meta` on every request), so the
/// server does the same work for both; its calls go through
/// `Peer::call_tool_once`, one round, as the pool's do when the server asks
/// nothing back.
#[derive(Clone)]
struct BareClient;

impl rmcp::ClientHandler for BareClient {
    /// What the pool declares without hooks: the tasks extension.
    fn get_info(&self) -> rmcp::model::ClientConfig {
        let mut capabilities = rmcp::model::ClientCapabilities::default();
        capabilities
            .extensions
            .get_or_insert_default()
            .insert(rmcp::model::TASKS_EXTENSION_ID.into(), Default::default());
        rmcp::model::ClientConfig::new(capabilities, rmcp::model::Implementation::new("bare", "1"))
    }
}

/// What the bare client's calls do: one `tools/call` round.
async fn bare_call(peer: &rmcp::Peer<rmcp::RoleClient>) -> rmcp::model::CallToolResponse {
    peer.call_tool_once(echo()).await.unwrap()
}

async fn bare_client() -> (
    rmcp::service::RunningService<rmcp::RoleClient, BareClient>,
    tokio::process::Child,
) {
    // Started as the pool starts its servers: a cleared environment, its
    // own process group, stderr not inherited.
    let mut child = tokio::process::Command::new(DEMO)
        .env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let client = rmcp::serve_client_with_lifecycle(
        BareClient,
        (stdout, stdin),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .unwrap();
    (client, child)
}

fn pool() -> McpPool {
    McpPool::builder()
        .server(
            ServerName::from_static("demo"),
            McpServerEntry::Stdio(StdioServer::new(ConfigString::plain(DEMO))),
        )
        .build()
}

fn echo() -> CallToolRequestParams {
    CallToolRequestParams::new("echo")
        .with_arguments(json!({"text": "ping"}).as_object().unwrap().clone())
}

/// `rounds` rounds of `per_round` sequential calls on each client, in
/// alternating order, half of them with the bare client's server spawned
/// first and half with the pool's: which server process starts first moves
/// the current-thread figures by up to 30% either way, whichever client it
/// serves.
async fn latency(flavor: &str, rounds: usize, per_round: usize) {
    let (mut bare_times, mut pool_times) = (Vec::new(), Vec::new());
    for pool_first in [false, true] {
        let pool = pool();
        let key = SessionKey::new(
            TenantId::new("bench").unwrap(),
            ServerName::from_static("demo"),
        );
        if pool_first {
            pool.get(&key).await.unwrap();
        }
        let (bare, mut child) = bare_client().await;
        for _ in 0..200 {
            bare_call(bare.peer()).await;
            pool.call_tool(&key, "echo", json!({"text": "ping"}))
                .await
                .unwrap();
        }
        for round in 0..rounds / 2 {
            for turn in 0..2 {
                let pool_turn = (round + turn) % 2 == 1;
                for _ in 0..per_round {
                    let started = Instant::now();
                    if pool_turn {
                        black_box(
                            pool.call_tool(&key, "echo", json!({"text": "ping"}))
                                .await
                                .unwrap(),
                        );
                        pool_times.push(started.elapsed());
                    } else {
                        black_box(bare_call(bare.peer()).await);
                        bare_times.push(started.elapsed());
                    }
                }
            }
        }
        bare.cancel().await.unwrap();
        child.kill().await.unwrap();
        pool.shutdown(Duration::from_secs(5)).await;
    }
    println!(
        "call_tool(echo), {} sequential calls each in {rounds} alternating rounds (half with each server spawned first), {flavor} runtime:",
        rounds * per_round
    );
    let baseline = summary("bare rmcp client (baseline)", bare_times, None);
    summary("McpPool::call_tool", pool_times, Some(baseline));
}

/// Calls per second with 32 callers, each making `n / 32` calls.
async fn in_flight<F, Fut>(n: usize, call: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let call = call.clone();
        workers.spawn(async move {
            for _ in 0..n / 32 {
                call().await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
    (n / 32 * 32) as f64 / started.elapsed().as_secs_f64()
}

async fn throughput(rounds: usize, n: usize) {
    let (bare, mut child) = bare_client().await;
    let peer = bare.peer().clone();
    let pool = pool();
    let key = SessionKey::new(
        TenantId::new("bench").unwrap(),
        ServerName::from_static("demo"),
    );
    pool.call_tool(&key, "echo", json!({"text": "warm"}))
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..n {
        pool.call_tool(&key, "echo", json!({"text": "ping"}))
            .await
            .unwrap();
    }
    let sequential = n as f64 / started.elapsed().as_secs_f64();

    let bare_call = move || {
        let peer = peer.clone();
        async move {
            black_box(bare_call(&peer).await);
        }
    };
    let pool_call = {
        let (pool, key) = (pool.clone(), key.clone());
        move || {
            let (pool, key) = (pool.clone(), key.clone());
            async move {
                black_box(
                    pool.call_tool(&key, "echo", json!({"text": "ping"}))
                        .await
                        .unwrap(),
                );
            }
        }
    };
    let (mut bare_rates, mut pool_rates) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            bare_rates.push(in_flight(n, bare_call.clone()).await);
            pool_rates.push(in_flight(n, pool_call.clone()).await);
        } else {
            pool_rates.push(in_flight(n, pool_call.clone()).await);
            bare_rates.push(in_flight(n, bare_call.clone()).await);
        }
    }
    let median = |mut rates: Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let (bare_rate, pool_rate) = (median(bare_rates), median(pool_rates));
    println!(
        "\nthroughput on one session, 32 calls in flight, {n} calls, median of {rounds} alternating rounds, multi-thread runtime:"
    );
    println!(
        "  {:<46} {bare_rate:>9.0} calls/s   1.00x",
        "bare rmcp client (baseline)"
    );
    println!(
        "  {:<46} {pool_rate:>9.0} calls/s   {:.2}x",
        "McpPool::call_tool",
        pool_rate / bare_rate
    );
    println!(
        "  {:<46} {sequential:>9.0} calls/s   {:.2}x",
        "McpPool::call_tool, one at a time",
        sequential / bare_rate
    );
    bare.cancel().await.unwrap();
    child.kill().await.unwrap();
    pool.shutdown(Duration::from_secs(5)).await;
}

async fn get_hit(n: u32) {
    let pool = pool();
    let key = SessionKey::new(
        TenantId::new("bench").unwrap(),
        ServerName::from_static("demo"),
    );
    let session = pool.get(&key).await.unwrap();
    let map: Mutex<HashMap<SessionKey, Arc<integrations_mcp::client::Session>>> =
        Mutex::new(HashMap::from([(key.clone(), session)]));
    let started = Instant::now();
    for _ in 0..n {
        black_box(map.lock().unwrap().get(&key).cloned());
    }
    let baseline = started.elapsed().as_secs_f64() * 1e9 / f64::from(n);
    let started = Instant::now();
    for _ in 0..n {
        black_box(pool.get(&key).await.unwrap());
    }
    let ours = started.elapsed().as_secs_f64() * 1e9 / f64::from(n);
    println!("\nsession lookup on a live key, {n} lookups:");
    println!(
        "  {:<46} {baseline:>9.0} ns   1.00x",
        "Mutex<HashMap> get + Arc clone (baseline)"
    );
    println!(
        "  {:<46} {ours:>9.0} ns   {:.2}x",
        "McpPool::get (liveness check, LRU touch)",
        ours / baseline
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

/// `--profile bare|pool N`: only N sequential calls on one client, for
/// `valgrind --tool=callgrind` to count the client's instructions.
async fn profile(which: &str, n: usize) {
    if which == "bare" {
        let (bare, mut child) = bare_client().await;
        for _ in 0..n {
            black_box(bare_call(bare.peer()).await);
        }
        bare.cancel().await.unwrap();
        child.kill().await.unwrap();
    } else {
        let pool = pool();
        let key = SessionKey::new(
            TenantId::new("bench").unwrap(),
            ServerName::from_static("demo"),
        );
        for _ in 0..n {
            black_box(
                pool.call_tool(&key, "echo", json!({"text": "ping"}))
                    .await
                    .unwrap(),
            );
        }
        pool.shutdown(Duration::from_secs(5)).await;
    }
}

/// With `BENCH_SPANS=1`: `tracing` goes to OpenTelemetry through
/// `tracing-opentelemetry`, with a tracer provider that exports nothing, so
/// every span the pool makes is built and ended as in a host that exports
/// its traces. Every level is recorded (rmcp's debug events, which print
/// each message, become span events); `BENCH_SPANS=info` records info and
/// above, as a host's usual filter does.
fn install_spans() -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    use opentelemetry::trace::TracerProvider;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;
    let spans = std::env::var("BENCH_SPANS").ok()?;
    let level = match spans.as_str() {
        "info" => LevelFilter::INFO,
        _ => LevelFilter::TRACE,
    };
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
        .with(level);
    tracing::subscriber::set_global_default(subscriber).ok()?;
    println!("spans on: tracing-opentelemetry, exporting to nothing, up to {level}");
    Some(provider)
}

fn main() {
    let _spans = install_spans();
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--profile") {
        let n = args
            .get(at + 2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(2000);
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(profile(&args[at + 1], n));
    }
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    multi.block_on(latency("multi-thread", 20, 200));
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current.block_on(latency("current-thread", 20, 200));
    multi.block_on(throughput(5, 6400));
    multi.block_on(get_hit(1_000_000));
}
