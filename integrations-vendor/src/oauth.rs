//! OAuth 2 on the `oauth2` crate with this crate's reqwest: the
//! authorization code flow with PKCE and one-time states ([`OAuthFlow`]),
//! client credentials, and the refresh grant as the core's
//! [`TokenRefresher`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use integrations_core::catalog::Catalog;
use integrations_core::credentials::{
    CredentialStore, Credentials, RefreshRequest, TokenRefresher, TokenResponse,
};
use integrations_core::error::CredentialError;
use integrations_core::{BoxError, ConnectionId, TenantId};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse as _,
    TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, innermost};

mod flow;

pub use flow::{Authorization, OAuthFlow, StateRefusal};

/// An OAuth 2 provider's endpoints and habits, as data a host can extend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthProvider {
    /// The provider's id, e.g. `slack`; stored credentials' connections use
    /// it as their provider.
    pub id: String,
    /// A display name.
    pub name: String,
    /// Where the user authorises.
    pub auth_url: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_url: String,
    /// The scopes asked for by default.
    pub scopes: Vec<String>,
    /// Extra parameters of the authorization URL (e.g. Google's
    /// `access_type=offline`).
    pub extra_params: Vec<(String, String)>,
    /// Whether the client authenticates with HTTP basic (else in the body).
    pub basic_auth: bool,
}

impl OAuthProvider {
    /// A provider with the given endpoints, client authentication in the
    /// request body.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        auth_url: impl Into<String>,
        token_url: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            auth_url: auth_url.into(),
            token_url: token_url.into(),
            scopes: Vec::new(),
            extra_params: Vec::new(),
            basic_auth: false,
        }
    }

    /// Slack (OAuth v2, bot scopes).
    pub fn slack() -> Self {
        Self::new(
            "slack",
            "Slack",
            "https://slack.com/oauth/v2/authorize",
            "https://slack.com/api/oauth.v2.access",
        )
        .with_scopes(["chat:write", "channels:read"])
    }

    /// Notion (public integrations; client authentication by HTTP basic).
    pub fn notion() -> Self {
        let mut provider = Self::new(
            "notion",
            "Notion",
            "https://api.notion.com/v1/oauth/authorize",
            "https://api.notion.com/v1/oauth/token",
        )
        .with_param("owner", "user");
        provider.basic_auth = true;
        provider
    }

    /// GitHub (OAuth apps).
    pub fn github() -> Self {
        Self::new(
            "github",
            "GitHub",
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
        )
        .with_scopes(["repo", "read:user"])
    }

    /// Google (offline access, so a refresh token is issued).
    pub fn google() -> Self {
        Self::new(
            "google",
            "Google",
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
        )
        .with_scopes(["openid", "email"])
        .with_param("access_type", "offline")
        .with_param("prompt", "consent")
    }

    /// Linear.
    pub fn linear() -> Self {
        Self::new(
            "linear",
            "Linear",
            "https://linear.app/oauth/authorize",
            "https://api.linear.app/oauth/token",
        )
        .with_scopes(["read", "write"])
    }

    /// The providers the crate ships: Slack, Notion, GitHub, Google, Linear.
    pub fn builtin() -> Vec<Self> {
        vec![
            Self::slack(),
            Self::notion(),
            Self::github(),
            Self::google(),
            Self::linear(),
        ]
    }

    /// The providers as core [`Catalog`] entries (kind `vendor`, auth
    /// method `oauth2`), for a host's integration list.
    ///
    /// ```
    /// use integrations_vendor::oauth::OAuthProvider;
    /// let catalog = OAuthProvider::catalog(&OAuthProvider::builtin())?;
    /// assert_eq!(catalog.get("linear").unwrap().name, "Linear");
    /// # Ok::<_, integrations_core::Error>(())
    /// ```
    pub fn catalog(providers: &[Self]) -> Result<Catalog, integrations_core::Error> {
        let entries: Vec<serde_json::Value> = providers
            .iter()
            .map(|provider| {
                serde_json::json!({
                    "slug": provider.id,
                    "name": provider.name,
                    "kind": "vendor",
                    "category": "oauth",
                    "description": format!("{} over OAuth 2", provider.name),
                    "auth_methods": ["oauth2"],
                })
            })
            .collect();
        Catalog::from_json_str(&serde_json::Value::Array(entries).to_string())
    }

    /// Sets both endpoints (a fake on loopback in tests, a self-hosted
    /// instance).
    #[must_use]
    pub fn with_endpoints(
        mut self,
        auth_url: impl Into<String>,
        token_url: impl Into<String>,
    ) -> Self {
        self.auth_url = auth_url.into();
        self.token_url = token_url.into();
        self
    }

    /// Sets the scopes asked for.
    #[must_use]
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an authorization URL parameter.
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A registered OAuth application at one provider: its client id, secret
/// and redirect URL. It exchanges codes, runs the client credentials grant
/// and, as a [`TokenRefresher`], the refresh grant.
#[derive(Clone)]
pub struct OAuthClient {
    provider: OAuthProvider,
    client: Client,
    http: Http,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("provider", &self.provider.id)
            .field("client_id", &self.client.client_id().as_str())
            .finish_non_exhaustive()
    }
}

/// Why a token endpoint call failed, for [`Error::OAuth`].
fn token_error<E: std::error::Error + 'static>(
    provider: &str,
    error: &RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> Error {
    let (code, description) = match error {
        RequestTokenError::ServerResponse(response) => (
            response.error().as_ref().to_owned(),
            response.error_description().cloned(),
        ),
        RequestTokenError::Request(error) => ("request_failed".to_owned(), Some(innermost(error))),
        RequestTokenError::Parse(error, _) => (
            "unreadable_response".to_owned(),
            Some(format!("the token response is not OAuth 2 JSON: {error}")),
        ),
        RequestTokenError::Other(message) => ("other".to_owned(), Some(message.clone())),
    };
    Error::OAuth {
        vendor: provider.to_owned(),
        code,
        description,
    }
}

/// The transport error of the token endpoint calls.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

/// oauth2's requests, sent with this crate's reqwest.
#[derive(Debug, Clone)]
struct Http(reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + Sync + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    let response = http
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(innermost(&e.without_url())))?;
    if response.status().is_redirection() {
        return Err(HttpError(format!(
            "the token endpoint answered HTTP {} (a redirect); token endpoints \
             do not redirect, so the grant was not sent again",
            response.status().as_u16()
        )));
    }
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = crate::connection::body_within(response, crate::connection::TOKEN_ANSWER_LIMIT)
        .await
        .map_err(|e| HttpError(innermost(&e.without_url())))?
        .ok_or_else(|| HttpError("the token endpoint's answer is longer than 1 MiB".into()))?;
    builder
        .body(body.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

impl OAuthClient {
    /// An application registered at `provider`, redirecting to
    /// `redirect_url` (the host's callback).
    pub fn new(
        provider: OAuthProvider,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        let config = |message: String| Error::Config {
            vendor: provider.id.clone(),
            message,
        };
        let mut client = BasicClient::new(ClientId::new(client_id.into()))
            .set_auth_uri(
                AuthUrl::new(provider.auth_url.clone())
                    .map_err(|e| config(format!("invalid authorization URL: {e}")))?,
            )
            .set_token_uri(
                TokenUrl::new(provider.token_url.clone())
                    .map_err(|e| config(format!("invalid token URL: {e}")))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(redirect_url.to_owned())
                    .map_err(|e| config(format!("invalid redirect URL: {e}")))?,
            )
            .set_auth_type(if provider.basic_auth {
                AuthType::BasicAuth
            } else {
                AuthType::RequestBody
            });
        if let Some(secret) = client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        let http = reqwest::Client::builder()
            // Token endpoints never redirect; following one could leak a code.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| config(format!("cannot build the HTTP client: {}", e.without_url())))?;
        Ok(Self {
            provider,
            client,
            http: Http(http),
        })
    }

    /// The provider.
    pub fn provider(&self) -> &OAuthProvider {
        &self.provider
    }

    fn credentials(&self, response: &BasicTokenResponse) -> Credentials {
        let mut credentials = Credentials::oauth2(
            response.access_token().secret().clone(),
            response.refresh_token().map(|token| token.secret().clone()),
            response
                .expires_in()
                .and_then(|lifetime| chrono::Duration::from_std(lifetime).ok())
                .map(|lifetime| chrono::Utc::now() + lifetime),
        )
        .with_metadata("oauth_provider", self.provider.id.clone());
        if let (integrations_core::credentials::CredentialKind::OAuth2(token), Some(scopes)) =
            (&mut credentials.kind, response.scopes())
        {
            token.scopes = scopes.iter().map(|scope| scope.to_string()).collect();
        }
        credentials
    }

    async fn exchange_code(
        &self,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Credentials, Error> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(&self.provider.id, &e))?;
        Ok(self.credentials(&response))
    }

    /// The client credentials grant (a machine connection, no person
    /// involved): the tokens are stored for `tenant` and `connection`.
    pub async fn client_credentials(
        &self,
        store: &dyn CredentialStore,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<(), Error> {
        let response = self
            .client
            .exchange_client_credentials()
            .add_scopes(self.provider.scopes.iter().cloned().map(Scope::new))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(&self.provider.id, &e))?;
        store
            .put(tenant, connection, &self.credentials(&response))
            .await
            .map_err(|source| Error::Credentials {
                vendor: self.provider.id.clone(),
                source,
            })?;
        Ok(())
    }
}

#[async_trait]
impl TokenRefresher for OAuthClient {
    /// The refresh grant. `invalid_grant` comes back as
    /// [`CredentialError::InvalidGrant`], so the `TokenManager` marks the
    /// connection as needing re-authorisation.
    async fn refresh(&self, request: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        let refresh_token = RefreshToken::new(request.refresh_token.expose_secret().to_owned());
        let result = self
            .client
            .exchange_refresh_token(&refresh_token)
            .request_async(&self.http)
            .await;
        let response = match result {
            Ok(response) => response,
            Err(RequestTokenError::ServerResponse(response))
                if *response.error() == BasicErrorResponseType::InvalidGrant =>
            {
                return Err(Box::new(CredentialError::InvalidGrant {
                    description: response.error_description().cloned().unwrap_or_default(),
                }));
            }
            Err(error) => return Err(Box::new(token_error(&self.provider.id, &error))),
        };
        let mut tokens = TokenResponse::new(response.access_token().secret().clone());
        if let Some(refresh) = response.refresh_token() {
            tokens = tokens.with_refresh_token(refresh.secret().clone());
        }
        if let Some(lifetime) = response.expires_in() {
            tokens = tokens.with_expires_in(lifetime);
        }
        Ok(tokens)
    }
}
