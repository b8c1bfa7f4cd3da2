//! The providers this crate ships: Slack (Web API and through an MCP
//! server), Notion, GitHub issues, a signed webhook and a JSONL audit trail.

mod access;
mod audit;
mod github;
mod notion;
mod slack;
#[cfg(feature = "mcp")]
mod slack_mcp;
mod webhook;

pub use access::VendorAccess;
pub use audit::AuditProvider;
pub use github::GitHubProvider;
pub use notion::NotionProvider;
pub use slack::SlackProvider;
#[cfg(feature = "mcp")]
pub use slack_mcp::{McpSlackProvider, SlackToolMapping};
pub use webhook::WebhookProvider;

use integrations_vendor::VendorConnection;

use crate::{ConnectionCheck, Error};

/// Runs the vendor's connection test as a [`ConnectionCheck`].
async fn check(connection: &VendorConnection) -> Result<ConnectionCheck, Error> {
    let test = connection.test_connection().await;
    match test.error {
        Some(error) => Err(error.into()),
        None => Ok(ConnectionCheck::new(test.identity, test.response_time)),
    }
}

/// Refuses an empty destination.
fn require_destination(provider: &str, destination: &str, what: &str) -> Result<(), Error> {
    if destination.trim().is_empty() {
        return Err(Error::invalid(
            provider,
            format!("the destination is empty; give {what}"),
        ));
    }
    Ok(())
}
