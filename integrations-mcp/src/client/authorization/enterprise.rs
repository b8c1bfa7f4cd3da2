//! Enterprise-managed authorization: an ID token from the tenant's identity
//! provider exchanged for an ID-JAG, exchanged for the server's token.

use rmcp::transport::auth::AuthorizationManager;
use secrecy::{ExposeSecret, SecretString};

use super::IdentityProvider;

/// The two exchanges of enterprise-managed authorization, with the server's
/// authorization server discovered from its URL.
pub(super) async fn enterprise_token(
    url: String,
    idp: IdentityProvider,
    (client_id, client_secret): (String, Option<SecretString>),
    id_token: SecretString,
    scopes: Vec<String>,
) -> Result<SecretString, String> {
    use rmcp::transport::auth::enterprise::{
        EmaAuthorizationServer, EmaClientAuthentication, EmaExchangeRequest,
    };
    let authentication = |secret: Option<SecretString>| {
        secret.map_or(EmaClientAuthentication::None, |secret| {
            EmaClientAuthentication::ClientSecretBasic(oauth2::ClientSecret::new(
                secret.expose_secret().to_owned(),
            ))
        })
    };
    let manager = AuthorizationManager::new(url.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let metadata = manager
        .resolve_metadata()
        .await
        .map_err(|e| e.to_string())?
        .metadata;
    let issuer = metadata
        .issuer
        .ok_or("the authorization server's metadata names no issuer")?;
    let identity = EmaAuthorizationServer::new(idp.issuer, idp.token_endpoint, idp.client_id)
        .with_client_authentication(authentication(idp.client_secret));
    let resource = EmaAuthorizationServer::new(issuer, metadata.token_endpoint, client_id)
        .with_client_authentication(authentication(client_secret));
    let http = crate::client::http::GuardedOAuth::for_server(&url)?;
    let token =
        EmaExchangeRequest::new_with_id_token(identity, resource, &url, id_token.expose_secret())
            .with_scopes(scopes)
            .exchange(&http, &http)
            .await
            .map_err(|e| e.to_string())?;
    Ok(SecretString::from(token.access_token.secret().to_owned()))
}
