//! The streamable HTTP transport (rmcp's, over reqwest), with the config's
//! headers, a bearer token, or the server's OAuth authorization.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use std::pin::Pin;

use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig,
};
use rmcp::{ClientLifecycleMode, RoleClient};
use tokio::sync::watch;

use super::progress::{ProgressRoutes, ordered};
use super::{Client, Connect, Session};
use crate::error::Error;

impl Session {
    pub(super) async fn connect_http(
        server: &str,
        config: &integrations_core::config::HttpServer,
        options: Connect<'_>,
    ) -> Result<Self, Error> {
        use secrecy::ExposeSecret;

        let transport = transport_config(server, config, options.bearer.as_ref())?;
        let client = Client::new(options.hooks.clone());
        let progress = Arc::clone(&client.progress);
        let started = match &options.oauth {
            None => handshake(
                client,
                crate::client::http::client(None),
                transport,
                &progress,
            ),
            Some(oauth) => {
                let deadline = tokio::time::Instant::now() + options.handshake;
                let authorized = tokio::time::timeout_at(
                    deadline,
                    crate::client::authorization::authorize(
                        server,
                        config.url.expose(),
                        oauth,
                        deadline,
                    ),
                )
                .await
                .map_err(|_| Error::HandshakeTimeout {
                    server: server.to_owned(),
                    after: options.handshake,
                })??;
                use crate::client::authorization::Authorized;
                match authorized {
                    Authorized::Grant(grant) => handshake(client, grant, transport, &progress),
                    Authorized::Tokens(tokens) => handshake(client, tokens, transport, &progress),
                    Authorized::Bearer(token) => handshake(
                        client,
                        crate::client::http::client(None),
                        transport.auth_header(token.expose_secret()),
                        &progress,
                    ),
                }
            }
        };
        let service = match tokio::time::timeout(options.handshake, started).await {
            Ok(Ok(service)) => service,
            // rmcp recognises a 401 that carries `WWW-Authenticate`; some
            // servers omit it, and then only its message says so.
            Ok(Err(error))
                if error.is_authorization_required()
                    || ["HTTP 401", "HTTP 403"]
                        .iter()
                        .any(|status| error.to_string().contains(status)) =>
            {
                return Err(Error::Unauthorized {
                    server: server.to_owned(),
                    challenge: error.auth_challenge().map(str::to_owned),
                });
            }
            Ok(Err(error)) => {
                return Err(Error::Handshake {
                    server: server.to_owned(),
                    message: crate::client::http_words::describe(config.url.expose(), &error),
                });
            }
            Err(_) => {
                return Err(Error::HandshakeTimeout {
                    server: server.to_owned(),
                    after: options.handshake,
                });
            }
        };
        let (sender, exit) = watch::channel(None);
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        // rmcp bounds HTTP answers itself.
        let (_, oversized) = watch::channel(0);
        Ok(Self::new(
            server,
            service,
            (exit, Some(sender)),
            (None, stderr, oversized),
            &options,
        ))
    }
}

type Handshake = Pin<
    Box<
        dyn Future<Output = Result<RunningService<RoleClient, Client>, ClientInitializeError>>
            + Send,
    >,
>;

/// The handshake over `http`: reqwest itself, or a client that adds the
/// tenant's tokens to every request.
fn handshake<C>(
    client: Client,
    http: C,
    transport: StreamableHttpClientTransportConfig,
    progress: &Arc<ProgressRoutes>,
) -> Handshake
where
    C: StreamableHttpClient + Send + Sync + 'static,
{
    Box::pin(rmcp::serve_client_with_lifecycle(
        client,
        ordered(
            StreamableHttpClientTransport::with_client(http, transport),
            Arc::clone(progress),
        ),
        ClientLifecycleMode::Initialize,
    ))
}

/// The transport's config: the URL, the config's headers, and the bearer
/// token (an `Authorization: Bearer` header of the config, or the pool's).
fn transport_config(
    server: &str,
    config: &integrations_core::config::HttpServer,
    bearer: Option<&secrecy::SecretString>,
) -> Result<StreamableHttpClientTransportConfig, Error> {
    use secrecy::ExposeSecret;

    let invalid = |message: String| Error::Unsupported {
        server: server.to_owned(),
        message,
    };
    let mut transport =
        StreamableHttpClientTransportConfig::with_uri(config.url.expose().to_owned());
    let mut headers = std::collections::HashMap::new();
    for (name, value) in &config.headers {
        if name.eq_ignore_ascii_case("authorization") {
            // rmcp sends the token itself, as `Authorization: Bearer`.
            let token = value.expose().strip_prefix("Bearer ").ok_or_else(|| {
                invalid("only `Authorization: Bearer <token>` headers are supported".into())
            })?;
            transport = transport.auth_header(token);
            continue;
        }
        let header = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("`{name}` is not a valid header name")))?;
        let value = http::HeaderValue::from_str(value.expose())
            .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
        headers.insert(header, value);
    }
    if let Some(token) = bearer {
        transport = transport.auth_header(token.expose_secret());
    }
    Ok(transport.custom_headers(headers))
}
