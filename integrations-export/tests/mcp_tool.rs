//! Any MCP tool as an export destination: a notes service written on the
//! official Python MCP SDK (`testing/python/notes_server.py`), spawned as
//! a process, receives exports through a declared mapping (content, title,
//! destination, idempotency key), and lists its folders as destinations.

mod fixtures;

use std::time::Duration;

use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};
use integrations_core::id::{ProviderId, ServerName};
use integrations_export::providers::{
    DestinationsTool, ExportContext, McpToolMapping, McpToolProvider, ToolAnswer,
};
use integrations_export::{Content, Error, Provider};
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{McpPool, SessionKey};

use fixtures::tenant;
use integrations_fakes::python;

fn mapping() -> McpToolMapping {
    McpToolMapping::new("create_note", "body")
        .title("title")
        .destination("folder")
        .idempotency_key("request_id")
        .answer(ToolAnswer::default().id("/id").url("/url"))
        .destinations(
            DestinationsTool::new("list_folders", "/folders", "/key")
                .name("/label", "")
                .cursor("cursor", "/next")
                .kind("folder"),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_notes_server_receives_exports_through_a_declared_mapping() {
    let Some((python, script)) = python("notes_server.py") else {
        return;
    };
    let server = StdioServer::new(ConfigString::plain(python)).args([script]);
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("notes"),
            McpServerEntry::from(server),
        )
        .handshake_timeout(Duration::from_secs(20))
        .build();
    let provider = McpToolProvider::new(
        ProviderId::from_static("notes"),
        pool.clone(),
        ServerName::from_static("notes"),
        mapping(),
    );
    let context = ExportContext::new(tenant()).idempotency_key("weekly-7");
    provider.validate_connection(&context).await.unwrap();

    // Folders, page by page, from the listing tool.
    let mut folders = Vec::new();
    let mut cursor = None;
    loop {
        let page = provider
            .list_destinations(&context, cursor.as_deref())
            .await
            .unwrap();
        folders.extend(page.destinations);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let names: Vec<_> = folders
        .iter()
        .map(|f| (f.id.as_str(), f.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("inbox", "Inbox"),
            ("reports", "Reports"),
            ("archive", "Archive")
        ]
    );
    assert!(folders.iter().all(|f| f.kind == "folder"));

    let content = Content::new("We ship **on Friday**.").title("Decision");
    let planned = provider.plan(&context, &content, "reports").unwrap();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].target, "notes/create_note");
    assert_eq!(
        planned[0].body,
        serde_json::json!({"body": "We ship **on Friday**.", "title": "Decision", "folder": "reports", "request_id": "weekly-7"})
    );
    let result = provider
        .export(&context, &content, "reports")
        .await
        .unwrap();
    assert_eq!(result.external_id.as_deref(), Some("note-1"));
    assert_eq!(
        result.external_url.as_deref(),
        Some("https://notes.example/reports/note-1")
    );

    // The same export again (a resumed attempt): the tool honours the key.
    let again = provider
        .export(&context, &content, "reports")
        .await
        .unwrap();
    assert_eq!(again.external_id.as_deref(), Some("note-1"));
    let key = SessionKey::new(tenant(), ServerName::from_static("notes"));
    let stored = pool
        .call_tool(&key, "notes", serde_json::json!({}))
        .await
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored.text()).unwrap();
    assert_eq!(stored.as_array().unwrap().len(), 1, "stored once: {stored}");
    assert_eq!(stored[0]["title"], "Decision");
    assert_eq!(stored[0]["body"], "We ship **on Friday**.");

    // The tool's own failure (`isError`) fails the export, not retried.
    let refused = provider
        .export(&ExportContext::new(tenant()), &content, "nowhere")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Unexpected { message, .. } if message.contains("`create_note` failed")),
        "{refused}"
    );
    assert!(!refused.is_transient());
    pool.shutdown(Duration::from_secs(5)).await;
}
