use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::credentials::{Credentials, MemoryStore, RefreshLease};

#[derive(Debug, Default)]
struct Counting(AtomicUsize);

#[async_trait]
impl TokenRefresher for Counting {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(TokenResponse::new("fresh").with_expires_in(Duration::from_secs(3600)))
    }
}

#[tokio::test]
async fn a_lease_left_by_a_dead_process_expires_and_the_refresh_goes_ahead() {
    let store = Arc::new(MemoryStore::new());
    let tenant = TenantId::new("t").unwrap();
    let connection = ConnectionId::new("provider", "c").unwrap();
    let mut expired = Credentials::oauth2(
        "old",
        Some("refresh".into()),
        Some(Utc::now() - chrono::Duration::minutes(1)),
    );
    expired.refresh_lease = Some(RefreshLease::new(
        "a process that died mid-refresh",
        Utc::now() + chrono::Duration::milliseconds(300),
    ));
    store.put(&tenant, &connection, &expired).await.unwrap();
    let refresher = Arc::new(Counting::default());
    let manager = TokenManager::builder(store.clone(), refresher.clone())
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();

    let token = manager.access_token(&tenant, &connection).await.unwrap();
    assert_eq!(token.expose_secret(), "fresh");
    assert_eq!(
        refresher.0.load(Ordering::SeqCst),
        1,
        "refreshed once the lease ran out"
    );
    let stored = store
        .get(&tenant, &connection)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(
        stored.refresh_lease.is_none(),
        "the new row carries no lease"
    );
}

/// A `MemoryStore` with quirks: change notifications that take `listen`
/// to start (a database slow to open the listener's connection; `None`:
/// the store has none), or that `panics` when asked for them; and reads
/// for refresh that never lease (`reads_lease` off: a host's store that
/// overrides `get_for_refresh` with a plain read), counted.
#[derive(Debug)]
struct Quirky {
    store: MemoryStore,
    listen: Option<Duration>,
    panics: bool,
    listened: AtomicUsize,
    reads_lease: bool,
    reads_for_refresh: AtomicUsize,
}

impl Quirky {
    fn slow_to_listen(connect: Duration) -> Self {
        Self {
            store: MemoryStore::new(),
            listen: Some(connect),
            panics: false,
            listened: AtomicUsize::new(0),
            reads_lease: true,
            reads_for_refresh: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl CredentialStore for Quirky {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<crate::credentials::Versioned<Credentials>>, Error> {
        self.store.get(tenant, connection).await
    }
    async fn get_for_refresh(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        lease: &RefreshLease,
        due: chrono::DateTime<Utc>,
    ) -> Result<Option<crate::credentials::Versioned<Credentials>>, Error> {
        self.reads_for_refresh.fetch_add(1, Ordering::SeqCst);
        // As a database's would: a manager reading in a loop is cut off by
        // a timeout rather than hanging the test.
        tokio::task::yield_now().await;
        if self.reads_lease {
            self.store
                .get_for_refresh(tenant, connection, lease, due)
                .await
        } else {
            self.store.get(tenant, connection).await
        }
    }
    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, Error> {
        self.store.put(tenant, connection, credentials).await
    }
    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        version: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, Error> {
        self.store
            .compare_and_swap(tenant, connection, version, credentials)
            .await
    }
    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        self.store.delete(tenant, connection).await
    }
    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, Error> {
        self.store.list(tenant).await
    }
    async fn changes(
        &self,
    ) -> Result<Option<futures_util::stream::BoxStream<'static, crate::credentials::Change>>, Error>
    {
        let Some(connect) = self.listen else {
            return Ok(None);
        };
        tokio::time::sleep(connect).await;
        assert!(!self.panics, "a store's bug");
        self.listened.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Box::pin(futures_util::stream::pending())))
    }
}

#[tokio::test(start_paused = true)]
async fn reads_do_not_wait_for_the_listener_to_connect() {
    let store = Arc::new(Quirky::slow_to_listen(Duration::from_secs(30)));
    let tenant = TenantId::new("t").unwrap();
    let connection = ConnectionId::new("provider", "c").unwrap();
    let fresh = Credentials::oauth2("fresh", None, Some(Utc::now() + chrono::Duration::hours(1)));
    store.put(&tenant, &connection, &fresh).await.unwrap();
    let manager = TokenManager::builder(store.clone(), Arc::new(Counting::default()))
        .build()
        .unwrap();

    let read = tokio::time::timeout(
        Duration::from_secs(1),
        manager.access_token(&tenant, &connection),
    )
    .await
    .expect("the first read does not wait for the listener's connection");
    assert_eq!(read.unwrap().expose_secret(), "fresh");
    use futures_util::FutureExt;
    assert!(
        manager.listen().now_or_never().is_none(),
        "still connecting"
    );
    assert!(manager.listen().await, "listens once the store answers");
    assert_eq!(store.listened.load(Ordering::SeqCst), 1, "one listener");
    manager.close().await;
}

#[tokio::test]
async fn a_store_that_panics_when_asked_for_its_changes_leaves_the_manager_polling() {
    let store = Quirky {
        panics: true,
        ..Quirky::slow_to_listen(Duration::ZERO)
    };
    let manager = TokenManager::builder(Arc::new(store), Arc::new(Counting::default()))
        .build()
        .unwrap();
    let listened = tokio::time::timeout(Duration::from_secs(5), manager.listen()).await;
    assert_eq!(listened.ok(), Some(false), "answers, and says it polls");
}

/// Review item 4: the per-connection lock map was never pruned, so a
/// long-running host kept an entry for every connection it ever served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_map_holds_only_connections_in_use() {
    let store = Arc::new(MemoryStore::new());
    let tenant = TenantId::new("t").unwrap();
    let connections: Vec<ConnectionId> = (0..100)
        .map(|i| ConnectionId::new("provider", format!("c{i}")).unwrap())
        .collect();
    for connection in &connections {
        let expired = Credentials::oauth2(
            "old",
            Some("refresh".into()),
            Some(Utc::now() - chrono::Duration::minutes(1)),
        );
        store.put(&tenant, connection, &expired).await.unwrap();
    }
    let refresher = Arc::new(Counting::default());
    let manager = TokenManager::builder(store, refresher.clone())
        .build()
        .unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for connection in connections.iter().cycle().take(1000) {
        let (manager, tenant, connection) = (manager.clone(), tenant.clone(), connection.clone());
        calls.spawn(async move { manager.access_token(&tenant, &connection).await });
    }
    // Some callers give up while they wait for the lock.
    for _ in 0..100 {
        if let Some(call) = calls.join_next().await {
            call.unwrap().unwrap();
        }
    }
    calls.abort_all();
    while calls.join_next().await.is_some() {}
    manager.close().await;

    assert!(
        refresher.0.load(Ordering::SeqCst) <= 100,
        "at most one refresh each"
    );
    assert!(
        lock(&manager.inner.locks).is_empty(),
        "{} lock entries left",
        lock(&manager.inner.locks).len()
    );
}

/// A due, free row that the read for refresh did not lease looks like a
/// lost race once; the second time the manager takes the lease by
/// compare-and-swap, so a store that never leases in its reads still gets
/// one refresh, not a loop of reads.
#[tokio::test]
async fn a_store_whose_reads_never_lease_still_refreshes_once() {
    let store = Arc::new(Quirky {
        listen: None,
        reads_lease: false,
        ..Quirky::slow_to_listen(Duration::ZERO)
    });
    let tenant = TenantId::new("t").unwrap();
    let connection = ConnectionId::new("provider", "c").unwrap();
    let expired = Credentials::oauth2(
        "old",
        Some("refresh".into()),
        Some(Utc::now() - chrono::Duration::minutes(1)),
    );
    store.put(&tenant, &connection, &expired).await.unwrap();
    let refresher = Arc::new(Counting::default());
    let manager = TokenManager::builder(store.clone(), refresher.clone())
        .poll_interval(Duration::from_millis(5))
        .build()
        .unwrap();

    let token = tokio::time::timeout(
        Duration::from_secs(10),
        manager.access_token(&tenant, &connection),
    )
    .await
    .expect("no loop")
    .unwrap();
    assert_eq!(token.expose_secret(), "fresh");
    assert_eq!(refresher.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        store.reads_for_refresh.load(Ordering::SeqCst),
        2,
        "one read lost, one leased by swap"
    );
}
