//! What is particular to the SQLite credential store, on a real file:
//! ciphertexts bound to their row, key rotation, and no plaintext secret
//! anywhere in the database files. The contract every store keeps is in
//! `store_conformance.rs`.
#![cfg(feature = "sqlite")]

mod support;

use std::path::{Path, PathBuf};

use integrations_core::Error;
use integrations_core::credentials::{
    CredentialStore, Credentials, EncryptionKey, KeyRing, SqliteStore,
};
use integrations_core::error::CredentialError;
use integrations_core::id::KeyId;
use support::{connection, samples, secrets_of, tenant};

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
    key1: [u8; 32],
    key2: [u8; 32],
}

impl Db {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.db");
        Self {
            _dir: dir,
            path,
            key1: [1; 32],
            key2: [2; 32],
        }
    }

    fn ring(&self, active: &str, previous: Option<&str>) -> KeyRing {
        let key =
            |id: &str| EncryptionKey::from_bytes(if id == "k1" { self.key1 } else { self.key2 });
        let ring = KeyRing::new(KeyId::new(active).unwrap(), key(active));
        match previous {
            Some(id) => ring
                .with_previous(KeyId::new(id).unwrap(), key(id))
                .unwrap(),
            None => ring,
        }
    }

    async fn open(&self, active: &str, previous: Option<&str>) -> SqliteStore {
        SqliteStore::open(&self.path, self.ring(active, previous))
            .await
            .unwrap()
    }

    async fn raw(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&format!("sqlite://{}", self.path.display()))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_or_tenant_fails_to_decrypt() {
    let db = Db::new();
    let store = db.open("k1", None).await;
    let (alice, mallory) = (tenant("alice"), tenant("mallory"));
    let (secret_row, other_row) = (connection("slack", "alice"), connection("slack", "other"));
    store
        .put(&alice, &secret_row, &Credentials::bearer("alice-secret"))
        .await
        .unwrap();
    store
        .put(&alice, &other_row, &Credentials::bearer("decoy"))
        .await
        .unwrap();
    store
        .put(&mallory, &secret_row, &Credentials::bearer("mallory"))
        .await
        .unwrap();

    let raw = db.raw().await;
    let copy =
        "UPDATE credentials SET key_id = src.key_id, nonce = src.nonce, ciphertext = src.ciphertext
                FROM (SELECT key_id, nonce, ciphertext FROM credentials
                      WHERE tenant = 'alice' AND provider = 'slack' AND name = 'alice') AS src
                WHERE credentials.tenant = ?1 AND credentials.name = ?2";
    sqlx::query(copy)
        .bind("alice")
        .bind("other")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query(copy)
        .bind("mallory")
        .bind("alice")
        .execute(&raw)
        .await
        .unwrap();

    for (t, id) in [(&alice, &other_row), (&mallory, &secret_row)] {
        let err = store.get(t, id).await.unwrap_err();
        assert!(
            matches!(err, Error::Credentials(CredentialError::Decrypt { .. })),
            "{err:?}"
        );
        assert!(!err.to_string().contains("alice-secret"));
    }
    assert_eq!(
        secrets_of(&store.get(&alice, &secret_row).await.unwrap().unwrap().value),
        ["alice-secret"]
    );
}

#[tokio::test]
async fn rotation_reseals_every_row_so_old_keys_can_be_dropped() {
    let db = Db::new();
    let owner = tenant("user");
    {
        let store = db.open("k1", None).await;
        for (id, credentials, _) in samples() {
            store.put(&owner, &id, &credentials).await.unwrap();
        }
        store.close().await;
    }
    // Without k1 the rows cannot be read, and the error says which key.
    let only_new = db.open("k2", None).await;
    let err = only_new
        .get(&owner, &connection("slack", "acme"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sealed with key `k1`"), "{err}");
    only_new.close().await;

    let both = db.open("k2", Some("k1")).await;
    assert_eq!(both.rotate().await.unwrap(), samples().len() as u64);
    assert_eq!(both.rotate().await.unwrap(), 0, "nothing left to rotate");
    both.close().await;

    let raw = db.raw().await;
    let keys: Vec<String> = sqlx::query_scalar("SELECT DISTINCT key_id FROM credentials")
        .fetch_all(&raw)
        .await
        .unwrap();
    assert_eq!(keys, ["k2"]);

    let only_new = db.open("k2", None).await;
    for (id, credentials, _) in samples() {
        let stored = only_new.get(&owner, &id).await.unwrap().unwrap();
        assert_eq!(secrets_of(&stored.value), secrets_of(&credentials));
    }
    let wrong = SqliteStore::open(
        &db.path,
        KeyRing::new(
            KeyId::new("k2").unwrap(),
            EncryptionKey::from_bytes([9; 32]),
        ),
    )
    .await
    .unwrap();
    assert!(matches!(
        wrong.get(&owner, &connection("slack", "acme")).await,
        Err(Error::Credentials(CredentialError::Decrypt { .. }))
    ));
}

fn files_of(db: &Path) -> Vec<PathBuf> {
    let mut files = vec![db.to_owned()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    files.into_iter().filter(|f| f.exists()).collect()
}

#[tokio::test]
async fn the_database_files_hold_no_plaintext_secret() {
    let db = Db::new();
    let store = db.open("k1", None).await;
    let owner = tenant("user");
    let mut secrets = Vec::new();
    for (id, credentials, plain) in samples() {
        store.put(&owner, &id, &credentials).await.unwrap();
        // Rewrite once so older page images sit in the WAL too.
        store.put(&owner, &id, &credentials).await.unwrap();
        secrets.extend(plain);
    }
    let mut scanned = 0;
    for file in files_of(&db.path) {
        let bytes = std::fs::read(&file).unwrap();
        scanned += bytes.len();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} found in {}",
                file.display()
            );
        }
    }
    assert!(
        scanned > 4096,
        "the scan read the database ({scanned} bytes)"
    );
    // The scan can see plaintext: the non-secret metadata is inside the
    // ciphertext too, so it must not show either.
    let mut found_marker = false;
    for file in files_of(&db.path) {
        let bytes = std::fs::read(&file).unwrap();
        found_marker |= bytes.windows(5).any(|w| w == b"slack");
    }
    assert!(
        found_marker,
        "provider names are stored in clear, so the scan reads real pages"
    );
}
