//! Several questions to an action's caller at once, each under a key the
//! action names: [`ActionContext::ask`](super::ActionContext::ask).
//!
//! An MCP client of protocol 2026-07-28 gets them in one round (an
//! `InputRequiredResult` whose `inputRequests` carry these keys); an older
//! client gets them one after another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::context::{Elicitation, ElicitationResponse, SamplingRequest, SamplingResponse};

/// A directory or file the caller shares with the action (an MCP
/// client's `roots/list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Root {
    /// The root's URI, e.g. `file:///home/ada/project`.
    pub uri: String,
    /// A name to show, when the caller gives one.
    pub name: Option<String>,
}

impl Root {
    /// The root at `uri`.
    pub fn new(uri: impl Into<String>, name: Option<String>) -> Self {
        Self {
            uri: uri.into(),
            name,
        }
    }
}

/// One question of [`Questions`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Question {
    /// Ask the user (`elicitation/create`).
    Elicit(Elicitation),
    /// Ask the caller's model (`sampling/createMessage`).
    Sample(SamplingRequest),
    /// Ask which roots the caller shares (`roots/list`).
    Roots,
}

/// Questions asked together, each under a key: the keys are what an MCP
/// client of 2026-07-28 answers by, so name them for what they ask
/// (`user_name`, `capital_question`).
///
/// ```
/// use integrations_core::integration::{Elicitation, Questions, SamplingRequest};
///
/// let questions = Questions::new()
///     .elicit("user_name", Elicitation::Form {
///         message: "Who are you?".into(),
///         schema: serde_json::json!({"type": "object", "properties": {"name": {"type": "string"}}}),
///     })
///     .sample("capital_question", SamplingRequest::new("What is the capital of France?", 50))
///     .roots("client_roots");
/// assert_eq!(questions.len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Questions(Vec<(String, Question)>);

impl Questions {
    /// No questions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `question` under `key`, replacing one of the same key.
    #[must_use]
    pub fn ask(mut self, key: impl Into<String>, question: Question) -> Self {
        let key = key.into();
        self.0.retain(|(k, _)| *k != key);
        self.0.push((key, question));
        self
    }

    /// Adds a question to the user.
    #[must_use]
    pub fn elicit(self, key: impl Into<String>, request: Elicitation) -> Self {
        self.ask(key, Question::Elicit(request))
    }

    /// Adds a question to the caller's model.
    #[must_use]
    pub fn sample(self, key: impl Into<String>, request: SamplingRequest) -> Self {
        self.ask(key, Question::Sample(request))
    }

    /// Asks for the caller's roots.
    #[must_use]
    pub fn roots(self, key: impl Into<String>) -> Self {
        self.ask(key, Question::Roots)
    }

    /// How many questions there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The questions with their keys, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Question)> {
        self.0
            .iter()
            .map(|(key, question)| (key.as_str(), question))
    }
}

impl IntoIterator for Questions {
    type Item = (String, Question);
    type IntoIter = std::vec::IntoIter<(String, Question)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// The caller's answer to one [`Question`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// What the user did.
    Elicit(ElicitationResponse),
    /// What the model said.
    Sample(SamplingResponse),
    /// The caller's roots.
    Roots(Vec<Root>),
}

/// The answers to [`Questions`], by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers(BTreeMap<String, Answer>);

impl Answers {
    /// No answers yet (for an [`ActionPeer`](super::ActionPeer) of a
    /// host's own).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the answer to `key`.
    pub fn insert(&mut self, key: impl Into<String>, answer: Answer) {
        self.0.insert(key.into(), answer);
    }

    /// The answer to `key`.
    pub fn get(&self, key: &str) -> Option<&Answer> {
        self.0.get(key)
    }

    /// The user's answer to `key`, if it was an elicitation.
    pub fn elicitation(&self, key: &str) -> Option<&ElicitationResponse> {
        match self.0.get(key)? {
            Answer::Elicit(answer) => Some(answer),
            _ => None,
        }
    }

    /// The model's answer to `key`, if it was sampling.
    pub fn sampling(&self, key: &str) -> Option<&SamplingResponse> {
        match self.0.get(key)? {
            Answer::Sample(answer) => Some(answer),
            _ => None,
        }
    }

    /// The roots answered to `key`, if it asked for them.
    pub fn roots(&self, key: &str) -> Option<&[Root]> {
        match self.0.get(key)? {
            Answer::Roots(roots) => Some(roots),
            _ => None,
        }
    }

    /// How many answers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::error::{Error, RuntimeError};
    use crate::integration::{ActionContext, ActionPeer, ElicitationAction, LogLevel};

    /// A caller that answers one request at a time, and records the order.
    #[derive(Debug, Default)]
    struct OneByOne(Mutex<Vec<&'static str>>);

    #[async_trait]
    impl ActionPeer for OneByOne {
        async fn progress(&self, _: f64, _: Option<f64>, _: Option<String>) {}
        async fn log(&self, _: LogLevel, _: String) {}
        async fn sample(&self, request: SamplingRequest) -> Result<SamplingResponse, Error> {
            self.0.lock().unwrap().push("sample");
            Ok(SamplingResponse::new(
                request.messages[0].1.to_uppercase(),
                "m",
            ))
        }
        async fn elicit(&self, _: Elicitation) -> Result<ElicitationResponse, Error> {
            self.0.lock().unwrap().push("elicit");
            let content = serde_json::json!({"name": "Ada"});
            Ok(ElicitationResponse::new(
                ElicitationAction::Accept,
                Some(content),
            ))
        }
    }

    fn form() -> Elicitation {
        Elicitation::Form {
            message: "Who?".into(),
            schema: serde_json::json!({"type": "object"}),
        }
    }

    #[tokio::test]
    async fn a_caller_that_takes_one_request_at_a_time_gets_them_in_order() {
        let peer = Arc::new(OneByOne::default());
        let context = ActionContext::new(peer.clone(), CancellationToken::new());
        let questions = Questions::new()
            .sample("shout", SamplingRequest::new("hi", 5))
            .elicit("user_name", form());
        let answers = context.ask(questions).await.unwrap();
        assert_eq!(*peer.0.lock().unwrap(), ["sample", "elicit"]);
        assert_eq!(answers.sampling("shout").unwrap().text, "HI");
        let name = answers.elicitation("user_name").unwrap();
        assert_eq!(name.content.as_ref().unwrap()["name"], "Ada");
        assert!(answers.roots("shout").is_none(), "the wrong kind is none");

        // Roots it cannot give: the whole `ask` says so.
        let roots = context.ask(Questions::new().roots("client_roots")).await;
        assert!(matches!(
            roots,
            Err(Error::Runtime(RuntimeError::NotAvailable {
                request: "roots",
                ..
            }))
        ));
    }

    #[tokio::test]
    async fn without_a_caller_only_no_questions_are_answered() {
        let context = ActionContext::default();
        assert!(context.ask(Questions::new()).await.unwrap().is_empty());
        assert!(context.ask(Questions::new().roots("r")).await.is_err());
        assert!(context.roots().await.is_err());
    }

    #[test]
    fn a_key_asked_twice_keeps_the_last_question() {
        let questions = Questions::new()
            .roots("k")
            .sample("k", SamplingRequest::new("x", 1));
        let only: Vec<_> = questions.iter().collect();
        assert_eq!(only.len(), 1);
        assert!(matches!(only[0], ("k", Question::Sample(_))));
    }
}
