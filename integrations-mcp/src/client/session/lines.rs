//! The stdio transport's JSON-RPC lines, read and written as rmcp's
//! `AsyncRwTransport` reads and writes them, except that the answer to a
//! `tools/call` is read as a call result straight away.
//!
//! rmcp reads every answer into its untagged `ServerResult`: serde buffers
//! the message, then tries each kind of result in turn until one fits. A
//! call result is the sixteenth kind, so each call's answer first fails
//! fifteen times, and each failure builds an error message. That cost
//! about 45,000 instructions an answer (callgrind on a scratch loop; the
//! pool bench's client fell by 42.6k a call with this), some 40% of a bare
//! rmcp client's work on a call. [`Lines`] remembers the ids of the `tools/call`
//! requests it sends and reads their answers as [`CallToolResult`] (about
//! 6,700 instructions). Every other message, and a call's answer that is
//! not a complete call result (a task, a request for input), is read as
//! rmcp reads it.
//!
//! One answer reads differently, and better: a call result that also has
//! the required fields of a kind before it (`tools` beside `content`, say)
//! was read by rmcp as that kind, and the call then failed as if the server
//! had answered something else.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use rmcp::RoleClient;
use rmcp::model::{
    CallToolResult, ClientRequest, ErrorData, JsonRpcMessage, JsonRpcResponse, JsonRpcVersion2_0,
    RequestId, ServerResult,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::async_rw::JsonRpcMessageCodec;
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};

use super::oversized::{HEAD, response_id, too_large};

/// The `tools/call` ids remembered; when more calls than this are in
/// flight, the oldest one's answer is read the general way.
const CALLS: usize = 1024;

/// A UTF-8 byte order mark, which JSON readers may skip (RFC 8259 §8.1).
const BOM: &[u8] = b"\xEF\xBB\xBF";

type Writer<W> = FramedWrite<W, JsonRpcMessageCodec<TxJsonRpcMessage<RoleClient>>>;

/// A client transport over a server's stdout (`R`) and stdin (`W`), one
/// JSON-RPC message a line (see the module).
pub(super) struct Lines<R, W> {
    read: FramedRead<R, LineCodec>,
    /// Counts the lines over the limit that no stand-in answers.
    over: watch::Sender<u64>,
    /// Shared with the futures [`send`](rmcp::transport::Transport::send)
    /// returns; `None` once closed.
    write: Arc<tokio::sync::Mutex<Option<Writer<W>>>>,
    /// Ids of the `tools/call` requests sent and not yet answered, oldest
    /// first.
    calls: Arc<Mutex<VecDeque<RequestId>>>,
    /// The Invalid Request answer owed to a message that was JSON but no
    /// MCP message. Kept here so a `receive` dropped mid-write (rmcp polls
    /// it in a `select!`) neither loses nor repeats it.
    owed: Option<Owed>,
}

/// What a line from the server was.
#[expect(
    clippy::large_enum_variant,
    reason = "made and matched at once, never stored; boxing would allocate per message"
)]
enum Line {
    Message(RxJsonRpcMessage<RoleClient>),
    /// Blank, not JSON, or a notification MCP has no form for: skipped.
    Nothing,
    /// JSON but no message of MCP's, which is owed an Invalid Request.
    Malformed,
}

enum Owed {
    /// Not written yet.
    Queued,
    /// Written to the sink's buffer; only the flush is left.
    Fed,
}

impl<R: AsyncRead, W: AsyncWrite> Lines<R, W> {
    /// Reads lines of at most `max_line` bytes. A longer one is skipped;
    /// when its head shows it answers a request, an error stands in for
    /// it (see [`oversized`](super::oversized)), else it is counted in
    /// `over`.
    pub(super) fn new(read: R, write: W, max_line: usize, over: watch::Sender<u64>) -> Self {
        let lines = LineCodec {
            limit: max_line,
            searched: 0,
            skipping: None,
        };
        Self {
            read: FramedRead::new(read, lines),
            over,
            write: Arc::new(tokio::sync::Mutex::new(Some(FramedWrite::new(
                write,
                JsonRpcMessageCodec::default(),
            )))),
            calls: Arc::default(),
            owed: None,
        }
    }
}

impl<R, W> Lines<R, W> {
    /// Whether `id` is a `tools/call` in flight, which its answer ends.
    fn answers_call(&self, id: &RequestId) -> bool {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let at = calls.iter().position(|call| call == id);
        at.and_then(|at| calls.remove(at)).is_some()
    }

    /// `line` as a call's answer, when it is one and holds a complete
    /// call result.
    fn call_answer(&self, line: &[u8]) -> Option<RxJsonRpcMessage<RoleClient>> {
        #[derive(Deserialize)]
        struct Answer<'a> {
            jsonrpc: JsonRpcVersion2_0,
            id: RequestId,
            #[serde(borrow)]
            result: &'a serde_json::value::RawValue,
            /// An answer has neither; a message with either is read the
            /// general way (which refuses it).
            #[serde(default)]
            method: Present,
            #[serde(default)]
            error: Present,
        }
        let answer: Answer<'_> = serde_json::from_slice(line).ok()?;
        if answer.method.0 || answer.error.0 || !self.answers_call(&answer.id) {
            return None;
        }
        // A task or a request for input fails here, as it fails rmcp's
        // reading of `CallToolResult`, and is read the general way.
        let result: CallToolResult = serde_json::from_str(answer.result.get()).ok()?;
        Some(JsonRpcMessage::Response(JsonRpcResponse {
            jsonrpc: answer.jsonrpc,
            id: answer.id,
            result: ServerResult::CallToolResult(result),
        }))
    }

    /// Reads one line.
    fn message(&self, line: &[u8]) -> Line {
        let line = line.strip_prefix(BOM).unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Line::Nothing;
        }
        if let Some(answer) = self.call_answer(line) {
            return Line::Message(answer);
        }
        let error = match serde_json::from_slice(line) {
            Ok(message) => {
                if let JsonRpcMessage::Response(JsonRpcResponse { id, .. })
                | JsonRpcMessage::Error(rmcp::model::JsonRpcError { id: Some(id), .. }) =
                    &message
                {
                    self.answers_call(id);
                }
                return Line::Message(message);
            }
            Err(error) => error,
        };
        if !error.is_data() {
            // Not JSON: there is no id to answer, and answering could
            // start an error storm with a peer that echoes it back.
            tracing::debug!("ignoring an unreadable line from the server: {error}");
            return Line::Nothing;
        }
        // JSON-RPC answers no notification, and MCP servers send
        // notifications of their own (and of other protocols) that rmcp
        // has no type for.
        let notification = serde_json::from_slice::<serde_json::Value>(line)
            .is_ok_and(|value| value.get("method").is_some() && value.get("id").is_none());
        tracing::debug!(
            notification,
            "a message from the server MCP has no form for: {error}"
        );
        if notification {
            Line::Nothing
        } else {
            Line::Malformed
        }
    }

    /// Writes the Invalid Request answer owed; `None` when the server's
    /// input is closed.
    async fn pay(&mut self) -> Option<()>
    where
        W: AsyncWrite + Unpin,
    {
        let mut write = self.write.lock().await;
        let write = write.as_mut()?;
        if matches!(self.owed, Some(Owed::Queued)) {
            let answer = TxJsonRpcMessage::<RoleClient>::error(
                ErrorData::invalid_request("Invalid request", None),
                None,
            );
            write.feed(answer).await.ok()?;
            self.owed = Some(Owed::Fed);
        }
        write.flush().await.ok()?;
        self.owed = None;
        Some(())
    }
}

/// What the server's output holds next.
enum Frame {
    /// A line within the limit, without its newline.
    Line(BytesMut),
    /// A line over the limit, skipped: its first [`HEAD`] bytes.
    Over(Vec<u8>),
}

/// Splits the server's output into lines of at most `limit` bytes (the
/// newline not counted), keeping only the head of a longer one.
struct LineCodec {
    limit: usize,
    /// How far the buffer was searched for a newline already.
    searched: usize,
    /// The head of the over-long line being skipped.
    skipping: Option<Vec<u8>>,
}

impl Decoder for LineCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Frame>> {
        if let Some(head) = &mut self.skipping {
            let newline = buf.iter().position(|b| *b == b'\n');
            let text = newline.unwrap_or(buf.len());
            let room = HEAD.saturating_sub(head.len());
            head.extend_from_slice(&buf[..text.min(room)]);
            buf.advance(newline.map_or(text, |at| at + 1));
            return Ok(newline.and_then(|_| self.skipping.take()).map(Frame::Over));
        }
        let window = buf.len().min(self.limit.saturating_add(1));
        if let Some(at) = buf[self.searched..window].iter().position(|b| *b == b'\n') {
            let mut line = buf.split_to(self.searched + at + 1);
            line.truncate(line.len() - 1);
            self.searched = 0;
            return Ok(Some(Frame::Line(line)));
        }
        if buf.len() > self.limit {
            // `limit + 1` bytes and no newline: over the limit.
            self.skipping = Some(buf[..window.min(HEAD)].to_vec());
            buf.advance(window);
            self.searched = 0;
            return self.decode(buf);
        }
        self.searched = window;
        Ok(None)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> std::io::Result<Option<Frame>> {
        let frame = self.decode(buf)?;
        if frame.is_none() {
            // A last line with no newline is cut short: nothing to read.
            buf.clear();
        }
        Ok(frame)
    }
}

/// Whether a field was there, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Self(true))
    }
}

impl<R, W> rmcp::transport::Transport<RoleClient> for Lines<R, W>
where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(request) = &item
            && matches!(request.request, ClientRequest::CallToolRequest(_))
        {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            if calls.len() == CALLS {
                calls.pop_front();
            }
            calls.push_back(request.id.clone());
        }
        let write = Arc::clone(&self.write);
        async move {
            let mut write = write.lock().await;
            let Some(write) = write.as_mut() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the transport is closed",
                ));
            };
            write.send(item).await.map_err(Into::into)
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            if self.owed.is_some() {
                self.pay().await?;
            }
            let line = match self.read.next().await? {
                Ok(Frame::Line(line)) => line,
                Ok(Frame::Over(head)) => {
                    tracing::debug!("skipping a message over the session's limit");
                    if let Some(id) = response_id(&head) {
                        self.answers_call(&id);
                        return Some(too_large(id, self.read.decoder().limit));
                    }
                    self.over.send_modify(|count| *count += 1);
                    continue;
                }
                Err(error) => {
                    tracing::debug!("reading from the server failed: {error}");
                    return None;
                }
            };
            match self.message(&line) {
                Line::Message(message) => return Some(message),
                Line::Nothing => {}
                Line::Malformed => self.owed = Some(Owed::Queued),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.write.lock().await.take();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::transport::Transport;
    use serde_json::json;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A transport over in-memory pipes, and the server's ends of them.
    fn pipes() -> (
        Lines<DuplexStream, DuplexStream>,
        DuplexStream,
        DuplexStream,
    ) {
        let (stdout, server_out) = tokio::io::duplex(1 << 16);
        let (stdin, server_in) = tokio::io::duplex(1 << 16);
        (
            Lines::new(stdout, stdin, 4096, watch::channel(0).0),
            server_out,
            server_in,
        )
    }

    fn call(id: u32) -> TxJsonRpcMessage<RoleClient> {
        serde_json::from_value(json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "echo"}
        }))
        .unwrap()
    }

    /// What rmcp's own transport reads from `line`.
    fn rmcp_reads(line: &str) -> String {
        format!(
            "{:?}",
            serde_json::from_str::<RxJsonRpcMessage<RoleClient>>(line).unwrap()
        )
    }

    async fn answer(
        lines: &mut Lines<DuplexStream, DuplexStream>,
        server_out: &mut DuplexStream,
        line: &str,
    ) -> String {
        server_out
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        format!("{:?}", lines.receive().await.unwrap())
    }

    async fn read_as_rmcp_reads(
        lines: &mut Lines<DuplexStream, DuplexStream>,
        server_out: &mut DuplexStream,
        line: &str,
    ) {
        assert_eq!(
            answer(lines, server_out, line).await,
            rmcp_reads(line),
            "{line}"
        );
    }

    #[tokio::test]
    async fn every_answer_to_a_call_reads_as_rmcp_reads_it() {
        let results = [
            json!({"content": [{"type": "text", "text": "hi"}]}),
            json!({"content": [{"type": "text", "text": "hi"}], "isError": false, "resultType": "complete"}),
            json!({"content": [{"type": "image", "data": "aGk=", "mimeType": "image/png"}], "_meta": {"k": 1}}),
            json!({"structuredContent": null}),
            json!({"structuredContent": {"n": 1}, "isError": true}),
            json!({"content": [], "resultType": "input_required", "inputRequests": {}}),
            json!({"resultType": "task", "taskId": "t1", "status": "working", "createdAt": "2026-12-04T00:00:00Z", "lastUpdatedAt": "2026-12-04T00:00:00Z", "ttlMs": 1000}),
            json!({}),
            json!({"_meta": {"k": 1}}),
        ];
        let (mut lines, mut server_out, _server_in) = pipes();
        for (n, result) in (1..).zip(results) {
            lines.send(call(n)).await.unwrap();
            let line = json!({"jsonrpc": "2.0", "id": n, "result": result}).to_string();
            read_as_rmcp_reads(&mut lines, &mut server_out, &line).await;
        }
        assert!(
            lines.calls.lock().unwrap().is_empty(),
            "answered calls are forgotten"
        );
    }

    #[tokio::test]
    async fn a_call_answer_that_also_looks_like_another_result_is_a_call_result() {
        let line = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "content": [{"type": "text", "text": "hi"}], "tools": []
        }})
        .to_string();
        assert!(rmcp_reads(&line).contains("ListToolsResult"));
        let (mut lines, mut server_out, _server_in) = pipes();
        lines.send(call(1)).await.unwrap();
        let read = answer(&mut lines, &mut server_out, &line).await;
        assert!(read.contains("CallToolResult"), "{read}");
    }

    #[tokio::test]
    async fn answers_to_other_requests_and_unknown_ids_read_as_rmcp_reads_them() {
        let (mut lines, mut server_out, _server_in) = pipes();
        let list: TxJsonRpcMessage<RoleClient> =
            serde_json::from_value(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
                .unwrap();
        lines.send(list).await.unwrap();
        lines.send(call(2)).await.unwrap();
        for line in [
            json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [], "content": []}}),
            json!({"jsonrpc": "2.0", "id": 9, "result": {"content": [], "tools": []}}),
            json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -32602, "message": "no"}}),
        ] {
            let line = line.to_string();
            read_as_rmcp_reads(&mut lines, &mut server_out, &line).await;
        }
        assert!(
            lines.calls.lock().unwrap().is_empty(),
            "an error answers a call too"
        );
    }

    #[tokio::test]
    async fn lines_that_are_no_message_are_skipped_and_only_malformed_requests_get_an_answer() {
        let (mut lines, mut server_out, server_in) = pipes();
        lines.send(call(1)).await.unwrap();
        let garbage = [
            "not json".to_owned(),
            String::new(),
            "x".repeat(10_000),
            // A call's answer with an error beside its result.
            json!({"jsonrpc": "2.0", "id": 1, "result": {"content": []}, "error": null})
                .to_string(),
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": 5}).to_string(),
        ];
        for line in garbage {
            server_out
                .write_all(format!("{line}\n").as_bytes())
                .await
                .unwrap();
        }
        let ping = json!({"jsonrpc": "2.0", "id": 5, "method": "ping"}).to_string();
        let read = answer(&mut lines, &mut server_out, &format!("\u{feff}{ping}\r")).await;
        assert_eq!(read, rmcp_reads(&ping));
        lines.close().await.unwrap();
        let mut written = String::new();
        let mut server_in = tokio::io::BufReader::new(server_in);
        let mut first = String::new();
        server_in.read_line(&mut first).await.unwrap();
        assert!(first.contains("tools/call"), "{first}");
        server_in.read_to_string(&mut written).await.unwrap();
        let answers: Vec<serde_json::Value> = written
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            answers.len(),
            1,
            "one answer, to the malformed answer: {written}"
        );
        assert_eq!(answers[0]["error"]["code"], -32600);
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_skipped() {
        // The limit counts the line without its newline. (rmcp's transport
        // counted the newline too, and the stand-in's check did not, so an
        // answer of exactly the limit was dropped with none answering it.)
        let (mut lines, mut server_out, _server_in) = pipes();
        let answer_of = |bytes: usize, letter: &str| {
            let with = |text: &str| {
                json!({"jsonrpc": "2.0", "id": 1, "result": {
                    "content": [{"type": "text", "text": text}]
                }})
                .to_string()
            };
            with(&letter.repeat(bytes - with("").len()))
        };
        let (over, fits) = (answer_of(4097, "o"), answer_of(4096, "f"));
        assert_eq!((over.len(), fits.len()), (4097, 4096));
        lines.send(call(1)).await.unwrap();
        lines.send(call(1)).await.unwrap();
        server_out
            .write_all(format!("{over}\n").as_bytes())
            .await
            .unwrap();
        let stand_in = format!("{:?}", lines.receive().await.unwrap());
        assert!(stand_in.starts_with("Error"), "{stand_in}");
        let read = answer(&mut lines, &mut server_out, &fits).await;
        assert!(
            read.contains(&"f".repeat(4000)),
            "the line that fits is read, not the one over"
        );
    }

    #[tokio::test]
    async fn an_over_long_answer_is_answered_by_an_error_and_other_long_lines_are_counted() {
        let (stdout, mut server_out) = tokio::io::duplex(1 << 16);
        let (stdin, _server_in) = tokio::io::duplex(1 << 16);
        let (over, counted) = watch::channel(0);
        let mut lines = Lines::new(stdout, stdin, 64, over);
        lines.send(call(5)).await.unwrap();
        let big = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{{\"text\":\"{}\"}}}}\n",
            "x".repeat(100)
        );
        let request = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{\"x\":\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"}}\n";
        let small = "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n";
        server_out
            .write_all(format!("{big}{request}{small}").as_bytes())
            .await
            .unwrap();
        let JsonRpcMessage::Error(stand_in) = lines.receive().await.unwrap() else {
            panic!("an error stands in for the answer");
        };
        assert_eq!(stand_in.id, Some(RequestId::Number(5)));
        assert!(super::super::oversized::is_too_large(&stand_in.error));
        assert!(
            lines.calls.lock().unwrap().is_empty(),
            "the call is answered"
        );
        let read = format!("{:?}", lines.receive().await.unwrap());
        assert_eq!(read, rmcp_reads(small.trim_end()), "the next line is read");
        assert_eq!(*counted.borrow(), 1, "the request's line is only counted");
    }

    #[tokio::test]
    async fn a_closed_transport_refuses_to_send() {
        let (mut lines, _server_out, _server_in) = pipes();
        lines.close().await.unwrap();
        let error = lines.send(call(1)).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotConnected);
    }
}
