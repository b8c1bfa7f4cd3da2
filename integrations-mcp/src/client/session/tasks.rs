//! The Tasks extension of MCP 2026-07-28 (`io.modelcontextprotocol/tasks`):
//! a server may answer a `tools/call` with a task instead of a result; the
//! session polls `tasks/get` at the interval the server asks (50 ms to
//! 5 s) until the task ends, answers its input requests through the hooks
//! (`tasks/update`), and cancels it (`tasks/cancel`) when the call is given
//! up (timeout, cancellation): to its caller the call is an ordinary one.

use std::time::Duration;

use rmcp::ServiceError;
use rmcp::model::{
    CallToolResult, CancelTaskParams, CreateTaskResult, ErrorData, GetTaskParams, TaskPayload,
    UpdateTaskParams,
};
use tokio_util::task::TaskTracker;

use super::Session;

/// Cancels a task at the server if its call is given up before it ends.
struct Abandoned {
    peer: rmcp::Peer<rmcp::RoleClient>,
    task: Option<String>,
    tasks: TaskTracker,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            let peer = self.peer.clone();
            self.tasks.spawn(async move {
                let cancel = peer.cancel_task(CancelTaskParams::new(task));
                let _ = tokio::time::timeout(Duration::from_secs(5), cancel).await;
            });
        }
    }
}

impl Session {
    /// The result of the call the server made `created`.
    pub(super) async fn task_result(
        &self,
        created: CreateTaskResult,
    ) -> Result<CallToolResult, ServiceError> {
        let task = created.task.task_id.clone();
        let mut abandoned = Abandoned {
            peer: self.peer.clone(),
            task: Some(task.clone()),
            tasks: self.tasks.clone(),
        };
        let mut interval = created.task.poll_interval_ms;
        loop {
            let wait = Duration::from_millis(interval.unwrap_or(250))
                .clamp(Duration::from_millis(50), Duration::from_secs(5));
            tokio::time::sleep(wait).await;
            let got = self.peer.get_task(GetTaskParams::new(task.clone())).await?;
            interval = got.task.task.poll_interval_ms.or(interval);
            match got.task.payload {
                TaskPayload::Completed { result } => {
                    abandoned.task = None;
                    return serde_json::from_value(serde_json::Value::Object(result))
                        .map_err(|_| ServiceError::UnexpectedResponse);
                }
                TaskPayload::Failed { error } => {
                    abandoned.task = None;
                    let error: ErrorData = serde_json::from_value(serde_json::Value::Object(error))
                        .map_err(|_| ServiceError::UnexpectedResponse)?;
                    return Err(ServiceError::McpError(error));
                }
                TaskPayload::Cancelled => {
                    abandoned.task = None;
                    return Err(ServiceError::Cancelled {
                        reason: Some("the server cancelled the task".into()),
                    });
                }
                TaskPayload::InputRequired { input_requests } => {
                    let answers = self
                        .client
                        .answer(input_requests)
                        .await
                        .map_err(ServiceError::McpError)?;
                    self.peer
                        .update_task(UpdateTaskParams::new(task.clone(), answers))
                        .await?;
                }
                _ => {}
            }
        }
    }
}
