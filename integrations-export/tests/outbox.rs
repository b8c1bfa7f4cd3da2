//! The export service: direct exports and the log, the durable outbox and
//! its workers, preferences with auto-export, and fan-out.

mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::events::{BroadcastSink, EventKind};
use integrations_core::id::ProviderId;
use integrations_export::service::Target;
use integrations_export::store::{ExportId, ExportPreference, ExportStore};
use integrations_export::{
    AuditProvider, Content, Error, ErrorKind, ExportRequest, ExportService, ExportStatus,
    SqliteExportStore,
};
use integrations_fakes::github::FakeGitHub;
use integrations_fakes::slack::FakeSlack;

use fixtures::{GITHUB_TOKEN, SLACK_TOKEN, github, slack, store, tenant};

const WAIT: Duration = Duration::from_secs(30);

struct Setup {
    fake: FakeSlack,
    service: ExportService,
    db: std::path::PathBuf,
    /// Bind it: the database lives in it.
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exports.db");
    let service = ExportService::builder(SqliteExportStore::open(&db).await.unwrap())
        .provider(slack(fake.api_url(), store().await))
        .provider(AuditProvider::new(dir.path().join("audit")))
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build();
    Setup {
        fake,
        service,
        db,
        _dir: dir,
    }
}

fn request(destination: &str, key: &str) -> ExportRequest {
    ExportRequest::new(
        tenant(),
        ProviderId::from_static("slack"),
        destination,
        Content::new(format!("Export {key}")),
    )
    .idempotency_key(key)
}

#[tokio::test]
async fn enqueued_exports_are_committed_before_enqueue_returns_and_delivered_once() {
    let Setup {
        fake,
        service,
        db,
        _dir,
    } = setup().await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(
            service
                .enqueue(request("C0GENERAL", &format!("e-{n}")))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        service.enqueue(request("C0GENERAL", "e-7")).await.unwrap(),
        ids[7],
        "the same key is the same export"
    );

    // Another handle on the file, as another process would open it, sees
    // them all before any worker ran.
    let other = SqliteExportStore::open(&db).await.unwrap();
    let log = other.log(&tenant(), 100).await.unwrap();
    assert_eq!(log.len(), 50);
    assert!(
        log.iter()
            .all(|record| record.status == ExportStatus::Pending)
    );
    assert!(fake.posts().is_empty());

    service.start();
    for n in 0..50 {
        let record = service
            .wait(&tenant(), &format!("e-{n}"), WAIT)
            .await
            .unwrap();
        assert_eq!(record.status, ExportStatus::Delivered, "{record:?}");
        assert!(
            record
                .result
                .unwrap()
                .external_url
                .unwrap()
                .starts_with("https://fake.slack.com/archives/C0GENERAL/")
        );
    }
    assert_eq!(fake.posts().len(), 50, "each delivered once");
    service.shutdown(Duration::from_secs(5)).await;
    let refused = service
        .enqueue(request("C0GENERAL", "late"))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Stopped), "{refused}");
}

#[tokio::test]
async fn rate_limits_are_honoured_and_failures_keep_their_reason() {
    let Setup {
        fake,
        service,
        _dir,
        ..
    } = setup().await;
    service.start();

    // Slack asks for 1 s more than the connection's retry budget allows:
    // the outbox waits it out, then delivers.
    fake.rate_limit_next(1, 3);
    service
        .enqueue(request("C0GENERAL", "limited"))
        .await
        .unwrap();
    let record = service.wait(&tenant(), "limited", WAIT).await.unwrap();
    assert_eq!(record.status, ExportStatus::Delivered, "{record:?}");
    assert_eq!(record.attempts, 2);
    assert!(
        record.updated_at - record.created_at >= chrono::Duration::seconds(3),
        "waited as long as Slack asked"
    );

    service.enqueue(request("C0NOWHERE", "lost")).await.unwrap();
    let record = service.wait(&tenant(), "lost", WAIT).await.unwrap();
    assert_eq!(record.status, ExportStatus::Failed);
    assert_eq!(record.attempts, 1, "a permanent error is not tried again");
    let error = record.error.unwrap();
    assert_eq!(error.kind, ErrorKind::Refused);
    assert!(error.message.contains("channel_not_found"), "{error}");

    let unknown = service
        .enqueue(ExportRequest::new(
            tenant(),
            ProviderId::from_static("fax"),
            "x",
            Content::new("x"),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, Error::UnknownProvider { .. }),
        "{unknown}"
    );
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn transient_failures_end_after_the_attempts_allowed() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let service = ExportService::builder(
        SqliteExportStore::open(dir.path().join("x.db"))
            .await
            .unwrap(),
    )
    .provider(slack(fake.api_url(), store().await))
    .backoff(Duration::from_millis(10), Duration::from_millis(20))
    .max_attempts(3)
    .build();
    fake.rate_limit_next(1000, 0);
    service.start();
    service
        .enqueue(request("C0GENERAL", "doomed"))
        .await
        .unwrap();
    let record = service.wait(&tenant(), "doomed", WAIT).await.unwrap();
    assert_eq!(record.status, ExportStatus::Failed);
    assert_eq!(record.attempts, 3);
    let error = record.error.unwrap();
    assert_eq!(error.kind, ErrorKind::RateLimited, "stored as a value");
    assert!(error.message.contains("rate limited"), "{error}");
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn direct_exports_are_logged_per_tenant_and_never_sent_twice() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let events = Arc::new(BroadcastSink::new(16));
    let mut received = events.subscribe();
    let dir = tempfile::tempdir().unwrap();
    let service = ExportService::builder(
        SqliteExportStore::open(dir.path().join("d.db"))
            .await
            .unwrap(),
    )
    .provider(slack(fake.api_url(), store().await))
    .events(events)
    .build();

    let first = service.export(request("C0GENERAL", "once")).await.unwrap();
    let again = service.export(request("C0GENERAL", "once")).await.unwrap();
    assert_eq!(first.status, ExportStatus::Delivered);
    assert_eq!(again.id, first.id);
    assert_eq!(fake.posts().len(), 1, "the log answered the second time");
    let event = received.recv().await.unwrap();
    assert!(
        matches!(event.kind, EventKind::Exported { destination } if destination.starts_with("https://fake.slack.com/"))
    );

    let failed = service
        .export(request("C0NOWHERE", "nowhere"))
        .await
        .unwrap();
    assert_eq!(failed.status, ExportStatus::Failed);

    let log = service.log(&tenant(), 10).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|r| r.request.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        ["nowhere", "once"]
    );
    let stranger = TenantId::new("tenant-2").unwrap();
    assert!(
        service.log(&stranger, 10).await.unwrap().is_empty(),
        "tenants see only their own"
    );

    let planned = service.plan(&request("C0GENERAL", "dry")).unwrap();
    let methods: Vec<&str> = planned.iter().map(|p| p.method.as_str()).collect();
    assert_eq!(methods, ["POST", "GET"], "one message, then its permalink");
    assert_eq!(fake.posts().len(), 1, "a plan sends nothing");
    assert!(
        service
            .store()
            .get(&tenant(), "dry")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn approval_exports_where_the_preferences_ask_once() {
    let Setup {
        fake,
        service,
        _dir,
        ..
    } = setup().await;
    let tenant = tenant();
    service
        .set_preference(
            &tenant,
            ExportPreference::new(
                "weekly-report",
                ProviderId::from_static("slack"),
                "C0GENERAL",
            ),
        )
        .await
        .unwrap();
    service
        .set_preference(
            &tenant,
            ExportPreference::new("weekly-report", ProviderId::from_static("audit"), "report")
                .auto_export(false),
        )
        .await
        .unwrap();
    let unknown = service
        .set_preference(
            &tenant,
            ExportPreference::new("weekly-report", ProviderId::from_static("fax"), "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::UnknownProvider { .. }));
    assert_eq!(
        service
            .preferences(&tenant, "weekly-report")
            .await
            .unwrap()
            .len(),
        2
    );

    let content = Content::new("This week: **shipped**.").title("Weekly report");
    let ids = service
        .on_approved(&tenant, "weekly-report", content.clone())
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "only the auto-export preference");
    assert_eq!(
        service
            .on_approved(&tenant, "weekly-report", content.clone())
            .await
            .unwrap(),
        ids,
        "approving twice exports once"
    );
    assert!(
        service
            .on_approved(&tenant, "no-preferences", content)
            .await
            .unwrap()
            .is_empty()
    );

    service.start();
    let record = service
        .wait(&tenant, "approved:weekly-report:slack:C0GENERAL", WAIT)
        .await
        .unwrap();
    assert_eq!(record.status, ExportStatus::Delivered);
    assert_eq!(fake.posts().len(), 1);
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_fan_out_reports_each_target_and_one_failing_blocks_none() {
    let slack_fake = FakeSlack::start(SLACK_TOKEN).await;
    let github_fake = FakeGitHub::start(GITHUB_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let credentials = store().await;
    let service = ExportService::builder(
        SqliteExportStore::open(dir.path().join("f.db"))
            .await
            .unwrap(),
    )
    .provider(slack(slack_fake.api_url(), credentials.clone()))
    .provider(github(github_fake.api_url(), credentials))
    .provider(AuditProvider::new(dir.path().join("audit")))
    .build();
    let content = Content::new("Deploy finished.").title("Deploy 42");
    let targets = [
        Target::new(ProviderId::from_static("slack"), "C0GENERAL"),
        Target::new(ProviderId::from_static("github"), "octocat/missing"),
        Target::new(ProviderId::from_static("audit"), "deploy"),
        Target::new(ProviderId::from_static("fax"), "555-0100"),
    ];

    let fan_out = service
        .fan_out(&tenant(), "deploy-42", &content, &targets)
        .await;
    let delivered: Vec<bool> = fan_out
        .outcomes
        .iter()
        .map(|outcome| outcome.delivered())
        .collect();
    assert_eq!(delivered, [true, false, true, false]);
    assert_eq!(fan_out.delivered(), 2);
    assert!(!fan_out.all_delivered());
    let report = fan_out.to_string();
    assert!(
        report.contains("slack C0GENERAL: delivered (https://fake.slack.com/"),
        "{report}"
    );
    assert!(
        report.contains("github octocat/missing: failed"),
        "{report}"
    );
    assert!(
        report.contains("fax 555-0100: not sent: no export provider `fax`"),
        "{report}"
    );
    assert_eq!(slack_fake.posts().len(), 1);

    let nothing = service.fan_out(&tenant(), "deploy-43", &content, &[]).await;
    assert!(!nothing.sent_anything());
    assert_eq!(
        nothing.to_string(),
        "nothing was sent: no export target is configured"
    );
}

#[tokio::test]
async fn claims_are_exclusive_across_handles_and_a_stale_worker_cannot_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("claims.db");
    let (one, two) = (
        SqliteExportStore::open(&db).await.unwrap(),
        SqliteExportStore::open(&db).await.unwrap(),
    );
    for n in 0..40 {
        one.enqueue(&request("C0GENERAL", &format!("c-{n}")))
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(60);
    let (a, b) = tokio::join!(
        async {
            let mut all = Vec::new();
            for _ in 0..10 {
                all.extend(one.claim(2, lease, "one").await.unwrap());
            }
            all
        },
        async {
            let mut all = Vec::new();
            for _ in 0..10 {
                all.extend(two.claim(2, lease, "two").await.unwrap());
            }
            all
        },
    );
    let mut ids: Vec<ExportId> = a
        .iter()
        .chain(&b)
        .map(|claimed| claimed.record.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        40,
        "every export claimed once: {} by one, {} by two",
        a.len(),
        b.len()
    );
    assert!(
        one.claim(10, lease, "one").await.unwrap().is_empty(),
        "nothing left while the leases hold"
    );
    assert!(
        a.iter()
            .chain(&b)
            .all(|claimed| claimed.resumed_since.is_none()),
        "first attempts"
    );

    // A lease that ran out: another worker takes the export over, and the
    // first one's late outcome no longer applies.
    let stale = one.enqueue(&request("C0GENERAL", "stale")).await.unwrap().0;
    let first = one
        .claim_id(stale, Duration::ZERO, "one")
        .await
        .unwrap()
        .unwrap();
    let second = two
        .claim_id(stale, lease, "two")
        .await
        .unwrap()
        .expect("the lease ran out");
    assert_eq!(second.record.attempts, 2);
    assert!(
        second.resumed_since.is_some(),
        "the second attempt is told to look for the first's work"
    );
    let delivered = integrations_export::store::Outcome::Delivered(
        integrations_export::providers::ExportResult::new(ProviderId::from_static("slack")),
    );
    assert!(
        !one.finish(stale, first.record.attempts, &delivered)
            .await
            .unwrap()
    );
    assert!(
        two.finish(stale, second.record.attempts, &delivered)
            .await
            .unwrap()
    );
    assert_eq!(
        one.get(&tenant(), "stale").await.unwrap().unwrap().status,
        ExportStatus::Delivered
    );
}

/// One worker, the fake Slack and an audit provider beside it.
async fn one_worker(fake: &FakeSlack, dir: &std::path::Path, max_attempts: u32) -> ExportService {
    ExportService::builder(
        SqliteExportStore::open(dir.join("exports.db"))
            .await
            .unwrap(),
    )
    .provider(slack(fake.api_url(), store().await))
    .provider(AuditProvider::new(dir.join("audit")))
    .provider(Panics)
    .workers(1)
    .max_attempts(max_attempts)
    .backoff(Duration::from_millis(10), Duration::from_millis(20))
    .build()
}

fn audit(key: &str) -> ExportRequest {
    ExportRequest::new(
        tenant(),
        ProviderId::from_static("audit"),
        "trail",
        Content::new("victim"),
    )
    .idempotency_key(key)
}

/// A provider with a bug: it panics.
#[derive(Debug)]
struct Panics;

#[integrations_core::async_trait]
impl integrations_export::Provider for Panics {
    fn id(&self) -> &ProviderId {
        static ID: std::sync::OnceLock<ProviderId> = std::sync::OnceLock::new();
        ID.get_or_init(|| ProviderId::from_static("panics"))
    }
    async fn list_destinations(
        &self,
        _: &integrations_export::providers::ExportContext,
        _: Option<&str>,
    ) -> Result<integrations_export::providers::DestinationPage, Error> {
        unreachable!()
    }
    async fn validate_connection(
        &self,
        _: &integrations_export::providers::ExportContext,
    ) -> Result<integrations_export::providers::ConnectionCheck, Error> {
        unreachable!()
    }
    fn format_content(&self, _: &Content) -> Result<serde_json::Value, Error> {
        Ok(serde_json::Value::Null)
    }
    fn plan(
        &self,
        _: &integrations_export::providers::ExportContext,
        _: &Content,
        _: &str,
    ) -> Result<Vec<integrations_export::providers::PlannedRequest>, Error> {
        Ok(Vec::new())
    }
    async fn export(
        &self,
        _: &integrations_export::providers::ExportContext,
        _: &Content,
        _: &str,
    ) -> Result<integrations_export::providers::ExportResult, Error> {
        panic!("a bug in a provider")
    }
}

#[tokio::test]
async fn an_absurd_retry_after_parks_one_export_and_the_worker_goes_on() {
    // Security review, finding 9: `Retry-After: u64::MAX` overflowed the
    // next attempt's time and killed the worker; nothing else was sent.
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let service = one_worker(&fake, dir.path(), 8).await;
    fake.rate_limit_next(1, u64::MAX);
    service.start();
    service
        .enqueue(request("C0GENERAL", "poison"))
        .await
        .unwrap();
    service.enqueue(audit("victim")).await.unwrap();
    let victim = service
        .wait(&tenant(), "victim", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(victim.status, ExportStatus::Delivered, "{victim:?}");
    let poison = service
        .store()
        .get(&tenant(), "poison")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(poison.status, ExportStatus::Pending, "{poison:?}");
    assert_eq!(poison.error.unwrap().kind, ErrorKind::RateLimited);
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_provider_that_panics_fails_its_export_and_the_worker_goes_on() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let service = one_worker(&fake, dir.path(), 8).await;
    service.start();
    let bug = ExportRequest::new(
        tenant(),
        ProviderId::from_static("panics"),
        "x",
        Content::new("x"),
    )
    .idempotency_key("bug");
    service.enqueue(bug).await.unwrap();
    service.enqueue(audit("after-the-bug")).await.unwrap();
    let after = service
        .wait(&tenant(), "after-the-bug", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(after.status, ExportStatus::Delivered, "{after:?}");
    let bug = service
        .store()
        .get(&tenant(), "bug")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bug.status, ExportStatus::Failed, "{bug:?}");
    assert!(bug.error.unwrap().message.contains("panicked"));
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_export_whose_deliveries_never_finish_ends_failed() {
    // Security review, finding 2: an export that kills the process
    // delivering it was claimed again after every lease, for ever.
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let service = one_worker(&fake, dir.path(), 2).await;
    service
        .enqueue(request("C0GENERAL", "crasher"))
        .await
        .unwrap();
    // Two deliveries that began and never finished (their process died).
    for _ in 0..2 {
        let claimed = service
            .store()
            .claim(1, Duration::ZERO, "a-dead-process")
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
    }
    service.start();
    let record = service
        .wait(&tenant(), "crasher", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(record.status, ExportStatus::Failed, "{record:?}");
    let error = record.error.unwrap();
    assert!(error.message.contains("did not finish"), "{error}");
    assert!(fake.posts().is_empty(), "not sent a third time");
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn content_past_the_size_limit_is_refused_before_it_is_stored() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let service = one_worker(&fake, dir.path(), 8).await;
    let huge = ExportRequest::new(
        tenant(),
        ProviderId::from_static("slack"),
        "C0GENERAL",
        Content::new("x".repeat(1024 * 1024 + 1)),
    )
    .idempotency_key("huge");
    let error = service.enqueue(huge.clone()).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest { message, .. } if message.contains("at most 1048576")),
        "{error}"
    );
    assert!(matches!(
        service.export(huge).await,
        Err(Error::InvalidRequest { .. })
    ));
    assert!(
        service
            .store()
            .get(&tenant(), "huge")
            .await
            .unwrap()
            .is_none(),
        "nothing was stored"
    );
}

/// Security review, finding 18: the export database and the audit trail
/// (every tenant's markdown) were created with the umask's 0644.
#[cfg(unix)]
#[tokio::test]
async fn the_export_database_and_the_audit_trail_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let service = one_worker(&fake, dir.path(), 8).await;
    let record = service.export(audit("private")).await.unwrap();
    assert_eq!(record.status, ExportStatus::Delivered, "{record:?}");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("exports.db")), 0o600);
    let trail = walk(&dir.path().join("audit"));
    assert!(!trail.is_empty(), "the audit trail was written");
    for entry in trail {
        assert_eq!(mode(&entry), 0o600, "{}", entry.display());
    }
}

#[cfg(unix)]
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Issue 21: a lease was taken over when it ran out even while its worker
/// was still delivering. Now the worker renews it: an export slower than
/// the lease is delivered once, by the worker that claimed it, though
/// another process's workers are waiting for due exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_renewed_while_its_export_is_delivered() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    fake.set_delay(Duration::from_millis(250));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exports.db");
    let mut services = Vec::new();
    for owner in ["replica-a", "replica-b"] {
        let service = ExportService::builder(SqliteExportStore::open(&db).await.unwrap())
            .provider(slack(fake.api_url(), store().await))
            .lease(Duration::from_millis(120))
            .owner(owner)
            .build();
        services.push(service);
    }
    services[0]
        .enqueue(request("C0GENERAL", "slow"))
        .await
        .unwrap();
    for service in &services {
        service.start();
    }
    let record = services[1]
        .wait(&tenant(), "slow", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(record.status, ExportStatus::Delivered);
    assert_eq!(record.attempts, 1, "never taken over: {record:?}");
    assert_eq!(fake.posts().len(), 1);
    for service in &services {
        service.shutdown(Duration::from_secs(5)).await;
    }
}
