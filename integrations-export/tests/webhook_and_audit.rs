//! Exporting to a signed webhook and to a JSONL audit trail.

mod fixtures;

use integrations_export::providers::{ExportContext, WebhookProvider};
use integrations_export::{AuditProvider, Content, Error, Provider};
use integrations_fakes::{FakeServer, Reply};
use integrations_vendor::webhook::WebhookVerifier;
use secrecy::SecretString;

use fixtures::tenant;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn a_webhook_is_a_standard_webhooks_signed_post_the_receiver_can_verify() {
    let receiver = FakeServer::start().await;
    receiver.script("POST", "/hooks/export", vec![Reply::text(204, "")]);
    let provider = WebhookProvider::new(SecretString::from(SECRET))
        .unwrap()
        .allow_internal_destinations();
    let context = ExportContext::new(tenant()).idempotency_key("msg_export_1");
    let content = Content::new("Done.")
        .title("Session end")
        .metadata("session", "s-42");

    let result = provider
        .export(&context, &content, &receiver.url("/hooks/export"))
        .await
        .unwrap();
    let sent = &receiver.requests("/hooks/export")[0];
    let id = sent.header("webhook-id").unwrap();
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(result.external_id.as_deref(), Some(id));
    let _ = provider
        .export(&context, &content, &receiver.url("/hooks/export"))
        .await;
    let repeat = &receiver.requests("/hooks/export")[1];
    assert_eq!(
        repeat.header("webhook-id"),
        Some(id),
        "the same export, the same id: the receiver drops a repeat"
    );
    let verified = WebhookVerifier::standard(&SecretString::from(SECRET))
        .unwrap()
        .verify(&sent.headers, &sent.body);
    assert!(verified.is_ok(), "{verified:?}");
    let body = sent.json();
    assert_eq!(body["type"], "export.created");
    assert_eq!(body["data"]["title"], "Session end");
    assert_eq!(body["data"]["metadata"]["session"], "s-42");
    assert_eq!(body["data"]["tenant"], "tenant-1");
}

#[tokio::test]
async fn webhook_failures_say_whether_to_try_again() {
    let receiver = FakeServer::start().await;
    receiver.script("POST", "/down", vec![Reply::text(503, "maintenance")]);
    receiver.script("POST", "/gone", vec![Reply::text(410, "gone")]);
    receiver.script(
        "POST",
        "/moved",
        vec![Reply::text(307, "").header("location", "http://127.0.0.1:1/elsewhere")],
    );
    let provider = WebhookProvider::new(SecretString::from(SECRET))
        .unwrap()
        .allow_internal_destinations();
    let context = ExportContext::new(tenant());
    let content = Content::new("x");

    let down = provider
        .export(&context, &content, &receiver.url("/down"))
        .await
        .unwrap_err();
    assert!(
        matches!(down, Error::Webhook { status: 503, .. }) && down.is_transient(),
        "{down}"
    );
    let gone = provider
        .export(&context, &content, &receiver.url("/gone"))
        .await
        .unwrap_err();
    assert!(!gone.is_transient(), "{gone}");
    let moved = provider
        .export(&context, &content, &receiver.url("/moved"))
        .await
        .unwrap_err();
    assert!(
        matches!(moved, Error::Webhook { status: 307, .. }),
        "redirects are not followed: {moved}"
    );
    let bad = provider
        .export(&context, &content, "ftp://example.com")
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::InvalidRequest { .. }), "{bad}");
    let refused = WebhookProvider::new(SecretString::from("not base64!")).unwrap_err();
    assert!(refused.to_string().contains("secret"), "{refused}");
    assert!(
        !refused.to_string().contains("not base64!"),
        "no secret in errors"
    );
}

/// Security review, finding 14: a tenant chose where the host POSTs
/// signed JSON (internal addresses too), got the host's one signature for
/// every tenant, and chose the `webhook-id` another tenant's delivery would
/// carry.
#[tokio::test]
async fn a_tenant_cannot_steer_the_webhook_inside_nor_into_another_tenants_deliveries() {
    let receiver = FakeServer::start().await;
    receiver.route("POST", "/hook", |_| Reply::text(204, ""));
    receiver.route("POST", "/hooks/T0/B0/XXXX-SECRET", |_| Reply::text(500, ""));
    let content = Content::new("x");
    let strict = WebhookProvider::new(SecretString::from(SECRET)).unwrap();
    let context = ExportContext::new(tenant()).idempotency_key("k");
    for internal in [
        receiver.url("/hook"),
        "http://localhost:9/hook".to_owned(),
        "http://10.0.0.5/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]:9/hook".to_owned(),
    ] {
        let refused = strict
            .export(&context, &content, &internal)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Error::InvalidRequest { .. })
                && refused.to_string().contains("internal"),
            "{internal}: {refused}"
        );
    }
    assert!(receiver.requests("/hook").is_empty(), "nothing was sent");

    const OTHER_SECRET: &str = "whsec_dGhlIG90aGVyIHRlbmFudCdzIHNlY3JldA==";
    let other = integrations_core::TenantId::new("tenant-2").unwrap();
    let open = WebhookProvider::new(SecretString::from(SECRET))
        .unwrap()
        .allow_internal_destinations()
        .tenant_secret(other.clone(), SecretString::from(OTHER_SECRET))
        .unwrap();
    let theirs = ExportContext::new(other).idempotency_key("k");
    open.export(&context, &content, &receiver.url("/hook"))
        .await
        .unwrap();
    open.export(&theirs, &content, &receiver.url("/hook"))
        .await
        .unwrap();
    let sent = receiver.requests("/hook");
    let ids: Vec<_> = sent
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_ne!(ids[0], ids[1], "one key, two tenants: two message ids");
    let verify = |secret: &str, i: usize| {
        WebhookVerifier::standard(&SecretString::from(secret.to_owned()))
            .unwrap()
            .verify(&sent[i].headers, &sent[i].body)
            .is_ok()
    };
    assert!(
        verify(OTHER_SECRET, 1) && !verify(SECRET, 1),
        "signed with its tenant's secret"
    );
    let failed = open
        .export(
            &context,
            &content,
            &receiver.url("/hooks/T0/B0/XXXX-SECRET"),
        )
        .await
        .unwrap_err();
    assert!(!failed.to_string().contains("XXXX-SECRET"), "{failed}");
}

#[tokio::test]
async fn audit_lines_are_whole_one_per_export_in_event_and_date_files() {
    let dir = tempfile::tempdir().unwrap();
    let provider = AuditProvider::new(dir.path().join("audit"));
    let context = ExportContext::new(tenant());
    let big = "a line of a long decision record\n".repeat(2000); // 66 KB: several write pages

    let writes = (0..32).map(|n| {
        let (provider, context) = (
            provider.clone(),
            context.clone().idempotency_key(format!("d-{n}")),
        );
        let content = Content::new(big.clone()).title(format!("decision {n}"));
        tokio::spawn(async move { provider.export(&context, &content, "decision").await })
    });
    for write in writes {
        write.await.unwrap().unwrap();
    }
    provider
        .export(&context, &Content::new("bye"), "session_end")
        .await
        .unwrap();

    let today = chrono::Utc::now().format("%Y-%m-%d");
    let file = dir.path().join(format!("audit/decision-{today}.jsonl"));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a whole JSON line"))
        .collect();
    assert_eq!(lines.len(), 32);
    let mut keys: Vec<&str> = lines
        .iter()
        .map(|line| line["idempotency_key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 32, "one line per export");
    assert!(lines.iter().all(|line| line["markdown"] == big.as_str()
        && line["event"] == "decision"
        && line["tenant"] == "tenant-1"));

    let events = provider.list_destinations(&context, None).await.unwrap();
    let names: Vec<&str> = events.destinations.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(names, ["decision", "session_end"]);
    let bad = provider
        .export(&context, &Content::new("x"), "../escape")
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::InvalidRequest { .. }), "{bad}");
}
