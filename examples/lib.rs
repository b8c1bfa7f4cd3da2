//! Runnable examples for the `integrations` crates; see the `*.rs` files in
//! this folder and run one with `cargo run --example NAME`.

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
