//! The [`ActionContext`] an action runs with: progress, logs, cancellation,
//! and requests back to whoever called it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::questions::{Answer, Answers, Question, Questions, Root};
use crate::error::{Error, RuntimeError};

/// The severity of a log message, as MCP (and syslog) orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LogLevel {
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Normal but significant.
    Notice,
    /// Something to look at.
    Warning,
    /// An error.
    Error,
    /// A critical condition.
    Critical,
    /// Action must be taken at once.
    Alert,
    /// The system is unusable.
    Emergency,
}

/// A request for a model's completion, sent back to the caller (an MCP
/// client's `sampling/createMessage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SamplingRequest {
    /// The conversation so far: who said what.
    pub messages: Vec<(crate::integration::content::Role, String)>,
    /// A system prompt.
    pub system_prompt: Option<String>,
    /// The most tokens to generate.
    pub max_tokens: u32,
}

impl SamplingRequest {
    /// One user message, answered in at most `max_tokens`.
    pub fn new(prompt: impl Into<String>, max_tokens: u32) -> Self {
        Self {
            messages: vec![(crate::integration::content::Role::User, prompt.into())],
            system_prompt: None,
            max_tokens,
        }
    }
}

/// The model's answer to a [`SamplingRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SamplingResponse {
    /// The text it generated (empty when it answered otherwise).
    pub text: String,
    /// The model that answered.
    pub model: String,
    /// Why it stopped, when said.
    pub stop_reason: Option<String>,
}

impl SamplingResponse {
    /// An answer.
    pub fn new(text: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            model: model.into(),
            stop_reason: None,
        }
    }
}

/// A question to the user, sent back to the caller (an MCP client's
/// `elicitation/create`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Elicitation {
    /// A form: the user fills in an object matching `schema` (flat, of
    /// primitive properties, as MCP allows).
    Form {
        /// What to tell the user.
        message: String,
        /// The JSON Schema of the answer.
        schema: Value,
    },
    /// A page the user should visit (a sign-in, a payment) out of band.
    Url {
        /// What to tell the user.
        message: String,
        /// The page.
        url: String,
        /// An id to correlate the visit with.
        id: String,
    },
}

/// What the user did with an [`Elicitation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ElicitationAction {
    /// Answered.
    Accept,
    /// Said no.
    Decline,
    /// Dismissed it.
    Cancel,
}

/// The user's answer to an [`Elicitation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ElicitationResponse {
    /// What the user did.
    pub action: ElicitationAction,
    /// The form's content, when accepted.
    pub content: Option<Value>,
}

impl ElicitationResponse {
    /// An answer.
    pub fn new(action: ElicitationAction, content: Option<Value>) -> Self {
        Self { action, content }
    }
}

/// Whoever called the action, as the [`ActionContext`] reaches them: the
/// MCP bridge implements it for its clients; without one, progress and
/// logs go to the runtime's events and requests back are not available.
#[async_trait]
pub trait ActionPeer: Send + Sync + fmt::Debug + 'static {
    /// Reports progress (`progress` of `total`, when known).
    async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>);

    /// Sends a log message.
    async fn log(&self, level: LogLevel, message: String);

    /// Asks the caller's model; fails with
    /// [`RuntimeError::NotAvailable`] when the caller cannot.
    async fn sample(&self, request: SamplingRequest) -> Result<SamplingResponse, Error>;

    /// Asks the caller's user; fails with
    /// [`RuntimeError::NotAvailable`] when the caller cannot.
    async fn elicit(&self, request: Elicitation) -> Result<ElicitationResponse, Error>;

    /// Asks which roots the caller shares; by default
    /// [`RuntimeError::NotAvailable`].
    async fn roots(&self) -> Result<Vec<Root>, Error> {
        Err(not_available("roots", "this caller shares no roots"))
    }

    /// Asks several questions; by default one after another, through
    /// [`elicit`](Self::elicit), [`sample`](Self::sample) and
    /// [`roots`](Self::roots). A caller that can take them at once (an MCP
    /// client of 2026-07-28) asks them in one round.
    async fn ask(&self, questions: Questions) -> Result<Answers, Error> {
        let mut answers = Answers::new();
        for (key, question) in questions {
            let answer = match question {
                Question::Elicit(request) => Answer::Elicit(self.elicit(request).await?),
                Question::Sample(request) => Answer::Sample(self.sample(request).await?),
                Question::Roots => Answer::Roots(self.roots().await?),
            };
            answers.insert(key, answer);
        }
        Ok(answers)
    }
}

fn not_available(request: &'static str, reason: &str) -> Error {
    RuntimeError::NotAvailable {
        request,
        reason: reason.into(),
    }
    .into()
}

/// Outside an MCP client: no requests back.
const NO_CLIENT: &str = "the action was not called by an MCP client";

/// What an action runs with, from [`Action::context`](crate::Action::context):
/// report progress, log, notice cancellation, and ask the caller's model or
/// user. Works wherever the action is called: through the MCP bridge these
/// reach the MCP client; through
/// [`Runtime::dispatch`](crate::Runtime::dispatch) progress and logs become
/// the runtime's events and requests back fail with
/// [`RuntimeError::NotAvailable`].
#[derive(Clone, Default)]
pub struct ActionContext {
    peer: Option<Arc<dyn ActionPeer>>,
    /// `None` for a caller that never cancels: no token is made for every
    /// action (a token is an allocation, on the dispatch path).
    cancelled: Option<CancellationToken>,
}

impl fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionContext")
            .field("peer", &self.peer)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Contexts are not part of an action's value.
impl PartialEq for ActionContext {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ActionContext {
    /// A context reaching `peer`, cancelled with `cancelled`.
    pub fn new(peer: Arc<dyn ActionPeer>, cancelled: CancellationToken) -> Self {
        Self {
            peer: Some(peer),
            cancelled: Some(cancelled),
        }
    }

    /// A context reaching `peer`, for a caller that never cancels.
    pub(crate) fn uncancellable(peer: Arc<dyn ActionPeer>) -> Self {
        Self {
            peer: Some(peer),
            cancelled: None,
        }
    }

    /// Reports progress: `progress` of `total`, when known, increasing
    /// from call to call.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        if let Some(peer) = &self.peer {
            peer.progress(progress, total, message.map(str::to_owned))
                .await;
        }
    }

    /// Logs `message` at `level` to the caller.
    pub async fn log(&self, level: LogLevel, message: impl Into<String>) {
        if let Some(peer) = &self.peer {
            peer.log(level, message.into()).await;
        }
    }

    /// Whether the caller gave up on the action.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// Completes when the caller gives up on the action (for `select!`);
    /// never, for a caller that cannot cancel.
    pub async fn cancelled(&self) {
        match &self.cancelled {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    }

    /// Asks the caller's model.
    ///
    /// Errors: [`RuntimeError::NotAvailable`] when the caller cannot
    /// (not an MCP client, or one without the sampling capability), and
    /// the caller's refusal.
    pub async fn sample(&self, request: SamplingRequest) -> Result<SamplingResponse, Error> {
        match &self.peer {
            Some(peer) => peer.sample(request).await,
            None => Err(not_available("sampling", NO_CLIENT)),
        }
    }

    /// Asks the caller's user.
    ///
    /// Errors: [`RuntimeError::NotAvailable`] when the caller cannot
    /// (not an MCP client, or one without the elicitation capability, or
    /// without the URL mode for [`Elicitation::Url`]).
    pub async fn elicit(&self, request: Elicitation) -> Result<ElicitationResponse, Error> {
        match &self.peer {
            Some(peer) => peer.elicit(request).await,
            None => Err(not_available("elicitation", NO_CLIENT)),
        }
    }

    /// Asks which roots (directories, files) the caller shares.
    ///
    /// Errors: [`RuntimeError::NotAvailable`] when the caller cannot (not
    /// an MCP client, or one without the roots capability).
    pub async fn roots(&self) -> Result<Vec<Root>, Error> {
        match &self.peer {
            Some(peer) => peer.roots().await,
            None => Err(not_available("roots", NO_CLIENT)),
        }
    }

    /// Asks several questions at once, each under its key (see
    /// [`Questions`]): an MCP client of 2026-07-28 gets them in one round
    /// and answers them together; an older one, one after another.
    ///
    /// Through the MCP bridge on 2026-07-28 the action runs again from its
    /// start with each round's answers, so ask before doing what must not
    /// be done twice. Errors are those of [`elicit`](Self::elicit),
    /// [`sample`](Self::sample) and [`roots`](Self::roots).
    pub async fn ask(&self, questions: Questions) -> Result<Answers, Error> {
        match &self.peer {
            Some(peer) => peer.ask(questions).await,
            None if questions.is_empty() => Ok(Answers::new()),
            None => Err(not_available("requests to the caller", NO_CLIENT)),
        }
    }
}
