//! `integrations-mcp-demo`: the demo MCP server of [`integrations_mcp_demo`],
//! for tests, examples and benchmarks that must run offline.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    integrations_mcp_demo::run(&args).await
}
