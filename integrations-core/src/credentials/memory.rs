//! An in-memory credential store.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{CredentialStore, Credentials, Versioned};
use crate::error::Error;
use crate::id::{ConnectionId, TenantId};

/// Credentials in process memory: for tests, and for hosts that load
/// secrets at start-up and persist nothing. Nothing is encrypted; secrets
/// stay in `secrecy` types and are zeroed when replaced or dropped.
#[derive(Default)]
pub struct MemoryStore {
    rows: Mutex<Rows>,
}

#[derive(Default)]
struct Rows {
    by_tenant: HashMap<TenantId, BTreeMap<ConnectionId, Versioned<Credentials>>>,
    /// The last version handed out, store-wide: versions never repeat, even
    /// for a connection deleted and put again.
    last_version: u64,
}

impl Rows {
    /// Stores `credentials` under the next store-wide version.
    fn write(
        &mut self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> u64 {
        self.last_version += 1;
        let version = self.last_version;
        self.by_tenant.entry(tenant.clone()).or_default().insert(
            connection.clone(),
            Versioned {
                value: credentials.clone(),
                version,
            },
        );
        version
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.rows();
        f.debug_struct("MemoryStore")
            .field("tenants", &rows.by_tenant.len())
            .field(
                "connections",
                &rows.by_tenant.values().map(BTreeMap::len).sum::<usize>(),
            )
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        Ok(self
            .rows()
            .by_tenant
            .get(tenant)
            .and_then(|rows| rows.get(connection))
            .cloned())
    }

    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, Error> {
        Ok(self.rows().write(tenant, connection, credentials))
    }

    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, Error> {
        let mut rows = self.rows();
        let current = rows
            .by_tenant
            .get(tenant)
            .and_then(|rows| rows.get(connection))
            .map(|row| row.version);
        if current != Some(expected) {
            return Ok(None);
        }
        Ok(Some(rows.write(tenant, connection, credentials)))
    }

    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        Ok(self
            .rows()
            .by_tenant
            .get_mut(tenant)
            .is_some_and(|rows| rows.remove(connection).is_some()))
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, Error> {
        Ok(self
            .rows()
            .by_tenant
            .get(tenant)
            .map(|rows| rows.keys().cloned().collect())
            .unwrap_or_default())
    }
}
