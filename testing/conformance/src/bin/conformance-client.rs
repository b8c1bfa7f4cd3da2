//! The pool's client for the conformance suite's client scenarios:
//! `conformance-client URL` connects over streamable HTTP, lists the tools,
//! and calls each one a scenario expects (`add_numbers`, `test_*`).

use std::time::Duration;

use integrations_core::TenantId;
use integrations_mcp::{Bridge, McpPool, SessionKey};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: conformance-client URL")?;
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    eprintln!("scenario {scenario}: connecting to {url}");
    let pool = McpPool::builder()
        .server("server", Bridge::http_entry(url))
        .call_timeout(Duration::from_secs(10))
        .build();
    let key = SessionKey::new(TenantId::new("conformance")?, "server");
    let result = async {
        let tools = pool.list_tools(&key).await?;
        for tool in tools.iter() {
            let arguments = match &*tool.name {
                "add_numbers" => json!({"a": 5, "b": 3}),
                name if name.starts_with("test_") => json!({}),
                _ => continue,
            };
            let outcome = pool.call_tool(&key, &tool.name, arguments).await;
            eprintln!("{}: {outcome:?}", tool.name);
        }
        Ok::<_, integrations_mcp::Error>(())
    }
    .await;
    pool.shutdown(Duration::from_secs(5)).await;
    result?;
    Ok(())
}
