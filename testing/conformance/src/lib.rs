//! Fixtures for the MCP conformance suite: the integration whose actions
//! are the `test_*` tools the server scenarios call. `scripts/conformance.sh`
//! runs the suite; `docs/CONFORMANCE.md` has the results.

use integrations_core::{Action, ActionResult, BoxError, Capability, Integration, async_trait};
use serde_json::json;

/// The conformance fixture: the tools of the server scenarios that a bridge
/// of text-returning integrations can serve.
#[derive(Debug, Default)]
pub struct Fixture;

#[async_trait]
impl Integration for Fixture {
    fn id(&self) -> &str {
        "conformance"
    }

    fn name(&self) -> &str {
        "Conformance fixture"
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("test_simple_text", "Returns a simple text response"),
            Capability::new("test_error_handling", "Always returns a tool error"),
            Capability::new("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features").with_parameters(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {
                    "address": {
                        "type": "object",
                        "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
                    }
                },
                "properties": {
                    "name": { "type": "string" },
                    "address": { "$ref": "#/$defs/address" }
                },
                "additionalProperties": false
            })),
        ]
    }

    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        Ok(match action.name.as_str() {
            "test_simple_text" => {
                ActionResult::ok(json!("This is a simple text response for testing."))
            }
            "test_error_handling" => {
                ActionResult::error("This tool intentionally returns an error for testing")
            }
            _ => ActionResult::ok(action.arguments),
        })
    }
}
