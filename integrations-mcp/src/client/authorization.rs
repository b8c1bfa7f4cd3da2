//! OAuth for remote MCP servers: the client credentials grant (machine to
//! machine) and the authorization code flow (a person), with tokens sealed
//! in the core's credential store.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use integrations_core::{BoxError, TenantId};
use rmcp::transport::auth::{AuthorizationRequest, ClientCredentialsConfig, JwtSigningAlgorithm};
use secrecy::{ExposeSecret, SecretString};

mod discovery;
mod enterprise;
mod flow;
mod offload;
mod refresh;
mod sealed;

pub(crate) use flow::{Authorized, OAuthContext, Tokens, authorize, complete, start};
pub(crate) use offload::{OAUTH_WORK_LIMIT, off_runtime};
pub(crate) use refresh::McpRefresher;
pub(crate) use sealed::token_connection;

/// How the pool authorises to a remote MCP server that follows the MCP
/// authorization spec, without a person: the OAuth client credentials
/// grant (SEP-1046). The pool discovers the authorization server from the
/// server's protected-resource metadata (RFC 9728, then RFC 8414), gets a
/// token for the server's resource, and sends it with every request; a
/// new session gets a new token.
///
/// Give it to the pool with
/// [`McpPoolBuilder::authorization`](crate::client::McpPoolBuilder::authorization).
/// `Debug` never shows the secret or the key.
#[derive(Clone)]
#[non_exhaustive]
pub enum McpAuthorization {
    /// A client id and secret, sent as the authorization server asks
    /// (`client_secret_basic` or `client_secret_post`).
    ClientSecret {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: SecretString,
        /// Scopes to ask for; none by default.
        scopes: Vec<String>,
    },
    /// A client id and a private key that signs a JWT assertion
    /// (`private_key_jwt`, RFC 7523).
    PrivateKeyJwt {
        /// The client id.
        client_id: String,
        /// The private key, PEM.
        private_key_pem: SecretString,
        /// How the key signs.
        algorithm: JwtAlgorithm,
        /// Scopes to ask for; none by default.
        scopes: Vec<String>,
    },
    /// The authorization code flow with PKCE, for a person: connecting
    /// without a stored token fails with
    /// [`Error::AuthorizationRequired`](crate::Error::AuthorizationRequired),
    /// which carries the URL to send the user to; the host's callback
    /// hands the code back with
    /// [`McpPool::complete_authorization`](crate::McpPool::complete_authorization),
    /// and the tokens are sealed in the pool's credential store
    /// ([`McpPoolBuilder::credential_store`](crate::client::McpPoolBuilder::credential_store))
    /// per tenant, as connection `mcp/{server}`. The client registers
    /// itself dynamically (RFC 7591) unless a client id is given.
    AuthorizationCode {
        /// Where the authorization server sends the user back.
        redirect_uri: String,
        /// The name the client registers with.
        client_name: String,
        /// Scopes to ask for; without any, those the server asks for.
        scopes: Vec<String>,
        /// A client registered beforehand: its id and secret, if any.
        client: Option<(String, Option<SecretString>)>,
        /// The URL of the client's metadata document, used as its client
        /// id where the authorization server supports client ID metadata
        /// documents (before dynamic registration).
        client_metadata_url: Option<String>,
    },
    /// Enterprise-managed authorization (SEP-990, "cross-app access"): the
    /// tenant's enterprise identity, an OpenID Connect ID token from the
    /// host's single sign-on, is exchanged at the identity provider for an
    /// identity assertion grant (RFC 8693), which the server's authorization
    /// server exchanges for an access token (RFC 7523). No person is
    /// involved at connect time; a new session makes both exchanges again
    /// with a fresh ID token.
    EnterpriseManaged {
        /// The enterprise identity provider and this client's registration
        /// there.
        identity_provider: IdentityProvider,
        /// The client id registered at the server's authorization server.
        client_id: String,
        /// Its secret (sent as `client_secret_basic`), if it has one.
        client_secret: Option<SecretString>,
        /// Where each tenant's ID token comes from.
        id_tokens: Arc<dyn IdTokenSource>,
        /// Scopes to ask for; none by default.
        scopes: Vec<String>,
    },
}

/// Where the pool gets a tenant's enterprise identity for
/// [`McpAuthorization::EnterpriseManaged`]: an OpenID Connect ID token the
/// identity provider issued to the host's client, fresh enough for the
/// provider to accept it.
#[async_trait]
pub trait IdTokenSource: Send + Sync + 'static {
    /// The tenant's ID token.
    async fn id_token(&self, tenant: &TenantId) -> Result<SecretString, BoxError>;
}

/// An enterprise identity provider, as
/// [`McpAuthorization::EnterpriseManaged`] uses it: its issuer, its token
/// endpoint, and the host's client registered there. `Debug` never shows the
/// secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct IdentityProvider {
    /// The issuer identifier, from its metadata.
    pub issuer: String,
    /// Its token endpoint.
    pub token_endpoint: String,
    /// The host's client id there.
    pub client_id: String,
    /// The client's secret (sent as `client_secret_basic`); `None` for a
    /// public client.
    pub client_secret: Option<SecretString>,
}

impl IdentityProvider {
    /// A provider where the host is a public client.
    pub fn new(
        issuer: impl Into<String>,
        token_endpoint: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            token_endpoint: token_endpoint.into(),
            client_id: client_id.into(),
            client_secret: None,
        }
    }

    /// The client's secret there.
    #[must_use]
    pub fn client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }
}

impl fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("issuer", &self.issuer)
            .field("token_endpoint", &self.token_endpoint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The signing algorithm of a [`McpAuthorization::PrivateKeyJwt`] key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl fmt::Debug for McpAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecret {
                client_id, scopes, ..
            } => f
                .debug_struct("ClientSecret")
                .field("client_id", client_id)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
            Self::PrivateKeyJwt {
                client_id,
                algorithm,
                scopes,
                ..
            } => f
                .debug_struct("PrivateKeyJwt")
                .field("client_id", client_id)
                .field("algorithm", algorithm)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
            Self::AuthorizationCode {
                redirect_uri,
                client_name,
                scopes,
                client,
                ..
            } => f
                .debug_struct("AuthorizationCode")
                .field("redirect_uri", redirect_uri)
                .field("client_name", client_name)
                .field("scopes", scopes)
                .field("client_id", &client.as_ref().map(|(id, _)| id))
                .finish_non_exhaustive(),
            Self::EnterpriseManaged {
                identity_provider,
                client_id,
                scopes,
                ..
            } => f
                .debug_struct("EnterpriseManaged")
                .field("identity_provider", identity_provider)
                .field("client_id", client_id)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
        }
    }
}

impl McpAuthorization {
    /// Whether `connection` is one the pool keeps in the host's credential
    /// store for its OAuth flows: a tenant's tokens for a server
    /// (`mcp/{server}`), a server's registered client (`mcp-client/{server}`)
    /// or an authorization in progress (`mcp-state/...`). A host listing a
    /// tenant's connections shows these with the server, or not at all.
    ///
    /// ```
    /// use integrations_core::ConnectionId;
    /// use integrations_mcp::client::McpAuthorization;
    /// let tokens = ConnectionId::new("mcp", "linear").unwrap();
    /// assert!(McpAuthorization::is_pool_connection(&tokens));
    /// let slack = ConnectionId::new("slack", "default").unwrap();
    /// assert!(!McpAuthorization::is_pool_connection(&slack));
    /// ```
    pub fn is_pool_connection(connection: &integrations_core::ConnectionId) -> bool {
        sealed::is_ours(connection)
    }

    /// Client credentials with a secret.
    pub fn client_secret(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self::ClientSecret {
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
        }
    }

    /// Client credentials with a private key JWT.
    pub fn private_key_jwt(
        client_id: impl Into<String>,
        private_key_pem: SecretString,
        algorithm: JwtAlgorithm,
    ) -> Self {
        Self::PrivateKeyJwt {
            client_id: client_id.into(),
            private_key_pem,
            algorithm,
            scopes: Vec::new(),
        }
    }

    /// The authorization code flow, with the user sent back to
    /// `redirect_uri`.
    pub fn authorization_code(redirect_uri: impl Into<String>) -> Self {
        Self::AuthorizationCode {
            redirect_uri: redirect_uri.into(),
            client_name: "integrations".into(),
            scopes: Vec::new(),
            client: None,
            client_metadata_url: None,
        }
    }

    /// Enterprise-managed authorization: the tenant's ID token from
    /// `id_tokens`, exchanged at `identity_provider`, then at the server's
    /// authorization server as `client_id`.
    pub fn enterprise_managed(
        identity_provider: IdentityProvider,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        id_tokens: impl IdTokenSource,
    ) -> Self {
        Self::EnterpriseManaged {
            identity_provider,
            client_id: client_id.into(),
            client_secret,
            id_tokens: Arc::new(id_tokens),
            scopes: Vec::new(),
        }
    }

    /// For the authorization code flow: the URL of the client's metadata
    /// document (an `https` URL the host serves), used as its client id by
    /// authorization servers that accept one.
    #[must_use]
    pub fn client_metadata_url(mut self, url: impl Into<String>) -> Self {
        if let Self::AuthorizationCode {
            client_metadata_url,
            ..
        } = &mut self
        {
            *client_metadata_url = Some(url.into());
        }
        self
    }

    /// Asks for `scopes`.
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let wanted: Vec<String> = scopes.into_iter().map(Into::into).collect();
        match &mut self {
            Self::ClientSecret { scopes, .. }
            | Self::PrivateKeyJwt { scopes, .. }
            | Self::AuthorizationCode { scopes, .. }
            | Self::EnterpriseManaged { scopes, .. } => *scopes = wanted,
        }
        self
    }

    /// For the authorization code flow: the name the client registers with.
    #[must_use]
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        if let Self::AuthorizationCode { client_name, .. } = &mut self {
            *client_name = name.into();
        }
        self
    }

    /// For the authorization code flow: a client registered beforehand,
    /// instead of dynamic registration.
    #[must_use]
    pub fn preregistered(
        mut self,
        client_id: impl Into<String>,
        secret: Option<SecretString>,
    ) -> Self {
        if let Self::AuthorizationCode { client, .. } = &mut self {
            *client = Some((client_id.into(), secret));
        }
        self
    }

    /// rmcp's configuration of the grant, for the server at `resource`
    /// (its URL: the resource indicator of RFC 8707); `None` for the
    /// authorization code flow.
    pub(crate) fn grant(&self, resource: &str) -> Option<ClientCredentialsConfig> {
        Some(match self {
            Self::ClientSecret {
                client_id,
                client_secret,
                scopes,
            } => ClientCredentialsConfig::ClientSecret {
                client_id: client_id.clone(),
                client_secret: client_secret.expose_secret().to_owned(),
                scopes: scopes.clone(),
                resource: Some(resource.to_owned()),
            },
            Self::PrivateKeyJwt {
                client_id,
                private_key_pem,
                algorithm,
                scopes,
            } => ClientCredentialsConfig::PrivateKeyJwt {
                client_id: client_id.clone(),
                signing_key: private_key_pem.expose_secret().as_bytes().to_vec(),
                signing_algorithm: match algorithm {
                    JwtAlgorithm::Rs256 => JwtSigningAlgorithm::RS256,
                    JwtAlgorithm::Rs384 => JwtSigningAlgorithm::RS384,
                    JwtAlgorithm::Rs512 => JwtSigningAlgorithm::RS512,
                    JwtAlgorithm::Es256 => JwtSigningAlgorithm::ES256,
                    JwtAlgorithm::Es384 => JwtSigningAlgorithm::ES384,
                },
                token_endpoint_audience: None,
                scopes: scopes.clone(),
                resource: Some(resource.to_owned()),
            },
            Self::AuthorizationCode { .. } | Self::EnterpriseManaged { .. } => return None,
        })
    }

    /// rmcp's request of the authorization code flow.
    pub(crate) fn authorization_request(&self) -> Option<AuthorizationRequest> {
        let Self::AuthorizationCode {
            redirect_uri,
            client_name,
            scopes,
            client,
            client_metadata_url,
        } = self
        else {
            return None;
        };
        let mut request =
            AuthorizationRequest::new(redirect_uri.clone()).with_client_name(client_name.clone());
        request = if scopes.is_empty() {
            request.with_initial_scope_selection()
        } else {
            request.with_scopes(scopes.iter().map(String::as_str))
        };
        if let Some(url) = client_metadata_url {
            request = request.with_client_metadata_url(url.clone());
        }
        if let Some((id, secret)) = client {
            request = request.with_preregistered_client(id.clone());
            if let Some(secret) = secret {
                request = request.with_client_secret(secret.expose_secret());
            }
        }
        Some(request)
    }
}
