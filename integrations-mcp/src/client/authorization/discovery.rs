//! Where a server's authorization server is: from its challenge (rmcp's
//! discovery), the 2025-03-26 layout's metadata at the server's root, and
//! the challenge itself, asked of the server with an unauthenticated
//! handshake.

use rmcp::transport::auth::{AuthError, AuthorizationManager, AuthorizationMetadata};
use tokio::time::Instant;

/// The server's authorization server, from its `WWW-Authenticate`
/// challenge or its URL.
pub(super) async fn discover(
    manager: &AuthorizationManager,
    url: &str,
    challenge: Option<&str>,
) -> Result<AuthorizationMetadata, AuthError> {
    match manager.resolve_metadata_from_challenge(challenge).await {
        Ok(resolution) => Ok(resolution.metadata),
        Err(AuthError::AuthorizationServerMismatch {
            expected_issuer,
            received_issuer,
        }) => legacy_metadata(url, &expected_issuer, &received_issuer).await,
        Err(error) => Err(error),
    }
}

/// The 2025-03-26 layout: no protected-resource metadata, so the metadata
/// is read at the root of the MCP server's origin, and names an issuer with
/// a path there (`https://mcp.example.com/oauth`). rmcp refuses the mismatch
/// (RFC 8414 §3.3 wants the issuer the metadata was looked up for). An
/// issuer on the MCP server's own origin is the server's own authorization
/// server, which is what the 2025-03-26 spec says to use: its metadata is
/// taken as served. Any other mismatch stays an error.
async fn legacy_metadata(
    url: &str,
    expected_issuer: &str,
    received_issuer: &str,
) -> Result<AuthorizationMetadata, AuthError> {
    let mismatch = || AuthError::AuthorizationServerMismatch {
        expected_issuer: expected_issuer.to_owned(),
        received_issuer: received_issuer.to_owned(),
    };
    let origin = |text: &str| reqwest::Url::parse(text).ok().map(|u| u.origin());
    let server = reqwest::Url::parse(url).map_err(|_| mismatch())?;
    let root_lookup = reqwest::Url::parse(expected_issuer)
        .is_ok_and(|issuer| issuer.path() == "/" && issuer.origin() == server.origin());
    if !root_lookup || origin(received_issuer) != Some(server.origin()) {
        return Err(mismatch());
    }
    let address = server
        .join("/.well-known/oauth-authorization-server")
        .map_err(|_| mismatch())?;
    let body = crate::client::http::get_document(address)
        .await
        .map_err(|why| AuthError::InternalError(format!("authorization server metadata: {why}")))?;
    let metadata: AuthorizationMetadata = serde_json::from_slice(&body)
        .map_err(|e| AuthError::InternalError(format!("authorization server metadata: {e}")))?;
    if metadata.issuer.as_deref() != Some(received_issuer) {
        return Err(mismatch());
    }
    Ok(metadata)
}

/// The server's `WWW-Authenticate` challenge to an unauthenticated
/// handshake: it names the resource metadata and the scopes wanted. Asked
/// with `initialize`, then, from a server that refuses it without a
/// challenge (one that speaks 2026-07-28 only), with `server/discover`.
/// Every request of it ends by `deadline` (rmcp's transport runs them on a
/// task of its own, which dropping the handshake does not stop).
pub(super) async fn challenge(url: &str, deadline: Instant) -> Option<String> {
    let modern = rmcp::ClientLifecycleMode::Discover {
        preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
    };
    for lifecycle in [rmcp::ClientLifecycleMode::Initialize, modern] {
        match challenged(url, lifecycle, deadline).await {
            Ok(challenge) => return challenge,
            Err(()) => continue,
        }
    }
    None
}

/// The challenge of one unauthenticated handshake (and, after one that
/// succeeds, of its first request: a server may ask for a token only
/// then); `Err` when the handshake failed without one.
async fn challenged(
    url: &str,
    lifecycle: rmcp::ClientLifecycleMode,
    deadline: Instant,
) -> Result<Option<String>, ()> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let http =
        crate::client::http::client(Some(deadline.saturating_duration_since(Instant::now())));
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    match rmcp::serve_client_with_lifecycle((), transport, lifecycle).await {
        Ok(client) => {
            let listed = client.list_tools(None).await;
            let _ = client.cancel().await;
            Ok(listed
                .err()
                .and_then(|e| e.auth_challenge().map(str::to_owned)))
        }
        Err(error) => error.auth_challenge().map(|c| Some(c.to_owned())).ok_or(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn only_an_issuer_on_the_servers_own_origin_is_taken_for_the_2025_03_26_layout() {
        let refused = [
            // Another origin's issuer: a mix-up, whatever the layout.
            ("http://127.0.0.1:9/", "http://evil.example/oauth"),
            // Metadata found through protected-resource metadata (not the
            // server's root): RFC 8414's check stands.
            ("http://auth.example/tenant", "http://127.0.0.1:9/oauth"),
        ];
        for (expected, received) in refused {
            let error = legacy_metadata("http://127.0.0.1:9/mcp", expected, received)
                .await
                .unwrap_err();
            assert!(
                matches!(error, AuthError::AuthorizationServerMismatch { .. }),
                "{expected} / {received}: {error}"
            );
        }
    }

    /// A server on 127.0.0.1 that answers every request with what
    /// `answer` makes of its base URL; returns the base URL and how many
    /// requests reached it.
    async fn answering(
        answer: impl FnOnce(&str) -> String,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (answer, counter) = (Arc::new(answer(&base)), Arc::clone(&hits));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        (base, hits)
    }

    async fn legacy_at(server: &str) -> Result<AuthorizationMetadata, AuthError> {
        let issuer = format!("{server}/oauth");
        legacy_metadata(&format!("{server}/mcp"), &format!("{server}/"), &issuer).await
    }

    #[tokio::test]
    async fn the_2025_03_26_metadata_fetch_follows_no_redirect_and_reads_at_most_a_mib() {
        // Security review, finding 5: the refetch followed redirects to any
        // address and read a body of any size.
        let (elsewhere, hits) =
            answering(|_| "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_owned()).await;
        let (server, _) = answering(|_| {
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}/latest/meta-data/iam\r\ncontent-length: 0\r\n\r\n"
            )
        })
        .await;
        assert!(legacy_at(&server).await.is_err());
        let followed = hits.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(followed, 0, "the redirect is not followed");

        let (server, _) = answering(|server| {
            let padding = "x".repeat(2 * 1024 * 1024);
            let body = format!(
                r#"{{"issuer":"{server}/oauth","authorization_endpoint":"{server}/a","token_endpoint":"{server}/t","pad":"{padding}"}}"#
            );
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        })
        .await;
        let error = legacy_at(&server).await.unwrap_err();
        assert!(error.to_string().contains("1 MiB"), "{error}");
    }
}
