//! Fake vendor servers for tests: an HTTP server on 127.0.0.1 whose routes
//! answer from scripts, and that records every request it receives, so a
//! test can check what a client sent (method, path, headers, body) and make
//! the server answer as the vendor does (`ok: false` bodies, 429 with
//! `Retry-After`, slow answers, 5xx storms).
//!
//! ```
//! use integrations_fakes::{FakeServer, Reply};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let fake = FakeServer::start().await;
//! fake.route("POST", "/api/auth.test", |_| Reply::json(200, serde_json::json!({"ok": true, "user": "U1"})));
//! assert!(fake.url("/api").starts_with("http://127.0.0.1:"));
//! assert!(fake.requests("/api/auth.test").is_empty());
//! # });
//! ```

pub mod github;
pub mod notion;
pub mod postgres;
pub mod process;
pub mod slack;
pub mod smtp;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio_util::sync::CancellationToken;

/// A request the fake received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Recorded {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The client's address: two requests from one port came over one
    /// TCP connection, so from one HTTP client's pool.
    pub peer: SocketAddr,
}

impl Recorded {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What a route answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Reply {
    /// A JSON body with `status`.
    #[allow(clippy::needless_pass_by_value)] // so tests can write `json!(..)` inline
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
            delay: Duration::ZERO,
        }
    }

    /// A plain-text body with `status`.
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: Bytes::from(body.to_owned()),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers only after `delay` (on tokio's clock).
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<(String, String), Handler>>,
    log: Mutex<Vec<Recorded>>,
}

/// Whether the tests run in CI (`CI` set, and not to `false`): there, a
/// test whose system dependency is missing fails instead of passing over
/// it, since `.ci/run` installs every one.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|ci| !ci.is_empty() && ci != "false")
}

/// The Python of `testing/python/.venv`, where `.ci/run` installs the
/// pinned `mcp` SDK (`testing/python/requirements.txt`), and the path of
/// `script` beside it. `None` (with a note) when the venv is missing,
/// except in CI, where that is a failure.
pub fn python(script: &str) -> Option<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../python");
    let python = dir.join(".venv/bin/python");
    if !python.exists() {
        let message = "the Python MCP SDK is not installed: run `python3 -m venv testing/python/.venv && testing/python/.venv/bin/pip install -r testing/python/requirements.txt`";
        assert!(!in_ci(), "{message} (CI: this test may not skip)");
        eprintln!("SKIPPED: {message}");
        return None;
    }
    Some((
        python.display().to_string(),
        dir.join(script).display().to_string(),
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fake vendor server on 127.0.0.1; it stops when dropped.
pub struct FakeServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        peer,
    };
    lock(&shared.log).push(recorded.clone());
    let handler = {
        let routes = lock(&shared.routes);
        routes
            .get(&(recorded.method.clone(), recorded.path.clone()))
            .or_else(|| {
                routes.iter().find_map(|((method, pattern), handler)| {
                    (*method == recorded.method && matches_pattern(pattern, &recorded.path))
                        .then_some(handler)
                })
            })
            .cloned()
    };
    let reply = match handler {
        Some(handler) => handler(&recorded),
        None => Reply::text(404, "no such route on the fake"),
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Whether `path` matches `pattern`, where a `{name}` segment of the
/// pattern matches any one segment.
fn matches_pattern(pattern: &str, path: &str) -> bool {
    let (mut pattern, mut path) = (pattern.split('/'), path.split('/'));
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(want), Some(got))
                if want == got || (want.starts_with('{') && !got.is_empty()) => {}
            _ => return false,
        }
    }
}

impl FakeServer {
    /// Starts a server on a free port of 127.0.0.1, in the current runtime.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared::default());
        let stop = CancellationToken::new();
        let router = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stopped.cancelled_owned())
            .await;
        });
        Self {
            address,
            shared,
            stop,
        }
    }

    /// The URL of `path` on the fake.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Answers `method path` with what `handler` returns for each request.
    /// A `{name}` segment of `path` matches any one segment, so
    /// `/v1/blocks/{id}/children` answers for every block.
    pub fn route(
        &self,
        method: &str,
        path: &str,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) {
        lock(&self.shared.routes).insert((method.to_owned(), path.to_owned()), Arc::new(handler));
    }

    /// Answers `method path` with `replies` in order, then repeats the last.
    pub fn script(&self, method: &str, path: &str, replies: Vec<Reply>) {
        let replies = Mutex::new(std::collections::VecDeque::from(replies));
        self.route(method, path, move |_| {
            let mut replies = lock(&replies);
            if replies.len() > 1 {
                replies
                    .pop_front()
                    .unwrap_or_else(|| Reply::text(500, "empty script"))
            } else {
                replies
                    .front()
                    .cloned()
                    .unwrap_or_else(|| Reply::text(500, "empty script"))
            }
        });
    }

    /// Every request received, in order.
    pub fn all_requests(&self) -> Vec<Recorded> {
        lock(&self.shared.log).clone()
    }

    /// The requests received for `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        lock(&self.shared.log)
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }
}
