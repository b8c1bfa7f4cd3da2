//! The core's content, resources and prompts as MCP's JSON, read into
//! rmcp's types through serde (which keeps this independent of rmcp's
//! constructors).

use integrations_core::integration::content::{
    ContentBlock, Prompt, PromptMessage, Resource, ResourceBody, ResourceContents,
    ResourceTemplate, Role,
};
use integrations_core::{ActionResult, Error as CoreError};
use rmcp::ErrorData;
use rmcp::model::CallToolResult;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Reads MCP JSON into an rmcp type; a mismatch is the server's fault.
pub(super) fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|e| {
        ErrorData::internal_error(format!("the bridge built a bad message: {e}"), None)
    })
}

/// Reads a result the bridge built: marked `"resultType": "complete"`, as
/// 2026-07-28 requires of every result and rmcp's own constructors do in
/// both revisions.
pub(super) fn result<T: DeserializeOwned>(mut value: Value) -> Result<T, ErrorData> {
    if let Value::Object(object) = &mut value {
        object
            .entry("resultType")
            .or_insert_with(|| Value::String("complete".into()));
    }
    parse(value)
}

fn insert_some(object: &mut Map<String, Value>, key: &str, value: Option<&String>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), json!(value));
    }
}

pub(super) fn contents(contents: &ResourceContents) -> Value {
    let mut object = Map::new();
    object.insert("uri".into(), json!(contents.uri));
    insert_some(&mut object, "mimeType", contents.mime_type.as_ref());
    match &contents.body {
        ResourceBody::Text(text) => object.insert("text".into(), json!(text)),
        ResourceBody::Blob(blob) => object.insert("blob".into(), json!(blob)),
        _ => object.insert("text".into(), json!("")),
    };
    Value::Object(object)
}

pub(super) fn resource(resource: &Resource) -> Value {
    let mut object = Map::new();
    object.insert("uri".into(), json!(resource.uri));
    object.insert("name".into(), json!(resource.name));
    insert_some(&mut object, "description", resource.description.as_ref());
    insert_some(&mut object, "mimeType", resource.mime_type.as_ref());
    Value::Object(object)
}

pub(super) fn template(template: &ResourceTemplate) -> Value {
    let mut object = Map::new();
    object.insert("uriTemplate".into(), json!(template.uri_template));
    object.insert("name".into(), json!(template.name));
    insert_some(&mut object, "description", template.description.as_ref());
    insert_some(&mut object, "mimeType", template.mime_type.as_ref());
    Value::Object(object)
}

pub(super) fn content(content: &ContentBlock) -> Value {
    match content {
        ContentBlock::Text { text } => json!({"type": "text", "text": text}),
        ContentBlock::Image { data, mime_type } => {
            json!({"type": "image", "data": data, "mimeType": mime_type})
        }
        ContentBlock::Audio { data, mime_type } => {
            json!({"type": "audio", "data": data, "mimeType": mime_type})
        }
        ContentBlock::Resource { resource } => {
            json!({"type": "resource", "resource": contents(resource)})
        }
        ContentBlock::ResourceLink { resource: link } => {
            let mut object = resource(link);
            object["type"] = json!("resource_link");
            object
        }
        other => json!({"type": "text", "text": format!("{other:?}")}),
    }
}

pub(super) fn prompt(prompt: &Prompt) -> Value {
    let arguments: Vec<Value> = prompt
        .arguments
        .iter()
        .map(|argument| {
            let mut object = Map::new();
            object.insert("name".into(), json!(argument.name));
            insert_some(&mut object, "description", argument.description.as_ref());
            object.insert("required".into(), json!(argument.required));
            Value::Object(object)
        })
        .collect();
    let mut object = Map::new();
    object.insert("name".into(), json!(prompt.name));
    insert_some(&mut object, "description", prompt.description.as_ref());
    object.insert("arguments".into(), Value::Array(arguments));
    Value::Object(object)
}

pub(super) fn role(role: Role) -> &'static str {
    match role {
        Role::Assistant => "assistant",
        _ => "user",
    }
}

pub(super) fn message(message: &PromptMessage) -> Value {
    json!({"role": role(message.role), "content": content(&message.content)})
}

/// An action's output as the text of a result: a string as it is, other
/// JSON as JSON.
fn text(output: &Value) -> String {
    match output {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// What a call answers for how its action ended: the caller's mistakes
/// are protocol errors, the integration's failures tool errors the agent
/// sees.
pub(super) fn dispatched(
    result: Result<ActionResult, CoreError>,
) -> Result<ActionResult, ErrorData> {
    match result {
        Ok(result) => Ok(result),
        Err(error @ CoreError::Registry(_)) => {
            Err(ErrorData::invalid_params(error.to_string(), None))
        }
        Err(error) => Ok(ActionResult::error(error.to_string())),
    }
}

/// The `tools/call` result of an action's result.
pub(super) fn reply(action: ActionResult) -> Result<CallToolResult, ErrorData> {
    let content: Vec<Value> = if action.content.is_empty() {
        vec![json!({"type": "text", "text": text(&action.output)})]
    } else {
        action.content.iter().map(content).collect()
    };
    let mut reply = json!({"content": content, "isError": action.is_error});
    if let Some(structured) = action.structured {
        reply["structuredContent"] = structured;
    }
    result::<CallToolResult>(reply)
}

#[cfg(test)]
mod tests {
    use integrations_core::integration::content::{
        ContentBlock, Prompt, PromptMessage, Resource, ResourceContents, ResourceTemplate, Role,
    };
    use rmcp::model::{
        ContentBlock as McpBlock, ListPromptsResult, ListResourceTemplatesResult,
        ListResourcesResult, PromptMessage as McpMessage,
    };
    use serde_json::json;

    #[test]
    fn every_kind_of_content_reads_as_rmcps_and_keeps_its_fields() {
        let link = Resource::new("inbox://messages/1", "Message 1")
            .with_description("The first")
            .with_mime_type("text/plain");
        let blocks = [
            ContentBlock::text("hi"),
            ContentBlock::image(&[1, 2, 3], "image/png"),
            ContentBlock::audio(&[4, 5], "audio/wav"),
            ContentBlock::resource(ResourceContents::text("a://b", "text/plain", "body")),
            ContentBlock::resource(ResourceContents::blob("a://c", "image/png", &[9])),
            ContentBlock::link(link.clone()),
        ];
        for block in &blocks {
            let wire = super::content(block);
            let read: McpBlock = super::parse(wire.clone()).unwrap();
            assert_eq!(serde_json::to_value(&read).unwrap(), wire, "{block:?}");
        }
        let image = super::content(&blocks[1]);
        assert_eq!(image["data"], "AQID", "base64 of the bytes");

        let listed: ListResourcesResult =
            super::parse(json!({ "resources": [super::resource(&link)] })).unwrap();
        assert_eq!(listed.resources[0].uri, "inbox://messages/1");
        let templates: ListResourceTemplatesResult = super::parse(json!({
            "resourceTemplates": [super::template(&ResourceTemplate::new("inbox://messages/{id}", "Message"))]
        }))
        .unwrap();
        assert_eq!(
            templates.resource_templates[0].uri_template,
            "inbox://messages/{id}"
        );
        let prompts: ListPromptsResult = super::parse(json!({
            "prompts": [super::prompt(&Prompt::new("digest", "A digest").argument("day", "Which day", true))]
        }))
        .unwrap();
        assert_eq!(
            prompts.prompts[0].arguments.as_ref().unwrap()[0].required,
            Some(true)
        );
        let message: McpMessage = super::parse(super::message(&PromptMessage::new(
            Role::Assistant,
            ContentBlock::text("ok"),
        )))
        .unwrap();
        assert_eq!(serde_json::to_value(&message).unwrap()["role"], "assistant");
    }
}
