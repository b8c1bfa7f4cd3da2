//! Bridge: a host's built-in integration served over MCP, and called by an
//! MCP client from the pool, as an agent would.
//!
//! The example starts itself a second time with `--serve-bridge`: that
//! process runs the runtime with a `notes` integration and serves it on
//! stdio through `Bridge`; this one connects with an `McpPool`, lists the
//! tools and calls them.
//!
//! ```sh
//! cargo run --example bridge
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, TenantId,
    async_trait,
};
use integrations_mcp::{Bridge, McpPool, SessionKey, ToolResultExt};
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
        ]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
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
    let mut registry = Registry::new();
    registry.register(Arc::new(Notes::default()))?;
    let config = Config::from_toml_str("[integrations]\nenabled = [\"notes\"]")?;
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    Bridge::new(runtime.clone()).serve_stdio().await?;
    runtime.shutdown(Duration::from_secs(2)).await;
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
        .server("host", Bridge::stdio_entry(me, &["--serve-bridge"]))
        .build();
    let key = SessionKey::new(TenantId::new("agent-1")?, "host");
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
