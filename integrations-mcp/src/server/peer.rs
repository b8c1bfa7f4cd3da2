//! An action's caller when it is an MCP client of the bridge: progress,
//! log messages, sampling and elicitation go to the client.

// rmcp 3.11 marks logging, sampling and elicitation from servers as
// deprecated (SEP-2577, for protocol 2026-07-28); the protocol this bridge
// speaks (2025-11-25) has them, and clients use them.
#![allow(deprecated)]

use std::fmt;
use std::sync::{Arc, Mutex};

use integrations_core::error::RuntimeError;
use integrations_core::integration::{
    ActionPeer, Elicitation, ElicitationAction, ElicitationResponse, LogLevel, SamplingRequest,
    SamplingResponse,
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
}

/// The rounds of one 2026-07-28 call (MRTR): the answers the client gave
/// in earlier rounds (from the sealed `requestState`) and in this one, in
/// the order the action asked; the action runs again from the start each
/// round, and its first unanswered question ends the round.
#[derive(Debug, Default)]
pub(super) struct Rounds {
    answers: Vec<Value>,
    next: std::sync::atomic::AtomicUsize,
    asked: Mutex<Option<(usize, Value)>>,
    /// A client capability the action needed and the request's `_meta`
    /// did not declare (as MCP JSON, e.g. `{"sampling": {}}`).
    missing: Mutex<Option<Value>>,
}

impl Rounds {
    pub(super) fn new(answers: Vec<Value>) -> Self {
        Self {
            answers,
            ..Self::default()
        }
    }

    /// The answers given so far.
    pub(super) fn answers(&self) -> &[Value] {
        &self.answers
    }

    /// The first question this round could not answer: its index and the
    /// input request (`{"method", "params"}`).
    pub(super) fn asked(&self) -> Option<(usize, Value)> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The client capability the action needed and was not declared, if
    /// any: the call is then answered with -32021 when the action failed.
    pub(super) fn missing(&self) -> Option<Value> {
        self.missing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn ask(&self, request: &'static str, method: &str, params: Value) -> Result<Value, CoreError> {
        let index = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(answer) = self.answers.get(index) {
            return Ok(answer.clone());
        }
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        if asked.is_none() {
            let mut request = serde_json::Map::new();
            request.insert("method".into(), Value::String(method.to_owned()));
            request.insert("params".into(), params);
            *asked = Some((index, Value::Object(request)));
        }
        Err(RuntimeError::NotAvailable {
            request,
            reason: "the MCP client answers on the call's next round (MCP 2026-07-28)".into(),
        }
        .into())
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

#[async_trait]
impl ActionPeer for BridgePeer {
    async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
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
        let result = match &self.rounds {
            Some(rounds) => rounds.ask("sampling", "sampling/createMessage", params)?,
            None => {
                let params =
                    wire::parse(params).map_err(|e| Self::failed("sampling", e.message))?;
                let result = self
                    .peer
                    .create_message(params)
                    .await
                    .map_err(|e| Self::failed("sampling", e))?;
                serde_json::to_value(&result).map_err(|e| Self::failed("sampling", e))?
            }
        };
        // rmcp flattens the message beside `model`.
        let text = match &result["content"] {
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|block| block["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            block => block["text"].as_str().unwrap_or_default().to_owned(),
        };
        let mut response =
            SamplingResponse::new(text, result["model"].as_str().unwrap_or_default());
        response.stop_reason = result["stopReason"].as_str().map(str::to_owned);
        Ok(response)
    }

    async fn elicit(&self, request: Elicitation) -> Result<ElicitationResponse, CoreError> {
        let Some(modes) = self.capabilities.get("elicitation") else {
            return Err(self.undeclared(
                "elicitation",
                json!({"elicitation": {}}),
                "the MCP client did not declare the elicitation capability",
            ));
        };
        let params = match &request {
            Elicitation::Form { message, schema } => {
                json!({"mode": "form", "message": message, "requestedSchema": schema})
            }
            Elicitation::Url { message, url, id } => {
                // An empty capability object means form only.
                if modes.get("url").is_none() {
                    return Err(self.undeclared(
                        "elicitation",
                        json!({"elicitation": {"url": {}}}),
                        "the MCP client does not support URL elicitation",
                    ));
                }
                json!({"mode": "url", "message": message, "url": url, "elicitationId": id})
            }
            _ => {
                return Err(Self::unavailable(
                    "elicitation",
                    "an unknown kind of request",
                ));
            }
        };
        let result = match &self.rounds {
            Some(rounds) => rounds.ask("elicitation", "elicitation/create", params)?,
            None => {
                let params =
                    wire::parse(params).map_err(|e| Self::failed("elicitation", e.message))?;
                let result = self
                    .peer
                    .create_elicitation(params)
                    .await
                    .map_err(|e| Self::failed("elicitation", e))?;
                serde_json::to_value(&result).map_err(|e| Self::failed("elicitation", e))?
            }
        };
        let action = match result["action"].as_str() {
            Some("accept") => ElicitationAction::Accept,
            Some("decline") => ElicitationAction::Decline,
            _ => ElicitationAction::Cancel,
        };
        let content = result.get("content").filter(|c| !c.is_null()).cloned();
        Ok(ElicitationResponse::new(action, content))
    }
}
