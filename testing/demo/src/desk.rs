//! The desk integration and the demo's `--desk-http` mode: one bridge
//! replica over streamable HTTP, for tests that run several of them as
//! processes behind a load balancer.

use std::sync::Arc;
use std::time::Duration;

use integrations_core::integration::content::Serves;
use integrations_core::integration::{Elicitation, LogLevel, Questions, SamplingRequest};
use integrations_core::{Action, ActionResult, BoxError, Capability, Integration};
use serde_json::json;

/// A desk: `ping`; `confirm`, which asks the user two questions, one after
/// the other; `survey`, which asks the user, the model and the roots at
/// once; `noisy`, which logs at debug and at info; `chatty`, which logs
/// `line 0` to `line 19` at info, one after another; `report`, a long action
/// that asks which period and then takes 300 ms; `export`, the same,
/// but its question goes by rounds before it becomes a task (at once when
/// `quick`, so it never does); `archive`, which runs only as a task.
///
/// With a run log, `survey` and `report` append their name to it each time
/// they run, so a test can count runs across processes.
#[derive(Debug, Default, Clone)]
pub struct Desk {
    runs: Option<std::path::PathBuf>,
}

impl Desk {
    /// A desk that appends the name of each `survey`, `report` and
    /// `export` run to the file at `path`.
    pub fn logging_runs_to(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            runs: Some(path.into()),
        }
    }

    async fn ran(&self, name: &str) {
        use tokio::io::AsyncWriteExt;
        let Some(path) = &self.runs else { return };
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .await;
        if let Ok(mut file) = file {
            // tokio writes in the background: the flush waits for it, so
            // a test reading the log after the call finds the line.
            let _ = file.write_all(format!("{name}\n").as_bytes()).await;
            let _ = file.flush().await;
        }
    }
}

fn question(text: &str) -> Elicitation {
    Elicitation::Form {
        message: text.into(),
        schema: json!({"type": "object", "properties": {"answer": {"type": "string"}}}),
    }
}

#[integrations_core::async_trait]
impl Integration for Desk {
    fn id(&self) -> &str {
        "desk"
    }
    fn name(&self) -> &str {
        "Desk"
    }
    fn serves(&self) -> Serves {
        Serves::nothing().logging()
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("ping", "Answers pong"),
            Capability::new("confirm", "Asks the user twice"),
            Capability::new("survey", "Asks the user, the model and the roots at once"),
            Capability::new("noisy", "Logs at info and at debug"),
            Capability::new("chatty", "Logs twenty lines at info"),
            Capability::new("report", "Asks which period, then takes a while").long_running(),
            Capability::new("export", "Asks which period, then exports it")
                .long_running()
                .input_first(),
            Capability::new("archive", "Archives everything, as a task only").task_only(),
        ]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        let context = action.context();
        match action.name.as_str() {
            "ping" => Ok(ActionResult::ok(json!("pong"))),
            "report" | "export" => {
                self.ran(&action.name).await;
                let period = context.elicit(question("Which period?")).await?;
                let period = period.content.unwrap_or_default()["answer"].clone();
                context.progress(1.0, Some(2.0), Some("halfway")).await;
                if action.arguments["quick"] != json!(true) {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let period = period.as_str().unwrap_or_default().to_owned();
                Ok(ActionResult::ok(json!(format!("report for {period}"))))
            }
            "archive" => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(ActionResult::ok(json!("archived")))
            }
            "chatty" => {
                for line in 0..20 {
                    context.log(LogLevel::Info, format!("line {line}")).await;
                }
                Ok(ActionResult::ok(json!("said it all")))
            }
            "noisy" => {
                context.log(LogLevel::Debug, "details").await;
                context.log(LogLevel::Info, "working").await;
                Ok(ActionResult::ok(json!("done")))
            }
            "survey" => {
                self.ran("survey").await;
                let questions = Questions::new()
                    .elicit("user_name", question("Who?"))
                    .sample("greeting", SamplingRequest::new("Say hello", 20))
                    .roots("client_roots");
                let answers = context.ask(questions).await?;
                let name = answers
                    .elicitation("user_name")
                    .and_then(|answer| answer.content.clone())
                    .unwrap_or_default();
                let greeting = answers.sampling("greeting").map(|s| s.text.clone());
                let roots = answers.roots("client_roots").unwrap_or_default();
                Ok(ActionResult::ok(json!({
                    "name": name["answer"],
                    "greeting": greeting,
                    "roots": roots.iter().map(|root| root.uri.clone()).collect::<Vec<_>>(),
                })))
            }
            _ => {
                let mut answers = Vec::new();
                for text in ["Who?", "How many?"] {
                    let answer = context.elicit(question(text)).await?;
                    answers.push(answer.content.unwrap_or_default()["answer"].clone());
                }
                Ok(ActionResult::ok(json!(answers)))
            }
        }
    }
}

/// 64 hex digits as 32 bytes.
fn key_from_hex(hex: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(key)
}

/// `--desk-http`: serves a runtime with the desk through the bridge over
/// streamable HTTP on a free loopback port, printing `http://ADDR/mcp` as
/// the first line of stdout, until stdin closes (the parent left) or the
/// process is killed. `BRIDGE_STATE_KEY` (64 hex digits) seals
/// `requestState`; without it the bridge draws a key of its own. A
/// `replica` name starts the ids of its tasks.
pub(super) async fn serve_http(
    runs: Option<String>,
    replica: Option<integrations_core::id::ServerName>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use tokio::io::AsyncReadExt;
    let desk = runs.map_or_else(Desk::default, Desk::logging_runs_to);
    let mut registry = integrations_core::Registry::new();
    registry.register(Arc::new(desk))?;
    let config = integrations_core::Config::from_toml_str("[integrations]\nenabled = [\"desk\"]")?;
    let runtime = Arc::new(
        integrations_core::Runtime::builder(registry)
            .start(&config)
            .await,
    );
    let mut bridge = integrations_mcp::Bridge::new(Arc::clone(&runtime));
    if let Some(replica) = replica {
        bridge = bridge.replica(replica);
    }
    if let Ok(hex) = std::env::var("BRIDGE_STATE_KEY") {
        let key = key_from_hex(&hex).ok_or("BRIDGE_STATE_KEY must be 64 hex digits")?;
        bridge = bridge.request_state_key(&secrecy::SecretBox::new(Box::new(key)));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}/mcp", listener.local_addr()?);
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(bridge.serve_http(listener, stop.clone()));
    // Reads until the parent closes stdin (or dies).
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    stop.cancel();
    let _ = serving.await;
    runtime.shutdown(Duration::from_secs(2)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::key_from_hex;

    #[test]
    fn keys_are_64_hex_digits() {
        let key = key_from_hex(&"0a".repeat(32)).unwrap();
        assert_eq!(key, [10u8; 32]);
        for bad in [
            "",
            "0a",
            &"zz".repeat(32),
            &"é".repeat(32),
            &"0a".repeat(33),
        ] {
            assert!(key_from_hex(bad).is_none(), "{bad}");
        }
    }
}
