//! One contract, three stores: memory, SQLite and PostgreSQL keep it alike
//! (every kind round-trips, tenants are isolated, compare-and-swap is
//! atomic across handles, versions never repeat, the refresh lease is
//! kept). PostgreSQL runs in a throwaway cluster; with `CI` set, a missing
//! PostgreSQL fails the test.

mod support;

use std::sync::Arc;

use integrations_core::credentials::{CredentialStore, EncryptionKey, KeyRing, MemoryStore};
use integrations_core::id::KeyId;

fn keys() -> KeyRing {
    KeyRing::new(
        KeyId::new("k1").unwrap(),
        EncryptionKey::from_bytes([7; 32]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_keeps_the_contract() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    support::conformance(store.clone(), store).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_keeps_the_contract_across_two_handles_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.db");
    let first = integrations_core::credentials::SqliteStore::open(&path, keys())
        .await
        .unwrap();
    let second = integrations_core::credentials::SqliteStore::open(&path, keys())
        .await
        .unwrap();
    support::conformance(Arc::new(first), Arc::new(second)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_keeps_the_contract_across_two_pools() {
    use integrations_core::credentials::PgStore;
    let Some(server) =
        integrations_fakes::postgres::TestPostgres::start_or_skip("store conformance")
    else {
        return;
    };
    let url = server.database("conformance");
    let (first, second) = tokio::join!(
        PgStore::connect(&url, keys()),
        PgStore::connect(&url, keys())
    );
    support::conformance(Arc::new(first.unwrap()), Arc::new(second.unwrap())).await;
}

/// On PostgreSQL the callers that lose the race for the lease see the
/// lease that won (the statement reads the row as it locked it, after the
/// winner's write), never the row as it was: a replica that lost waits for
/// the refresh instead of reading again to find out.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_for_refresh_that_lose_the_race_see_the_lease_that_won() {
    use integrations_core::credentials::PgStore;
    let Some(server) = integrations_fakes::postgres::TestPostgres::start_or_skip("lease race")
    else {
        return;
    };
    let url = server.database("lease_race");
    let (first, second) = tokio::join!(
        PgStore::connect(&url, keys()),
        PgStore::connect(&url, keys())
    );
    let (won, others) = support::of_reads_for_refresh_at_once_one_takes_the_lease(
        Arc::new(first.unwrap()),
        Arc::new(second.unwrap()),
    )
    .await;
    assert_eq!(others.len(), 7);
    for lease in others {
        assert_eq!(lease.as_ref(), Some(&won));
    }
}

/// On PostgreSQL a read for refresh that finds another owner's live lease
/// returns it without locking the row: a waiting replica neither queues
/// behind other transactions on the row nor writes a row lock (to the
/// write-ahead log) only to learn that it has to wait.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_for_refresh_of_a_row_leased_elsewhere_take_no_lock() {
    use chrono::Utc;
    use integrations_core::credentials::{Credentials, PgStore, RefreshLease};
    let Some(server) =
        integrations_fakes::postgres::TestPostgres::start_or_skip("a leased row read")
    else {
        return;
    };
    let url = server.database("leased_read");
    let store = PgStore::connect(&url, keys()).await.unwrap();
    let (owner, id) = (
        support::tenant("leased"),
        support::connection("lease", "held"),
    );
    let now = Utc::now();
    let expired = Credentials::oauth2("a", Some("r".into()), Some(now));
    store.put(&owner, &id, &expired).await.unwrap();
    let lease = |who: &str| RefreshLease::new(who, now + chrono::Duration::seconds(30));
    let won = store
        .get_for_refresh(&owner, &id, &lease("winner"), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(won.value.refresh_lease, Some(lease("winner")));
    // Another transaction holds the weakest row lock, one that a lease
    // read's `FOR UPDATE` would wait for.
    let mut other = store.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM integrations_credentials WHERE tenant = $1 FOR KEY SHARE")
        .bind(owner.as_str())
        .execute(&mut *other)
        .await
        .unwrap();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.get_for_refresh(&owner, &id, &lease("waiter"), now),
    )
    .await
    .expect("a read of a row leased elsewhere waits for no lock")
    .unwrap()
    .unwrap();
    assert_eq!(read.value.refresh_lease, Some(lease("winner")));
    assert_eq!(read.version, won.version);
    other.rollback().await.unwrap();
}

/// A statement of `PgStore` that waits for another transaction's write to
/// a row carries on with the row as that write left it: a read for
/// refresh takes the lease on it (the row is still due and free), and a
/// compare-and-swap writes it (the version it expected is still the
/// row's). Neither loses the row because the version it found when it
/// began is gone.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statements_that_wait_for_a_write_go_on_with_the_row_it_wrote() {
    use chrono::Utc;
    use integrations_core::credentials::{CredentialKind, Credentials, PgStore, RefreshLease};
    use secrecy::ExposeSecret;
    let Some(server) =
        integrations_fakes::postgres::TestPostgres::start_or_skip("a write waited for")
    else {
        return;
    };
    let store = PgStore::connect(&server.database("waited_for"), keys())
        .await
        .unwrap();
    let id = support::connection("lease", "waited");
    let now = Utc::now();
    let expired = Credentials::oauth2("a", Some("r".into()), Some(now));
    let lease = RefreshLease::new("waiter", now + chrono::Duration::seconds(30));
    // Another transaction writes the row (bumping its version, as a
    // re-seal does, or not, as a host's own UPDATE may) and commits only
    // once the store's statement waits for it.
    async fn while_written<T: Send + 'static>(
        store: &PgStore,
        tenant: &integrations_core::TenantId,
        bump: bool,
        statement: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        let mut writer = store.pool().begin().await.unwrap();
        sqlx::query(
            "UPDATE integrations_credentials SET updated_at = now(),
                 version = version + CASE WHEN $2 THEN 1 ELSE 0 END
             WHERE tenant = $1",
        )
        .bind(tenant.as_str())
        .bind(bump)
        .execute(&mut *writer)
        .await
        .unwrap();
        let statement = tokio::spawn(statement);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let waiting: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the statement waits for the write"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        writer.commit().await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), statement)
            .await
            .expect("the statement ends once the write commits")
            .unwrap()
    }

    let tenant = support::tenant("lease-after-write");
    let first = store.put(&tenant, &id, &expired).await.unwrap();
    let read = {
        let (store, tenant, id, lease) = (store.clone(), tenant.clone(), id.clone(), lease.clone());
        async move { store.get_for_refresh(&tenant, &id, &lease, now).await }
    };
    let read = while_written(&store, &tenant, true, read)
        .await
        .unwrap()
        .expect("the row is found");
    assert_eq!(read.value.refresh_lease, Some(lease.clone()), "leased");
    assert_eq!(
        read.version,
        first + 2,
        "on the row as written, then leased"
    );

    let tenant = support::tenant("swap-after-write");
    let first = store.put(&tenant, &id, &expired).await.unwrap();
    let fresh = Credentials::oauth2("b", Some("r".into()), None);
    let swap = {
        let (store, tenant, id, fresh) = (store.clone(), tenant.clone(), id.clone(), fresh.clone());
        async move { store.compare_and_swap(&tenant, &id, first, &fresh).await }
    };
    let swapped = while_written(&store, &tenant, false, swap).await.unwrap();
    assert_eq!(swapped, Some(first + 1), "written at the version expected");
    let stored = store.get(&tenant, &id).await.unwrap().unwrap();
    assert_eq!(stored.version, first + 1);
    let CredentialKind::OAuth2(oauth) = stored.value.kind else {
        panic!("OAuth 2 credentials");
    };
    assert_eq!(oauth.access_token.expose_secret(), "b");
}

/// Rotation on PostgreSQL re-seals every row under the new key, and the
/// table holds no secret in clear.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rotation_reseals_rows_and_the_table_holds_no_plaintext() {
    use integrations_core::credentials::PgStore;
    let Some(server) =
        integrations_fakes::postgres::TestPostgres::start_or_skip("postgres rotation")
    else {
        return;
    };
    let url = server.database("rotation");
    let owner = support::tenant("user-1");
    let old = PgStore::connect(&url, keys()).await.unwrap();
    for (id, credentials, _) in support::samples() {
        old.put(&owner, &id, &credentials).await.unwrap();
    }
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT ciphertext FROM integrations_credentials")
        .fetch_all(old.pool())
        .await
        .unwrap();
    for (ciphertext,) in &rows {
        for (_, _, secrets) in support::samples() {
            for secret in secrets {
                assert!(
                    !ciphertext
                        .windows(secret.len())
                        .any(|w| w == secret.as_bytes()),
                    "{secret} in clear"
                );
            }
        }
    }
    let ring = KeyRing::new(
        KeyId::new("k2").unwrap(),
        EncryptionKey::from_bytes([8; 32]),
    )
    .with_previous(
        KeyId::new("k1").unwrap(),
        EncryptionKey::from_bytes([7; 32]),
    )
    .unwrap();
    let both = PgStore::connect(&url, ring).await.unwrap();
    assert_eq!(
        both.rotate().await.unwrap(),
        support::samples().len() as u64
    );
    let only_new = PgStore::connect(
        &url,
        KeyRing::new(
            KeyId::new("k2").unwrap(),
            EncryptionKey::from_bytes([8; 32]),
        ),
    )
    .await
    .unwrap();
    for (id, credentials, _) in support::samples() {
        let stored = only_new.get(&owner, &id).await.unwrap().unwrap();
        assert_eq!(
            support::secrets_of(&stored.value),
            support::secrets_of(&credentials)
        );
    }
}

/// Concurrent reads and compare-and-swaps share statements (one statement
/// locks many rows), so four replicas' statements over the same rows must
/// neither deadlock nor lose a write: each replica increments a counter
/// on each of 400 rows, all at once, 5 times over (without the rows locked
/// in key order, PostgreSQL detects deadlocks here).
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statements_shared_by_many_callers_neither_deadlock_nor_lose_writes() {
    use integrations_core::credentials::{Credentials, PgStore};
    use integrations_core::id::ConnectionId;
    let Some(server) =
        integrations_fakes::postgres::TestPostgres::start_or_skip("shared statements")
    else {
        return;
    };
    let url = server.database("shared");
    let owner = support::tenant("counters");
    let rows: Vec<ConnectionId> = (0..400)
        .map(|n| ConnectionId::new("counter", format!("c{n:02}")).unwrap())
        .collect();
    let mut replicas = Vec::new();
    for _ in 0..4 {
        replicas.push(Arc::new(PgStore::connect(&url, keys()).await.unwrap()));
    }
    for row in &rows {
        let counter = Credentials::bearer("t").with_metadata("n", "0");
        replicas[0].put(&owner, row, &counter).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (r, replica) in replicas.iter().enumerate() {
        // Each replica takes the rows in another order.
        let mut order = rows.clone();
        order.rotate_left(r * 100);
        if r % 2 == 1 {
            order.reverse();
        }
        for row in order {
            let (replica, owner) = (replica.clone(), owner.clone());
            tasks.spawn(async move {
                for _ in 0..5 {
                    support::increment(&*replica, &owner, &row).await;
                }
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    for row in &rows {
        let last = replicas[3].get(&owner, row).await.unwrap().unwrap();
        assert_eq!(last.value.metadata["n"], "20", "{row}: no increment lost");
    }
}

/// The change stream names the writes a replica waiting for a refresh
/// waits for (a lease given back, new tokens) and leaves out the write
/// that takes a lease, which woke every waiter for nothing.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_leave_out_the_write_that_takes_a_refresh_lease() {
    use futures_util::StreamExt;
    use integrations_core::credentials::{Credentials, PgStore, RefreshLease};
    use integrations_core::id::ConnectionId;
    let Some(server) = integrations_fakes::postgres::TestPostgres::start_or_skip("lease changes")
    else {
        return;
    };
    let url = server.database("changes");
    let store = PgStore::connect(&url, keys()).await.unwrap();
    let owner = support::tenant("user-1");
    let (leased, other) = (
        ConnectionId::new("linear", "leased").unwrap(),
        ConnectionId::new("linear", "other").unwrap(),
    );
    let expired = Credentials::oauth2("old", Some("rt".into()), None);
    let version = store.put(&owner, &leased, &expired).await.unwrap();
    let mut changes = store.changes().await.unwrap().expect("PostgreSQL tells");

    let mut taking = expired.clone();
    taking.refresh_lease = Some(RefreshLease::new(
        "replica-1",
        chrono::Utc::now() + chrono::Duration::seconds(30),
    ));
    let version = store
        .compare_and_swap(&owner, &leased, version, &taking)
        .await
        .unwrap()
        .expect("lease taken");
    store.put(&owner, &other, &expired).await.unwrap();
    let refreshed = Credentials::oauth2("new", Some("rt2".into()), None);
    store
        .compare_and_swap(&owner, &leased, version, &refreshed)
        .await
        .unwrap()
        .expect("token written");

    // Notifications arrive in commit order: the lease's write would come
    // first.
    let mut next = async || {
        tokio::time::timeout(std::time::Duration::from_secs(5), changes.next())
            .await
            .expect("a change within 5 s")
            .expect("the stream goes on")
    };
    let first = next().await;
    assert_eq!((&first.tenant, &first.connection), (&owner, &other));
    let ended = next().await;
    assert_eq!(
        (&ended.tenant, &ended.connection),
        (&owner, &leased),
        "the write that ends the lease"
    );
    // The change carries the row as written: a waiting replica needs no
    // read for the new token.
    let row = ended.row().expect("the row fits").unwrap();
    assert_eq!(row.version, version + 1);
    assert_eq!(support::secrets_of(&row.value), ["new", "rt2"]);
    assert!(row.value.refresh_lease.is_none());
    assert!(!format!("{ended:?}").contains("new"), "{ended:?}");

    // A row too large for a notification, and a delete, are told of
    // without the row.
    let large = Credentials::bearer("b").with_metadata("notes", "x".repeat(6000));
    store.put(&owner, &other, &large).await.unwrap();
    let told = next().await;
    assert_eq!(told.connection, other);
    assert!(
        told.row().is_none(),
        "a sealed row over 5,000 bytes stays out"
    );
    store.delete(&owner, &other).await.unwrap();
    let deleted = next().await;
    assert_eq!(deleted.connection, other);
    assert!(deleted.row().is_none());
}
