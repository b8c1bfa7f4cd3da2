//! The pool as a multi-tenant gateway, against real processes of the demo
//! server: closing a session or a tenant's, replacing a session whose
//! config changed, tool policies, and health states with their events.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::config::{ConfigString, McpServerEntry, StdioServer, ToolPolicy};
use integrations_core::events::{Event, EventKind, EventSink, SessionCloseReason};
use integrations_core::health::HealthState;
use integrations_core::id::ServerName;
use integrations_mcp::client::{HealthThresholds, ToolResultExt};
use integrations_mcp::{CallOptions, Error, McpPool, SessionKey, Toolbox};
use serde_json::json;
use support::{DEMO, assert_no_process, demo, processes_tagged};

/// Keeps every event.
#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<Vec<Event>>>);

#[async_trait::async_trait]
impl EventSink for Recorder {
    async fn record(&self, event: &Event) -> Result<(), integrations_core::Error> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

impl Recorder {
    fn kinds(&self) -> Vec<EventKind> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.kind.clone())
            .collect()
    }

    /// Waits (up to 5 s) until `count` events are recorded.
    async fn wait_for(&self, count: usize) -> Vec<EventKind> {
        for _ in 0..250 {
            if self.0.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kinds()
    }
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn pool(events: &Recorder) -> integrations_mcp::client::McpPoolBuilder {
    McpPool::builder()
        .events(events.clone())
        .handshake_timeout(Duration::from_secs(10))
        .close_grace(Duration::from_millis(500))
        .max_backoff(Duration::from_millis(200))
}

async fn pid(pool: &McpPool, key: &SessionKey) -> String {
    pool.call_tool(key, "pid", json!({})).await.unwrap().text()
}

fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_tenant_stops_its_processes_and_no_one_elses() {
    let events = Recorder::default();
    let pool = pool(&events).build();
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    for (who, tag) in [(&alice, "gw-close-alice"), (&bob, "gw-close-bob")] {
        pool.set_tenant_server(who.clone(), ServerName::from_static("one"), demo(tag, &[]));
        pool.set_tenant_server(who.clone(), ServerName::from_static("two"), demo(tag, &[]));
    }
    let keys = |who: &TenantId| {
        [
            SessionKey::new(who.clone(), ServerName::from_static("one")),
            SessionKey::new(who.clone(), ServerName::from_static("two")),
        ]
    };
    for key in keys(&alice).iter().chain(&keys(&bob)) {
        pid(&pool, key).await;
    }
    let bob_pids = processes_tagged("gw-close-bob");
    assert_eq!(processes_tagged("gw-close-alice").len(), 2);
    assert_eq!(bob_pids.len(), 2);

    assert_eq!(pool.close_tenant(&alice).await, 2);
    assert!(
        processes_tagged("gw-close-alice").is_empty(),
        "gone when it returns"
    );
    assert_eq!(processes_tagged("gw-close-bob"), bob_pids);
    assert_eq!(pool.metrics().sessions, 2);
    let closed: Vec<_> = events
        .wait_for(2)
        .await
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::SessionClosed {
                tenant,
                server,
                reason,
            } => Some((tenant, server, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 2, "{closed:?}");
    assert!(closed.iter().all(
        |(tenant, _, reason)| tenant == "alice" && *reason == SessionCloseReason::TenantClosed
    ));

    // One session closes alone; the tenant's next call starts another.
    let [one, _] = keys(&bob);
    let before = pid(&pool, &one).await;
    assert!(pool.close(&one).await);
    assert!(!alive(&before));
    assert!(!pool.close(&one).await, "nothing left to close");
    assert_ne!(pid(&pool, &one).await, before);
    let reason = events
        .wait_for(3)
        .await
        .into_iter()
        .find_map(|kind| match kind {
            EventKind::SessionClosed {
                tenant,
                reason: SessionCloseReason::Closed,
                ..
            } => Some(tenant),
            _ => None,
        });
    assert_eq!(reason.as_ref().map(TenantId::as_str), Some("bob"));

    // Removing a tenant's own server closes its session too.
    let [_, two] = keys(&bob);
    assert!(
        pool.remove_tenant_server(&bob, &ServerName::from_static("two"))
            .await
    );
    assert!(matches!(
        pool.call_tool(&two, "pid", json!({})).await,
        Err(Error::UnknownServer { .. })
    ));
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("gw-close-bob").await;
}

fn with_token(tag: &str, token: &str) -> McpServerEntry {
    StdioServer::new(ConfigString::plain(DEMO))
        .args(["--tag", tag])
        .env("SERVICE_TOKEN", ConfigString::secret(token))
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_reaches_the_next_call_and_calls_in_flight_finish() {
    let events = Recorder::default();
    let pool = pool(&events).build();
    let key = SessionKey::new(tenant("alice"), ServerName::from_static("service"));
    let token = || {
        let pool = pool.clone();
        let key = key.clone();
        async move {
            pool.call_tool(&key, "env", json!({"name": "SERVICE_TOKEN"}))
                .await
                .unwrap()
                .text()
        }
    };
    pool.set_tenant_server(
        key.tenant.clone(),
        ServerName::from_static("service"),
        with_token("gw-rotate", "v1"),
    );
    assert_eq!(token().await, "v1");
    let old = pid(&pool, &key).await;

    let in_flight = {
        let (pool, key) = (pool.clone(), key.clone());
        tokio::spawn(async move { pool.call_tool(&key, "sleep", json!({"ms": 600})).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    pool.set_tenant_server(
        key.tenant.clone(),
        ServerName::from_static("service"),
        with_token("gw-rotate", "v2"),
    );
    assert_eq!(
        token().await,
        "v2",
        "the next call reaches a process with the new token"
    );
    assert!(alive(&old), "the old process serves its call in flight");
    let slept = in_flight.await.unwrap().unwrap();
    assert_ne!(slept.is_error, Some(true), "the call in flight finished");
    let kinds = events.wait_for(1).await;
    assert!(
        kinds.contains(&EventKind::SessionClosed {
            tenant: TenantId::from_static("alice"),
            server: ServerName::from_static("service"),
            reason: SessionCloseReason::ConfigChanged,
        }),
        "{kinds:?}"
    );
    assert!(!alive(&old), "closed once its call finished");

    // The same config again replaces nothing.
    let new = pid(&pool, &key).await;
    pool.set_tenant_server(
        key.tenant.clone(),
        ServerName::from_static("service"),
        with_token("gw-rotate", "v2"),
    );
    assert_eq!(pid(&pool, &key).await, new);
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("gw-rotate").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_tool_is_neither_listed_nor_called() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let log_arg = log.to_str().unwrap();
    let McpServerEntry::Stdio(server) = demo("gw-policy", &["--call-log", log_arg]) else {
        unreachable!()
    };
    let server = server.tools(ToolPolicy::new(Vec::<String>::new(), ["crash", "env"]).unwrap());
    let events = Recorder::default();
    let pool = pool(&events)
        .server(ServerName::from_static("demo"), server.into())
        .build();
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    // Bob may use only the harmless tools of the shared server.
    pool.set_tenant_policy(
        bob.clone(),
        ServerName::from_static("demo"),
        ToolPolicy::new(["echo", "p*"], Vec::<String>::new()).unwrap(),
    );

    let names = |tools: &[rmcp::model::Tool]| -> Vec<String> {
        tools.iter().map(|tool| tool.name.to_string()).collect()
    };
    let for_alice = pool
        .list_tools(&SessionKey::new(
            alice.clone(),
            ServerName::from_static("demo"),
        ))
        .await
        .unwrap();
    let alice_names = names(&for_alice);
    assert!(alice_names.contains(&"sleep".to_owned()));
    assert!(!alice_names.contains(&"crash".to_owned()) && !alice_names.contains(&"env".to_owned()));
    let for_bob = pool
        .list_tools(&SessionKey::new(
            bob.clone(),
            ServerName::from_static("demo"),
        ))
        .await
        .unwrap();
    let bob_names = names(&for_bob);
    assert!(bob_names.contains(&"echo".to_owned()) && bob_names.contains(&"pid".to_owned()));
    assert!(
        bob_names
            .iter()
            .all(|name| name == "echo" || name.starts_with('p')),
        "{bob_names:?}"
    );

    for (who, tool) in [(&alice, "crash"), (&alice, "env"), (&bob, "sleep")] {
        let err = pool
            .call_tool(
                &SessionKey::new(who.clone(), ServerName::from_static("demo")),
                tool,
                json!({}),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ToolDenied { tool: t, .. } if t == tool),
            "{err:?}"
        );
        assert!(err.to_string().contains("not allowed by its tool policy"));
    }
    let toolbox = Toolbox::new(pool.clone(), bob.clone()).unwrap();
    assert!(toolbox.call("demo__sleep", json!({"ms": 1})).await.is_err());
    assert!(
        toolbox
            .tools()
            .await
            .tools
            .iter()
            .all(|tool| tool.tool.name != "sleep")
    );
    let echoed = toolbox
        .call("demo__echo", json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(echoed.text(), "hi");

    // The server's own log: the allowed call only.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged, "echo\n");
    assert_eq!(
        pool.health(&SessionKey::new(bob, ServerName::from_static("demo")))
            .state,
        HealthState::Ok
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("gw-policy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_goes_down_and_back_up_with_two_events() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    std::fs::write(&broken, "").unwrap();
    let events = Recorder::default();
    let pool = pool(&events)
        .server(
            ServerName::from_static("flaky"),
            demo("gw-health", &["--exit-while", broken.to_str().unwrap()]),
        )
        .health(HealthThresholds::default().down_after(3))
        .build();
    let key = SessionKey::new(tenant("alice"), ServerName::from_static("flaky"));
    assert_eq!(pool.health(&key).state, HealthState::Ok);
    for _ in 0..6 {
        let err = pool.call_tool(&key, "pid", json!({})).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Exited {
                    status: Some(3),
                    ..
                }
            ),
            "{err:?}"
        );
    }
    let down = pool.health(&key);
    assert_eq!(down.state, HealthState::Down);
    assert!(
        down.reason.as_deref().unwrap().contains("in a row"),
        "{down:?}"
    );
    let listed = Toolbox::new(pool.clone(), key.tenant.clone())
        .unwrap()
        .tools()
        .await;
    assert_eq!(listed.unavailable[0].health.state, HealthState::Down);

    std::fs::remove_file(&broken).unwrap();
    pool.call_tool(&key, "pid", json!({})).await.unwrap();
    assert_eq!(pool.health(&key).state, HealthState::Ok);
    pool.call_tool(&key, "echo", json!({"text": "x"}))
        .await
        .unwrap();
    let kinds = events.wait_for(2).await;
    let changes: Vec<(HealthState, HealthState)> = kinds
        .iter()
        .filter_map(|kind| match kind {
            EventKind::HealthChanged { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            (HealthState::Ok, HealthState::Down),
            (HealthState::Down, HealthState::Ok)
        ]
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("gw-health").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_failing_answers_degrade_a_server_and_toolbox_calls_take_options() {
    let events = Recorder::default();
    let pool = pool(&events)
        .server(ServerName::from_static("demo"), demo("gw-degraded", &[]))
        .health(
            HealthThresholds::default()
                .latency(Duration::from_millis(100))
                .window(4, 4),
        )
        .build();
    let key = SessionKey::new(tenant("alice"), ServerName::from_static("demo"));
    let toolbox = Toolbox::new(pool.clone(), key.tenant.clone()).unwrap();
    for _ in 0..4 {
        toolbox
            .call("demo__sleep", json!({"ms": 150}))
            .await
            .unwrap();
    }
    let health = pool.health(&key);
    assert_eq!(health.state, HealthState::Degraded, "{health:?}");
    assert!(health.reason.unwrap().contains("95th percentile"));

    let err = toolbox
        .call_with(
            "demo__sleep",
            json!({"ms": 10_000}),
            CallOptions::new().timeout(Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    for _ in 0..4 {
        toolbox
            .call("demo__echo", json!({"text": "quick"}))
            .await
            .unwrap();
    }
    assert_eq!(pool.health(&key).state, HealthState::Ok);
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("gw-degraded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_search_follows_list_changes_and_policies() {
    let events = Recorder::default();
    let pool = pool(&events)
        .server(ServerName::from_static("demo"), demo("gw-search", &[]))
        .server(ServerName::from_static("other"), demo("gw-search", &[]))
        .build();
    let alice = tenant("alice");
    let toolbox = Toolbox::new(pool.clone(), alice.clone()).unwrap();
    let found = toolbox
        .search("sleep some milliseconds then answer", 2)
        .await;
    assert!(found.unavailable.is_empty());
    let names: Vec<&str> = found
        .hits
        .iter()
        .map(|hit| hit.tool.name.as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.iter().all(|name| name.ends_with("__sleep")),
        "{names:?}"
    );

    // A tool added at the server (notifications/tools/list_changed) is
    // found at the next search; the other server is not indexed again.
    let key = SessionKey::new(alice.clone(), ServerName::from_static("demo"));
    pool.call_tool(&key, "add_tool", json!({"name": "weather_forecast"}))
        .await
        .unwrap();
    let mut hits = Vec::new();
    for _ in 0..50 {
        hits = toolbox.search("weather forecast", 1).await.hits;
        if !hits.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hits[0].tool.name, "demo__weather_forecast");

    // A tenant policy takes the tool out of the results.
    pool.set_tenant_policy(
        alice.clone(),
        ServerName::from_static("demo"),
        ToolPolicy::new(Vec::<String>::new(), ["weather_*"]).unwrap(),
    );
    let denied = toolbox.search("weather forecast", 1).await.hits;
    assert!(denied.is_empty(), "{denied:?}");
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("gw-search").await;
}

/// An agent with many tools starts with two: search, and call by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_offers_a_tenants_pooled_tools_as_search_and_call() {
    use integrations_core::{Config, Registry, Runtime};
    use integrations_mcp::Bridge;
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;

    let events = Recorder::default();
    let pool = pool(&events)
        .server(ServerName::from_static("demo"), demo("gw-bridge", &[]))
        .server(ServerName::from_static("files"), demo("gw-bridge", &[]))
        .build();
    let alice = tenant("alice");
    pool.set_tenant_policy(
        alice.clone(),
        ServerName::from_static("files"),
        ToolPolicy::new(Vec::<String>::new(), ["crash"]).unwrap(),
    );
    let runtime = Arc::new(
        Runtime::builder(Registry::new())
            .start(&Config::default())
            .await,
    );
    let bridge = Bridge::new(runtime).toolbox(Toolbox::new(pool.clone(), alice).unwrap());
    let (client_side, server_side) = tokio::io::duplex(256 * 1024);
    let serving = tokio::spawn(bridge.serve(server_side));
    let agent = ().serve(client_side).await.unwrap();

    let tools = agent.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| &*tool.name).collect();
    assert_eq!(names, ["search_tools", "call_tool"]);

    let call = |name: &'static str, arguments: serde_json::Value| {
        CallToolRequestParams::new(name).with_arguments(arguments.as_object().unwrap().clone())
    };
    let found = agent
        .call_tool(call(
            "search_tools",
            json!({"query": "sleep for some milliseconds", "limit": 3}),
        ))
        .await
        .unwrap();
    let found = found.structured_content.unwrap();
    let names: Vec<&str> = found["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"demo__sleep") && names.contains(&"files__sleep"),
        "{names:?}"
    );
    assert_eq!(found["tools"][0]["inputSchema"]["required"], json!(["ms"]));

    let echoed = agent
        .call_tool(call(
            "call_tool",
            json!({"name": "files__echo", "arguments": {"text": "hi"}}),
        ))
        .await
        .unwrap();
    assert_eq!(echoed.text(), "hi");
    let denied = agent
        .call_tool(call(
            "call_tool",
            json!({"name": "files__crash", "arguments": {}}),
        ))
        .await
        .unwrap();
    assert_eq!(denied.is_error, Some(true));
    assert!(
        denied.text().contains("not allowed by its tool policy"),
        "{}",
        denied.text()
    );
    let crash_found = agent
        .call_tool(call(
            "search_tools",
            json!({"query": "exit crash the server"}),
        ))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert!(
        !crash_found.to_string().contains("files__crash"),
        "a denied tool is not found: {crash_found}"
    );
    drop(agent);
    let _ = serving.await;
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process("gw-bridge").await;
}
