//! What a session asks its server: tool calls (with progress, rounds of
//! input and tasks), resource reads and subscriptions, the tool list.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rmcp::ServiceError;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, JsonObject,
    ReadResourceResponse, ServerResult, Tool,
};

use super::progress::Abandoned;
use super::{CachedTools, Session, rounds};
use crate::client::call::CallOptions;
use crate::error::Error;

impl Session {
    /// A request's `_meta`: the trace context of its span (feature
    /// `otel`), and on 2026-07-28 the log level the hooks asked for.
    fn meta(&self, span: &tracing::Span, meta: &mut Option<rmcp::model::RequestMetaObject>) {
        crate::trace::inject(span, meta);
        if let Some(level) = self.log_level {
            crate::level::set(meta, level);
        }
    }

    /// Calls a tool. `arguments` must be a JSON object (or `null` for
    /// none); anything else is [`Error::InvalidArguments`], and nothing is
    /// sent.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Value,
        options: &CallOptions,
    ) -> Result<CallToolResult, Error> {
        let arguments = crate::client::call::tool_arguments(&self.server, name, arguments)?;
        let span = self.span("tools/call", name);
        self.call_tool_object(&span, name, arguments, options).await
    }

    /// Calls a tool as the request `span` stands for (made, not entered,
    /// by the caller).
    pub(crate) async fn call_tool_object(
        &self,
        span: &tracing::Span,
        name: &str,
        arguments: Option<JsonObject>,
        options: &CallOptions,
    ) -> Result<CallToolResult, Error> {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        self.meta(span, &mut params.meta);
        let call = async {
            let mut waits = 0;
            for round in 0..rounds::MAX_ROUNDS {
                let first = (round == 0).then_some(span);
                let asked = match self.call_round(&params, options, first).await? {
                    CallToolResponse::Complete(result) => return Ok(result),
                    CallToolResponse::InputRequired(asked) => asked,
                    // Boxed: rare, and its future would grow every call's.
                    CallToolResponse::Task(task) => {
                        return Box::pin(self.task_result(task)).await;
                    }
                    _ => return Err(ServiceError::UnexpectedResponse),
                };
                (params.input_responses, params.request_state) =
                    Box::pin(self.next_round(asked, &mut waits)).await?;
            }
            Err(ServiceError::InputRequiredRoundsExceeded {
                max_rounds: rounds::MAX_ROUNDS,
            })
        };
        self.run(name, options, call).await
    }

    /// One round of a call, as rmcp's `call_tool_once` makes it, with the
    /// round's progress reports sent where `options` says (rmcp gives each
    /// request its own progress token, and the reports are routed by it)
    /// and, for the first round, its `jsonrpc.request.id` on `span`.
    async fn call_round(
        &self,
        params: &CallToolRequestParams,
        options: &CallOptions,
        span: Option<&tracing::Span>,
    ) -> Result<CallToolResponse, ServiceError> {
        let request = ClientRequest::CallToolRequest(rmcp::model::Request::new(params.clone()));
        let handle = self
            .peer
            .send_cancellable_request(request, rmcp::service::PeerRequestOptions::no_options())
            .await?;
        if let Some(span) = span {
            crate::trace::request_id(span, &handle.id);
        }
        if let Some(reports) = &options.progress {
            self.progress.route(&handle.progress_token, reports.clone());
        }
        // A call given up on (timeout, cancel) is cancelled at the server.
        let abandoned = Abandoned {
            peer: self.peer.clone(),
            id: Some(handle.id.clone()),
            tasks: self.tasks.clone(),
        };
        let response = handle.await_response().await;
        abandoned.disarm();
        Ok(match response? {
            ServerResult::CallToolResult(result) => CallToolResponse::Complete(result),
            ServerResult::InputRequiredResult(asked) => CallToolResponse::InputRequired(asked),
            ServerResult::CreateTaskResult(task) => CallToolResponse::Task(task),
            other => CallToolResponse::Complete(
                contentless(other).ok_or(ServiceError::UnexpectedResponse)?,
            ),
        })
    }

    /// Reads the resource at `uri`.
    pub async fn read_resource(
        &self,
        uri: &str,
        options: &CallOptions,
    ) -> Result<rmcp::model::ReadResourceResult, Error> {
        self.read_resource_as(&self.span("resources/read", uri), uri, options)
            .await
    }

    /// Reads the resource at `uri` as the request `span` stands for.
    pub(crate) async fn read_resource_as(
        &self,
        span: &tracing::Span,
        uri: &str,
        options: &CallOptions,
    ) -> Result<rmcp::model::ReadResourceResult, Error> {
        let mut params = rmcp::model::ReadResourceRequestParams::new(uri);
        self.meta(span, &mut params.meta);
        let read = async {
            let mut waits = 0;
            for _ in 0..rounds::MAX_ROUNDS {
                match self.peer.read_resource_once(params.clone()).await? {
                    ReadResourceResponse::Complete(result) => return Ok(result),
                    ReadResourceResponse::InputRequired(asked) => {
                        (params.input_responses, params.request_state) =
                            self.next_round(asked, &mut waits).await?;
                    }
                    _ => return Err(ServiceError::UnexpectedResponse),
                }
            }
            Err(ServiceError::InputRequiredRoundsExceeded {
                max_rounds: rounds::MAX_ROUNDS,
            })
        };
        self.run("resources/read", options, read).await
    }

    /// Asks the server to notify changes of the resource at `uri`; they
    /// reach [`ClientHooks::resource_updated`](crate::client::ClientHooks::resource_updated).
    /// On a 2026-07-28 session the session's `subscriptions/listen` stream
    /// is opened again with `uri` in its filter; this returns once the
    /// server acknowledged it.
    pub async fn subscribe(&self, uri: &str, options: &CallOptions) -> Result<(), Error> {
        if let Some(listening) = &self.listening {
            let listened = async {
                listening.add(uri).await;
                Ok(())
            };
            return self.run("subscriptions/listen", options, listened).await;
        }
        let params = rmcp::model::SubscribeRequestParams::new(uri);
        #[allow(deprecated)] // legacy-only: 2026-07-28 listens (above)
        let subscribing = self.peer.subscribe(params);
        self.run("resources/subscribe", options, subscribing).await
    }

    /// The server's tools, cached until it announces a change and, where
    /// the list says how long it stays fresh (`ttlMs`, MCP 2026-07-28),
    /// no longer (`0`: not kept). A session serves one tenant, so a list
    /// the server marks `private` is never seen by another.
    pub async fn list_tools(&self, options: &CallOptions) -> Result<Arc<Vec<Tool>>, Error> {
        let generation = self.tools_generation.load(Ordering::SeqCst);
        let stream = self
            .listening
            .as_ref()
            .and_then(|listening| listening.tools_stream());
        if let Some(cached) = &*self.tools.lock().unwrap_or_else(|e| e.into_inner())
            && cached.generation == generation
            && cached.stream == stream
            && stream.is_none_or(|stream| stream.is_open())
            && cached
                .fresh_until
                .is_none_or(|until| Instant::now() < until)
        {
            return Ok(Arc::clone(&cached.tools));
        }
        let listed = self
            .run(
                "tools/list",
                options,
                self.peer.list_all_tools_with_cache_hint(),
            )
            .await?;
        let tools = Arc::new(listed.items);
        *self.tools.lock().unwrap_or_else(|e| e.into_inner()) = Some(CachedTools {
            generation,
            stream,
            fresh_until: listed
                .ttl_ms
                .map(|ms| Instant::now() + Duration::from_millis(ms)),
            tools: Arc::clone(&tools),
        });
        Ok(tools)
    }
}

/// A call's answer with no content, read as rmcp's `call_tool_once` reads
/// it: an empty result, a task acknowledgement, or a result of only
/// `_meta`.
fn contentless(result: ServerResult) -> Option<CallToolResult> {
    let mut empty = CallToolResult::default();
    (empty.result_type, empty.meta) = match result {
        ServerResult::EmptyResult(_) => (None, None),
        ServerResult::TaskAckResult(ack) => (Some(ack.result_type), ack.meta),
        ServerResult::CustomResult(custom) => {
            let serde_json::Value::Object(mut only) = custom.0 else {
                return None;
            };
            let meta = only.remove("_meta")?;
            if !only.is_empty() {
                return None;
            }
            (None, Some(serde_json::from_value(meta).ok()?))
        }
        _ => return None,
    };
    Some(empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(result: serde_json::Value) -> ServerResult {
        serde_json::from_value(result).unwrap()
    }

    #[test]
    fn a_call_answered_with_no_content_is_an_empty_result_as_rmcp_reads_it() {
        let empty = contentless(answer(json!({}))).unwrap();
        assert!(empty.content.is_empty() && empty.result_type.is_none());
        let ack = contentless(answer(json!({"resultType": "complete"}))).unwrap();
        assert!(ack.result_type.is_some_and(|kind| kind.is_complete()));
        let meta = contentless(answer(json!({"_meta": {"k": 1}}))).unwrap();
        assert_eq!(meta.meta.unwrap().get("k"), Some(&json!(1)));
        assert!(contentless(answer(json!({"_meta": {}, "other": 1}))).is_none());
        assert!(contentless(answer(json!({"tools": []}))).is_none());
    }
}
