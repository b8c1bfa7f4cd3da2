//! The streamable HTTP transport (rmcp's, over reqwest), with the config's
//! headers, a bearer token, or the server's OAuth authorization.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use std::pin::Pin;

use integrations_core::id::ServerName;
use rmcp::RoleClient;
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig,
};
use tokio::sync::watch;

use super::era::{self, Era};
use super::progress::{Arrivals, ordered};
use super::{Attempt, Client, Connect, Session};
use crate::error::Error;

impl Session {
    pub(super) async fn connect_http(
        server: &ServerName,
        config: &integrations_core::config::HttpServer,
        options: Connect<'_>,
    ) -> Result<Self, Error> {
        let transport = transport_config(server, config, options.bearer.as_ref())?
            .max_json_response_size(options.max_message)
            .max_sse_event_size(options.max_message);
        let authorized = match &options.oauth {
            None => None,
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
                    server: server.clone(),
                    after: options.handshake,
                })??;
                Some(authorized)
            }
        };
        let (transport, authorized) = (&transport, authorized.as_ref());
        Self::in_era(
            server,
            &options,
            Some(config.transport),
            |era, by, probing| {
                Box::pin(Self::start_http(
                    server,
                    config,
                    &options,
                    (transport, authorized),
                    (era, by, probing),
                ))
            },
        )
        .await
    }

    /// One handshake in `era` by `by` on a new transport; when `probing`,
    /// an answer that says the server is legacy is [`Attempt::Legacy`].
    async fn start_http(
        server: &ServerName,
        config: &integrations_core::config::HttpServer,
        options: &Connect<'_>,
        (transport, authorized): (
            &StreamableHttpClientTransportConfig,
            Option<&crate::client::authorization::Authorized>,
        ),
        (era, by, probing): (Era, tokio::time::Instant, bool),
    ) -> Result<Self, Attempt> {
        use crate::client::authorization::Authorized;
        use secrecy::ExposeSecret;
        if era == Era::Sse {
            return Self::start_sse(server, config, options, authorized, by).await;
        }
        {
            let arrivals = Arrivals::new(options.hooks.as_ref(), options.tasks);
            let client = Client::new(options.hooks.clone(), &arrivals);
            let transport = transport.clone();
            let started = match authorized.cloned() {
                None => handshake(client, http_client(), transport, arrivals, era),
                Some(Authorized::Grant(grant)) => {
                    handshake(client, grant, transport, arrivals, era)
                }
                Some(Authorized::Tokens(tokens)) => {
                    handshake(client, tokens, transport, arrivals, era)
                }
                Some(Authorized::Bearer(token)) => handshake(
                    client,
                    http_client(),
                    transport.auth_header(token.expose_secret()),
                    arrivals,
                    era,
                ),
            };
            let error = match tokio::time::timeout_at(by, started).await {
                Ok(Ok(service)) => return Ok(Self::over_http(server, service, options)),
                Ok(Err(error)) => error,
                Err(_) if probing => {
                    return Err(Attempt::Legacy("no answer to server/discover".into()));
                }
                Err(_) => {
                    return Err(Attempt::Failed(Error::HandshakeTimeout {
                        server: server.clone(),
                        after: options.handshake,
                    }));
                }
            };
            // A token without the scope the handshake needs: a step-up.
            if let Some(challenge) = error.auth_challenge()
                && challenge.contains("insufficient_scope")
            {
                return Err(Attempt::Failed(Error::InsufficientScope {
                    server: server.clone(),
                    challenge: challenge.to_owned(),
                }));
            }
            // rmcp recognises a 401 that carries `WWW-Authenticate`; some
            // servers omit it, and then only its message says so.
            if error.is_authorization_required()
                || ["HTTP 401", "HTTP 403"]
                    .iter()
                    .any(|status| error.to_string().contains(status))
            {
                return Err(Attempt::Failed(Error::Unauthorized {
                    server: server.clone(),
                    challenge: error.auth_challenge().map(str::to_owned),
                }));
            }
            if probing && era::is_legacy_answer(&error) {
                return Err(Attempt::Legacy(error.to_string()));
            }
            Err(Attempt::Failed(
                era::answered(server, era, &error).unwrap_or_else(|| Error::Handshake {
                    server: server.clone(),
                    message: crate::client::http_words::describe(config.url.expose(), &error),
                }),
            ))
        }
    }

    /// One `initialize` over 2024-11-05's HTTP+SSE transport by `by`.
    async fn start_sse(
        server: &ServerName,
        config: &integrations_core::config::HttpServer,
        options: &Connect<'_>,
        authorized: Option<&crate::client::authorization::Authorized>,
        by: tokio::time::Instant,
    ) -> Result<Self, Attempt> {
        use crate::client::authorization::Authorized;
        use secrecy::ExposeSecret;

        let failed = |message: String| {
            Attempt::Failed(Error::Handshake {
                server: server.clone(),
                message,
            })
        };
        let mut headers = http::HeaderMap::new();
        for (name, value) in &config.headers {
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value.expose()),
            ) else {
                return Err(failed(format!("header `{name}` is not valid")));
            };
            headers.insert(name, value);
        }
        let token = match authorized {
            None => options.bearer.clone(),
            Some(Authorized::Bearer(token)) => Some(token.clone()),
            Some(_) => {
                return Err(failed(
                    "OAuth grants of the pool's are not supported over HTTP+SSE".into(),
                ));
            }
        };
        if let Some(token) = token {
            let mut value =
                http::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| failed("the token is not a valid header value".into()))?;
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        let handshake = async {
            let transport = super::sse::SseTransport::open(
                http_client(),
                config.url.expose(),
                headers,
                options.max_message,
                options.tasks,
            )
            .await
            .map_err(|error| failed(format!("HTTP+SSE: {error}")))?;
            let arrivals = Arrivals::new(options.hooks.as_ref(), options.tasks);
            let client = Client::new(options.hooks.clone(), &arrivals);
            rmcp::serve_client_with_lifecycle(
                client,
                ordered(transport, arrivals),
                Era::Sse.lifecycle(),
            )
            .await
            .map_err(|error| {
                era::answered(server, Era::Sse, &error)
                    .map_or_else(|| failed(format!("HTTP+SSE: {error}")), Attempt::Failed)
            })
        };
        match tokio::time::timeout_at(by, handshake).await {
            Ok(Ok(service)) => Ok(Self::over_http(server, service, options)),
            Ok(Err(attempt)) => Err(attempt),
            Err(_) => Err(Attempt::Failed(Error::HandshakeTimeout {
                server: server.clone(),
                after: options.handshake,
            })),
        }
    }

    fn over_http(
        server: &ServerName,
        service: RunningService<RoleClient, Client>,
        options: &Connect<'_>,
    ) -> Self {
        let (sender, exit) = watch::channel(None);
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        // rmcp bounds HTTP answers itself.
        let (_, oversized) = watch::channel(0);
        Self::new(
            server,
            service,
            (exit, Some(sender)),
            (None, stderr, oversized),
            options,
        )
    }
}

/// The client of an MCP server's requests without OAuth of the pool's.
fn http_client() -> reqwest::Client {
    crate::client::http::client(None)
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
    arrivals: Arrivals,
    era: Era,
) -> Handshake
where
    C: StreamableHttpClient + Send + Sync + 'static,
{
    Box::pin(rmcp::serve_client_with_lifecycle(
        client,
        ordered(
            StreamableHttpClientTransport::with_client(super::bounded::Bounded(http), transport),
            arrivals,
        ),
        era.lifecycle(),
    ))
}

/// The transport's config: the URL, the config's headers, and the bearer
/// token (an `Authorization: Bearer` header of the config, or the pool's).
fn transport_config(
    server: &ServerName,
    config: &integrations_core::config::HttpServer,
    bearer: Option<&secrecy::SecretString>,
) -> Result<StreamableHttpClientTransportConfig, Error> {
    use secrecy::ExposeSecret;

    let invalid = |message: String| Error::Unsupported {
        server: server.clone(),
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
