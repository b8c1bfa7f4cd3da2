//! The pool's client for the conformance suite's client scenarios:
//! `conformance-client URL` connects over streamable HTTP, lists the tools,
//! and calls each one (`add_numbers` with numbers, the others with `{}`). Its
//! hooks accept form elicitations as a user who changes nothing would: the
//! pool fills in the schema's defaults.

use std::sync::Arc;
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::config::McpProtocol;
use integrations_core::credentials::MemoryStore;
use integrations_core::id::ServerName;
use integrations_mcp::client::{
    ClientHooks, HookCapabilities, HookContext, IdTokenSource, IdentityProvider, JwtAlgorithm,
    McpAuthorization,
};
use integrations_mcp::rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
use integrations_mcp::{Bridge, McpPool, SessionKey};
use serde_json::json;

/// Accepts every form as it comes, defaults and all.
#[derive(Debug)]
struct AcceptDefaults;

#[integrations_core::async_trait]
impl ClientHooks for AcceptDefaults {
    fn capabilities(&self) -> HookCapabilities {
        HookCapabilities::none().elicitation(false)
    }

    async fn elicit(
        &self,
        _context: &HookContext,
        _request: ElicitRequestParams,
    ) -> Result<ElicitResult, integrations_mcp::rmcp::ErrorData> {
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({})))
    }
}

/// The ID token the scenario's identity provider issued, for every tenant.
struct SingleSignOn(secrecy::SecretString);

#[integrations_core::async_trait]
impl IdTokenSource for SingleSignOn {
    async fn id_token(
        &self,
        _tenant: &TenantId,
    ) -> Result<secrecy::SecretString, integrations_core::BoxError> {
        Ok(self.0.clone())
    }
}

/// Follows the authorization URL as a browser would, up to the redirect to
/// the callback, and returns the callback URL.
async fn browse(url: &str) -> Result<String, String> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let answer = browser.get(url).send().await.map_err(|e| e.to_string())?;
    answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| "the authorization server did not redirect".to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: conformance-client URL")?;
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    eprintln!("scenario {scenario}: connecting to {url}");
    // "Clients under test derive the lifecycle from the protocol version"
    // (the suite's README): 2026-07-28 without `initialize`, older with it.
    let protocol = match std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").as_deref() {
        Ok("2026-07-28") => McpProtocol::Modern,
        _ => McpProtocol::Legacy,
    };
    let mut pool = McpPool::builder()
        .server(ServerName::from_static("server"), Bridge::http_entry(url))
        .protocol(protocol)
        .call_timeout(Duration::from_secs(10))
        .hooks(AcceptDefaults);
    // Machine-to-machine scenarios hand the client its credentials.
    let context: serde_json::Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    if let (Some(id_token), Some(client_id)) = (
        context["idp_id_token"].as_str(),
        context["client_id"].as_str(),
    ) {
        // Enterprise-managed: the user's ID token from the enterprise IdP.
        let idp = IdentityProvider::new(
            context["idp_issuer"].as_str().unwrap_or_default(),
            context["idp_token_endpoint"].as_str().unwrap_or_default(),
            context["idp_client_id"].as_str().unwrap_or_default(),
        );
        let secret = context["client_secret"]
            .as_str()
            .map(|s| s.to_owned().into());
        let id_tokens = SingleSignOn(id_token.to_owned().into());
        pool = pool.authorization(
            ServerName::from_static("server"),
            McpAuthorization::enterprise_managed(idp, client_id, secret, id_tokens),
        );
    } else if let Some(client_id) = context["client_id"].as_str() {
        if let Some(secret) = context["client_secret"].as_str() {
            let secret = secret.to_owned().into();
            pool = pool.authorization(
                ServerName::from_static("server"),
                McpAuthorization::client_secret(client_id, secret),
            );
        } else if let Some(pem) = context["private_key_pem"].as_str() {
            let algorithm = match context["signing_algorithm"].as_str() {
                Some("RS256") => JwtAlgorithm::Rs256,
                _ => JwtAlgorithm::Es256,
            };
            let key =
                McpAuthorization::private_key_jwt(client_id, pem.to_owned().into(), algorithm);
            pool = pool.authorization(ServerName::from_static("server"), key);
        }
    } else if scenario.starts_with("auth/") {
        // A person's flow: the client plays the user's browser below.
        pool = pool
            .authorization(
                ServerName::from_static("server"),
                McpAuthorization::authorization_code("http://localhost:3000/callback")
                    .client_name("integrations-conformance")
                    .client_metadata_url("https://conformance-test.local/client-metadata.json"),
            )
            .credential_store(Arc::new(MemoryStore::new()));
    }
    let pool = pool.build();
    let key = SessionKey::new(
        TenantId::new("conformance")?,
        ServerName::from_static("server"),
    );
    let result = async {
        // The user's browser, as often as the pool sends them (a first
        // authorization, then another where the authorization server
        // changed): the authorization server approves at once and
        // redirects to the callback with `code` and `state`.
        let mut tools = pool.list_tools(&key).await;
        for _ in 0..3 {
            let Err(integrations_mcp::Error::AuthorizationRequired { url, .. }) = &tools else {
                break;
            };
            let callback =
                browse(url)
                    .await
                    .map_err(|message| integrations_mcp::Error::Authorization {
                        server: key.server.clone(),
                        message,
                    })?;
            pool.complete_authorization(&key.tenant, &callback).await?;
            tools = pool.list_tools(&key).await;
        }
        let tools = tools?;
        // Scenarios may name the calls to make (`toolCalls`); the schema
        // echo gets the schema of the tool it asks about, as the pool kept it.
        let named: Vec<(String, serde_json::Value)> = context["toolCalls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|call| Some((call["name"].as_str()?.to_owned(), call["arguments"].clone())))
            .collect();
        let schema_of = |name: &str| {
            tools
                .iter()
                .find(|tool| tool.name == name)
                .map(|tool| serde_json::Value::Object((*tool.input_schema).clone()))
        };
        for tool in tools.iter() {
            let arguments = match &*tool.name {
                "add_numbers" => json!({"a": 5, "b": 3}),
                "json_schema_echo" => json!({"schema": schema_of("json_schema_2020_12_tool")}),
                name => named
                    .iter()
                    .find(|(called, _)| called == name)
                    .map_or_else(|| json!({}), |(_, arguments)| arguments.clone()),
            };
            let mut outcome = pool.call_tool(&key, &tool.name, arguments.clone()).await;
            // A step-up: the pool asks the user to approve more scope.
            if let Err(integrations_mcp::Error::AuthorizationRequired { url, .. }) = &outcome
                && let Ok(callback) = browse(url).await
            {
                pool.complete_authorization(&key.tenant, &callback).await?;
                outcome = pool.call_tool(&key, &tool.name, arguments).await;
            }
            eprintln!("{}: {outcome:?}", tool.name);
        }
        Ok::<_, integrations_mcp::Error>(())
    }
    .await;
    pool.shutdown(Duration::from_secs(5)).await;
    result?;
    Ok(())
}
