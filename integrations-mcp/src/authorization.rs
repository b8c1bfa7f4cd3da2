//! OAuth for remote MCP servers: the client credentials grant (machine to
//! machine) and the authorization code flow (a person), with tokens sealed
//! in the core's credential store.

use std::fmt;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use integrations_core::{ConnectionId, CredentialKind, Credentials, TenantId};
use rmcp::transport::auth::{
    AuthClient, AuthError, AuthorizationCallback, AuthorizationManager, AuthorizationRequest,
    ClientCredentialsConfig, CredentialStore, JwtSigningAlgorithm, OAuthState, StoredCredentials,
};

use crate::Error;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// How the pool authorises to a remote MCP server that follows the MCP
/// authorization spec, without a person: the OAuth client credentials
/// grant (SEP-1046). The pool discovers the authorization server from the
/// server's protected-resource metadata (RFC 9728, then RFC 8414), gets a
/// token for the server's resource, and sends it with every request; a
/// new session gets a new token.
///
/// Give it to the pool with
/// [`McpPoolBuilder::authorization`](crate::McpPoolBuilder::authorization).
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
    /// ([`McpPoolBuilder::credential_store`](crate::McpPoolBuilder::credential_store))
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
        }
    }
}

impl McpAuthorization {
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
            | Self::AuthorizationCode { scopes, .. } => *scopes = wanted,
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
            Self::AuthorizationCode { .. } => return None,
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

/// How long a started authorization waits for its callback.
const PENDING_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// Authorizations started and waiting for the user, by their `state`.
#[derive(Default)]
pub(crate) struct Pending(Mutex<HashMap<String, Started>>);

struct Started {
    tenant: TenantId,
    server: String,
    flow: OAuthState,
    at: Instant,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

/// What a session's connect needs to authorise.
#[derive(Clone)]
pub(crate) struct OAuthContext {
    pub(crate) authorization: McpAuthorization,
    pub(crate) tenant: TenantId,
    pub(crate) tokens: Option<Arc<dyn integrations_core::CredentialStore>>,
    pub(crate) pending: Arc<Pending>,
    /// A 403's challenge to authorise again for: the stored tokens lack
    /// its scope.
    pub(crate) step_up: Option<String>,
}

fn failed(server: &str, error: impl fmt::Display) -> Error {
    Error::Authorization {
        server: server.to_owned(),
        message: error.to_string(),
    }
}

/// Runs a future that is not `Send` (rmcp's OAuth futures hold a form
/// serializer across an await) to completion on a blocking thread, with
/// that thread's logging off: rmcp logs the authorization code it
/// exchanges, and no secret may reach the host's logs.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> Result<T, String> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            runtime.block_on(work())
        })
    })
    .await
    .map_err(|e| e.to_string())
}

/// The client that sends (and refreshes) the server's token: from the
/// client credentials grant, or from the tokens stored for the tenant. With
/// the authorization code flow and no stored tokens, starts the flow and
/// fails with [`Error::AuthorizationRequired`].
pub(crate) async fn authorize(
    server: &str,
    url: &str,
    oauth: &OAuthContext,
) -> Result<AuthClient<reqwest::Client>, Error> {
    let (url, context, name) = (url.to_owned(), oauth.clone(), server.to_owned());
    let outcome = off_runtime(move || {
        Box::pin(async move {
            if let Some(grant) = context.authorization.grant(&url) {
                let mut state = OAuthState::new(url.as_str(), None).await?;
                state.authenticate_client_credentials(grant).await?;
                let manager = state.into_authorization_manager().ok_or_else(|| {
                    AuthError::InternalError("the grant ended without a token".into())
                })?;
                return Ok(Ok(AuthClient::new(reqwest::Client::default(), manager)));
            }
            let store = context.tokens.clone().ok_or_else(|| {
                AuthError::InternalError(
                    "the authorization code flow needs a credential store: give the pool one with `credential_store`".into(),
                )
            })?;
            let tokens = SealedTokens {
                store,
                tenant: context.tenant.clone(),
                connection: ConnectionId::new("mcp", &name)
                    .map_err(|e| AuthError::InternalError(e.to_string()))?,
            };
            let mut manager = AuthorizationManager::new(url.as_str()).await?;
            manager.set_credential_store(tokens.clone());
            if context.step_up.is_none() && manager.initialize_from_store().await? {
                return Ok(Ok(AuthClient::new(reqwest::Client::default(), manager)));
            }
            let mut flow = OAuthState::new(url.as_str(), None).await?;
            if let OAuthState::Unauthorized(manager) = &mut flow {
                manager.set_credential_store(tokens);
            }
            let mut request = context
                .authorization
                .authorization_request()
                .ok_or_else(|| AuthError::InternalError("not an authorization code flow".into()))?;
            let challenge = match context.step_up.clone() {
                Some(step_up) => Some(step_up),
                None => challenge(&url).await,
            };
            if let Some(challenge) = challenge {
                request = request.with_challenge(challenge);
            }
            flow.start_authorization(request).await?;
            let address = flow.get_authorization_url().await?;
            Ok(Err((address, flow)))
        })
    })
    .await
    .map_err(|e| failed(server, e))?
    .map_err(|e: AuthError| failed(server, e))?;
    match outcome {
        Ok(client) => Ok(client),
        Err((url, flow)) => {
            let state = reqwest::Url::parse(&url)
                .ok()
                .and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "state")
                        .map(|(_, v)| v.into_owned())
                })
                .ok_or_else(|| failed(server, "the authorization URL has no state"))?;
            let mut pending = oauth.pending.0.lock().unwrap_or_else(|e| e.into_inner());
            pending.retain(|_, started| started.at.elapsed() < PENDING_FOR);
            pending.insert(
                state,
                Started {
                    tenant: oauth.tenant.clone(),
                    server: server.to_owned(),
                    flow,
                    at: Instant::now(),
                },
            );
            Err(Error::AuthorizationRequired {
                server: server.to_owned(),
                tenant: oauth.tenant.to_string(),
                url,
            })
        }
    }
}

/// The server's `WWW-Authenticate` challenge to an unauthenticated
/// handshake: it names the resource metadata and the scopes wanted.
async fn challenge(url: &str) -> Option<String> {
    use rmcp::transport::StreamableHttpClientTransport;
    match rmcp::serve_client_with_lifecycle(
        (),
        StreamableHttpClientTransport::from_uri(url),
        rmcp::ClientLifecycleMode::Initialize,
    )
    .await
    {
        Ok(client) => {
            let _ = client.cancel().await;
            None
        }
        Err(error) => error.auth_challenge().map(str::to_owned),
    }
}

/// Completes an authorization the user came back from: takes `code`,
/// `state` and the issuer (RFC 9207) from the callback URL, exchanges the
/// code for tokens, sealed for the tenant. The state is used once.
pub(crate) async fn complete(
    pending: &Pending,
    tenant: &TenantId,
    callback_url: &str,
) -> Result<String, Error> {
    let callback = AuthorizationCallback::from_redirect_url(callback_url).map_err(|e| {
        Error::Authorization {
            server: "(callback)".into(),
            message: format!("the callback URL: {e}"),
        }
    })?;
    let state = callback.csrf_token.clone();
    let started = pending
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&state);
    let refused = |why: &str| Error::Authorization {
        server: "(callback)".into(),
        message: format!("authorization state refused: {why}"),
    };
    let Some(started) = started else {
        return Err(refused("unknown, or already used"));
    };
    if started.tenant != *tenant {
        return Err(refused("it was issued to another tenant"));
    }
    if started.at.elapsed() >= PENDING_FOR {
        return Err(refused("expired"));
    }
    let server = started.server.clone();
    let mut flow = started.flow;
    off_runtime(move || {
        Box::pin(async move {
            // Exchanges the code (PKCE verifier from the started flow) and
            // stores the tokens through the sealed store.
            flow.handle_callback_with_issuer(
                &callback.code,
                &callback.csrf_token,
                callback.issuer.as_deref(),
            )
            .await
        })
    })
    .await
    .map_err(|e| failed(&server, e))?
    .map_err(|e| failed(&server, e))?;
    Ok(server)
}

/// rmcp's token store over the core's: one tenant's tokens for one server,
/// sealed as connection `mcp/{server}`.
#[derive(Clone)]
pub(crate) struct SealedTokens {
    pub(crate) store: Arc<dyn integrations_core::CredentialStore>,
    pub(crate) tenant: TenantId,
    pub(crate) connection: ConnectionId,
}

fn store_error(error: impl fmt::Display) -> AuthError {
    AuthError::CredentialStoreError(error.to_string())
}

#[async_trait]
impl CredentialStore for SealedTokens {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        let Some(stored) = self
            .store
            .get(&self.tenant, &self.connection)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let credentials = stored.value;
        let CredentialKind::OAuth2(token) = &credentials.kind else {
            return Ok(None);
        };
        let meta = |key: &str| credentials.metadata.get(key).cloned();
        let mut response = json!({
            "access_token": token.access_token.expose_secret(),
            "token_type": meta("token_type").unwrap_or_else(|| "bearer".into()),
        });
        if let Some(refresh) = &token.refresh_token {
            response["refresh_token"] = json!(refresh.expose_secret());
        }
        if let Some(expires_in) = meta("expires_in").and_then(|n| n.parse::<u64>().ok()) {
            response["expires_in"] = json!(expires_in);
        }
        if !token.scopes.is_empty() {
            response["scope"] = json!(token.scopes.join(" "));
        }
        let token_response = serde_json::from_value(response).map_err(store_error)?;
        let credentials = StoredCredentials::new(
            meta("client_id").unwrap_or_default(),
            Some(token_response),
            token.scopes.clone(),
            meta("received_at").and_then(|n| n.parse().ok()),
        )
        .with_issuer(meta("issuer"));
        Ok(Some(credentials))
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let Some(response) = &credentials.token_response else {
            // A registration without tokens yet: nothing to seal.
            return Ok(());
        };
        let response = serde_json::to_value(response).map_err(store_error)?;
        let text = |key: &str| response[key].as_str().map(str::to_owned);
        let expires_in = response["expires_in"].as_u64();
        let received = credentials.token_received_at;
        let expires_at = expires_in.zip(received).and_then(|(expires, at)| {
            chrono::DateTime::from_timestamp(i64::try_from(at + expires).ok()?, 0)
        });
        let mut sealed = Credentials::oauth2(
            text("access_token").unwrap_or_default(),
            text("refresh_token"),
            expires_at,
        )
        .with_metadata("client_id", credentials.client_id.clone());
        if let CredentialKind::OAuth2(token) = &mut sealed.kind {
            token.scopes = credentials.granted_scopes.clone();
        }
        for (key, value) in [
            ("token_type", text("token_type")),
            ("expires_in", expires_in.map(|n| n.to_string())),
            ("received_at", received.map(|n| n.to_string())),
            ("issuer", credentials.issuer.clone()),
        ] {
            if let Some(value) = value {
                sealed = sealed.with_metadata(key, value);
            }
        }
        self.store
            .put(&self.tenant, &self.connection, &sealed)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.store
            .delete(&self.tenant, &self.connection)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_are_sealed_per_tenant_and_read_back_whole() {
        let store: Arc<dyn integrations_core::CredentialStore> =
            Arc::new(integrations_core::MemoryStore::new());
        let sealed = |tenant: &str| SealedTokens {
            store: Arc::clone(&store),
            tenant: TenantId::new(tenant).unwrap(),
            connection: ConnectionId::new("mcp", "linear").unwrap(),
        };
        let response = serde_json::from_value(json!({
            "access_token": "SECRET-at", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "SECRET-rt", "scope": "read write",
        }))
        .unwrap();
        let credentials = StoredCredentials::new(
            "client-1".into(),
            Some(response),
            vec!["read".into(), "write".into()],
            Some(1_800_000_000),
        )
        .with_issuer(Some("https://auth.example".into()));
        sealed("ada").save(credentials).await.unwrap();

        let back = sealed("ada").load().await.unwrap().expect("stored");
        assert_eq!(back.client_id, "client-1");
        assert_eq!(back.granted_scopes, ["read", "write"]);
        assert_eq!(back.token_received_at, Some(1_800_000_000));
        assert_eq!(back.issuer.as_deref(), Some("https://auth.example"));
        let token = serde_json::to_value(back.token_response.unwrap()).unwrap();
        assert_eq!(token["access_token"], "SECRET-at");
        assert_eq!(token["refresh_token"], "SECRET-rt");
        assert_eq!(token["expires_in"], 3600);
        assert!(
            sealed("grace").load().await.unwrap().is_none(),
            "tenants apart"
        );
        let stored = store
            .get(
                &TenantId::new("ada").unwrap(),
                &ConnectionId::new("mcp", "linear").unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(
            !format!("{stored:?}").contains("SECRET"),
            "no token in Debug"
        );
        sealed("ada").clear().await.unwrap();
        assert!(sealed("ada").load().await.unwrap().is_none());
    }

    #[test]
    fn debug_shows_no_secret_and_the_grant_names_the_resource() {
        let secret =
            McpAuthorization::client_secret("machine-1", "SECRET-s3cr3t".to_owned().into())
                .scopes(["mcp:read"]);
        let key = McpAuthorization::private_key_jwt(
            "machine-2",
            "-----BEGIN PRIVATE KEY-----SECRET".to_owned().into(),
            JwtAlgorithm::Es256,
        );
        for authorization in [&secret, &key] {
            let shown = format!("{authorization:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("machine-"), "{shown}");
            let grant = format!(
                "{:?}",
                authorization.grant("https://mcp.example.com/mcp").unwrap()
            );
            assert!(
                !grant.contains("SECRET"),
                "rmcp's Debug redacts too: {grant}"
            );
        }
        let ClientCredentialsConfig::ClientSecret {
            resource, scopes, ..
        } = secret.grant("https://mcp.example.com/mcp").unwrap()
        else {
            panic!("a client secret grant")
        };
        assert_eq!(resource.as_deref(), Some("https://mcp.example.com/mcp"));
        assert_eq!(scopes, ["mcp:read"]);
    }
}
