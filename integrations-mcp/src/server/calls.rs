//! The bridge's `tools/call`: an integration's action dispatched through
//! the runtime, with its rounds of questions on 2026-07-28 (answers sealed
//! in `requestState`).

#![allow(deprecated)] // logging from servers: see handler.rs

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use integrations_core::ActionResult;
use integrations_core::integration::ActionContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, InputRequest, InputRequiredResult, InputResponses,
    JsonObject, SealOptions,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::Value;

use super::handler::failed;
use super::peer::{BridgePeer, Rounds};
use super::tasks::{Inline, TaskRoute};
use super::{Bridge, wire};

/// Questions one call may ask its client (2026-07-28 rounds), and
/// answers a round may bring.
const MAX_QUESTIONS: usize = 16;

/// How long the state of a round stays good.
const ROUND_STATE_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// One request of a 2026-07-28 client that may take rounds (`tools/call`,
/// `prompts/get`): what its state is sealed to, the state it brought back
/// and its answers.
pub(super) struct Round<'a> {
    /// The method, the name and the arguments (JSON objects serialise with
    /// sorted keys, so a retry binds the same).
    binding: Vec<u8>,
    state: Option<&'a str>,
    responses: Option<&'a InputResponses>,
}

impl<'a> Round<'a> {
    pub(super) fn new(
        method: &str,
        name: &str,
        arguments: Option<&JsonObject>,
        state: Option<&'a str>,
        responses: Option<&'a InputResponses>,
    ) -> Self {
        let arguments = serde_json::to_vec(&arguments).unwrap_or_default();
        let binding = [method.as_bytes(), b"\0", name.as_bytes(), b"\0", &arguments].concat();
        Self {
            binding,
            state,
            responses,
        }
    }
}

fn no_state_key() -> ErrorData {
    ErrorData::internal_error(
        "the bridge has no key for request state: give it one with `request_state_key`",
        None,
    )
}

impl Bridge {
    /// The rounds of a 2026-07-28 request so far: the answers sealed in
    /// its `requestState` (refused with -32602 when tampered with, expired
    /// or sealed for another request), and this round's `inputResponses`
    /// (keys the action does not ask for are ignored, and not kept).
    pub(super) fn rounds_of(&self, round: &Round<'_>) -> Result<Rounds, ErrorData> {
        let mut answers: BTreeMap<String, Value> = match round.state {
            None => BTreeMap::new(),
            Some(state) => {
                let states = self.states.as_ref().ok_or_else(no_state_key)?;
                states.open_json_with(state, &round.binding).map_err(|_| {
                    ErrorData::invalid_params(
                        "requestState is not one this bridge sealed for this call, or it expired",
                        None,
                    )
                })?
            }
        };
        let given = round.responses.into_iter().flatten();
        for (key, answer) in given.take(MAX_QUESTIONS) {
            answers.insert(key.clone(), answer.clone());
        }
        Ok(Rounds::new(answers))
    }

    /// The `InputRequiredResult` that asks this round's questions and
    /// carries the answers the action read so far, sealed; `None` when
    /// the action asked nothing.
    pub(super) fn next_round(
        &self,
        round: &Round<'_>,
        rounds: Option<&Rounds>,
    ) -> Result<Option<InputRequiredResult>, ErrorData> {
        let Some(rounds) = rounds else {
            return Ok(None);
        };
        let (answers, asked) = (rounds.used(), rounds.asked());
        if asked.is_empty() {
            return Ok(None);
        }
        if answers.len() + asked.len() > MAX_QUESTIONS {
            return Err(ErrorData::invalid_params(
                format!("a call may ask its client at most {MAX_QUESTIONS} questions"),
                None,
            ));
        }
        let states = self.states.as_ref().ok_or_else(no_state_key)?;
        let options = SealOptions::new()
            .associated_data(&round.binding)
            .ttl(ROUND_STATE_TTL);
        let state = states
            .seal_json_with(&answers, &options)
            .map_err(|e| failed("the request state could not be sealed", e))?;
        let asked = asked
            .into_iter()
            .map(|(key, asked)| {
                let asked: InputRequest = serde_json::from_value(asked)
                    .map_err(|e| failed("the question could not be encoded", e))?;
                Ok((key, asked))
            })
            .collect::<Result<_, ErrorData>>()?;
        Ok(Some(InputRequiredResult::new(Some(asked), Some(state))))
    }

    /// The caller of an action (or a prompt) of `integration`, as the
    /// [`ActionContext`] reaches it: on 2026-07-28 its questions go into
    /// `rounds`.
    pub(super) fn peer_of(
        &self,
        context: &RequestContext<RoleServer>,
        integration: &str,
        rounds: Option<&Arc<Rounds>>,
    ) -> BridgePeer {
        let level = match rounds {
            Some(_) => context
                .meta
                .log_level()
                .map(|level| Arc::new(Mutex::new(crate::level::from_mcp(&level)))),
            None => Some(Arc::clone(&self.session.level)),
        };
        BridgePeer {
            peer: context.peer.clone(),
            progress: context.meta.get_progress_token(),
            level,
            logger: integration.to_owned(),
            capabilities: super::peer::declared(&context.peer, &context.meta),
            rounds: rounds.cloned(),
            task: Arc::default(),
            asked: Default::default(),
        }
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
        let round = Round::new(
            "tools/call",
            &request.name,
            request.arguments.as_ref(),
            request.request_state.as_deref(),
            request.input_responses.as_ref(),
        );
        let integration = target.split('.').next().unwrap_or_default();
        let route = self.task_route(&target, modern, &context)?;
        if route == TaskRoute::Now {
            let peer = self.peer_of(&context, integration, None);
            return Ok(self.run_as_task(target, arguments, peer));
        }
        let rounds = if modern {
            Some(Arc::new(self.rounds_of(&round)?))
        } else {
            None
        };
        let peer = self.peer_of(&context, integration, rounds.as_ref());
        let result = if route == TaskRoute::AfterInput {
            match self
                .input_then_task(target, arguments, peer, &context.ct)
                .await?
            {
                Inline::Done(result) => result,
                Inline::Task(task) => return Ok(task),
            }
        } else {
            let action_context = ActionContext::new(Arc::new(peer), context.ct.clone());
            self.dispatch(&target, arguments, action_context).await?
        };
        // Questions end the round, even after one the client could not
        // take (the action may ask another instead)...
        if let Some(next) = self.next_round(&round, rounds.as_deref())? {
            return Ok(next.into());
        }
        if let Some(rounds) = &rounds {
            // ...and a call that failed for want of a capability the
            // request did not declare is -32021, naming it (HTTP 400).
            if result.is_error
                && let Some(missing) = rounds.missing()
                && let Ok(required) = serde_json::from_value(missing)
            {
                return Err(ErrorData::missing_required_client_capability(required));
            }
        }
        Ok(wire::reply(result)?.into())
    }

    /// Runs the action: the caller's mistakes are protocol errors, the
    /// integration's failures tool errors the agent sees.
    async fn dispatch(
        &self,
        target: &str,
        arguments: Value,
        context: ActionContext,
    ) -> Result<ActionResult, ErrorData> {
        wire::dispatched(self.runtime.dispatch_with(target, arguments, context).await)
    }
}
