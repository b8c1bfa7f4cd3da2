//! The bridge: a runtime's integrations as MCP tools, over an in-memory
//! stream with a plain rmcp client, and as a real process through the pool.

mod support;

use std::sync::Arc;
use std::time::Duration;

use integrations_core::id::ServerName;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, async_trait,
};
use integrations_mcp::client::ToolResultExt;
use integrations_mcp::{Bridge, ClaudeConfigFile, McpPool, SessionKey, Toolbox};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use support::{DEMO, assert_no_process, tenant};

struct Notes;

#[async_trait]
impl Integration for Notes {
    fn id(&self) -> &str {
        "notes"
    }
    fn name(&self) -> &str {
        "Notes"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("save", "Saves a note").with_parameters(json!({
                "type": "object",
                "properties": {"text": {"type": "string", "maxLength": 20}},
                "required": ["text"]
            })),
        ]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        let text = action.arguments["text"].as_str().unwrap_or_default();
        if text == "fail" {
            return Err("disk full".into());
        }
        Ok(ActionResult::ok(json!({"saved": text})))
    }
}

#[tokio::test]
async fn integrations_are_tools_with_schemas_and_validated_calls() {
    let mut registry = Registry::new();
    registry.register(Arc::new(Notes)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"notes\"]").unwrap();
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let serving = tokio::spawn(Bridge::new(runtime.clone()).serve(server_side));
    let client = ().serve(client_side).await.unwrap();

    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "notes__save");
    assert_eq!(tools[0].input_schema["required"], json!(["text"]));

    let call = |text: serde_json::Value| {
        CallToolRequestParams::new("notes__save")
            .with_arguments(json!({"text": text}).as_object().unwrap().clone())
    };
    let saved = client.call_tool(call(json!("milk"))).await.unwrap();
    assert_eq!(saved.is_error, Some(false));
    assert_eq!(saved.text(), r#"{"saved":"milk"}"#);

    // Invalid arguments are refused before the integration, as a protocol error.
    let refused = client
        .call_tool(call(json!("far too long for the schema")))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("invalid arguments"),
        "{refused}"
    );
    // The integration's own failure is a tool error the agent can read.
    let failed = client.call_tool(call(json!("fail"))).await.unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert!(
        failed.text().contains("failed in handle"),
        "{}",
        failed.text()
    );
    let unknown = client
        .call_tool(CallToolRequestParams::new("notes__burn"))
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("no action `burn`"),
        "{unknown}"
    );

    assert_eq!(
        runtime.health().summary("notes").unwrap().count,
        2,
        "calls that reached the integration"
    );
    client.cancel().await.unwrap();
    serving.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_process_serves_an_agent_through_the_pool_and_its_config_entry() {
    let tag = "bridge-process";
    let entry = Bridge::stdio_entry(DEMO, &["--bridge", "--tag", tag]);
    let file =
        ClaudeConfigFile::write(&[(ServerName::from_static("integrations"), entry.clone())].into())
            .await
            .unwrap();
    let written = std::fs::read_to_string(file.path()).unwrap();
    assert!(written.contains("--bridge"), "{written}");

    let pool = McpPool::builder()
        .server(ServerName::from_static("integrations"), entry)
        .build();
    let toolbox = Toolbox::new(pool.clone(), tenant()).unwrap();
    let names: Vec<String> = toolbox
        .tools()
        .await
        .tools
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        [
            "integrations__calculator__add",
            "integrations__calculator__divide"
        ]
    );
    let sum = toolbox
        .call("integrations__calculator__add", json!({"a": 2, "b": 40}))
        .await
        .unwrap();
    assert_eq!(sum.text(), "42.0");
    let zero = toolbox
        .call("integrations__calculator__divide", json!({"a": 1, "b": 0}))
        .await
        .unwrap();
    assert_eq!(zero.is_error, Some(true));
    assert_eq!(zero.text(), "division by zero");
    let key = SessionKey::new(tenant(), ServerName::from_static("integrations"));
    assert!(
        pool.call_tool(&key, "calculator__add", json!({"a": "x"}))
            .await
            .is_err()
    );
    pool.shutdown(Duration::from_secs(5)).await;
    assert_no_process(tag).await;
}

/// Logs at three levels through the action context.
struct Chatty;

#[async_trait]
impl Integration for Chatty {
    fn id(&self) -> &str {
        "chatty"
    }
    fn name(&self) -> &str {
        "Chatty"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("work", "Works, and says so")]
    }
    fn serves(&self) -> integrations_core::integration::content::Serves {
        integrations_core::integration::content::Serves::nothing().logging()
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        use integrations_core::integration::LogLevel;
        for (level, text) in [
            (LogLevel::Debug, "d"),
            (LogLevel::Info, "i"),
            (LogLevel::Warning, "w"),
        ] {
            action.context().log(level, text).await;
        }
        Ok(ActionResult::ok(json!("done")))
    }
}

/// An MCP client that keeps the log messages it is sent.
#[derive(Clone, Default)]
struct Listener(Arc<std::sync::Mutex<Vec<(String, String)>>>);

#[allow(deprecated)] // MCP logging, deprecated by rmcp for a later protocol
impl rmcp::ClientHandler for Listener {
    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        let message = serde_json::to_value(&params).unwrap();
        self.0.lock().unwrap().push((
            message["level"].as_str().unwrap().to_owned(),
            message["data"].as_str().unwrap().to_owned(),
        ));
    }
}

impl Listener {
    /// Waits for `count` messages (5 s at most) and takes them, sorted.
    async fn take(&self, count: usize) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.0.lock().unwrap().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut taken = std::mem::take(&mut *self.0.lock().unwrap());
        taken.sort();
        taken
    }
}

#[tokio::test]
#[allow(deprecated)] // logging/setLevel, as above
async fn log_messages_reach_the_client_and_follow_its_level() {
    let mut registry = Registry::new();
    registry.register(Arc::new(Chatty)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"chatty\"]").unwrap();
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let serving = tokio::spawn(Bridge::new(runtime.clone()).serve(server_side));
    let listener = Listener::default();
    let client = listener.clone().serve(client_side).await.unwrap();
    let capabilities = serde_json::to_value(&client.peer_info().unwrap().capabilities).unwrap();
    assert_eq!(
        capabilities,
        json!({"logging": {}, "tools": {}}),
        "exactly what the integrations use"
    );

    let call = || client.call_tool(CallToolRequestParams::new("chatty__work"));
    call().await.unwrap();
    let pair = |level: &str, data: &str| (level.to_owned(), data.to_owned());
    assert_eq!(
        listener.take(2).await,
        [pair("info", "i"), pair("warning", "w")],
        "info and up by default"
    );

    client
        .set_level(rmcp::model::SetLevelRequestParams::new(
            rmcp::model::LoggingLevel::Warning,
        ))
        .await
        .unwrap();
    call().await.unwrap();
    assert_eq!(listener.take(1).await, [pair("warning", "w")]);
    client
        .set_level(rmcp::model::SetLevelRequestParams::new(
            rmcp::model::LoggingLevel::Debug,
        ))
        .await
        .unwrap();
    call().await.unwrap();
    assert_eq!(
        listener.take(3).await,
        [pair("debug", "d"), pair("info", "i"), pair("warning", "w")]
    );
    client.cancel().await.unwrap();
    serving.await.unwrap().unwrap();
}

/// Answers with a structured result its capability declares.
struct Weather;

#[async_trait]
impl Integration for Weather {
    fn id(&self) -> &str {
        "weather"
    }
    fn name(&self) -> &str {
        "Weather"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("now", "The weather now").with_output_schema(json!({
                "type": "object",
                "properties": {"celsius": {"type": "number"}},
                "required": ["celsius"]
            })),
        ]
    }
    async fn handle(&self, _action: Action) -> Result<ActionResult, BoxError> {
        Ok(ActionResult::structured(json!({"celsius": 21.5})))
    }
}

#[tokio::test]
async fn a_structured_result_comes_with_its_output_schema_and_as_text() {
    let mut registry = Registry::new();
    registry.register(Arc::new(Weather)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"weather\"]").unwrap();
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let serving = tokio::spawn(Bridge::new(runtime.clone()).serve(server_side));
    let client = ().serve(client_side).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        tools[0].output_schema.as_deref().unwrap()["required"],
        json!(["celsius"])
    );
    let result = client
        .call_tool(CallToolRequestParams::new("weather__now"))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({"celsius": 21.5})));
    assert_eq!(
        result.text(),
        r#"{"celsius":21.5}"#,
        "for clients that read text"
    );
    assert_eq!(result.is_error, Some(false));
    client.cancel().await.unwrap();
    serving.await.unwrap().unwrap();
}
