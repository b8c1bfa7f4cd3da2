//! rmcp's streamable HTTP errors in words: what happened, and where. Its own
//! messages name the transport's Rust types
//! (`WorkerTransport<...StreamableHttpClientWorker<reqwest::Client>>`),
//! which tell a person nothing.

use std::error::Error as StdError;

use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::StreamableHttpError;

/// The longest piece of a response body quoted in a message.
const BODY_START: usize = 200;

/// Why the handshake with the HTTP server at `url` failed. The URL is
/// shown without its userinfo and its query, which may carry a key.
pub(crate) fn describe(url: &str, error: &ClientInitializeError) -> String {
    let url = &shown(url);
    match error {
        ClientInitializeError::TransportError { error, .. } => transport(url, &*error.error),
        ClientInitializeError::ConnectionClosed(_) => {
            format!("{url} closed the connection during the handshake")
        }
        other => other.to_string(),
    }
}

/// `url` as a message may show it: no user or password, and a query
/// (an `api_key=...`, say) replaced by `?[redacted]`.
pub(crate) fn shown(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "the configured URL".to_owned();
    };
    let had_query = parsed.query().is_some();
    // Only URLs that cannot have them refuse these.
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_query(None);
    parsed.set_fragment(None);
    let mut text = parsed.to_string();
    if had_query {
        text.push_str("?[redacted]");
    }
    text
}

fn transport(url: &str, error: &(dyn StdError + 'static)) -> String {
    // The error, or one of its sources, is the HTTP transport's own.
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(http) = error.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            return streamable(url, http);
        }
        if let Some(request) = error.downcast_ref::<reqwest::Error>() {
            return client(url, request);
        }
        current = error.source();
    }
    format!("{url}: {}", innermost(error))
}

fn streamable(url: &str, error: &StreamableHttpError<reqwest::Error>) -> String {
    match error {
        StreamableHttpError::Client(request) => client(url, request),
        // rmcp's text here is `HTTP <status>: <body>`.
        StreamableHttpError::UnexpectedServerResponse(message) => {
            format!("{url} answered {}", clip(message))
        }
        StreamableHttpError::HttpStatus(status) => {
            format!("{url} answered HTTP {}", status.status)
        }
        StreamableHttpError::UnexpectedContentType(content_type) => format!(
            "{url} answered with content type {}, not JSON or an event stream; is it an MCP endpoint?",
            content_type.as_deref().unwrap_or("(none)")
        ),
        other => format!("{url}: {}", clip(&other.to_string())),
    }
}

fn client(url: &str, error: &reqwest::Error) -> String {
    let cause = innermost(error);
    if error.is_connect() {
        format!("cannot connect to {url}: {cause}")
    } else if error.is_timeout() {
        format!("{url} did not answer in time")
    } else {
        format!("request to {url} failed: {cause}")
    }
}

/// The deepest source's message: the one that says what happened (e.g.
/// `Connection refused (os error 111)`).
fn innermost(error: &(dyn StdError + 'static)) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(BODY_START) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}
