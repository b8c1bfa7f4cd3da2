//! Long actions as tasks (the Tasks extension, SEP-2663): made at once, or
//! after the action gathered its input by rounds
//! ([`Capability::input_first`](integrations_core::Capability::input_first),
//! SEP-2663's MRTR → Tasks composition).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use integrations_core::error::RuntimeError;
use integrations_core::integration::{ActionContext, TaskSupport};
use integrations_core::{ActionResult, Error as CoreError};
use rmcp::model::{CallToolResponse, CallToolResult, CreateTaskResult};
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskContext, TaskExit, TaskOptions};
use rmcp::{ErrorData, RoleServer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Bridge;
use super::peer::BridgePeer;
use super::wire::{dispatched, reply};

/// How long an action that gathers its input first runs in the request
/// before the call becomes a task.
const INPUT_WINDOW: Duration = Duration::from_millis(100);

/// Where a call's action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskRoute {
    /// In the request, as any action.
    Never,
    /// In a task made at once.
    Now,
    /// In the request while it gathers its input, then in a task.
    AfterInput,
}

/// How an action that gathers its input first went in the request.
pub(super) enum Inline {
    /// It finished, or asked (the round's questions are in its rounds).
    Done(ActionResult),
    /// It went on in a task: the call's answer.
    Task(CallToolResponse),
}

/// An action of a call, started or about to be.
struct Started {
    /// Its dispatch target (`integration.action`).
    target: String,
    running: Pin<Box<dyn Future<Output = Result<ActionResult, CoreError>> + Send>>,
    /// Cancels its context.
    cancel: CancellationToken,
    /// Set when it runs as a task.
    slot: Arc<std::sync::OnceLock<TaskContext>>,
}

/// The error of a request that needs the Tasks extension its client did
/// not declare (-32021, naming it).
pub(super) fn tasks_missing() -> ErrorData {
    let required = serde_json::json!({"extensions": {rmcp::model::TASKS_EXTENSION_ID: {}}});
    match serde_json::from_value(required) {
        Ok(required) => ErrorData::missing_required_client_capability(required),
        Err(e) => super::handler::failed("the tasks capability could not be encoded", e),
    }
}

impl Bridge {
    /// Where the action of `target` runs for this request; an action that
    /// runs only as a task refuses a client that cannot poll one.
    pub(super) fn task_route(
        &self,
        target: &str,
        modern: bool,
        context: &RequestContext<RoleServer>,
    ) -> Result<TaskRoute, ErrorData> {
        let (tasks, input_first) = self.tasks_of(target);
        if tasks == TaskSupport::Never {
            return Ok(TaskRoute::Never);
        }
        let declared = super::peer::declared(&context.peer, &context.meta);
        if modern && declared["extensions"][rmcp::model::TASKS_EXTENSION_ID].is_object() {
            return Ok(if input_first {
                TaskRoute::AfterInput
            } else {
                TaskRoute::Now
            });
        }
        if tasks == TaskSupport::Required {
            return Err(tasks_missing());
        }
        Ok(TaskRoute::Never)
    }

    /// Runs a long action as a task (the Tasks extension): the client polls
    /// `tasks/get`, answers the action's questions with `tasks/update`, and
    /// may `tasks/cancel` it (the action's context is then cancelled).
    pub(super) fn run_as_task(
        &self,
        target: String,
        arguments: Value,
        peer: BridgePeer,
    ) -> CallToolResponse {
        self.spawn_task(self.action(target, arguments, peer))
    }

    /// Runs an action that gathers its input first in the request, for at
    /// most [`INPUT_WINDOW`]: what it did if it finished or asked by then
    /// (its questions go by rounds), else the task it goes on in.
    pub(super) async fn input_then_task(
        &self,
        target: String,
        arguments: Value,
        peer: BridgePeer,
        request: &CancellationToken,
    ) -> Result<Inline, ErrorData> {
        let mut action = self.action(target, arguments, peer);
        tokio::select! {
            result = &mut action.running => return Ok(Inline::Done(dispatched(result)?)),
            () = request.cancelled() => {
                action.cancel.cancel();
                return Ok(Inline::Done(dispatched(action.running.await)?));
            }
            () = tokio::time::sleep(INPUT_WINDOW) => {}
        }
        Ok(Inline::Task(self.spawn_task(action)))
    }

    /// The action of `target`, not yet run, with a token of its own: the
    /// request's ends with its answer, which must not stop a task.
    fn action(&self, target: String, arguments: Value, peer: BridgePeer) -> Started {
        let slot = Arc::clone(&peer.task);
        let cancel = CancellationToken::new();
        let context = ActionContext::new(Arc::new(peer), cancel.clone());
        let runtime = Arc::clone(&self.runtime);
        let named = target.clone();
        let running =
            Box::pin(async move { runtime.dispatch_with(&named, arguments, context).await });
        Started {
            target,
            running,
            cancel,
            slot,
        }
    }

    /// Makes a task of `action` (not polled again until the task tells the
    /// action's caller, through its slot, that it is one), in a span that
    /// continues the request's trace.
    fn spawn_task(&self, action: Started) -> CallToolResponse {
        let Started {
            target,
            running,
            cancel,
            slot,
        } = action;
        let request = tracing::Span::current();
        let replica = self.tasks.replica.clone();
        let mut task = self.tasks.manager.spawn(TaskOptions::new(), move |task| {
            let id = super::task_id(replica.as_ref(), task.task_id().to_owned());
            let span = crate::trace::task(&request, &target, &id);
            Box::pin(
                async move {
                    let _ = slot.set(task.clone());
                    tokio::select! {
                        result = running => task_outcome(result),
                        () = task.cancelled() => {
                            cancel.cancel();
                            Err(TaskExit::Cancelled)
                        }
                    }
                }
                .instrument(span),
            )
        });
        task.task_id = self.tasks.outside(task.task_id);
        CallToolResponse::Task(CreateTaskResult::new(task))
    }
}

/// How a task's action ended: as a call's would
/// ([`dispatched`]: a failure the integration reported is a tool error,
/// `completed` with `isError`; refused arguments a protocol error,
/// `failed`), except that a panic is a protocol error too.
fn task_outcome(result: Result<ActionResult, CoreError>) -> Result<CallToolResult, TaskExit> {
    if let Err(error @ CoreError::Runtime(RuntimeError::Panicked { .. })) = &result {
        return Err(ErrorData::internal_error(error.to_string(), None).into());
    }
    Ok(reply(dispatched(result)?)?)
}
