//! MCP for `integrations`, on the official Rust SDK `rmcp`: a pool of client
//! sessions per (tenant, server) that stays healthy under concurrent use,
//! connection tests, one namespaced tool list across servers, a bridge that
//! serves the host's own integrations to its agents as a complete MCP
//! server (tools, rich results, progress, logs, sampling and elicitation,
//! resources, prompts, completions), and the `mcpServers`
//! JSON that agents such as Claude Code read.
//!
//! ```
//! use integrations_core::config::Env;
//! use integrations_mcp::{ClaudeConfigFile, servers_from_json};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // Servers as Claude Code writes them, with a secret from the environment.
//! let env = Env::from_vars([("GITHUB_TOKEN", "ghp_example")]);
//! let servers = servers_from_json(r#"{"mcpServers": {
//!     "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
//!                "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}}
//! }}"#, &env)?;
//!
//! // The file for `claude --mcp-config`: private, and gone when dropped.
//! let file = ClaudeConfigFile::write(&servers).await?;
//! assert!(std::fs::read_to_string(file.path()).unwrap().contains("ghp_example"));
//! assert!(!file.redacted().contains("ghp_example"));
//! # Ok::<_, integrations_mcp::Error>(()) }).unwrap();
//! ```
//!
//! The pool, against servers from the host's config:
//!
//! ```no_run
//! use std::time::Duration;
//! use integrations_core::id::ServerName;
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
//! let everything = SessionKey::new(tenant.clone(), ServerName::new("everything")?);
//! let reply = pool
//!     .call_tool(&everything, "echo", serde_json::json!({"message": "hi"}))
//!     .await?;
//! let toolbox = Toolbox::new(pool.clone(), tenant)?;
//! for tool in toolbox.tools().await.tools {
//!     println!("{}", tool.name); // everything__echo, ...
//! }
//! pool.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `http` | no | streamable HTTP: the pool reaches `url` servers (reqwest, rustls) and the [`Bridge`] serves over HTTP (axum) |
//! | `otel` | no | W3C trace context in `_meta`: the pool sends its spans' context, the [`Bridge`] parents on the client's (`opentelemetry`, `tracing-opentelemetry`) |
//!
//! Stdio servers need no feature.
//!
//! # Related crates and guides
//!
//! [`integrations-core`](https://docs.rs/integrations-core) (config,
//! credentials, the runtime the bridge serves),
//! [`integrations-export`](https://docs.rs/integrations-export) (exports
//! through an MCP server's tools). Guide: [MCP servers](https://github.com/integrations-rs/integrations/blob/main/docs/mcp.md);
//! conformance: [CONFORMANCE.md](https://github.com/integrations-rs/integrations/blob/main/docs/CONFORMANCE.md).
//!
//! Minimum supported Rust version: 1.94.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod config;
mod eof;
mod error;
mod level;
pub mod server;
mod trace;

pub use client::{CallOptions, McpPool, SessionKey, Toolbox};
pub use config::{ClaudeConfigFile, servers_from_json};
pub use error::Error;
pub use integrations_core as core;
pub use rmcp;
pub use server::Bridge;
