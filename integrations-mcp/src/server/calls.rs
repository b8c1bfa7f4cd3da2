//! The bridge's `tools/call`: an integration's action dispatched through
//! the runtime, with its rounds of questions on 2026-07-28 (answers sealed
//! in `requestState`).

#![allow(deprecated)] // logging from servers: see handler.rs

use std::sync::{Arc, Mutex};

use integrations_core::integration::ActionContext;
use integrations_core::{ActionResult, Error as CoreError};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, InputRequest, InputRequiredResult,
    SealOptions,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};

use super::handler::{failed, logging_level};
use super::peer::{BridgePeer, Rounds};
use super::{Bridge, wire};

fn render(output: &Value) -> String {
    match output {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Questions one call may ask its client (2026-07-28 rounds).
const MAX_ROUNDS: usize = 16;

/// How long the state of a round stays good.
const ROUND_STATE_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// What a round's state is sealed to: the tool and its arguments (JSON
/// objects serialise with sorted keys, so a retry binds the same).
fn round_binding(request: &CallToolRequestParams) -> Vec<u8> {
    let arguments = serde_json::to_vec(&request.arguments).unwrap_or_default();
    [request.name.as_bytes(), b"\0", &arguments].concat()
}

fn no_state_key() -> ErrorData {
    ErrorData::internal_error(
        "the bridge has no key for request state: give it one with `request_state_key`",
        None,
    )
}

impl Bridge {
    /// The rounds of a 2026-07-28 call so far: the answers sealed in its
    /// `requestState` (refused with -32602 when tampered with, expired or
    /// sealed for another call), and this round's answer to the question
    /// that ended the last one.
    fn rounds_of(&self, request: &CallToolRequestParams) -> Result<Rounds, ErrorData> {
        let mut answers: Vec<Value> = match &request.request_state {
            None => Vec::new(),
            Some(state) => {
                let states = self.states.as_ref().ok_or_else(no_state_key)?;
                states
                    .open_json_with(state, &round_binding(request))
                    .map_err(|_| {
                        ErrorData::invalid_params(
                            "requestState is not one this bridge sealed for this call, or it expired",
                            None,
                        )
                    })?
            }
        };
        let next = format!("q{}", answers.len());
        if let Some(answer) = request
            .input_responses
            .as_ref()
            .and_then(|answers| answers.get(&next))
        {
            answers.push(answer.clone());
        }
        if answers.len() > MAX_ROUNDS {
            return Err(ErrorData::invalid_params(
                format!("a call may ask its client at most {MAX_ROUNDS} times"),
                None,
            ));
        }
        Ok(Rounds::new(answers))
    }

    /// The `InputRequiredResult` that asks question `index` and carries the
    /// answers so far, sealed.
    fn next_round(
        &self,
        request: &CallToolRequestParams,
        answers: &[Value],
        index: usize,
        asked: Value,
    ) -> Result<CallToolResponse, ErrorData> {
        let states = self.states.as_ref().ok_or_else(no_state_key)?;
        let binding = round_binding(request);
        let options = SealOptions::new()
            .associated_data(&binding)
            .ttl(ROUND_STATE_TTL);
        let state = states
            .seal_json_with(&answers, &options)
            .map_err(|e| failed("the request state could not be sealed", e))?;
        let asked: InputRequest = serde_json::from_value(asked)
            .map_err(|e| failed("the question could not be encoded", e))?;
        let asked = [(format!("q{index}"), asked)].into_iter().collect();
        Ok(InputRequiredResult::new(Some(asked), Some(state)).into())
    }

    /// Serves one `tools/call` (in its span).
    pub(super) async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(toolbox) = &self.toolbox
            && let Some(result) = super::toolbox::call(toolbox, &request, &context.ct).await
        {
            return Ok(result?.into());
        }
        let Some(target) = self.target(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        let modern = context
            .meta
            .protocol_version()
            .is_some_and(|version| !version.has_initialize());
        let rounds = if modern {
            Some(Arc::new(self.rounds_of(&request)?))
        } else {
            None
        };
        let level = if modern {
            context
                .meta
                .log_level()
                .map(|level| Arc::new(Mutex::new(logging_level(&level))))
        } else {
            Some(Arc::clone(&self.session.level))
        };
        let peer = BridgePeer {
            peer: context.peer.clone(),
            progress: context.meta.get_progress_token(),
            level,
            logger: target.split('.').next().unwrap_or_default().to_owned(),
            capabilities: super::peer::declared(&context.peer, &context.meta),
            rounds: rounds.clone(),
        };
        let action_context = ActionContext::new(Arc::new(peer), context.ct.clone());
        let result = match self
            .runtime
            .dispatch_with(&target, arguments, action_context)
            .await
        {
            Ok(result) => result,
            // The caller's mistakes are protocol errors...
            Err(error @ CoreError::Registry(_)) => {
                return Err(ErrorData::invalid_params(error.to_string(), None));
            }
            // ...the integration's failures are tool errors the agent sees.
            Err(error) => ActionResult::error(error.to_string()),
        };
        // On 2026-07-28 a call that failed for want of a capability the
        // request did not declare is -32021, naming it (HTTP 400).
        if result.is_error
            && let Some(missing) = rounds.as_ref().and_then(|rounds| rounds.missing())
            && let Ok(required) = serde_json::from_value(missing)
        {
            return Err(ErrorData::missing_required_client_capability(required));
        }
        if let Some((index, asked)) = rounds.as_ref().and_then(|rounds| rounds.asked()) {
            let rounds = rounds.as_deref().unwrap_or_else(|| unreachable!("asked"));
            return self.next_round(&request, rounds.answers(), index, asked);
        }
        let content: Vec<Value> = if result.content.is_empty() {
            vec![json!({"type": "text", "text": render(&result.output)})]
        } else {
            result.content.iter().map(wire::content).collect()
        };
        let mut reply = json!({"content": content, "isError": result.is_error});
        if let Some(structured) = result.structured {
            reply["structuredContent"] = structured;
        }
        Ok(wire::result::<CallToolResult>(reply)?.into())
    }
}
