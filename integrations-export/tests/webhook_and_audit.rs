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
    let provider = WebhookProvider::new(SecretString::from(SECRET)).unwrap();
    let context = ExportContext::new(tenant()).idempotency_key("msg_export_1");
    let content = Content::new("Done.")
        .title("Session end")
        .metadata("session", "s-42");

    let result = provider
        .export(&context, &content, &receiver.url("/hooks/export"))
        .await
        .unwrap();
    assert_eq!(result.external_id.as_deref(), Some("msg_export_1"));

    let sent = &receiver.requests("/hooks/export")[0];
    assert_eq!(
        sent.header("webhook-id"),
        Some("msg_export_1"),
        "the key lets the receiver drop a repeat"
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
    let provider = WebhookProvider::new(SecretString::from(SECRET)).unwrap();
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
