//! Email over SMTP, against a fake relay on 127.0.0.1 that speaks RFC 5321
//! and RFC 4954 and refuses what a relay refuses.
#![cfg(feature = "email")]

mod fixtures;

use std::sync::Arc;

use integrations_core::ConnectionId;
use integrations_core::credentials::{CredentialStore, Credentials, MemoryStore};
use integrations_export::providers::{EmailProvider, ExportContext, SmtpRelay, SmtpTls};
use integrations_export::{Content, Error, ErrorKind, Provider};
use integrations_fakes::smtp::FakeSmtp;
use mail_parser::MessageParser;

use fixtures::{document, tenant};

const USER: &str = "relay-user";
const PASSWORD: &str = "relay-pass-SECRET";

async fn store(password: &str) -> Arc<dyn CredentialStore> {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(
            &tenant(),
            &ConnectionId::new("email", "default").unwrap(),
            &Credentials::basic(USER, password),
        )
        .await
        .unwrap();
    store
}

fn provider(fake: &FakeSmtp, store: Arc<dyn CredentialStore>) -> EmailProvider {
    let relay = SmtpRelay::new(fake.host())
        .port(fake.port())
        .tls(SmtpTls::None);
    EmailProvider::new(relay, "Reports <reports@example.com>", store).unwrap()
}

#[tokio::test]
async fn a_document_arrives_as_one_message_with_a_text_and_an_html_part() {
    let fake = FakeSmtp::start(USER, PASSWORD).await;
    let provider = provider(&fake, store(PASSWORD).await);
    let context = ExportContext::new(tenant()).idempotency_key("weekly-1");
    let markdown = format!(
        "{}\n\nA model wrote <img src=https://t.example/pixel.gif> and <b>this</b>.",
        document()
    );
    let content = Content::new(markdown).title("The integrations guide");

    let planned = provider
        .plan(
            &context,
            &content,
            "ops@example.com, Lead <lead@example.com>",
        )
        .unwrap();
    let result = provider
        .export(
            &context,
            &content,
            "ops@example.com, Lead <lead@example.com>",
        )
        .await
        .unwrap();

    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    let sent = &messages[0];
    assert_eq!(sent.user, USER);
    assert_eq!(sent.from, "reports@example.com");
    assert_eq!(sent.to, ["ops@example.com", "lead@example.com"]);
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].body["to"][1], "lead@example.com");

    let parsed = MessageParser::default()
        .parse(sent.data.as_bytes())
        .unwrap();
    assert_eq!(parsed.subject(), Some("The integrations guide"));
    let text = parsed.body_text(0).unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(
        text.contains("cargo run --example quickstart"),
        "the text part"
    );
    assert!(!text.contains("**"), "markup is left out of the text part");
    assert!(
        html.contains("<code>cargo run --example quickstart"),
        "the HTML part"
    );
    assert!(
        html.contains("&lt;img src=https://t.example/pixel.gif&gt;")
            && !html.contains("<img src=https://t.example"),
        "the document's own HTML is text"
    );
    assert!(html.contains("&lt;b&gt;this&lt;/b&gt;"));
    let id = parsed.message_id().unwrap().to_owned();
    assert_eq!(
        result.external_id.as_deref(),
        Some(format!("<{id}>").as_str())
    );

    // The same export again (a resumed attempt) carries the same Message-ID.
    provider
        .export(&context, &content, "ops@example.com")
        .await
        .unwrap();
    let messages = fake.messages();
    let again = MessageParser::default()
        .parse(messages[1].data.as_bytes())
        .unwrap();
    assert_eq!(again.message_id(), Some(id.as_str()));
}

#[tokio::test]
async fn refusals_are_typed_and_say_what_to_do() {
    let fake = FakeSmtp::start(USER, PASSWORD).await;
    let provider = provider(&fake, store(PASSWORD).await);
    let context = ExportContext::new(tenant()).idempotency_key("k");
    let content = Content::new("Hello");

    fake.refuse_next(1, 451, "4.3.0 try again later");
    let busy = provider
        .export(&context, &content, "ops@example.com")
        .await
        .unwrap_err();
    assert!(busy.is_transient(), "{busy}");
    assert!(
        matches!(
            &busy,
            Error::Smtp {
                code: Some(451),
                ..
            }
        ),
        "{busy:?}"
    );

    fake.refuse_next(1, 554, "5.7.1 message rejected");
    let rejected = provider
        .export(&context, &content, "ops@example.com")
        .await
        .unwrap_err();
    assert!(!rejected.is_transient());
    assert_eq!(rejected.kind(), ErrorKind::Refused);

    let wrong = EmailProvider::new(
        SmtpRelay::new(fake.host())
            .port(fake.port())
            .tls(SmtpTls::None),
        "reports@example.com",
        store("wrong-password").await,
    )
    .unwrap();
    let refused = wrong
        .export(&context, &content, "ops@example.com")
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NeedsReauth, "{refused}");
    assert!(!format!("{refused} {refused:?}").contains("wrong-password"));
    let check = wrong.validate_connection(&context).await.unwrap_err();
    assert_eq!(check.kind(), ErrorKind::NeedsReauth, "{check}");

    for bad in ["", "not an address", "a@example.com, <broken"] {
        let invalid = provider.export(&context, &content, bad).await.unwrap_err();
        assert_eq!(
            invalid.kind(),
            ErrorKind::InvalidRequest,
            "{bad}: {invalid}"
        );
    }
    let many = (0..51)
        .map(|i| format!("u{i}@example.com"))
        .collect::<Vec<_>>()
        .join(",");
    let too_many = provider
        .export(&context, &content, &many)
        .await
        .unwrap_err();
    assert!(too_many.to_string().contains("more than 50"), "{too_many}");

    let clear = EmailProvider::new(
        SmtpRelay::new("smtp.example.com").tls(SmtpTls::None),
        "reports@example.com",
        store(PASSWORD).await,
    )
    .unwrap_err();
    assert!(clear.to_string().contains("in clear"), "{clear}");

    let no_credentials = EmailProvider::new(
        SmtpRelay::new(fake.host())
            .port(fake.port())
            .tls(SmtpTls::None),
        "reports@example.com",
        Arc::new(MemoryStore::new()),
    )
    .unwrap();
    let missing = no_credentials
        .export(&context, &content, "ops@example.com")
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("Credentials::basic"),
        "{missing}"
    );

    assert_eq!(fake.messages().len(), 0);
    assert!(provider.validate_connection(&context).await.is_ok());
}
