//! The outbox survives SIGKILL: a child process enqueues 1000 exports to
//! a fake Slack and is killed mid-delivery; a new process resumes; Slack
//! received each export exactly once, and the new process (the same owner)
//! took the killed one's claims back at once, not after their leases.
//!
//! A test without the libtest harness: run as `child DB URL` it enqueues
//! and delivers, as `resume DB URL` it delivers what is left and exits.

mod fixtures;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integrations_core::id::ProviderId;
use integrations_export::store::ExportStore;
use integrations_export::{Content, ExportRequest, ExportService, ExportStatus, SqliteExportStore};
use integrations_fakes::slack::FakeSlack;

use fixtures::{SLACK_TOKEN, slack, store, tenant};

const EXPORTS: usize = 1000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("child") => runtime.block_on(child(&args[1], &args[2], true)),
        Some("resume") => runtime.block_on(child(&args[1], &args[2], false)),
        _ => {
            runtime.block_on(a_killed_process_resumes_and_slack_gets_each_export_once());
            println!("test a_killed_process_resumes_and_slack_gets_each_export_once ... ok");
        }
    }
}

async fn service(db: &str, slack_url: &str) -> ExportService {
    ExportService::builder(SqliteExportStore::open(db).await.unwrap())
        .provider(slack(slack_url.to_owned(), store().await))
        .workers(4)
        // Longer than the test: the restarted process, the same owner,
        // must take its exports back at once, not when their leases end.
        .lease(Duration::from_secs(600))
        .owner("slot-1")
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .build()
}

async fn child(db: &str, slack_url: &str, enqueue: bool) {
    let service = service(db, slack_url).await;
    if enqueue {
        let enqueues = (0..EXPORTS).map(|n| {
            let service = service.clone();
            tokio::spawn(async move {
                let content = Content::new(format!("Export number {n}"));
                let request = ExportRequest::new(
                    tenant(),
                    ProviderId::from_static("slack"),
                    "C0GENERAL",
                    content,
                )
                .idempotency_key(format!("crash-{n}"));
                service.enqueue(request).await.unwrap()
            })
        });
        for enqueue in enqueues.collect::<Vec<_>>() {
            enqueue.await.unwrap();
        }
        println!("enqueued");
    }
    service.start();
    // Deliver until everything is final (the resuming process), or until
    // killed (the first one).
    let deadline = Instant::now() + Duration::from_secs(120);
    for n in 0..EXPORTS {
        let left = deadline.saturating_duration_since(Instant::now());
        let record = service
            .wait(&tenant(), &format!("crash-{n}"), left)
            .await
            .unwrap();
        assert!(record.status.is_final(), "crash-{n} unfinished: {record:?}");
    }
    service.shutdown(Duration::from_secs(5)).await;
}

async fn a_killed_process_resumes_and_slack_gets_each_export_once() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    fake.set_delay(Duration::from_millis(3));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db").display().to_string();
    let me = std::env::current_exe().unwrap();

    let mut first = Command::new(&me)
        .args(["child", &db, &fake.api_url()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = first.stdout.take().unwrap();
    tokio::task::spawn_blocking(move || BufReader::new(stdout).read_line(&mut line).map(|_| line))
        .await
        .unwrap()
        .unwrap();
    // Kill it mid-delivery: once Slack has some, long before all.
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.posts().len() < EXPORTS / 5 {
        assert!(Instant::now() < deadline, "the child delivered nothing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = fake.posts().len();
    assert!(
        at_kill < EXPORTS,
        "killed too late to test anything: {at_kill} delivered"
    );

    let resumed = tokio::task::spawn_blocking({
        let (me, db, url) = (me.clone(), db.clone(), fake.api_url());
        move || Command::new(me).args(["resume", &db, &url]).status()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(resumed.success(), "the resuming process failed");

    let posts = fake.posts();
    let mut keys: Vec<String> = posts
        .iter()
        .map(|post| {
            post.metadata["event_payload"]["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    keys.sort_unstable();
    let total = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), EXPORTS, "every export reached Slack");
    assert_eq!(total, EXPORTS, "none twice (killed after {at_kill})");
    let store = SqliteExportStore::open(&db).await.unwrap();
    let log = store.log(&tenant(), EXPORTS + 1).await.unwrap();
    assert_eq!(log.len(), EXPORTS);
    assert!(
        log.iter()
            .all(|record| record.status == ExportStatus::Delivered)
    );
    println!("crash: killed after {at_kill} of {EXPORTS} deliveries; resumed; each delivered once");
}
