//! One live MCP session: the child process, the rmcp client, the tool cache.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integrations_core::config::McpServerEntry;
use integrations_core::id::ServerName;
use integrations_core::integration::LogLevel;
use rmcp::model::{ServerPeerInfo, Tool};
use rmcp::service::RunningService;
use rmcp::{Peer, RoleClient};
use secrecy::SecretString;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::hooks::{ClientHooks, HookContext};
use crate::error::Error;
use era::{Era, EraSlot, Start};

#[cfg(feature = "http")]
mod bounded;
mod calls;
mod client;
pub(crate) mod era;
#[cfg(feature = "http")]
mod http;
mod lines;
mod listen;
mod logs;
mod oversized;
mod progress;
mod requests;
mod rounds;
#[cfg(feature = "http")]
mod sse;
mod stdio;
mod tasks;

pub(crate) use client::Client;

use progress::ProgressRoutes;

/// Environment variables passed to every stdio server besides those its
/// config names; everything else of the host's environment (its secrets
/// included) is withheld, as the TypeScript and Python SDKs do.
const SAFE_VARIABLES: &[&str] = &[
    "HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR",
];

/// Tells when a server process exited, and with which status.
type ExitWatch = watch::Receiver<Option<Option<i32>>>;

/// How long a liveness ping after a timed-out call may take.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// How many stderr lines of a server are kept for error reports.
const STDERR_LINES: usize = 20;
/// Bytes of one stderr line kept; the rest of a longer line is dropped
/// (a server writing without newlines cannot grow the host's memory).
const STDERR_LINE_BYTES: usize = 4096;

/// The longest message a stdio server may send by default: rmcp's own
/// line limit.
pub(crate) const MAX_MESSAGE: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

/// After a failed handshake, how long an exiting server is given to report
/// its status and last stderr lines (never past the handshake's deadline).
const EXIT_REPORT: Duration = Duration::from_millis(500);

/// How to connect: set by the pool (or [`test_server`](crate::client::test_server)).
pub(crate) struct Connect<'a> {
    /// Sent as `Authorization: Bearer` to HTTP servers.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) bearer: Option<SecretString>,
    /// The time limit of start-up and handshake together.
    pub(crate) handshake: Duration,
    /// The protocol revision to speak.
    pub(crate) protocol: integrations_core::config::McpProtocol,
    /// Where the pool remembers the revision the server spoke.
    pub(crate) era: Option<EraSlot<'a>>,
    /// The default time limit of a call on the session.
    pub(crate) call_timeout: Duration,
    /// The longest line a stdio server may write.
    pub(crate) max_message: usize,
    /// Owns the session's background tasks.
    pub(crate) tasks: &'a TaskTracker,
    /// Answers to the server's requests, and whose session it is.
    pub(crate) hooks: Option<(Arc<dyn ClientHooks>, HookContext)>,
    /// How to authorise to an HTTP server that requires it.
    #[cfg(feature = "http")]
    pub(crate) oauth: Option<crate::client::authorization::OAuthContext>,
}

/// A session's tool list, as long as it may be served again: until the
/// server announces a change, and (on 2026-07-28) no longer than its
/// `ttlMs` says.
struct CachedTools {
    generation: u64,
    /// The 2026-07-28 stream that would announce a change, when fetched.
    stream: Option<listen::Stream>,
    fresh_until: Option<Instant>,
    tools: Arc<Vec<Tool>>,
}

/// Why one handshake attempt failed.
enum Attempt {
    /// A probe found a legacy server (why, for the log): `initialize`
    /// follows on a fresh transport.
    Legacy(String),
    /// The connect failed.
    Failed(Error),
}

/// One handshake attempt under way.
type AttemptFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session, Attempt>> + Send + 'a>>;

impl From<Error> for Attempt {
    fn from(error: Error) -> Self {
        Self::Failed(error)
    }
}

/// A shared handle to a live session with one MCP server. Calls on it run
/// concurrently.
pub struct Session {
    server: ServerName,
    peer: Peer<RoleClient>,
    /// Answers the server's input requests (MRTR).
    client: Client,
    /// The resources a 2026-07-28 session listens for; `None` on a
    /// 2025-11-25 session, where `resources/subscribe` asks.
    listening: Option<Arc<listen::Listening>>,
    /// Stops the session's own tasks (its `subscriptions/listen`) when it
    /// closes or is dropped.
    stop: CancellationToken,
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, Client>>>,
    progress: Arc<ProgressRoutes>,
    tools_generation: Arc<AtomicU64>,
    tools: Mutex<Option<CachedTools>>,
    exit: watch::Receiver<Option<Option<i32>>>,
    /// Held for sessions without a process, whose exit never comes.
    _no_process: Option<watch::Sender<Option<Option<i32>>>>,
    pgid: Option<u32>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    broken: Arc<AtomicBool>,
    in_flight: AtomicUsize,
    /// Nanoseconds from `created` to the end of the longest call timeout
    /// of the calls started so far.
    busy_until: AtomicU64,
    /// Told when the last call in flight ends.
    idle: tokio::sync::Notify,
    call_timeout: Duration,
    /// Counts the server's messages over `max_message` that no stand-in
    /// answers (stdio, where they are skipped); the sender is gone for
    /// sessions that cannot have them.
    oversized: watch::Receiver<u64>,
    max_message: usize,
    tasks: TaskTracker,
    /// Where the server is, for the spans of requests to it.
    trace_peer: crate::trace::Peer,
    /// On 2026-07-28, the log level the hooks asked for, sent in each
    /// request's `_meta` (a 2025-11-25 server was told once, by
    /// `logging/setLevel`).
    log_level: Option<LogLevel>,
    /// When the session was made; `last_used` counts from it.
    created: Instant,
    /// Nanoseconds from `created` to the last use.
    last_used: AtomicU64,
}

impl Drop for Session {
    /// A session dropped without being closed (say, one whose connect
    /// finished after the pool shut down) takes its server with it.
    fn drop(&mut self) {
        self.stop.cancel();
        if self.exit.borrow().is_none() {
            kill_group(self.pgid);
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("pid", &self.pgid)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

fn stderr_tail(lines: &Mutex<VecDeque<String>>) -> String {
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner());
    if lines.is_empty() {
        "(nothing on stderr)".into()
    } else {
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// Kills a process group when dropped, unless disarmed.
struct KillGuard(Option<u32>);

impl Drop for KillGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// Kills a server's whole process group (`npx` starts `npm exec -> sh ->
/// node`: killing only the direct child would leave the server running).
fn kill_group(pgid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pgid
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = pgid;
}

impl Session {
    fn new(
        server: &ServerName,
        service: RunningService<RoleClient, Client>,
        (exit, no_process): (ExitWatch, Option<watch::Sender<Option<Option<i32>>>>),
        (pgid, stderr, oversized): (
            Option<u32>,
            Arc<Mutex<VecDeque<String>>>,
            watch::Receiver<u64>,
        ),
        options: &Connect<'_>,
    ) -> Self {
        let stop = CancellationToken::new();
        let info = service.peer().peer_info();
        let modern = info
            .as_ref()
            .is_some_and(|info| !info.protocol_version.has_initialize());
        let logs = options
            .hooks
            .as_ref()
            .and_then(|(hooks, _)| hooks.capabilities().logs);
        let listening = modern.then(|| {
            let tools = info.as_ref().is_some_and(|info| {
                info.capabilities
                    .tools
                    .as_ref()
                    .is_some_and(|tools| tools.list_changed == Some(true))
            });
            let listening = Arc::new(listen::Listening::new(tools));
            options.tasks.spawn(listen::keep_listening(
                service.peer().clone(),
                service.service().clone(),
                Arc::clone(&listening),
                stop.clone(),
            ));
            listening
        });
        Self {
            listening,
            stop,
            server: server.clone(),
            peer: service.peer().clone(),
            client: service.service().clone(),
            progress: Arc::clone(&service.service().progress),
            tools_generation: Arc::clone(&service.service().tools_generation),
            service: tokio::sync::Mutex::new(Some(service)),
            tools: Mutex::new(None),
            exit,
            _no_process: no_process,
            pgid,
            stderr,
            broken: Arc::new(AtomicBool::new(false)),
            in_flight: AtomicUsize::new(0),
            busy_until: AtomicU64::new(0),
            idle: tokio::sync::Notify::new(),
            call_timeout: options.call_timeout,
            oversized,
            max_message: options.max_message,
            tasks: options.tasks.clone(),
            trace_peer: crate::trace::Peer::default(),
            log_level: logs.filter(|_| modern),
            created: Instant::now(),
            last_used: AtomicU64::new(0),
        }
    }

    /// Starts the server and completes the handshake within the options'
    /// handshake limit.
    pub(crate) async fn connect(
        server: &ServerName,
        config: &McpServerEntry,
        options: Connect<'_>,
    ) -> Result<Self, Error> {
        let deadline = tokio::time::Instant::now() + options.handshake;
        let logs = options
            .hooks
            .as_ref()
            .and_then(|(hooks, _)| hooks.capabilities().logs);
        let mut session = Self::connect_to(server, config, options).await?;
        session.trace_peer = crate::trace::Peer {
            version: (session.peer.peer_info())
                .map(|info| info.protocol_version.as_str().to_owned()),
            ..crate::trace::Peer::of(config)
        };
        // A 2025-11-25 server that logs is told the hooks' level before
        // the session is handed out.
        let logging = session.peer.peer_info().is_some_and(|info| {
            info.protocol_version.has_initialize() && info.capabilities.logging.is_some()
        });
        if let Some(level) = logs.filter(|_| logging) {
            let limit = deadline.saturating_duration_since(tokio::time::Instant::now());
            crate::level::ask(session.peer.clone(), level, limit).await;
        }
        // A 2026-07-28 server announces a change only on a stream that is
        // open: hand the session out once its first one is (or was refused).
        if let Some(listening) = &session.listening {
            let _ = tokio::time::timeout_at(deadline, listening.first_attempt()).await;
        }
        Ok(session)
    }

    async fn connect_to(
        server: &ServerName,
        config: &McpServerEntry,
        options: Connect<'_>,
    ) -> Result<Self, Error> {
        match config {
            McpServerEntry::Stdio(stdio) => Self::connect_stdio(server, stdio, &options).await,
            #[cfg(feature = "http")]
            McpServerEntry::Http(http) => Self::connect_http(server, http, options).await,
            #[cfg(not(feature = "http"))]
            McpServerEntry::Http(_) => {
                drop(options);
                Err(Error::Unsupported {
                    server: server.clone(),
                    message: "streamable HTTP servers need the `http` feature of integrations-mcp"
                        .into(),
                })
            }
            _ => Err(Error::Unsupported {
                server: server.clone(),
                message: "unknown transport".into(),
            }),
        }
    }

    /// Connects in the revision `options` call for: where `auto` knows
    /// nothing of the server yet, `server/discover` first (within half the
    /// handshake time), then `initialize` on a fresh transport if the server
    /// is legacy. `attempt(era, by, probing)` makes one handshake on a new
    /// transport; the revision that worked is remembered, a failure forgets.
    ///
    /// `sse` is `None` for stdio; for HTTP it says whether the server is
    /// spoken to over 2024-11-05's HTTP+SSE only, or tried over it when the
    /// legacy handshake over streamable HTTP failed.
    async fn in_era<'f>(
        server: &ServerName,
        options: &Connect<'_>,
        sse: Option<integrations_core::config::HttpTransport>,
        mut attempt: impl FnMut(Era, tokio::time::Instant, bool) -> AttemptFuture<'f>,
    ) -> Result<Self, Error> {
        use integrations_core::config::{HttpTransport, McpProtocol};

        let started = tokio::time::Instant::now();
        let deadline = started + options.handshake;
        let remembered = options.era.as_ref().and_then(EraSlot::get);
        let start = match sse {
            Some(HttpTransport::Sse) if options.protocol != McpProtocol::Modern => {
                Start::Only(Era::Sse)
            }
            _ => era::start(options.protocol, remembered),
        };
        let result = match start {
            Start::Only(era) => attempt(era, deadline, false).await.map(|s| (s, era)),
            Start::Probe => {
                let probe_by = started + era::probe_time(options.handshake);
                match attempt(Era::Modern, probe_by, true).await {
                    Err(Attempt::Legacy(why)) => {
                        tracing::debug!(%server, %why, "not a 2026-07-28 server: initialize");
                        attempt(Era::Legacy, deadline, false)
                            .await
                            .map(|s| (s, Era::Legacy))
                    }
                    other => other.map(|s| (s, Era::Modern)),
                }
            }
        };
        // A server that refuses streamable HTTP may be an HTTP+SSE one.
        let result = match result {
            Err(Attempt::Failed(failed @ Error::Handshake { .. }))
                if sse == Some(HttpTransport::Streamable)
                    && options.protocol != McpProtocol::Modern
                    && tokio::time::Instant::now() < deadline =>
            {
                match attempt(Era::Sse, deadline, false).await {
                    Ok(session) => Ok((session, Era::Sse)),
                    Err(sse) => {
                        if let Attempt::Failed(error) = sse {
                            tracing::debug!(%server, %error, "not an HTTP+SSE server either");
                        }
                        Err(Attempt::Failed(failed))
                    }
                }
            }
            other => other,
        };
        match result {
            Ok((session, era)) => {
                if let Some(slot) = &options.era {
                    slot.remember(era);
                }
                Ok(session)
            }
            Err(failed) => {
                if let Some(slot) = &options.era {
                    slot.forget();
                }
                Err(match failed {
                    Attempt::Failed(error) => error,
                    // Only a probe says legacy, and a fallback is no probe.
                    Attempt::Legacy(why) => Error::Handshake {
                        server: server.clone(),
                        message: why,
                    },
                })
            }
        }
    }

    /// The server's name in the pool.
    pub fn server(&self) -> &ServerName {
        &self.server
    }

    /// The server's process id (also its process group), for stdio servers.
    pub fn pid(&self) -> Option<u32> {
        self.pgid
    }

    /// What the server said about itself in the handshake.
    pub fn server_info(&self) -> Option<Arc<ServerPeerInfo>> {
        self.peer.peer_info()
    }

    /// Whether the process still runs and the transport is open.
    pub fn is_alive(&self) -> bool {
        !self.broken.load(Ordering::SeqCst)
            && self.exit.borrow().is_none()
            && !self.peer.is_transport_closed()
    }

    /// How many `notifications/tools/list_changed` the server has sent (on
    /// 2026-07-28, on the session's `subscriptions/listen` stream); each one
    /// invalidates the cached tool list.
    pub fn tool_list_changes(&self) -> u64 {
        self.tools_generation.load(Ordering::SeqCst)
    }

    /// The last lines the server wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        stderr_tail(&self.stderr)
    }

    /// The span of a `method` request for `target` on this session.
    pub(crate) fn span(&self, method: &'static str, target: &str) -> tracing::Span {
        crate::trace::client(method, target, self.server.as_str(), &self.trace_peer)
    }

    pub(crate) fn touch(&self) {
        let since = u64::try_from(self.created.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_used.fetch_max(since, Ordering::Relaxed);
    }

    pub(crate) fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(self.last_used().elapsed())
    }

    pub(crate) fn last_used(&self) -> Instant {
        self.created + Duration::from_nanos(self.last_used.load(Ordering::Relaxed))
    }

    /// Marks the session dead and kills its server's process group now.
    pub(crate) fn kill(&self) {
        self.stop.cancel();
        self.broken.store(true, Ordering::SeqCst);
        kill_group(self.pgid);
    }

    /// Returns once no call is in flight: each ends by its timeout at the
    /// latest (1 s more is allowed for its answer to be handed back).
    pub(crate) async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            let busy_until = Duration::from_nanos(self.busy_until.load(Ordering::Relaxed));
            let until = tokio::time::Instant::from_std(self.created)
                .checked_add(busy_until.saturating_add(Duration::from_secs(1)));
            match until {
                Some(until) => {
                    if tokio::time::timeout_at(until, idle).await.is_err() {
                        return;
                    }
                }
                None => idle.await,
            }
        }
    }

    /// Closes the session: cancels the client, lets the server exit for
    /// `grace`, then kills its process group.
    pub(crate) async fn close(&self, grace: Duration) {
        self.stop.cancel();
        self.broken.store(true, Ordering::SeqCst);
        if let Some(service) = self.service.lock().await.take() {
            // Dropping the running service cancels it and closes stdin (for
            // HTTP, it ends the session's requests).
            drop(service);
        }
        if self.pgid.is_none() {
            // No process whose exit to wait for.
            return;
        }
        let mut exit = self.exit.clone();
        if tokio::time::timeout(grace, exit.wait_for(Option::is_some))
            .await
            .is_err()
        {
            kill_group(self.pgid);
            let _ =
                tokio::time::timeout(Duration::from_secs(2), exit.wait_for(Option::is_some)).await;
        }
        // Children the server left behind in its group.
        kill_group(self.pgid);
    }
}
