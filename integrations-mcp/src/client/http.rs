//! The one HTTP client policy of every request the pool sends to an MCP
//! server: redirects only to the same origin and only with 307 or 308 (as
//! rmcp's own default client), no `Referer`, no idle connections kept.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};

/// Redirects one request may follow.
const MAX_REDIRECTS: usize = 10;

/// Follows a redirect only to the same origin (scheme, host and port) and
/// only a 307 or 308, which keep the method and body. Any other is
/// returned to the caller as the redirect it is: a cross-origin one would
/// replay the JSON-RPC body, the session id and the config's headers to
/// another host, and a 301, 302 or 303 would turn the POST into a GET of
/// any URL.
fn same_origin(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let keeps_body = matches!(attempt.status().as_u16(), 307 | 308);
    let same = attempt
        .previous()
        .first()
        .is_some_and(|first| first.origin() == attempt.url().origin());
    if !keeps_body || !same {
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
    } else {
        attempt.follow()
    }
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(Policy::custom(same_origin))
        .referer(false)
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(30))
}

/// A client with that policy: one shared by every session (a session's
/// streams have no total timeout), or a new one whose every request ends
/// within `timeout`.
pub(crate) fn client(timeout: Option<Duration>) -> reqwest::Client {
    static SHARED: OnceLock<reqwest::Client> = OnceLock::new();
    let built = |builder: reqwest::ClientBuilder| {
        // Building fails only when the TLS backend cannot load; reqwest's
        // default client would fail the same way.
        builder.build().unwrap_or_default()
    };
    match timeout {
        Some(timeout) => built(builder().timeout(timeout)),
        None => SHARED.get_or_init(|| built(builder())).clone(),
    }
}

/// The most a metadata document may take.
pub(crate) const METADATA_LIMIT: usize = 1024 * 1024;

/// `GET url` for a small JSON document (authorization server metadata):
/// no redirect followed, 30 s at most, and at most [`METADATA_LIMIT`]
/// bytes read.
pub(crate) async fn get_document(url: reqwest::Url) -> Result<Vec<u8>, String> {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .referer(false)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > METADATA_LIMIT {
            return Err("the document is larger than 1 MiB".to_owned());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
