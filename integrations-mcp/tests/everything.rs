//! The pool against a third-party server from npm:
//! `@modelcontextprotocol/server-everything`, pinned in `testing/npm`.

mod support;

use std::time::Duration;

use integrations_core::id::ServerName;
use integrations_mcp::client::{ToolResultExt, test_server};
use integrations_mcp::{CallOptions, Error, McpPool, SessionKey};
use serde_json::json;
use support::{assert_no_process, everything, tenant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_through_the_pool() {
    let tag = "everything-pool";
    let Some(config) = everything(tag) else {
        return;
    };
    let probe = test_server(
        &ServerName::from_static("everything"),
        &config,
        Duration::from_secs(30),
    )
    .await;
    assert!(probe.success(), "{:?}", probe.error);
    assert_eq!(probe.server.as_ref().unwrap().0, "mcp-servers/everything");
    assert!(probe.tools.iter().any(|t| t == "echo"), "{:?}", probe.tools);

    let pool = McpPool::builder()
        .server(ServerName::from_static("everything"), config)
        .call_timeout(Duration::from_secs(20))
        .close_grace(Duration::from_secs(1))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("everything"));
    let session = pool.get(&key).await.unwrap();
    assert_eq!(
        session.server_info().unwrap().protocol_version.as_str(),
        "2025-11-25"
    );
    // It announces a tool list change once connected; the pool hears it and
    // lists the tools afresh.
    for _ in 0..100 {
        if session.tool_list_changes() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        session.tool_list_changes() > 0,
        "the list_changed notification arrived"
    );
    let tools = pool.list_tools(&key).await.unwrap();
    assert!(tools.iter().any(|t| t.name == "get-sum"));

    let echoed = pool
        .call_tool(&key, "echo", json!({"message": "hi there"}))
        .await
        .unwrap();
    assert!(echoed.text().contains("hi there"), "{}", echoed.text());

    // Concurrent calls on the one session.
    let mut sums = tokio::task::JoinSet::new();
    for n in 0..16 {
        let (pool, key) = (pool.clone(), key.clone());
        sums.spawn(async move {
            (
                n,
                pool.call_tool(&key, "get-sum", json!({"a": n, "b": 1000}))
                    .await,
            )
        });
    }
    while let Some(done) = sums.join_next().await {
        let (n, result) = done.unwrap();
        assert!(result.unwrap().text().contains(&(n + 1000).to_string()));
    }

    // A long operation against a short timeout; the session survives.
    let err = pool
        .call_tool_with(
            &key,
            "trigger-long-running-operation",
            json!({"duration": 10, "steps": 5}),
            CallOptions::new().timeout(Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let echoed = pool
        .call_tool(&key, "echo", json!({"message": "after"}))
        .await
        .unwrap();
    assert!(echoed.text().contains("after"));

    // Its environment holds only what the config names and the safe few.
    let env = pool.call_tool(&key, "get-env", json!({})).await.unwrap();
    assert!(
        !env.text().contains("CARGO_MANIFEST_DIR"),
        "host variables leaked: {}",
        env.text()
    );
    assert_eq!(pool.metrics().connects, 1);

    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// `npx` starts `npm exec -> sh -> node`: killing only the direct child
/// would leave the server running. The pool kills the process group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_npx_started_server_leaves_no_process_behind() {
    let tag = "everything-npx";
    if everything(tag).is_none() {
        return;
    }
    let npm_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testing/npm");
    let config = integrations_core::config::StdioServer::new(
        integrations_core::config::ConfigString::plain("npx"),
    )
    .args([
        "--no-install",
        "mcp-server-everything",
        "stdio",
        "--tag",
        tag,
    ])
    .cwd(npm_dir);
    let pool = McpPool::builder()
        .server(ServerName::from_static("everything"), config.into())
        .handshake_timeout(Duration::from_secs(60))
        .close_grace(Duration::from_millis(500))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("everything"));
    let echoed = pool
        .call_tool(&key, "echo", json!({"message": "via npx"}))
        .await
        .unwrap();
    assert!(echoed.text().contains("via npx"));
    assert!(
        support::processes_tagged(tag).len() >= 2,
        "npx runs the server under other processes: {:?}",
        support::processes_tagged(tag)
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}
