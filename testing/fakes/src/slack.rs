//! A fake Slack Web API: the methods an exporter uses, checked against
//! Slack's documented limits, answering as Slack does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::{FakeServer, Recorded, Reply, lock};

/// A message the fake accepted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SlackPost {
    /// The channel id.
    pub channel: String,
    /// Its `ts`.
    pub ts: String,
    /// The thread it replies in.
    pub thread_ts: Option<String>,
    /// The `text` argument.
    pub text: String,
    /// The `blocks` argument (`Null` when none).
    pub blocks: Value,
    /// The `metadata` argument (`Null` when none).
    pub metadata: Value,
}

#[derive(Default)]
struct State {
    token: String,
    channels: Vec<(String, String)>,
    posts: Vec<SlackPost>,
    sequence: u64,
    violations: Vec<String>,
    rate_limits: VecDeque<u64>,
    delay: std::time::Duration,
}

/// What Slack refuses in a message's blocks, as a sentence; Slack answers
/// `invalid_blocks` to each.
fn check_blocks(blocks: &[Value]) -> Result<(), String> {
    let (mut markdown, mut tables) = (0, 0);
    for (at, block) in blocks.iter().enumerate() {
        let text = block["text"]["text"]
            .as_str()
            .map_or(0, |text| text.chars().count());
        match block["type"].as_str() {
            Some("header") if text > 150 => {
                return Err(format!(
                    "block {at}: text of {text} characters, more than 150"
                ));
            }
            Some("section") if text > 3000 => {
                return Err(format!(
                    "block {at}: text of {text} characters, more than 3000"
                ));
            }
            Some("header" | "section" | "divider") => {}
            Some("markdown") => {
                let Some(text) = block["text"].as_str() else {
                    return Err(format!("block {at}: a markdown block needs its text"));
                };
                markdown += text.chars().count();
                if markdown > 12_000 {
                    return Err(format!(
                        "block {at}: markdown blocks of {markdown} characters, more than 12,000"
                    ));
                }
            }
            Some("table") => {
                tables += 1;
                if tables > 1 {
                    return Err(format!("block {at}: only one table is allowed a message"));
                }
                check_table(block).map_err(|why| format!("block {at}: {why}"))?;
            }
            other => return Err(format!("block {at} has the unknown type {other:?}")),
        }
    }
    Ok(())
}

/// Slack's limits of a `table` block: 100 rows of at most 20 cells,
/// `raw_text` cells with text, 10,000 characters in all.
fn check_table(block: &Value) -> Result<(), String> {
    let rows = block["rows"].as_array().ok_or("a table needs its rows")?;
    if rows.is_empty() || rows.len() > 100 {
        return Err(format!("a table of {} rows (1 to 100)", rows.len()));
    }
    let mut chars = 0;
    for row in rows {
        let cells = row.as_array().ok_or("a row is an array of cells")?;
        if cells.len() > 20 {
            return Err(format!("a row of {} cells, more than 20", cells.len()));
        }
        for cell in cells {
            let text = cell["text"].as_str().unwrap_or_default();
            if cell["type"] != "raw_text" || text.is_empty() {
                return Err("a cell must be raw_text with text".into());
            }
            chars += text.chars().count();
        }
    }
    if chars > 10_000 {
        return Err(format!(
            "table cells of {chars} characters, more than 10,000"
        ));
    }
    Ok(())
}

/// A fake Slack on 127.0.0.1: `auth.test`, `conversations.list`,
/// `chat.postMessage`, `chat.getPermalink`, `conversations.history` and
/// `conversations.replies` under `/api`.
///
/// Requests need `Authorization: Bearer {token}` (else `invalid_auth`).
/// `chat.postMessage` refuses what Slack refuses, with Slack's error codes,
/// and records it in [`violations`](Self::violations): more than 50
/// blocks, a header over 150 or a section over 3000 characters, `markdown`
/// blocks over 12,000 characters together, more than one `table` block or
/// one past 100 rows, 20 cells a row or 10,000 characters, a `text` over
/// 40,000, an unknown channel or thread.
#[derive(Debug, Clone)]
pub struct FakeSlack {
    server: Arc<FakeServer>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("posts", &self.posts.len())
            .finish_non_exhaustive()
    }
}

fn ok(mut body: Value) -> Reply {
    body["ok"] = json!(true);
    Reply::json(200, body)
}

fn refuse(error: &str) -> Reply {
    Reply::json(200, json!({"ok": false, "error": error}))
}

/// A request's arguments: its query, and its JSON or form body.
fn arguments(request: &Recorded) -> Value {
    let mut arguments = request.json();
    if !arguments.is_object() {
        arguments = json!({});
    }
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(request.query.as_deref().unwrap_or_default())
            .unwrap_or_default();
    if request
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/x-www-form-urlencoded")
    {
        pairs.extend(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body)
                .unwrap_or_default(),
        );
    }
    for (name, value) in pairs {
        arguments[name] = json!(value);
    }
    arguments
}

fn text_of(argument: &Value) -> String {
    match argument {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl State {
    fn authorised(&self, request: &Recorded) -> Option<Reply> {
        match request.header("authorization") {
            None => Some(refuse("not_authed")),
            Some(value) if value == format!("Bearer {}", self.token) => None,
            Some(_) => Some(refuse("invalid_auth")),
        }
    }

    fn next_ts(&mut self) -> String {
        self.sequence += 1;
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("{seconds}.{:06}", self.sequence % 1_000_000)
    }

    fn violation(&mut self, error: &str, detail: &str) -> Reply {
        self.violations.push(format!("{error}: {detail}"));
        Reply::json(
            200,
            json!({"ok": false, "error": error, "errors": [detail]}),
        )
    }

    fn post(&mut self, arguments: &Value) -> Reply {
        let channel = text_of(&arguments["channel"]);
        if !self.channels.iter().any(|(id, _)| *id == channel) {
            return refuse("channel_not_found");
        }
        let text = text_of(&arguments["text"]);
        let blocks = match &arguments["blocks"] {
            Value::String(json) => serde_json::from_str(json).unwrap_or(Value::Null),
            blocks => blocks.clone(),
        };
        if text.is_empty() && blocks.is_null() {
            return refuse("no_text");
        }
        if text.chars().count() > 40_000 {
            return self.violation(
                "msg_too_long",
                &format!("text of {} characters", text.chars().count()),
            );
        }
        let list = blocks.as_array().cloned().unwrap_or_default();
        if list.len() > 50 {
            return self.violation(
                "invalid_blocks",
                &format!("{} blocks, more than 50", list.len()),
            );
        }
        if let Err(violation) = check_blocks(&list) {
            return self.violation("invalid_blocks", &violation);
        }
        let thread_ts = arguments["thread_ts"].as_str().map(str::to_owned);
        if let Some(thread) = &thread_ts
            && !self
                .posts
                .iter()
                .any(|post| post.channel == channel && post.ts == *thread)
        {
            return refuse("thread_not_found");
        }
        let ts = self.next_ts();
        let metadata = match &arguments["metadata"] {
            Value::String(json) => serde_json::from_str(json).unwrap_or(Value::Null),
            metadata => metadata.clone(),
        };
        self.posts.push(SlackPost {
            channel: channel.clone(),
            ts: ts.clone(),
            thread_ts,
            text: text.clone(),
            blocks,
            metadata,
        });
        ok(json!({"channel": channel, "ts": ts, "message": {"text": text}}))
    }

    fn shown(post: &SlackPost, with_metadata: bool) -> Value {
        let mut message = json!({"type": "message", "ts": post.ts, "text": post.text});
        if let Some(thread) = &post.thread_ts {
            message["thread_ts"] = json!(thread);
        }
        if with_metadata && !post.metadata.is_null() {
            message["metadata"] = post.metadata.clone();
        }
        message
    }
}

/// A page of `items` from a numeric `cursor`, and the next cursor.
fn page<T: Clone>(items: &[T], arguments: &Value, default_limit: usize) -> (Vec<T>, String) {
    let limit = text_of(&arguments["limit"])
        .parse()
        .unwrap_or(default_limit)
        .clamp(1, 1000);
    let start: usize = text_of(&arguments["cursor"]).parse().unwrap_or(0);
    let end = (start + limit).min(items.len());
    let next = if end < items.len() {
        end.to_string()
    } else {
        String::new()
    };
    (items.get(start..end).unwrap_or_default().to_vec(), next)
}

impl FakeSlack {
    /// Starts a fake Slack that accepts `token`, with channel `C0GENERAL`
    /// (`#general`).
    pub async fn start(token: &str) -> Self {
        let fake = Self {
            server: Arc::new(FakeServer::start().await),
            state: Arc::new(Mutex::new(State {
                token: token.to_owned(),
                channels: vec![("C0GENERAL".into(), "general".into())],
                ..State::default()
            })),
        };
        for (method, route) in [
            ("POST", "auth.test"),
            ("GET", "conversations.list"),
            ("POST", "conversations.list"),
            ("POST", "chat.postMessage"),
            ("GET", "chat.getPermalink"),
            ("GET", "conversations.history"),
            ("GET", "conversations.replies"),
        ] {
            let state = Arc::clone(&fake.state);
            fake.server
                .route(method, &format!("/api/{route}"), move |request| {
                    let mut state = lock(&state);
                    let delay = state.delay;
                    let reply = if let Some(retry_after) = state.rate_limits.pop_front() {
                        Reply::json(429, json!({"ok": false, "error": "ratelimited"}))
                            .header("retry-after", &retry_after.to_string())
                    } else if let Some(refused) = state.authorised(request) {
                        refused
                    } else {
                        state.answer(route, &arguments(request))
                    };
                    reply.after(delay)
                });
        }
        fake
    }

    /// The Web API's base URL, e.g. `http://127.0.0.1:PORT/api`.
    pub fn api_url(&self) -> String {
        self.server.url("/api")
    }

    /// The HTTP server, to read the raw requests.
    pub fn server(&self) -> &FakeServer {
        &self.server
    }

    /// Adds a channel.
    pub fn add_channel(&self, id: &str, name: &str) {
        lock(&self.state)
            .channels
            .push((id.to_owned(), name.to_owned()));
    }

    /// Answers the next `count` calls with 429 and `Retry-After: seconds`.
    pub fn rate_limit_next(&self, count: usize, seconds: u64) {
        lock(&self.state)
            .rate_limits
            .extend(std::iter::repeat_n(seconds, count));
    }

    /// Answers every call only after `delay`, as a distant Slack would.
    pub fn set_delay(&self, delay: std::time::Duration) {
        lock(&self.state).delay = delay;
    }

    /// The messages accepted, in order.
    pub fn posts(&self) -> Vec<SlackPost> {
        lock(&self.state).posts.clone()
    }

    /// The limits broken by requests, which Slack refused.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }
}

impl State {
    fn answer(&mut self, method: &str, arguments: &Value) -> Reply {
        match method {
            "auth.test" => ok(
                json!({"url": "https://fake.slack.com/", "team": "Fake", "user": "exporter", "team_id": "T0FAKE", "user_id": "U0EXPORTER", "bot_id": "B0EXPORTER"}),
            ),
            "conversations.list" => {
                let channels: Vec<Value> = self
                    .channels
                    .iter()
                    .map(|(id, name)| json!({"id": id, "name": name, "is_channel": true}))
                    .collect();
                let (channels, next) = page(&channels, arguments, 100);
                ok(json!({"channels": channels, "response_metadata": {"next_cursor": next}}))
            }
            "chat.postMessage" => self.post(arguments),
            "chat.getPermalink" => {
                let (channel, ts) = (
                    text_of(&arguments["channel"]),
                    text_of(&arguments["message_ts"]),
                );
                if !self
                    .posts
                    .iter()
                    .any(|post| post.channel == channel && post.ts == ts)
                {
                    return refuse("message_not_found");
                }
                ok(
                    json!({"channel": channel, "permalink": format!("https://fake.slack.com/archives/{channel}/p{}", ts.replace('.', ""))}),
                )
            }
            "conversations.history" => {
                let channel = text_of(&arguments["channel"]);
                if !self.channels.iter().any(|(id, _)| *id == channel) {
                    return refuse("channel_not_found");
                }
                let oldest: f64 = text_of(&arguments["oldest"]).parse().unwrap_or(0.0);
                let with_metadata = text_of(&arguments["include_all_metadata"]) == "true";
                let messages: Vec<Value> = self
                    .posts
                    .iter()
                    .rev()
                    .filter(|post| {
                        post.channel == channel
                            && post.thread_ts.is_none()
                            && post.ts.parse::<f64>().unwrap_or(0.0) > oldest
                    })
                    .map(|post| Self::shown(post, with_metadata))
                    .collect();
                let (messages, next) = page(&messages, arguments, 100);
                ok(
                    json!({"messages": messages, "has_more": !next.is_empty(), "response_metadata": {"next_cursor": next}}),
                )
            }
            "conversations.replies" => {
                let (channel, ts) = (text_of(&arguments["channel"]), text_of(&arguments["ts"]));
                let with_metadata = text_of(&arguments["include_all_metadata"]) == "true";
                let messages: Vec<Value> = self
                    .posts
                    .iter()
                    .filter(|post| {
                        post.channel == channel
                            && (post.ts == ts || post.thread_ts.as_deref() == Some(ts.as_str()))
                    })
                    .map(|post| Self::shown(post, with_metadata))
                    .collect();
                if messages.is_empty() {
                    return refuse("thread_not_found");
                }
                let (messages, next) = page(&messages, arguments, 1000);
                ok(
                    json!({"messages": messages, "has_more": !next.is_empty(), "response_metadata": {"next_cursor": next}}),
                )
            }
            _ => refuse("unknown_method"),
        }
    }
}
