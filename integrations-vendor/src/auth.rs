//! [`Auth`]: how a request proves who it is, with the secret taken from the
//! core credential store (or its `TokenManager`) at the point of use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use integrations_core::credentials::{CredentialKind, CredentialStore, TokenManager};
use integrations_core::{ConnectionId, TenantId};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// How requests authenticate. The secret itself always comes from the
/// connection's stored credentials, never from a string in host code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// The stored API key (or bearer token) in a header, e.g. `X-API-Key`.
    ApiKeyHeader {
        /// The header's name.
        header: String,
    },
    /// The stored API key (or bearer token) as a query parameter.
    ApiKeyQuery {
        /// The parameter's name.
        param: String,
    },
    /// The stored bearer token (or API key) as `Authorization: Bearer`.
    Bearer,
    /// The stored user name and password, as HTTP basic authentication.
    Basic,
    /// The OAuth 2 access token from the connection's
    /// [`TokenManager`](integrations_core::credentials::TokenManager), refreshed before
    /// it expires; a 401 refreshes it once and the request is sent again.
    OAuth2,
    /// A JWT signed with the stored private key (RS256 for RSA, ES256 for
    /// EC P-256; `CredentialKind::Jwt`, its key id in the header) sent as
    /// the bearer token, as GitHub Apps authenticate. Made anew a minute
    /// before it expires.
    JwtBearer {
        /// The `iss` claim (a GitHub App's id).
        issuer: String,
        /// How long each token lives (GitHub allows at most 10 minutes).
        lifetime: Duration,
    },
    /// A JWT signed with the stored private key, exchanged at `token_url`
    /// for an access token (RFC 7523), as Google service accounts
    /// authenticate; the access token is kept until a minute before it
    /// expires.
    JwtGrant {
        /// The token endpoint, also the `aud` claim.
        token_url: String,
        /// The `iss` claim (the service account's e-mail).
        issuer: String,
        /// The `scope` claim, space-separated.
        scope: String,
    },
    /// Mutual TLS with the stored client certificate and key
    /// (`CredentialKind::ClientCertificate`, PEM), loaded at the first
    /// request.
    ClientCertificate,
}

impl Auth {
    /// An API key in the named header.
    pub fn api_key_header(header: impl Into<String>) -> Self {
        Self::ApiKeyHeader {
            header: header.into(),
        }
    }

    /// An API key in the named query parameter.
    pub fn api_key_query(param: impl Into<String>) -> Self {
        Self::ApiKeyQuery {
            param: param.into(),
        }
    }
}

/// Where a connection's secrets come from.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) tenant: TenantId,
    pub(crate) connection: ConnectionId,
    pub(crate) store: Option<Arc<dyn CredentialStore>>,
    pub(crate) tokens: Option<TokenManager>,
    /// Whether `tokens` can refresh OAuth 2 tokens (a host's manager, not
    /// the cache over a store).
    pub(crate) refreshes: bool,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("tenant", &self.tenant)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

/// The credential a request carries, ready to apply.
pub(crate) enum Applied {
    None,
    Header(String, SecretString),
    Query(String, SecretString),
    Bearer(SecretString),
    Basic(String, SecretString),
}

impl Applied {
    pub(crate) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::None => request,
            Self::Header(name, value) => match http::HeaderValue::from_str(value.expose_secret()) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    request.header(name.as_str(), value)
                }
                Err(_) => request,
            },
            Self::Query(name, value) => request.query(&[(name.as_str(), value.expose_secret())]),
            Self::Bearer(token) => request.bearer_auth(token.expose_secret()),
            Self::Basic(user, password) => request.basic_auth(user, Some(password.expose_secret())),
        }
    }

    /// The token or key it carries, to report if the vendor refuses it.
    fn secret(&self) -> Option<&SecretString> {
        match self {
            Self::Header(_, token) | Self::Query(_, token) | Self::Bearer(token) => Some(token),
            Self::None | Self::Basic(..) => None,
        }
    }

    /// The same credential with another token or key.
    fn with_secret(&self, secret: SecretString) -> Self {
        match self {
            Self::Header(name, _) => Self::Header(name.clone(), secret),
            Self::Query(name, _) => Self::Query(name.clone(), secret),
            _ => Self::Bearer(secret),
        }
    }
}

impl Source {
    fn credentials_error(vendor: &str, source: integrations_core::Error) -> Error {
        Error::Credentials {
            vendor: vendor.to_owned(),
            source,
        }
    }

    /// A token-like secret: through the TokenManager when there is one (it
    /// caches and refreshes), else read from the store.
    async fn token(&self, vendor: &str) -> Result<SecretString, Error> {
        if let Some(tokens) = &self.tokens {
            return tokens
                .access_token(&self.tenant, &self.connection)
                .await
                .map_err(|e| match e {
                    integrations_core::Error::Credentials(
                        integrations_core::error::CredentialError::NoAccessToken { kind, .. },
                    ) => wrong_kind(vendor, kind, "a token or API key"),
                    e => Self::credentials_error(vendor, e),
                });
        }
        match self.stored(vendor).await? {
            CredentialKind::ApiKey { key: token } | CredentialKind::Bearer { token } => Ok(token),
            CredentialKind::OAuth2(oauth) => Ok(oauth.access_token),
            other => Err(wrong_kind(vendor, other.name(), "a token or API key")),
        }
    }

    pub(crate) async fn stored(&self, vendor: &str) -> Result<CredentialKind, Error> {
        let Some(store) = &self.store else {
            return Err(Error::Config {
                vendor: vendor.to_owned(),
                message: "this auth method reads the credential store: give the connection one with `credentials`".into(),
            });
        };
        let stored = store
            .get(&self.tenant, &self.connection)
            .await
            .map_err(|e| Self::credentials_error(vendor, e))?
            .ok_or_else(|| {
                Self::credentials_error(
                    vendor,
                    integrations_core::error::CredentialError::NotFound {
                        tenant: self.tenant.clone(),
                        connection: self.connection.clone(),
                    }
                    .into(),
                )
            })?;
        Ok(stored.value.kind)
    }

    /// The credential to send again after the vendor refused `rejected`:
    /// the token read again from the store (OAuth 2: refreshed once,
    /// however many requests report it); `None` when nothing changed, so
    /// sending again is pointless.
    pub(crate) async fn renew(
        &self,
        vendor: &str,
        rejected: &Applied,
    ) -> Result<Option<Applied>, Error> {
        let (Some(tokens), Some(secret)) = (&self.tokens, rejected.secret()) else {
            return Ok(None);
        };
        let renewed = tokens
            .refresh_rejected(&self.tenant, &self.connection, secret)
            .await
            .map_err(|e| Self::credentials_error(vendor, e))?;
        let changed = renewed.expose_secret() != secret.expose_secret();
        Ok(changed.then(|| rejected.with_secret(renewed)))
    }
}

/// The credential `auth` needs, from `source`.
pub(crate) async fn credential(
    auth: &Auth,
    source: Option<&Source>,
    vendor: &str,
) -> Result<Applied, Error> {
    let source = match (auth, source) {
        (Auth::None, _) => return Ok(Applied::None),
        (_, Some(source)) => source,
        (_, None) => {
            return Err(Error::Config {
                vendor: vendor.to_owned(),
                message: "this auth method needs credentials: give the connection a tenant and connection with `credentials` or `token_manager`".into(),
            });
        }
    };
    Ok(match auth {
        // TLS carries a client certificate: nothing goes in the request.
        Auth::None | Auth::ClientCertificate => Applied::None,
        Auth::ApiKeyHeader { header } => {
            Applied::Header(header.clone(), source.token(vendor).await?)
        }
        Auth::ApiKeyQuery { param } => Applied::Query(param.clone(), source.token(vendor).await?),
        Auth::Bearer => Applied::Bearer(source.token(vendor).await?),
        Auth::OAuth2 => {
            if !source.refreshes {
                return Err(Error::Config {
                    vendor: vendor.to_owned(),
                    message:
                        "OAuth 2 needs a TokenManager: give the connection one with `token_manager`"
                            .into(),
                });
            }
            Applied::Bearer(source.token(vendor).await?)
        }
        Auth::Basic => match source.stored(vendor).await? {
            CredentialKind::Basic { username, password } => Applied::Basic(username, password),
            other => return Err(wrong_kind(vendor, other.name(), "basic credentials")),
        },
        // The connection signs these itself: it holds their cache.
        Auth::JwtBearer { .. } | Auth::JwtGrant { .. } => {
            return Err(Error::Config {
                vendor: vendor.to_owned(),
                message: "JWT auth methods are signed by the connection".into(),
            });
        }
    })
}

fn wrong_kind(vendor: &str, found: &str, wanted: &str) -> Error {
    Error::Config {
        vendor: vendor.to_owned(),
        message: format!("the stored credentials are {found}, but this auth method needs {wanted}"),
    }
}
