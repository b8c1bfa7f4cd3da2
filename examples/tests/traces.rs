//! One trace across the hop: a pool call in this process, exported to
//! OpenTelemetry through `tracing-opentelemetry` (in memory), reaches the
//! bridge in another process (the `bridge` example with `--serve-bridge`),
//! whose spans, parented on the W3C trace context the pool put in `_meta`,
//! go on into the integration's `handle()`, a long action's too (run as
//! a task after its request is answered).

use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::id::ServerName;
use integrations_mcp::{Bridge, McpPool, SessionKey};
use serde_json::{Value, json};
use tracing::Instrument;

fn example(name: &str) -> String {
    let deps = std::env::current_exe().unwrap();
    let target = deps.parent().unwrap().parent().unwrap();
    let path = target.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples (or `cargo build --example {name}`)",
        path.display()
    );
    path.display().to_string()
}

fn find<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|span| span["name"] == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_pool_through_the_bridge_into_handle() {
    let (recorder, provider) = integrations_examples::record_spans();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bridge-spans.json");
    let mut entry = Bridge::stdio_entry(example("bridge"), &["--serve-bridge"]);
    let integrations_core::config::McpServerEntry::Stdio(stdio) = &mut entry else {
        unreachable!()
    };
    stdio.env.insert(
        "BRIDGE_SPANS".into(),
        integrations_core::config::ConfigString::plain(file.display().to_string()),
    );
    let pool = McpPool::builder()
        .server(ServerName::from_static("host"), entry)
        .build();
    let key = SessionKey::new(
        TenantId::new("agent-1").unwrap(),
        ServerName::from_static("host"),
    );

    let agent = tracing::info_span!("agent turn");
    let added = pool
        .call_tool(&key, "notes__add", json!({"text": "buy milk"}))
        .instrument(agent.clone())
        .await
        .unwrap();
    assert_eq!(added.is_error, Some(false));
    pool.read_resource(&key, "notes://all")
        .instrument(agent.clone())
        .await
        .unwrap();
    let exported = pool
        .call_tool(&key, "notes__export", json!({}))
        .instrument(agent.clone())
        .await
        .unwrap();
    assert_eq!(exported.is_error, Some(false));
    // Refused by the bridge: its span says with which JSON-RPC code.
    pool.call_tool(&key, "notes__add", json!({"text": 42}))
        .instrument(agent.clone())
        .await
        .unwrap_err();
    drop(agent);
    // The bridge writes its spans when its client goes.
    pool.shutdown(Duration::from_secs(5)).await;
    let _ = provider.force_flush();

    let ours = integrations_examples::spans_json(&recorder);
    let ours = ours.as_array().unwrap();
    let root = find(ours, "agent turn");
    let client = find(ours, "tools/call notes__add");
    let trace = root["trace_id"].as_str().unwrap();
    assert_eq!(client["trace_id"], trace);
    assert_eq!(client["parent_span_id"], root["span_id"]);
    assert_eq!(client["kind"], "Client");
    let attributes = &client["attributes"];
    assert_eq!(attributes["mcp.method.name"], "tools/call");
    assert_eq!(attributes["gen_ai.tool.name"], "notes__add");
    assert_eq!(attributes["gen_ai.operation.name"], "execute_tool");
    assert_eq!(attributes["network.transport"], "pipe");

    let theirs: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let theirs = theirs.as_array().unwrap();
    let server = find(theirs, "tools/call notes__add");
    assert_eq!(server["kind"], "Server");
    assert_eq!(
        server["trace_id"], trace,
        "the bridge continues the pool's trace"
    );
    assert_eq!(server["parent_span_id"], client["span_id"]);
    assert_eq!(server["attributes"]["mcp.protocol.version"], "2026-07-28");
    assert_eq!(attributes["mcp.protocol.version"], "2026-07-28");
    assert!(
        server["attributes"]["jsonrpc.request.id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{server}"
    );
    assert_eq!(
        attributes["jsonrpc.request.id"], server["attributes"]["jsonrpc.request.id"],
        "both sides name the request by its id"
    );
    let refused = theirs
        .iter()
        .find(|span| span["attributes"]["rpc.response.status_code"] == "-32602")
        .unwrap_or_else(|| panic!("no refused call in {theirs:#?}"));
    assert_eq!(refused["name"], "tools/call notes__add");
    assert_eq!(refused["attributes"]["error.type"], "-32602");
    assert_eq!(refused["trace_id"], trace);
    let told = ours
        .iter()
        .find(|span| span["attributes"]["rpc.response.status_code"] == "-32602")
        .unwrap_or_else(|| panic!("the pool's span of the refused call: {ours:#?}"));
    assert_eq!(told["attributes"]["error.type"], "invalid_arguments");
    assert_eq!(refused["parent_span_id"], told["span_id"]);
    let read = find(ours, "resources/read notes://all");
    let served = find(theirs, "resources/read notes://all");
    assert_eq!(served["trace_id"], trace);
    assert_eq!(served["parent_span_id"], read["span_id"]);
    assert_eq!(served["attributes"]["mcp.resource.uri"], "notes://all");
    let handle = find(theirs, "handle notes.add");
    assert_eq!(handle["trace_id"], trace, "into handle()");
    assert_eq!(handle["parent_span_id"], server["span_id"]);

    // A long action runs as a task after its request is answered: its
    // span continues the request's trace into handle().
    let asked = find(theirs, "tools/call notes__export");
    assert_eq!(asked["trace_id"], trace);
    let task = find(theirs, "task notes.export");
    assert_eq!(task["trace_id"], trace, "the task continues the trace");
    assert_eq!(task["parent_span_id"], asked["span_id"]);
    assert!(
        task["attributes"]["mcp.task.id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let exported = find(theirs, "handle notes.export");
    assert_eq!(exported["trace_id"], trace, "into the task's handle()");
    assert_eq!(exported["parent_span_id"], task["span_id"]);
}
