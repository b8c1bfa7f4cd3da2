//! Bridge: a host's built-in integration served over MCP, and called by an
//! MCP client from the pool, as an agent would.
//!
//! The example starts itself a second time with `--serve-bridge`: that
//! process runs the runtime with a `notes` integration and serves it on
//! stdio through `Bridge`; this one connects with an `McpPool`, lists the
//! tools and calls them. The integration reports progress from `handle`
//! (the pool prints each report as it arrives), serves its notes as a
//! resource the client reads, and has a long action, `export`, which the
//! bridge runs as a task the pool polls (MCP 2026-07-28's Tasks
//! extension).
//!
//! ```sh
//! cargo run --example bridge
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`). With the
//! `otel` feature (on here), the pool sends each request's W3C trace
//! context in `_meta` and the bridge parents its spans on it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use integrations_core::id::ServerName;
use integrations_core::integration::content::{Resource, ResourceContents, Serves};
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, TenantId,
    async_trait,
};
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{Bridge, CallOptions, McpPool, SessionKey};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A built-in integration: notes kept in memory.
#[derive(Default)]
struct Notes(Mutex<Vec<String>>);

#[async_trait]
impl Integration for Notes {
    fn id(&self) -> &str {
        "notes"
    }
    fn name(&self) -> &str {
        "Notes"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("add", "Adds a note").with_parameters(json!({
                "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]
            })),
            Capability::new("list", "Lists the notes"),
            Capability::new("sync", "Syncs the notes, reporting progress"),
            Capability::new("export", "Exports the notes (a long action)").long_running(),
        ]
    }
    fn serves(&self) -> Serves {
        Serves::nothing().resources()
    }
    async fn list_resources(&self) -> Result<Vec<Resource>, BoxError> {
        Ok(vec![
            Resource::new("notes://all", "All notes").with_mime_type("application/json"),
        ])
    }
    async fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>, BoxError> {
        let notes = json!(*self.0.lock().unwrap()).to_string();
        Ok(vec![ResourceContents::text(uri, "application/json", notes)])
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        if action.name == "export" {
            // A long export, shortened for the example.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let count = self.0.lock().unwrap().len();
            return Ok(ActionResult::ok(json!(format!("exported {count} notes"))));
        }
        if action.name == "sync" {
            let total = self.0.lock().unwrap().len();
            for done in 0..=total {
                let message = format!("{done} of {total} notes synced");
                action
                    .context()
                    .progress(done as f64, Some(total as f64), Some(&message))
                    .await;
            }
            return Ok(ActionResult::ok(json!("synced")));
        }
        let mut notes = self.0.lock().unwrap();
        match action.name.as_str() {
            "add" => {
                notes.push(
                    action.arguments["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                Ok(ActionResult::ok(json!(format!("{} notes", notes.len()))))
            }
            _ => Ok(ActionResult::ok(json!(*notes))),
        }
    }
}

async fn serve_bridge() -> Result<(), Error> {
    // With BRIDGE_SPANS=FILE, the bridge's spans (OpenTelemetry, through
    // `tracing-opentelemetry`) are written to FILE as JSON when it stops:
    // tests/traces.rs follows one trace across the two processes.
    let spans =
        std::env::var_os("BRIDGE_SPANS").map(|file| (file, integrations_examples::record_spans()));
    let mut registry = Registry::new();
    registry.register(Arc::new(Notes::default()))?;
    let config = Config::from_toml_str("[integrations]\nenabled = [\"notes\"]")?;
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    Bridge::new(runtime.clone()).serve_stdio().await?;
    runtime.shutdown(Duration::from_secs(2)).await;
    if let Some((file, (recorder, _provider))) = spans {
        std::fs::write(
            file,
            integrations_examples::spans_json(&recorder).to_string(),
        )?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::args().any(|arg| arg == "--serve-bridge") {
        return serve_bridge().await;
    }
    integrations_examples::init_tracing();
    let me = std::env::current_exe()?.display().to_string();
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("host"),
            Bridge::stdio_entry(me, &["--serve-bridge"]),
        )
        .build();
    let key = SessionKey::new(TenantId::new("agent-1")?, ServerName::from_static("host"));
    let tools = pool.list_tools(&key).await?;
    let names: Vec<&str> = tools.iter().map(|tool| &*tool.name).collect();
    println!("the bridge serves {} tools: {names:?}", names.len());
    for text in ["buy milk", "call Ada"] {
        let added = pool
            .call_tool(&key, "notes__add", json!({"text": text}))
            .await?;
        println!("notes__add {text:?} -> {}", added.text());
    }
    let listed = pool.call_tool(&key, "notes__list", json!({})).await?;
    println!("notes__list -> {}", listed.text());

    // Progress from `handle`, as the server reports it.
    let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
    let options = CallOptions::new().progress(reports);
    let synced = pool
        .call_tool_with(&key, "notes__sync", json!({}), options)
        .await?;
    for _ in 0..3 {
        let Ok(Some(report)) = tokio::time::timeout(Duration::from_secs(5), received.recv()).await
        else {
            return Err("a progress report did not arrive".into());
        };
        println!(
            "progress: {}",
            report
                .message
                .unwrap_or_else(|| report.progress.to_string())
        );
    }
    println!("notes__sync -> {}", synced.text());

    // A long action: the bridge answers with a task, which the pool polls
    // to its result.
    let exported = pool.call_tool(&key, "notes__export", json!({})).await?;
    println!("notes__export (a task) -> {}", exported.text());

    // The notes as a resource.
    let read = pool.read_resource(&key, "notes://all").await?;
    let contents = serde_json::to_value(&read)?;
    println!(
        "resource notes://all -> {}",
        contents["contents"][0]["text"].as_str().unwrap_or_default()
    );
    // The bridge checks arguments against the capability's schema.
    match pool
        .call_tool(&key, "notes__add", json!({"text": 42}))
        .await
    {
        Err(refused) => println!("notes__add with a number -> refused: {refused}"),
        Ok(_) => return Err("an invalid argument was accepted".into()),
    }
    pool.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
