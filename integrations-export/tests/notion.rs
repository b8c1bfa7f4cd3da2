//! Exporting to Notion, against a fake Notion that enforces its request
//! limits and answers as Notion does.

mod fixtures;

use integrations_export::providers::ExportContext;
use integrations_export::{Content, Error, Provider};
use integrations_fakes::notion::FakeNotion;

use fixtures::{NOTION_TOKEN, document, notion, notion_markdown, store, tenant};
use integrations_export::providers::NotionApi;

#[tokio::test]
async fn a_readme_sized_document_becomes_one_page_in_batches_of_100() {
    let fake = FakeNotion::start(NOTION_TOKEN).await;
    let provider = notion(fake.api_url(), store().await);
    let context = ExportContext::new(tenant());
    let content = Content::new(document()).title("The integrations guide");

    let planned = provider.plan(&context, &content, "parent-page").unwrap();
    let result = provider
        .export(&context, &content, "parent-page")
        .await
        .unwrap();

    let pages = fake.pages();
    assert_eq!(pages.len(), 1, "one page");
    let page = &pages[0];
    assert_eq!(page.title, "The integrations guide");
    assert_eq!(page.parent["page_id"], "parent-page");
    assert!(
        page.blocks.len() > 100,
        "{} blocks: more than one request's worth",
        page.blocks.len()
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    assert_eq!(result.requests, planned.len());
    assert_eq!(result.requests, page.blocks.len().div_ceil(100));
    let appends = fake
        .server()
        .all_requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(appends, result.requests - 1);
    assert_eq!(result.external_id.as_deref(), Some(page.id.as_str()));
    assert!(
        result
            .external_url
            .unwrap()
            .starts_with("https://www.notion.so/")
    );
    // The blocks arrive in the document's order: the last heading is last.
    let heading = |block: &serde_json::Value| {
        block["heading_2"]["rich_text"][0]["text"]["content"]
            .as_str()
            .map(str::to_owned)
    };
    let last = page.blocks.iter().rev().find_map(heading);
    let expected = fixtures::document()
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("## ").map(str::to_owned));
    assert_eq!(last, expected);
}

#[tokio::test]
async fn a_database_is_a_destination_and_errors_are_notions() {
    let fake = FakeNotion::start(NOTION_TOKEN).await;
    let provider = notion(fake.api_url(), store().await);
    let context = ExportContext::new(tenant());

    provider
        .export(&context, &Content::new("A row."), "database:reports-db")
        .await
        .unwrap();
    assert_eq!(fake.pages()[0].parent["database_id"], "reports-db");
    assert_eq!(fake.pages()[0].title, "Untitled");

    let missing = provider
        .export(&context, &Content::new("x"), "no-such-page")
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, Error::Vendor(integrations_vendor::Error::Api { status: 404, code: Some(code), .. }) if code == "object_not_found"),
        "{missing}"
    );

    fake.rate_limit_next(1, 0);
    provider
        .export(&context, &Content::new("after a 429"), "parent-page")
        .await
        .unwrap();
    assert_eq!(fake.pages().len(), 2);

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
    assert!(
        seen.iter()
            .any(|d| d.id == "database:reports-db" && d.kind == "database")
    );
    assert!(
        seen.iter()
            .any(|d| d.id == "parent-page" && d.name == "Reports")
    );
    assert!(provider.validate_connection(&context).await.is_ok());
}

#[tokio::test]
async fn the_fake_refuses_what_notion_refuses() {
    // The fake's checks are what the other tests rely on: a request past
    // a limit is refused with Notion's validation_error.
    let fake = FakeNotion::start(NOTION_TOKEN).await;
    let client = reqwest::Client::new();
    let paragraph = serde_json::json!({"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": "x"}}]}});
    let answer = client
        .post(format!("{}/v1/pages", fake.api_url()))
        .bearer_auth(NOTION_TOKEN)
        .header("Notion-Version", "2022-06-28")
        .json(&serde_json::json!({"parent": {"page_id": "parent-page"}, "properties": {}, "children": vec![paragraph; 101]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "validation_error");
    assert_eq!(fake.violations().len(), 1);
}

/// Issue 21: from `Notion-Version` 2026-03-11 the markdown API writes the
/// page (created with the first part, the rest appended as a
/// continuation), within Notion's 1000 elements and 500 KB a request.
#[tokio::test]
async fn with_version_2026_03_11_the_markdown_api_writes_the_page() {
    let fake = FakeNotion::start(NOTION_TOKEN).await;
    let provider = notion_markdown(fake.api_url(), store().await);
    let context = ExportContext::new(tenant());
    let items: Vec<String> = (0..2500).map(|i| format!("- step {i}")).collect();
    let markdown = format!("{}\n\n{}\n\nDone.", document(), items.join("\n"));
    let content = Content::new(markdown.clone()).title("The integrations guide");

    let planned = provider.plan(&context, &content, "parent-page").unwrap();
    let result = provider
        .export(&context, &content, "parent-page")
        .await
        .unwrap();

    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let pages = fake.pages();
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    assert_eq!(page.title, "The integrations guide");
    assert!(page.blocks.is_empty(), "no blocks were converted here");
    assert!(result.requests >= 3, "{} requests", result.requests);
    assert_eq!(result.requests, planned.len());
    assert!(
        planned[1].target.ends_with("/markdown"),
        "{}",
        planned[1].target
    );
    assert_eq!(planned[1].body["type"], "insert_content");
    // Every line written is on the page, in order, once.
    let written: Vec<&str> = markdown.lines().filter(|l| !l.trim().is_empty()).collect();
    let on_page: Vec<&str> = page
        .markdown
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(on_page, written);
}

#[tokio::test]
async fn the_block_api_stays_the_fallback_and_an_option() {
    let fake = FakeNotion::start(NOTION_TOKEN).await;
    let context = ExportContext::new(tenant());
    let content = Content::new("# Notes\n\nShip **today**.");
    // 2022-06-28 (the default version): blocks.
    notion(fake.api_url(), store().await)
        .export(&context, &content, "parent-page")
        .await
        .unwrap();
    // 2026-03-11, blocks asked for.
    notion_markdown(fake.api_url(), store().await)
        .api(NotionApi::Blocks)
        .export(&context, &content, "parent-page")
        .await
        .unwrap();
    for page in fake.pages() {
        assert_eq!(page.blocks[0]["type"], "heading_1");
        assert!(page.markdown.is_empty());
    }
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn the_fake_refuses_markdown_as_notion_does() {
    let fake = FakeNotion::start(NOTION_TOKEN).await;
    let client = reqwest::Client::new();
    let create = |version: &str, body: serde_json::Value| {
        client
            .post(format!("{}/v1/pages", fake.api_url()))
            .bearer_auth(NOTION_TOKEN)
            .header("Notion-Version", version)
            .json(&body)
            .send()
    };
    let parent = serde_json::json!({"page_id": "parent-page"});
    for (version, body, why) in [
        (
            "2022-06-28",
            serde_json::json!({"parent": parent, "markdown": "x"}),
            "2026-03-11 or later",
        ),
        (
            "2026-03-11",
            serde_json::json!({"parent": parent, "markdown": "- x\n".repeat(1001)}),
            "more than 1000",
        ),
        (
            "2026-03-11",
            serde_json::json!({"parent": parent, "markdown": "x".repeat(500_001)}),
            "more than 500000",
        ),
        (
            "2026-03-11",
            serde_json::json!({"parent": parent, "markdown": "x", "children": []}),
            "mutually exclusive",
        ),
    ] {
        let answer = create(version, body).await.unwrap();
        assert_eq!(answer.status(), 400, "{why}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "validation_error");
        assert!(body["message"].as_str().unwrap().contains(why), "{body}");
    }
    let made: serde_json::Value = create(
        "2026-03-11",
        serde_json::json!({"parent": parent, "markdown": "first"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = made["id"].as_str().unwrap();
    let appended = client
        .patch(format!("{}/v1/pages/{id}/markdown", fake.api_url()))
        .bearer_auth(NOTION_TOKEN)
        .header("Notion-Version", "2026-03-11")
        .json(
            &serde_json::json!({"type": "insert_content", "insert_content": {"content": "second"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(appended.status(), 200);
    let read: serde_json::Value = client
        .get(format!("{}/v1/pages/{id}/markdown", fake.api_url()))
        .bearer_auth(NOTION_TOKEN)
        .header("Notion-Version", "2026-03-11")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["markdown"], "first\n\nsecond");
}
