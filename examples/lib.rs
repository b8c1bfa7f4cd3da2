//! Runnable examples for the `integrations` crates; see the `*.rs` files in
//! this folder and run one with `cargo run --example NAME`.

pub mod protected_mcp;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), so
/// `RUST_LOG=integrations_mcp=debug cargo run --example mcp_pool` shows what
/// the pool does and `RUST_LOG=off` silences it.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

/// Spans recorded in memory, as OpenTelemetry would export them: what
/// [`record_spans`] installs.
pub type SpanRecorder = opentelemetry_sdk::trace::InMemorySpanExporter;

/// Sends `tracing` spans to OpenTelemetry (`tracing-opentelemetry`), kept
/// in memory, as a host exporting its traces would; logs still go to
/// stderr as [`init_tracing`] sends them. The returned provider must live
/// as long as spans are recorded.
pub fn record_spans() -> (SpanRecorder, opentelemetry_sdk::trace::SdkTracerProvider) {
    use opentelemetry::trace::TracerProvider;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let recorder = SpanRecorder::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(recorder.clone())
        .build();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("integrations")))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
    (recorder, provider)
}

/// The recorded spans as JSON, one object a span: `name`, `trace_id`,
/// `span_id`, `parent_span_id`, `kind` and `attributes`.
pub fn spans_json(recorder: &SpanRecorder) -> serde_json::Value {
    let spans = recorder.get_finished_spans().unwrap_or_default();
    spans
        .iter()
        .map(|span| {
            let attributes: serde_json::Map<String, serde_json::Value> = span
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string().into()))
                .collect();
            serde_json::json!({
                "name": span.name,
                "trace_id": span.span_context.trace_id().to_string(),
                "span_id": span.span_context.span_id().to_string(),
                "parent_span_id": span.parent_span_id.to_string(),
                "kind": format!("{:?}", span.span_kind),
                "attributes": attributes,
            })
        })
        .collect()
}

use tracing_subscriber::Layer as _;

/// Compiles the README's code example as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Compiles and runs the code of the guide to writing an integration.
#[cfg(doctest)]
#[doc = include_str!("../docs/integrations.md")]
pub struct IntegrationsGuide;

/// Compiles the code of the getting-started guide.
#[cfg(doctest)]
#[doc = include_str!("../docs/getting-started.md")]
pub struct GettingStartedGuide;

/// Compiles the code of the credentials guide.
#[cfg(doctest)]
#[doc = include_str!("../docs/credentials.md")]
pub struct CredentialsGuide;

/// Compiles the code of the vendor APIs guide.
#[cfg(doctest)]
#[doc = include_str!("../docs/vendor.md")]
pub struct VendorGuide;

/// Compiles the code of the mcp guide.
#[cfg(doctest)]
#[doc = include_str!("../docs/mcp.md")]
pub struct McpGuide;

/// Compiles the code of the export guide.
#[cfg(doctest)]
#[doc = include_str!("../docs/export.md")]
pub struct ExportGuide;

/// Compiles the code of the scaling guide.
#[cfg(doctest)]
#[doc = include_str!("../docs/scaling.md")]
pub struct ScalingGuide;
