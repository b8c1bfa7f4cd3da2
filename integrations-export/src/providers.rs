//! The [`Provider`] trait and the values it works with, and the providers
//! this crate ships: Slack (Web API and through an MCP server), Notion,
//! GitHub issues, email over SMTP, a signed webhook and a JSONL audit
//! trail.

/// `fn provider_id()`: the id of one of the crate's providers, made once.
macro_rules! provider_id {
    ($id:literal) => {
        #[doc = concat!("This provider's id, `", $id, "`.")]
        fn provider_id() -> &'static integrations_core::id::ProviderId {
            static ID: std::sync::OnceLock<integrations_core::id::ProviderId> =
                std::sync::OnceLock::new();
            ID.get_or_init(|| integrations_core::id::ProviderId::from_static($id))
        }
    };
}

mod access;
mod audit;
#[cfg(feature = "email")]
mod email;
mod github;
#[cfg(feature = "mcp")]
mod mcp_tool;
mod notion;
mod slack;
mod webhook;

pub use crate::provider::{
    ConnectionCheck, Destination, DestinationPage, ExportContext, ExportResult, PlannedRequest,
    Provider,
};
pub use access::VendorAccess;
pub use audit::AuditProvider;
#[cfg(feature = "email")]
pub use email::{EmailProvider, MAX_RECIPIENTS, SmtpRelay, SmtpTls};
pub use github::GitHubProvider;
#[cfg(feature = "mcp")]
pub use mcp_tool::{
    Continuation, DestinationsTool, McpToolMapping, McpToolProvider, ToolAnswer, ToolContent,
};
pub use notion::{NotionApi, NotionProvider};
pub use slack::SlackProvider;
pub use webhook::WebhookProvider;

use integrations_core::id::ProviderId;
use integrations_vendor::VendorConnection;
use serde_json::{Value, json};

use crate::error::Error;
use crate::markdown::{SlackMessage, SlackOptions, markdown_to_slack_with};
use crate::provider::Content;

/// Documents up to this size are converted on the async worker that
/// exports them; longer ones on tokio's blocking pool.
const CONVERT_INLINE: usize = 16 * 1024;

/// `convert(content)`, on the blocking pool for a long document, so that
/// converting it (linear, but a megabyte is milliseconds) does not hold an
/// async worker and the host's other tasks.
async fn converted<T, F>(provider: &ProviderId, content: &Content, convert: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&Content) -> Result<T, Error> + Send + 'static,
{
    if content.markdown.len() <= CONVERT_INLINE {
        return convert(content);
    }
    let content = content.clone();
    tokio::task::spawn_blocking(move || convert(&content))
        .await
        .unwrap_or_else(|_| {
            Err(Error::Panicked {
                provider: provider.clone(),
            })
        })
}

/// Runs the vendor's connection test as a [`ConnectionCheck`].
async fn check(connection: &VendorConnection) -> Result<ConnectionCheck, Error> {
    let test = connection.test_connection().await;
    match test.error {
        Some(error) => Err(error.into()),
        None => Ok(ConnectionCheck::new(test.identity, test.response_time)),
    }
}

/// Refuses an empty destination.
fn require_destination(provider: &ProviderId, destination: &str, what: &str) -> Result<(), Error> {
    if destination.trim().is_empty() {
        return Err(Error::invalid(
            provider,
            format!("the destination is empty; give {what}"),
        ));
    }
    Ok(())
}

/// The Slack messages of `content` with `options`, title first; refuses
/// empty content.
fn slack_messages(
    provider: &ProviderId,
    content: &Content,
    options: SlackOptions,
) -> Result<Vec<SlackMessage>, Error> {
    let messages = markdown_to_slack_with(&content.titled_markdown(), options);
    if messages.is_empty() {
        return Err(Error::invalid(
            provider,
            "the content is empty; nothing to post",
        ));
    }
    Ok(messages)
}

/// A page of Slack's `conversations.list` as destinations.
fn slack_channels(page: &Value) -> DestinationPage {
    let destinations = page["channels"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|channel| {
            let id = channel["id"].as_str()?;
            let name = channel["name"].as_str().unwrap_or(id);
            Some(Destination::new(id, format!("#{name}"), "channel"))
        })
        .collect();
    let next = page["response_metadata"]["next_cursor"]
        .as_str()
        .map(str::to_owned);
    DestinationPage::new(destinations, next)
}

/// Content as plain JSON, for providers that send it as it is.
fn content_json(content: &Content) -> Value {
    json!({"title": content.title, "markdown": content.markdown, "metadata": content.metadata})
}
