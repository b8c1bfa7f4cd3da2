//! The `Provider` trait and the values it works with.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use integrations_core::id::ProviderId;
use integrations_core::{ConnectionId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// What to export: markdown, with an optional title and free-form metadata
/// (a deliverable's id, its author, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Content {
    /// The body, as GitHub-flavoured markdown.
    pub markdown: String,
    /// The title: a Slack header, the Notion page's title, the GitHub
    /// issue's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Metadata: kept in the export log and the audit trail, sent with
    /// webhooks, and read by providers that use it (GitHub's `labels`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl Content {
    /// Content of `markdown`, without a title or metadata.
    pub fn new(markdown: impl Into<String>) -> Self {
        Self {
            markdown: markdown.into(),
            title: None,
            metadata: Map::new(),
        }
    }

    /// Sets the title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The markdown with the title as a first-level heading, for providers
    /// with no title of their own; unchanged when the markdown already opens
    /// with that heading.
    pub(crate) fn titled_markdown(&self) -> std::borrow::Cow<'_, str> {
        let opens_with_title = |title: &str| {
            self.markdown
                .trim_start()
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("# "))
                .is_some_and(|heading| heading.trim() == title.trim())
        };
        match &self.title {
            Some(title) if !opens_with_title(title) => {
                format!("# {title}\n\n{}", self.markdown).into()
            }
            _ => self.markdown.as_str().into(),
        }
    }
}

/// Whom an export is for and how it is sent: the tenant, which of its
/// connections holds the credentials, and the idempotency key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExportContext {
    /// The tenant whose credentials are used.
    pub tenant: TenantId,
    /// The name of the tenant's connection to the provider's vendor, e.g.
    /// `default` for `slack/default`.
    pub connection: String,
    /// The export's idempotency key, sent where the vendor takes one.
    pub idempotency_key: Option<String>,
    /// Set when an earlier attempt of this export may have reached the
    /// vendor (the process died while sending): when it began. A provider
    /// that can look for what it sent then does so, instead of sending
    /// it twice.
    pub resumed_since: Option<DateTime<Utc>>,
    /// Whether the provider's requests may be retried on their own (true by
    /// default). The outbox's workers set it to false: they retry the whole
    /// export, with backoff and `Retry-After`, so a request is not retried
    /// inside each of their attempts too.
    pub retry_requests: bool,
}

impl ExportContext {
    /// The context of `tenant`'s connection named `default`.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            connection: "default".to_owned(),
            idempotency_key: None,
            resumed_since: None,
            retry_requests: true,
        }
    }

    /// Uses the tenant's connection `name` instead of `default`.
    #[must_use]
    pub fn connection(mut self, name: impl Into<String>) -> Self {
        self.connection = name.into();
        self
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The id of this context's connection to `vendor`, e.g. `slack/default`.
    pub fn connection_id(&self, vendor: &str) -> Result<ConnectionId, Error> {
        Ok(ConnectionId::new(vendor, &self.connection)?)
    }
}

/// Somewhere content can go: a Slack channel, a Notion page or database, a
/// GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Destination {
    /// The id to export to, e.g. `C024BE91L` or `octocat/hello-world`.
    pub id: String,
    /// A name to show, e.g. `#general`.
    pub name: String,
    /// What it is: `channel`, `page`, `database`, `repository`, `file`, `url`.
    pub kind: String,
}

impl Destination {
    /// A destination.
    pub fn new(id: impl Into<String>, name: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
        }
    }
}

/// One page of destinations; pass `next_cursor` back for the next.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DestinationPage {
    /// The destinations on this page.
    pub destinations: Vec<Destination>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

impl DestinationPage {
    /// A page.
    pub fn new(destinations: Vec<Destination>, next_cursor: Option<String>) -> Self {
        Self {
            destinations,
            next_cursor: next_cursor.filter(|cursor| !cursor.is_empty()),
        }
    }
}

/// Where an export went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExportResult {
    /// The provider that exported it.
    pub provider: ProviderId,
    /// The vendor's id of what was created: a message `ts`, a page id, an
    /// issue number.
    pub external_id: Option<String>,
    /// A link a person can open.
    pub external_url: Option<String>,
    /// How many requests it took (Slack messages in the thread, Notion
    /// batches, ...).
    pub requests: usize,
}

impl ExportResult {
    /// A result of `provider`.
    pub fn new(provider: ProviderId) -> Self {
        Self {
            provider,
            external_id: None,
            external_url: None,
            requests: 1,
        }
    }

    /// Sets the external id.
    #[must_use]
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets the external URL.
    #[must_use]
    pub fn external_url(mut self, url: impl Into<String>) -> Self {
        self.external_url = Some(url.into());
        self
    }

    /// Sets how many requests it took.
    #[must_use]
    pub fn requests(mut self, requests: usize) -> Self {
        self.requests = requests;
        self
    }
}

/// A request a provider would send, from [`Provider::plan`]: a dry run.
///
/// Values known only once an earlier request is answered are written as
/// `{{placeholders}}`, e.g. `{{ts of request 1}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlannedRequest {
    /// `POST`, `PATCH`, or `tools/call` for MCP.
    pub method: String,
    /// The URL, the file, or `server/tool` for MCP.
    pub target: String,
    /// The body.
    pub body: Value,
}

impl PlannedRequest {
    /// A planned request.
    pub fn new(method: impl Into<String>, target: impl Into<String>, body: Value) -> Self {
        Self {
            method: method.into(),
            target: target.into(),
            body,
        }
    }
}

/// What [`Provider::validate_connection`] found: who the credentials are
/// and how long the check took.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionCheck {
    /// The account, bot or workspace, when the vendor says.
    pub identity: Option<String>,
    /// How long the check took.
    pub response_time: Duration,
}

impl ConnectionCheck {
    pub(crate) fn new(identity: Option<String>, response_time: Duration) -> Self {
        Self {
            identity,
            response_time,
        }
    }
}

/// Somewhere content is exported to: Slack, Notion, GitHub issues, a
/// webhook, an audit file, or a host's own.
///
/// A provider serves every tenant: each call names the tenant and its
/// connection in an [`ExportContext`], and the provider reads that
/// tenant's credentials.
#[async_trait]
pub trait Provider: Send + Sync + fmt::Debug + 'static {
    /// The provider's id, e.g. `slack`; [`ExportRequest`](crate::ExportRequest)s
    /// name it.
    fn id(&self) -> &ProviderId;

    /// One page of the places the tenant can export to; `cursor` is the
    /// previous page's [`next_cursor`](DestinationPage::next_cursor).
    async fn list_destinations(
        &self,
        context: &ExportContext,
        cursor: Option<&str>,
    ) -> Result<DestinationPage, Error>;

    /// Checks that the tenant's connection works.
    async fn validate_connection(&self, context: &ExportContext) -> Result<ConnectionCheck, Error>;

    /// The content in the provider's own format (Block Kit messages,
    /// Notion blocks, an issue body, an audit line).
    fn format_content(&self, content: &Content) -> Result<Value, Error>;

    /// The requests [`export`](Self::export) would send, without sending
    /// them.
    fn plan(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error>;

    /// Exports `content` to `destination`.
    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error>;
}

#[cfg(test)]
mod tests {
    use super::Content;

    /// A user's trial: a document opening with the same `# H1` as its title
    /// got two identical Slack headers.
    #[test]
    fn a_title_the_document_already_opens_with_is_not_repeated() {
        let content = Content::new("# Weekly report\n\nAll good.").title("Weekly report");
        assert_eq!(content.titled_markdown(), "# Weekly report\n\nAll good.");
        let content = Content::new("# Details\n\nAll good.").title("Weekly report");
        assert_eq!(
            content.titled_markdown(),
            "# Weekly report\n\n# Details\n\nAll good."
        );
        assert_eq!(Content::new("text").titled_markdown(), "text");
    }
}
