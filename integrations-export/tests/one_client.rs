//! One vendor client per vendor: every tenant's connection shares its HTTP
//! client, credentials come from the token cache instead of a store read per
//! request, the outbox is the one retry loop of its deliveries, and a dry run
//! lists exactly the requests an export sends. Against the fake Slack on
//! 127.0.0.1.

mod fixtures;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use integrations_core::credentials::{CredentialStore, Credentials, MemoryStore, Versioned};
use integrations_core::id::ProviderId;
use integrations_core::{ConnectionId, Error as CoreError, TenantId};
use integrations_export::providers::ExportContext;
use integrations_export::{
    Content, ErrorKind, ExportRequest, ExportService, ExportStatus, Provider, SqliteExportStore,
};
use integrations_fakes::slack::FakeSlack;
use serde_json::Value;

use fixtures::{SLACK_TOKEN, slack, store, tenant};

/// A credential store that counts its reads.
#[derive(Debug)]
struct Counting {
    inner: MemoryStore,
    gets: AtomicUsize,
}

#[async_trait]
impl CredentialStore for Counting {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, CoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(tenant, connection).await
    }
    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, CoreError> {
        self.inner.put(tenant, connection, credentials).await
    }
    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected_version: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, CoreError> {
        self.inner
            .compare_and_swap(tenant, connection, expected_version, credentials)
            .await
    }
    async fn delete(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<bool, CoreError> {
        self.inner.delete(tenant, connection).await
    }
    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, CoreError> {
        self.inner.list(tenant).await
    }
}

/// Markdown that Slack takes in three messages (50 blocks each at most).
fn three_messages() -> Content {
    let paragraphs: Vec<String> = (0..60).map(|n| format!("Paragraph {n}.")).collect();
    Content::new(paragraphs.join("\n\n---\n\n")).title("Three messages")
}

#[tokio::test]
async fn a_three_message_slack_export_reads_the_credential_store_once() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let counting = Arc::new(Counting {
        inner: MemoryStore::new(),
        gets: AtomicUsize::new(0),
    });
    let connection = ConnectionId::new("slack", "default").unwrap();
    counting
        .put(&tenant(), &connection, &Credentials::bearer(SLACK_TOKEN))
        .await
        .unwrap();
    let provider = slack(fake.api_url(), counting.clone());
    let context = ExportContext::new(tenant()).idempotency_key("three");

    let result = provider
        .export(&context, &three_messages(), "C0GENERAL")
        .await
        .unwrap();
    assert_eq!(fake.posts().len(), 3, "three messages");
    assert_eq!(result.requests, 3);
    assert_eq!(
        counting.gets.load(Ordering::SeqCst),
        1,
        "three posts and a permalink lookup, one credential read"
    );
}

#[tokio::test]
async fn while_slack_answers_429_an_export_is_sent_only_as_often_as_the_outbox_allows() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    fake.rate_limit_next(10_000, 0);
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
    service.start();
    let request = ExportRequest::new(
        tenant(),
        ProviderId::from_static("slack"),
        "C0GENERAL",
        Content::new("hello"),
    )
    .idempotency_key("limited");
    service.enqueue(request).await.unwrap();
    let record = service
        .wait(&tenant(), "limited", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(record.status, ExportStatus::Failed);
    assert_eq!(record.attempts, 3);
    assert_eq!(record.error.unwrap().kind, ErrorKind::RateLimited);
    // The first attempt posts; the later ones, resuming, first read the
    // channel's history (to send only what Slack lacks): one request each.
    let requests = fake.server().all_requests();
    assert_eq!(
        requests.len(),
        3,
        "one request per outbox attempt, no retry loop inside the outbox's: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(fake.server().requests("/api/chat.postMessage").len() <= 3);
    service.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn two_tenants_connections_to_one_vendor_share_one_http_client() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let store = store().await;
    let other = TenantId::new("tenant-2").unwrap();
    store
        .put(
            &other,
            &ConnectionId::new("slack", "default").unwrap(),
            &Credentials::bearer(SLACK_TOKEN),
        )
        .await
        .unwrap();
    let provider = slack(fake.api_url(), store);
    for tenant in [tenant(), other.clone(), tenant(), other] {
        provider
            .validate_connection(&ExportContext::new(tenant))
            .await
            .unwrap();
    }
    let requests = fake.server().requests("/api/auth.test");
    assert_eq!(requests.len(), 4);
    assert!(
        requests
            .iter()
            .all(|request| request.peer == requests[0].peer),
        "every tenant's request came over the one client's kept-alive connection: {:?}",
        requests.iter().map(|r| r.peer).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_requests_a_dry_run_lists_are_the_requests_an_export_sends() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let provider = slack(fake.api_url(), store().await);
    let context = ExportContext::new(tenant()).idempotency_key("dry");
    let content = three_messages();

    let planned = provider.plan(&context, &content, "C0GENERAL").unwrap();
    provider
        .export(&context, &content, "C0GENERAL")
        .await
        .unwrap();
    let sent = fake.server().all_requests();
    let ts = fake.posts()[0].ts.clone();

    assert_eq!(
        planned.len(),
        sent.len(),
        "planned {:?}",
        planned.iter().map(|p| &p.target).collect::<Vec<_>>()
    );
    for (plan, request) in planned.iter().zip(&sent) {
        // The dry run writes what only an answer tells as placeholders.
        let fill = |text: &str| {
            text.replace("{{ts of request 1}}", &ts)
                .replace("{{channel of request 1}}", "C0GENERAL")
        };
        assert_eq!(plan.method, request.method);
        let url = match &request.query {
            Some(query) => format!("{}?{query}", fake.server().url(&request.path)),
            None => fake.server().url(&request.path),
        };
        assert_eq!(fill(&plan.target), url);
        let body = match &plan.body {
            Value::Null => Value::Null,
            body => serde_json::from_str(&fill(&body.to_string())).unwrap(),
        };
        assert_eq!(body, request.json(), "{} {}", plan.method, plan.target);
    }
}
