//! How vendor providers reach each tenant's connection.

use std::sync::Arc;

use integrations_core::credentials::{CredentialStore, TokenManager};
use integrations_vendor::{RetryPolicy, VendorClient, VendorConnection, VendorConnectionBuilder};

use crate::error::Error;
use crate::provider::ExportContext;

/// A vendor provider's way to each tenant's [`VendorConnection`]: one
/// [`VendorClient`] for the vendor (HTTP client, rate limiter, retry
/// policy, token cache), shared by every tenant, and a cheap view of it per
/// export.
///
/// A delivery by the export service's outbox sends each request once: the
/// outbox is its retry loop (honouring `Retry-After`), so a rate-limited
/// export is not sent again by a loop inside each of the outbox's attempts.
#[derive(Debug, Clone)]
pub struct VendorAccess {
    client: VendorClient,
}

impl VendorAccess {
    /// Connections from `template` (vendor, auth, retries, timeouts), with
    /// credentials read from `store` through the client's token cache.
    pub fn new(
        template: VendorConnectionBuilder,
        store: Arc<dyn CredentialStore>,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: template.store(store).client()?,
        })
    }

    /// Connections from `template`, with tokens from `tokens` (needed for
    /// OAuth 2 connections, whose tokens it refreshes).
    pub fn with_token_manager(
        template: VendorConnectionBuilder,
        tokens: TokenManager,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: template.tokens(tokens).client()?,
        })
    }

    /// The vendor's client, shared by every tenant's connection.
    pub fn client(&self) -> &VendorClient {
        &self.client
    }

    /// The vendor's base URL, e.g. `https://slack.com/api`.
    pub(crate) fn base_url(&self) -> &str {
        self.client.vendor().base_url.trim_end_matches('/')
    }

    /// The vendor's id, e.g. `slack`.
    pub(crate) fn vendor(&self) -> &str {
        &self.client.vendor().id
    }

    /// The connection of `context`'s tenant.
    pub(crate) fn connection(&self, context: &ExportContext) -> Result<VendorConnection, Error> {
        let connection = self.client.connection(
            context.tenant.clone(),
            context.connection_id(self.vendor())?,
        );
        Ok(if context.retry_requests {
            connection
        } else {
            connection.with_retry(RetryPolicy::never())
        })
    }
}
