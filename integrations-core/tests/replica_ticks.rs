//! Ticks across replicas: four processes run the same runtime on one
//! PostgreSQL with a `PgTickLease`; an integration ticking every 100 ms is
//! ticked once per interval in all, not four times; the holder is killed
//! with SIGKILL and another replica takes over within the lease's TTL.
//!
//! A test without the libtest harness: run as `replica URL NAME` it is
//! one replica, recording each tick in table `test_ticks`.

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integrations_core::runtime::PgTickLease;
use integrations_core::{
    BoxError, Config, Integration, Notification, Registry, Runtime, async_trait,
};
use integrations_fakes::postgres::TestPostgres;
use sqlx::postgres::PgPool;

const INTERVAL: Duration = Duration::from_millis(100);
const TTL: Duration = Duration::from_secs(1);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.first().map(String::as_str) == Some("replica") {
        runtime.block_on(replica(&args[1], &args[2]));
        return;
    }
    let Some(server) = TestPostgres::start_or_skip("replica ticks") else {
        return;
    };
    runtime.block_on(ticks_run_once_per_interval_and_fail_over(&server));
    println!("test ticks_run_once_per_interval_and_fail_over ... ok");
}

/// Records each tick with the replica's name.
#[derive(Debug)]
struct Recorder {
    pool: PgPool,
    replica: String,
}

#[async_trait]
impl Integration for Recorder {
    fn id(&self) -> &str {
        "reporter"
    }
    fn name(&self) -> &str {
        "Reporter"
    }
    fn tick_interval(&self) -> Option<Duration> {
        Some(INTERVAL)
    }
    async fn tick(&self) -> Result<Vec<Notification>, BoxError> {
        sqlx::query("INSERT INTO test_ticks (replica, at) VALUES ($1, clock_timestamp())")
            .bind(&self.replica)
            .execute(&self.pool)
            .await?;
        Ok(Vec::new())
    }
}

async fn replica(url: &str, name: &str) {
    let pool = PgPool::connect(url).await.unwrap();
    let lease = PgTickLease::new(pool.clone()).await.unwrap();
    let mut registry = Registry::new();
    registry
        .register(Arc::new(Recorder {
            pool,
            replica: name.to_owned(),
        }))
        .unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"reporter\"]").unwrap();
    let _runtime = Runtime::builder(registry)
        .tick_lease(lease, name, TTL)
        .start(&config)
        .await;
    // Tick until killed.
    std::future::pending::<()>().await;
}

async fn ticks(pool: &PgPool) -> Vec<(String, f64)> {
    sqlx::query_as("SELECT replica, EXTRACT(EPOCH FROM at)::float8 FROM test_ticks ORDER BY at")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn ticks_run_once_per_interval_and_fail_over(server: &TestPostgres) {
    let url = server.database("ticks");
    let pool = PgPool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE test_ticks (replica TEXT NOT NULL, at TIMESTAMPTZ NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let me = std::env::current_exe().unwrap();
    let mut replicas: Vec<(String, Child)> = (0..4)
        .map(|n| {
            let name = format!("replica-{n}");
            let child = Command::new(&me)
                .args(["replica", &url, &name])
                .spawn()
                .unwrap();
            (name, child)
        })
        .collect();

    // Let them start, then count the ticks of a 5 s window.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ticks(&pool).await.is_empty() {
        assert!(Instant::now() < deadline, "no replica ticked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = ticks(&pool).await.len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let window = ticks(&pool).await;
    let counted = window.len() - before;
    println!("replica ticks: {counted} ticks in 5 s from 4 replicas at 100 ms");
    assert!(
        counted <= 52,
        "{counted} ticks in 5 s: more than one replica ticked"
    );
    assert!(counted >= 35, "{counted} ticks in 5 s: ticks were lost");

    // Kill the holder; another takes over within the lease's TTL.
    let holder = window.last().unwrap().0.clone();
    let at = replicas
        .iter()
        .position(|(name, _)| *name == holder)
        .unwrap();
    replicas[at].1.kill().unwrap(); // SIGKILL: the lease is not released
    replicas[at].1.wait().unwrap();
    let killed_at = ticks(&pool)
        .await
        .iter()
        .rev()
        .find(|(name, _)| *name == holder)
        .unwrap()
        .1;
    let deadline = Instant::now() + Duration::from_secs(30);
    let next = loop {
        if let Some(tick) = ticks(&pool)
            .await
            .into_iter()
            .find(|(name, at)| *name != holder && *at > killed_at)
        {
            break tick;
        }
        assert!(Instant::now() < deadline, "no replica took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let gap = next.1 - killed_at;
    println!(
        "replica ticks: {holder} killed; {} ticked {gap:.2} s after its last tick (TTL {TTL:?})",
        next.0
    );
    assert!(gap <= TTL.as_secs_f64() + 1.0, "took over after {gap:.2} s");
    assert!(
        gap >= TTL.as_secs_f64() - 0.2,
        "took over after {gap:.2} s, before the lease ran out"
    );
    for (_, mut child) in replicas {
        let _ = child.kill();
        let _ = child.wait();
    }
}
