//! The contract every `CredentialStore` keeps, as functions over two
//! handles on one store (two pools on one database, two stores on one
//! file, or one store twice), and what the tests share.
#![allow(dead_code, unreachable_pub)] // each test file uses its own part

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use integrations_core::credentials::{
    CredentialKind, CredentialStatus, CredentialStore, Credentials, OAuth2Token, RefreshLease,
};
use integrations_core::{ConnectionId, TenantId};
use secrecy::{ExposeSecret, SecretString};

pub fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

pub fn connection(provider: &str, name: &str) -> ConnectionId {
    ConnectionId::new(provider, name).unwrap()
}

/// One of each kind, each with a distinctive secret.
pub fn samples() -> Vec<(ConnectionId, Credentials, Vec<&'static str>)> {
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

pub fn secrets_of(credentials: &Credentials) -> Vec<String> {
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

/// Runs every check of the contract; `first` and `second` are two handles
/// on one store.
pub async fn conformance(first: Arc<dyn CredentialStore>, second: Arc<dyn CredentialStore>) {
    every_kind_round_trips(&*first, &*second).await;
    tenants_are_isolated(&*first).await;
    compare_and_swap_is_atomic_across_handles(first.clone(), second.clone()).await;
    a_stale_version_never_matches_a_new_row(&*first).await;
    the_refresh_lease_round_trips(&*first, &*second).await;
    a_read_for_refresh_leases_only_a_due_free_refreshable_row(&*first, &*second).await;
    of_reads_for_refresh_at_once_one_takes_the_lease(first, second).await;
}

/// Every kind of credentials, written through one handle, reads back
/// whole through the other, at the version the put returned; a put counts
/// the version up; delete, list.
async fn every_kind_round_trips(first: &dyn CredentialStore, second: &dyn CredentialStore) {
    let owner = tenant("round-trip");
    let mut versions = Vec::new();
    for (id, credentials, _) in samples() {
        versions.push(first.put(&owner, &id, &credentials).await.unwrap());
    }
    for ((id, credentials, _), version) in samples().into_iter().zip(&versions) {
        let stored = second.get(&owner, &id).await.unwrap().expect("stored");
        assert_eq!(stored.version, *version);
        assert_eq!(stored.value.kind.name(), credentials.kind.name());
        assert_eq!(secrets_of(&stored.value), secrets_of(&credentials));
        assert_eq!(stored.value.metadata, credentials.metadata);
        assert_eq!(stored.value.expires_at, credentials.expires_at);
    }
    let listed: Vec<String> = second
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
    let before = second.get(&owner, &id).await.unwrap().unwrap().version;
    let after = first
        .put(&owner, &id, &Credentials::bearer("v2"))
        .await
        .unwrap();
    assert!(after > before, "a put counts the version up");
    assert!(second.delete(&owner, &id).await.unwrap());
    assert!(!first.delete(&owner, &id).await.unwrap());
    assert!(first.get(&owner, &id).await.unwrap().is_none());
}

/// One tenant never sees, swaps or deletes another's row.
async fn tenants_are_isolated(store: &dyn CredentialStore) {
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
    let alice_row = store.get(&alice, &id).await.unwrap().unwrap().value;
    let bob_row = store.get(&bob, &id).await.unwrap().unwrap().value;
    assert_eq!(secrets_of(&alice_row), ["alice-token"]);
    assert_eq!(secrets_of(&bob_row), ["bob-token"]);
}

/// Four writers on two handles increment a counter by compare-and-swap:
/// no increment is lost, so each swap was atomic.
async fn compare_and_swap_is_atomic_across_handles(
    first: Arc<dyn CredentialStore>,
    second: Arc<dyn CredentialStore>,
) {
    let owner = tenant("counter");
    let id = connection("counter", "c");
    let start = first
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
            for _ in 0..25 {
                increment(&*store, &owner, &id).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let last = second.get(&owner, &id).await.unwrap().unwrap();
    assert_eq!(last.value.metadata["n"], "100", "no increment was lost");
    assert_eq!(last.version, start + 100);
}

/// Adds one to the counter in the row's metadata (`n`) by
/// compare-and-swap, reading again until a swap succeeds.
pub async fn increment(store: &dyn CredentialStore, owner: &TenantId, id: &ConnectionId) {
    loop {
        let current = store.get(owner, id).await.unwrap().unwrap();
        let n: u64 = current.value.metadata["n"].parse().unwrap();
        let next = current.value.with_metadata("n", (n + 1).to_string());
        if store
            .compare_and_swap(owner, id, current.version, &next)
            .await
            .unwrap()
            .is_some()
        {
            return;
        }
    }
}

/// A store keeps the refresh lease with the row.
async fn the_refresh_lease_round_trips(first: &dyn CredentialStore, second: &dyn CredentialStore) {
    let (owner, id) = (tenant("lease"), connection("slack", "lease"));
    let until = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let mut credentials = Credentials::oauth2("a", Some("r".into()), None);
    credentials.refresh_lease = Some(RefreshLease::new("manager-7", until));
    first.put(&owner, &id, &credentials).await.unwrap();
    let stored = second.get(&owner, &id).await.unwrap().unwrap().value;
    assert_eq!(
        stored.refresh_lease,
        Some(RefreshLease::new("manager-7", until))
    );
}

/// Review item 4: a connection deleted and put again restarted at version 1,
/// so a compare-and-swap holding the old row's version succeeded on the new
/// row (ABA). Versions now never repeat for a connection.
async fn a_stale_version_never_matches_a_new_row(store: &dyn CredentialStore) {
    let owner = tenant("aba");
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

/// `get_for_refresh` takes the lease exactly where the contract says:
/// active OAuth 2 tokens with a refresh token, due, and free (no lease,
/// an expired one, or the caller's own); everything else reads as `get`
/// does and is left unwritten.
async fn a_read_for_refresh_leases_only_a_due_free_refreshable_row(
    first: &dyn CredentialStore,
    second: &dyn CredentialStore,
) {
    let owner = tenant("lease-in-read");
    let now = Utc::now();
    let (past, due) = (
        now - chrono::Duration::minutes(1),
        now + chrono::Duration::minutes(5),
    );
    let later = now + chrono::Duration::hours(1);
    let ours = RefreshLease::new("manager-ours", now + chrono::Duration::seconds(30));
    let expired = || Credentials::oauth2("a", Some("r".into()), Some(past));
    let leased = |owner: &str, until| {
        let mut credentials = expired();
        credentials.refresh_lease = Some(RefreshLease::new(owner, until));
        credentials
    };
    let mut dead = expired();
    dead.status = CredentialStatus::NeedsReauth;
    let mut bearer = Credentials::bearer("b");
    bearer.expires_at = Some(past);
    let cases = [
        ("due", expired(), true),
        (
            "another-s-lease-ran-out",
            leased("manager-other", past),
            true,
        ),
        ("our-own-old-lease", leased("manager-ours", later), true),
        (
            "fresh",
            Credentials::oauth2("a", Some("r".into()), Some(later)),
            false,
        ),
        (
            "no-expiry",
            Credentials::oauth2("a", Some("r".into()), None),
            false,
        ),
        (
            "no-refresh-token",
            Credentials::oauth2("a", None, Some(past)),
            false,
        ),
        ("needs-reauth", dead, false),
        ("expired-bearer", bearer, false),
        ("held", leased("manager-other", later), false),
    ];
    for (name, credentials, takes) in cases {
        let id = connection("lease", name);
        let version = first.put(&owner, &id, &credentials).await.unwrap();
        let read = second
            .get_for_refresh(&owner, &id, &ours, due)
            .await
            .unwrap()
            .expect("stored");
        let now_stored = first.get(&owner, &id).await.unwrap().unwrap();
        assert_eq!(secrets_of(&read.value), secrets_of(&credentials), "{name}");
        if takes {
            assert_eq!(read.value.refresh_lease.as_ref(), Some(&ours), "{name}");
            assert!(read.version > version, "{name}: the lease is a write");
            assert_eq!(now_stored.version, read.version, "{name}");
            assert_eq!(
                now_stored.value.refresh_lease.as_ref(),
                Some(&ours),
                "{name}"
            );
        } else {
            assert_ne!(read.value.refresh_lease.as_ref(), Some(&ours), "{name}");
            assert_eq!(read.version, version, "{name}: nothing written");
            assert_eq!(now_stored.version, version, "{name}");
            assert_eq!(
                read.value.refresh_lease, credentials.refresh_lease,
                "{name}: the row's own lease, as read"
            );
        }
    }
    let missing = connection("lease", "missing");
    assert!(
        second
            .get_for_refresh(&owner, &missing, &ours, due)
            .await
            .unwrap()
            .is_none()
    );
}

/// Eight callers on two handles read the same due row for refresh at
/// once: exactly one takes the lease, and the others' rows are not leased
/// to them. Returns the lease taken and the leases the others read.
pub async fn of_reads_for_refresh_at_once_one_takes_the_lease(
    first: Arc<dyn CredentialStore>,
    second: Arc<dyn CredentialStore>,
) -> (RefreshLease, Vec<Option<RefreshLease>>) {
    let (owner, id) = (tenant("lease-race"), connection("lease", "race"));
    let now = Utc::now();
    let expired = Credentials::oauth2(
        "a",
        Some("r".into()),
        Some(now - chrono::Duration::minutes(1)),
    );
    first.put(&owner, &id, &expired).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let (owner, id) = (owner.clone(), id.clone());
        let lease = RefreshLease::new(format!("manager-{n}"), now + chrono::Duration::seconds(30));
        tasks.spawn(async move {
            let read = store
                .get_for_refresh(&owner, &id, &lease, now)
                .await
                .unwrap()
                .unwrap();
            let took = read.value.refresh_lease.as_ref() == Some(&lease);
            (took, read.value.refresh_lease)
        });
    }
    let (mut taken, mut others) = (Vec::new(), Vec::new());
    while let Some(read) = tasks.join_next().await {
        match read.unwrap() {
            (true, lease) => taken.extend(lease),
            (false, lease) => others.push(lease),
        }
    }
    assert_eq!(taken.len(), 1, "one caller took the lease");
    (taken.remove(0), others)
}
