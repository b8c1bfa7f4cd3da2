//! The bridge, loaded with the conformance fixture, served over streamable
//! HTTP: `conformance-server [PORT]` prints its URL and serves until killed.

use std::sync::Arc;

use integrations_conformance::Fixture;
use integrations_core::id::ServerName;
use integrations_core::{Config, Registry, Runtime};
use integrations_mcp::Bridge;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // `protocol_error_job` panics on purpose: a line, not a backtrace.
    std::panic::set_hook(Box::new(|panic| eprintln!("conformance-server: {panic}")));
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mut registry = Registry::new();
    registry.register(Arc::new(Fixture))?;
    let config = Config::from_toml_str("[integrations]\nenabled = [\"conformance\"]")?;
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://localhost:{}/mcp", listener.local_addr()?.port());
    let bridge = Bridge::new(runtime)
        .with_name(ServerName::from_static("integrations-conformance"))
        .with_flat_names();
    bridge
        .serve_http(listener, tokio_util::sync::CancellationToken::new())
        .await;
    Ok(())
}
