//! The `test_input_required_result_*` tools of the 2026-07-28 scenarios
//! (SEP-2322): questions to the client under the keys the suite expects,
//! asked through `ActionContext::ask`, which the bridge turns into
//! `InputRequiredResult`s.

use integrations_core::integration::{
    ActionContext, Answers, Elicitation, ElicitationResponse, Questions, SamplingRequest,
};
use integrations_core::{ActionResult, Capability};
use serde_json::{Value, json};

/// The tools, for `Integration::capabilities`.
pub fn capabilities() -> Vec<Capability> {
    [
        ("elicitation", "Asks the user's name (`user_name`)"),
        ("sampling", "Asks the model a question (`capital_question`)"),
        ("list_roots", "Asks for the client's roots (`client_roots`)"),
        (
            "request_state",
            "Asks for a confirmation; answers `state-ok`",
        ),
        (
            "multiple_inputs",
            "Asks the user, the model and the roots at once",
        ),
        ("multi_round", "Asks the user twice, a round each"),
        (
            "tampered_state",
            "Asks for a confirmation (its state is sealed)",
        ),
        (
            "capabilities",
            "Asks only what the client declared it can answer",
        ),
    ]
    .into_iter()
    .map(|(name, description)| {
        Capability::new(format!("test_input_required_result_{name}"), description)
    })
    .collect()
}

fn form(message: &str, field: &str, kind: &str) -> Elicitation {
    Elicitation::Form {
        message: message.into(),
        schema: json!({
            "type": "object",
            "properties": { field: { "type": kind } },
            "required": [field]
        }),
    }
}

fn field(answer: Option<&ElicitationResponse>, name: &str) -> String {
    answer
        .and_then(|answer| answer.content.as_ref())
        .and_then(|content| content.get(name))
        .map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// Runs `name` if it is one of these tools.
pub async fn handle(name: &str, context: &ActionContext) -> Option<ActionResult> {
    let tool = name.strip_prefix("test_input_required_result_")?;
    let answered = match tool {
        "elicitation" => ask(context, Questions::new().elicit("user_name", name_form()))
            .await
            .map(|answers| {
                format!(
                    "Hello, {}!",
                    field(answers.elicitation("user_name"), "name")
                )
            }),
        "sampling" => {
            let question = SamplingRequest::new("What is the capital of France?", 50);
            ask(
                context,
                Questions::new().sample("capital_question", question),
            )
            .await
            .map(|answers| {
                let text = answers.sampling("capital_question").map(|a| a.text.clone());
                format!("The model said: {}", text.unwrap_or_default())
            })
        }
        "list_roots" => ask(context, Questions::new().roots("client_roots"))
            .await
            .map(|answers| {
                let roots = answers.roots("client_roots").unwrap_or_default();
                let uris: Vec<&str> = roots.iter().map(|root| root.uri.as_str()).collect();
                format!("Roots: {}", uris.join(", "))
            }),
        "request_state" | "tampered_state" => {
            let confirm = form("Please confirm", "ok", "boolean");
            ask(context, Questions::new().elicit("confirmation", confirm))
                .await
                .map(|_| "state-ok: the request state was validated".to_owned())
        }
        "multiple_inputs" => {
            let questions = Questions::new()
                .elicit("user_name", name_form())
                .sample("greeting", SamplingRequest::new("Say hello", 20))
                .roots("client_roots");
            ask(context, questions)
                .await
                .map(|answers| format!("All {} inputs received", answers.len()))
        }
        "multi_round" => multi_round(context).await,
        "capabilities" => capabilities_declared(context).await,
        _ => return None,
    };
    Some(match answered {
        Ok(text) => ActionResult::ok(json!(text)),
        Err(error) => ActionResult::error(error),
    })
}

fn name_form() -> Elicitation {
    form("What is your name?", "name", "string")
}

async fn ask(context: &ActionContext, questions: Questions) -> Result<Answers, String> {
    context.ask(questions).await.map_err(|e| e.to_string())
}

async fn multi_round(context: &ActionContext) -> Result<String, String> {
    let first = ask(context, Questions::new().elicit("step1", name_form())).await?;
    let color = form("What is your favourite colour?", "color", "string");
    let second = ask(context, Questions::new().elicit("step2", color)).await?;
    Ok(format!(
        "{} likes {}",
        field(first.elicitation("step1"), "name"),
        field(second.elicitation("step2"), "color")
    ))
}

/// What `test_input_required_result_prompt` asks the user first.
pub async fn prompt_context(context: &ActionContext) -> Result<String, String> {
    let question = form("What context should the prompt use?", "context", "string");
    let answers = ask(context, Questions::new().elicit("user_context", question)).await?;
    Ok(field(answers.elicitation("user_context"), "context"))
}

/// The user if the client can ask them, else the model.
async fn capabilities_declared(context: &ActionContext) -> Result<String, String> {
    if let Ok(answer) = context.elicit(name_form()).await {
        return Ok(format!("Hello, {}!", field(Some(&answer), "name")));
    }
    let question = SamplingRequest::new("What is the capital of France?", 50);
    let answers = ask(
        context,
        Questions::new().sample("capital_question", question),
    )
    .await?;
    let text = answers.sampling("capital_question").map(|a| a.text.clone());
    Ok(format!("The model said: {}", text.unwrap_or_default()))
}
