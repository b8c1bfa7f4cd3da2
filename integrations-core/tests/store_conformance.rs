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
