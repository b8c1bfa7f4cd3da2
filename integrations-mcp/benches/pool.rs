//! MCP pool benchmarks against the demo server, each beside a baseline run
//! in the same invocation:
//!
//! 1. `call_tool` (echo) latency p50/p99: a bare rmcp client (baseline) vs
//!    through the pool, on a multi-thread and on a current-thread runtime.
//! 2. Throughput on one session: sequential calls (baseline) vs 32 in flight.
//! 3. `McpPool::get` on a live session vs a `Mutex<HashMap>` lookup
//!    (baseline).
//!
//! ```sh
//! cargo bench -p integrations-mcp --bench pool
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integrations_core::{ConfigString, McpServerEntry, StdioServer, TenantId};
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

async fn bare_client() -> (
    rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tokio::process::Child,
) {
    let mut child = tokio::process::Command::new(DEMO)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let client =
        rmcp::serve_client_with_lifecycle((), (stdout, stdin), ClientLifecycleMode::Initialize)
            .await
            .unwrap();
    (client, child)
}

fn pool() -> McpPool {
    McpPool::builder()
        .server(
            "demo",
            McpServerEntry::Stdio(StdioServer::new(ConfigString::plain(DEMO))),
        )
        .build()
}

async fn latency(flavor: &str, n: usize) {
    let (bare, mut child) = bare_client().await;
    let params = || {
        CallToolRequestParams::new("echo")
            .with_arguments(json!({"text": "ping"}).as_object().unwrap().clone())
    };
    for _ in 0..100 {
        bare.call_tool(params()).await.unwrap();
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        black_box(bare.call_tool(params()).await.unwrap());
        times.push(started.elapsed());
    }
    println!("call_tool(echo), {n} sequential calls, {flavor} runtime:");
    let baseline = summary("bare rmcp client (baseline)", times, None);
    bare.cancel().await.unwrap();
    child.kill().await.unwrap();

    let pool = pool();
    let key = SessionKey::new(TenantId::new("bench").unwrap(), "demo");
    for _ in 0..100 {
        pool.call_tool(&key, "echo", json!({"text": "ping"}))
            .await
            .unwrap();
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        black_box(
            pool.call_tool(&key, "echo", json!({"text": "ping"}))
                .await
                .unwrap(),
        );
        times.push(started.elapsed());
    }
    summary("McpPool::call_tool", times, Some(baseline));
    pool.shutdown(Duration::from_secs(5)).await;
}

async fn throughput(n: usize) {
    let pool = pool();
    let key = SessionKey::new(TenantId::new("bench").unwrap(), "demo");
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

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (pool, key) = (pool.clone(), key.clone());
        workers.spawn(async move {
            for _ in 0..n / 32 {
                pool.call_tool(&key, "echo", json!({"text": "ping"}))
                    .await
                    .unwrap();
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let concurrent = (n / 32 * 32) as f64 / started.elapsed().as_secs_f64();
    println!("\nthroughput on one session, {n} calls, multi-thread runtime:");
    println!(
        "  {:<46} {sequential:>9.0} calls/s   1.00x",
        "sequential (baseline)"
    );
    println!(
        "  {:<46} {concurrent:>9.0} calls/s   {:.2}x",
        "32 in flight",
        concurrent / sequential
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

async fn get_hit(n: u32) {
    let pool = pool();
    let key = SessionKey::new(TenantId::new("bench").unwrap(), "demo");
    let session = pool.get(&key).await.unwrap();
    let map: Mutex<HashMap<SessionKey, Arc<integrations_mcp::Session>>> =
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

fn main() {
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    multi.block_on(latency("multi-thread", 2000));
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current.block_on(latency("current-thread", 2000));
    multi.block_on(throughput(4000));
    multi.block_on(get_hit(1_000_000));
}
