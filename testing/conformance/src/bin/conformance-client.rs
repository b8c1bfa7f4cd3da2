//! The pool's client for the conformance suite's client scenarios:
//! `conformance-client URL` connects over streamable HTTP, lists the tools,
//! and calls each one a scenario expects (`add_numbers`, `test_*`). Its
//! hooks accept form elicitations as a user who changes nothing would: the
//! pool fills in the schema's defaults.

use std::time::Duration;

use integrations_core::TenantId;
use integrations_mcp::{
    Bridge, ClientHooks, ElicitRequestParams, ElicitResult, ElicitationAction, HookCapabilities,
    HookContext, JwtAlgorithm, McpAuthorization, McpPool, SessionKey,
};
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
    ) -> Result<ElicitResult, integrations_mcp::ErrorData> {
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({})))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: conformance-client URL")?;
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    eprintln!("scenario {scenario}: connecting to {url}");
    let mut pool = McpPool::builder()
        .server("server", Bridge::http_entry(url))
        .call_timeout(Duration::from_secs(10))
        .hooks(AcceptDefaults);
    // Machine-to-machine scenarios hand the client its credentials.
    let context: serde_json::Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    if let Some(client_id) = context["client_id"].as_str() {
        if let Some(secret) = context["client_secret"].as_str() {
            let secret = secret.to_owned().into();
            pool = pool.authorization("server", McpAuthorization::client_secret(client_id, secret));
        } else if let Some(pem) = context["private_key_pem"].as_str() {
            let algorithm = match context["signing_algorithm"].as_str() {
                Some("RS256") => JwtAlgorithm::Rs256,
                _ => JwtAlgorithm::Es256,
            };
            let key =
                McpAuthorization::private_key_jwt(client_id, pem.to_owned().into(), algorithm);
            pool = pool.authorization("server", key);
        }
    }
    let pool = pool.build();
    let key = SessionKey::new(TenantId::new("conformance")?, "server");
    let result = async {
        let tools = pool.list_tools(&key).await?;
        for tool in tools.iter() {
            let arguments = match &*tool.name {
                "add_numbers" => json!({"a": 5, "b": 3}),
                name if name.starts_with("test_") => json!({}),
                _ => continue,
            };
            let outcome = pool.call_tool(&key, &tool.name, arguments).await;
            eprintln!("{}: {outcome:?}", tool.name);
        }
        Ok::<_, integrations_mcp::Error>(())
    }
    .await;
    pool.shutdown(Duration::from_secs(5)).await;
    result?;
    Ok(())
}
