//! An answer over the session's message limit, on stdio, fails its own
//! request and nothing else.
//!
//! rmcp drops a line over its limit without a word to the request it
//! answered, which then waits its whole timeout. [`Measured`] sits under
//! rmcp's reader: it counts each line's bytes and keeps the first
//! [`HEAD`] of them; when an over-long line is an answer whose id is in
//! that head, the line rmcp drops is followed by a short JSON-RPC error
//! answering that id, which [`Session::error`](super::Session) reads as
//! [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) (the same
//! error the HTTP transports make). An
//! over-long line whose id cannot be told (a request or notification of the
//! server's, an answer with its id after the result) is only counted: the
//! call fails early when it is the session's only one in flight.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rmcp::model::{ErrorCode, ErrorData, NumberOrString, RequestId, ServerJsonRpcMessage};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::watch;

/// The code of the error that stands in for an answer over the limit.
const TOO_LARGE: ErrorCode = ErrorCode(-32_098);

/// The marker in that error's `data`, so a server's own -32098 is not
/// taken for it.
const MARKER: &str = "integrations_mcp_message_too_large";

/// Whether `error` stands for an answer over the message limit.
pub(super) fn is_too_large(error: &ErrorData) -> bool {
    error.code == TOO_LARGE
        && error
            .data
            .as_ref()
            .is_some_and(|data| data.get(MARKER).is_some())
}

/// The error answering request `id` in place of an answer over `limit`.
pub(super) fn too_large(id: RequestId, limit: usize) -> ServerJsonRpcMessage {
    let error = ErrorData::new(
        TOO_LARGE,
        format!("the answer is longer than {limit} bytes"),
        Some(serde_json::json!({ MARKER: limit })),
    );
    ServerJsonRpcMessage::error(error, Some(id))
}

/// How much of each line is kept to find an answer's id: rmcp, the Python
/// and the TypeScript SDKs all write `jsonrpc` and `id` before `result`.
const HEAD: usize = 1024;

/// How much is read from the server at a time.
const CHUNK: usize = 16 * 1024;

/// A server's stdout, measured line by line (see the module).
pub(super) struct Measured<R> {
    inner: R,
    limit: usize,
    /// Counts the over-long lines no stand-in answers.
    over: watch::Sender<u64>,
    /// Bytes of the current line so far (saturating).
    line: usize,
    /// Its first [`HEAD`] bytes.
    head: Vec<u8>,
    /// The id to answer when the current, over-long line ends.
    stand_in: Option<RequestId>,
    /// What each read from the server lands in (made once).
    raw: Box<[u8]>,
    /// Bytes read and not yet handed to rmcp, from `at`.
    out: Vec<u8>,
    at: usize,
}

impl<R> Measured<R> {
    pub(super) fn new(inner: R, limit: usize, over: watch::Sender<u64>) -> Self {
        Self {
            inner,
            limit,
            over,
            line: 0,
            head: Vec::with_capacity(HEAD),
            stand_in: None,
            raw: vec![0; CHUNK].into_boxed_slice(),
            out: Vec::with_capacity(CHUNK),
            at: 0,
        }
    }

    /// Queues `bytes` for rmcp, with a stand-in after each over-long
    /// answer whose id is known.
    fn take(&mut self, bytes: &[u8]) {
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            self.out.extend_from_slice(piece);
            let ends = piece.last() == Some(&b'\n');
            let text = &piece[..piece.len() - usize::from(ends)];
            let room = HEAD.saturating_sub(self.head.len());
            self.head.extend_from_slice(&text[..text.len().min(room)]);
            let was = self.line;
            self.line = self.line.saturating_add(text.len());
            if was <= self.limit && self.line > self.limit {
                self.stand_in = response_id(&self.head);
                if self.stand_in.is_none() {
                    self.over.send_modify(|count| *count += 1);
                }
            }
            if ends {
                if let Some(id) = self.stand_in.take() {
                    let answer = too_large(id, self.limit);
                    if let Ok(mut line) = serde_json::to_vec(&answer) {
                        line.push(b'\n');
                        self.out.extend_from_slice(&line);
                    }
                }
                self.line = 0;
                self.head.clear();
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Measured<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        while this.at == this.out.len() {
            this.out.clear();
            this.at = 0;
            let mut read = ReadBuf::new(&mut this.raw);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(()));
            }
            let raw = std::mem::take(&mut this.raw);
            this.take(&raw[..n]);
            this.raw = raw;
        }
        let n = buf.remaining().min(this.out.len() - this.at);
        buf.put_slice(&this.out[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

/// The id of the JSON-RPC answer whose text starts with `head`: its
/// top-level `id`, when a top-level `result` or `error` key is in the head
/// and no `method` (a request or notification of the server's is no
/// answer). `None` when the head does not tell. One pass over the head.
fn response_id(head: &[u8]) -> Option<RequestId> {
    let (mut id, mut answer, mut depth, mut i) = (None, false, 0usize, 0);
    while i < head.len() {
        match head[i] {
            b'"' => {
                // The head is cut anywhere, most often inside a string.
                let Some(end) = string_end(head, i) else {
                    break;
                };
                let value = skip_space(head, end + 1);
                if depth == 1 && head.get(value) == Some(&b':') {
                    let value = skip_space(head, value + 1);
                    match &head[i + 1..end] {
                        b"id" => id = Some(id_at(head, value)?),
                        b"result" | b"error" => answer = true,
                        b"method" => return None,
                        _ => {}
                    }
                    i = value;
                } else {
                    i = end + 1;
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    id.filter(|_| answer)
}

/// The index of the quote closing the string opened at `open`.
fn string_end(text: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_space(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// An id written at `at`: an integer, or a string without escapes, ended
/// within the text.
fn id_at(text: &[u8], at: usize) -> Option<RequestId> {
    if text.get(at) == Some(&b'"') {
        let end = string_end(text, at)?;
        let raw = std::str::from_utf8(&text[at + 1..end]).ok()?;
        return (!raw.contains('\\')).then(|| NumberOrString::String(Arc::from(raw)));
    }
    let digits = text[at..]
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'-'))?;
    let number = std::str::from_utf8(&text[at..at + digits]).ok()?;
    number.parse().ok().map(NumberOrString::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(head: &str) -> Option<RequestId> {
        response_id(head.as_bytes())
    }

    #[test]
    fn an_answer_s_id_is_read_from_its_head() {
        let number =
            id(r#"{"jsonrpc":"2.0","id":17,"result":{"content":[{"type":"text","text":"xx"#);
        assert_eq!(number, Some(NumberOrString::Number(17)));
        let string = id(r#"{ "id" : "a-1", "jsonrpc": "2.0", "error": {"code": 1"#);
        assert_eq!(string, Some(NumberOrString::String(Arc::from("a-1"))));
    }

    #[test]
    fn what_is_not_plainly_an_answer_has_no_id() {
        for head in [
            // A request of the server's: answering it would misroute.
            r#"{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{"#,
            // The id comes after the result, past the head.
            r#"{"jsonrpc":"2.0","result":{"text":"xxxxxxxx"#,
            // An `id` inside the result is not the answer's.
            r#"{"result":{"id":9,"text":"xx"#,
            // Cut inside the first key.
            r#"{"jsonr"#,
            // The id is cut off: 12 or 1234?
            r#"{"jsonrpc":"2.0","result":{},"id":12"#,
            r#"{"jsonrpc":"2.0","id":"a\"b","result":{"#,
            r#"{"jsonrpc":"2.0","id":"abc"#,
            "not json at all",
            "",
        ] {
            assert_eq!(id(head), None, "{head}");
        }
    }

    #[tokio::test]
    async fn an_over_long_answer_is_followed_by_the_error_answering_it() {
        use tokio::io::AsyncReadExt;
        let big = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{{\"text\":\"{}\"}}}}\n",
            "x".repeat(100)
        );
        let small = "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n";
        let request = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{\"x\":\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"}}\n";
        let input = format!("{big}{small}{request}");
        let (over, counted) = watch::channel(0);
        let mut measured = Measured::new(input.as_bytes(), 64, over);
        let mut output = String::new();
        measured.read_to_string(&mut output).await.unwrap();
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 4, "{output}");
        assert_eq!(
            lines[0],
            big.trim_end(),
            "the line itself goes on, for rmcp to drop"
        );
        let stand_in: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(stand_in["id"], 5);
        assert!(is_too_large(
            &serde_json::from_value(stand_in["error"].clone()).unwrap()
        ));
        assert_eq!(lines[2], small.trim_end());
        assert_eq!(lines[3], request.trim_end());
        assert_eq!(*counted.borrow(), 1, "the request's line is only counted");
    }
}
