//! The HTTP client policies of the pool: every request to an MCP server
//! follows redirects only to the same origin and only with 307 or 308 (as
//! rmcp's own default client), sends no `Referer` and keeps no idle
//! connection; documents and OAuth endpoints a server's metadata names are
//! read with no redirect, within 30 s and 1 MiB, and (for endpoints) only at
//! addresses no nearer than the server's own.

use std::sync::OnceLock;
use std::time::Duration;

use integrations_core::net::Reach;
use reqwest::redirect::{Attempt, Policy};
use rmcp::transport::auth::{OAuthHttpClient, OAuthHttpClientFuture, OAuthHttpRequest};

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

/// Whether `a` and `b` name the same resource (RFC 8707): the same
/// scheme, host, port and path (a trailing `/` aside). An unreadable URL is
/// no resource.
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    let resource = |text: &str| {
        reqwest::Url::parse(text).ok().map(|url| {
            let path = url.path().trim_end_matches('/').to_owned();
            (
                url.scheme().to_owned(),
                url.host_str().map(str::to_owned),
                url.port_or_known_default(),
                path,
            )
        })
    };
    resource(a).is_some_and(|a| Some(a) == resource(b))
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
    small_body(&mut response).await
}

/// A response body of at most [`METADATA_LIMIT`] bytes.
async fn small_body(response: &mut reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > METADATA_LIMIT {
            return Err("the answer is larger than 1 MiB".to_owned());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// rmcp's OAuth HTTP client for requests to endpoints a server's metadata
/// names (the enterprise-managed exchange's token endpoint): no redirects,
/// 30 s, at most [`METADATA_LIMIT`] read, and only addresses no nearer than
/// the MCP server's own (a public server's metadata may not send the host's
/// client secret into the host's network).
pub(crate) struct GuardedOAuth {
    client: reqwest::Client,
    allowed: Reach,
}

impl GuardedOAuth {
    /// A client for the authorization of the MCP server at `url`.
    pub(crate) fn for_server(url: &str) -> Result<Self, String> {
        let host = reqwest::Url::parse(url)
            .map_err(|e| e.to_string())?
            .host_str()
            .map(str::to_owned)
            .unwrap_or_default();
        // A server named by DNS is taken as public: its own address does
        // not widen where its metadata may point.
        let allowed = Reach::of_host(&host).unwrap_or(Reach::Public);
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .referer(false)
            .timeout(Duration::from_secs(30))
            .dns_resolver(std::sync::Arc::new(Within(allowed)))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, allowed })
    }
}

/// Resolves names to the addresses a [`Reach`] allows.
struct Within(Reach);

impl reqwest::dns::Resolve for Within {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.0;
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|address| allowed.allows(Reach::of(address.ip())))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{} resolves to no address this server's authorization may use",
                    name.as_str()
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl OAuthHttpClient for GuardedOAuth {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            self.send(reqwest::Request::try_from(request.request)?)
                .await
        })
    }
}

impl GuardedOAuth {
    async fn send(
        &self,
        request: reqwest::Request,
    ) -> Result<http::Response<Vec<u8>>, rmcp::transport::auth::OAuthHttpClientError> {
        let host = request.url().host_str().unwrap_or_default();
        if Reach::of_host(host).is_some_and(|reach| !self.allowed.allows(reach)) {
            return Err(format!(
                "{} is an address this server's authorization may not use",
                request.url().origin().ascii_serialization()
            )
            .into());
        }
        let mut response = self.client.execute(request).await?;
        let mut answer = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        Ok(answer.body(small_body(&mut response).await?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_request(url: &str) -> reqwest::Request {
        reqwest::Client::new()
            .post(url)
            .body("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer")
            .build()
            .unwrap()
    }

    /// Security review, finding 13: the enterprise-managed exchange posted
    /// the client secret to any token endpoint a server's metadata named.
    #[tokio::test]
    async fn a_public_servers_metadata_cannot_point_the_exchange_inside() {
        let public = GuardedOAuth::for_server("https://mcp.example.com/mcp").unwrap();
        for inside in [
            "http://10.0.0.5/token",
            "http://127.0.0.1:9/token",
            "http://localhost:9/token",
            "http://169.254.169.254/token",
        ] {
            let refused = public.send(token_request(inside)).await.unwrap_err();
            assert!(
                refused.to_string().contains("may not use"),
                "{inside}: {refused}"
            );
        }
        let local = GuardedOAuth::for_server("http://127.0.0.1:8000/mcp").unwrap();
        let tried = local
            .send(token_request("http://127.0.0.1:9/token"))
            .await
            .unwrap_err();
        assert!(
            !tried.to_string().contains("may not use"),
            "a local server's own: {tried}"
        );
    }
}
