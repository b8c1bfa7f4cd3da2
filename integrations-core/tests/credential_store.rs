//! The encrypted SQLite credential store, on a real file: round trips,
//! tenant isolation, ciphertexts bound to their row, key rotation, and no
//! plaintext secret anywhere in the database files.
#![cfg(feature = "sqlite")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use integrations_core::{
    ConnectionId, CredentialError, CredentialKind, CredentialStore, Credentials, EncryptionKey,
    Error, KeyId, KeyRing, MemoryStore, OAuth2Token, RefreshLease, SqliteStore, TenantId,
};
use secrecy::{ExposeSecret, SecretString};

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

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

fn connection(provider: &str, name: &str) -> ConnectionId {
    ConnectionId::new(provider, name).unwrap()
}

/// One of each kind, each with a distinctive secret.
fn samples() -> Vec<(ConnectionId, Credentials, Vec<&'static str>)> {
    let expires = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let mut oauth = Credentials::oauth2(
        "SECRET-oauth-access",
        Some("SECRET-oauth-refresh".into()),
        Some(expires),
    )
    .with_metadata("team_id", "T024BE7LD");
    if let CredentialKind::OAuth2(token) = &mut oauth.kind {
        token.scopes = vec!["chat:write".into(), "channels:read".into()];
    }
    vec![
        (
            connection("slack", "acme"),
            oauth,
            vec!["SECRET-oauth-access", "SECRET-oauth-refresh"],
        ),
        (
            connection("notion", "main"),
            Credentials::api_key("SECRET-api-key"),
            vec!["SECRET-api-key"],
        ),
        (
            connection("github", "bot"),
            Credentials::bearer("SECRET-bearer"),
            vec!["SECRET-bearer"],
        ),
        (
            connection("jira", "basic"),
            Credentials::new(CredentialKind::Basic {
                username: "ada".into(),
                password: SecretString::from("SECRET-password"),
            }),
            vec!["SECRET-password"],
        ),
        (
            connection("google", "sa"),
            Credentials::new(CredentialKind::Jwt {
                key_id: Some("kid-1".into()),
                private_key: SecretString::from("SECRET-jwt-key"),
            }),
            vec!["SECRET-jwt-key"],
        ),
        (
            connection("bank", "mtls"),
            Credentials::new(CredentialKind::ClientCertificate {
                certificate: "-----BEGIN CERTIFICATE-----".into(),
                private_key: SecretString::from("SECRET-cert-key"),
            }),
            vec!["SECRET-cert-key"],
        ),
    ]
}

fn secrets_of(credentials: &Credentials) -> Vec<String> {
    let expose = |s: &SecretString| s.expose_secret().to_owned();
    match &credentials.kind {
        CredentialKind::ApiKey { key } => vec![expose(key)],
        CredentialKind::Bearer { token } => vec![expose(token)],
        CredentialKind::Basic { username, password } => vec![username.clone(), expose(password)],
        CredentialKind::OAuth2(OAuth2Token {
            access_token,
            refresh_token,
            scopes,
            ..
        }) => {
            let mut all = vec![expose(access_token)];
            all.extend(refresh_token.as_ref().map(expose));
            all.extend(scopes.iter().cloned());
            all
        }
        CredentialKind::Jwt {
            key_id,
            private_key,
        } => {
            vec![key_id.clone().unwrap_or_default(), expose(private_key)]
        }
        CredentialKind::ClientCertificate {
            certificate,
            private_key,
        } => {
            vec![certificate.clone(), expose(private_key)]
        }
        _ => panic!("unexpected kind"),
    }
}

#[tokio::test]
async fn every_kind_round_trips_through_a_real_file() {
    let db = Db::new();
    let store = db.open("k1", None).await;
    let owner = tenant("user-1");
    for (id, credentials, _) in samples() {
        assert_eq!(store.put(&owner, &id, &credentials).await.unwrap(), 1);
    }
    store.close().await;

    // A new store on the same file reads everything back.
    let store = db.open("k1", None).await;
    for (id, credentials, _) in samples() {
        let stored = store.get(&owner, &id).await.unwrap().expect("stored");
        assert_eq!(stored.version, 1);
        assert_eq!(stored.value.kind.name(), credentials.kind.name());
        assert_eq!(secrets_of(&stored.value), secrets_of(&credentials));
        assert_eq!(stored.value.metadata, credentials.metadata);
        assert_eq!(stored.value.expires_at, credentials.expires_at);
    }
    let listed: Vec<String> = store
        .list(&owner)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        listed,
        [
            "bank/mtls",
            "github/bot",
            "google/sa",
            "jira/basic",
            "notion/main",
            "slack/acme"
        ]
    );

    let id = connection("github", "bot");
    assert_eq!(
        store
            .put(&owner, &id, &Credentials::bearer("v2"))
            .await
            .unwrap(),
        2
    );
    assert!(store.delete(&owner, &id).await.unwrap());
    assert!(!store.delete(&owner, &id).await.unwrap());
    assert!(store.get(&owner, &id).await.unwrap().is_none());
}

#[tokio::test]
async fn tenants_are_isolated() {
    let db = Db::new();
    let store = db.open("k1", None).await;
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let id = connection("slack", "work");
    store
        .put(&alice, &id, &Credentials::bearer("alice-token"))
        .await
        .unwrap();

    assert!(store.get(&bob, &id).await.unwrap().is_none());
    assert!(store.list(&bob).await.unwrap().is_empty());
    assert!(!store.delete(&bob, &id).await.unwrap());
    assert!(
        store
            .compare_and_swap(&bob, &id, 1, &Credentials::bearer("x"))
            .await
            .unwrap()
            .is_none()
    );

    store
        .put(&bob, &id, &Credentials::bearer("bob-token"))
        .await
        .unwrap();
    let read = |t| {
        let store = store.clone();
        let id = id.clone();
        async move { secrets_of(&store.get(&t, &id).await.unwrap().unwrap().value) }
    };
    assert_eq!(read(alice.clone()).await, ["alice-token"]);
    assert_eq!(read(bob.clone()).await, ["bob-token"]);
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

#[tokio::test]
async fn compare_and_swap_is_atomic_across_two_stores_on_one_file() {
    let db = Db::new();
    let first = Arc::new(db.open("k1", None).await);
    let second = Arc::new(db.open("k1", None).await);
    let owner = tenant("user");
    let id = connection("counter", "c");
    first
        .put(
            &owner,
            &id,
            &Credentials::bearer("t").with_metadata("n", "0"),
        )
        .await
        .unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for store in [first.clone(), second.clone(), first.clone(), second.clone()] {
        let (owner, id) = (owner.clone(), id.clone());
        tasks.spawn(async move {
            let mut done = 0;
            while done < 25 {
                let current = store.get(&owner, &id).await.unwrap().unwrap();
                let n: u64 = current.value.metadata["n"].parse().unwrap();
                let next = current
                    .value
                    .clone()
                    .with_metadata("n", (n + 1).to_string());
                if store
                    .compare_and_swap(&owner, &id, current.version, &next)
                    .await
                    .unwrap()
                    .is_some()
                {
                    done += 1;
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let last = second.get(&owner, &id).await.unwrap().unwrap();
    assert_eq!(last.value.metadata["n"], "100", "no increment was lost");
    assert_eq!(last.version, 101);
}

#[tokio::test]
async fn memory_store_follows_the_same_contract() {
    let store = MemoryStore::new();
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let id = connection("slack", "w");
    assert_eq!(
        store
            .put(&alice, &id, &Credentials::bearer("a"))
            .await
            .unwrap(),
        1
    );
    assert!(store.get(&bob, &id).await.unwrap().is_none());
    assert_eq!(
        store
            .compare_and_swap(&alice, &id, 1, &Credentials::bearer("b"))
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .compare_and_swap(&alice, &id, 1, &Credentials::bearer("c"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list(&alice).await.unwrap(), std::slice::from_ref(&id));
    assert!(store.delete(&alice, &id).await.unwrap());
    assert!(store.list(&alice).await.unwrap().is_empty());
}

/// Review item 4: a connection deleted and put again restarted at version 1,
/// so a compare-and-swap holding the old row's version succeeded on the new
/// row (ABA). Versions now never repeat for a connection.
async fn a_stale_version_never_matches_a_new_row(store: &dyn CredentialStore) {
    let owner = tenant("user");
    let id = connection("slack", "aba");
    let first = store
        .put(&owner, &id, &Credentials::bearer("first"))
        .await
        .unwrap();
    let stale = store
        .compare_and_swap(&owner, &id, first, &Credentials::bearer("second"))
        .await
        .unwrap()
        .expect("the first swap succeeds");
    assert!(store.delete(&owner, &id).await.unwrap());
    assert!(store.get(&owner, &id).await.unwrap().is_none());
    assert!(
        !store.delete(&owner, &id).await.unwrap(),
        "nothing left to delete"
    );
    assert!(store.list(&owner).await.unwrap().is_empty());
    assert_eq!(
        store
            .compare_and_swap(&owner, &id, stale, &Credentials::bearer("x"))
            .await
            .unwrap(),
        None,
        "a deleted row cannot be swapped"
    );

    let fresh = store
        .put(&owner, &id, &Credentials::bearer("reconnected"))
        .await
        .unwrap();
    assert!(fresh > stale, "version {fresh} after {stale}");
    let fresh = store
        .compare_and_swap(&owner, &id, fresh, &Credentials::bearer("rotated"))
        .await
        .unwrap()
        .unwrap();
    assert!(fresh > stale);
    assert_eq!(
        store
            .compare_and_swap(&owner, &id, stale, &Credentials::bearer("stale write"))
            .await
            .unwrap(),
        None,
        "the holder of the old row's version is refused"
    );
    let current = store.get(&owner, &id).await.unwrap().unwrap();
    assert_eq!(current.version, fresh);
    let CredentialKind::Bearer { token } = &current.value.kind else {
        panic!("bearer")
    };
    assert_eq!(token.expose_secret(), "rotated");
    assert_eq!(store.list(&owner).await.unwrap(), [id]);
}

#[tokio::test]
async fn versions_never_repeat_after_delete_in_sqlite() {
    let db = Db::new();
    a_stale_version_never_matches_a_new_row(&db.open("k1", None).await).await;
}

#[tokio::test]
async fn versions_never_repeat_after_delete_in_memory() {
    a_stale_version_never_matches_a_new_row(&MemoryStore::new()).await;
}

/// Review item 3: a store must keep the refresh lease; the SQLite store
/// seals it with the row.
#[tokio::test]
async fn the_refresh_lease_round_trips_through_sqlite() {
    let db = Db::new();
    let store = db.open("k1", None).await;
    let (owner, id) = (tenant("user"), connection("slack", "lease"));
    let until = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let mut credentials = Credentials::oauth2("a", Some("r".into()), None);
    credentials.refresh_lease = Some(RefreshLease::new("manager-7", until));
    store.put(&owner, &id, &credentials).await.unwrap();
    let stored = store.get(&owner, &id).await.unwrap().unwrap().value;
    assert_eq!(
        stored.refresh_lease,
        Some(RefreshLease::new("manager-7", until))
    );
}
