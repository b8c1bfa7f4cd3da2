//! MCP pool: servers from TOML, tool calls, a crash and the automatic
//! reconnect, and the `--mcp-config` file for Claude.
//!
//! The example starts the workspace's demo MCP server (it runs itself with
//! `--demo-server`, so nothing needs installing), then:
//! tests the connection, lists tools, calls a few (four at once on one
//! session), crashes the server mid-session and shows the next call
//! reconnecting, and writes the `mcpServers` file an agent would read,
//! printing its path and its content with secrets redacted.
//!
//! ```sh
//! cargo run --example mcp_pool
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`; try
//! `RUST_LOG=debug` to watch the machinery, `RUST_LOG=off` for silence).

use std::time::Duration;

use integrations_core::id::ServerName;
use integrations_core::{Config, TenantId};
use integrations_mcp::client::{ToolResultExt, test_server};
use integrations_mcp::{ClaudeConfigFile, McpPool, SessionKey, Toolbox};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--demo-server") {
        return integrations_mcp_demo::run(&args[1..]).await;
    }
    integrations_examples::init_tracing();

    // The config a host would load; the token comes from the environment,
    // with a default so the example runs anywhere.
    let me = std::env::current_exe()?;
    let config = Config::from_toml_str(&format!(
        r#"
        [agents.mcp.demo]
        command = {me:?}
        args = ["--demo-server"]
        env = {{ DEMO_TOKEN = "${{DEMO_TOKEN:-example-secret-token}}" }}
        "#,
        me = me.display().to_string()
    ))?;

    let probe = test_server(
        &ServerName::from_static("demo"),
        &config.mcp_servers()["demo"],
        Duration::from_secs(10),
    )
    .await;
    println!(
        "connection test: ok={} in {:?}, server {:?}, {} tools",
        probe.success(),
        probe.response_time,
        probe.server,
        probe.tools.len()
    );

    let pool = McpPool::builder()
        .servers(config.mcp_servers().clone())
        .call_timeout(Duration::from_secs(5))
        .build();
    let key = SessionKey::new(TenantId::new("alice")?, ServerName::from_static("demo"));
    let toolbox = Toolbox::new(pool.clone(), key.tenant.clone())?;
    let list = toolbox.tools().await;
    if let Some(down) = list.unavailable.first() {
        return Err(format!("{} is {}: {}", down.server, down.health.state, down.error).into());
    }
    let names: Vec<String> = list.tools.into_iter().map(|tool| tool.name).collect();
    println!("tools for the agent: {}", names.join(", "));

    let echoed = pool
        .call_tool(&key, "echo", json!({"text": "hello from the pool"}))
        .await?;
    println!("echo -> {}", echoed.text());
    let token = pool
        .call_tool(&key, "env", json!({"name": "DEMO_TOKEN"}))
        .await?;
    println!(
        "the server received its token from the config ({} chars)",
        token.text().len()
    );

    let sleeps = (0..4).map(|_| pool.call_tool(&key, "sleep", json!({"ms": 200})));
    for result in futures_util::future::join_all(sleeps).await {
        println!("sleep -> {}", result?.text());
    }

    let pid = pool.get(&key).await?.pid();
    match pool.call_tool(&key, "crash", json!({"code": 3})).await {
        Ok(_) => println!("crash: the server did not crash?"),
        Err(error) => println!("crash: {error}"),
    }
    let echoed = pool
        .call_tool(&key, "echo", json!({"text": "after the crash"}))
        .await?;
    let new_pid = pool.get(&key).await?.pid();
    println!(
        "echo -> {} (server pid {pid:?} replaced by {new_pid:?})",
        echoed.text()
    );
    let metrics = pool.metrics();
    println!(
        "pool: {} session, {} connects, {} reconnect, {} calls, {} errors",
        metrics.sessions, metrics.connects, metrics.reconnects, metrics.calls, metrics.errors
    );

    let file = ClaudeConfigFile::write(config.mcp_servers()).await?;
    println!(
        "claude --mcp-config {}\n{}",
        file.path().display(),
        file.redacted()
    );

    pool.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
