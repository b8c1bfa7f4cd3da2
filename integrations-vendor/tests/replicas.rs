//! Token refreshes across replicas: four TokenManagers, each on its own
//! pool to one PostgreSQL (as four replicas of a host are), answer 1000
//! concurrent `access_token` calls on an expiring token, and the token
//! endpoint sees exactly one refresh. The endpoint rotates refresh tokens
//! and refuses a spent one, as many vendors do, so a second refresh would
//! also fail the calls that made it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use integrations_core::credentials::{
    CredentialStore, Credentials, EncryptionKey, KeyRing, PgStore, TokenManager,
};
use integrations_core::id::KeyId;
use integrations_core::{ConnectionId, TenantId};
use integrations_fakes::postgres::TestPostgres;
use integrations_fakes::{FakeServer, Reply};
use integrations_vendor::oauth::{OAuthClient, OAuthProvider};
use secrecy::ExposeSecret;

fn keys() -> KeyRing {
    KeyRing::new(
        KeyId::new("k1").unwrap(),
        EncryptionKey::from_bytes([9; 32]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_replicas_refresh_an_expiring_token_once() {
    let Some(server) = TestPostgres::start_or_skip("replica refresh") else {
        return;
    };
    let url = server.database("tokens");
    let fake = FakeServer::start().await;
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counter = refreshes.clone();
    fake.route("POST", "/oauth/token", move |request| {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        if !body.contains("refresh_token=rt-1") {
            return Reply::json(400, serde_json::json!({"error": "invalid_grant"}));
        }
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::json(
            200,
            serde_json::json!({
                "access_token": format!("at-{}", n + 1), "token_type": "bearer",
                "expires_in": 3600, "refresh_token": format!("rt-{}", n + 1),
            }),
        )
        .after(Duration::from_millis(50))
    });
    let client = OAuthClient::new(
        OAuthProvider::linear()
            .with_endpoints(fake.url("/oauth/authorize"), fake.url("/oauth/token")),
        "app-1",
        Some("SECRET-client".to_owned().into()),
        "http://127.0.0.1:1/callback",
    )
    .unwrap();

    let tenant = TenantId::new("tenant-1").unwrap();
    let connection = ConnectionId::new("linear", "default").unwrap();
    let expiring = Credentials::oauth2(
        "at-1",
        Some("rt-1".into()),
        Some(Utc::now() + chrono::Duration::seconds(30)),
    );
    let seed = PgStore::connect(&url, keys()).await.unwrap();
    seed.put(&tenant, &connection, &expiring).await.unwrap();

    let mut replicas = Vec::new();
    for _ in 0..4 {
        let store: Arc<dyn CredentialStore> =
            Arc::new(PgStore::connect(&url, keys()).await.unwrap());
        let tokens = TokenManager::builder(store, Arc::new(client.clone()))
            .margin(Duration::from_secs(300))
            .poll_interval(Duration::from_millis(20))
            .build()
            .unwrap();
        replicas.push(tokens);
    }
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..1000 {
        let tokens = replicas[n % 4].clone();
        let (tenant, connection) = (tenant.clone(), connection.clone());
        calls.spawn(async move { tokens.access_token(&tenant, &connection).await });
    }
    while let Some(call) = calls.join_next().await {
        let token = call.unwrap().expect("every call gets a token");
        assert_eq!(token.expose_secret(), "at-2");
    }
    assert_eq!(
        refreshes.load(Ordering::SeqCst),
        1,
        "one refresh across four replicas"
    );
    assert_eq!(fake.requests("/oauth/token").len(), 1);
    let stored = seed.get(&tenant, &connection).await.unwrap().unwrap().value;
    assert!(stored.refresh_lease.is_none(), "the lease is given back");
}

/// OAuth 2 credentials (`at-1`, `rt-1`) that expired a second ago.
fn expired() -> Credentials {
    Credentials::oauth2(
        "at-1",
        Some("rt-1".into()),
        Some(Utc::now() - chrono::Duration::seconds(1)),
    )
}

/// A token endpoint that answers `at-2` (rotating to `rt-2`) after 300 ms,
/// and an OAuth client of it.
async fn slow_token_endpoint() -> (FakeServer, OAuthClient) {
    let fake = FakeServer::start().await;
    fake.route("POST", "/oauth/token", |_| {
        Reply::json(
            200,
            serde_json::json!({
                "access_token": "at-2", "token_type": "bearer",
                "expires_in": 3600, "refresh_token": "rt-2",
            }),
        )
        .after(Duration::from_millis(300))
    });
    let client = OAuthClient::new(
        OAuthProvider::linear()
            .with_endpoints(fake.url("/oauth/authorize"), fake.url("/oauth/token")),
        "app-1",
        None,
        "http://127.0.0.1:1/callback",
    )
    .unwrap();
    (fake, client)
}

/// Issue 21: a replica waiting for another's refresh polled the row (every
/// 100 ms by default); on PostgreSQL the row's write now wakes it. With a
/// one-minute poll, the waiter still has its token as soon as the other
/// replica stores it, not a minute later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_waiting_for_another_s_refresh_wakes_when_the_row_is_written() {
    let Some(server) = TestPostgres::start_or_skip("replica wake-up") else {
        return;
    };
    let url = server.database("wakeups");
    let (fake, client) = slow_token_endpoint().await;
    let tenant = TenantId::new("tenant-1").unwrap();
    let connection = ConnectionId::new("linear", "default").unwrap();
    let seed = PgStore::connect(&url, keys()).await.unwrap();
    let expired = expired();
    seed.put(&tenant, &connection, &expired).await.unwrap();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store: Arc<dyn CredentialStore> =
            Arc::new(PgStore::connect(&url, keys()).await.unwrap());
        let tokens = TokenManager::builder(store, Arc::new(client.clone()))
            .poll_interval(Duration::from_secs(60))
            .build()
            .unwrap();
        assert!(tokens.listen().await, "PostgreSQL tells of changes");
        replicas.push(tokens);
    }
    let first = {
        let (tokens, tenant, connection) =
            (replicas[0].clone(), tenant.clone(), connection.clone());
        tokio::spawn(async move { tokens.access_token(&tenant, &connection).await })
    };
    // The first replica holds the lease while its refresh is answered.
    while fake.requests("/oauth/token").is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = tokio::time::timeout(
        Duration::from_secs(20),
        replicas[1].access_token(&tenant, &connection),
    )
    .await
    .expect("the waiting replica is woken by the write, not its one-minute poll")
    .unwrap();
    assert_eq!(second.expose_secret(), "at-2");
    assert_eq!(first.await.unwrap().unwrap().expose_secret(), "at-2");
    assert_eq!(fake.requests("/oauth/token").len(), 1, "refreshed once");
    for tokens in &replicas {
        tokens.close().await;
    }
}

/// A replica's store whose first read of `held` answers only once `go`
/// is notified (with what it read before), and which counts the reads of
/// `held`: a replica that read the row just before another took the lease.
#[derive(Debug)]
struct LateFirstRead {
    store: PgStore,
    held: ConnectionId,
    read: Arc<tokio::sync::Notify>,
    go: Arc<tokio::sync::Notify>,
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl CredentialStore for LateFirstRead {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<
        Option<integrations_core::credentials::Versioned<Credentials>>,
        integrations_core::Error,
    > {
        let row = self.store.get(tenant, connection).await;
        if *connection == self.held && self.reads.fetch_add(1, Ordering::SeqCst) == 0 {
            self.read.notify_one();
            self.go.notified().await;
        }
        row
    }

    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, integrations_core::Error> {
        self.store.put(tenant, connection, credentials).await
    }

    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, integrations_core::Error> {
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
        self.store.changes().await
    }
}

/// A replica that read an expiring row just before another replica took
/// its refresh lease loses the lease race; it then waits for the row's
/// next write (the other's new token) instead of reading the row again
/// while it is still leased, and takes the new token from the write's
/// notification: one read in all, where it made four (three once it
/// listened, and it listened only from its first wait; two before the
/// notification carried the row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_the_lease_race_takes_the_token_from_the_write_s_notification() {
    let Some(server) = TestPostgres::start_or_skip("lost lease race") else {
        return;
    };
    let url = server.database("lost_race");
    let (fake, client) = slow_token_endpoint().await;
    let tenant = TenantId::new("tenant-1").unwrap();
    let raced = ConnectionId::new("linear", "raced").unwrap();
    let seed = PgStore::connect(&url, keys()).await.unwrap();
    let expired = expired();
    seed.put(&tenant, &raced, &expired).await.unwrap();
    let winner = TokenManager::builder(
        Arc::new(PgStore::connect(&url, keys()).await.unwrap()),
        Arc::new(client.clone()),
    )
    .build()
    .unwrap();
    let late = Arc::new(LateFirstRead {
        store: PgStore::connect(&url, keys()).await.unwrap(),
        held: raced.clone(),
        read: Arc::default(),
        go: Arc::default(),
        reads: AtomicUsize::new(0),
    });
    let loser = TokenManager::builder(late.clone(), Arc::new(client.clone()))
        .poll_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    assert!(loser.listen().await, "PostgreSQL tells of changes");
    let token = |manager: &TokenManager, connection: &ConnectionId| {
        let (manager, tenant, connection) = (manager.clone(), tenant.clone(), connection.clone());
        tokio::spawn(async move { manager.access_token(&tenant, &connection).await })
    };
    let fake = &fake;
    let refreshes = |n: usize| async move {
        while fake.requests("/oauth/token").len() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };

    // The race: the loser reads `raced`, the winner takes its lease, then
    // the loser's read answers (the row as it was) and its lease fails.
    let losing = token(&loser, &raced);
    late.read.notified().await;
    let winning = token(&winner, &raced);
    refreshes(1).await;
    late.go.notify_one();
    let lost = tokio::time::timeout(Duration::from_secs(20), losing)
        .await
        .expect("woken by the winner's write")
        .unwrap()
        .unwrap();
    assert_eq!(lost.expose_secret(), "at-2");
    assert_eq!(winning.await.unwrap().unwrap().expose_secret(), "at-2");
    assert_eq!(fake.requests("/oauth/token").len(), 1, "refreshed once");
    assert_eq!(
        late.reads.load(Ordering::SeqCst),
        1,
        "the loser read the row before the race, and not after the winner's write"
    );
    for tokens in [&winner, &loser] {
        tokens.close().await;
    }
}

/// A manager listens to the store's changes (from `listen`, or its first
/// read); the listener must not take a connection of the store's pool, or
/// a host pool of one connection has none left for the reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_for_changes_leaves_the_store_s_pool_to_the_reads() {
    let Some(server) = TestPostgres::start_or_skip("listener connection") else {
        return;
    };
    let url = server.database("one_connection");
    let (fake, client) = slow_token_endpoint().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(&url)
        .await
        .unwrap();
    let store = PgStore::with_pool(pool, keys()).await.unwrap();
    let (tenant, connection) = (
        TenantId::new("tenant-1").unwrap(),
        ConnectionId::new("linear", "default").unwrap(),
    );
    let expired = expired();
    store.put(&tenant, &connection, &expired).await.unwrap();
    let tokens = TokenManager::builder(Arc::new(store), Arc::new(client))
        .build()
        .unwrap();
    assert!(tokens.listen().await);
    let token = tokens.access_token(&tenant, &connection).await.unwrap();
    assert_eq!(token.expose_secret(), "at-2");
    assert_eq!(fake.requests("/oauth/token").len(), 1);
    tokens.close().await;
}
