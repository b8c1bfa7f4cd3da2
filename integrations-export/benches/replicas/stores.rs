//! Stores the replicas bench wraps PostgreSQL's in: one counting the
//! credential store calls, one hiding the outbox's enqueue notifications
//! (the polling version); and a count of the SQL statements the credential
//! store ran (its `trace` event per statement).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use integrations_core::credentials::{
    CredentialStore, Credentials, PgStore, RefreshLease, Versioned,
};
use integrations_core::{ConnectionId, TenantId};
use integrations_export::store::{
    Claimed, ExportId, ExportPreference, ExportRecord, ExportStore, Outcome, PgExportStore,
};
use integrations_export::{Error, ExportRequest};

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// Counts the `PgStore` statements from now on, by their trace events
/// (nothing else is traced).
pub(crate) fn count_statements() {
    use tracing_subscriber::layer::SubscriberExt;
    struct Statements;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
        fn register_callsite(
            &self,
            metadata: &'static tracing::Metadata<'static>,
        ) -> tracing::subscriber::Interest {
            if metadata.is_event() && metadata.target().starts_with(STORE) {
                tracing::subscriber::Interest::always()
            } else {
                tracing::subscriber::Interest::never()
            }
        }

        fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }
    }
    const STORE: &str = "integrations_core::credentials::postgres::batch";
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Statements))
        .expect("no other subscriber");
}

/// The statements counted so far.
pub(crate) fn statements() -> usize {
    STATEMENTS.load(Ordering::Relaxed)
}

/// A store that counts the calls the managers make.
#[derive(Debug)]
pub(crate) struct Counted {
    pub(crate) store: PgStore,
    pub(crate) queries: Arc<AtomicUsize>,
    /// Whether PostgreSQL's change notifications are passed on; without
    /// them the managers poll, as before issue 21.6.
    pub(crate) notifies: bool,
}

#[async_trait::async_trait]
impl CredentialStore for Counted {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, integrations_core::Error> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.store.get(tenant, connection).await
    }

    async fn get_for_refresh(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        lease: &RefreshLease,
        due: DateTime<Utc>,
    ) -> Result<Option<Versioned<Credentials>>, integrations_core::Error> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.store
            .get_for_refresh(tenant, connection, lease, due)
            .await
    }

    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, integrations_core::Error> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.store.put(tenant, connection, credentials).await
    }

    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, integrations_core::Error> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.store
            .compare_and_swap(tenant, connection, expected, credentials)
            .await
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<bool, integrations_core::Error> {
        self.store.delete(tenant, connection).await
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, integrations_core::Error> {
        self.store.list(tenant).await
    }

    async fn changes(
        &self,
    ) -> Result<
        Option<futures_util::stream::BoxStream<'static, integrations_core::credentials::Change>>,
        integrations_core::Error,
    > {
        if !self.notifies {
            return Ok(None);
        }
        self.store.changes().await
    }
}

/// The outbox on PostgreSQL without its enqueue notifications: workers
/// find new exports by polling, as before issue 21.6.
#[derive(Debug)]
pub(crate) struct Polling(pub(crate) PgExportStore);

#[async_trait::async_trait]
impl ExportStore for Polling {
    async fn enqueue(&self, request: &ExportRequest) -> Result<(ExportId, bool), Error> {
        self.0.enqueue(request).await
    }

    async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        owner: &str,
    ) -> Result<Vec<Claimed>, Error> {
        self.0.claim(limit, lease, owner).await
    }

    async fn claim_id(
        &self,
        id: ExportId,
        lease: Duration,
        owner: &str,
    ) -> Result<Option<Claimed>, Error> {
        self.0.claim_id(id, lease, owner).await
    }

    async fn renew(
        &self,
        id: ExportId,
        attempt: u32,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, Error> {
        self.0.renew(id, attempt, owner, lease).await
    }

    async fn reclaim(&self, owner: &str, lease: Duration) -> Result<Vec<Claimed>, Error> {
        self.0.reclaim(owner, lease).await
    }

    async fn finish(&self, id: ExportId, attempt: u32, outcome: &Outcome) -> Result<bool, Error> {
        self.0.finish(id, attempt, outcome).await
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> Result<Option<ExportRecord>, Error> {
        self.0.get(tenant, key).await
    }

    async fn log(&self, tenant: &TenantId, limit: usize) -> Result<Vec<ExportRecord>, Error> {
        self.0.log(tenant, limit).await
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, Error> {
        self.0.next_due().await
    }

    async fn set_preference(
        &self,
        tenant: &TenantId,
        preference: &ExportPreference,
    ) -> Result<(), Error> {
        self.0.set_preference(tenant, preference).await
    }

    async fn preferences(
        &self,
        tenant: &TenantId,
        deliverable: &str,
    ) -> Result<Vec<ExportPreference>, Error> {
        self.0.preferences(tenant, deliverable).await
    }
}
