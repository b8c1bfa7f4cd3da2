//! The flows: the client credentials grant, the authorization code flow
//! (start, callback, stored tokens bound to their resource) and the
//! enterprise-managed exchange, each run off the async workers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use integrations_core::credentials::{Credentials, TokenManager};
use integrations_core::error::CredentialError;
use integrations_core::id::ServerName;
use integrations_core::{ConnectionId, TenantId};
use rmcp::transport::auth::{
    AuthClient, AuthError, AuthorizationCallback, AuthorizationManager, AuthorizationRequest,
    AuthorizationSession, OAuthClientConfig, OAuthState,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::McpAuthorization;
use super::discovery::{challenge, discover};
use super::enterprise::enterprise_token;
use super::offload::{OAUTH_WORK_LIMIT, off_runtime};
use super::refresh::TokenClient;
use super::sealed::{
    CHALLENGE, CLIENT_ID, PINNED_ISSUER, PINNED_TOKEN_ENDPOINT, RESOURCE, RegisteredClient, SERVER,
    SealedStates, SealedTokens, token_connection,
};
use crate::error::Error;

/// What a session's connect needs to authorise.
#[derive(Clone)]
pub(crate) struct OAuthContext {
    pub(crate) authorization: McpAuthorization,
    pub(crate) tenant: TenantId,
    /// Where the authorization code flow keeps its tokens, or why there
    /// is nowhere.
    pub(crate) tokens: Result<Tokens, &'static str>,
    /// A 403's challenge to authorise again for: the stored tokens lack
    /// its scope.
    pub(crate) step_up: Option<String>,
}

/// The sealed tokens of the authorization code flow, and the manager that
/// hands them out and refreshes them.
#[derive(Clone)]
pub(crate) struct Tokens {
    pub(crate) store: Arc<dyn integrations_core::credentials::CredentialStore>,
    pub(crate) manager: TokenManager,
}

/// How a session sends its token.
#[derive(Clone)]
pub(crate) enum Authorized {
    /// rmcp's client of the client credentials grant.
    Grant(AuthClient<reqwest::Client>),
    /// The tenant's sealed tokens, through the pool's token manager.
    Tokens(TokenClient),
    /// An access token for this session (enterprise-managed).
    Bearer(SecretString),
}

pub(super) fn failed(server: &ServerName, error: impl fmt::Display) -> Error {
    Error::Authorization {
        server: server.clone(),
        message: error.to_string(),
    }
}

/// How the session sends its token: the client credentials grant's client,
/// or the tenant's stored tokens. With the authorization code flow and no
/// stored tokens (or tokens the authorization server no longer honours),
/// starts the flow and fails with [`Error::AuthorizationRequired`].
pub(crate) async fn authorize(
    server: &ServerName,
    url: &str,
    oauth: &OAuthContext,
    deadline: Instant,
) -> Result<Authorized, Error> {
    if let Some(grant) = oauth.authorization.grant(url) {
        let url = url.to_owned();
        let client = off_runtime(deadline, move || {
            Box::pin(async move {
                let mut state = OAuthState::new(url.as_str(), None).await?;
                state.authenticate_client_credentials(grant).await?;
                let manager = state.into_authorization_manager().ok_or_else(|| {
                    AuthError::InternalError("the grant ended without a token".into())
                })?;
                Ok::<_, AuthError>(AuthClient::new(crate::client::http::client(None), manager))
            })
        })
        .await
        .map_err(|e| e.into_error(server))?
        .map_err(|e| failed(server, e))?;
        return Ok(Authorized::Grant(client));
    }
    if let McpAuthorization::EnterpriseManaged {
        identity_provider,
        client_id,
        client_secret,
        id_tokens,
        scopes,
    } = &oauth.authorization
    {
        let id_token = id_tokens.id_token(&oauth.tenant).await.map_err(|e| {
            failed(
                server,
                format!("no ID token for tenant `{}`: {e}", oauth.tenant),
            )
        })?;
        let (idp, client) = (
            identity_provider.clone(),
            (client_id.clone(), client_secret.clone()),
        );
        let (url, scopes) = (url.to_owned(), scopes.clone());
        let token = off_runtime(deadline, move || {
            Box::pin(enterprise_token(url, idp, client, id_token, scopes))
        })
        .await
        .map_err(|e| e.into_error(server))?
        .map_err(|e| failed(server, e))?;
        return Ok(Authorized::Bearer(token));
    }
    let tokens = oauth.tokens.clone().map_err(|why| failed(server, why))?;
    let connection = token_connection(server).map_err(|e| failed(server, e))?;
    if oauth.step_up.is_none() && issued_for(&tokens, &oauth.tenant, server, url).await? {
        match tokens
            .manager
            .access_token(&oauth.tenant, &connection)
            .await
        {
            Ok(_) => {
                return Ok(Authorized::Tokens(TokenClient {
                    http: crate::client::http::client(None),
                    tokens: tokens.manager,
                    tenant: oauth.tenant.clone(),
                    connection,
                }));
            }
            Err(integrations_core::Error::Credentials(
                CredentialError::NotFound { .. } | CredentialError::NeedsReauth { .. },
            )) => {}
            Err(other) => return Err(crate::error::credential_error(server, other)),
        }
    }
    Err(start_code_flow(server, url, oauth, tokens, connection, deadline).await)
}

/// Whether the tenant's sealed tokens for `connection` (if any) were issued
/// for the resource at `url` (RFC 8707): the same scheme, host, port and
/// path. Tokens sealed for another URL (the server's config moved it) are
/// never sent: the flow starts again for the new resource.
async fn issued_for(
    tokens: &Tokens,
    tenant: &TenantId,
    server: &ServerName,
    url: &str,
) -> Result<bool, Error> {
    let connection = token_connection(server).map_err(|e| failed(server, e))?;
    let stored = tokens
        .store
        .get(tenant, &connection)
        .await
        .map_err(|e| crate::error::credential_error(server, e))?;
    let Some(stored) = stored else {
        return Ok(true);
    };
    Ok(match stored.value.metadata.get(RESOURCE) {
        Some(issued) => crate::client::http::same_resource(issued, url),
        None => true,
    })
}

/// Starts the authorization code flow without a new session: after a 401
/// (the tenant's tokens are no longer honoured) or a 403
/// `insufficient_scope` (for the scopes `oauth.step_up` names). Returns the
/// [`Error::AuthorizationRequired`] that sends the user to approve.
pub(crate) async fn start(
    server: &ServerName,
    url: &str,
    oauth: &OAuthContext,
    deadline: Instant,
) -> Error {
    let tokens = match oauth.tokens.clone() {
        Ok(tokens) => tokens,
        Err(why) => return failed(server, why),
    };
    match token_connection(server) {
        Ok(connection) => start_code_flow(server, url, oauth, tokens, connection, deadline).await,
        Err(error) => failed(server, error),
    }
}

/// Starts the authorization code flow for `oauth`'s tenant (with the scopes
/// of a step-up challenge, if any): the PKCE state sealed, the client
/// registered once if need be; returns the [`Error::AuthorizationRequired`]
/// that sends the user to approve, or what failed.
async fn start_code_flow(
    server: &ServerName,
    url: &str,
    oauth: &OAuthContext,
    tokens: Tokens,
    connection: ConnectionId,
    deadline: Instant,
) -> Error {
    let sealed = SealedTokens {
        store: Arc::clone(&tokens.store),
        tenant: oauth.tenant.clone(),
        connection,
        resource: url.to_owned(),
    };
    let mut states = SealedStates {
        store: tokens.store,
        tenant: oauth.tenant.clone(),
        server: server.clone(),
        resource: url.to_owned(),
        challenge: None,
        client_id: String::new(),
        pinned: None,
    };
    let (url, request, step_up) = (
        url.to_owned(),
        oauth.authorization.authorization_request(),
        oauth.step_up.clone(),
    );
    let address = off_runtime(deadline, move || {
        Box::pin(async move {
            let mut request = request
                .ok_or_else(|| AuthError::InternalError("not an authorization code flow".into()))?;
            let mut manager = AuthorizationManager::new(url.as_str()).await?;
            let challenge = match step_up {
                // SEP-2350: the scopes granted so far and the challenged
                // ones, not the challenged ones alone.
                Some(step_up) => {
                    let granted = rmcp::transport::auth::CredentialStore::load(&sealed).await;
                    let granted = granted.ok().flatten().map(|c| c.granted_scopes);
                    Some(with_scopes(&step_up, &granted.unwrap_or_default()))
                }
                None => challenge(&url, deadline).await,
            };
            manager.set_credential_store(sealed);
            let metadata = discover(&manager, &url, challenge.as_deref()).await?;
            let cimd = metadata
                .additional_fields
                .get("client_id_metadata_document_supported")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
                && request.client_metadata_url.is_some();
            states.pinned = Some((
                metadata.issuer.clone().unwrap_or_default(),
                metadata.token_endpoint.clone(),
            ));
            manager.set_metadata(metadata);
            if request.client_id.is_none() && !cimd {
                let client = registered(&mut manager, &states, &request).await?;
                request = request.with_preregistered_client(client.client_id);
                if let Some(secret) = client.client_secret {
                    request = request.with_client_secret(secret.expose_secret());
                }
            }
            // The client the flow authorises as, for the exchange at the
            // callback: pre-registered, registered above, or the metadata
            // document's URL.
            states.client_id = match (&request.client_id, &request.client_metadata_url) {
                (Some(id), _) => id.clone(),
                (None, Some(url)) => url.clone(),
                (None, None) => String::new(),
            };
            states.challenge.clone_from(&challenge);
            // The flow's PKCE state is sealed as it is made.
            manager.set_state_store(states);
            if let Some(challenge) = challenge {
                request = request.with_challenge(challenge);
            }
            let session = AuthorizationSession::new(manager, request)
                .await
                .map_err(|(_, error)| error)?;
            Ok::<_, AuthError>(session.auth_url)
        })
    })
    .await;
    match address {
        Ok(Ok(address)) => Error::AuthorizationRequired {
            server: server.clone(),
            tenant: oauth.tenant.to_string(),
            url: address,
        },
        Ok(Err(error)) => failed(server, error),
        Err(error) => error.into_error(server),
    }
}

/// `challenge` (a `WWW-Authenticate` value) with `granted` added to its
/// `scope` parameter; as it is when it names no scope.
fn with_scopes(challenge: &str, granted: &[String]) -> String {
    const SCOPE: &str = "scope=\"";
    let parameter = challenge
        .match_indices(SCOPE)
        .find(|(at, _)| challenge[..*at].ends_with([' ', ',']));
    let Some(start) = parameter.map(|(at, _)| at + SCOPE.len()) else {
        return challenge.to_owned();
    };
    let Some(length) = challenge[start..].find('"') else {
        return challenge.to_owned();
    };
    let mut scopes: Vec<&str> = granted.iter().map(String::as_str).collect();
    for scope in challenge[start..start + length].split_whitespace() {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let (before, after) = (&challenge[..start], &challenge[start + length..]);
    format!("{before}{}{after}", scopes.join(" "))
}

/// The client registered at the authorization server for the tenant and
/// server: dynamic registration happens once per tenant and server, and the
/// registration (a secret included) is sealed for the code exchange and the
/// refreshes.
async fn registered(
    manager: &mut AuthorizationManager,
    states: &SealedStates,
    request: &AuthorizationRequest,
) -> Result<RegisteredClient, AuthError> {
    let store = states.store.as_ref();
    let sealing = |e: integrations_core::Error| AuthError::CredentialStoreError(e.to_string());
    let issuer = states.pinned.as_ref().map(|(issuer, _)| issuer.clone());
    if let Some(client) = RegisteredClient::load(store, &states.tenant, &states.server)
        .await
        .map_err(sealing)?
        // Registered at another authorization server: register here.
        .filter(|client| client.issuer.is_none() || client.issuer == issuer)
    {
        return Ok(client);
    }
    let scopes: Vec<&str> = request.scopes.iter().map(String::as_str).collect();
    let name = request.client_name.as_deref().unwrap_or("integrations");
    let config = manager
        .register_client(name, &request.redirect_uri, &scopes)
        .await?;
    let client = RegisteredClient {
        client_id: config.client_id,
        client_secret: config.client_secret.map(SecretString::from),
        issuer,
    };
    client
        .save(store, &states.tenant, &states.server)
        .await
        .map_err(sealing)?;
    Ok(client)
}

/// Completes an authorization the user came back from: takes `code`,
/// `state` and the issuer (RFC 9207) from the callback URL, finds the flow
/// sealed for the tenant under that state (on whichever replica started
/// it, before or after a restart), exchanges the code with its PKCE
/// verifier, and seals the tokens. The state is used once.
pub(crate) async fn complete(
    tokens: &Tokens,
    authorizations: &HashMap<ServerName, McpAuthorization>,
    tenant: &TenantId,
    callback_url: &str,
) -> Result<ServerName, Error> {
    let refused = |why: &str| Error::CallbackRefused {
        message: format!("authorization state refused: {why}"),
    };
    let callback = AuthorizationCallback::from_redirect_url(callback_url).map_err(|e| {
        Error::CallbackRefused {
            message: format!("the callback URL: {e}"),
        }
    })?;
    let record = pending(tokens, tenant, &callback.csrf_token)
        .await
        .map_err(|why| refused(&why))?;
    let meta = |key: &str| record.metadata.get(key).cloned().unwrap_or_default();
    let server =
        ServerName::new(meta(SERVER)).map_err(|_| refused("the flow names no valid server"))?;
    let resource = meta(RESOURCE);
    let Some(McpAuthorization::AuthorizationCode {
        redirect_uri,
        client,
        ..
    }) = authorizations.get(&server)
    else {
        return Err(refused(
            "its server no longer authorises with the code flow",
        ));
    };
    let client_config = (meta(CLIENT_ID), redirect_uri.as_str(), client);
    let client_config = client_config_of(tokens, tenant, &server, client_config)
        .await
        .map_err(|e| refused(&e.to_string()))?;
    let challenge = record.metadata.get(CHALLENGE).cloned();
    let pinned = record
        .metadata
        .get(PINNED_ISSUER)
        .zip(record.metadata.get(PINNED_TOKEN_ENDPOINT))
        .map(|(issuer, endpoint)| (issuer.clone(), endpoint.clone()));
    let states = SealedStates {
        store: Arc::clone(&tokens.store),
        tenant: tenant.clone(),
        server: server.clone(),
        resource: resource.clone(),
        challenge: challenge.clone(),
        client_id: meta(CLIENT_ID),
        pinned: pinned.clone(),
    };
    let sealed = SealedTokens {
        store: Arc::clone(&tokens.store),
        tenant: tenant.clone(),
        connection: token_connection(&server).map_err(|e| failed(&server, e))?,
        resource: resource.clone(),
    };
    off_runtime(Instant::now() + OAUTH_WORK_LIMIT, move || {
        Box::pin(async move {
            let mut manager = AuthorizationManager::new(resource.as_str()).await?;
            let metadata = discover(&manager, &resource, challenge.as_deref()).await?;
            // A server that swapped its metadata since the flow started
            // gets neither the code nor the client's secret.
            if let Some((issuer, token_endpoint)) = &pinned
                && (metadata.issuer.as_deref().unwrap_or_default() != issuer
                    || &metadata.token_endpoint != token_endpoint)
            {
                return Err(AuthError::InternalError(
                    "the authorization server's metadata changed since the authorization started; start it again".into(),
                ));
            }
            manager.set_metadata(metadata);
            manager.set_state_store(states);
            manager.set_credential_store(sealed);
            manager.configure_client(client_config)?;
            // Checks the issuer, consumes the state, exchanges the code
            // and seals the tokens.
            manager
                .exchange_code_for_token_with_issuer(
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

/// The client the flow started as (`client_id`, back to `redirect_uri`),
/// with its secret: the host's pre-registered client's, or the one
/// registered for the tenant.
async fn client_config_of(
    tokens: &Tokens,
    tenant: &TenantId,
    server: &ServerName,
    (client_id, redirect_uri, host_client): (String, &str, &Option<(String, Option<SecretString>)>),
) -> Result<OAuthClientConfig, integrations_core::Error> {
    let registered = RegisteredClient::load(tokens.store.as_ref(), tenant, server)
        .await?
        .filter(|registered| registered.client_id == client_id);
    let secret = match (host_client, registered) {
        (Some((_, Some(secret))), _) => Some(secret.clone()),
        (_, Some(registered)) => registered.client_secret,
        _ => None,
    };
    let config = OAuthClientConfig::new(client_id, redirect_uri.to_owned());
    Ok(match secret {
        Some(secret) => config.with_client_secret(secret.expose_secret()),
        None => config,
    })
}

/// The flow sealed for `tenant` under `state`, unless it is unknown, used
/// or expired (an expired one is deleted); the error says which.
async fn pending(tokens: &Tokens, tenant: &TenantId, state: &str) -> Result<Credentials, String> {
    let unknown = || "unknown to this tenant, or already used".to_owned();
    let pending = super::sealed::state_connection(state).ok_or_else(unknown)?;
    let record = tokens
        .store
        .get(tenant, &pending)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(unknown)?
        .value;
    if record
        .expires_at
        .is_none_or(|until| until <= chrono::Utc::now())
    {
        let _ = tokens.store.delete(tenant, &pending).await;
        return Err("expired".to_owned());
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_up_asks_for_the_granted_scopes_and_the_challenged_ones() {
        let granted = ["mcp:basic".to_owned(), "mcp:write".to_owned()];
        let challenge = r#"Bearer error="insufficient_scope", scope="mcp:write mcp:admin", resource_metadata="https://x/.well-known/oauth-protected-resource""#;
        assert_eq!(
            with_scopes(challenge, &granted),
            r#"Bearer error="insufficient_scope", scope="mcp:basic mcp:write mcp:admin", resource_metadata="https://x/.well-known/oauth-protected-resource""#
        );
        let unscoped = r#"Bearer error="insufficient_scope", xscope="a""#;
        assert_eq!(with_scopes(unscoped, &granted), unscoped);
        assert_eq!(
            with_scopes("Bearer scope=\"a", &granted),
            "Bearer scope=\"a"
        );
    }
    use crate::client::authorization::JwtAlgorithm;
    use rmcp::transport::auth::ClientCredentialsConfig;

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
