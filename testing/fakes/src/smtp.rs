//! A fake SMTP relay on 127.0.0.1, answering as RFC 5321 and RFC 4954
//! say: `EHLO`, `AUTH PLAIN` and `AUTH LOGIN`, `MAIL`, `RCPT`, `DATA`,
//! `RSET`, `NOOP`, `QUIT`. Accepted messages are recorded; refusals can
//! be scripted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::lock;

/// The largest message the fake takes (`SIZE` in its `EHLO` answer).
pub const MAX_MESSAGE: usize = 10 * 1024 * 1024;
/// Recipients of one message at most (RFC 5321 asks a server for 100).
pub const MAX_RECIPIENTS: usize = 100;
/// A text line at most, its CRLF included (RFC 5321, 4.5.3.1.6).
pub const MAX_LINE: usize = 1000;

/// A message the fake accepted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SmtpMessage {
    /// Who authenticated.
    pub user: String,
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent, dot-unstuffed, lines ending in CRLF.
    pub data: String,
}

#[derive(Debug, Default)]
struct State {
    user: String,
    password: String,
    messages: Vec<SmtpMessage>,
    /// Answers to give the next `DATA`s instead of accepting them.
    refusals: VecDeque<(u16, String)>,
    violations: Vec<String>,
}

/// A fake SMTP relay on 127.0.0.1 that takes `user` and `password`
/// (`AUTH PLAIN` or `AUTH LOGIN`, required before `MAIL`), without TLS.
///
/// It refuses what a relay refuses, with the standard replies, and records
/// it in [`violations`](Self::violations): a command before
/// authentication (530), wrong credentials (535), more than 100 recipients
/// (452), a line over 1000 octets (500), a message over 10 MiB (552).
#[derive(Debug, Clone)]
pub struct FakeSmtp {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
    _guard: Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl FakeSmtp {
    /// Starts a relay that accepts `user` with `password`.
    pub async fn start(user: &str, password: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(Mutex::new(State {
            user: user.to_owned(),
            password: password.to_owned(),
            ..State::default()
        }));
        let stop = CancellationToken::new();
        let (accepting, stopped) = (Arc::clone(&state), stop.clone());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    () = stopped.cancelled() => return,
                };
                let (state, stopped) = (Arc::clone(&accepting), stopped.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = session(stream, &state) => {}
                        () = stopped.cancelled() => {}
                    }
                });
            }
        });
        Self {
            port,
            state,
            stop: stop.clone(),
            _guard: Arc::new(StopOnDrop(stop)),
        }
    }

    /// The relay's host, `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The relay's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages accepted, in order.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        lock(&self.state).messages.clone()
    }

    /// Answers the next `count` messages' `DATA` with `code` and `text`
    /// (say 451, a transient failure, or 554, a permanent one).
    pub fn refuse_next(&self, count: usize, code: u16, text: &str) {
        lock(&self.state)
            .refusals
            .extend(std::iter::repeat_n((code, text.to_owned()), count));
    }

    /// What clients sent that a relay refuses.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }

    /// Stops accepting connections and ends the open ones.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

/// One connection, until `QUIT` or the client leaves.
async fn session(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 fake.smtp ESMTP ready\r\n").await?;
    let mut session = Session::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let reply = if line.len() > MAX_LINE {
            violation(
                state,
                "500",
                &format!("a command line of {} octets", line.len()),
            )
        } else {
            let command = String::from_utf8_lossy(&line).trim_end().to_owned();
            match session.command(&command, state) {
                Step::Reply(reply) => reply,
                Step::Data => {
                    write
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let data = read_data(&mut lines).await?;
                    session.finish(data, state)
                }
                Step::Quit => {
                    write.write_all(b"221 Bye\r\n").await?;
                    return Ok(());
                }
            }
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// A message's data up to the lone `.`, dot-unstuffed, or why it is
/// refused.
async fn read_data(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Result<String, String>> {
    let mut data = String::new();
    let mut refused = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(match refused {
                Some(why) => Err(why),
                None => Ok(data),
            });
        }
        if refused.is_some() {
            continue;
        }
        if line.len() > MAX_LINE {
            refused = Some(format!(
                "500 a line of {} octets, more than {MAX_LINE}",
                line.len()
            ));
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        data.push_str(text.strip_prefix('.').unwrap_or(&text));
        if data.len() > MAX_MESSAGE {
            refused = Some(format!("552 a message over {MAX_MESSAGE} octets"));
        }
    }
}

fn violation(state: &Mutex<State>, code: &str, what: &str) -> String {
    lock(state).violations.push(format!("{code} {what}"));
    format!("{code} {what}\r\n")
}

#[derive(Default)]
struct Session {
    user: Option<String>,
    /// `AUTH LOGIN` in progress: the user name, once given.
    login: Option<Option<String>>,
    from: Option<String>,
    to: Vec<String>,
}

enum Step {
    Reply(String),
    Data,
    Quit,
}

impl Session {
    fn command(&mut self, line: &str, state: &Mutex<State>) -> Step {
        if let Some(login) = self.login.take() {
            return Step::Reply(self.login_step(login, line, state));
        }
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or_default();
        Step::Reply(match verb {
            "EHLO" => {
                "250-fake.smtp\r\n250-AUTH PLAIN LOGIN\r\n250-SIZE 10485760\r\n250 8BITMIME\r\n"
                    .into()
            }
            "HELO" => "250 fake.smtp\r\n".into(),
            "NOOP" => "250 OK\r\n".into(),
            "QUIT" => return Step::Quit,
            "RSET" => {
                (self.from, self.to) = (None, Vec::new());
                "250 OK\r\n".into()
            }
            "AUTH" => self.auth(line, state),
            "MAIL" | "RCPT" | "DATA" if self.user.is_none() => {
                violation(state, "530", &format!("{verb} before authentication"))
            }
            "MAIL" => {
                self.from = Some(address(line));
                self.to.clear();
                "250 OK\r\n".into()
            }
            "RCPT" if self.from.is_none() => "503 MAIL first\r\n".into(),
            "RCPT" if self.to.len() == MAX_RECIPIENTS => {
                violation(state, "452", "more than 100 recipients")
            }
            "RCPT" => {
                self.to.push(address(line));
                "250 OK\r\n".into()
            }
            "DATA" if self.to.is_empty() => "503 RCPT first\r\n".into(),
            "DATA" => return Step::Data,
            _ => "502 command not implemented\r\n".into(),
        })
    }

    fn auth(&mut self, line: &str, state: &Mutex<State>) -> String {
        let mut words = line.split_whitespace().skip(1);
        match words.next().map(str::to_ascii_uppercase).as_deref() {
            Some("PLAIN") => match words.next() {
                Some(encoded) => self.check_plain(encoded, state),
                None => "334 \r\n".into(),
            },
            Some("LOGIN") => {
                self.login = Some(None);
                // "Username:", base64.
                "334 VXNlcm5hbWU6\r\n".into()
            }
            _ => "504 unrecognized authentication type\r\n".into(),
        }
    }

    fn login_step(&mut self, login: Option<String>, line: &str, state: &Mutex<State>) -> String {
        let Some(text) = decode(line) else {
            return "501 not base64\r\n".into();
        };
        match login {
            None => {
                self.login = Some(Some(text));
                // "Password:", base64.
                "334 UGFzc3dvcmQ6\r\n".into()
            }
            Some(user) => self.check(&user, &text, state),
        }
    }

    fn check_plain(&mut self, encoded: &str, state: &Mutex<State>) -> String {
        let Some(text) = decode(encoded) else {
            return "501 not base64\r\n".into();
        };
        let mut parts = text.split('\0').skip(1);
        let (user, password) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        self.check(user, password, state)
    }

    fn check(&mut self, user: &str, password: &str, state: &Mutex<State>) -> String {
        let good = {
            let state = lock(state);
            state.user == user && state.password == password
        };
        if good {
            self.user = Some(user.to_owned());
            "235 Authentication succeeded\r\n".into()
        } else {
            violation(state, "535", "authentication credentials invalid")
        }
    }

    fn finish(&mut self, data: Result<String, String>, state: &Mutex<State>) -> String {
        let (from, to) = (
            self.from.take().unwrap_or_default(),
            std::mem::take(&mut self.to),
        );
        let data = match data {
            Ok(data) => data,
            Err(why) => {
                lock(state).violations.push(why.clone());
                return format!("{why}\r\n");
            }
        };
        let mut state = lock(state);
        if let Some((code, text)) = state.refusals.pop_front() {
            return format!("{code} {text}\r\n");
        }
        state.messages.push(SmtpMessage {
            user: self.user.clone().unwrap_or_default(),
            from,
            to,
            data,
        });
        "250 OK: queued\r\n".into()
    }
}

/// The address in `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}

/// Standard base64, decoded as UTF-8.
fn decode(text: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}
