//! The [`Integration`] trait and the values that cross it.

use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::IntegrationConfig;
use crate::error::BoxError;
use crate::id::TenantId;

pub mod content;
mod context;
mod questions;

use content::{
    CompletionTarget, ContentBlock, Prompt, PromptMessage, Resource, ResourceContents,
    ResourceTemplate, Serves,
};
pub use context::{
    ActionContext, ActionPeer, Elicitation, ElicitationAction, ElicitationResponse, LogLevel,
    SamplingRequest, SamplingResponse,
};
pub use questions::{Answer, Answers, Question, Questions, Root};

/// One action an integration offers: a name, a description for people and
/// agents, and a JSON Schema for its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capability {
    /// The action's name, unique within its integration.
    pub name: String,
    /// What the action does, written for the agent that will choose it.
    pub description: String,
    /// JSON Schema the arguments must satisfy; `{"type": "object"}` by default.
    pub parameters: Value,
    /// JSON Schema of the action's structured result
    /// ([`ActionResult::structured`]), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Whether the action may, or must, run as a task its caller polls
    /// (see [`long_running`](Self::long_running) and
    /// [`task_only`](Self::task_only)).
    #[serde(default, skip_serializing_if = "TaskSupport::is_never")]
    pub tasks: TaskSupport,
    /// Whether an action that runs as a task gathers its input before it
    /// becomes one (see [`input_first`](Self::input_first)).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub input_first: bool,
}

/// Whether an action runs as a task its caller polls (MCP's Tasks
/// extension) instead of a call its caller holds open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskSupport {
    /// An ordinary call (the default).
    #[default]
    Never,
    /// A task for callers that can poll one; an ordinary call for the
    /// others.
    Optional,
    /// A task; callers that cannot poll one are refused (through the MCP
    /// bridge: -32021, naming the Tasks extension).
    Required,
}

impl TaskSupport {
    fn is_never(&self) -> bool {
        *self == Self::Never
    }
}

impl Capability {
    /// A capability whose arguments may be any JSON object.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters: serde_json::json!({ "type": "object" }),
            output_schema: None,
            tasks: TaskSupport::Never,
            input_first: false,
        }
    }

    /// Says the action may take long (minutes, not seconds): through the
    /// MCP bridge, a 2026-07-28 client that declared the Tasks extension
    /// gets a task it polls instead of a call it must hold open, and the
    /// action's questions to its caller become the task's input requests.
    /// Other clients call it as any other action.
    #[must_use]
    pub fn long_running(mut self) -> Self {
        self.tasks = TaskSupport::Optional;
        self
    }

    /// Says the action runs only as a task: as
    /// [`long_running`](Self::long_running), but a client that cannot poll
    /// a task is refused before the action runs (an action that takes
    /// hours, which no caller can hold a call open for).
    #[must_use]
    pub fn task_only(mut self) -> Self {
        self.tasks = TaskSupport::Required;
        self
    }

    /// Says the action asks its questions before its long part (with
    /// [`long_running`](Self::long_running) or
    /// [`task_only`](Self::task_only)): through the MCP bridge, to a
    /// 2026-07-28 client that declared the Tasks extension, the action
    /// first runs in the request, its questions going by rounds (MRTR) as
    /// an ordinary action's do, and the call becomes a task only once the
    /// action has run for 100 ms without finishing or asking; it then goes
    /// on in the task, its later questions the task's input requests. An
    /// action that finishes in that time is answered as an ordinary call.
    /// Without it, the task is made at once and every question is one of
    /// its input requests.
    #[must_use]
    pub fn input_first(mut self) -> Self {
        self.input_first = true;
        self
    }

    /// Declares the JSON Schema of the action's structured result.
    #[must_use]
    pub fn with_output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }

    /// Sets the JSON Schema of the arguments.
    #[must_use]
    pub fn with_parameters(mut self, schema: Value) -> Self {
        self.parameters = schema;
        self
    }
}

/// A request for an integration to do something; its arguments have already
/// been validated against the capability's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Action {
    /// The capability name, without the integration prefix.
    pub name: String,
    /// The validated arguments.
    pub arguments: Value,
    /// What the action runs with; not part of its value.
    #[serde(skip)]
    context: ActionContext,
}

impl Action {
    /// Builds an action, with a context that reaches nobody.
    pub fn new(name: impl Into<String>, arguments: Value) -> Self {
        Self {
            name: name.into(),
            context: ActionContext::default(),
            arguments,
        }
    }

    /// What the action runs with: progress, logs, cancellation, requests
    /// back to the caller.
    pub fn context(&self) -> &ActionContext {
        &self.context
    }

    /// Sets the context.
    #[must_use]
    pub fn with_context(mut self, context: ActionContext) -> Self {
        self.context = context;
        self
    }

    /// Deserialises the arguments into `T`.
    ///
    /// ```
    /// # use integrations_core::Action;
    /// #[derive(serde::Deserialize)]
    /// struct Add { a: f64, b: f64 }
    /// let action = Action::new("add", serde_json::json!({"a": 1, "b": 2}));
    /// let args: Add = action.parse_arguments().unwrap();
    /// assert_eq!(args.a + args.b, 3.0);
    /// ```
    pub fn parse_arguments<T: DeserializeOwned>(&self) -> Result<T, BoxError> {
        T::deserialize(&self.arguments)
            .map_err(|e| format!("arguments of action `{}` do not fit: {e}", self.name).into())
    }
}

/// What an action produced.
///
/// `is_error` marks a failure the caller (often an AI agent) should see and
/// may correct, such as "division by zero"; an `Err` from
/// [`Integration::handle`] is instead a fault of the integration itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionResult {
    /// The result value: what [`Runtime::dispatch`](crate::Runtime::dispatch)
    /// callers read, and the text an MCP client gets when there is no
    /// [`content`](Self::content).
    pub output: Value,
    /// Whether the action failed in a way the caller should see.
    pub is_error: bool,
    /// Rich content for an MCP client (text, images, audio, resources),
    /// in order; empty for a plain result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<ContentBlock>,
    /// A JSON object matching the capability's
    /// [`output_schema`](Capability::output_schema), for clients that read
    /// structured results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
}

impl ActionResult {
    /// A successful result.
    pub fn ok(output: Value) -> Self {
        Self {
            output,
            is_error: false,
            content: Vec::new(),
            structured: None,
        }
    }

    /// A failed result with a message for the caller.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            output: Value::String(message.into()),
            is_error: true,
            content: Vec::new(),
            structured: None,
        }
    }

    /// A successful result of rich content blocks; its
    /// [`output`](Self::output) is their text, joined by newlines.
    pub fn content(content: Vec<ContentBlock>) -> Self {
        let text: Vec<&str> = content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        Self {
            output: Value::String(text.join("\n")),
            is_error: false,
            content,
            structured: None,
        }
    }

    /// A successful structured result: `value` (a JSON object matching
    /// the capability's output schema) is both the output and the
    /// structured content.
    pub fn structured(value: Value) -> Self {
        Self {
            structured: Some(value.clone()),
            ..Self::ok(value)
        }
    }

    /// Marks the result as a failure the caller should see.
    #[must_use]
    pub fn into_error(mut self) -> Self {
        self.is_error = true;
        self
    }
}

/// Something an integration wants its host to know, returned from
/// [`Integration::tick`] and broadcast by the runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// A short machine-readable kind, e.g. `new_issue`.
    pub kind: String,
    /// A message for people.
    pub message: String,
    /// Structured details; `null` when there are none.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// The tenant it concerns, if it concerns one: a host shows it to that
    /// tenant only. `None`: it is about the host's integrations as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
}

impl Notification {
    /// A notification without structured details, for every tenant.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            data: Value::Null,
            tenant: None,
        }
    }

    /// Makes it `tenant`'s alone: what a tenant's data says (a vendor's
    /// message, an issue title) is not shown to other tenants.
    #[must_use]
    pub fn for_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Whether `tenant` may see it: it is for every tenant, or for this one.
    ///
    /// ```
    /// use integrations_core::{Notification, TenantId};
    /// let (ada, bob) = (TenantId::new("ada").unwrap(), TenantId::new("bob").unwrap());
    /// let note = Notification::new("new_message", "from a vendor").for_tenant(ada.clone());
    /// assert!(note.is_for(&ada) && !note.is_for(&bob));
    /// assert!(Notification::new("heartbeat", "all running").is_for(&bob));
    /// ```
    pub fn is_for(&self, tenant: &TenantId) -> bool {
        self.tenant.as_ref().is_none_or(|own| own == tenant)
    }

    /// Attaches structured details.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// The kind of [`resource_updated`](Self::resource_updated).
    pub const RESOURCE_UPDATED: &'static str = "resource_updated";

    /// Says that the resource at `uri` changed: returned from
    /// [`Integration::tick`], it reaches MCP clients subscribed to `uri`
    /// through the bridge.
    pub fn resource_updated(uri: impl Into<String>) -> Self {
        let uri = uri.into();
        Self::new(Self::RESOURCE_UPDATED, format!("{uri} changed"))
            .with_data(serde_json::json!({ "uri": uri }))
    }

    /// The URI of a [`resource_updated`](Self::resource_updated)
    /// notification.
    pub fn updated_resource(&self) -> Option<&str> {
        (self.kind == Self::RESOURCE_UPDATED)
            .then(|| self.data["uri"].as_str())
            .flatten()
    }
}

/// One integration: a named set of actions plus an optional periodic tick.
///
/// Implementations are shared as `Arc<dyn Integration>` and called
/// concurrently, so methods take `&self`; keep mutable state behind a lock or
/// atomics. Every method but [`id`](Self::id) and [`name`](Self::name) has a
/// default, so a minimal integration is a few lines:
///
/// ```
/// use integrations_core::{Integration, async_trait};
///
/// struct Hello;
///
/// #[async_trait]
/// impl Integration for Hello {
///     fn id(&self) -> &str { "hello" }
///     fn name(&self) -> &str { "Hello" }
/// }
/// ```
///
/// The lifecycle, as the [`Runtime`](crate::Runtime) drives it: `init` once
/// with the integration's config section; `handle` for every dispatched
/// action, concurrently; `tick` at the configured interval, never two at once
/// for one integration; `shutdown` once at the end.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Integration: Send + Sync + 'static {
    /// The stable id, used in config sections and dispatch targets; must be a
    /// valid [`IntegrationId`](crate::IntegrationId).
    fn id(&self) -> &str;

    /// A human-readable name.
    fn name(&self) -> &str;

    /// The actions this integration offers. Read once, at registration.
    fn capabilities(&self) -> Vec<Capability> {
        Vec::new()
    }

    /// How often to tick when the config sets no `tick_interval`; `None`
    /// (the default) means no tick loop unless the config asks for one.
    ///
    /// Read once, by [`Runtime`](crate::Runtime) start, right after this
    /// integration's `init` succeeded, so it may return a value `init` read
    /// from the config (say with
    /// [`IntegrationConfig::duration`](crate::IntegrationConfig::duration)).
    /// A change later has no effect until the runtime is started again.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Prepares the integration with its `[integrations.ID]` config section.
    async fn init(&self, config: &IntegrationConfig) -> Result<(), BoxError> {
        let _ = config;
        Ok(())
    }

    /// Performs one action. The registry has already checked that the action
    /// exists and that its arguments satisfy the capability's schema.
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        Err(format!(
            "`{}` does not handle actions (got `{}`)",
            self.id(),
            action.name
        )
        .into())
    }

    /// Which optional parts of this contract the integration serves
    /// (resources, subscriptions, prompts, completions, logging), so that
    /// the MCP bridge declares exactly those; nothing by default.
    fn serves(&self) -> Serves {
        Serves::nothing()
    }

    /// The resources a client can read now (an inbox's messages, a
    /// calendar's events). None by default.
    async fn list_resources(&self) -> Result<Vec<Resource>, BoxError> {
        Ok(Vec::new())
    }

    /// The families of resources it serves by URI template. Read once, at
    /// listing: keep it cheap. None by default.
    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// Reads the resource at `uri`, listed or of a template.
    async fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>, BoxError> {
        Err(format!("`{}` serves no resource `{uri}`", self.id()).into())
    }

    /// The prompts it offers. None by default.
    fn prompts(&self) -> Vec<Prompt> {
        Vec::new()
    }

    /// The messages of prompt `name` with `arguments` filled in. A prompt
    /// may ask its caller first through `context` (the user for some
    /// context, say), as an action does; through the MCP bridge on
    /// 2026-07-28 it then runs again with the answers, like an action.
    async fn get_prompt(
        &self,
        name: &str,
        arguments: &serde_json::Map<String, Value>,
        context: &ActionContext,
    ) -> Result<Vec<PromptMessage>, BoxError> {
        let _ = (arguments, context);
        Err(format!("`{}` has no prompt `{name}`", self.id()).into())
    }

    /// Suggestions for `argument` of `target`, given what was typed so far
    /// (`value`), best first. None by default.
    async fn complete(
        &self,
        target: &CompletionTarget,
        argument: &str,
        value: &str,
    ) -> Result<Vec<String>, BoxError> {
        let _ = (target, argument, value);
        Ok(Vec::new())
    }

    /// Periodic work; the returned notifications are broadcast. The default
    /// does nothing.
    async fn tick(&self) -> Result<Vec<Notification>, BoxError> {
        Ok(Vec::new())
    }

    /// Releases resources. Called once when the runtime shuts down; it should
    /// finish promptly, as it runs against a deadline.
    async fn shutdown(&self) -> Result<(), BoxError> {
        Ok(())
    }
}
