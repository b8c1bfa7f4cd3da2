//! The calculator integration and the demo's `--bridge` mode.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

/// A calculator integration: the fixture of tests and examples that need a
/// built-in integration, and what `--bridge` mode serves. Actions `add` and
/// `divide` take numbers `a` and `b` (checked by their JSON Schema); a
/// division by zero is an error result the caller can read.
///
/// ```
/// use std::sync::Arc;
/// use integrations_core::{Config, Registry, Runtime};
/// use integrations_mcp_demo::Calculator;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let mut registry = Registry::new();
/// registry.register(Arc::new(Calculator))?;
/// let runtime = Runtime::builder(registry).start(&Config::from_toml_str("[integrations]\nenabled = [\"calculator\"]")?).await;
/// let sum = runtime.dispatch("calculator.add", serde_json::json!({"a": 2, "b": 3})).await?;
/// assert_eq!(sum.output, serde_json::json!(5.0));
/// # Ok::<_, integrations_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Calculator;

#[integrations_core::async_trait]
impl integrations_core::Integration for Calculator {
    fn id(&self) -> &str {
        "calculator"
    }
    fn name(&self) -> &str {
        "Calculator"
    }
    fn capabilities(&self) -> Vec<integrations_core::Capability> {
        let operands = json!({
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
            "additionalProperties": false
        });
        vec![
            integrations_core::Capability::new("add", "Adds a and b")
                .with_parameters(operands.clone()),
            integrations_core::Capability::new("divide", "Divides a by b")
                .with_parameters(operands),
        ]
    }
    async fn handle(
        &self,
        action: integrations_core::Action,
    ) -> Result<integrations_core::ActionResult, integrations_core::BoxError> {
        let a = action.arguments["a"].as_f64().unwrap_or_default();
        let b = action.arguments["b"].as_f64().unwrap_or_default();
        Ok(match action.name.as_str() {
            "divide" if b == 0.0 => integrations_core::ActionResult::error("division by zero"),
            "divide" => integrations_core::ActionResult::ok(json!(a / b)),
            _ => integrations_core::ActionResult::ok(json!(a + b)),
        })
    }
}

/// `--bridge`: serves a runtime with the calculator through the bridge.
pub(super) async fn bridge() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut registry = integrations_core::Registry::new();
    registry.register(Arc::new(Calculator))?;
    let config =
        integrations_core::Config::from_toml_str("[integrations]\nenabled = [\"calculator\"]")?;
    let runtime = Arc::new(
        integrations_core::Runtime::builder(registry)
            .start(&config)
            .await,
    );
    integrations_mcp::Bridge::new(Arc::clone(&runtime))
        .serve_stdio()
        .await?;
    runtime.shutdown(Duration::from_secs(2)).await;
    Ok(())
}
