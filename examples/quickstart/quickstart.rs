//! Quickstart: a config, two integrations, a runtime.
//!
//! Shows the whole core lifecycle in a couple of seconds: load a TOML config
//! (with a secret by reference), register a ticking integration and one with
//! actions, dispatch actions (one refused by its JSON Schema before the
//! integration sees it), print notifications as they arrive, and shut down
//! with a deadline.
//!
//! Run it from the repository root:
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It lives in a package of its own that depends on `integrations-core`
//! alone, so this first command compiles nothing else; it prints what
//! happens itself (the other examples log through `tracing-subscriber` and
//! honour `RUST_LOG`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use integrations_core::events::EventKind;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, IntegrationConfig,
    Notification, Registry, Runtime, async_trait,
};
use serde_json::json;

const CONFIG: &str = r#"
[integrations]
enabled = ["heartbeat", "calculator"]

[integrations.heartbeat]
tick_interval = "300ms"
message = "still alive"
# A secret by reference: taken from the environment, with a default here so
# the example runs anywhere. Without the default, a missing variable would
# fail the load with the key and the variable named.
api_key = "${QUICKSTART_API_KEY:-demo-key}"

[integrations.calculator]
"#;

/// Emits a notification on every tick.
#[derive(Default)]
struct Heartbeat {
    beats: AtomicU64,
    message: std::sync::OnceLock<String>,
}

#[async_trait]
impl Integration for Heartbeat {
    fn id(&self) -> &str {
        "heartbeat"
    }

    fn name(&self) -> &str {
        "Heartbeat"
    }

    async fn init(&self, config: &IntegrationConfig) -> Result<(), BoxError> {
        let message = config
            .get::<String>("message")?
            .unwrap_or_else(|| "beat".into());
        let _ = self.message.set(message);
        // Secrets stay redacted; expose them only where they are used.
        println!(
            "heartbeat: api_key is configured ({:?})",
            config.secret("api_key")
        );
        Ok(())
    }

    async fn tick(&self) -> Result<Vec<Notification>, BoxError> {
        let n = self.beats.fetch_add(1, Ordering::Relaxed) + 1;
        let message = self.message.get().map_or("beat", String::as_str);
        Ok(vec![
            Notification::new("beat", format!("{message} (#{n})")).with_data(json!({ "n": n })),
        ])
    }
}

/// Two actions with JSON Schemas.
struct Calculator;

#[async_trait]
impl Integration for Calculator {
    fn id(&self) -> &str {
        "calculator"
    }

    fn name(&self) -> &str {
        "Calculator"
    }

    fn capabilities(&self) -> Vec<Capability> {
        let schema = json!({
            "type": "object",
            "properties": { "a": { "type": "number" }, "b": { "type": "number" } },
            "required": ["a", "b"],
            "additionalProperties": false
        });
        vec![
            Capability::new("add", "Adds a and b").with_parameters(schema.clone()),
            Capability::new("divide", "Divides a by b").with_parameters(schema),
        ]
    }

    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        #[derive(serde::Deserialize)]
        struct Operands {
            a: f64,
            b: f64,
        }
        let Operands { a, b } = action.parse_arguments()?;
        Ok(match action.name.as_str() {
            "add" => ActionResult::ok(json!(a + b)),
            "divide" if b == 0.0 => ActionResult::error("division by zero"),
            "divide" => ActionResult::ok(json!(a / b)),
            other => ActionResult::error(format!("unknown action {other}")),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::from_toml_str(CONFIG)?;
    let mut registry = Registry::new();
    registry.register(Arc::new(Heartbeat::default()))?;
    registry.register(Arc::new(Calculator))?;

    let runtime = Runtime::builder(registry).start(&config).await;
    let mut events = runtime.subscribe();
    println!("running: {:?}", runtime.registry().ids());

    for (target, arguments) in [
        ("calculator.add", json!({ "a": 2, "b": 3 })),
        ("calculator.divide", json!({ "a": 1, "b": 0 })),
        ("calculator.add", json!({ "a": "two", "b": 3 })),
        ("calculator.sqrt", json!({ "a": 9 })),
    ] {
        match runtime.dispatch(target, arguments.clone()).await {
            Ok(result) if result.is_error => println!(
                "{target} {arguments} -> error for the caller: {}",
                result.output
            ),
            Ok(result) => println!("{target} {arguments} -> {}", result.output),
            Err(error) => println!("{target} {arguments} -> refused: {error}"),
        }
    }

    let until = tokio::time::Instant::now() + Duration::from_millis(1000);
    while let Ok(Ok(event)) = tokio::time::timeout_at(until, events.recv()).await {
        if let EventKind::Notification { notification } = event.kind {
            println!(
                "notification from {}: {}",
                event.integration, notification.message
            );
        }
    }

    if let Some(health) = runtime.health().summary("calculator") {
        println!(
            "calculator health: {} calls, {:.0}% ok, p50 {:?}",
            health.count,
            health.success_rate * 100.0,
            health.p50
        );
    }

    let report = runtime.shutdown(Duration::from_secs(2)).await;
    println!(
        "shutdown in {:?}, clean: {}",
        report.elapsed,
        report.is_clean()
    );
    Ok(())
}
