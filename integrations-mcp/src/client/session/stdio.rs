//! The stdio transport: a child process in its own process group, with an
//! allow-listed environment, its stderr tail kept for error reports.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use integrations_core::config::StdioServer;
use integrations_core::id::ServerName;
use rmcp::service::ClientInitializeError;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::era::{self, Era};
use super::progress::{Arrivals, ordered};
use super::{
    Attempt, Client, Connect, EXIT_REPORT, ExitWatch, KillGuard, SAFE_VARIABLES, STDERR_LINE_BYTES,
    STDERR_LINES, Session, stderr_tail,
};
use crate::error::Error;

impl Session {
    pub(super) async fn connect_stdio(
        server: &ServerName,
        config: &StdioServer,
        options: &Connect<'_>,
    ) -> Result<Self, Error> {
        Self::in_era(server, options, None, |era, by, probing| {
            Box::pin(Self::start_stdio(server, config, options, era, by, probing))
        })
        .await
    }

    /// Starts the server and makes one handshake in `era` by `by`; when
    /// `probing`, an answer that says the server is legacy is
    /// [`Attempt::Legacy`]. The process is killed unless the handshake works.
    async fn start_stdio(
        server: &ServerName,
        config: &StdioServer,
        options: &Connect<'_>,
        era: Era,
        by: tokio::time::Instant,
        probing: bool,
    ) -> Result<Self, Attempt> {
        let tasks = options.tasks;
        let Process {
            mut guard,
            pgid,
            stdin,
            stdout,
            lines,
            stderr_closed,
            exit,
        } = Process::start(server, config, tasks)?;
        let arrivals = Arrivals::new(options.hooks.as_ref(), tasks);
        let client = Client::new(options.hooks.clone(), &arrivals);
        let (over, oversized) = watch::channel(0);
        let transport = super::lines::Lines::new(stdout, stdin, options.max_message, over);
        let started = rmcp::serve_client_with_lifecycle(
            client,
            ordered(transport, arrivals),
            era.lifecycle(),
        );
        let mut exit_watch = exit.clone();
        let error = match until_exit(started, &mut exit_watch, by).await {
            Ok(Ok(service)) => {
                guard.0 = None;
                // The process's exit ends the session: rmcp then fails the
                // calls in flight with `TransportClosed` at once (one
                // watcher per session, none per call).
                let stop = service.cancellation_token();
                let mut exited = exit.clone();
                tasks.spawn(async move {
                    let _ = exited.wait_for(Option::is_some).await;
                    stop.cancel();
                });
                return Ok(Self::new(
                    server,
                    service,
                    (exit, None),
                    (pgid, lines, oversized),
                    options,
                ));
            }
            Ok(Err(error)) => error,
            // The server never answered: that, not what closing its input
            // makes it do afterwards, is the error.
            Err(_) if probing => {
                return Err(Attempt::Legacy("no answer to server/discover".into()));
            }
            Err(_) => {
                return Err(Attempt::Failed(Error::HandshakeTimeout {
                    server: server.clone(),
                    after: options.handshake,
                }));
            }
        };
        if probing && era::is_legacy_answer(&error) {
            return Err(Attempt::Legacy(error.to_string()));
        }
        if let Some(refused) = era::answered(server, era, &error) {
            return Err(Attempt::Failed(refused));
        }
        // An exiting server explains the failure with its status and last
        // stderr lines; it gets a moment for that, within the deadline.
        let report_by = by.min(tokio::time::Instant::now() + EXIT_REPORT);
        let exited = exit_status(&mut exit_watch, stderr_closed, report_by).await;
        Err(Attempt::Failed(match exited {
            Some(status) => Error::Exited {
                server: server.clone(),
                status,
                stderr: stderr_tail(&lines),
            },
            None => Error::Handshake {
                server: server.clone(),
                message: error.to_string(),
            },
        }))
    }
}

/// The handshake's outcome by `by` (`Err` past it). A server that exits
/// may have answered first (a refusal, say): its last message is read
/// before the exit is the error.
async fn until_exit<T>(
    started: impl Future<Output = Result<T, ClientInitializeError>>,
    exit: &mut ExitWatch,
    by: tokio::time::Instant,
) -> Result<Result<T, ClientInitializeError>, tokio::time::error::Elapsed> {
    let mut started = std::pin::pin!(tokio::time::timeout_at(by, started));
    tokio::select! {
        outcome = &mut started => return outcome,
        _ = exit.wait_for(Option::is_some) => {}
    }
    let report_by = by.min(tokio::time::Instant::now() + EXIT_REPORT);
    tokio::time::timeout_at(report_by, &mut started)
        .await
        .unwrap_or_else(|_| {
            Ok(Err(ClientInitializeError::ConnectionClosed(
                "the server exited".into(),
            )))
        })
}

/// A server process just started: its group (killed when `guard` drops,
/// until the handshake works), its stdin and stdout, the tail of its
/// stderr (kept by a task of the pool's) and its exit.
struct Process {
    guard: KillGuard,
    pgid: Option<u32>,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Resolves when stderr reaches its end.
    stderr_closed: tokio::sync::oneshot::Receiver<()>,
    exit: ExitWatch,
}

impl Process {
    fn start(
        server: &ServerName,
        config: &StdioServer,
        tasks: &tokio_util::task::TaskTracker,
    ) -> Result<Self, Attempt> {
        let mut child = spawn(server, config)?;
        let pgid = child.id();
        let guard = KillGuard(pgid);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Attempt::Failed(Error::Handshake {
                server: server.clone(),
                message: "the child's stdio pipes were not available".into(),
            }));
        };
        let lines = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
        let (stderr_open, stderr_closed) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(keep_stderr(
            (server.to_string(), known_secrets(config)),
            stderr,
            Arc::clone(&lines),
            stderr_open,
        ));
        let (exited, exit) = watch::channel(None);
        tasks.spawn(async move {
            let _ = exited.send(Some(child.wait().await.ok().and_then(|s| s.code())));
        });
        Ok(Self {
            guard,
            pgid,
            stdin,
            stdout,
            lines,
            stderr_closed,
            exit,
        })
    }
}

/// The server's exit status if it exits by `by` (`Some(code)`, the code
/// `None` for a signal), its stderr then read to the end.
async fn exit_status(
    exit: &mut ExitWatch,
    stderr_closed: tokio::sync::oneshot::Receiver<()>,
    by: tokio::time::Instant,
) -> Option<Option<i32>> {
    let exited = tokio::time::timeout_at(by, exit.wait_for(Option::is_some))
        .await
        .ok()
        .and_then(|status| status.ok().and_then(|status| *status));
    if exited.is_some() {
        let _ = tokio::time::timeout_at(by, stderr_closed).await;
    }
    exited
}

/// Starts the server's process: in its own process group, with only the
/// allow-listed variables of the host's environment and the config's own.
fn spawn(server: &ServerName, config: &StdioServer) -> Result<tokio::process::Child, Error> {
    let mut command = tokio::process::Command::new(config.command.expose());
    command
        .args(config.args.iter().map(|arg| arg.expose()))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in SAFE_VARIABLES {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in &config.env {
        command.env(name, value.expose());
    }
    if let Some(cwd) = &config.cwd {
        command.current_dir(cwd);
    }
    #[cfg(unix)]
    command.process_group(0);
    command.spawn().map_err(|source| Error::Spawn {
        server: server.clone(),
        command: config.command.expose().to_owned(),
        source: Arc::new(source),
    })
}

/// Logs the server's stderr and keeps its last lines for error reports;
/// `open` is dropped when stderr closes.
/// Values of `config` a server may print and no one may read: `env` values
/// and arguments marked secret (from `${VAR}` or `env:VAR`), and `env`
/// values whose name says they are (`*TOKEN*`, `*KEY*`, `*SECRET*`,
/// `*PASSWORD*`, `*AUTH*`, `*CREDENTIAL*`: tokens are written literally as
/// often as not), at least 6 characters long (a `1` or `true` would mask
/// ordinary text).
fn known_secrets(config: &StdioServer) -> Vec<String> {
    const NAMES: [&str; 6] = ["TOKEN", "KEY", "SECRET", "PASSWORD", "AUTH", "CREDENTIAL"];
    let named = |name: &str| {
        let name = name.to_ascii_uppercase();
        NAMES.iter().any(|word| name.contains(word))
    };
    let mut secrets: Vec<String> = config
        .env
        .iter()
        .filter(|(name, value)| value.is_secret() || named(name))
        .map(|(_, value)| value)
        .chain(config.args.iter().filter(|arg| arg.is_secret()))
        .map(|value| value.expose().to_owned())
        .filter(|value| value.chars().count() >= 6)
        .collect();
    // The longest first, so a secret inside another is masked with it.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets
}

async fn keep_stderr(
    (server, secrets): (String, Vec<String>),
    mut stderr: tokio::process::ChildStderr,
    tail: Arc<Mutex<VecDeque<String>>>,
    open: tokio::sync::oneshot::Sender<()>,
) {
    let _open = open;
    let keep = |line: &[u8], clipped: bool| {
        let mut line = printable(line);
        for secret in &secrets {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "[redacted]");
            }
        }
        if clipped {
            line.push_str(" [...]");
        }
        tracing::debug!(%server, "stderr: {line}");
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == STDERR_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    };
    let (mut chunk, mut line, mut clipped) = (vec![0u8; 8192], Vec::new(), false);
    while let Ok(read) = stderr.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        for piece in chunk[..read].split_inclusive(|b| *b == b'\n') {
            let (text, ends) = match piece.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (piece, false),
            };
            let room = STDERR_LINE_BYTES.saturating_sub(line.len());
            clipped |= text.len() > room;
            line.extend_from_slice(&text[..text.len().min(room)]);
            if ends {
                keep(&line, clipped);
                (line, clipped) = (Vec::new(), false);
            }
        }
    }
    if !line.is_empty() {
        keep(&line, clipped);
    }
}

/// A line of a server's stderr as the host may print it: UTF-8 (lossy),
/// without control characters (a terminal's escape sequences included).
fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}
