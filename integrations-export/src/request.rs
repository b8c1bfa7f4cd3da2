//! What to export, where, for whom: [`ExportRequest`].

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use integrations_core::TenantId;
use integrations_core::id::ProviderId;

use crate::error::Error;
use crate::provider::{Content, ExportContext};

/// One export to do: whose, through which provider, where, what, and its
/// idempotency key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExportRequest {
    /// The tenant whose credentials are used.
    pub tenant: TenantId,
    /// The provider's id, e.g. `slack`.
    pub provider: ProviderId,
    /// The destination, in the provider's terms (a channel id, a page id,
    /// `owner/repo`, a URL, an event name).
    pub destination: String,
    /// What to export.
    pub content: Content,
    /// The tenant's connection to the provider's vendor; `default` unless
    /// set.
    pub connection: String,
    /// The key that makes the export happen once: a second request with
    /// the same tenant and key is the same export. Generated when not set.
    pub idempotency_key: String,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl ExportRequest {
    /// A request with a generated idempotency key and the `default`
    /// connection.
    pub fn new(
        tenant: TenantId,
        provider: ProviderId,
        destination: impl Into<String>,
        content: Content,
    ) -> Self {
        let key = format!(
            "gen-{}-{}-{}",
            Utc::now().timestamp_micros(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        Self {
            tenant,
            provider,
            destination: destination.into(),
            content,
            connection: "default".into(),
            idempotency_key: key,
        }
    }

    /// Sets the idempotency key, e.g. the id of the deliverable and the
    /// destination, so that asking twice exports once.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = key.into();
        self
    }

    /// Uses the tenant's connection `name` instead of `default`.
    #[must_use]
    pub fn connection(mut self, name: impl Into<String>) -> Self {
        self.connection = name.into();
        self
    }

    pub(crate) fn context(&self) -> ExportContext {
        ExportContext::new(self.tenant.clone())
            .connection(self.connection.clone())
            .idempotency_key(self.idempotency_key.clone())
    }

    /// Checks the key, and that the content (markdown and title) is at most
    /// `max_content` bytes.
    pub(crate) fn check(&self, max_content: usize) -> Result<(), Error> {
        let size = self.content.markdown.len() + self.content.title.as_ref().map_or(0, String::len);
        if size > max_content {
            return Err(Error::invalid(
                &self.provider,
                format!(
                    "the content is {size} bytes; this service takes at most {max_content} \
                     (`ExportService::builder().max_content_bytes(..)`)"
                ),
            ));
        }
        let key = &self.idempotency_key;
        if key.is_empty() || key.len() > 256 || key.chars().any(char::is_control) {
            return Err(Error::invalid(
                &self.provider,
                "the idempotency key must be 1 to 256 bytes without control characters",
            ));
        }
        Ok(())
    }
}
