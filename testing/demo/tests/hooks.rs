//! Client hooks through the pool: the demo server asks the client for
//! elicitation, sampling and roots (on 2025-11-25 as requests of its own, on
//! 2026-07-28 as an `InputRequiredResult` the pool answers and retries);
//! without hooks nothing is declared (but the tasks extension) and nothing
//! answered, with hooks the host answers (accepted forms get the schema's defaults), the
//! capabilities declared follow the hooks, and a tenant's own hooks take
//! precedence over the pool's. Every test runs in both revisions.
#![allow(deprecated)] // sampling and roots: still what 2025-11-25 servers send

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::config::McpProtocol;
use integrations_core::id::ServerName;
use integrations_mcp::client::{ClientHooks, HookCapabilities, HookContext, ToolResultExt};
use integrations_mcp::rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    ElicitationAction, Root,
};
use integrations_mcp::{McpPool, SessionKey};
use rmcp::ErrorData;
use serde_json::{Value, json};
use support::{demo, tenant};

/// A host's hooks: accept forms with a name, answer sampling, list a root;
/// record whose session asked.
#[derive(Debug, Default)]
struct Host {
    name: &'static str,
    asked: Mutex<Vec<(String, String)>>,
}

#[async_trait::async_trait]
impl ClientHooks for Host {
    fn capabilities(&self) -> HookCapabilities {
        HookCapabilities::none()
            .elicitation(false)
            .sampling()
            .roots()
    }

    async fn elicit(
        &self,
        context: &HookContext,
        request: ElicitRequestParams,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked
            .lock()
            .unwrap()
            .push((context.tenant.to_string(), context.server.to_string()));
        assert!(matches!(
            request,
            ElicitRequestParams::FormElicitationParams { .. }
        ));
        // The user typed a name and left the other fields alone.
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({"name": self.name})))
    }

    async fn create_message(
        &self,
        _context: &HookContext,
        request: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        let prompt = serde_json::to_value(&request.messages[0]).unwrap()["content"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let answer = json!({"model": "test-model", "role": "assistant", "content": {"type": "text", "text": format!("answer to {prompt}")}});
        Ok(serde_json::from_value(answer).unwrap())
    }

    async fn roots(&self, _context: &HookContext) -> Result<Vec<Root>, ErrorData> {
        Ok(vec![Root::new("file:///srv/project")])
    }
}

async fn call(pool: &McpPool, key: &SessionKey, tool: &str, arguments: Value) -> Value {
    let result = pool.call_tool(key, tool, arguments).await.unwrap();
    serde_json::from_str(&result.text()).unwrap_or(Value::String(result.text()))
}

const ERAS: [McpProtocol; 2] = [McpProtocol::Legacy, McpProtocol::Modern];

#[tokio::test]
async fn without_hooks_requests_are_declined_and_nothing_is_declared() {
    for protocol in ERAS {
        let pool = McpPool::builder()
            .server(ServerName::from_static("demo"), demo("hooks-none", &[]))
            .protocol(protocol)
            .build();
        let key = SessionKey::new(tenant(), ServerName::from_static("demo"));
        assert_eq!(
            call(&pool, &key, "client_capabilities", json!({})).await,
            json!({"extensions": {"io.modelcontextprotocol/tasks": {}}}),
            "{protocol}: the tasks extension (polled by the pool) and nothing else"
        );
        let asked = call(&pool, &key, "ask", json!({})).await;
        let sampled = call(&pool, &key, "sample", json!({"prompt": "hi"})).await;
        assert!(
            sampled.as_str().unwrap().starts_with("sampling failed"),
            "{protocol}: {sampled}"
        );
        let roots = call(&pool, &key, "roots", json!({})).await;
        if protocol == McpProtocol::Legacy {
            // A 2025-11-25 server asks anyway: the pool declines, lists none.
            assert_eq!(asked["action"], "decline", "{asked}");
            assert_eq!(roots["roots"], json!([]));
        } else {
            // A 2026-07-28 server may ask only for what was declared.
            assert_eq!(
                asked,
                "elicitation failed: the client declared no elicitation"
            );
            assert_eq!(roots, "roots failed: the client declared no roots");
        }
        pool.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn hooks_answer_with_defaults_filled_and_capabilities_declared() {
    for protocol in ERAS {
        hooks_answer(protocol).await;
    }
}

async fn hooks_answer(protocol: McpProtocol) {
    let host = Arc::new(Host {
        name: "Grace",
        ..Host::default()
    });
    let pool = McpPool::builder()
        .server(ServerName::from_static("demo"), demo("hooks-pool", &[]))
        .hooks(HostRef(host.clone()))
        .protocol(protocol)
        .build();
    let key = SessionKey::new(tenant(), ServerName::from_static("demo"));

    let declared = call(&pool, &key, "client_capabilities", json!({})).await;
    assert!(declared["elicitation"]["form"].is_object(), "{declared}");
    assert!(
        declared["elicitation"].get("url").is_none(),
        "only what the hooks answer: {declared}"
    );
    assert!(
        declared["sampling"].is_object() && declared["roots"].is_object(),
        "{declared}"
    );

    let asked = call(&pool, &key, "ask", json!({"message": "Who are you?"})).await;
    assert_eq!(asked["action"], "accept");
    assert_eq!(
        asked["content"],
        json!({"name": "Grace", "count": 3, "confirmed": true}),
        "the user's name, the schema's defaults"
    );
    assert_eq!(
        *host.asked.lock().unwrap(),
        [("tenant-1".to_owned(), "demo".to_owned())]
    );

    if protocol == McpProtocol::Modern {
        // A task's input requests are answered through the same hooks.
        let worked = call(&pool, &key, "long", json!({"ms": 10, "ask": true})).await;
        assert_eq!(worked, "worked 10 ms, as task-1, answered accept");
        assert_eq!(host.asked.lock().unwrap().len(), 2);
    }

    let sampled = call(&pool, &key, "sample", json!({"prompt": "2+2"})).await;
    assert_eq!(sampled["model"], "test-model");
    assert_eq!(sampled["content"]["text"], "answer to 2+2");
    assert_eq!(
        call(&pool, &key, "roots", json!({})).await["roots"][0]["uri"],
        "file:///srv/project"
    );
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_tenants_own_hooks_take_precedence() {
    for protocol in ERAS {
        tenants_own_hooks(protocol).await;
    }
}

async fn tenants_own_hooks(protocol: McpProtocol) {
    let ada = TenantId::new("ada").unwrap();
    let pool = McpPool::builder()
        .server(ServerName::from_static("demo"), demo("hooks-tenant", &[]))
        .protocol(protocol)
        .hooks(Host {
            name: "pool",
            ..Host::default()
        })
        .tenant_hooks(
            ada.clone(),
            Host {
                name: "ada's",
                ..Host::default()
            },
        )
        .build();
    let own = call(
        &pool,
        &SessionKey::new(ada, ServerName::from_static("demo")),
        "ask",
        json!({}),
    )
    .await;
    assert_eq!(own["content"]["name"], "ada's");
    let shared = call(
        &pool,
        &SessionKey::new(tenant(), ServerName::from_static("demo")),
        "ask",
        json!({}),
    )
    .await;
    assert_eq!(shared["content"]["name"], "pool");
    pool.shutdown(Duration::from_secs(5)).await;
}

/// Lends the test the hooks it gave the pool.
#[derive(Debug)]
struct HostRef(Arc<Host>);

#[async_trait::async_trait]
impl ClientHooks for HostRef {
    fn capabilities(&self) -> HookCapabilities {
        self.0.capabilities()
    }
    async fn elicit(
        &self,
        context: &HookContext,
        request: ElicitRequestParams,
    ) -> Result<ElicitResult, ErrorData> {
        self.0.elicit(context, request).await
    }
    async fn create_message(
        &self,
        context: &HookContext,
        request: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.0.create_message(context, request).await
    }
    async fn roots(&self, context: &HookContext) -> Result<Vec<Root>, ErrorData> {
        self.0.roots(context).await
    }
}
