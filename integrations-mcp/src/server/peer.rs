//! An action's caller when it is an MCP client of the bridge: progress,
//! log messages, sampling and elicitation go to the client.

// rmcp 3.11 marks logging, sampling and elicitation from servers as
// deprecated (SEP-2577, for protocol 2026-07-28); the protocol this bridge
// speaks (2025-11-25) has them, and clients use them.
#![allow(deprecated)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use integrations_core::error::RuntimeError;
use integrations_core::integration::{
    ActionPeer, Answer, Answers, Elicitation, ElicitationAction, ElicitationResponse, LogLevel,
    Question, Questions, Root, SamplingRequest, SamplingResponse,
};
use integrations_core::{Error as CoreError, async_trait};
use rmcp::model::ProgressToken;
use rmcp::{Peer, RoleServer};
use serde_json::{Value, json};

use super::wire;

/// The client of one bridge session, seen from one tool call.
pub(super) struct BridgePeer {
    pub(super) peer: Peer<RoleServer>,
    /// The call's `_meta.progressToken`: progress is sent only with one.
    pub(super) progress: Option<ProgressToken>,
    /// The session's `logging/setLevel`; on 2026-07-28 the request's
    /// `_meta` log level, and `None` (no logs) when it names none.
    pub(super) level: Option<Arc<Mutex<LogLevel>>>,
    /// Names the integration in log messages.
    pub(super) logger: String,
    /// The client's declared capabilities, as MCP JSON.
    pub(super) capabilities: Value,
    /// On 2026-07-28, where questions go (the call is answered with an
    /// `InputRequiredResult`); `None` on a 2025-11-25 session, where they
    /// are requests of the server's own.
    pub(super) rounds: Option<Arc<Rounds>>,
    /// Set once the action runs as a task: its questions are then the
    /// task's input requests, its progress the task's status message, and
    /// its log messages go nowhere (the request is answered).
    pub(super) task: Arc<std::sync::OnceLock<rmcp::task_manager::TaskContext>>,
    /// How many questions the task asked (their keys: `q0`, `q1`, ...).
    pub(super) asked: Arc<std::sync::atomic::AtomicUsize>,
}

/// The rounds of one 2026-07-28 call (MRTR): the answers the client gave,
/// by key (from the sealed `requestState` and this round's
/// `inputResponses`); the action runs again from the start each round, and
/// the first questions it cannot answer from them end the round.
#[derive(Debug, Default)]
pub(super) struct Rounds {
    answers: BTreeMap<String, Value>,
    /// The number of the next question asked without a key (`q0`, ...).
    next: std::sync::atomic::AtomicUsize,
    /// The answers the action read: what the next round's state carries.
    used: Mutex<BTreeMap<String, Value>>,
    /// The questions that ended this round (`{"method", "params"}`), by key.
    asked: Mutex<BTreeMap<String, Value>>,
    /// A client capability the action needed and the request's `_meta`
    /// did not declare (as MCP JSON, e.g. `{"sampling": {}}`).
    missing: Mutex<Option<Value>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rounds {
    pub(super) fn new(answers: BTreeMap<String, Value>) -> Self {
        Self {
            answers,
            ..Self::default()
        }
    }

    /// The answers the action read.
    pub(super) fn used(&self) -> BTreeMap<String, Value> {
        lock(&self.used).clone()
    }

    /// The questions this round could not answer, by key (none when the
    /// action did not stop for one).
    pub(super) fn asked(&self) -> BTreeMap<String, Value> {
        lock(&self.asked).clone()
    }

    /// The client capability the action needed and was not declared, if
    /// any: the call is then answered with -32021 when the action failed.
    pub(super) fn missing(&self) -> Option<Value> {
        lock(&self.missing).clone()
    }

    /// The key of a question asked without one.
    fn key(&self) -> String {
        let index = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("q{index}")
    }

    /// The answers to `questions` (key, method, params), in order; or,
    /// when some are unanswered, the end of the round, which asks them all
    /// at once. An answer that is not one to its method (a number for an
    /// elicitation, say) counts as none: the question is asked again.
    fn ask(&self, questions: Vec<(String, &'static str, Value)>) -> Result<Vec<Value>, CoreError> {
        let mut found = Vec::with_capacity(questions.len());
        let mut pending = BTreeMap::new();
        for (key, method, params) in questions {
            match self
                .answers
                .get(&key)
                .filter(|answer| answers(method, answer))
            {
                Some(answer) => {
                    lock(&self.used).insert(key, answer.clone());
                    found.push(answer.clone());
                }
                None => {
                    pending.insert(key, json!({"method": method, "params": params}));
                }
            }
        }
        if pending.is_empty() {
            return Ok(found);
        }
        let mut asked = lock(&self.asked);
        if asked.is_empty() {
            *asked = pending;
        }
        Err(BridgePeer::unavailable(
            "requests to the caller",
            "the MCP client answers on the call's next round (MCP 2026-07-28)",
        ))
    }
}

/// Whether `answer` has the shape of an answer to `method`.
fn answers(method: &str, answer: &Value) -> bool {
    match method {
        "elicitation/create" => answer["action"].is_string(),
        "sampling/createMessage" => answer.get("content").is_some_and(|c| !c.is_null()),
        "roots/list" => answer["roots"].is_array(),
        _ => false,
    }
}

impl fmt::Debug for BridgePeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgePeer")
            .field("logger", &self.logger)
            .finish_non_exhaustive()
    }
}

/// What a client declared, as MCP JSON: in the handshake (2025-11-25), or
/// in the request's `_meta` (2026-07-28).
pub(super) fn declared(peer: &Peer<RoleServer>, meta: &rmcp::model::RequestMetaObject) -> Value {
    let declared = match meta.client_capabilities() {
        Some(capabilities) => serde_json::to_value(&capabilities).ok(),
        None => peer
            .peer_info()
            .and_then(|info| serde_json::to_value(&info.capabilities).ok()),
    };
    declared.unwrap_or_default()
}

impl BridgePeer {
    /// The action needs `capability` (MCP JSON, e.g. `{"sampling": {}}`),
    /// which the client did not declare: on 2026-07-28 it is remembered so
    /// a failed call says so (-32021).
    fn undeclared(&self, request: &'static str, capability: Value, reason: &str) -> CoreError {
        if let Some(rounds) = &self.rounds {
            rounds
                .missing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(capability);
        }
        Self::unavailable(request, reason)
    }

    fn unavailable(request: &'static str, reason: &str) -> CoreError {
        RuntimeError::NotAvailable {
            request,
            reason: reason.to_owned(),
        }
        .into()
    }

    fn failed(request: &'static str, error: impl fmt::Display) -> CoreError {
        RuntimeError::CallerRequest {
            request,
            message: error.to_string(),
        }
        .into()
    }
}

fn level(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Notice => "notice",
        LogLevel::Warning => "warning",
        LogLevel::Error => "error",
        LogLevel::Critical => "critical",
        LogLevel::Alert => "alert",
        _ => "emergency",
    }
}

impl BridgePeer {
    /// The params of a `sampling/createMessage`, if the client can take it.
    fn sampling(&self, request: &SamplingRequest) -> Result<Value, CoreError> {
        if self.capabilities.get("sampling").is_none() {
            return Err(self.undeclared(
                "sampling",
                json!({"sampling": {}}),
                "the MCP client did not declare the sampling capability",
            ));
        }
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|(role, text)| {
                json!({"role": wire::role(*role), "content": {"type": "text", "text": text}})
            })
            .collect();
        let mut params = json!({"messages": messages, "maxTokens": request.max_tokens});
        if let Some(system) = &request.system_prompt {
            params["systemPrompt"] = json!(system);
        }
        Ok(params)
    }

    /// The params of an `elicitation/create`, if the client can take it.
    fn elicitation(&self, request: &Elicitation) -> Result<Value, CoreError> {
        let Some(modes) = self.capabilities.get("elicitation") else {
            return Err(self.undeclared(
                "elicitation",
                json!({"elicitation": {}}),
                "the MCP client did not declare the elicitation capability",
            ));
        };
        match request {
            Elicitation::Form { message, schema } => {
                Ok(json!({"mode": "form", "message": message, "requestedSchema": schema}))
            }
            // An empty capability object means form only.
            Elicitation::Url { .. } if modes.get("url").is_none() => Err(self.undeclared(
                "elicitation",
                json!({"elicitation": {"url": {}}}),
                "the MCP client does not support URL elicitation",
            )),
            Elicitation::Url { message, url, id } => {
                Ok(json!({"mode": "url", "message": message, "url": url, "elicitationId": id}))
            }
            _ => Err(Self::unavailable(
                "elicitation",
                "an unknown kind of request",
            )),
        }
    }

    /// The params of a `roots/list`, if the client can take it.
    fn roots_request(&self) -> Result<Value, CoreError> {
        match self.capabilities.get("roots") {
            Some(_) => Ok(json!({})),
            None => Err(self.undeclared(
                "roots",
                json!({"roots": {}}),
                "the MCP client did not declare the roots capability",
            )),
        }
    }

    /// The method and params of `question`, if the client can take it.
    fn request_of(&self, question: &Question) -> Result<(&'static str, Value), CoreError> {
        Ok(match question {
            Question::Elicit(request) => ("elicitation/create", self.elicitation(request)?),
            Question::Sample(request) => ("sampling/createMessage", self.sampling(request)?),
            Question::Roots => ("roots/list", self.roots_request()?),
            _ => return Err(Self::unavailable("requests", "an unknown kind of request")),
        })
    }

    /// Sends one request to the client: on 2026-07-28 as a question of
    /// this round, on 2025-11-25 as a request of the server's own.
    async fn request(&self, method: &'static str, params: Value) -> Result<Value, CoreError> {
        if let Some(task) = self.task.get() {
            return self.task_input(task, self.task_key(), method, params).await;
        }
        if let Some(rounds) = &self.rounds {
            let mut answer = rounds.ask(vec![(rounds.key(), method, params)])?;
            return Ok(answer.pop().unwrap_or_default());
        }
        let failed = |e: &dyn fmt::Display| Self::failed(method, e);
        let request: rmcp::model::ServerRequest =
            serde_json::from_value(json!({"method": method, "params": params}))
                .map_err(|e| failed(&e))?;
        let result = self
            .peer
            .send_request(request)
            .await
            .map_err(|e| failed(&e))?;
        serde_json::to_value(result).map_err(|e| failed(&e))
    }
}

impl BridgePeer {
    /// The key of a task's next question.
    fn task_key(&self) -> String {
        let index = self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("q{index}")
    }

    /// One of a task's input requests, answered by the client's
    /// `tasks/update`.
    async fn task_input(
        &self,
        task: &rmcp::task_manager::TaskContext,
        key: String,
        method: &'static str,
        params: Value,
    ) -> Result<Value, CoreError> {
        let request = serde_json::from_value(json!({"method": method, "params": params}))
            .map_err(|e| Self::failed(method, e))?;
        task.request_input(key, request)
            .await
            .map_err(|exit| match exit {
                rmcp::task_manager::TaskExit::Error(error) => Self::failed(method, error.message),
                _ => Self::unavailable("requests to the caller", "the task was cancelled"),
            })
    }
}

/// A client's `CreateMessageResult`, as the action sees it.
fn sampled(result: &Value) -> SamplingResponse {
    // rmcp flattens the message beside `model`.
    let text = match &result["content"] {
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| block["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        block => block["text"].as_str().unwrap_or_default().to_owned(),
    };
    let mut response = SamplingResponse::new(text, result["model"].as_str().unwrap_or_default());
    response.stop_reason = result["stopReason"].as_str().map(str::to_owned);
    response
}

/// A client's `ElicitResult`, as the action sees it.
fn elicited(result: &Value) -> ElicitationResponse {
    let action = match result["action"].as_str() {
        Some("accept") => ElicitationAction::Accept,
        Some("decline") => ElicitationAction::Decline,
        _ => ElicitationAction::Cancel,
    };
    let content = result.get("content").filter(|c| !c.is_null()).cloned();
    ElicitationResponse::new(action, content)
}

/// A client's `ListRootsResult`, as the action sees it.
fn rooted(result: &Value) -> Vec<Root> {
    let roots = result["roots"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    roots
        .iter()
        .filter_map(|root| {
            let name = root["name"].as_str().map(str::to_owned);
            Some(Root::new(root["uri"].as_str()?, name))
        })
        .collect()
}

/// The answer to `question` in `result`.
fn answer_of(question: &Question, result: &Value) -> Answer {
    match question {
        Question::Elicit(_) => Answer::Elicit(elicited(result)),
        Question::Sample(_) => Answer::Sample(sampled(result)),
        _ => Answer::Roots(rooted(result)),
    }
}

#[async_trait]
impl ActionPeer for BridgePeer {
    async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        if let Some(task) = self.task.get() {
            let done = total.map_or(format!("{progress}"), |total| format!("{progress}/{total}"));
            task.set_status_message(message.unwrap_or(done));
            return;
        }
        let Some(token) = &self.progress else {
            return;
        };
        let mut param = json!({"progressToken": token, "progress": progress});
        if let Some(total) = total {
            param["total"] = json!(total);
        }
        if let Some(message) = message {
            param["message"] = json!(message);
        }
        if let Ok(param) = wire::parse(param) {
            // A client gone away is the call's problem, not the report's.
            let _ = self.peer.notify_progress(param).await;
        }
    }

    async fn log(&self, at: LogLevel, message: String) {
        // A task's request is answered: its stream takes nothing more.
        if self.task.get().is_some() {
            return;
        }
        let Some(minimum) = &self.level else {
            return;
        };
        let minimum = *minimum.lock().unwrap_or_else(|e| e.into_inner());
        if at < minimum {
            return;
        }
        let param = json!({"level": level(at), "logger": self.logger, "data": message});
        if let Ok(param) = wire::parse(param) {
            let _ = self.peer.notify_logging_message(param).await;
        }
    }

    async fn sample(&self, request: SamplingRequest) -> Result<SamplingResponse, CoreError> {
        let params = self.sampling(&request)?;
        Ok(sampled(
            &self.request("sampling/createMessage", params).await?,
        ))
    }

    async fn elicit(&self, request: Elicitation) -> Result<ElicitationResponse, CoreError> {
        let params = self.elicitation(&request)?;
        Ok(elicited(&self.request("elicitation/create", params).await?))
    }

    async fn roots(&self) -> Result<Vec<Root>, CoreError> {
        let params = self.roots_request()?;
        Ok(rooted(&self.request("roots/list", params).await?))
    }

    async fn ask(&self, questions: Questions) -> Result<Answers, CoreError> {
        let mut requests = Vec::with_capacity(questions.len());
        for (key, question) in questions.iter() {
            let (method, params) = self.request_of(question)?;
            requests.push((key.to_owned(), method, params));
        }
        let results = match (self.task.get(), &self.rounds) {
            // All at once: pending together in the task...
            (Some(task), _) => {
                let asked = requests.into_iter().map(|(key, method, params)| {
                    self.task_input(task, format!("{key}-{}", self.task_key()), method, params)
                });
                futures_util::future::try_join_all(asked).await?
            }
            // ...or in one round.
            (None, Some(rounds)) => rounds.ask(requests)?,
            (None, None) => {
                let mut results = Vec::with_capacity(requests.len());
                for (_, method, params) in requests {
                    results.push(self.request(method, params).await?);
                }
                results
            }
        };
        let mut answers = Answers::new();
        for ((key, question), result) in questions.into_iter().zip(&results) {
            answers.insert(key, answer_of(&question, result));
        }
        Ok(answers)
    }
}
