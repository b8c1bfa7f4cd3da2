//! The client side of a session: what rmcp calls when the server sends
//! something (tool list changes, resource updates, elicitation, sampling,
//! roots), answered through the host's hooks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[allow(deprecated)]
use rmcp::model::{
    ClientConfig, CreateMessageRequestMethod, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation, InputRequest,
    InputRequests, InputResponses, ListRootsResult, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ClientHandler, ErrorData, RoleClient};

use super::progress::{Arrivals, ProgressRoutes};
use crate::client::hooks::{ClientHooks, HookContext};

/// The client side of a session: answers the server (through the host's
/// hooks, if any) and notices tool list changes.
#[derive(Clone)]
pub(crate) struct Client {
    pub(super) tools_generation: Arc<AtomicU64>,
    hooks: Option<(Arc<dyn ClientHooks>, HookContext)>,
    pub(super) progress: Arc<ProgressRoutes>,
}

impl Client {
    /// The client of a session whose transport hands on to `arrivals`.
    pub(super) fn new(
        hooks: Option<(Arc<dyn ClientHooks>, HookContext)>,
        arrivals: &Arrivals,
    ) -> Self {
        Self {
            tools_generation: Arc::default(),
            hooks,
            progress: Arc::clone(&arrivals.progress),
        }
    }
}

#[allow(deprecated)] // sampling and roots: see `hooks`
impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities: rmcp::model::ClientCapabilities = self
            .hooks
            .as_ref()
            .map(|(hooks, _)| hooks.capabilities().client_capabilities())
            .unwrap_or_default();
        // The session polls tasks a server makes of a call (`tasks.rs`).
        capabilities
            .extensions
            .get_or_insert_default()
            .insert(rmcp::model::TASKS_EXTENSION_ID.into(), Default::default());
        ClientConfig::new(
            capabilities,
            Implementation::new("integrations-mcp", env!("CARGO_PKG_VERSION")),
        )
        // The newest revision with the initialize handshake: what deployed
        // servers and the conformance suite speak, and unscoped list changes.
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_generation.fetch_add(1, Ordering::SeqCst);
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.resource_updated(&params.uri).await;
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.elicit(request).await
    }

    async fn create_message(
        &self,
        request: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.sample(request).await
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        self.roots().await
    }
}

/// The answers to the server: as requests of its own on a 2025-11-25
/// session (above), as the `inputRequests` of a 2026-07-28 result (MRTR).
#[allow(deprecated)] // sampling and roots: see `hooks`
impl Client {
    /// Tells the host's hooks that the resource at `uri` changed.
    pub(super) async fn resource_updated(&self, uri: &str) {
        if let Some((hooks, context)) = &self.hooks {
            hooks.resource_updated(context, uri).await;
        }
    }

    async fn elicit(&self, request: ElicitRequestParams) -> Result<ElicitResult, ErrorData> {
        let Some((hooks, context)) = &self.hooks else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let mut result = hooks.elicit(context, request.clone()).await?;
        crate::client::hooks::apply_defaults(&request, &mut result);
        Ok(result)
    }

    async fn sample(
        &self,
        request: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        match &self.hooks {
            Some((hooks, context)) => hooks.create_message(context, request).await,
            None => Err(ErrorData::method_not_found::<CreateMessageRequestMethod>()),
        }
    }

    async fn roots(&self) -> Result<ListRootsResult, ErrorData> {
        let roots = match &self.hooks {
            Some((hooks, context)) => hooks.roots(context).await?,
            None => Vec::new(),
        };
        Ok(ListRootsResult::new(roots))
    }

    /// Answers the `inputRequests` of an `InputRequiredResult`, all at once.
    pub(super) async fn answer(
        &self,
        requests: InputRequests,
    ) -> Result<InputResponses, ErrorData> {
        let answers = requests.into_iter().map(|(key, request)| async move {
            let answer = match request {
                InputRequest::Elicitation(request) => json(self.elicit(request.params).await?),
                InputRequest::CreateMessage(request) => json(self.sample(request.params).await?),
                InputRequest::ListRoots(_) => json(self.roots().await?),
                _ => Err(ErrorData::invalid_params(
                    format!("input request `{key}` is of a kind this client does not know"),
                    None,
                )),
            }?;
            Ok::<_, ErrorData>((key, answer))
        });
        futures_util::future::try_join_all(answers)
            .await
            .map(|answers| answers.into_iter().collect())
    }
}

fn json(value: impl serde::Serialize) -> Result<serde_json::Value, ErrorData> {
    serde_json::to_value(value).map_err(|error| ErrorData::internal_error(error.to_string(), None))
}
