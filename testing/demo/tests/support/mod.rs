//! Shared helpers: demo server configs and the process-table check.
#![allow(dead_code, unreachable_pub, unused_imports)]

use integrations_core::TenantId;
use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};

/// The demo server, this package's binary.
pub const DEMO: &str = env!("CARGO_BIN_EXE_integrations-mcp-demo");

/// A demo server config; `tag` marks its processes for [`assert_no_process`].
pub fn demo(tag: &str, extra: &[&str]) -> McpServerEntry {
    StdioServer::new(ConfigString::plain(DEMO))
        .args(["--tag", tag].iter().chain(extra).copied())
        .env("DEMO_SETTING", ConfigString::secret("from-config"))
        .into()
}

pub fn tenant() -> TenantId {
    TenantId::new("tenant-1").unwrap()
}

pub use integrations_fakes::process::{assert_no_process, processes_tagged};
