//! Fixtures for the MCP conformance suite: the integration whose actions,
//! resources and prompts are the `test_*` tools, `test://` resources and
//! prompts the server scenarios ask for, built on the `Integration`
//! contract alone. `scripts/conformance.sh` runs the suite;
//! `docs/CONFORMANCE.md` has the results.

use std::time::Duration;

pub mod mrtr;
pub mod tasks;

use integrations_core::integration::content::{
    CompletionTarget, ContentBlock, Prompt, PromptMessage, Resource, ResourceContents,
    ResourceTemplate, Role, Serves,
};
use integrations_core::integration::{ActionContext, Elicitation, LogLevel, SamplingRequest};
use integrations_core::{Action, ActionResult, BoxError, Capability, Integration, async_trait};
use serde_json::{Map, Value, json};

/// A 1×1 red PNG.
pub const PNG: [u8; 69] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0,
    0, 0, 144, 119, 83, 222, 0, 0, 0, 12, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 0, 0, 3, 1,
    1, 0, 201, 254, 146, 239, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// A WAV file of one silent 8-bit sample at 8 kHz.
pub fn wav() -> Vec<u8> {
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&37u32.to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&1u32.to_le_bytes());
    wav.push(128);
    wav
}

/// The conformance fixture.
#[derive(Debug, Default)]
pub struct Fixture;

fn text_argument(action: &Action, name: &str) -> String {
    action.arguments[name]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn elicitation_answer(
    prefix: &str,
    answer: &integrations_core::integration::ElicitationResponse,
) -> String {
    let action = match answer.action {
        integrations_core::integration::ElicitationAction::Accept => "accept",
        integrations_core::integration::ElicitationAction::Decline => "decline",
        _ => "cancel",
    };
    let content = answer.content.clone().unwrap_or(json!({}));
    format!("{prefix}: action={action}, content={content}")
}

fn pause() -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(50))
}

#[async_trait]
impl Integration for Fixture {
    fn id(&self) -> &str {
        "conformance"
    }

    fn name(&self) -> &str {
        "Conformance fixture"
    }

    fn serves(&self) -> Serves {
        Serves::nothing()
            .subscriptions()
            .prompts()
            .completions()
            .logging()
    }

    fn capabilities(&self) -> Vec<Capability> {
        let text = |name: &str| {
            json!({
                "type": "object",
                "properties": { name: { "type": "string" } },
                "required": [name]
            })
        };
        let mut tools = vec![
            Capability::new("test_simple_text", "Returns a simple text response"),
            Capability::new("test_error_handling", "Always returns a tool error"),
            Capability::new("test_image_content", "Returns an image"),
            Capability::new("test_audio_content", "Returns audio"),
            Capability::new("test_embedded_resource", "Returns an embedded resource"),
            Capability::new("test_multiple_content_types", "Returns text, an image and a resource"),
            Capability::new("test_tool_with_logging", "Logs three messages as it runs"),
            Capability::new("test_tool_with_progress", "Reports progress as it runs"),
            // The diagnostic tools of the 2026-07-28 scenarios.
            Capability::new("test_logging_tool", "Logs as it runs (only where the request names a level)"),
            Capability::new("test_streaming_elicitation", "Asks the client's user mid-call"),
            Capability::new("test_missing_capability", "Needs the client's model (sampling)"),
            Capability::new("test_custom_header", "Echoes `region`, which travels in the Mcp-Param-Region header too")
                .with_parameters(json!({
                    "type": "object",
                    "properties": {
                        "region": { "type": "string", "x-mcp-header": "Region" }
                    },
                    "required": ["region"]
                })),
            Capability::new("test_sampling", "Asks the client's model").with_parameters(text("prompt")),
            Capability::new("test_elicitation", "Asks the client's user").with_parameters(text("message")),
            Capability::new("test_elicitation_sep1034_defaults", "Asks with defaults for every type"),
            Capability::new("test_elicitation_sep1330_enums", "Asks with every kind of enum"),
            Capability::new("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features").with_parameters(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {
                    "address": {
                        "$anchor": "address",
                        "type": "object",
                        "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
                    }
                },
                "properties": {
                    "name": { "type": "string" },
                    "address": { "$ref": "#/$defs/address" }
                },
                "allOf": [{ "anyOf": [{ "required": ["name"] }, { "required": ["address"] }] }],
                "if": { "properties": { "name": { "const": "home" } } },
                "then": { "required": ["address"] },
                "else": {},
                "additionalProperties": false
            })),
        ];
        tools.extend(mrtr::capabilities());
        tools.extend(tasks::capabilities());
        tools
    }

    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        let context = action.context();
        if let Some(result) = mrtr::handle(&action.name, context).await {
            return Ok(result);
        }
        if let Some(result) = tasks::handle(&action, context).await {
            return Ok(result);
        }
        Ok(match action.name.as_str() {
            "test_simple_text" => {
                ActionResult::ok(json!("This is a simple text response for testing."))
            }
            "test_error_handling" => {
                ActionResult::error("This tool intentionally returns an error for testing")
            }
            "test_image_content" => {
                ActionResult::content(vec![ContentBlock::image(&PNG, "image/png")])
            }
            "test_audio_content" => {
                ActionResult::content(vec![ContentBlock::audio(&wav(), "audio/wav")])
            }
            "test_embedded_resource" => {
                ActionResult::content(vec![ContentBlock::resource(ResourceContents::text(
                    "test://embedded-resource",
                    "text/plain",
                    "This is an embedded resource content.",
                ))])
            }
            "test_multiple_content_types" => ActionResult::content(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(&PNG, "image/png"),
                ContentBlock::resource(ResourceContents::text(
                    "test://mixed-content-resource",
                    "application/json",
                    json!({"test": "data", "value": 123}).to_string(),
                )),
            ]),
            "test_tool_with_logging" => {
                context.log(LogLevel::Info, "Tool execution started").await;
                pause().await;
                context.log(LogLevel::Info, "Tool processing data").await;
                pause().await;
                context
                    .log(LogLevel::Info, "Tool execution completed")
                    .await;
                ActionResult::ok(json!("Tool with logging executed successfully"))
            }
            "test_logging_tool" => {
                context.log(LogLevel::Info, "Logging tool started").await;
                pause().await;
                context.log(LogLevel::Info, "Logging tool finished").await;
                ActionResult::ok(json!("Logging tool executed"))
            }
            "test_streaming_elicitation" => {
                let request = Elicitation::Form {
                    message: "Please confirm to continue".into(),
                    schema: json!({
                        "type": "object",
                        "properties": { "confirmed": { "type": "boolean" } },
                        "required": ["confirmed"]
                    }),
                };
                match context.elicit(request).await {
                    Ok(answer) => {
                        ActionResult::ok(json!(elicitation_answer("Confirmation", &answer)))
                    }
                    Err(error) => ActionResult::error(error.to_string()),
                }
            }
            "test_missing_capability" => {
                match context.sample(SamplingRequest::new("Say hello", 20)).await {
                    Ok(answer) => ActionResult::ok(json!(answer.text)),
                    Err(error) => ActionResult::error(error.to_string()),
                }
            }
            "test_custom_header" => ActionResult::ok(json!(format!(
                "region: {}",
                text_argument(&action, "region")
            ))),
            "test_tool_with_progress" => {
                for (step, progress) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                    if step > 0 {
                        pause().await;
                    }
                    context.progress(progress, Some(100.0), None).await;
                }
                ActionResult::ok(json!("Tool with progress executed successfully"))
            }
            "test_sampling" => {
                let request = SamplingRequest::new(text_argument(&action, "prompt"), 100);
                match context.sample(request).await {
                    Ok(answer) => ActionResult::ok(json!(format!("LLM response: {}", answer.text))),
                    Err(error) => ActionResult::error(error.to_string()),
                }
            }
            "test_elicitation" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": { "type": "string", "description": "User's response" },
                        "email": { "type": "string", "description": "User's email address" }
                    },
                    "required": ["username", "email"]
                });
                let request = Elicitation::Form {
                    message: text_argument(&action, "message"),
                    schema,
                };
                match context.elicit(request).await {
                    Ok(answer) => {
                        ActionResult::ok(json!(elicitation_answer("User response", &answer)))
                    }
                    Err(error) => ActionResult::error(error.to_string()),
                }
            }
            "test_elicitation_sep1034_defaults" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "name": { "type": "string", "default": "John Doe" },
                        "age": { "type": "integer", "default": 30 },
                        "score": { "type": "number", "default": 95.5 },
                        "status": { "type": "string", "enum": ["active", "inactive", "pending"], "default": "active" },
                        "verified": { "type": "boolean", "default": true }
                    }
                });
                ask(context, "Please review your information", schema).await
            }
            "test_elicitation_sep1330_enums" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
                        "titledSingle": { "type": "string", "oneOf": [
                            { "const": "value1", "title": "First Option" },
                            { "const": "value2", "title": "Second Option" },
                            { "const": "value3", "title": "Third Option" }
                        ] },
                        "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"] },
                        "untitledMulti": { "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
                        "titledMulti": { "type": "array", "items": { "anyOf": [
                            { "const": "value1", "title": "First Choice" },
                            { "const": "value2", "title": "Second Choice" },
                            { "const": "value3", "title": "Third Choice" }
                        ] } }
                    }
                });
                ask(context, "Please pick your options", schema).await
            }
            _ => ActionResult::ok(action.arguments),
        })
    }

    async fn list_resources(&self) -> Result<Vec<Resource>, BoxError> {
        Ok(vec![
            Resource::new("test://static-text", "Static text")
                .with_description("A static text resource")
                .with_mime_type("text/plain"),
            Resource::new("test://static-binary", "Static binary")
                .with_description("A static PNG")
                .with_mime_type("image/png"),
            Resource::new("test://watched-resource", "Watched resource")
                .with_description("A resource that notifies its updates")
                .with_mime_type("text/plain"),
        ])
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        vec![
            ResourceTemplate::new("test://template/{id}/data", "Template data")
                .with_description("Data for an id")
                .with_mime_type("application/json"),
        ]
    }

    async fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>, BoxError> {
        let contents = match uri {
            "test://static-text" => ResourceContents::text(
                uri,
                "text/plain",
                "This is the content of the static text resource.",
            ),
            "test://static-binary" => ResourceContents::blob(uri, "image/png", &PNG),
            "test://watched-resource" => ResourceContents::text(uri, "text/plain", "Watched."),
            _ => {
                let id = self.resource_templates()[0]
                    .matches(uri)
                    .and_then(|values| values.into_iter().next())
                    .map(|(_, id)| id)
                    .ok_or_else(|| format!("no resource `{uri}`"))?;
                let data =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                ResourceContents::text(uri, "application/json", data.to_string())
            }
        };
        Ok(vec![contents])
    }

    fn prompts(&self) -> Vec<Prompt> {
        vec![
            Prompt::new("test_simple_prompt", "A simple prompt without arguments"),
            Prompt::new("test_prompt_with_arguments", "A prompt with arguments")
                .argument("arg1", "First test argument", true)
                .argument("arg2", "Second test argument", true),
            Prompt::new(
                "test_prompt_with_embedded_resource",
                "A prompt with a resource",
            )
            .argument("resourceUri", "URI of the resource to embed", true),
            Prompt::new("test_prompt_with_image", "A prompt with an image"),
            Prompt::new(
                "test_input_required_result_prompt",
                "Asks the user for context first (`user_context`)",
            ),
        ]
    }

    async fn get_prompt(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        context: &ActionContext,
    ) -> Result<Vec<PromptMessage>, BoxError> {
        if name == "test_input_required_result_prompt" {
            let text = mrtr::prompt_context(context).await?;
            return Ok(vec![PromptMessage::new(
                Role::User,
                ContentBlock::text(format!("Write with this context: {text}")),
            )]);
        }
        let argument = |key: &str| {
            arguments
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let user = |content| PromptMessage::new(Role::User, content);
        Ok(match name {
            "test_simple_prompt" => {
                vec![user(ContentBlock::text(
                    "This is a simple prompt for testing.",
                ))]
            }
            "test_prompt_with_arguments" => vec![user(ContentBlock::text(format!(
                "Prompt with arguments: arg1='{}', arg2='{}'",
                argument("arg1"),
                argument("arg2")
            )))],
            "test_prompt_with_embedded_resource" => vec![
                user(ContentBlock::resource(ResourceContents::text(
                    argument("resourceUri"),
                    "text/plain",
                    "Embedded resource content for testing.",
                ))),
                user(ContentBlock::text(
                    "Please process the embedded resource above.",
                )),
            ],
            "test_prompt_with_image" => vec![
                user(ContentBlock::image(&PNG, "image/png")),
                user(ContentBlock::text("Please analyze the image above.")),
            ],
            other => return Err(format!("no prompt `{other}`").into()),
        })
    }

    async fn complete(
        &self,
        _target: &CompletionTarget,
        _argument: &str,
        value: &str,
    ) -> Result<Vec<String>, BoxError> {
        Ok(["paris", "park", "party"]
            .into_iter()
            .filter(|word| word.starts_with(value))
            .map(str::to_owned)
            .collect())
    }
}

/// A form elicitation whose answer the tool reports.
async fn ask(
    context: &integrations_core::integration::ActionContext,
    message: &str,
    schema: Value,
) -> ActionResult {
    let request = Elicitation::Form {
        message: message.to_owned(),
        schema,
    };
    match context.elicit(request).await {
        Ok(answer) => ActionResult::ok(json!(elicitation_answer("Elicitation completed", &answer))),
        Err(error) => ActionResult::error(error.to_string()),
    }
}
