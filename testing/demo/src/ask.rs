//! The demo's tools that ask the client mid-call: elicitation, sampling,
//! roots, in either revision.

use rmcp::ErrorData;
use rmcp::model::{CallToolRequestParams, CallToolResponse, InputRequest, InputRequiredResult};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Value, json};

use super::{is_modern, text};

/// Asks the client (`method` with `params`) and answers the call with the
/// client's answer as JSON text, or `... failed: why`. On a 2025-11-25
/// session that is a request of the server's own; on 2026-07-28 the call
/// is answered with an `InputRequiredResult` (asked only if the client
/// declared it can answer), and the retry carries the answer.
#[allow(deprecated)] // sampling and roots: see `hooks`
pub(super) async fn ask_client(
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
    method: &str,
    params: Value,
) -> Result<CallToolResponse, ErrorData> {
    let invalid = |e: serde_json::Error| ErrorData::internal_error(e.to_string(), None);
    let declared = context.meta.client_capabilities().unwrap_or_default();
    let (kind, can) = match method {
        "elicitation/create" => ("elicitation", declared.elicitation.is_some()),
        "sampling/createMessage" => ("sampling", declared.sampling.is_some()),
        _ => ("roots", declared.roots.is_some()),
    };
    let answer: Result<Value, String> = if is_modern(context) {
        if let Some(answer) = request
            .input_responses
            .as_ref()
            .and_then(|answers| answers.get("answer"))
        {
            Ok(answer.clone())
        } else {
            if !can {
                return text(format!("{kind} failed: the client declared no {kind}"));
            }
            let asked: InputRequest =
                serde_json::from_value(json!({"method": method, "params": params}))
                    .map_err(invalid)?;
            let asked = [("answer".to_owned(), asked)].into_iter().collect();
            return Ok(InputRequiredResult::new(Some(asked), None).into());
        }
    } else {
        let peer = &context.peer;
        let answered = match method {
            "elicitation/create" => peer
                .create_elicitation(serde_json::from_value(params).map_err(invalid)?)
                .await
                .map(|answer| serde_json::to_value(answer).unwrap_or_default()),
            "sampling/createMessage" => peer
                .create_message(serde_json::from_value(params).map_err(invalid)?)
                .await
                .map(|answer| serde_json::to_value(answer).unwrap_or_default()),
            _ => peer
                .list_roots()
                .await
                .map(|answer| serde_json::to_value(answer).unwrap_or_default()),
        };
        answered.map_err(|error| error.to_string())
    };
    match answer {
        Ok(answer) => text(answer.to_string()),
        Err(error) => text(format!("{kind} failed: {error}")),
    }
}
