//! An in-memory credential store.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{ConnectionId, CredentialStore, Credentials, TenantId, Versioned};
use crate::Error;

/// Credentials in process memory: for tests, and for hosts that load
/// secrets at start-up and persist nothing. Nothing is encrypted; secrets
/// stay in `secrecy` types and are zeroed when replaced or dropped.
#[derive(Default)]
pub struct MemoryStore {
    rows: Mutex<HashMap<TenantId, BTreeMap<ConnectionId, Versioned<Credentials>>>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("MemoryStore")
            .field("tenants", &rows.len())
            .field(
                "connections",
                &rows.values().map(BTreeMap::len).sum::<usize>(),
            )
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<TenantId, BTreeMap<ConnectionId, Versioned<Credentials>>>>
    {
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
        let mut rows = self.rows();
        let tenant_rows = rows.entry(tenant.clone()).or_default();
        let version = tenant_rows.get(connection).map_or(1, |row| row.version + 1);
        tenant_rows.insert(
            connection.clone(),
            Versioned {
                value: credentials.clone(),
                version,
            },
        );
        Ok(version)
    }

    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, Error> {
        let mut rows = self.rows();
        let Some(row) = rows
            .get_mut(tenant)
            .and_then(|rows| rows.get_mut(connection))
        else {
            return Ok(None);
        };
        if row.version != expected {
            return Ok(None);
        }
        row.version += 1;
        row.value = credentials.clone();
        Ok(Some(row.version))
    }

    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        Ok(self
            .rows()
            .get_mut(tenant)
            .is_some_and(|rows| rows.remove(connection).is_some()))
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, Error> {
        Ok(self
            .rows()
            .get(tenant)
            .map(|rows| rows.keys().cloned().collect())
            .unwrap_or_default())
    }
}
