//! The demo server's tasks (the tasks extension of 2026-07-28): `long`
//! runs as a task for clients that declare the extension, and may first
//! ask "Go on?".

use std::sync::Arc;
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::{Value, json};

use super::Demo;

/// A task of the tasks extension: still working, or its result.
#[derive(Clone)]
pub(super) enum Work {
    /// Waits for the client to answer "Go on?" before working `ms`.
    Asking(u64),
    Working,
    Done(CallToolResult),
    Cancelled,
}

/// Now, as the tasks extension writes times (RFC 3339).
fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl Demo {
    /// Works task `id` for `ms`, then stores its result.
    fn work(&self, id: &str, ms: u64, note: String) {
        let tasks = Arc::clone(&self.tasks);
        let id = id.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let mut tasks = tasks.lock().unwrap();
            if let Some(work @ Work::Working) = tasks.get_mut(&id) {
                let done = format!("worked {ms} ms, as {id}{note}");
                *work = Work::Done(CallToolResult::success(vec![ContentBlock::text(done)]));
            }
        });
    }

    /// Starts a task of `ms` (asking first with `ask`).
    pub(super) fn start_task(&self, ms: u64, ask: bool) -> CallToolResponse {
        let id = format!("task-{}", self.tasks.lock().unwrap().len() + 1);
        let (status, work) = if ask {
            (rmcp::model::TaskStatus::InputRequired, Work::Asking(ms))
        } else {
            (rmcp::model::TaskStatus::Working, Work::Working)
        };
        self.tasks.lock().unwrap().insert(id.clone(), work);
        if !ask {
            self.work(&id, ms, String::new());
        }
        let task = rmcp::model::Task::new(id, status, now(), now()).with_poll_interval_ms(50);
        rmcp::model::CreateTaskResult::new(task).into()
    }

    /// Where task `id` stands.
    pub(super) fn task(&self, id: String) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        use rmcp::model::{DetailedTask, GetTaskResult, Task, TaskPayload, TaskStatus};
        let work = self.tasks.lock().unwrap().get(&id).cloned();
        let (status, payload) = match work {
            None => return Err(ErrorData::invalid_params("no such task", None)),
            Some(Work::Working) => (TaskStatus::Working, TaskPayload::Working),
            Some(Work::Asking(_)) => {
                let asked = json!({"go": {"method": "elicitation/create", "params": {
                    "mode": "form",
                    "message": "Go on?",
                    "requestedSchema": {"type": "object", "properties": {}},
                }}});
                let input_requests = serde_json::from_value(asked)
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                (
                    TaskStatus::InputRequired,
                    TaskPayload::InputRequired { input_requests },
                )
            }
            Some(Work::Cancelled) => (TaskStatus::Cancelled, TaskPayload::Cancelled),
            Some(Work::Done(result)) => (
                TaskStatus::Completed,
                TaskPayload::Completed {
                    result: serde_json::to_value(result)
                        .ok()
                        .and_then(|result| result.as_object().cloned())
                        .unwrap_or_default(),
                },
            ),
        };
        let task = Task::new(id, status, now(), now()).with_poll_interval_ms(50);
        Ok(GetTaskResult::new(DetailedTask::new(task, payload)))
    }

    /// Takes the client's answer to a task's question, and goes on.
    pub(super) fn answer_task(
        &self,
        request: &rmcp::model::UpdateTaskParams,
    ) -> Result<(), ErrorData> {
        let Some(answer) = request.input_responses.get("go") else {
            return Err(ErrorData::invalid_params("answer `go`", None));
        };
        let action = answer
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let ms = match self.tasks.lock().unwrap().get_mut(&request.task_id) {
            Some(work) => match *work {
                Work::Asking(ms) => {
                    *work = Work::Working;
                    ms
                }
                _ => return Err(ErrorData::invalid_params("the task asks nothing", None)),
            },
            None => return Err(ErrorData::invalid_params("no such task", None)),
        };
        self.work(&request.task_id, ms, format!(", answered {action}"));
        Ok(())
    }

    /// Cancels task `id` if it has not ended.
    pub(super) fn cancel_work(&self, id: &str) {
        let mut tasks = self.tasks.lock().unwrap();
        if let Some(work @ (Work::Working | Work::Asking(_))) = tasks.get_mut(id) {
            *work = Work::Cancelled;
            self.stats.lock().unwrap().tasks_cancelled += 1;
        }
    }
}
