//! Tokens of the authorization code flow after the code exchange: sent by
//! [`TokenClient`] from the pool's [`TokenManager`], which refreshes them
//! through [`McpRefresher`] once per connection however many calls need
//! them, across every replica sharing the credential store.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use integrations_core::credentials::{RefreshRequest, TokenManager, TokenRefresher, TokenResponse};
use integrations_core::error::CredentialError;
use integrations_core::id::ServerName;
use integrations_core::{BoxError, ConnectionId, TenantId};
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, CredentialStore, InMemoryCredentialStore, OAuthClientConfig,
    StoredCredentials,
};
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, SseError, StreamableHttpClient, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;

use super::sealed::{CLIENT_ID, RESOURCE, RegisteredClient};
use super::{McpAuthorization, OAUTH_WORK_LIMIT, off_runtime};

/// Refreshes the sealed tokens of the authorization code flow at the
/// server's authorization server, with rmcp's OAuth client: discovery from
/// the server's URL, the refresh grant with the resource indicator, the
/// client registered at authorization.
#[derive(Debug)]
pub(crate) struct McpRefresher {
    /// The pool's configured flows, by server: a preregistered client's
    /// secret authenticates the refresh.
    pub(crate) authorizations: HashMap<ServerName, McpAuthorization>,
    /// Where dynamically registered clients are sealed.
    pub(crate) store: Arc<dyn integrations_core::credentials::CredentialStore>,
}

#[async_trait]
impl TokenRefresher for McpRefresher {
    async fn refresh(&self, request: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        let resource = request.metadata.get(RESOURCE).cloned().ok_or(
            "the sealed token does not name its server's URL; authorise the connection again",
        )?;
        let server = ServerName::new(request.connection.name())?;
        let client = match self.authorizations.get(&server) {
            Some(McpAuthorization::AuthorizationCode {
                client: Some((id, Some(secret))),
                redirect_uri,
                ..
            }) => Some(
                OAuthClientConfig::new(id.clone(), redirect_uri.clone())
                    .with_client_secret(secret.expose_secret()),
            ),
            _ => None,
        };
        let client_id = request.metadata.get(CLIENT_ID).cloned().unwrap_or_default();
        // A dynamically registered confidential client authenticates too.
        let registered = RegisteredClient::load(self.store.as_ref(), request.tenant, &server)
            .await?
            .filter(|registered| registered.client_id == client_id);
        let client = match (client, registered, self.authorizations.get(&server)) {
            (Some(client), _, _) => Some(client),
            (
                None,
                Some(RegisteredClient {
                    client_id,
                    client_secret: Some(secret),
                    ..
                }),
                Some(McpAuthorization::AuthorizationCode { redirect_uri, .. }),
            ) => Some(
                OAuthClientConfig::new(client_id, redirect_uri.clone())
                    .with_client_secret(secret.expose_secret()),
            ),
            _ => None,
        };
        // rmcp refreshes what its store holds: a copy with the refresh token.
        let token = serde_json::from_value(json!({
            "access_token": "", "token_type": "bearer",
            "refresh_token": request.refresh_token.expose_secret(),
        }))?;
        let seed = StoredCredentials::new(client_id, Some(token), request.scopes.to_vec(), None)
            .with_issuer(request.metadata.get("issuer").cloned());
        let deadline = tokio::time::Instant::now() + OAUTH_WORK_LIMIT;
        let outcome = off_runtime(deadline, move || {
            Box::pin(async move {
                let mut manager = AuthorizationManager::new(resource.as_str()).await?;
                let copy = InMemoryCredentialStore::new();
                copy.save(seed).await?;
                manager.set_credential_store(copy);
                if !manager.initialize_from_store().await? {
                    // The server moved to another authorization server.
                    return Err(AuthError::AuthorizationRequired);
                }
                if let Some(client) = client {
                    manager.configure_client(client)?;
                }
                manager.refresh_token().await
            })
        })
        .await
        .map_err(|e| e.to_string())?;
        match outcome {
            Ok(response) => {
                let response = serde_json::to_value(&response)?;
                let text = |key: &str| response[key].as_str().map(str::to_owned);
                let mut fresh = TokenResponse::new(text("access_token").unwrap_or_default());
                if let Some(refresh) = text("refresh_token") {
                    fresh = fresh.with_refresh_token(refresh);
                }
                if let Some(seconds) = response["expires_in"].as_u64() {
                    fresh = fresh.with_expires_in(std::time::Duration::from_secs(seconds));
                }
                fresh.scopes = text("scope")
                    .map(|scope| scope.split_whitespace().map(str::to_owned).collect());
                Ok(fresh)
            }
            Err(AuthError::TokenRefreshRejected(description)) => {
                Err(Box::new(CredentialError::InvalidGrant { description }))
            }
            Err(AuthError::AuthorizationRequired) => Err(Box::new(CredentialError::InvalidGrant {
                description: "the server's authorization server changed".into(),
            })),
            Err(other) => Err(other.to_string().into()),
        }
    }
}

/// rmcp's HTTP client with the tenant's token from the pool's
/// [`TokenManager`] on every request; a 401 refreshes the token once (for
/// all the calls that saw it) and sends the request again.
#[derive(Clone)]
pub(crate) struct TokenClient {
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: TokenManager,
    pub(crate) tenant: TenantId,
    pub(crate) connection: ConnectionId,
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClient")
            .field("tenant", &self.tenant)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

type HttpError = StreamableHttpError<reqwest::Error>;

/// A token the manager cannot give: authorise again (the session's error
/// names the server), or the store's failure.
fn token_error(error: &integrations_core::Error) -> HttpError {
    match error {
        integrations_core::Error::Credentials(
            CredentialError::NeedsReauth { .. } | CredentialError::NotFound { .. },
        ) => StreamableHttpError::AuthRequired(AuthRequiredError::new(
            "Bearer error=\"invalid_token\", error_description=\"the connection needs to be authorised again\"".into(),
        )),
        other => StreamableHttpError::Auth(AuthError::CredentialStoreError(
            integrations_core::error::error_chain(other),
        )),
    }
}

impl TokenClient {
    async fn with_token<T, F, Fut>(&self, call: F) -> Result<T, HttpError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let token = self
            .tokens
            .access_token(&self.tenant, &self.connection)
            .await
            .map_err(|e| token_error(&e))?;
        match call(Some(token.expose_secret().to_owned())).await {
            Err(StreamableHttpError::AuthRequired(challenge)) => {
                let fresh: SecretString = self
                    .tokens
                    .refresh_rejected(&self.tenant, &self.connection, &token)
                    .await
                    .map_err(|e| token_error(&e))?;
                if fresh.expose_secret() == token.expose_secret() {
                    return Err(StreamableHttpError::AuthRequired(challenge));
                }
                call(Some(fresh.expose_secret().to_owned())).await
            }
            result => result,
        }
    }
}

type Headers = HashMap<HeaderName, HeaderValue>;
type SseStream = futures_util::stream::BoxStream<'static, Result<sse_stream::Sse, SseError>>;

impl StreamableHttpClient for TokenClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: rmcp::model::ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.with_token(|token| {
            self.http.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: rmcp::model::ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: Headers,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.with_token(|token| {
            self.http.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Result<(), HttpError> {
        self.with_token(|token| {
            self.http.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Result<SseStream, HttpError> {
        self.with_token(|token| {
            self.http.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> Result<SseStream, HttpError> {
        self.with_token(|token| {
            self.http.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
