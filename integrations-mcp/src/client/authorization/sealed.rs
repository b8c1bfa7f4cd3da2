//! rmcp's token store over the core's encrypted
//! [`CredentialStore`](integrations_core::credentials::CredentialStore).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use integrations_core::credentials::{CredentialKind, Credentials};
use integrations_core::id::ServerName;
use integrations_core::{ConnectionId, TenantId};
use rmcp::transport::auth::{
    AuthError, CredentialStore, StateStore, StoredAuthorizationState, StoredCredentials,
};
use secrecy::ExposeSecret;
use serde_json::json;

/// The metadata keys of a sealed MCP token beside the token itself.
pub(crate) const CLIENT_ID: &str = "client_id";
/// The server's URL: the resource a refresh asks a token for (RFC 8707).
pub(crate) const RESOURCE: &str = "resource";
const ISSUER: &str = "issuer";
const TOKEN_TYPE: &str = "token_type";

/// One tenant's tokens for one server, sealed as connection `mcp/{server}`:
/// what rmcp stores after a code exchange, and what the pool's
/// [`TokenManager`](integrations_core::credentials::TokenManager) refreshes.
#[derive(Clone)]
pub(crate) struct SealedTokens {
    pub(crate) store: Arc<dyn integrations_core::credentials::CredentialStore>,
    pub(crate) tenant: TenantId,
    pub(crate) connection: ConnectionId,
    /// The server's URL, kept with the tokens for their refresh.
    pub(crate) resource: String,
}

impl fmt::Debug for SealedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedTokens")
            .field("tenant", &self.tenant)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
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
            "token_type": meta(TOKEN_TYPE).unwrap_or_else(|| "bearer".into()),
        });
        if let Some(refresh) = &token.refresh_token {
            response["refresh_token"] = json!(refresh.expose_secret());
        }
        // The expiry as rmcp counts it: a lifetime from when it was
        // received, here from now, as the TokenManager may have refreshed it.
        let now = Utc::now();
        if let Some(expires_at) = credentials.expires_at {
            response["expires_in"] = json!((expires_at - now).num_seconds().max(0));
        }
        if !token.scopes.is_empty() {
            response["scope"] = json!(token.scopes.join(" "));
        }
        let token_response = serde_json::from_value(response).map_err(store_error)?;
        let credentials = StoredCredentials::new(
            meta(CLIENT_ID).unwrap_or_default(),
            Some(token_response),
            token.scopes.clone(),
            credentials
                .expires_at
                .and_then(|_| u64::try_from(now.timestamp()).ok()),
        )
        .with_issuer(meta(ISSUER));
        Ok(Some(credentials))
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let Some(response) = &credentials.token_response else {
            // A registration without tokens yet: nothing to seal.
            return Ok(());
        };
        let response = serde_json::to_value(response).map_err(store_error)?;
        let text = |key: &str| response[key].as_str().map(str::to_owned);
        let received = credentials
            .token_received_at
            .and_then(|at| i64::try_from(at).ok())
            .unwrap_or_else(|| Utc::now().timestamp());
        let expires_at = response["expires_in"]
            .as_i64()
            .and_then(|expires| chrono::DateTime::from_timestamp(received + expires, 0));
        let mut sealed = Credentials::oauth2(
            text("access_token").unwrap_or_default(),
            text("refresh_token"),
            expires_at,
        )
        .with_metadata(CLIENT_ID, credentials.client_id.clone())
        .with_metadata(RESOURCE, self.resource.clone());
        if let CredentialKind::OAuth2(token) = &mut sealed.kind {
            token.scopes = credentials.granted_scopes.clone();
        }
        for (key, value) in [
            (TOKEN_TYPE, text(TOKEN_TYPE)),
            (ISSUER, credentials.issuer.clone()),
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
        let store: Arc<dyn integrations_core::credentials::CredentialStore> =
            Arc::new(integrations_core::credentials::MemoryStore::new());
        let sealed = |tenant: &str| SealedTokens {
            store: Arc::clone(&store),
            tenant: TenantId::new(tenant).unwrap(),
            connection: ConnectionId::new("mcp", "linear").unwrap(),
            resource: "https://mcp.linear.example/mcp".into(),
        };
        let response = serde_json::from_value(json!({
            "access_token": "SECRET-at", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "SECRET-rt", "scope": "read write",
        }))
        .unwrap();
        let received = u64::try_from(Utc::now().timestamp()).unwrap() - 600;
        let credentials = StoredCredentials::new(
            "client-1".into(),
            Some(response),
            vec!["read".into(), "write".into()],
            Some(received),
        )
        .with_issuer(Some("https://auth.example".into()));
        sealed("ada").save(credentials).await.unwrap();

        let back = sealed("ada").load().await.unwrap().expect("stored");
        assert_eq!(back.client_id, "client-1");
        assert_eq!(back.granted_scopes, ["read", "write"]);
        assert_eq!(back.issuer.as_deref(), Some("https://auth.example"));
        let token = serde_json::to_value(back.token_response.unwrap()).unwrap();
        assert_eq!(token["access_token"], "SECRET-at");
        assert_eq!(token["refresh_token"], "SECRET-rt");
        let left = token["expires_in"].as_i64().unwrap();
        assert!(
            (2990..=3000).contains(&left),
            "ten minutes of the hour spent: {left}"
        );
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
            .unwrap()
            .value;
        assert_eq!(
            stored.metadata[RESOURCE], "https://mcp.linear.example/mcp",
            "what a refresh needs"
        );
        assert!(
            !format!("{stored:?}").contains("SECRET"),
            "no token in Debug"
        );
        sealed("ada").clear().await.unwrap();
        assert!(sealed("ada").load().await.unwrap().is_none());
    }
}

/// How long a started authorization waits for its callback.
pub(crate) const PENDING_FOR: std::time::Duration = std::time::Duration::from_secs(600);
/// The metadata keys of a pending authorization beside its PKCE state.
pub(crate) const SERVER: &str = "server";
pub(crate) const CHALLENGE: &str = "challenge";
/// The authorization server the flow started with (its issuer and token
/// endpoint): the code goes to no other.
pub(crate) const PINNED_ISSUER: &str = "as_issuer";
pub(crate) const PINNED_TOKEN_ENDPOINT: &str = "as_token_endpoint";

/// The provider of the connections holding a tenant's tokens for a server:
/// `mcp/{server}`.
const TOKENS: &str = "mcp";
/// The provider of a server's registered client: `mcp-client/{server}`.
const CLIENTS: &str = "mcp-client";
/// The provider of a pending authorization: `mcp-state/s{state}`.
const STATES: &str = "mcp-state";

/// Whether the pool keeps `connection` in the store (see
/// [`McpAuthorization::is_pool_connection`](super::McpAuthorization::is_pool_connection)).
pub(crate) fn is_ours(connection: &ConnectionId) -> bool {
    [TOKENS, CLIENTS, STATES].contains(&connection.provider().as_str())
}

/// The connection a tenant's tokens for `server` are sealed as:
/// `mcp/{server}`.
pub(crate) fn token_connection(
    server: &ServerName,
) -> Result<ConnectionId, integrations_core::Error> {
    ConnectionId::new(TOKENS, server)
}

/// The connection a pending authorization is sealed as: `mcp-state/s{state}`.
/// `None` for a state no authorization of ours could have issued.
pub(crate) fn state_connection(state: &str) -> Option<ConnectionId> {
    ConnectionId::new(STATES, format!("s{state}")).ok()
}

/// rmcp's store of pending authorizations (the PKCE verifier, the expected
/// issuer) over the core's: sealed per tenant as `mcp-state/s{state}`, so a
/// callback completes on any replica sharing the store and after a restart,
/// within [`PENDING_FOR`].
#[derive(Clone)]
pub(crate) struct SealedStates {
    pub(crate) store: Arc<dyn integrations_core::credentials::CredentialStore>,
    pub(crate) tenant: TenantId,
    pub(crate) server: ServerName,
    pub(crate) resource: String,
    /// The server's `WWW-Authenticate` challenge the flow started from: the
    /// completion discovers the authorization server from it again.
    pub(crate) challenge: Option<String>,
    /// The client id the flow authorises as.
    pub(crate) client_id: String,
    /// The issuer and token endpoint the flow started with.
    pub(crate) pinned: Option<(String, String)>,
}

pub(crate) fn connection_of(state: &str) -> Result<ConnectionId, AuthError> {
    state_connection(state)
        .ok_or_else(|| AuthError::InternalError("the state is not one this client issued".into()))
}

#[async_trait]
impl StateStore for SealedStates {
    async fn save(&self, state: &str, pending: StoredAuthorizationState) -> Result<(), AuthError> {
        let text = serde_json::to_string(&pending).map_err(store_error)?;
        let until = Utc::now() + chrono::Duration::from_std(PENDING_FOR).unwrap_or_default();
        let mut sealed = Credentials::bearer(text)
            .with_metadata(SERVER, self.server.as_str())
            .with_metadata(RESOURCE, self.resource.clone())
            .with_metadata(CLIENT_ID, self.client_id.clone())
            .with_expires_at(until);
        if let Some(challenge) = &self.challenge {
            sealed = sealed.with_metadata(CHALLENGE, challenge.clone());
        }
        if let Some((issuer, token_endpoint)) = &self.pinned {
            sealed = sealed
                .with_metadata(PINNED_ISSUER, issuer.clone())
                .with_metadata(PINNED_TOKEN_ENDPOINT, token_endpoint.clone());
        }
        self.store
            .put(&self.tenant, &connection_of(state)?, &sealed)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn load(&self, state: &str) -> Result<Option<StoredAuthorizationState>, AuthError> {
        let Some(stored) = self
            .store
            .get(&self.tenant, &connection_of(state)?)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let credentials = stored.value;
        if credentials
            .expires_at
            .is_some_and(|until| until <= Utc::now())
        {
            return Ok(None);
        }
        let CredentialKind::Bearer { token } = &credentials.kind else {
            return Ok(None);
        };
        serde_json::from_str(token.expose_secret())
            .map(Some)
            .map_err(store_error)
    }

    async fn delete(&self, state: &str) -> Result<(), AuthError> {
        self.store
            .delete(&self.tenant, &connection_of(state)?)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// The client registered dynamically (RFC 7591) at a server's authorization
/// server for a tenant, sealed as `mcp-client/{server}`: its id, and its
/// secret where the authorization server issued one. Later flows, the code
/// exchange and every refresh authenticate with it, as long as the server
/// names the same authorization server (SEP-2352: a new one gets a new
/// registration).
#[derive(Clone)]
pub(crate) struct RegisteredClient {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<secrecy::SecretString>,
    /// The issuer it is registered at (`None` in rows sealed before it
    /// was kept).
    pub(crate) issuer: Option<String>,
}

fn client_connection(server: &ServerName) -> Result<ConnectionId, integrations_core::Error> {
    ConnectionId::new(CLIENTS, server)
}

impl RegisteredClient {
    /// The tenant's registration at `server`'s authorization server, if any.
    pub(crate) async fn load(
        store: &dyn integrations_core::credentials::CredentialStore,
        tenant: &TenantId,
        server: &ServerName,
    ) -> Result<Option<Self>, integrations_core::Error> {
        let stored = store.get(tenant, &client_connection(server)?).await?;
        Ok(stored.and_then(|stored| {
            let issuer = stored.value.metadata.get(ISSUER).cloned();
            match stored.value.kind {
                CredentialKind::Basic { username, password } => Some(Self {
                    client_id: username,
                    client_secret: (!password.expose_secret().is_empty()).then_some(password),
                    issuer,
                }),
                _ => None,
            }
        }))
    }

    /// Seals the registration.
    pub(crate) async fn save(
        &self,
        store: &dyn integrations_core::credentials::CredentialStore,
        tenant: &TenantId,
        server: &ServerName,
    ) -> Result<(), integrations_core::Error> {
        let password = self
            .client_secret
            .clone()
            .unwrap_or_else(|| secrecy::SecretString::from(String::new()));
        let mut sealed = Credentials::new(CredentialKind::Basic {
            username: self.client_id.clone(),
            password,
        });
        if let Some(issuer) = &self.issuer {
            sealed = sealed.with_metadata(ISSUER, issuer.clone());
        }
        store
            .put(tenant, &client_connection(server)?, &sealed)
            .await?;
        Ok(())
    }
}
