//! A demo MCP server over stdio, written with rmcp, for
//! tests, examples and benchmarks that must run offline and provoke faults.
//!
//! Tools: `echo {text}`, `sleep {ms}`, `progress {steps}`, `add_tool {name}`
//! (adds a tool and sends `notifications/tools/list_changed`), `crash {code}`
//! (exits mid-call), `garbage` (prints a non-JSON line on stdout), `env
//! {name}` (reads an environment variable of the server), `pid`, `stats`
//! (`{max_in_flight, cancelled, tasks_cancelled}`), and `long {ms, ask}`
//! (a task, for clients of the tasks extension).
//!
//! With `--slack-api URL` it also serves the tools of the reference Slack
//! MCP server (`slack_post_message {channel_id, text}`,
//! `slack_reply_to_thread {channel_id, thread_ts, text}`,
//! `slack_list_channels {limit, cursor}`), forwarded to the Slack Web API at
//! URL with the token in `SLACK_BOT_TOKEN`, answering with Slack's JSON as
//! text, as that server does; tests point it at a fake Slack.
//!
//! With `--bridge` it serves instead a runtime with a calculator integration
//! through [`Bridge`](integrations_mcp::Bridge). With `--desk-http` it
//! serves a [`Desk`] through the bridge over streamable HTTP on a free
//! loopback port instead, printing its URL (`http://127.0.0.1:PORT/mcp`)
//! as the first line of stdout and serving until stdin closes: one replica
//! of several behind a load balancer. `BRIDGE_STATE_KEY` (64 hex digits)
//! is the key that seals `requestState` (replicas that share it take each
//! other's rounds); `--replica NAME` names the replica (its task ids
//! start with `NAME.`); `--runs PATH` appends the name of each `survey`
//! and `report` run to PATH.
//!
//! Start-up faults, by argument: `--exit-at-start CODE` (writes to stderr and
//! exits), `--hang-at-start` (never answers), `--start-delay MS` (answers the
//! handshake only after MS milliseconds), `--garbage-at-start` (prints
//! garbage before the handshake), `--exit-while PATH` (exits with 3 while
//! PATH exists). `--tools-ttl-ms MS` sets how long its tool list stays
//! fresh for 2026-07-28 clients (`ttlMs`; default 60 s); `--call-log PATH`
//! appends the name of each tool called to PATH, and `(exited)` when the
//! server stops by itself after its client left.
//!
//! The binary `integrations-mcp-demo` runs it:
//!
//! ```sh
//! cargo run -p integrations-mcp-demo
//! ```

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};

mod ask;
mod calculator;
mod desk;
mod eof;
mod listen;
mod slack;
mod tasks;

pub use calculator::Calculator;
use calculator::bridge;
pub use desk::Desk;
use slack::SlackApi;
use tasks::Work;

#[derive(Clone, Default)]
struct Demo {
    extra_tools: Arc<Mutex<Vec<String>>>,
    /// A file each called tool's name is appended to (`--call-log`).
    call_log: Option<std::path::PathBuf>,
    /// Tasks (`long` for clients of the tasks extension), by id.
    tasks: Arc<Mutex<std::collections::HashMap<String, Work>>>,
    /// How long its tool list stays fresh (`ttlMs`, 2026-07-28 clients).
    tools_ttl_ms: u64,
    /// The `subscriptions/listen` streams of 2026-07-28 clients.
    listeners: listen::Listeners,
    /// Cancelled when stdin ends: rmcp waits up to 5 s for handlers in
    /// flight after that, and a `listen` handler ends only when cancelled.
    client_gone: tokio_util::sync::CancellationToken,
    stats: Arc<Mutex<Stats>>,
    slack: Option<Arc<SlackApi>>,
}

/// What `stats` reports: how many `sleep` calls ran at once at most, and how
/// many were cancelled by the client.
#[derive(Default)]
struct Stats {
    in_flight: u64,
    max_in_flight: u64,
    cancelled: u64,
    tasks_cancelled: u64,
}

fn schema(properties: &Value, required: &[&str]) -> Map<String, Value> {
    let Value::Object(schema) = json!({
        "type": "object",
        "properties": properties,
        "required": required,
    }) else {
        unreachable!("a JSON object literal")
    };
    schema
}

fn text(value: impl Into<String>) -> Result<CallToolResponse, ErrorData> {
    Ok(CallToolResult::success(vec![ContentBlock::text(value)]).into())
}

/// Whether a request came in on MCP 2026-07-28 (no session: the revision
/// and the client's capabilities ride in its `_meta`).
fn is_modern(context: &RequestContext<RoleServer>) -> bool {
    context
        .meta
        .protocol_version()
        .is_some_and(|version| !version.has_initialize())
}

fn argument<'a>(request: &'a CallToolRequestParams, name: &str) -> Option<&'a Value> {
    request
        .arguments
        .as_ref()
        .and_then(|arguments| arguments.get(name))
}

impl Demo {
    fn tools(&self) -> Vec<Tool> {
        let mut tools = vec![
            Tool::new(
                "echo",
                "Returns `text` unchanged",
                schema(&json!({"text": {"type": "string"}}), &["text"]),
            ),
            Tool::new(
                "sleep",
                "Sleeps `ms` milliseconds, then answers",
                schema(&json!({"ms": {"type": "integer", "minimum": 0}}), &["ms"]),
            ),
            Tool::new(
                "long",
                "Works `ms` milliseconds; to a client of the tasks extension, as a task \
                 (that first asks \"Go on?\" with `ask`)",
                schema(
                    &json!({"ms": {"type": "integer", "minimum": 0}, "ask": {"type": "boolean"}}),
                    &["ms"],
                ),
            ),
            Tool::new(
                "progress",
                "Sends `steps` progress notifications, then answers",
                schema(
                    &json!({"steps": {"type": "integer", "minimum": 0}}),
                    &["steps"],
                ),
            ),
            Tool::new(
                "add_tool",
                "Adds an echo tool called `name` and announces the change",
                schema(&json!({"name": {"type": "string"}}), &["name"]),
            ),
            Tool::new(
                "crash",
                "Exits the server immediately with `code`",
                schema(&json!({"code": {"type": "integer"}}), &[]),
            ),
            Tool::new(
                "freeze",
                "Blocks the whole server for `ms` milliseconds: nothing, not even a ping, is answered",
                schema(&json!({"ms": {"type": "integer", "minimum": 0}}), &["ms"]),
            ),
            Tool::new(
                "garbage",
                "Writes a line that is not JSON-RPC to stdout",
                schema(&json!({}), &[]),
            ),
            Tool::new(
                "env",
                "Returns the server's environment variable `name`, or (unset)",
                schema(&json!({"name": {"type": "string"}}), &["name"]),
            ),
            Tool::new(
                "pid",
                "Returns the server's process id",
                schema(&json!({}), &[]),
            ),
            Tool::new(
                "stats",
                "Returns {max_in_flight, cancelled} of sleep calls",
                schema(&json!({}), &[]),
            ),
        ];
        for name in self.extra_tools.lock().unwrap().iter() {
            tools.push(Tool::new(
                Cow::Owned(name.clone()),
                "An echo tool added at run time",
                schema(&json!({"text": {"type": "string"}}), &["text"]),
            ));
        }
        for (name, description) in [
            (
                "ask",
                "Asks the client's user to fill a form (fields with defaults)",
            ),
            ("sample", "Asks the client's model to complete `prompt`"),
            ("roots", "Asks the client for its roots"),
            (
                "client_capabilities",
                "The capabilities the client declared",
            ),
        ] {
            tools.push(Tool::new(
                name,
                description,
                schema(
                    &json!({"message": {"type": "string"}, "prompt": {"type": "string"}}),
                    &[],
                ),
            ));
        }
        if self.slack.is_some() {
            tools.extend(SlackApi::tools());
        }
        tools
    }
}

impl ServerHandler for Demo {
    /// Tool list changes, to 2026-07-28 clients that listen.
    fn accepted_subscription_filter(
        &self,
        _requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        self.listeners.arriving();
        Some(
            rmcp::model::SubscriptionFilter::builder()
                .tools_list_changed()
                .build(),
        )
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        self.task(request.task_id)
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.answer_task(&request)
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.cancel_work(&request.task_id);
        Ok(())
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), ErrorData> {
        self.listeners.serve(context, &self.client_gone).await;
        Ok(())
    }

    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new(
            "integrations-mcp-demo",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "A demo server for tests: echo, sleep, progress, list changes and faults.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut listed = ListToolsResult::with_all_items(self.tools());
        if is_modern(&context) {
            listed.ttl_ms = Some(self.tools_ttl_ms);
        }
        Ok(listed)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let string = |name: &str| {
            argument(&request, name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let number = |name: &str| argument(&request, name).and_then(Value::as_u64);
        if let Some(path) = &self.call_log {
            use tokio::io::AsyncWriteExt;
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await;
            if let Ok(mut file) = file {
                let _ = file
                    .write_all(format!("{}\n", request.name).as_bytes())
                    .await;
            }
        }
        match &*request.name {
            "echo" => text(string("text").unwrap_or_default()),
            "sleep" => {
                let ms = number("ms").unwrap_or(0);
                {
                    let mut stats = self.stats.lock().unwrap();
                    stats.in_flight += 1;
                    stats.max_in_flight = stats.max_in_flight.max(stats.in_flight);
                }
                let cancelled = tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => false,
                    () = context.ct.cancelled() => true,
                };
                let mut stats = self.stats.lock().unwrap();
                stats.in_flight -= 1;
                stats.cancelled += u64::from(cancelled);
                text(format!("slept {ms} ms"))
            }
            "stats" => {
                let stats = self.stats.lock().unwrap();
                text(
                    json!({"max_in_flight": stats.max_in_flight, "cancelled": stats.cancelled,
                        "tasks_cancelled": stats.tasks_cancelled})
                    .to_string(),
                )
            }
            "long" => {
                let ms = number("ms").unwrap_or(0);
                let tasked = context
                    .meta
                    .client_capabilities()
                    .is_some_and(|declared| declared.supports_tasks());
                if !tasked {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    return text(format!("worked {ms} ms"));
                }
                let ask = argument(&request, "ask").and_then(Value::as_bool) == Some(true);
                Ok(self.start_task(ms, ask))
            }
            "progress" => {
                let steps = number("steps").unwrap_or(3);
                let token = context.meta.get_progress_token();
                let mut sent = 0;
                for step in 1..=steps {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    if let Some(token) = &token {
                        let mut progress =
                            ProgressNotificationParam::new(token.clone(), step as f64);
                        progress.total = Some(steps as f64);
                        if context.peer.notify_progress(progress).await.is_ok() {
                            sent += 1;
                        }
                    }
                }
                text(format!(
                    "done after {steps} steps, {sent} progress notifications sent"
                ))
            }
            "add_tool" => {
                let name = string("name").unwrap_or_else(|| "extra".into());
                self.extra_tools.lock().unwrap().push(name.clone());
                if is_modern(&context) {
                    self.listeners.tools_changed().await;
                } else {
                    let _ = context.peer.notify_tool_list_changed().await;
                }
                text(format!("added {name}"))
            }
            "crash" => {
                let code = argument(&request, "code")
                    .and_then(Value::as_i64)
                    .unwrap_or(3);
                eprintln!("demo server: crashing on request with code {code}");
                std::process::exit(i32::try_from(code).unwrap_or(3));
            }
            "freeze" => {
                let ms = number("ms").unwrap_or(0);
                // Blocks the only runtime thread on purpose: a hung server.
                std::thread::sleep(Duration::from_millis(ms));
                text(format!("was frozen for {ms} ms"))
            }
            "garbage" => {
                println!("this line is not JSON-RPC {{{{");
                text("printed garbage")
            }
            "env" => {
                let name = string("name").unwrap_or_default();
                text(std::env::var(&name).unwrap_or_else(|_| "(unset)".into()))
            }
            "pid" => text(std::process::id().to_string()),
            "ask" => {
                let message = string("message").unwrap_or_else(|| "Confirm the details".into());
                let params = json!({
                    "mode": "form",
                    "message": message,
                    "requestedSchema": {"type": "object", "properties": {
                        "name": {"type": "string", "default": "Ada"},
                        "count": {"type": "integer", "default": 3},
                        "confirmed": {"type": "boolean", "default": true},
                    }},
                });
                ask::ask_client(&request, &context, "elicitation/create", params).await
            }
            "sample" => {
                let params = json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": string("prompt").unwrap_or_default()}}],
                    "maxTokens": 100,
                });
                ask::ask_client(&request, &context, "sampling/createMessage", params).await
            }
            "roots" => ask::ask_client(&request, &context, "roots/list", json!({})).await,
            "client_capabilities" => {
                let declared = if is_modern(&context) {
                    context.meta.client_capabilities()
                } else {
                    context
                        .peer
                        .peer_info()
                        .map(|info| info.capabilities.clone())
                };
                text(
                    declared
                        .map(|declared| serde_json::to_string(&declared).unwrap_or_default())
                        .unwrap_or_default(),
                )
            }
            "slack_post_message" | "slack_reply_to_thread" | "slack_list_channels"
                if self.slack.is_some() =>
            {
                let slack = self.slack.as_ref().expect("checked by the guard");
                let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
                match &*request.name {
                    "slack_list_channels" => {
                        let mut body = json!({"limit": arguments.get("limit").cloned().unwrap_or(json!(100)), "types": "public_channel", "exclude_archived": true});
                        if let Some(cursor) = arguments.get("cursor") {
                            body["cursor"] = cursor.clone();
                        }
                        slack.call("conversations.list", &body).await
                    }
                    name => {
                        let mut body =
                            json!({"channel": arguments["channel_id"], "text": arguments["text"]});
                        if name == "slack_reply_to_thread" {
                            body["thread_ts"] = arguments["thread_ts"].clone();
                        }
                        slack.call("chat.postMessage", &body).await
                    }
                }
            }
            name if self
                .extra_tools
                .lock()
                .unwrap()
                .iter()
                .any(|extra| extra == name) =>
            {
                text(string("text").unwrap_or_default())
            }
            other => Err(ErrorData::invalid_params(
                format!("unknown tool {other}"),
                None,
            )),
        }
    }
}

/// Runs the demo server on stdin/stdout with the given command-line
/// arguments (see the [module documentation](self)), until the client
/// disconnects.
pub async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Flags are found anywhere, so tests can add a `--tag NAME` of their own
    // to find their processes in the process table.
    let flag = |name: &str| args.iter().position(|arg| arg == name);
    if let Some(at) = flag("--exit-at-start") {
        let code = args.get(at + 1).and_then(|c| c.parse().ok()).unwrap_or(2);
        eprintln!("demo server: cannot start: missing configuration (asked to exit with {code})");
        std::process::exit(code);
    }
    if let Some(at) = flag("--exit-while") {
        let path = args.get(at + 1).map(String::as_str).unwrap_or_default();
        if std::path::Path::new(path).exists() {
            eprintln!("demo server: cannot start while {path} exists");
            std::process::exit(3);
        }
    }
    if let Some(at) = flag("--start-delay") {
        let ms = args
            .get(at + 1)
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if flag("--hang-at-start").is_some() {
        std::future::pending::<()>().await;
    }
    if flag("--garbage-at-start").is_some() {
        println!("garbage before the handshake");
    }
    if flag("--bridge").is_some() {
        return bridge().await;
    }
    if flag("--desk-http").is_some() {
        let runs = flag("--runs").and_then(|at| args.get(at + 1).cloned());
        let replica = match flag("--replica").and_then(|at| args.get(at + 1)) {
            Some(name) => Some(integrations_core::id::ServerName::new(name.clone())?),
            None => None,
        };
        return desk::serve_http(runs, replica).await;
    }
    let mut demo = Demo {
        tools_ttl_ms: 60_000,
        ..Demo::default()
    };
    demo.call_log = flag("--call-log").and_then(|at| args.get(at + 1).map(Into::into));
    if let Some(at) = flag("--tools-ttl-ms") {
        demo.tools_ttl_ms = args.get(at + 1).and_then(|ms| ms.parse().ok()).unwrap_or(0);
    }
    if let Some(at) = flag("--slack-api") {
        demo.slack = Some(Arc::new(SlackApi {
            url: args.get(at + 1).cloned().unwrap_or_default(),
            token: std::env::var("SLACK_BOT_TOKEN").unwrap_or_default(),
            client: reqwest::Client::new(),
        }));
    }
    let stdin = eof::EofSignal {
        inner: tokio::io::stdin(),
        eof: demo.client_gone.clone(),
    };
    let call_log = demo.call_log.clone();
    let service = demo.serve((stdin, tokio::io::stdout())).await?;
    service.waiting().await?;
    // The call log's last line says the server stopped by itself (a
    // killed one cannot write it).
    if let Some(path) = call_log {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = writeln!(file, "(exited)");
        }
    }
    Ok(())
}
