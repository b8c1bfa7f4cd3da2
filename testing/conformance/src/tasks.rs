//! The tools of the Tasks extension's server scenarios (SEP-2663):
//! `greet` (an ordinary call), `slow_compute`, `confirm_delete`,
//! `multi_input` and `protocol_error_job` (tasks for clients that can poll
//! them), `failing_job` and `test_tool_with_task` (tasks only; the latter
//! asks by rounds first, SEP-2663's MRTR → Tasks composition).

use std::time::Duration;

use integrations_core::integration::{ActionContext, Elicitation, Questions};
use integrations_core::{Action, ActionResult, Capability};
use serde_json::json;

/// The tools, for `Integration::capabilities`.
pub fn capabilities() -> Vec<Capability> {
    vec![
        Capability::new("greet", "Says hello to `name`").with_parameters(json!({
            "type": "object",
            "properties": { "name": { "type": "string" } },
            "required": ["name"]
        })),
        Capability::new(
            "slow_compute",
            "Sleeps `seconds`, then answers with `label`",
        )
        .with_parameters(json!({
            "type": "object",
            "properties": {
                "seconds": { "type": "number", "minimum": 0 },
                "label": { "type": "string" }
            }
        }))
        .long_running(),
        Capability::new("confirm_delete", "Asks the user to confirm, then deletes").long_running(),
        Capability::new("multi_input", "Asks the user two questions at once").long_running(),
        Capability::new("failing_job", "Fails after a second").task_only(),
        Capability::new("protocol_error_job", "Panics").long_running(),
        Capability::new("test_tool_with_task", "Asks the user's name, then works on")
            .task_only()
            .input_first(),
    ]
}

fn confirmation(message: &str, field: &str) -> Elicitation {
    Elicitation::Form {
        message: message.into(),
        schema: json!({
            "type": "object",
            "properties": { field: { "type": "string" } },
            "required": [field]
        }),
    }
}

fn text(
    answer: Option<&integrations_core::integration::ElicitationResponse>,
    field: &str,
) -> String {
    let content = answer.and_then(|answer| answer.content.as_ref());
    match content.and_then(|content| content.get(field)) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Runs `action` if it is one of these tools.
pub async fn handle(action: &Action, context: &ActionContext) -> Option<ActionResult> {
    let arguments = &action.arguments;
    Some(match action.name.as_str() {
        "greet" => {
            let name = arguments["name"].as_str().unwrap_or("World");
            ActionResult::ok(json!(format!("Hello, {name}!")))
        }
        "slow_compute" => {
            let seconds = arguments["seconds"]
                .as_f64()
                .unwrap_or(0.0)
                .clamp(0.0, 600.0);
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            let label = arguments["label"].as_str().unwrap_or("compute");
            ActionResult::ok(json!(format!("{label}: done after {seconds} s")))
        }
        "failing_job" => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            ActionResult::error("the job failed, as it always does")
        }
        "protocol_error_job" => panic!("protocol_error_job fails below the tool"),
        "confirm_delete" | "multi_input" | "test_tool_with_task" => {
            match ask(&action.name, context).await {
                Ok(text) => ActionResult::ok(json!(text)),
                Err(error) => ActionResult::error(error.to_string()),
            }
        }
        _ => return None,
    })
}

async fn ask(tool: &str, context: &ActionContext) -> Result<String, integrations_core::BoxError> {
    Ok(match tool {
        "confirm_delete" => {
            let answers = context
                .ask(Questions::new().elicit("confirm", confirmation("Delete it?", "confirm")))
                .await?;
            format!(
                "deleted (confirmed: {})",
                text(answers.elicitation("confirm"), "confirm")
            )
        }
        "multi_input" => {
            let questions = Questions::new()
                .elicit("first", confirmation("First?", "value"))
                .elicit("second", confirmation("Second?", "value"));
            let answers = context.ask(questions).await?;
            format!(
                "first: {}, second: {}",
                text(answers.elicitation("first"), "value"),
                text(answers.elicitation("second"), "value")
            )
        }
        _ => {
            let question = confirmation("What is your name?", "name");
            let answers = context
                .ask(Questions::new().elicit("user_name", question))
                .await?;
            let name = text(answers.elicitation("user_name"), "name");
            tokio::time::sleep(Duration::from_millis(200)).await;
            format!("Hello, {name}: the work is done")
        }
    })
}
