//! The HTTP+SSE transport of MCP 2024-11-05 (deprecated, but what some
//! hosted servers still speak; rmcp 3.11 has no client for it): a GET
//! stream whose first `endpoint` event names where to POST; each message
//! the client sends is a POST there, each message of the server a `message`
//! event on the stream.
//!
//! The endpoint must be on the stream's origin (a server may not send the
//! client's requests, headers and token elsewhere); one event may hold at
//! most the session's message limit; the stream's reader is a task of the
//! session's, stopped when the transport is dropped.

use std::sync::Arc;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

/// Messages read ahead of the session.
const READ_AHEAD: usize = 64;

/// The transport: where to POST, and the messages the stream carried.
pub(super) struct SseTransport {
    http: reqwest::Client,
    endpoint: Arc<reqwest::Url>,
    headers: Arc<HeaderMap>,
    messages: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    _stop: DropGuard,
}

fn failed(message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(message.into())
}

impl SseTransport {
    /// Opens the stream at `url` and waits for its `endpoint` event; the
    /// caller bounds the wait. `headers` go with every request (the
    /// config's, and `Authorization`).
    pub(super) async fn open(
        http: reqwest::Client,
        url: &str,
        headers: HeaderMap,
        max_message: usize,
        tasks: &TaskTracker,
    ) -> Result<Self, std::io::Error> {
        let base = reqwest::Url::parse(url).map_err(|e| failed(format!("not a URL: {e}")))?;
        let response = http
            .get(base.clone())
            .headers(headers.clone())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| failed(format!("GET failed: {}", e.without_url())))?;
        let status = response.status();
        let is_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if !status.is_success() || !is_stream {
            return Err(failed(format!(
                "GET answered HTTP {status}, not an event stream"
            )));
        }
        let bytes = Bounded::new(response.bytes_stream(), max_message);
        let mut events = sse_stream::SseStream::from_bytes_stream(bytes);
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    let data = event.data.unwrap_or_default();
                    let endpoint = base
                        .join(data.trim())
                        .map_err(|e| failed(format!("the endpoint event is not a URL: {e}")))?;
                    if endpoint.origin() != base.origin() {
                        return Err(failed("the endpoint event names another origin; refused"));
                    }
                    break endpoint;
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(failed(format!("the stream failed: {error}"))),
                None => return Err(failed("the stream ended before its endpoint event")),
            }
        };
        let (sender, messages) = mpsc::channel(READ_AHEAD);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tasks.spawn(async move {
            loop {
                let event = tokio::select! {
                    event = events.next() => event,
                    () = stopped.cancelled() => return,
                };
                let Some(Ok(event)) = event else {
                    return; // the stream ended or failed: the session is over
                };
                if !matches!(event.event.as_deref(), None | Some("message")) {
                    continue;
                }
                match serde_json::from_str(event.data.as_deref().unwrap_or_default()) {
                    Ok(message) => {
                        if sender.send(message).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => tracing::debug!(%error, "an SSE message that is not JSON-RPC"),
                }
            }
        });
        Ok(Self {
            http,
            endpoint: Arc::new(endpoint),
            headers: Arc::new(headers),
            messages,
            _stop: stop.drop_guard(),
        })
    }
}

impl rmcp::transport::Transport<RoleClient> for SseTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let (http, endpoint, headers) = (
            self.http.clone(),
            Arc::clone(&self.endpoint),
            Arc::clone(&self.headers),
        );
        async move {
            let answer = http
                .post((*endpoint).clone())
                .headers((*headers).clone())
                .json(&item)
                .send()
                .await
                .map_err(|e| failed(format!("POST failed: {}", e.without_url())))?;
            if answer.status().is_success() {
                Ok(())
            } else {
                Err(failed(format!("POST answered HTTP {}", answer.status())))
            }
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> {
        self.messages.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.messages.close();
        Ok(())
    }
}

/// A byte stream that fails once one event (the bytes between blank lines)
/// grows past `limit`: the SSE parser would keep it whole.
struct Bounded<S> {
    inner: S,
    limit: usize,
    /// Bytes of the current event so far.
    run: usize,
    /// Whether the last byte (`\r` aside) ended a line.
    after_newline: bool,
}

impl<S> Bounded<S> {
    fn new(inner: S, limit: usize) -> Self {
        Self {
            inner,
            limit,
            run: 0,
            after_newline: false,
        }
    }
}

impl<S, D> futures_util::Stream for Bounded<S>
where
    S: futures_util::Stream<Item = reqwest::Result<D>> + Unpin,
    D: AsRef<[u8]>,
{
    type Item = Result<D, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_next(cx);
        let std::task::Poll::Ready(Some(Ok(chunk))) = polled else {
            return polled.map(|item| item.map(|item| item.map_err(failed_read)));
        };
        for byte in chunk.as_ref().iter().copied() {
            match byte {
                b'\r' => {}
                b'\n' if this.after_newline => this.run = 0,
                b'\n' => this.after_newline = true,
                _ => {
                    this.after_newline = false;
                    this.run += 1;
                }
            }
        }
        if this.run > this.limit {
            return std::task::Poll::Ready(Some(Err(failed(format!(
                "an event longer than {} bytes",
                this.limit
            )))));
        }
        std::task::Poll::Ready(Some(Ok(chunk)))
    }
}

fn failed_read(error: reqwest::Error) -> std::io::Error {
    failed(format!(
        "reading the stream failed: {}",
        error.without_url()
    ))
}
