//! How vendor providers reach each tenant's connection.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use integrations_core::credentials::{CredentialStore, TokenManager};
use integrations_core::{ConnectionId, TenantId};
use integrations_vendor::{VendorConnection, VendorConnectionBuilder};

use crate::error::Error;
use crate::provider::ExportContext;

/// A vendor provider's way to each tenant's [`VendorConnection`]: a
/// template builder (vendor, auth, retries, timeouts) finished per tenant
/// with the credentials of its connection.
///
/// Connections are built once per (tenant, connection) and kept, so their
/// HTTP client, rate limiter and OAuth token cache are shared by every
/// export of that connection.
#[derive(Clone)]
pub struct VendorAccess {
    template: VendorConnectionBuilder,
    store: Option<Arc<dyn CredentialStore>>,
    tokens: Option<TokenManager>,
    connections: Arc<Mutex<HashMap<(TenantId, ConnectionId), VendorConnection>>>,
}

impl fmt::Debug for VendorAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorAccess")
            .field("vendor", &self.template.vendor().id)
            .field("base_url", &self.template.vendor().base_url)
            .finish_non_exhaustive()
    }
}

impl VendorAccess {
    /// Connections from `template`, with credentials read from `store`.
    pub fn new(template: VendorConnectionBuilder, store: Arc<dyn CredentialStore>) -> Self {
        Self {
            template,
            store: Some(store),
            tokens: None,
            connections: Arc::default(),
        }
    }

    /// Connections from `template`, with tokens from `tokens` (needed for
    /// OAuth 2 connections, whose tokens it refreshes).
    pub fn with_token_manager(template: VendorConnectionBuilder, tokens: TokenManager) -> Self {
        Self {
            template,
            store: None,
            tokens: Some(tokens),
            connections: Arc::default(),
        }
    }

    /// The vendor's base URL, e.g. `https://slack.com/api`.
    pub(crate) fn base_url(&self) -> &str {
        self.template.vendor().base_url.trim_end_matches('/')
    }

    /// The vendor's id, e.g. `slack`.
    pub(crate) fn vendor(&self) -> &str {
        &self.template.vendor().id
    }

    /// The connection of `context`'s tenant.
    pub(crate) fn connection(&self, context: &ExportContext) -> Result<VendorConnection, Error> {
        let key = (
            context.tenant.clone(),
            context.connection_id(self.vendor())?,
        );
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(connection) = connections.get(&key) {
            return Ok(connection.clone());
        }
        let (tenant, id) = key.clone();
        let builder = match (&self.tokens, &self.store) {
            (Some(tokens), _) => self
                .template
                .clone()
                .token_manager(tokens.clone(), tenant, id),
            (None, Some(store)) => self
                .template
                .clone()
                .credentials(Arc::clone(store), tenant, id),
            (None, None) => self.template.clone(),
        };
        let connection = builder.build()?;
        connections.insert(key, connection.clone());
        Ok(connection)
    }
}
