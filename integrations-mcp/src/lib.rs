//! MCP for `integrations`, on the official Rust SDK `rmcp`: a pool of client
//! sessions per (tenant, server) that stays healthy under concurrent use,
//! connection tests, one namespaced tool list across servers, and the
//! `mcpServers` JSON that agents such as Claude Code read.
//!
//! ```no_run
//! use std::time::Duration;
//! use integrations_core::{Config, TenantId};
//! use integrations_mcp::{McpPool, SessionKey, Toolbox};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::from_toml_str(r#"
//!     [agents.mcp.everything]
//!     command = "npx"
//!     args = ["-y", "@modelcontextprotocol/server-everything"]
//! "#)?;
//! let pool = McpPool::builder().servers(config.mcp_servers().clone()).build();
//! let tenant = TenantId::new("user-1")?;
//!
//! let reply = pool
//!     .call_tool(&SessionKey::new(tenant.clone(), "everything"), "echo", serde_json::json!({"message": "hi"}))
//!     .await?;
//! let toolbox = Toolbox::new(pool.clone(), tenant, None)?;
//! for tool in toolbox.tools().await? {
//!     println!("{}", tool.name); // everything__echo, ...
//! }
//! pool.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! This crate also builds `integrations-mcp-demo`, an MCP server for tests
//! and examples that can echo, sleep, change its tool list, crash and print
//! garbage on request.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bridge;
mod config;
pub mod demo;
mod error;
mod pool;
mod probe;
mod session;
mod toolbox;

pub use bridge::Bridge;
pub use config::{ClaudeConfigFile, servers_from_json};
pub use error::Error;
pub use integrations_core as core;
pub use integrations_core::{Config, HttpServer, McpServerEntry, StdioServer};
pub use pool::{McpPool, McpPoolBuilder, PoolMetrics, SessionKey};
pub use probe::{ConnectionTest, test_server};
pub use rmcp::model::{CallToolResult, Tool};
pub use session::Session;
pub use toolbox::{NamespacedTool, SEPARATOR, Toolbox};
