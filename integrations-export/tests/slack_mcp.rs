//! Slack through an MCP server: the pool spawns this test's own binary as
//! the demo MCP server with its Slack tools, which forward to a fake Slack;
//! the export lands there as the Web API provider's would, as one thread.
//!
//! A test without the libtest harness, so that the binary can be the
//! server: run with the argument `demo`, it serves MCP on stdio.

mod fixtures;

use std::time::Duration;

use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};
use integrations_core::id::{ProviderId, ServerName};
use integrations_export::providers::{ExportContext, McpToolMapping, McpToolProvider, ToolAnswer};
use integrations_export::{Content, Error, Provider};
use integrations_fakes::slack::FakeSlack;
use integrations_mcp::McpPool;

use fixtures::{SLACK_TOKEN, document, tenant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.first().map(String::as_str) == Some("demo") {
        runtime
            .block_on(integrations_mcp_demo::run(&args[1..]))
            .unwrap();
        return;
    }
    runtime.block_on(a_document_lands_in_slack_through_the_mcp_server());
    println!("test a_document_lands_in_slack_through_the_mcp_server ... ok");
    runtime.block_on(any_tool_of_the_demo_server_is_a_destination());
    println!("test any_tool_of_the_demo_server_is_a_destination ... ok");
}

/// Issue 21: a tool with no JSON in its answer (the demo's `echo`) takes
/// an export through a mapping of its one argument; an answer the mapping
/// cannot read where it needs to is an error that says so.
async fn any_tool_of_the_demo_server_is_a_destination() {
    let me = std::env::current_exe().unwrap().display().to_string();
    let server = StdioServer::new(ConfigString::plain(me)).args(["demo"]);
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("demo"),
            McpServerEntry::from(server),
        )
        .build();
    let context = ExportContext::new(tenant());
    let content = Content::new("Ship **today**.").title("Plan");

    let echo = McpToolProvider::new(
        ProviderId::from_static("demo"),
        pool.clone(),
        ServerName::from_static("demo"),
        McpToolMapping::new("echo", "text"),
    );
    echo.validate_connection(&context).await.unwrap();
    assert_eq!(echo.id(), "demo");
    let planned = echo.plan(&context, &content, "").unwrap();
    assert_eq!(planned[0].target, "demo/echo");
    assert_eq!(planned[0].body["text"], "# Plan\n\nShip **today**.");
    let result = echo.export(&context, &content, "").await.unwrap();
    assert_eq!(result.requests, 1);
    assert_eq!(result.external_id, None, "the answer names no id");

    let strict = McpToolProvider::new(
        ProviderId::from_static("demo"),
        pool.clone(),
        ServerName::from_static("demo"),
        McpToolMapping::new("echo", "text").answer(ToolAnswer::default().ok("/ok", "/error")),
    );
    let unread = strict.export(&context, &content, "").await.unwrap_err();
    assert!(
        matches!(&unread, Error::Unexpected { message, .. } if message.contains("`/ok`")),
        "{unread}"
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

async fn a_document_lands_in_slack_through_the_mcp_server() {
    let fake = FakeSlack::start(SLACK_TOKEN).await;
    let me = std::env::current_exe().unwrap().display().to_string();
    let server = StdioServer::new(ConfigString::plain(me))
        .args(["demo", "--slack-api", &fake.api_url()])
        .env("SLACK_BOT_TOKEN", ConfigString::secret(SLACK_TOKEN));
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("slack"),
            McpServerEntry::from(server),
        )
        .build();
    let provider = McpToolProvider::slack(pool.clone(), ServerName::from_static("slack"));
    assert_eq!(provider.id(), "slack-mcp");
    let context = ExportContext::new(tenant());

    provider.validate_connection(&context).await.unwrap();
    let content = Content::new(document()).title("The integrations guide");
    let planned = provider.plan(&context, &content, "C0GENERAL").unwrap();
    assert_eq!(planned[0].target, "slack/slack_post_message");
    assert_eq!(planned[1].target, "slack/slack_reply_to_thread");

    let result = provider
        .export(&context, &content, "C0GENERAL")
        .await
        .unwrap();
    let posts = fake.posts();
    assert_eq!(posts.len(), planned.len());
    assert!(posts.len() >= 2);
    assert!(
        posts[1..]
            .iter()
            .all(|post| post.thread_ts.as_deref() == Some(posts[0].ts.as_str())),
        "one thread"
    );
    assert!(
        posts[0].text.starts_with("*The integrations guide*"),
        "{:?}",
        &posts[0].text[..40]
    );
    assert!(
        posts
            .iter()
            .any(|post| post.text.contains("cargo run --example quickstart"))
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    assert_eq!(result.external_id.as_deref(), Some(posts[0].ts.as_str()));
    assert_eq!(
        result.external_url.unwrap(),
        format!(
            "https://slack.com/archives/C0GENERAL/p{}",
            posts[0].ts.replace('.', "")
        )
    );

    // Issue 18: broadcasts in a document are posted as text through the
    // MCP server too (the provider renders with the converter's defaults).
    provider
        .export(
            &context,
            &Content::new("Deploy done <!here>, ping <!channel> and <!everyone>."),
            "C0GENERAL",
        )
        .await
        .unwrap();
    let text = fake.posts().pop().unwrap().text;
    for form in ["<!here>", "<!channel>", "<!everyone>"] {
        assert!(!text.contains(form), "{form} reached Slack live: {text}");
    }
    assert!(text.contains("!here"), "the text stays: {text}");

    let channels = provider.list_destinations(&context, None).await.unwrap();
    assert_eq!(channels.destinations[0].id, "C0GENERAL");

    // Slack's `ok: false` comes back typed, through the tool's answer.
    let missing = provider
        .export(&context, &Content::new("x"), "C0NOWHERE")
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, Error::Vendor(integrations_vendor::Error::Api { code: Some(code), .. }) if code == "channel_not_found"),
        "{missing}"
    );

    // A mapping that names a tool the server lacks is refused up front.
    let wrong = McpToolProvider::new(
        ProviderId::from_static("slack"),
        pool.clone(),
        ServerName::from_static("slack"),
        McpToolMapping::new("post_message", "text"),
    );
    let refused = wrong.validate_connection(&context).await.unwrap_err();
    assert!(refused.to_string().contains("post_message"), "{refused}");

    pool.shutdown(Duration::from_secs(5)).await;
}
