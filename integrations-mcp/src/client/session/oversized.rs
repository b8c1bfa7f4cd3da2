//! An answer over the session's message limit fails its own request and
//! nothing else.
//!
//! rmcp drops an answer over its limit without a word to the request it
//! answered (on stdio), or ends the session (on HTTP), and the request
//! then waits its whole timeout. Both transports put [`too_large`] in its
//! place, a short JSON-RPC error answering that id, which
//! [`Session::error`](super::Session) reads as
//! [`Error::MessageTooLarge`](crate::Error::MessageTooLarge). On stdio the
//! id is read from the over-long line's first [`HEAD`] bytes
//! ([`response_id`]); an over-long line whose id cannot be told (a request
//! or notification of the server's, an answer with its id after the
//! result) is only counted: the call fails early when it is the session's
//! only one in flight.

use std::sync::Arc;

use rmcp::model::{ErrorCode, ErrorData, NumberOrString, RequestId, ServerJsonRpcMessage};

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
pub(super) const HEAD: usize = 1024;

/// The id of the JSON-RPC answer whose text starts with `head`: its
/// top-level `id`, when a top-level `result` or `error` key is in the head
/// and no `method` (a request or notification of the server's is no
/// answer). `None` when the head does not tell. One pass over the head.
pub(super) fn response_id(head: &[u8]) -> Option<RequestId> {
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
}
