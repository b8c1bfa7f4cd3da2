//! The bridge's MCP server side: what each request of a client's session
//! does with the runtime's integrations.

// rmcp 3.11 marks logging, sampling and elicitation from servers as
// deprecated (SEP-2577, for protocol 2026-07-28); both revisions have them
// (2026-07-28 as input requests), and clients use them.
#![allow(deprecated)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use integrations_core::events::EventKind;
use integrations_core::integration::content::{CompletionTarget, Prompt, Serves};
use integrations_core::integration::{ActionContext, LogLevel};
use integrations_core::{Integration, IntegrationId};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
    CompleteResult, GetPromptRequestParams, GetPromptResponse, GetPromptResult, GetTaskParams,
    GetTaskResult, Implementation, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
    ResourceUpdatedNotification, ServerCapabilities, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::{Bridge, wire};

/// What one client's session of the bridge holds: its log level and its
/// resource subscriptions, with the task that forwards their updates
/// (stopped when the session ends).
pub(super) struct SessionState {
    /// Cancelled when the client's input ends (see `crate::eof`).
    pub(super) gone: tokio_util::sync::CancellationToken,
    pub(super) level: Arc<Mutex<LogLevel>>,
    subscriptions: Arc<Mutex<HashSet<String>>>,
    forwarder: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Default for SessionState {
    fn default() -> Self {
        Self {
            gone: tokio_util::sync::CancellationToken::new(),
            level: Arc::new(Mutex::new(LogLevel::Info)),
            subscriptions: Arc::default(),
            forwarder: Mutex::new(None),
        }
    }
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.forwarder).take() {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn failed(what: &str, error: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(format!("{what}: {error}"), None)
}

/// The task methods answer only requests that declare the Tasks extension
/// (SEP-2663); others get -32021 naming it.
fn tasks_negotiated(context: &RequestContext<RoleServer>) -> Result<(), ErrorData> {
    let declared = super::peer::declared(&context.peer, &context.meta);
    if declared["extensions"][rmcp::model::TASKS_EXTENSION_ID].is_object() {
        return Ok(());
    }
    Err(super::tasks::tasks_missing())
}

impl Bridge {
    /// A copy for one client's session, with state of its own.
    pub(super) fn for_session(&self) -> Self {
        Self {
            session: Arc::default(),
            ..self.clone()
        }
    }

    /// What the running integrations serve, together.
    fn serves(&self) -> Serves {
        let mut all = Serves::nothing();
        for (_, integration) in self.runtime.registry().iter() {
            let serves = integration.serves();
            all.resources |= serves.resources;
            all.subscriptions |= serves.subscriptions;
            all.prompts |= serves.prompts;
            all.completions |= serves.completions;
            all.logging |= serves.logging;
        }
        all
    }

    /// The running integrations that serve what `wanted` picks.
    fn serving(&self, wanted: fn(&Serves) -> bool) -> Vec<(IntegrationId, Arc<dyn Integration>)> {
        self.runtime
            .registry()
            .iter()
            .filter(|(_, integration)| wanted(&integration.serves()))
            .map(|(id, integration)| (id.clone(), Arc::clone(integration)))
            .collect()
    }

    /// The integration whose templates or listed resources include `uri`.
    async fn resource_owner(&self, uri: &str) -> Option<Arc<dyn Integration>> {
        let serving = self.serving(|s| s.resources);
        for (_, integration) in &serving {
            if integration
                .resource_templates()
                .iter()
                .any(|template| template.matches(uri).is_some())
            {
                return Some(Arc::clone(integration));
            }
        }
        for (_, integration) in serving {
            if let Ok(resources) = integration.list_resources().await
                && resources.iter().any(|resource| resource.uri == uri)
            {
                return Some(integration);
            }
        }
        None
    }

    fn prompt_owner(&self, name: &str) -> Option<(Arc<dyn Integration>, Prompt)> {
        self.serving(|s| s.prompts)
            .into_iter()
            .find_map(|(_, integration)| {
                let prompt = integration.prompts().into_iter().find(|p| p.name == name)?;
                Some((integration, prompt))
            })
    }

    /// Starts forwarding resource updates to this session's client.
    fn forward_updates(&self, peer: rmcp::Peer<RoleServer>) {
        let mut forwarder = lock(&self.session.forwarder);
        if forwarder.is_some() {
            return;
        }
        let mut events = self.runtime.subscribe();
        let subscriptions = Arc::clone(&self.session.subscriptions);
        *forwarder = Some(tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let EventKind::Notification { notification } = &event.kind else {
                    continue;
                };
                let Some(uri) = notification.updated_resource() else {
                    continue;
                };
                if !lock(&subscriptions).contains(uri) {
                    continue;
                }
                let Ok(param) = wire::parse(json!({ "uri": uri })) else {
                    continue;
                };
                if peer.notify_resource_updated(param).await.is_err() {
                    return;
                }
            }
        }));
    }
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> InitializeResult {
        let serves = self.serves();
        let mut capabilities = json!({});
        let registry = self.runtime.registry();
        if registry.ids().iter().any(|id| {
            registry
                .capabilities(id.as_str())
                .is_some_and(|c| !c.is_empty())
        }) {
            capabilities["tools"] = json!({});
        }
        if serves.resources {
            capabilities["resources"] = json!({ "subscribe": serves.subscriptions });
        }
        if serves.prompts {
            capabilities["prompts"] = json!({});
        }
        if serves.completions {
            capabilities["completions"] = json!({});
        }
        if serves.logging {
            capabilities["logging"] = json!({});
        }
        if self.has_long_actions() {
            capabilities["extensions"] = json!({ rmcp::model::TASKS_EXTENSION_ID: {} });
        }
        let capabilities: ServerCapabilities = serde_json::from_value(capabilities)
            .unwrap_or_else(|_| ServerCapabilities::builder().enable_tools().build());
        InitializeResult::new(capabilities).with_server_info(Implementation::new(
            self.name.as_str(),
            env!("CARGO_PKG_VERSION"),
        ))
    }

    /// A tool's definition, so rmcp checks the `Mcp-Param-*` headers of a
    /// call (SEP-2243) against the parameters its schema marks with
    /// `x-mcp-header`.
    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.integration_tool(name)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let _span = crate::trace::server("tools/list", "", &context).entered();
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        tasks_negotiated(&context)?;
        let mut task = self
            .tasks
            .manager
            .get_task(self.tasks.inside(&request.task_id)?)?;
        task.task.task_id = request.task_id;
        Ok(GetTaskResult::new(task))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        tasks_negotiated(&context)?;
        self.tasks.manager.update_task(
            self.tasks.inside(&request.task_id)?,
            request.input_responses,
        )
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        tasks_negotiated(&context)?;
        self.tasks
            .manager
            .cancel_task(self.tasks.inside(&request.task_id)?)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        use tracing::Instrument;
        let span = crate::trace::server("tools/call", &request.name, &context);
        let result = self.call(request, context).instrument(span.clone()).await;
        match &result {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
                crate::trace::failed(&span, "tool_error");
            }
            Ok(_) => {}
            Err(error) => crate::trace::refused(&span, error.code.0),
        }
        result
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut resources = Vec::new();
        for (id, integration) in self.serving(|s| s.resources) {
            let listed = integration
                .list_resources()
                .await
                .map_err(|e| failed(&format!("`{id}` could not list its resources"), e))?;
            resources.extend(listed.iter().map(wire::resource));
        }
        wire::result(json!({ "resources": resources }))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let templates: Vec<Value> = self
            .serving(|s| s.resources)
            .iter()
            .flat_map(|(_, integration)| integration.resource_templates())
            .map(|template| wire::template(&template))
            .collect();
        wire::result(json!({ "resourceTemplates": templates }))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        use tracing::Instrument;
        let span = crate::trace::server("resources/read", &request.uri, &context);
        let result: Result<ReadResourceResponse, ErrorData> = async move {
            let not_found = || {
                ErrorData::resource_not_found(
                    format!("no resource `{}`", request.uri),
                    Some(json!({ "uri": request.uri })),
                )
            };
            let owner = self
                .resource_owner(&request.uri)
                .await
                .ok_or_else(not_found)?;
            let contents = owner
                .read_resource(&request.uri)
                .await
                .map_err(|e| failed(&format!("reading `{}`", request.uri), e))?;
            let contents: Vec<Value> = contents.iter().map(wire::contents).collect();
            Ok(wire::result::<ReadResourceResult>(json!({ "contents": contents }))?.into())
        }
        .instrument(span.clone())
        .await;
        if let Err(error) = &result {
            crate::trace::refused(&span, error.code.0);
        }
        result
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !self.serves().subscriptions {
            return Err(ErrorData::invalid_request(
                "no integration here notifies resource updates",
                None,
            ));
        }
        lock(&self.session.subscriptions).insert(request.uri);
        self.forward_updates(context.peer);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        lock(&self.session.subscriptions).remove(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts: Vec<Value> = self
            .serving(|s| s.prompts)
            .iter()
            .flat_map(|(_, integration)| integration.prompts())
            .map(|prompt| wire::prompt(&prompt))
            .collect();
        wire::result(json!({ "prompts": prompts }))
    }

    /// Resource updates, to 2026-07-28 clients that listen for the
    /// resources they name (when an integration serves subscriptions).
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // rmcp narrows this to what the bridge declared; a filter of
        // nothing is an acknowledged stream that stays quiet.
        let mut accepted = SubscriptionFilter::builder();
        if let Some(uris) = requested.resource_subscriptions.clone()
            && self.serves().subscriptions
        {
            accepted = accepted.resource_subscriptions(uris);
        }
        Some(accepted.build())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let uris: HashSet<String> = context
            .accepted()
            .resource_subscriptions
            .iter()
            .flatten()
            .cloned()
            .collect();
        let mut events = self.runtime.subscribe();
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = context.cancelled() => return Ok(()),
                () = self.session.gone.cancelled() => return Ok(()),
            };
            let event = match event {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            };
            let EventKind::Notification { notification } = &event.kind else {
                continue;
            };
            let Some(uri) = notification
                .updated_resource()
                .filter(|uri| uris.contains(*uri))
            else {
                continue;
            };
            let Ok(param) = wire::parse(json!({ "uri": uri })) else {
                continue;
            };
            let updated = ResourceUpdatedNotification::new(param);
            if context.sink().send(updated.into()).await.is_err() {
                return Ok(());
            }
        }
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        use tracing::Instrument;
        let span = crate::trace::server("prompts/get", &request.name, &context);
        let result: Result<GetPromptResponse, ErrorData> = async move {
            let (owner, prompt) = self.prompt_owner(&request.name).ok_or_else(|| {
                ErrorData::invalid_params(format!("no prompt `{}`", request.name), None)
            })?;
            let arguments = request.arguments.unwrap_or_default();
            if let Some(missing) = prompt
                .arguments
                .iter()
                .find(|argument| argument.required && !arguments.contains_key(&argument.name))
            {
                return Err(ErrorData::invalid_params(
                    format!("prompt `{}` needs argument `{}`", prompt.name, missing.name),
                    None,
                ));
            }
            let round = super::calls::Round::new(
                "prompts/get",
                &request.name,
                Some(&arguments),
                request.request_state.as_deref(),
                request.input_responses.as_ref(),
            );
            let modern = context
                .meta
                .protocol_version()
                .is_some_and(|version| !version.has_initialize());
            let rounds = match modern {
                true => Some(Arc::new(self.rounds_of(&round)?)),
                false => None,
            };
            let peer = self.peer_of(&context, owner.id(), rounds.as_ref());
            let asking = ActionContext::new(Arc::new(peer), context.ct.clone());
            let messages = owner.get_prompt(&request.name, &arguments, &asking).await;
            if let Some(next) = self.next_round(&round, rounds.as_deref())? {
                return Ok(next.into());
            }
            let messages =
                messages.map_err(|e| failed(&format!("prompt `{}`", request.name), e))?;
            let messages: Vec<Value> = messages.iter().map(wire::message).collect();
            let mut result = json!({ "messages": messages });
            if let Some(description) = prompt.description {
                result["description"] = json!(description);
            }
            Ok(wire::result::<GetPromptResult>(result)?.into())
        }
        .instrument(span.clone())
        .await;
        if let Err(error) = &result {
            crate::trace::refused(&span, error.code.0);
        }
        result
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let (owner, target) = match &request.r#ref {
            Reference::Prompt(prompt) => (
                self.prompt_owner(&prompt.name).map(|(owner, _)| owner),
                CompletionTarget::Prompt(prompt.name.clone()),
            ),
            Reference::Resource(resource) => (
                self.serving(|s| s.resources)
                    .into_iter()
                    .map(|(_, integration)| integration)
                    .find(|integration| {
                        integration
                            .resource_templates()
                            .iter()
                            .any(|t| t.uri_template == resource.uri)
                    }),
                CompletionTarget::ResourceTemplate(resource.uri.clone()),
            ),
            _ => (None, CompletionTarget::Prompt(String::new())),
        };
        let mut values = match owner {
            Some(owner) => owner
                .complete(&target, &request.argument.name, &request.argument.value)
                .await
                .map_err(|e| failed("completing", e))?,
            None => Vec::new(),
        };
        let total = values.len();
        values.truncate(100);
        wire::result(json!({
            "completion": { "values": values, "total": total, "hasMore": total > 100 }
        }))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        *lock(&self.session.level) = crate::level::from_mcp(&request.level);
        Ok(())
    }
}
