//! Runtime benchmarks, each against a baseline measured in the same run.
//!
//! 1. Dispatch cost per call with 10,000 registered integrations: calling
//!    `handle` directly (baseline) vs `Registry::dispatch` (lookup + JSON
//!    Schema validation) vs `Runtime::dispatch` (plus timeout and health).
//! 2. CPU time per second of wall time with 10,000 integrations ticking every
//!    second: bare tokio interval loops calling `tick` (baseline) vs the
//!    runtime's tick loops.
//!
//! ```sh
//! cargo bench -p integrations-core --bench runtime            # 10 s per CPU phase
//! BENCH_SECONDS=3 cargo bench -p integrations-core --bench runtime
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Notification, Registry,
    Runtime, async_trait,
};
use serde_json::{Value, json};

const INTEGRATIONS: usize = 10_000;

struct Bench {
    id: String,
    ticks: Arc<AtomicU64>,
}

#[async_trait]
impl Integration for Bench {
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        "bench"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("add", "adds").with_parameters(json!({
            "type": "object",
            "properties": { "a": { "type": "number" }, "b": { "type": "number" } },
            "required": ["a", "b"],
            "additionalProperties": false
        }))]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        let a = action.arguments["a"].as_f64().unwrap_or_default();
        let b = action.arguments["b"].as_f64().unwrap_or_default();
        Ok(ActionResult::ok(json!(a + b)))
    }
    async fn tick(&self) -> Result<Vec<Notification>, BoxError> {
        self.ticks.fetch_add(1, Ordering::Relaxed);
        Ok(Vec::new())
    }
}

fn integrations(ticks: &Arc<AtomicU64>) -> Vec<Arc<Bench>> {
    (0..INTEGRATIONS)
        .map(|i| {
            Arc::new(Bench {
                id: format!("bench_{i}"),
                ticks: ticks.clone(),
            })
        })
        .collect()
}

fn config(interval: &str) -> Config {
    let ids: Vec<String> = (0..INTEGRATIONS)
        .map(|i| format!("\"bench_{i}\""))
        .collect();
    let mut toml = format!("[integrations]\nenabled = [{}]\n", ids.join(","));
    for i in 0..INTEGRATIONS {
        toml.push_str(&format!(
            "[integrations.bench_{i}]\ntick_interval = \"{interval}\"\n"
        ));
    }
    Config::from_toml_str(&toml).expect("bench config")
}

fn registry(all: &[Arc<Bench>]) -> Registry {
    let mut registry = Registry::new();
    for integration in all {
        registry.register(integration.clone()).expect("register");
    }
    registry
}

/// Median nanoseconds per call of `f` over 5 rounds of `n` calls.
async fn per_call<F, Fut>(n: u32, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..n / 10 {
        f().await;
    }
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..n {
            f().await;
        }
        rounds.push(start.elapsed().as_nanos() as f64 / f64::from(n));
    }
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn dispatch_bench() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ticks = Arc::new(AtomicU64::new(0));
        let all = integrations(&ticks);
        let target_integration = all[INTEGRATIONS / 2].clone();
        let target = format!("{}.add", target_integration.id);
        let args: Value = json!({ "a": 1.5, "b": 2.5 });
        let n = 200_000;

        let direct = per_call(n, || {
            let integration = target_integration.clone();
            let action = Action::new("add", args.clone());
            async move {
                black_box(integration.handle(action).await.unwrap());
            }
        })
        .await;

        let registry = registry(&all);
        let via_registry = per_call(n, || {
            let call = registry.dispatch(&target, args.clone());
            async move {
                black_box(call.await.unwrap());
            }
        })
        .await;

        let runtime = Runtime::builder(registry).start(&config("1h")).await;
        let via_runtime = per_call(n, || {
            let call = runtime.dispatch(&target, args.clone());
            async move {
                black_box(call.await.unwrap());
            }
        })
        .await;
        runtime.shutdown(Duration::from_secs(10)).await;

        println!("dispatch, {INTEGRATIONS} integrations registered, median of 5 x {n} calls:");
        println!("  handle() called directly (baseline) {direct:>8.0} ns/call   1.00x");
        println!(
            "  Registry::dispatch                  {via_registry:>8.0} ns/call   {:.2}x",
            via_registry / direct
        );
        println!(
            "  Runtime::dispatch                   {via_runtime:>8.0} ns/call   {:.2}x",
            via_runtime / direct
        );
    });
}

/// CPU milliseconds used, and ticks counted, per wall second while
/// `seconds` pass (after a 2 s warm-up).
async fn per_wall_second(seconds: u64, ticks: &AtomicU64) -> (f64, f64) {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = ticks.load(Ordering::Relaxed);
    let cpu = ProcessTime::now();
    let wall = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let wall = wall.elapsed().as_secs_f64();
    let ticked = ticks.load(Ordering::Relaxed) - before;
    (
        cpu.elapsed().as_secs_f64() * 1000.0 / wall,
        ticked as f64 / wall,
    )
}

/// Runs plain tokio interval loops calling `tick` and measures them.
async fn bare_loops(all: &[Arc<Bench>], seconds: u64, ticks: &AtomicU64) -> (f64, f64) {
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut bare = tokio::task::JoinSet::new();
    for integration in all {
        let integration = integration.clone();
        let cancel = cancel.clone();
        bare.spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            interval.tick().await;
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = interval.tick() => { black_box(integration.tick().await.ok()); }
                }
            }
        });
    }
    let measured = per_wall_second(seconds, ticks).await;
    cancel.cancel();
    while bare.join_next().await.is_some() {}
    measured
}

fn ticking_bench(seconds: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ticks = Arc::new(AtomicU64::new(0));
        let (idle, _) = per_wall_second(seconds, &ticks).await;

        let all = integrations(&ticks);
        let (baseline, baseline_ticks) = bare_loops(&all, seconds, &ticks).await;

        let runtime = Runtime::builder(registry(&all)).start(&config("1s")).await;
        let (ours, our_ticks) = per_wall_second(seconds, &ticks).await;
        let report = runtime.shutdown(Duration::from_secs(10)).await;
        assert!(report.is_clean(), "{report:?}");
        let (again, again_ticks) = bare_loops(&all, seconds, &ticks).await;

        println!("\n{INTEGRATIONS} integrations ticking every second, {seconds} s measured (2 worker threads):");
        println!("  idle runtime                         {idle:>7.1} ms CPU per wall second");
        println!(
            "  bare tokio interval loops (baseline) {baseline:>7.1} ms CPU per wall second   1.00x   ({baseline_ticks:.0} ticks/s)"
        );
        println!(
            "  integrations-core Runtime            {ours:>7.1} ms CPU per wall second   {:.2}x   ({our_ticks:.0} ticks/s)",
            ours / baseline
        );
        println!(
            "  bare tokio interval loops, again     {again:>7.1} ms CPU per wall second   {:.2}x   ({again_ticks:.0} ticks/s)",
            again / baseline
        );
    });
}

fn main() {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    dispatch_bench();
    ticking_bench(seconds);
}
