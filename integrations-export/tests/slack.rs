//! Exporting to Slack's Web API, against a fake Slack that checks every
//! request against Slack's limits and answers as Slack does.

mod fixtures;

use chrono::Utc;
use integrations_core::ConnectionId;
use integrations_core::credentials::Credentials;
use integrations_export::markdown::SlackFormat;
use integrations_export::providers::ExportContext;
use integrations_export::{Content, Error, Provider};
use integrations_fakes::slack::FakeSlack;
use serde_json::json;

use fixtures::{SLACK_TOKEN, document, slack, store, tenant};

#[tokio::test]
async fn a_readme_sized_document_lands_as_one_thread_within_every_limit() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let provider = slack(fake.api_url(), store().await);
    let context = ExportContext::new(tenant()).idempotency_key("readme-1");
    let content = Content::new(document()).title("The integrations guide");

    let planned = provider.plan(&context, &content, "C0GENERAL").unwrap();
    let result = provider
        .export(&context, &content, "C0GENERAL")
        .await
        .unwrap();

    let posts = fake.posts();
    assert!(
        posts.len() >= 2,
        "a 32 KB document needs several messages, got {}",
        posts.len()
    );
    let planned_posts = planned.iter().filter(|p| p.method == "POST").count();
    assert_eq!(posts.len(), planned_posts, "the dry run plans what is sent");
    assert_eq!(result.requests, posts.len());
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let first = &posts[0];
    assert_eq!(first.thread_ts, None);
    assert!(
        posts[1..]
            .iter()
            .all(|post| post.thread_ts.as_deref() == Some(first.ts.as_str())),
        "the rest reply in the first one's thread"
    );
    assert_eq!(result.external_id.as_deref(), Some(first.ts.as_str()));
    assert_eq!(
        result.external_url.as_deref(),
        Some(
            format!(
                "https://fake.slack.com/archives/C0GENERAL/p{}",
                first.ts.replace('.', "")
            )
            .as_str()
        ),
        "the permalink Slack gave"
    );
    assert_eq!(first.blocks[0]["type"], "header");
    assert_eq!(first.blocks[0]["text"]["text"], "The integrations guide");
    for (part, post) in posts.iter().enumerate() {
        assert_eq!(post.metadata["event_payload"]["key"], "readme-1");
        assert_eq!(post.metadata["event_payload"]["part"], part);
    }
    // Nothing dropped: every line of the README's code block is there.
    let all_text: String = posts
        .iter()
        .flat_map(|post| {
            post.blocks
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
        })
        .collect();
    assert!(all_text.contains("cargo run --example quickstart"));
}

/// Issue 21: Slack's `markdown` block and native tables, chosen per
/// provider, split under Slack's limits without losing a row.
#[tokio::test]
async fn in_markdown_blocks_tables_are_tables_and_every_limit_holds() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let provider = slack(fake.api_url(), store().await).format(SlackFormat::Markdown);
    let context = ExportContext::new(tenant()).idempotency_key("readme-md");
    let rows: Vec<String> = (0..150)
        .map(|i| format!("| host-{i} | {} |", i * 7))
        .collect();
    let document = format!(
        "{}\n\n| Host | Load |\n|---|--:|\n{}\n\nThe end.",
        document(),
        rows.join("\n")
    );
    let content = Content::new(document).title("The integrations guide");

    let planned = provider.plan(&context, &content, "C0GENERAL").unwrap();
    provider
        .export(&context, &content, "C0GENERAL")
        .await
        .unwrap();

    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let posts = fake.posts();
    let planned_posts = planned.iter().filter(|p| p.method == "POST").count();
    assert_eq!(posts.len(), planned_posts, "the dry run plans what is sent");
    let first = &posts[0];
    assert_eq!(first.blocks[0]["type"], "markdown");
    assert!(
        first.blocks[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("# The integrations guide\n")
    );
    let mut hosts = Vec::new();
    for post in &posts {
        let blocks = post.blocks.as_array().unwrap();
        let tables: Vec<_> = blocks.iter().filter(|b| b["type"] == "table").collect();
        assert!(tables.len() <= 1, "one table a message");
        // The README's own tables come first; ours repeats its header.
        for table in tables
            .iter()
            .filter(|t| t["rows"][0][0] == json!({"type": "raw_text", "text": "Host"}))
        {
            let rows = table["rows"].as_array().unwrap();
            assert_eq!(table["column_settings"][1]["align"], "right");
            hosts.extend(rows[1..].iter().map(|row| row[0]["text"].clone()));
        }
    }
    let expected: Vec<_> = (0..150).map(|i| json!(format!("host-{i}"))).collect();
    assert_eq!(hosts, expected, "every row is sent, in order, each once");
    let last = posts.last().unwrap().blocks.as_array().unwrap().clone();
    assert_eq!(last.last().unwrap()["text"], "The end.");
}

/// Issue 18 (the review's observations): `<!here>`, `<!channel>` and
/// `<!everyone>` in an exported document (often a model's or a third
/// party's text) are posted as text unless the provider allows broadcasts,
/// in both formats.
#[tokio::test]
async fn broadcasts_in_a_document_notify_only_where_the_provider_allows_them() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let store = store().await;
    let content = Content::new("Deploy done <!here>, ping <!channel> and <!everyone>.");
    for format in [SlackFormat::Mrkdwn, SlackFormat::Markdown] {
        for allowed in [false, true] {
            let provider = slack(fake.api_url(), store.clone())
                .format(format)
                .broadcasts(allowed);
            provider
                .export(&ExportContext::new(tenant()), &content, "C0GENERAL")
                .await
                .unwrap();
            let post = fake.posts().pop().unwrap();
            let block = &post.blocks[0];
            let text = block["text"]["text"]
                .as_str()
                .or(block["text"].as_str())
                .unwrap();
            for form in ["<!here>", "<!channel>", "<!everyone>"] {
                assert_eq!(text.contains(form), allowed, "{format:?}: {text}");
            }
            assert!(text.contains("!here"), "the text stays: {text}");
        }
    }
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_slack_errors_are_typed() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let store = store().await;
    let provider = slack(fake.api_url(), store.clone());
    let context = ExportContext::new(tenant());

    fake.rate_limit_next(2, 0);
    provider
        .export(&context, &Content::new("hello"), "C0GENERAL")
        .await
        .unwrap();
    assert_eq!(fake.posts().len(), 1, "sent once, after two 429s");

    let missing = provider
        .export(&context, &Content::new("hello"), "C0NOWHERE")
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, Error::Vendor(integrations_vendor::Error::Api { code: Some(code), .. }) if code == "channel_not_found"),
        "{missing}"
    );
    assert!(!missing.is_transient());

    // Slack asks for more than the retry budget: the error says how long.
    fake.rate_limit_next(1, 30);
    let limited = provider
        .export(&context, &Content::new("hello"), "C0GENERAL")
        .await
        .unwrap_err();
    assert!(limited.is_transient(), "{limited}");
    assert_eq!(
        limited.retry_after(),
        Some(std::time::Duration::from_secs(30)),
        "the outbox waits as long as Slack asked"
    );

    let empty = provider
        .export(&context, &Content::new("  \n"), "C0GENERAL")
        .await
        .unwrap_err();
    assert!(matches!(empty, Error::InvalidRequest { .. }), "{empty}");
    let nowhere = provider
        .export(&context, &Content::new("hi"), "")
        .await
        .unwrap_err();
    assert!(nowhere.to_string().contains("channel id"), "{nowhere}");

    let connection = ConnectionId::new("slack", "default").unwrap();
    store
        .put(&tenant(), &connection, &Credentials::bearer("xoxb-revoked"))
        .await
        .unwrap();
    let other = slack(fake.api_url(), store);
    let refused = other.validate_connection(&context).await.unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Vendor(integrations_vendor::Error::Unauthorized { .. })
        ),
        "{refused}"
    );
    assert!(
        !format!("{refused} {refused:?}").contains("xoxb-revoked"),
        "no secret in errors"
    );
}

#[tokio::test]
async fn destinations_are_listed_page_by_page_and_the_connection_validates() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    for n in 0..250 {
        fake.add_channel(&format!("C{n:04}"), &format!("channel-{n}"));
    }
    let provider = slack(fake.api_url(), store().await);
    let context = ExportContext::new(tenant());
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = provider
            .list_destinations(&context, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.destinations);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 251, "#general and the 250 added");
    assert_eq!(seen[0].name, "#general");
    assert_eq!(seen[0].kind, "channel");
    let check = provider.validate_connection(&context).await.unwrap();
    assert_eq!(check.identity.as_deref(), Some("exporter"));
}

#[tokio::test]
async fn a_resumed_export_sends_only_the_parts_slack_does_not_have() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let provider = slack(fake.api_url(), store().await);
    let content = Content::new(document());
    let started = Utc::now();
    let first = ExportContext::new(tenant()).idempotency_key("resume-1");
    let whole = provider
        .export(&first, &content, "C0GENERAL")
        .await
        .unwrap();
    let parts = fake.posts().len();

    // The process died after Slack took every part but before the outcome
    // was recorded: the retry finds them all and sends nothing.
    let mut again = ExportContext::new(tenant()).idempotency_key("resume-1");
    again.resumed_since = Some(started);
    let resumed = provider
        .export(&again, &content, "C0GENERAL")
        .await
        .unwrap();
    assert_eq!(fake.posts().len(), parts, "nothing sent twice");
    assert_eq!(resumed.external_id, whole.external_id);
    assert_eq!(resumed.requests, 0);

    // Another key is another export.
    let mut other = ExportContext::new(tenant()).idempotency_key("resume-2");
    other.resumed_since = Some(started);
    provider
        .export(&other, &content, "C0GENERAL")
        .await
        .unwrap();
    assert_eq!(fake.posts().len(), 2 * parts);
}
