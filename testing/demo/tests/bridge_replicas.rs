//! Bridges without sticky sessions: on MCP 2026-07-28 every request stands
//! alone, and the state of a call that asks its client (MRTR) travels
//! sealed in `requestState`, so replicas that share a key take any round.
//! Three bridge processes (the demo's `--desk-http`, each with a runtime of
//! its own) behind a round-robin TCP proxy on 127.0.0.1 (a connection per
//! request: the pool keeps none idle), a pool pinned to 2026-07-28.

#![allow(deprecated)] // sampling and roots: deprecated by SEP-2577, still in both revisions

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integrations_core::async_trait;
use integrations_core::config::{McpProtocol, McpServerEntry};
use integrations_core::id::ServerName;
use integrations_core::integration::LogLevel;
use integrations_mcp::client::{ClientHooks, HookCapabilities, HookContext, ToolResultExt};
use integrations_mcp::{Bridge, Error, McpPool, SessionKey};
use rmcp::ErrorData;
use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, Role as WireRole, Root, SamplingMessage,
};
use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
use serde_json::json;
use support::{DEMO, tenant};
use tokio_util::sync::CancellationToken;

/// The user: answers each question with its own text, reversed.
#[derive(Debug)]
struct User;

#[async_trait]
impl ClientHooks for User {
    fn capabilities(&self) -> HookCapabilities {
        HookCapabilities::none()
            .elicitation(false)
            .sampling()
            .roots()
    }
    async fn create_message(
        &self,
        _context: &HookContext,
        _request: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        let message = SamplingMessage::new(
            WireRole::Assistant,
            rmcp::model::SamplingMessageContentBlock::text("Hello!"),
        );
        Ok(CreateMessageResult::new(message, "test-model".into()))
    }
    async fn roots(&self, _context: &HookContext) -> Result<Vec<Root>, ErrorData> {
        Ok(vec![Root::new("file:///work")])
    }
    async fn elicit(
        &self,
        _context: &HookContext,
        request: ElicitRequestParams,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let answer: String = message.chars().rev().collect();
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({"answer": answer})))
    }
}

/// Bridge replicas, each a demo process (`--desk-http`), behind a
/// round-robin TCP proxy on 127.0.0.1. The processes are killed when this
/// is dropped (and exit by themselves when the test process dies: their
/// stdin closes).
struct Replicas {
    /// The proxy's URL.
    url: String,
    /// How many connections each replica took.
    taken: Arc<Vec<AtomicUsize>>,
    /// How many requests named a replica's task (named replicas only).
    task_requests: Arc<AtomicUsize>,
    /// Where the replicas log the actions that ran.
    runs: tempfile::NamedTempFile,
    _processes: Vec<tokio::process::Child>,
    _stop: tokio_util::sync::DropGuard,
}

impl Replicas {
    /// How many times the desk ran `action`, in all replicas.
    fn runs(&self, action: &str) -> usize {
        let log = std::fs::read_to_string(self.runs.path()).unwrap();
        log.lines().filter(|line| *line == action).count()
    }
}

/// Three replicas sharing `key` (hex), or each with its own when `None`.
async fn replicas(key: Option<&str>) -> Replicas {
    bridges(3, key).await
}

/// `count` replicas behind a round-robin proxy.
async fn bridges(count: usize, key: Option<&str>) -> Replicas {
    start(count, key, false).await
}

/// `count` replicas, named `r0`, `r1`, ... (`--replica`), behind a proxy
/// that sends a request whose `Mcp-Name` header starts with a replica's
/// name and a dot (a task id of that replica's) to that replica, and
/// every other request round-robin, as a load balancer would be set up.
async fn named_bridges(count: usize, key: Option<&str>) -> Replicas {
    start(count, key, true).await
}

async fn start(count: usize, key: Option<&str>, named: bool) -> Replicas {
    use tokio::io::AsyncBufReadExt;
    let runs = tempfile::NamedTempFile::new().unwrap();
    let mut processes = Vec::new();
    let mut backends = Vec::new();
    for replica in 0..count {
        let mut command = tokio::process::Command::new(DEMO);
        command
            .args(["--desk-http", "--runs"])
            .arg(runs.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        if named {
            command.args(["--replica", &format!("r{replica}")]);
        }
        if let Some(key) = key {
            command.env("BRIDGE_STATE_KEY", key);
        }
        let mut process = command.spawn().unwrap();
        let stdout = process.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the replica says where it listens within 20 s")
            .unwrap()
            .expect("the replica printed its URL");
        let address = url
            .strip_prefix("http://")
            .and_then(|rest| rest.strip_suffix("/mcp"))
            .unwrap_or_else(|| panic!("not a bridge URL: {url}"));
        backends.push(address.parse::<std::net::SocketAddr>().unwrap());
        processes.push(process);
    }
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", proxy.local_addr().unwrap());
    let taken: Arc<Vec<AtomicUsize>> = Arc::new((0..count).map(|_| AtomicUsize::new(0)).collect());
    let counted = Arc::clone(&taken);
    let task_requests = Arc::new(AtomicUsize::new(0));
    let tasked = Arc::clone(&task_requests);
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        for turn in 0usize.. {
            let accepted = tokio::select! {
                accepted = proxy.accept() => accepted,
                () = stopped.cancelled() => return,
            };
            let Ok((mut inbound, _)) = accepted else {
                continue;
            };
            let (backends, counted) = (backends.clone(), Arc::clone(&counted));
            let tasked = Arc::clone(&tasked);
            tokio::spawn(async move {
                // One request a connection: the pool keeps none idle.
                let head = if named {
                    head(&mut inbound).await
                } else {
                    Vec::new()
                };
                let routed = task_replica(&head);
                if routed.is_some() {
                    tasked.fetch_add(1, Ordering::SeqCst);
                }
                let chosen = routed
                    .filter(|replica| *replica < count)
                    .unwrap_or(turn % count);
                counted[chosen].fetch_add(1, Ordering::SeqCst);
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(backends[chosen]).await {
                    use tokio::io::AsyncWriteExt;
                    if outbound.write_all(&head).await.is_ok() {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }
            });
        }
    });
    Replicas {
        url,
        taken,
        task_requests,
        runs,
        _processes: processes,
        _stop: stop.drop_guard(),
    }
}

/// The request's head (and whatever of its body came with it), read up to
/// the blank line.
async fn head(inbound: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match inbound.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    head
}

/// The replica whose task a request's `Mcp-Name` header names (`rN.`...).
fn task_replica(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    let name = head.lines().find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case("mcp-name").then(|| value.trim())
    })?;
    let (replica, _) = name.strip_prefix('r')?.split_once('.')?;
    replica.parse().ok()
}

fn pool(url: &str) -> McpPool {
    pool_speaking(url, McpProtocol::Modern)
}

fn pool_speaking(url: &str, protocol: McpProtocol) -> McpPool {
    let entry: McpServerEntry = Bridge::http_entry(url);
    McpPool::builder()
        .server(ServerName::from_static("desk"), entry)
        .protocol(protocol)
        .hooks(User)
        .call_timeout(Duration::from_secs(20))
        .build()
}

/// Sends one 2026-07-28 request made by hand (`params`, with a `_meta`
/// declaring `capabilities`) with its standard headers (`Mcp-Name`:
/// `name`); the answer's body.
async fn by_hand(
    url: &str,
    method: &str,
    name: &str,
    mut params: serde_json::Value,
    capabilities: serde_json::Value,
) -> String {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    });
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .header("mcp-name", name)
        .json(&body)
        .send()
        .await
        .unwrap();
    answer.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_a_key_answer_every_call_and_every_round() {
    let key = "07".repeat(32);
    let replicas = replicas(Some(&key)).await;
    let url = replicas.url.as_str();
    let pool = pool(url);
    let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
    let session = pool.get(&key_of).await.unwrap();
    assert_eq!(
        session.server_info().unwrap().protocol_version.as_str(),
        "2026-07-28"
    );

    // 1,000 calls, 32 at a time: every one answered.
    use futures_util::StreamExt;
    let calls = futures_util::stream::iter(0..1000)
        .map(|_| {
            let (pool, key) = (pool.clone(), key_of.clone());
            async move { pool.call_tool(&key, "desk__ping", json!({})).await }
        })
        .buffer_unordered(32);
    let answers: Vec<_> = calls.collect().await;
    assert_eq!(answers.len(), 1000);
    for answer in answers {
        assert_eq!(answer.unwrap().text(), "pong");
    }
    let spread: Vec<usize> = replicas
        .taken
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .collect();
    assert!(spread.iter().all(|n| *n >= 300), "{spread:?}");

    // Three rounds (two questions), each on the next replica.
    let before: usize = spread.iter().sum();
    let confirmed = pool
        .call_tool(&key_of, "desk__confirm", json!({}))
        .await
        .unwrap();
    assert_eq!(confirmed.text(), r#"["?ohW","?ynam woH"]"#);
    let after: usize = replicas
        .taken
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .sum();
    assert!(after - before >= 3, "three requests: {before} -> {after}");
    pool.shutdown(Duration::from_secs(2)).await;
}

/// An action's questions asked together (`ActionContext::ask`) reach a
/// 2026-07-28 client in one round, under the action's keys, whichever
/// replica takes it; a 2025-11-25 client (of one bridge: its sessions are
/// the bridge's own) gets them one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_questions_go_in_one_round_under_their_keys() {
    let key = "05".repeat(32);
    let expected = json!({"name": "?ohW", "greeting": "Hello!", "roots": ["file:///work"]});
    for (protocol, bridges_behind, runs) in
        [(McpProtocol::Modern, 3, 2), (McpProtocol::Legacy, 1, 1)]
    {
        let replicas = bridges(bridges_behind, Some(&key)).await;
        let pool = pool_speaking(&replicas.url, protocol);
        let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
        let answered = pool
            .call_tool(&key_of, "desk__survey", json!({}))
            .await
            .unwrap();
        let answered: serde_json::Value = serde_json::from_str(&answered.text()).unwrap();
        assert_eq!(answered, expected, "{protocol:?}");
        assert_eq!(
            replicas.runs("survey"),
            runs,
            "{protocol:?}: the three questions took one round"
        );
        pool.shutdown(Duration::from_secs(2)).await;
    }
}

/// A long-running action reaches a 2026-07-28 client (which declares the
/// Tasks extension) as a task: it runs once, its question is the task's
/// input request (answered through the hooks with `tasks/update`), and its
/// result comes with the task's. A 2025-11-25 client gets the same answer
/// from an ordinary call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_action_runs_as_a_task_once_with_its_question() {
    let key = "04".repeat(32);
    // Tasks live in the bridge that made them: one bridge behind the proxy.
    let replicas = bridges(1, Some(&key)).await;
    for protocol in [McpProtocol::Modern, McpProtocol::Legacy] {
        let pool = pool_speaking(&replicas.url, protocol);
        let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
        let before = replicas.runs("report");
        let report = pool
            .call_tool(&key_of, "desk__report", json!({}))
            .await
            .unwrap();
        assert_eq!(report.text(), "report for ?doirep hcihW", "{protocol:?}");
        assert_eq!(replicas.runs("report") - before, 1, "{protocol:?}");
        pool.shutdown(Duration::from_secs(2)).await;
    }
}

/// Named replicas behind a load balancer that routes the task methods by
/// the replica name their `Mcp-Name` starts with: a long action's task,
/// made on one replica, is polled and answered there while the rest goes
/// round-robin; a task id another replica made is refused, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_replicas_keep_their_tasks_behind_a_balancer() {
    let key = "06".repeat(32);
    let replicas = named_bridges(3, Some(&key)).await;
    let pool = pool_speaking(&replicas.url, McpProtocol::Modern);
    let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
    for _ in 0..3 {
        let report = pool
            .call_tool(&key_of, "desk__report", json!({}))
            .await
            .unwrap();
        assert_eq!(report.text(), "report for ?doirep hcihW");
    }
    assert_eq!(replicas.runs("report"), 3, "each report ran once");
    pool.shutdown(Duration::from_secs(2)).await;

    let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let get = |task: &'static str| {
        let params = json!({"taskId": task});
        by_hand(&replicas.url, "tasks/get", task, params, tasks.clone())
    };
    // No replica r7: the balancer sends it anywhere, and it is refused.
    let foreign = get("r7.gone").await;
    assert!(foreign.contains("-32602"), "{foreign}");
    assert!(foreign.contains("not made by this replica"), "{foreign}");
    // r1's own id, unknown to it: an unknown task.
    let unknown = get("r1.gone").await;
    assert!(unknown.contains("-32602"), "{unknown}");
    assert!(!unknown.contains("not made by this replica"), "{unknown}");
}

/// An action that gathers its input first (`Capability::input_first`)
/// asks by rounds, then becomes a task once it runs on (SEP-2663's MRTR →
/// Tasks composition): it runs twice in all (the first run asked), the
/// pool polls its task; one that finishes at once after its answer is an
/// ordinary call, with no task to poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_asks_by_rounds_then_runs_on_as_a_task() {
    let key = "08".repeat(32);
    let replicas = named_bridges(1, Some(&key)).await;
    let pool = pool_speaking(&replicas.url, McpProtocol::Modern);
    let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
    let exported = pool
        .call_tool(&key_of, "desk__export", json!({}))
        .await
        .unwrap();
    assert_eq!(exported.text(), "report for ?doirep hcihW");
    assert_eq!(
        replicas.runs("export"),
        2,
        "asked in one run, went on in the next"
    );
    let polled = replicas.task_requests.load(Ordering::SeqCst);
    assert!(polled > 0, "the pool polled the task");

    let quick = pool
        .call_tool(&key_of, "desk__export", json!({"quick": true}))
        .await
        .unwrap();
    assert_eq!(quick.text(), "report for ?doirep hcihW");
    assert_eq!(
        replicas.task_requests.load(Ordering::SeqCst),
        polled,
        "no task to poll"
    );
    pool.shutdown(Duration::from_secs(2)).await;
}

/// An action that runs only as a task is a task for a client with the
/// Tasks extension and refused (-32021, naming the extension) before it
/// runs for a client without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_only_action_refuses_a_client_that_cannot_poll() {
    let replicas = bridges(1, None).await;
    let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
    let modern = pool_speaking(&replicas.url, McpProtocol::Modern);
    let archived = modern
        .call_tool(&key_of, "desk__archive", json!({}))
        .await
        .unwrap();
    assert_eq!(archived.text(), "archived");
    modern.shutdown(Duration::from_secs(2)).await;

    let legacy = pool_speaking(&replicas.url, McpProtocol::Legacy);
    let refused = legacy
        .call_tool(&key_of, "desk__archive", json!({}))
        .await
        .unwrap_err();
    let Error::MissingCapability { required, .. } = &refused else {
        panic!("{refused:?}");
    };
    assert!(
        required["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
        "{required}"
    );
    legacy.shutdown(Duration::from_secs(2)).await;
}

/// The task methods answer only a request that declares the Tasks
/// extension: without it `tasks/get` is -32021 naming the extension; with
/// it, an unknown task is -32602.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_methods_need_the_tasks_extension() {
    let key = "02".repeat(32);
    let replicas = bridges(1, Some(&key)).await;
    let get = |capabilities: serde_json::Value| {
        let params = json!({"taskId": "no-such-task"});
        by_hand(
            &replicas.url,
            "tasks/get",
            "no-such-task",
            params,
            capabilities,
        )
    };
    let refused = get(json!({})).await;
    assert!(refused.contains("-32021"), "{refused}");
    assert!(
        refused.contains("io.modelcontextprotocol/tasks"),
        "{refused}"
    );
    let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let unknown = get(tasks).await;
    assert!(unknown.contains("-32602"), "an unknown task: {unknown}");
}

/// Hooks that want log messages at `level` and keep them (clones share
/// what they keep).
#[derive(Debug, Clone)]
struct Listener(Option<LogLevel>, Arc<std::sync::Mutex<Vec<String>>>);

#[async_trait]
impl ClientHooks for Listener {
    fn capabilities(&self) -> HookCapabilities {
        match self.0 {
            Some(level) => HookCapabilities::none().logs(level),
            None => HookCapabilities::none(),
        }
    }
    async fn log(
        &self,
        _context: &HookContext,
        level: LogLevel,
        logger: Option<&str>,
        data: &serde_json::Value,
    ) {
        let line = format!("{level:?} {} {data}", logger.unwrap_or("-"));
        self.1.lock().unwrap().push(line);
    }
}

/// The hooks' log level reaches the bridge: in each request's `_meta` on
/// 2026-07-28 (a request that names none gets no logs), by
/// `logging/setLevel` on 2025-11-25; the messages reach `ClientHooks::log`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hooks_log_level_reaches_the_server_in_either_revision() {
    let key = "03".repeat(32);
    let cases = [
        (
            McpProtocol::Modern,
            3,
            Some(LogLevel::Info),
            vec!["Info desk \"working\""],
        ),
        (McpProtocol::Modern, 3, None, vec![]),
        (
            McpProtocol::Legacy,
            1,
            Some(LogLevel::Debug),
            vec!["Debug desk \"details\"", "Info desk \"working\""],
        ),
    ];
    for (protocol, count, level, expected) in cases {
        let replicas = bridges(count, Some(&key)).await;
        let url = replicas.url.as_str();
        let listener = Listener(level, Arc::default());
        let pool = McpPool::builder()
            .server(ServerName::from_static("desk"), Bridge::http_entry(url))
            .protocol(protocol)
            .hooks(listener.clone())
            .build();
        let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
        let done = pool
            .call_tool(&key_of, "desk__noisy", json!({}))
            .await
            .unwrap();
        assert_eq!(done.text(), "done");
        let mut heard = Vec::new();
        for _ in 0..50 {
            heard = listener.1.lock().unwrap().clone();
            if heard.len() >= expected.len() && !expected.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(heard, expected, "{protocol:?} at {level:?}");
        pool.shutdown(Duration::from_secs(2)).await;
    }
}

/// Hooks that take longer over the earlier of the desk's `chatty` lines
/// (`line 0` longest), and keep each line once it is handled.
#[derive(Debug, Clone, Default)]
struct SlowReader(Arc<std::sync::Mutex<Vec<String>>>);

#[async_trait]
impl ClientHooks for SlowReader {
    fn capabilities(&self) -> HookCapabilities {
        HookCapabilities::none().logs(LogLevel::Info)
    }
    async fn log(
        &self,
        _context: &HookContext,
        _level: LogLevel,
        _logger: Option<&str>,
        data: &serde_json::Value,
    ) {
        let line = data.as_str().unwrap_or_default().to_owned();
        let number: u64 = line.trim_start_matches("line ").parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis((20 - number.min(20)) * 5)).await;
        self.0.lock().unwrap().push(line);
    }
}

/// A server's log messages reach the hooks one at a time, in the order
/// the server sent them, however long the hooks take over each, in either
/// revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_messages_reach_the_hooks_in_the_order_sent() {
    let replicas = bridges(1, None).await;
    let expected: Vec<String> = (0..20).map(|line| format!("line {line}")).collect();
    for protocol in [McpProtocol::Modern, McpProtocol::Legacy] {
        let reader = SlowReader::default();
        let pool = McpPool::builder()
            .server(
                ServerName::from_static("desk"),
                Bridge::http_entry(&replicas.url),
            )
            .protocol(protocol)
            .hooks(reader.clone())
            .build();
        let key_of = SessionKey::new(tenant(), ServerName::from_static("desk"));
        let said = pool
            .call_tool(&key_of, "desk__chatty", json!({}))
            .await
            .unwrap();
        assert_eq!(said.text(), "said it all");
        for _ in 0..100 {
            if reader.0.lock().unwrap().len() >= expected.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*reader.0.lock().unwrap(), expected, "{protocol:?}");
        pool.shutdown(Duration::from_secs(2)).await;
    }
}

/// Without a shared key each replica refuses the state another sealed:
/// the call fails (-32602) rather than trusting what the client sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_on_a_replica_with_another_key_is_refused() {
    let replicas = replicas(None).await;
    let pool = pool(&replicas.url);
    let key = SessionKey::new(tenant(), ServerName::from_static("desk"));
    let error = pool
        .call_tool(&key, "desk__confirm", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidArguments { message, .. } if message.contains("requestState")),
        "{error:?}"
    );
    pool.shutdown(Duration::from_secs(2)).await;
}

/// A `requestState` the client made up, or one sealed for another call,
/// is refused with -32602 before the action runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_request_state_is_refused() {
    let key = "09".repeat(32);
    let replicas = replicas(Some(&key)).await;
    let form = json!({"elicitation": {"form": {}}});
    for state in ["made-up", "rs1.e30.AAAA"] {
        let params = json!({
            "name": "desk__confirm", "arguments": {},
            "requestState": state,
            "inputResponses": {"q0": {"action": "accept", "content": {"answer": "x"}}},
        });
        let body = by_hand(
            &replicas.url,
            "tools/call",
            "desk__confirm",
            params,
            form.clone(),
        )
        .await;
        assert!(body.contains("-32602"), "{state}: {body}");
        assert!(body.contains("requestState"), "{state}: {body}");
    }
}
