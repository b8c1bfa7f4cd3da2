//! Requests through the pool: tool calls, resource reads and tool lists,
//! each in its span, observed for health and checked against the tool
//! policies.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use integrations_core::health::Sample;
use rmcp::model::{CallToolResult, Tool};
use tracing::Instrument;

use super::health::Outcome;
#[cfg(feature = "http")]
use super::lock;
use super::{McpPool, SessionKey};
use crate::client::call::{CallOptions, tool_arguments};
use crate::error::Error;
use crate::trace;

impl McpPool {
    /// Calls a tool with the pool's default timeout.
    pub async fn call_tool(
        &self,
        key: &SessionKey,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<CallToolResult, Error> {
        self.call_tool_with(key, tool, arguments, CallOptions::new())
            .await
    }

    /// Calls a tool with its own timeout or a cancellation token.
    ///
    /// `arguments` must be a JSON object (or `null` for none); anything else
    /// is [`Error::InvalidArguments`], and a tool the policies deny is
    /// [`Error::ToolDenied`], before any server is started.
    pub async fn call_tool_with(
        &self,
        key: &SessionKey,
        tool: &str,
        arguments: serde_json::Value,
        options: CallOptions,
    ) -> Result<CallToolResult, Error> {
        let arguments = tool_arguments(&key.server, tool, arguments)?;
        self.check_allowed(key, tool)?;
        let session = self.get(key).await?;
        let span = session.span("tools/call", tool);
        let started = Instant::now();
        // The span is not entered on each poll of the call (a cost of its
        // own in tracing-opentelemetry); the request carries its context.
        let result = session
            .call_tool_object(&span, tool, arguments, &options)
            .await;
        match &result {
            Ok(result) if result.is_error == Some(true) => trace::failed(&span, "tool_error"),
            Ok(_) => {}
            Err(error) => trace::errored(&span, error),
        }
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let elapsed = started.elapsed();
        let sample = match &result {
            Ok(_) => {
                self.inner.observe(key, &Outcome::Answered(elapsed));
                Sample::success(elapsed)
            }
            Err(error) => {
                self.inner.errors.fetch_add(1, Ordering::Relaxed);
                self.inner.observe(key, &Outcome::Failed(error));
                Sample::failure(elapsed, error.to_string())
            }
        };
        self.inner.latency.record(&self.inner.latency_key, sample);
        #[cfg(feature = "http")]
        if result.is_ok() {
            lock(&self.inner.step_ups).remove(key);
        }
        self.inner.authorizing(key, result).await
    }

    /// Reads the resource at `uri` of the server.
    pub async fn read_resource(
        &self,
        key: &SessionKey,
        uri: &str,
    ) -> Result<rmcp::model::ReadResourceResult, Error> {
        let session = self.get(key).await?;
        let span = session.span("resources/read", uri);
        let result = session
            .read_resource_as(&span, uri, &CallOptions::new())
            .await;
        if let Err(error) = &result {
            trace::errored(&span, error);
        }
        self.inner.authorizing(key, result).await
    }

    /// Subscribes the tenant's session to changes of the resource at
    /// `uri`: each one reaches the pool's (or the tenant's)
    /// [`ClientHooks::resource_updated`](crate::client::ClientHooks::resource_updated).
    /// A session replaced after a failure starts without subscriptions.
    pub async fn subscribe(&self, key: &SessionKey, uri: &str) -> Result<(), Error> {
        self.get(key)
            .await?
            .subscribe(uri, &CallOptions::new())
            .await
    }

    /// The server's tools that the tool policies allow, cached per session
    /// until the server announces a change (or, on 2026-07-28, its list's
    /// `ttlMs` runs out).
    pub async fn list_tools(&self, key: &SessionKey) -> Result<Arc<Vec<Tool>>, Error> {
        self.list_tools_with(key, &CallOptions::new()).await
    }

    /// [`list_tools`](Self::list_tools) with a timeout or cancellation.
    pub async fn list_tools_with(
        &self,
        key: &SessionKey,
        options: &CallOptions,
    ) -> Result<Arc<Vec<Tool>>, Error> {
        let (tools, _) = self.all_tools(key, options).await?;
        Ok(self.visible(key, tools))
    }

    /// The server's whole (cached) list, before the policies, and the
    /// policies' generation: the same list and generation mean the same
    /// visible tools.
    pub(crate) async fn all_tools(
        &self,
        key: &SessionKey,
        options: &CallOptions,
    ) -> Result<(Arc<Vec<Tool>>, u64), Error> {
        let generation = self.inner.policy_generation.load(Ordering::SeqCst);
        let session = self.get(key).await?;
        let span = session.span("tools/list", "");
        let started = Instant::now();
        match session.list_tools(options).instrument(span.clone()).await {
            Ok(tools) => {
                self.inner
                    .observe(key, &Outcome::Answered(started.elapsed()));
                Ok((tools, generation))
            }
            Err(error) => {
                trace::errored(&span, &error);
                self.inner.observe(key, &Outcome::Failed(&error));
                self.inner.authorizing(key, Err(error)).await
            }
        }
    }
}
