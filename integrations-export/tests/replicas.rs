//! The outbox across replicas: 10,000 exports in PostgreSQL, four worker
//! processes deliver them to a fake Slack, one is killed with SIGKILL
//! mid-run; the fake received each export exactly once.
//!
//! A test without the libtest harness: run as `worker DB SLACK` it is one
//! replica's export service, delivering until nothing is left.

mod fixtures;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use integrations_core::id::ProviderId;
use integrations_export::store::{ExportStore, PgExportStore};
use integrations_export::{Content, ExportRequest, ExportService};
use integrations_fakes::postgres::TestPostgres;
use integrations_fakes::slack::FakeSlack;

use fixtures::{SLACK_TOKEN, slack, tenant};

/// How many exports: 1,000 by default, to keep the suite quick; the
/// 10,000 of the soak run with `INTEGRATIONS_REPLICA_EXPORTS=10000`.
fn exports() -> usize {
    std::env::var("INTEGRATIONS_REPLICA_EXPORTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.first().map(String::as_str) == Some("worker") {
        runtime.block_on(worker(&args[1], &args[2]));
        return;
    }
    let Some(server) = TestPostgres::start_or_skip("outbox replicas") else {
        return;
    };
    runtime.block_on(four_replicas_deliver_each_export_once_though_one_dies(
        &server,
    ));
    println!("test four_replicas_deliver_each_export_once_though_one_dies ... ok");
    runtime.block_on(an_enqueue_wakes_another_replicas_idle_workers(&server));
    println!("test an_enqueue_wakes_another_replicas_idle_workers ... ok");
    runtime.block_on(listening_for_enqueues_leaves_the_store_s_pool_to_the_workers(&server));
    println!("test listening_for_enqueues_leaves_the_store_s_pool_to_the_workers ... ok");
}

async fn unfinished(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM integrations_exports WHERE status IN ('pending', 'sending')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn worker(url: &str, slack_url: &str) {
    let store = PgExportStore::connect(url).await.unwrap();
    let pool = store.pool().clone();
    let service = ExportService::builder(store)
        .provider(slack(slack_url.to_owned(), fixtures::store().await))
        .workers(4)
        .lease(Duration::from_secs(2))
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .build();
    service.start();
    while unfinished(&pool).await > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    service.shutdown(Duration::from_secs(5)).await;
}

async fn four_replicas_deliver_each_export_once_though_one_dies(server: &TestPostgres) {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let url = server.database("outbox");
    let outbox = PgExportStore::connect(&url).await.unwrap();
    let mut enqueues = tokio::task::JoinSet::new();
    for producer in 0..16 {
        let outbox = outbox.clone();
        enqueues.spawn(async move {
            for n in (producer..exports()).step_by(16) {
                let request = ExportRequest::new(
                    tenant(),
                    ProviderId::from_static("slack"),
                    "C0GENERAL",
                    Content::new(format!("Export {n}")),
                )
                .idempotency_key(format!("replica-{n}"));
                outbox.enqueue(&request).await.unwrap();
            }
        });
    }
    while let Some(done) = enqueues.join_next().await {
        done.unwrap();
    }

    let me = std::env::current_exe().unwrap();
    let mut workers: Vec<Child> = (0..4)
        .map(|_| {
            Command::new(&me)
                .args(["worker", &url, &fake.api_url()])
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while fake.posts().len() < exports() / 4 {
        assert!(
            Instant::now() < deadline,
            "the workers delivered too little"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    workers[0].kill().unwrap(); // SIGKILL mid-run: its claims stay leased
    workers[0].wait().unwrap();
    let at_kill = fake.posts().len();
    for worker in &mut workers[1..] {
        let status = worker.wait().unwrap();
        assert!(status.success(), "a surviving worker failed");
    }

    let posts = fake.posts();
    let mut keys: Vec<&str> = posts
        .iter()
        .map(|post| post.metadata["event_payload"]["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    let total = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), exports(), "every export reached Slack");
    assert_eq!(
        total,
        exports(),
        "none twice (one worker killed after {at_kill} deliveries)"
    );
    assert_eq!(unfinished(outbox.pool()).await, 0);
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM integrations_exports WHERE status <> 'delivered'")
            .fetch_one(outbox.pool())
            .await
            .unwrap();
    assert_eq!(failed, 0);
    println!(
        "outbox replicas: {} exports, 4 workers, one killed after {at_kill}; each delivered once",
        exports()
    );
}

/// Issue 21: idle workers learnt of another replica's enqueue only at their
/// next poll. With a poll of a minute, the export must still be delivered
/// within seconds: PostgreSQL notifies every listening replica.
async fn an_enqueue_wakes_another_replicas_idle_workers(server: &TestPostgres) {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let url = server.database("outbox_wakeups");
    let elsewhere = PgExportStore::connect(&url).await.unwrap();
    let service = ExportService::builder(PgExportStore::connect(&url).await.unwrap())
        .provider(slack(fake.api_url(), fixtures::store().await))
        .workers(2)
        .poll_interval(Duration::from_secs(60))
        .build();
    service.start();
    // Let the workers find nothing and go to sleep for their minute.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let request = ExportRequest::new(
        tenant(),
        ProviderId::from_static("slack"),
        "C0GENERAL",
        Content::new("woken"),
    )
    .idempotency_key("woken");
    let started = Instant::now();
    elsewhere.enqueue(&request).await.unwrap();
    let record = service
        .wait(&tenant(), "woken", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(record.status.is_final(), "not woken: {record:?}");
    assert_eq!(fake.posts().len(), 1);
    println!("woken and delivered in {:?}", started.elapsed());
    service.shutdown(Duration::from_secs(5)).await;
}

/// The enqueue listener must not take a connection of the store's pool: on
/// a host's pool of one connection the workers had none left to claim
/// with.
async fn listening_for_enqueues_leaves_the_store_s_pool_to_the_workers(server: &TestPostgres) {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let url = server.database("outbox_one_connection");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&url)
        .await
        .unwrap();
    let service = ExportService::builder(PgExportStore::with_pool(pool).await.unwrap())
        .provider(slack(fake.api_url(), fixtures::store().await))
        .workers(1)
        .build();
    service.start();
    let request = ExportRequest::new(
        tenant(),
        ProviderId::from_static("slack"),
        "C0GENERAL",
        Content::new("one connection"),
    )
    .idempotency_key("one-connection");
    service.enqueue(request).await.unwrap();
    let record = service
        .wait(&tenant(), "one-connection", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(record.status.is_final(), "not delivered: {record:?}");
    assert_eq!(fake.posts().len(), 1);
    service.shutdown(Duration::from_secs(5)).await;
}
