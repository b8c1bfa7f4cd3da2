//! Answers to the requests a server sends the client: elicitation,
//! sampling and roots.

use std::fmt;

use async_trait::async_trait;
use integrations_core::TenantId;
use integrations_core::id::ServerName;
use integrations_core::integration::LogLevel;
use rmcp::ErrorData;
use rmcp::model::{
    ClientCapabilities, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationCapability, FormElicitationCapability, Root,
    RootsCapabilities, SamplingCapability, UrlElicitationCapability,
};
use serde_json::{Map, Value};

/// Whose session a server's request came in on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookContext {
    /// The tenant of the session.
    pub tenant: TenantId,
    /// The server's name, as configured.
    pub server: ServerName,
}

/// Which requests a [`ClientHooks`] answers; the pool declares exactly these
/// as client capabilities, so servers only send what will be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HookCapabilities {
    /// `elicitation/create` in form mode.
    pub elicitation_form: bool,
    /// `elicitation/create` in URL mode.
    pub elicitation_url: bool,
    /// `sampling/createMessage`.
    pub sampling: bool,
    /// `roots/list`.
    pub roots: bool,
    /// Log messages at this level and above, to
    /// [`ClientHooks::log`]: asked of a 2025-11-25 server with
    /// `logging/setLevel` once connected, of a 2026-07-28 server in each
    /// request's `_meta`. `None` (the default): no log messages.
    pub logs: Option<LogLevel>,
}

impl HookCapabilities {
    /// Nothing: the default of a pool without hooks.
    pub fn none() -> Self {
        Self::default()
    }

    /// Form elicitation (and URL elicitation when `url`).
    #[must_use]
    pub fn elicitation(mut self, url: bool) -> Self {
        self.elicitation_form = true;
        self.elicitation_url = url;
        self
    }

    /// Sampling.
    #[must_use]
    pub fn sampling(mut self) -> Self {
        self.sampling = true;
        self
    }

    /// Roots.
    #[must_use]
    pub fn roots(mut self) -> Self {
        self.roots = true;
        self
    }

    /// Log messages at `level` and above.
    #[must_use]
    pub fn logs(mut self, level: LogLevel) -> Self {
        self.logs = Some(level);
        self
    }

    pub(crate) fn client_capabilities(self) -> ClientCapabilities {
        let mut capabilities = ClientCapabilities::default();
        if self.elicitation_form || self.elicitation_url {
            let mut elicitation = ElicitationCapability::default();
            elicitation.form = self
                .elicitation_form
                .then(FormElicitationCapability::default);
            elicitation.url = self.elicitation_url.then(UrlElicitationCapability::default);
            capabilities.elicitation = Some(elicitation);
        }
        if self.sampling {
            capabilities.sampling = Some(SamplingCapability::default());
        }
        if self.roots {
            capabilities.roots = Some(RootsCapabilities::default());
        }
        capabilities
    }
}

/// A host's answers to what servers ask of the client: elicitation (a form
/// or a URL for a person), sampling (a model completion) and roots.
///
/// Every method has a polite default (decline, "not supported", no roots),
/// and [`capabilities`](Self::capabilities) says which ones the host
/// answers; the pool declares exactly those to servers. Give hooks to the
/// whole pool with [`McpPoolBuilder::hooks`](crate::client::McpPoolBuilder::hooks),
/// or to one tenant with
/// [`McpPoolBuilder::tenant_hooks`](crate::client::McpPoolBuilder::tenant_hooks).
///
/// An accepted form elicitation gets the schema's `default` for every field
/// the answer leaves out (SEP-1034), so a hook can accept with `{}`.
#[async_trait]
pub trait ClientHooks: Send + Sync + fmt::Debug + 'static {
    /// Which requests these hooks answer.
    fn capabilities(&self) -> HookCapabilities;

    /// Answers `elicitation/create`; the default declines.
    async fn elicit(
        &self,
        context: &HookContext,
        request: ElicitRequestParams,
    ) -> Result<ElicitResult, ErrorData> {
        let _ = (context, request);
        Ok(ElicitResult::new(ElicitationAction::Decline))
    }

    /// Answers `sampling/createMessage`; the default says sampling is not
    /// supported.
    async fn create_message(
        &self,
        context: &HookContext,
        request: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        let _ = (context, request);
        Err(ErrorData::method_not_found::<
            rmcp::model::CreateMessageRequestMethod,
        >())
    }

    /// The server says the resource at `uri`, which this session
    /// subscribed to ([`McpPool::subscribe`](crate::McpPool::subscribe)),
    /// changed. Ignored by default.
    async fn resource_updated(&self, context: &HookContext, uri: &str) {
        let _ = (context, uri);
    }

    /// Answers `roots/list`; the default lists none.
    async fn roots(&self, context: &HookContext) -> Result<Vec<Root>, ErrorData> {
        let _ = context;
        Ok(Vec::new())
    }

    /// A log message of the server's (at the level of
    /// [`HookCapabilities::logs`] or above): its level, the logger it names
    /// (if any) and its data, as the server sent it. A session's messages
    /// come one at a time, in the order the server sent them: the next
    /// waits until this call returns (up to 256 messages or 4 MiB wait;
    /// past that, new ones are dropped, and counted in a warning, until
    /// the hooks catch up). When the session closes, a call still waiting
    /// is dropped. Ignored by default.
    async fn log(
        &self,
        context: &HookContext,
        level: LogLevel,
        logger: Option<&str>,
        data: &Value,
    ) {
        let _ = (context, level, logger, data);
    }
}

/// Fills the fields an accepted form answer left out with the requested
/// schema's defaults (SEP-1034).
pub(crate) fn apply_defaults(request: &ElicitRequestParams, result: &mut ElicitResult) {
    let ElicitRequestParams::FormElicitationParams {
        requested_schema, ..
    } = request
    else {
        return;
    };
    if result.action != ElicitationAction::Accept {
        return;
    }
    let Ok(schema) = serde_json::to_value(requested_schema) else {
        return;
    };
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let content = result
        .content
        .get_or_insert_with(|| Value::Object(Map::new()));
    let Some(content) = content.as_object_mut() else {
        return;
    };
    for (name, property) in properties {
        if let Some(default) = property.get("default") {
            content
                .entry(name.clone())
                .or_insert_with(|| default.clone());
        }
    }
}
