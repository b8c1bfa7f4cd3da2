//! A tenant's pooled tools through the bridge as two tools: search, and
//! call by name ([`Bridge::toolbox`](super::Bridge::toolbox)).

use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, ErrorData, Tool};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{CALL_TOOL, SEARCH_TOOLS};
use crate::client::{CallOptions, Toolbox};

/// Results of one search, at most.
const MAX_LIMIT: u64 = 20;
/// Results of one search when the agent does not say.
const DEFAULT_LIMIT: u64 = 8;

fn schema(schema: &Value) -> rmcp::model::JsonObject {
    schema.as_object().cloned().unwrap_or_default()
}

/// The two tools.
pub(super) fn tools() -> [Tool; 2] {
    [
        Tool::new(
            SEARCH_TOOLS,
            "Searches the tools available to you by what you want to do; answers the best \
             matches with their names, descriptions and input schemas. Call one with `call_tool`.",
            schema(&json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What you want to do, in words"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                              "description": "How many tools to answer (default 8)"}
                },
                "required": ["query"]
            })),
        ),
        Tool::new(
            CALL_TOOL,
            "Calls a tool found with `search_tools` by its name, with arguments that follow its \
             input schema.",
            schema(&json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The tool's name, as search_tools gave it"},
                    "arguments": {"type": "object", "description": "The tool's arguments"}
                },
                "required": ["name"]
            })),
        ),
    ]
}

/// Answers `request` if it is one of the two tools; `None` otherwise.
pub(super) async fn call(
    toolbox: &Toolbox,
    request: &CallToolRequestParams,
    cancel: &CancellationToken,
) -> Option<Result<CallToolResult, ErrorData>> {
    let arguments = request.arguments.clone().unwrap_or_default();
    match &*request.name {
        SEARCH_TOOLS => {
            let Some(query) = arguments.get("query").and_then(Value::as_str) else {
                return Some(Err(ErrorData::invalid_params(
                    "search_tools needs `query`, a string",
                    None,
                )));
            };
            let limit = arguments
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_LIMIT)
                .clamp(1, MAX_LIMIT);
            let found = toolbox
                .search(query, usize::try_from(limit).unwrap_or(1))
                .await;
            let tools: Vec<Value> = found
                .hits
                .iter()
                .map(|hit| {
                    json!({
                        "name": hit.tool.name,
                        "description": hit.tool.tool.description,
                        "inputSchema": hit.tool.tool.input_schema,
                    })
                })
                .collect();
            let unavailable: Vec<Value> = found
                .unavailable
                .iter()
                .map(|down| {
                    json!({"server": down.server, "state": down.health.state,
                           "error": down.error.to_string()})
                })
                .collect();
            let answer = json!({"tools": tools, "unavailable": unavailable});
            let mut result = CallToolResult::success(vec![ContentBlock::text(answer.to_string())]);
            result.structured_content = Some(answer);
            Some(Ok(result))
        }
        CALL_TOOL => {
            let Some(name) = arguments.get("name").and_then(Value::as_str) else {
                return Some(Err(ErrorData::invalid_params(
                    "call_tool needs `name`, a tool's name from search_tools",
                    None,
                )));
            };
            let inner = arguments.get("arguments").cloned().unwrap_or(Value::Null);
            let options = CallOptions::new().cancel(cancel.clone());
            Some(Ok(match toolbox.call_with(name, inner, options).await {
                Ok(result) => result,
                // The agent can read it and correct itself.
                Err(error) => CallToolResult::error(vec![ContentBlock::text(error.to_string())]),
            }))
        }
        _ => None,
    }
}
