//! MCP for `integrations`, on the official Rust SDK `rmcp`.
//!
//! **Status: skeleton.** The client pool, connection tests, tool aggregation
//! and the bridge that serves a registry as an MCP server are being built;
//! today this crate re-exports the typed MCP server entries that
//! `integrations-core` reads from `[agents.mcp.NAME]`.
//!
//! ```
//! use integrations_mcp::{core::Env, Config, McpServerEntry};
//!
//! let env = Env::from_vars([("GITHUB_TOKEN", "ghp_example")]);
//! let config = Config::from_toml_str_with_env(r#"
//!     [agents.mcp.github]
//!     command = "npx"
//!     args = ["-y", "@modelcontextprotocol/server-github"]
//!     env = { GITHUB_TOKEN = "env:GITHUB_TOKEN" }
//! "#, &env)?;
//! let McpServerEntry::Stdio(github) = &config.mcp_servers()["github"] else { unreachable!() };
//! assert_eq!(github.command.expose(), "npx");
//! assert_eq!(format!("{:?}", github.env["GITHUB_TOKEN"]), "[redacted]");
//! # Ok::<_, integrations_mcp::core::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use integrations_core as core;
pub use integrations_core::{Config, HttpServer, McpServerEntry, StdioServer};
