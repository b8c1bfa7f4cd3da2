//! The pool against real processes of the demo server: calls, concurrency,
//! timeouts and cancellation, list changes, faults, single flight, and no
//! child process left behind.

mod support;

use std::sync::Arc;
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::config::McpProtocol;
use integrations_core::id::ServerName;
use integrations_mcp::client::{ToolResultExt, test_server};
use integrations_mcp::{CallOptions, Error, McpPool, SessionKey, Toolbox};
use serde_json::json;
use support::{assert_no_process, demo, processes_tagged, tenant};
use tokio_util::sync::CancellationToken;

fn pool(name: &'static str, tag: &str, extra: &[&str]) -> McpPool {
    pool_speaking(name, tag, extra, McpProtocol::Auto)
}

fn pool_speaking(name: &'static str, tag: &str, extra: &[&str], protocol: McpProtocol) -> McpPool {
    McpPool::builder()
        .server(ServerName::from_static(name), demo(tag, extra))
        .protocol(protocol)
        .handshake_timeout(Duration::from_secs(10))
        .call_timeout(Duration::from_secs(20))
        .close_grace(Duration::from_millis(500))
        .build()
}

async fn stats(pool: &McpPool, key: &SessionKey) -> serde_json::Value {
    let result = pool.call_tool(key, "stats", json!({})).await.unwrap();
    serde_json::from_str(&result.text()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initializes_lists_tools_and_calls() {
    let tag = "pool-basic";
    let pool = pool("demo", tag, &[]);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let session = pool.get(&key).await.unwrap();
    let info = session.server_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().unwrap().name,
        "integrations-mcp-demo"
    );
    // The demo server (rmcp) speaks both revisions: `auto` finds 2026-07-28.
    assert_eq!(info.protocol_version.as_str(), "2026-07-28");

    let tools = pool.list_tools(&key).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in ["echo", "sleep", "add_tool", "crash", "garbage"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let result = pool
        .call_tool(&key, "echo", json!({"text": "hello"}))
        .await
        .unwrap();
    assert_eq!(result.text(), "hello");

    // The server's environment: what the config names, not the host's.
    let setting = pool
        .call_tool(&key, "env", json!({"name": "DEMO_SETTING"}))
        .await
        .unwrap();
    assert_eq!(setting.text(), "from-config");
    let leaked = pool
        .call_tool(&key, "env", json!({"name": "CARGO_MANIFEST_DIR"}))
        .await
        .unwrap();
    assert!(
        std::env::var("CARGO_MANIFEST_DIR").is_ok(),
        "the test host has the variable"
    );
    assert_eq!(
        leaked.text(),
        "(unset)",
        "the host's environment is not passed on"
    );
    let path = pool
        .call_tool(&key, "env", json!({"name": "PATH"}))
        .await
        .unwrap();
    assert_ne!(path.text(), "(unset)");

    let metrics = pool.metrics();
    assert_eq!(
        (
            metrics.sessions,
            metrics.connects,
            metrics.calls,
            metrics.errors
        ),
        (1, 1, 4, 0)
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
    assert!(matches!(pool.get(&key).await, Err(Error::PoolClosed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_one_session_run_concurrently() {
    let tag = "pool-concurrent";
    let pool = pool("demo", tag, &[]);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (pool, key) = (pool.clone(), key.clone());
        calls.spawn(async move { pool.call_tool(&key, "sleep", json!({"ms": 1000})).await });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(
        stats(&pool, &key).await["max_in_flight"],
        8,
        "all eight sleeps were in flight at once"
    );
    assert_eq!(pool.metrics().connects, 1);
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// In both revisions. On 2026-07-28 the liveness check after a timeout
/// is `server/discover` (there is no `ping`): with `ping` the session was
/// found dead after every timeout and replaced (`cancelled` 0, two
/// connects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_cancellation_reach_the_server() {
    for protocol in [McpProtocol::Legacy, McpProtocol::Modern] {
        timeouts_and_cancellation(protocol).await;
    }
}

async fn timeouts_and_cancellation(protocol: McpProtocol) {
    let tag = "pool-timeout";
    let pool = pool_speaking("demo", tag, &[], protocol);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let err = pool
        .call_tool_with(
            &key,
            "sleep",
            json!({"ms": 60_000}),
            CallOptions::new().timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");

    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let call = {
        let (pool, key) = (pool.clone(), key.clone());
        tokio::spawn(async move {
            pool.call_tool_with(
                &key,
                "sleep",
                json!({"ms": 60_000}),
                CallOptions::new()
                    .timeout(Duration::from_secs(60))
                    .cancel(cancel.clone()),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    trigger.cancel();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");

    // The server was told both times (notifications/cancelled) and the
    // session still works.
    let mut cancelled = 0;
    for _ in 0..50 {
        cancelled = stats(&pool, &key).await["cancelled"].as_u64().unwrap();
        if cancelled == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cancelled, 2);
    assert_eq!(pool.metrics().connects, 1);
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// A 2026-07-28 list says how long it stays fresh (`ttlMs`): with 0 the
/// pool asks again every time; a 2025-11-25 list (no `ttlMs`) is kept
/// until a change, as the 60 s one is within its minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_list_is_kept_as_long_as_its_ttl_says() {
    for (protocol, ttl, kept) in [
        (McpProtocol::Modern, "0", false),
        (McpProtocol::Modern, "60000", true),
        (McpProtocol::Legacy, "0", true),
    ] {
        let tag = "pool-ttl";
        let pool = pool_speaking("demo", tag, &["--tools-ttl-ms", ttl], protocol);
        let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
        let first = pool.list_tools(&key).await.unwrap();
        let second = pool.list_tools(&key).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(
            Arc::ptr_eq(&first, &second),
            kept,
            "{protocol}, ttlMs {ttl}"
        );
        pool.shutdown(Duration::from_secs(2)).await;
        assert_no_process(tag).await;
    }
}

/// In both revisions: on 2026-07-28 the change arrives on the session's
/// `subscriptions/listen` stream (the demo server sends it nowhere else).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_list_is_cached_and_refreshed_on_list_changed() {
    for protocol in [McpProtocol::Legacy, McpProtocol::Modern] {
        tool_list_changes(protocol).await;
    }
}

async fn tool_list_changes(protocol: McpProtocol) {
    let tag = "pool-list-changed";
    let pool = pool_speaking("demo", tag, &[], protocol);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let before = pool.list_tools(&key).await.unwrap();
    let again = pool.list_tools(&key).await.unwrap();
    assert!(Arc::ptr_eq(&before, &again), "served from the cache");

    let session = pool.get(&key).await.unwrap();
    assert_eq!(session.tool_list_changes(), 0);
    pool.call_tool(&key, "add_tool", json!({"name": "late_tool"}))
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..50 {
        names = pool
            .list_tools(&key)
            .await
            .unwrap()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        if names.iter().any(|n| n == "late_tool") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(names.iter().any(|n| n == "late_tool"), "{names:?}");
    assert_eq!(session.tool_list_changes(), 1);

    let toolbox = Toolbox::new(pool.clone(), tenant()).unwrap();
    let tools = toolbox.tools().await.tools;
    assert!(tools.iter().any(|t| t.name == "demo__late_tool"));
    let echoed = toolbox
        .call("demo__late_tool", json!({"text": "namespaced"}))
        .await
        .unwrap();
    assert_eq!(echoed.text(), "namespaced");
    assert!(matches!(
        toolbox.call("other__echo", json!({})).await,
        Err(Error::UnknownTool { .. })
    ));
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// A 2026-07-28 server announces a change only on an open
/// `subscriptions/listen` stream: a session is handed out once its stream
/// is open, so a change made at once on a fresh session is not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_on_a_fresh_session_is_announced() {
    let tag = "pool-fresh-change";
    let pool = pool_speaking("demo", tag, &[], McpProtocol::Modern);
    for round in 0..10 {
        let key = SessionKey::new(
            TenantId::new(format!("fresh-{round}")).unwrap(),
            ServerName::from_static("demo"),
        );
        let session = pool.get(&key).await.unwrap();
        pool.call_tool(&key, "add_tool", json!({"name": "late_tool"}))
            .await
            .unwrap();
        let mut changes = 0;
        for _ in 0..100 {
            changes = session.tool_list_changes();
            if changes == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(changes, 1, "round {round}: the change was not announced");
        pool.close(&key).await;
    }
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// rmcp waits up to 5 s after stdin ends for the handlers in flight, and
/// a 2026-07-28 session always has one (`subscriptions/listen`): the demo
/// server ends it when its client leaves, so closing a session stops the
/// server by itself, well within a 1 s grace, instead of being killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_2026_session_lets_its_server_exit_by_itself() {
    let tag = "pool-exit-by-itself";
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let log_arg = log.to_str().unwrap();
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("demo"),
            demo(tag, &["--call-log", log_arg]),
        )
        .protocol(McpProtocol::Modern)
        .close_grace(Duration::from_secs(1))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    pool.call_tool(&key, "echo", json!({"text": "hi"}))
        .await
        .unwrap();
    assert!(pool.close(&key).await);
    assert_no_process(tag).await;
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        ["echo", "(exited)"],
        "{calls}"
    );
    pool.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_call_fails_the_call_and_is_replaced() {
    let tag = "pool-crash";
    let pool = pool("demo", tag, &[]);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let first_pid = pool.get(&key).await.unwrap().pid().unwrap();

    let slow = {
        let (pool, key) = (pool.clone(), key.clone());
        tokio::spawn(async move { pool.call_tool(&key, "sleep", json!({"ms": 60_000})).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let crash = pool
        .call_tool(&key, "crash", json!({"code": 9}))
        .await
        .unwrap_err();
    assert!(matches!(crash, Error::SessionClosed { .. }), "{crash:?}");
    // Typed and prompt: SessionClosed, not the 20 s call timeout.
    let err = slow.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::SessionClosed { .. }), "{err:?}");

    let result = pool
        .call_tool(&key, "echo", json!({"text": "back"}))
        .await
        .unwrap();
    assert_eq!(result.text(), "back");
    let second_pid = pool.get(&key).await.unwrap().pid().unwrap();
    assert_ne!(first_pid, second_pid);
    let metrics = pool.metrics();
    assert_eq!((metrics.connects, metrics.reconnects), (2, 1));
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_stdout_does_not_wedge_the_pool() {
    let tag = "pool-garbage";
    let pool = pool("demo", tag, &[]);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    // Whether rmcp skips the line or drops the session, the call returns
    // and the next one succeeds.
    let _ = pool.call_tool(&key, "garbage", json!({})).await;
    let result = pool
        .call_tool(&key, "echo", json!({"text": "still here"}))
        .await
        .unwrap();
    assert_eq!(result.text(), "still here");

    let noisy = pool_with_extra("noisy", "pool-garbage-start", &["--garbage-at-start"]);
    let noisy_key = SessionKey::new(tenant(), ServerName::from_static("noisy"));
    match noisy
        .call_tool(&noisy_key, "echo", json!({"text": "x"}))
        .await
    {
        Ok(result) => assert_eq!(result.text(), "x"),
        Err(error) => assert!(
            matches!(error, Error::Handshake { .. } | Error::Exited { .. }),
            "{error:?}"
        ),
    }
    noisy.shutdown(Duration::from_secs(5)).await;
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
    assert_no_process("pool-garbage-start").await;
}

fn pool_with_extra(name: &'static str, tag: &str, extra: &[&str]) -> McpPool {
    McpPool::builder()
        .server(ServerName::from_static(name), demo(tag, extra))
        .handshake_timeout(Duration::from_millis(1500))
        .close_grace(Duration::from_millis(300))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_failures_are_reported_so_a_person_can_act() {
    // Exits at start: status and stderr.
    let exits = test_server(
        &ServerName::from_static("broken"),
        &demo("pool-exit", &["--exit-at-start", "7"]),
        Duration::from_secs(10),
    )
    .await;
    assert!(!exits.success());
    let Some(Error::Exited { status, stderr, .. }) = &exits.error else {
        panic!("{:?}", exits.error);
    };
    assert_eq!(*status, Some(7));
    assert!(stderr.contains("missing configuration"), "{stderr}");

    // Hangs: handshake timeout.
    let hangs = test_server(
        &ServerName::from_static("hung"),
        &demo("pool-hang", &["--hang-at-start"]),
        Duration::from_millis(500),
    )
    .await;
    assert!(
        matches!(hangs.error, Some(Error::HandshakeTimeout { .. })),
        "{:?}",
        hangs.error
    );

    // No such command.
    let missing = integrations_core::config::StdioServer::new(
        integrations_core::config::ConfigString::plain("/nonexistent/mcp-server"),
    );
    let missing = test_server(
        &ServerName::from_static("missing"),
        &missing.into(),
        Duration::from_secs(5),
    )
    .await;
    let Some(Error::Spawn { source, .. }) = &missing.error else {
        panic!("{:?}", missing.error)
    };
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);

    // A healthy server: name, version, capabilities and tools.
    let fine = test_server(
        &ServerName::from_static("fine"),
        &demo("pool-probe", &[]),
        Duration::from_secs(10),
    )
    .await;
    assert!(fine.success(), "{:?}", fine.error);
    assert_eq!(fine.server.as_ref().unwrap().0, "integrations-mcp-demo");
    assert_eq!(fine.capabilities["tools"]["listChanged"], true);
    assert!(fine.tools.contains(&"echo".to_owned()));

    // Through the pool, the same errors, and backoff after failures.
    let pool = pool_with_extra("broken", "pool-exit", &["--exit-at-start", "7"]);
    let key = SessionKey::new(tenant(), ServerName::from_static("broken"));
    for _ in 0..2 {
        assert!(matches!(
            pool.get(&key).await,
            Err(Error::Exited {
                status: Some(7),
                ..
            })
        ));
    }
    assert_eq!(pool.metrics().connect_failures, 2);
    assert!(matches!(
        pool.get(&SessionKey::new(tenant(), ServerName::from_static("nope")))
            .await,
        Err(Error::UnknownServer { .. })
    ));
    pool.shutdown(Duration::from_secs(5)).await;
    for tag in ["pool-exit", "pool-hang", "pool-probe"] {
        assert_no_process(tag).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_gets_of_a_cold_key_spawn_one_process() {
    let tag = "pool-single-flight";
    let pool = pool("demo", tag, &[]);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let mut gets = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (pool, key) = (pool.clone(), key.clone());
        gets.spawn(async move { pool.get(&key).await.map(|session| session.pid()) });
    }
    let mut pids = std::collections::BTreeSet::new();
    while let Some(done) = gets.join_next().await {
        pids.insert(done.unwrap().unwrap());
    }
    assert_eq!(pids.len(), 1, "one session for every caller");
    assert_eq!(
        processes_tagged(tag).len(),
        1,
        "exactly one process was spawned"
    );
    assert_eq!(pool.metrics().connects, 1);
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_close_and_the_least_recently_used_is_evicted() {
    let pool = McpPool::builder()
        .server(ServerName::from_static("a"), demo("pool-lru-a", &[]))
        .server(ServerName::from_static("b"), demo("pool-lru-b", &[]))
        .max_sessions(1)
        .idle_timeout(Duration::from_millis(400))
        .close_grace(Duration::from_millis(300))
        .build();
    pool.get(&SessionKey::new(tenant(), ServerName::from_static("a")))
        .await
        .unwrap();
    pool.get(&SessionKey::new(tenant(), ServerName::from_static("b")))
        .await
        .unwrap();
    assert_no_process("pool-lru-a").await;
    assert_eq!(pool.metrics().evicted, 1);
    assert_no_process("pool-lru-b").await; // closed once idle
    assert_eq!(pool.metrics().idle_closed, 1);
    assert_eq!(pool.metrics().sessions, 0);
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_server_emits_progress_when_asked_with_a_token() {
    let tag = "pool-progress";
    let pool = pool("demo", tag, &[]);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let result = pool
        .call_tool(&key, "progress", json!({"steps": 3}))
        .await
        .unwrap();
    assert_eq!(
        result.text(),
        "done after 3 steps, 3 progress notifications sent"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_is_replaced_after_a_timeout() {
    let tag = "pool-freeze";
    let pool = McpPool::builder()
        .server(ServerName::from_static("demo"), demo(tag, &[]))
        .close_grace(Duration::from_millis(300))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let first = pool.get(&key).await.unwrap().pid();
    let err = pool
        .call_tool_with(
            &key,
            "freeze",
            json!({"ms": 120_000}),
            CallOptions::new().timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");

    // A ping after the timeout goes unanswered (5 s), the session is marked
    // dead, and the next get replaces it.
    let mut current = first;
    for _ in 0..200 {
        current = pool.get(&key).await.unwrap().pid();
        if current != first {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(current, first, "the frozen session was replaced");
    let result = pool
        .call_tool(&key, "echo", json!({"text": "alive"}))
        .await
        .unwrap();
    assert_eq!(result.text(), "alive");
    assert_eq!(pool.metrics().reconnects, 1);
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await; // the frozen process included
}

/// Review item 5: a call whose caller dropped its future stayed counted in
/// flight, so its session never counted as idle and was never closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_dropped_mid_flight_let_the_session_go_idle() {
    let tag = "pool-dropped-calls";
    let pool = McpPool::builder()
        .server(ServerName::from_static("demo"), demo(tag, &[]))
        .idle_timeout(Duration::from_millis(500))
        .close_grace(Duration::from_millis(300))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    pool.get(&key).await.unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (pool, key) = (pool.clone(), key.clone());
        calls.spawn(async move { pool.call_tool(&key, "sleep", json!({"ms": 120_000})).await });
    }
    // All hundred reach the server, then their callers give up.
    for _ in 0..200 {
        if stats(&pool, &key).await["max_in_flight"] == 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stats(&pool, &key).await["max_in_flight"], 100);
    calls.abort_all();
    while calls.join_next().await.is_some() {}

    assert_no_process(tag).await; // idle-closed
    assert_eq!(pool.metrics().idle_closed, 1);
    pool.shutdown(Duration::from_secs(5)).await;
}

/// Review item 6: `Debug` took `servers` then `slots`, `get` the reverse,
/// so formatting the pool during cold gets could deadlock.
#[test]
fn formatting_the_pool_during_cold_gets_does_not_deadlock() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pool = McpPool::builder()
        .server(ServerName::from_static("demo"), demo("pool-debug", &[]))
        .build();
    let (done, finished) = std::sync::mpsc::channel();
    let formatter = {
        let (pool, done) = (pool.clone(), done.clone());
        std::thread::spawn(move || {
            for _ in 0..20_000 {
                assert!(format!("{pool:?}").contains("demo"));
            }
            let _ = done.send(());
        })
    };
    for worker in 0..2 {
        let (pool, done) = (pool.clone(), done.clone());
        runtime.spawn(async move {
            for i in 0..20_000 {
                // Unknown servers: the cold path, which reads the server
                // list while it holds the slots.
                let key = SessionKey::new(
                    tenant(),
                    ServerName::new(format!("missing-{worker}-{i}")).unwrap(),
                );
                assert!(matches!(
                    pool.get(&key).await,
                    Err(Error::UnknownServer { .. })
                ));
            }
            let _ = done.send(());
        });
    }
    for _ in 0..3 {
        if finished.recv_timeout(Duration::from_secs(60)).is_err() {
            // Deadlocked threads never finish: leave them behind.
            runtime.shutdown_background();
            panic!("formatting and cold gets did not finish: a lock-order deadlock");
        }
    }
    formatter.join().unwrap();
}

/// Review item 7: a connect still in progress at shutdown used to finish
/// afterwards and hand out an untracked session whose server outlived the
/// pool. Now shutdown stops it: the callers get `PoolClosed` and no
/// process is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_in_progress_at_shutdown_leave_nothing_behind() {
    let (slow, hung) = ("pool-shutdown-slow", "pool-shutdown-hung");
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("slow"),
            demo(slow, &["--start-delay", "1500"]),
        )
        .server(
            ServerName::from_static("hung"),
            demo(hung, &["--hang-at-start"]),
        )
        .handshake_timeout(Duration::from_secs(60))
        .close_grace(Duration::from_millis(300))
        .build();
    let mut gets = tokio::task::JoinSet::new();
    for i in 0..6 {
        let server = if i % 2 == 0 { "slow" } else { "hung" };
        let (pool, key) = (
            pool.clone(),
            SessionKey::new(tenant(), ServerName::from_static(server)),
        );
        gets.spawn(async move { pool.get(&key).await });
    }
    for _ in 0..200 {
        if processes_tagged(slow).len() == 1 && processes_tagged(hung).len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        (processes_tagged(slow).len(), processes_tagged(hung).len()),
        (1, 1),
        "both servers are starting"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    while let Some(result) = gets.join_next().await {
        let result = result.unwrap();
        assert!(matches!(result, Err(Error::PoolClosed)), "{result:?}");
    }
    // The slow server would have finished its handshake by now.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(
        processes_tagged(slow).is_empty(),
        "{:?}",
        processes_tagged(slow)
    );
    assert!(
        processes_tagged(hung).is_empty(),
        "{:?}",
        processes_tagged(hung)
    );
    assert!(matches!(
        pool.get(&SessionKey::new(tenant(), ServerName::from_static("slow")))
            .await,
        Err(Error::PoolClosed)
    ));
}

/// Review item 9: one server down failed the whole tool list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toolbox_lists_the_tools_of_the_servers_that_answer() {
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("demo"),
            demo("pool-toolbox-up", &[]),
        )
        .server(
            ServerName::from_static("broken"),
            demo("pool-toolbox-down", &["--exit-at-start", "4"]),
        )
        .close_grace(Duration::from_millis(300))
        .build();
    let toolbox = Toolbox::new(pool.clone(), tenant()).unwrap();
    let list = toolbox.tools().await;
    assert!(!list.is_complete());
    assert!(list.tools.iter().any(|tool| tool.name == "demo__echo"));
    assert!(list.tools.iter().all(|tool| tool.server == "demo"));
    assert_eq!(list.unavailable.len(), 1);
    let broken = &list.unavailable[0];
    assert_eq!(broken.server, "broken");
    let error = &broken.error;
    assert!(
        matches!(
            error,
            Error::Exited {
                status: Some(4),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        Toolbox::with_servers(pool.clone(), tenant(), [ServerName::from_static("a__b")]).is_err()
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("pool-toolbox-up").await;
}

/// Review item 10: `build` panicked outside a tokio runtime.
#[test]
fn a_pool_is_built_outside_a_runtime_and_used_inside_one() {
    let pool = McpPool::builder()
        .server(
            ServerName::from_static("demo"),
            demo("pool-no-runtime", &[]),
        )
        .idle_timeout(Duration::from_millis(300))
        .close_grace(Duration::from_millis(300))
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
        let echoed = pool
            .call_tool(&key, "echo", json!({"text": "hi"}))
            .await
            .unwrap();
        assert_eq!(echoed.text(), "hi");
        // The idle reaper started with the first session.
        assert_no_process("pool-no-runtime").await;
        assert_eq!(pool.metrics().idle_closed, 1);
        pool.shutdown(Duration::from_secs(5)).await;
    });
}

/// Review item 16: a server that reads its input but never answers
/// `initialize` was reported as `Exited` (status 0: the pool closed its
/// input first), after the timeout plus half a second.
#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_is_a_handshake_timeout_on_time() {
    let silent = integrations_core::config::StdioServer::new(
        integrations_core::config::ConfigString::plain("sh"),
    )
    .args(["-c", "cat > /dev/null # pool-silent"]);
    let limit = Duration::from_secs(30);
    let pool = McpPool::builder()
        .server(ServerName::from_static("silent"), silent.into())
        .handshake_timeout(limit)
        .build();
    let started = tokio::time::Instant::now();
    let err = pool
        .get(&SessionKey::new(
            tenant(),
            ServerName::from_static("silent"),
        ))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, Error::HandshakeTimeout { after, .. } if after == limit),
        "{err:?}"
    );
    // Tokio's paused clock: exactly the limit, not the limit plus a wait.
    assert!(
        took >= limit && took < limit + Duration::from_millis(50),
        "{took:?}"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("pool-silent").await;
}

/// Review item 18: arguments that are not an object came back as a server
/// error although nothing reached a server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_are_not_an_object_are_refused_locally() {
    let tag = "pool-bad-arguments";
    let pool = McpPool::builder()
        .server(ServerName::from_static("demo"), demo(tag, &[]))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    for arguments in [json!([1, 2]), json!("text"), json!(3)] {
        let err = pool.call_tool(&key, "echo", arguments).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArguments { server, tool, .. } if server == "demo" && tool == "echo"),
            "{err:?}"
        );
        assert!(err.to_string().contains("must be a JSON object"), "{err}");
    }
    assert_eq!(pool.metrics().connects, 0, "no server was started");
    assert!(processes_tagged(tag).is_empty());
    let session = pool.get(&key).await.unwrap();
    assert!(matches!(
        session
            .call_tool("echo", json!(true), &CallOptions::new())
            .await,
        Err(Error::InvalidArguments { .. })
    ));
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// A user's trial: arguments the server refuses (JSON-RPC -32602) came back
/// as `Error::Server`, without the code; they are invalid arguments, and
/// the message says what the server said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_the_server_refuses_are_invalid_arguments() {
    let tag = "pool-server-refuses";
    let pool = McpPool::builder()
        .server(ServerName::from_static("demo"), demo(tag, &[]))
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let err = pool
        .call_tool(&key, "no_such_tool", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArguments { server, tool, message }
            if server == "demo" && tool == "no_such_tool" && message.contains("unknown tool")),
        "{err:?}"
    );
    assert!(!err.is_transient() && !err.needs_reauth());
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// A 2026-07-28 server may answer a call with a task (the tasks
/// extension): the pool polls it to its result, and cancels it at the
/// server when the call times out. A 2025-11-25 session gets the plain
/// result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_with_a_task_is_polled_to_its_result_or_cancelled() {
    let tag = "pool-tasks";
    let pool = pool_speaking("demo", tag, &[], McpProtocol::Modern);
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
    let result = pool
        .call_tool(&key, "long", json!({"ms": 300}))
        .await
        .unwrap();
    assert_eq!(result.text(), "worked 300 ms, as task-1");

    let err = pool
        .call_tool_with(
            &key,
            "long",
            json!({"ms": 60_000}),
            CallOptions::new().timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let mut cancelled = 0;
    for _ in 0..100 {
        cancelled = stats(&pool, &key).await["tasks_cancelled"]
            .as_u64()
            .unwrap();
        if cancelled == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        cancelled, 1,
        "the abandoned task was cancelled at the server"
    );
    assert_eq!(pool.metrics().connects, 1);
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;

    let pool = pool_speaking("demo", tag, &[], McpProtocol::Legacy);
    let result = pool
        .call_tool(&key, "long", json!({"ms": 10}))
        .await
        .unwrap();
    assert_eq!(result.text(), "worked 10 ms");
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}
