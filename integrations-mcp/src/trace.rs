//! Spans for MCP requests, named and attributed as OpenTelemetry's MCP
//! semantic conventions say, and (feature `otel`) W3C trace context in
//! `_meta`: the pool sends its span's, the bridge parents on the client's.
//!
//! A span is named `{mcp.method.name} {target}` (`otel.name`), e.g.
//! `tools/call get_weather`, of kind client or server (`otel.kind`), with
//! `mcp.method.name`, `gen_ai.tool.name` and `gen_ai.operation.name =
//! execute_tool` for tool calls, `mcp.resource.uri` for reads,
//! `network.transport` (`pipe` for stdio, `tcp` for HTTP), `server.address`
//! and `server.port` for HTTP, and `error.type` when it failed
//! (`tool_error` when the tool answered `isError`), `mcp.protocol.version`,
//! `jsonrpc.request.id` (on the pool's side for `tools/call`, the id of the
//! call's first round; `resources/read` and `tools/list` go through rmcp's
//! helpers, which keep the id to themselves), and both sides'
//! `rpc.response.status_code` for a JSON-RPC error.

use rmcp::model::RequestMetaObject;
use tracing::Span;
use tracing::field::Empty;

/// Where a server is, for a client span.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    /// `pipe` or `tcp`.
    pub(crate) transport: &'static str,
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    /// `mcp.protocol.version`: the revision the handshake settled on.
    pub(crate) version: Option<String>,
}

impl Peer {
    pub(crate) fn of(config: &integrations_core::config::McpServerEntry) -> Self {
        use integrations_core::config::McpServerEntry;
        match config {
            McpServerEntry::Http(http) => {
                let url = http.url.expose();
                let authority = url
                    .split_once("://")
                    .map_or(url, |(_, rest)| rest)
                    .split(['/', '?', '#'])
                    .next()
                    .unwrap_or_default();
                // Never the user:password of a URL.
                let host_port = authority.rsplit('@').next().unwrap_or_default();
                let (address, port) = match host_port.strip_prefix('[') {
                    // [v6]:port
                    Some(v6) => match v6.split_once(']') {
                        Some((host, rest)) => (host, rest.strip_prefix(':')),
                        None => (v6, None),
                    },
                    None => match host_port.rsplit_once(':') {
                        Some((host, port)) => (host, Some(port)),
                        None => (host_port, None),
                    },
                };
                let default = if url.starts_with("https") { 443 } else { 80 };
                Self {
                    transport: "tcp",
                    address: Some(address.to_owned()),
                    port: Some(port.and_then(|port| port.parse().ok()).unwrap_or(default)),
                    version: None,
                }
            }
            _ => Self {
                transport: "pipe",
                address: None,
                port: None,
                version: None,
            },
        }
    }
}

/// The span of a request the pool sends.
///
/// Every field but `jsonrpc.request.id` (known once the request is sent,
/// [`request_id`]) is given as the span is made: each later `record` costs
/// a subscriber such as tracing-opentelemetry a lookup and a lock.
pub(crate) fn client(method: &'static str, target: &str, server: &str, peer: &Peer) -> Span {
    let of = |wanted: &str| (method == wanted).then_some(target);
    tracing::info_span!(
        "mcp.client",
        otel.name = %format!("{method} {target}").trim_end(),
        otel.kind = "client",
        mcp.method.name = method,
        gen_ai.tool.name = of("tools/call"),
        gen_ai.operation.name = of("tools/call").map(|_| "execute_tool"),
        gen_ai.prompt.name = of("prompts/get"),
        mcp.resource.uri = of("resources/read"),
        mcp.server = server,
        network.transport = peer.transport,
        server.address = peer.address.as_deref(),
        server.port = peer.port,
        mcp.protocol.version = peer.version.as_deref(),
        jsonrpc.request.id = Empty,
        error.type = Empty,
        rpc.response.status_code = Empty,
    )
}

/// Records the JSON-RPC id a client span's request went with.
pub(crate) fn request_id(span: &Span, id: &rmcp::model::RequestId) {
    span.record("jsonrpc.request.id", tracing::field::display(id));
}

/// The span of a request the bridge serves, a child of the client's span
/// when the request carried its context (feature `otel`), with the
/// request's `jsonrpc.request.id` and `mcp.protocol.version`.
pub(crate) fn server(
    method: &'static str,
    target: &str,
    context: &rmcp::service::RequestContext<rmcp::RoleServer>,
) -> Span {
    let of = |wanted: &str| (method == wanted).then_some(target);
    let meta = &context.meta;
    let version = meta.protocol_version().or_else(|| {
        context
            .peer
            .peer_info()
            .map(|client| client.protocol_version.clone())
    });
    let span = tracing::info_span!(
        "mcp.server",
        otel.name = %format!("{method} {target}").trim_end(),
        otel.kind = "server",
        mcp.method.name = method,
        gen_ai.tool.name = of("tools/call"),
        gen_ai.operation.name = of("tools/call").map(|_| "execute_tool"),
        gen_ai.prompt.name = of("prompts/get"),
        mcp.resource.uri = of("resources/read"),
        jsonrpc.request.id = %context.id,
        mcp.protocol.version = version.as_ref().map(|version| version.as_str()),
        error.type = Empty,
        rpc.response.status_code = Empty,
    );
    #[cfg(feature = "otel")]
    if let Some(parent) = w3c::extract(meta) {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let _ = span.set_parent(parent);
    }
    #[cfg(not(feature = "otel"))]
    let _ = meta;
    span
}

/// The span of a long action run as a task: `task {target}`, with
/// `mcp.task.id` (the id the client polls). It is no child of the
/// request's span in `tracing` (that span ends with the request, which is
/// answered at once with the task), but continues its trace: its
/// OpenTelemetry parent is the request's span (feature `otel`; without it,
/// it follows from it).
pub(crate) fn task(request: &Span, target: &str, task_id: &str) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "mcp.task",
        otel.name = %format!("task {target}"),
        otel.kind = "internal",
        mcp.task.id = task_id,
    );
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let _ = span.set_parent(request.context());
    }
    #[cfg(not(feature = "otel"))]
    span.follows_from(request);
    span
}

/// Records why a request failed: the error's kind, or `tool_error`.
pub(crate) fn failed(span: &Span, kind: &str) {
    span.record("error.type", kind);
}

/// Records why a request the pool sent failed: the error's kind, and the
/// JSON-RPC error code when the server answered with one.
pub(crate) fn errored(span: &Span, error: &crate::Error) {
    failed(span, error.type_name());
    if let Some(code) = error.rpc_code() {
        span.record("rpc.response.status_code", code.to_string().as_str());
    }
}

/// Records that the bridge answered a request with the JSON-RPC error
/// `code` (`error.type` and `rpc.response.status_code`, as the semantic
/// conventions say).
pub(crate) fn refused(span: &Span, code: i32) {
    let code = code.to_string();
    span.record("error.type", code.as_str());
    span.record("rpc.response.status_code", code.as_str());
}

/// Puts `span`'s context in `meta` (feature `otel`; nothing without it or
/// for a span not exported to OpenTelemetry). The span need not be
/// entered: the pool does not enter its request spans on every poll, which
/// a subscriber such as tracing-opentelemetry charges for.
pub(crate) fn inject(span: &Span, meta: &mut Option<RequestMetaObject>) {
    #[cfg(feature = "otel")]
    if let Some((traceparent, tracestate)) = w3c::of(span) {
        let meta = meta.get_or_insert_with(RequestMetaObject::default);
        meta.0.set_traceparent(traceparent);
        if !tracestate.is_empty() {
            meta.0.set_tracestate(tracestate);
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, meta);
}

/// W3C Trace Context (`traceparent`, `tracestate`) to and from
/// OpenTelemetry span contexts, written here so no global propagator needs
/// to be set.
#[cfg(feature = "otel")]
mod w3c {
    use opentelemetry::Context;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use rmcp::model::RequestMetaObject;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    /// `span`'s `traceparent` and `tracestate`, if it has a valid
    /// OpenTelemetry context.
    pub(super) fn of(span: &tracing::Span) -> Option<(String, String)> {
        let context = span.context();
        let span = context.span();
        let span = span.span_context();
        if !span.is_valid() {
            return None;
        }
        let traceparent = format!(
            "00-{}-{}-{:02x}",
            span.trace_id(),
            span.span_id(),
            span.trace_flags().to_u8()
        );
        Some((traceparent, span.trace_state().header()))
    }

    /// The remote parent `meta` names, if its `traceparent` is valid.
    pub(super) fn extract(meta: &RequestMetaObject) -> Option<Context> {
        let traceparent = meta.get_traceparent()?;
        let mut parts = traceparent.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let well_formed = version.len() == 2
            && version != "ff"
            && trace.len() == 32
            && span.len() == 16
            && flags.len() == 2
            && (version != "00" || parts.next().is_none());
        if !well_formed {
            return None;
        }
        let trace = TraceId::from_hex(trace).ok()?;
        let span = SpanId::from_hex(span).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        let state = meta
            .get_tracestate()
            .and_then(|state| state.parse::<TraceState>().ok())
            .unwrap_or_default();
        let parent = SpanContext::new(trace, span, TraceFlags::new(flags & 1), true, state);
        parent
            .is_valid()
            .then(|| Context::new().with_remote_span_context(parent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_peers_name_host_and_port_but_never_credentials() {
        use integrations_core::config::{ConfigString, HttpServer};
        let peer = |url: &str| Peer::of(&HttpServer::new(ConfigString::plain(url)).into());
        let p = peer("https://user:secret@mcp.example.com:8443/mcp?x=1");
        assert_eq!(
            (p.address.as_deref(), p.port),
            (Some("mcp.example.com"), Some(8443))
        );
        let p = peer("https://mcp.example.com/mcp");
        assert_eq!(
            (p.address.as_deref(), p.port),
            (Some("mcp.example.com"), Some(443))
        );
        assert_eq!(peer("http://127.0.0.1:9/mcp").port, Some(9));
        let v6 = peer("http://[::1]:8080/mcp");
        assert_eq!((v6.address.as_deref(), v6.port), (Some("::1"), Some(8080)));
        assert_eq!(p.transport, "tcp");
    }

    #[cfg(feature = "otel")]
    #[test]
    fn traceparents_are_read_only_when_well_formed() {
        use opentelemetry::trace::TraceContextExt;
        let meta = |value: &str| {
            let mut meta = RequestMetaObject::default();
            meta.0.set_traceparent(value);
            meta
        };
        let good = w3c::extract(&meta(
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
        ))
        .unwrap();
        assert_eq!(
            good.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7",
            "ff-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01-extra",
            "nonsense",
        ] {
            assert!(w3c::extract(&meta(bad)).is_none(), "{bad}");
        }
    }
}
