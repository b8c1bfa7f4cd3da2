//! The OAuth 2 code flow against a fake authorization server on 127.0.0.1
//! that checks the PKCE verifier: states refused when unknown, expired,
//! replayed or another tenant's; tokens stored sealed in a real SQLite
//! file; the later refresh through the TokenManager; `invalid_grant`
//! marking the connection, with one event; the client credentials grant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use integrations_core::credentials::{
    CredentialKind, CredentialStore, EncryptionKey, KeyRing, SqliteStore, TokenManager,
};
use integrations_core::error::CredentialError;
use integrations_core::events::BroadcastSink;
use integrations_core::id::KeyId;
use integrations_core::{ConnectionId, TenantId};
use integrations_fakes::{FakeServer, Recorded, Reply};
use integrations_vendor::Error;
use integrations_vendor::oauth::{OAuthClient, OAuthFlow, OAuthProvider, StateRefusal};
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::Digest;

/// The fake authorization server's memory.
#[derive(Default)]
struct Authority {
    /// Codes the "user" approved, with the PKCE challenge they were issued
    /// for.
    codes: HashMap<String, String>,
    /// The refresh token that is still valid, if any.
    refresh: Option<String>,
    issued: u32,
}

fn form(request: &Recorded) -> HashMap<String, String> {
    reqwest::Url::parse(&format!(
        "http://x/?{}",
        String::from_utf8_lossy(&request.body)
    ))
    .unwrap()
    .query_pairs()
    .into_owned()
    .collect()
}

fn oauth_error(code: &str) -> Reply {
    Reply::json(
        400,
        json!({"error": code, "error_description": format!("fake says {code}")}),
    )
}

/// A token endpoint that checks the client, the PKCE verifier against the
/// challenge, single-use codes and rotating refresh tokens.
fn token_endpoint(fake: &FakeServer, authority: Arc<Mutex<Authority>>) {
    fake.route("POST", "/oauth/token", move |request| {
        let form = form(request);
        if form.get("client_id").map(String::as_str) != Some("app-1")
            || form.get("client_secret").map(String::as_str) != Some("SECRET-client")
        {
            return oauth_error("invalid_client");
        }
        let mut authority = authority.lock().unwrap();
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let Some(challenge) = form.get("code").and_then(|code| authority.codes.remove(code))
                else {
                    return oauth_error("invalid_grant");
                };
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if computed != challenge {
                    return oauth_error("invalid_grant");
                }
                if form.get("redirect_uri").map(String::as_str) != Some("http://127.0.0.1:1/callback") {
                    return oauth_error("invalid_grant");
                }
            }
            Some("refresh_token") => {
                if form.get("refresh_token") != authority.refresh.as_ref() {
                    return oauth_error("invalid_grant");
                }
            }
            Some("client_credentials") => {
                return Reply::json(200, json!({"access_token": "SECRET-machine", "token_type": "Bearer", "expires_in": 3600}));
            }
            _ => return oauth_error("unsupported_grant_type"),
        }
        authority.issued += 1;
        let n = authority.issued;
        authority.refresh = Some(format!("SECRET-rt-{n}"));
        Reply::json(
            200,
            json!({
                "access_token": format!("SECRET-at-{n}"),
                "refresh_token": format!("SECRET-rt-{n}"),
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "read write",
            }),
        )
    });
}

/// The user approves at the provider: the code is bound to the URL's
/// challenge.
fn approve(authority: &Mutex<Authority>, url: &str, code: &str) {
    let url = reqwest::Url::parse(url).unwrap();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    authority
        .lock()
        .unwrap()
        .codes
        .insert(code.to_owned(), query["code_challenge"].clone());
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_flow_end_to_end_with_pkce_sealed_storage_refresh_and_invalid_grant() {
    let fake = FakeServer::start().await;
    let authority = Arc::new(Mutex::new(Authority::default()));
    token_endpoint(&fake, authority.clone());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("credentials.db");
    let keys = KeyRing::new(
        KeyId::new("k1").unwrap(),
        EncryptionKey::from_bytes([7; 32]),
    );
    let store: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(&db, keys).await.unwrap());
    let provider = OAuthProvider::linear()
        .with_endpoints(fake.url("/oauth/authorize"), fake.url("/oauth/token"));
    let client = OAuthClient::new(
        provider,
        "app-1",
        Some("SECRET-client".to_owned().into()),
        "http://127.0.0.1:1/callback",
    )
    .unwrap();
    let flow = OAuthFlow::new(client.clone(), store.clone());
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let connection = ConnectionId::new("linear", "default").unwrap();

    // The URL the user is sent to.
    let started = flow.start(&alice, &connection);
    let url = reqwest::Url::parse(&started.url).unwrap();
    assert!(started.url.starts_with(&fake.url("/oauth/authorize")));
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "app-1");
    assert_eq!(query["redirect_uri"], "http://127.0.0.1:1/callback");
    assert_eq!(query["state"], started.state);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["scope"], "read write");
    assert!(!started.url.contains("SECRET"), "no secret in the URL");

    // Refusals: another tenant, an unknown state.
    approve(&authority, &started.url, "code-1");
    let refused = |result: Result<ConnectionId, Error>| match result {
        Err(Error::OAuthState { reason, .. }) => reason,
        other => panic!("expected a refused state, got {other:?}"),
    };
    assert_eq!(
        refused(flow.callback(&bob, &started.state, "code-1").await),
        StateRefusal::OtherTenant
    );
    assert_eq!(
        refused(flow.callback(&alice, "made-up-state", "code-1").await),
        StateRefusal::Unknown
    );
    assert_eq!(
        refused(flow.callback(&alice, &started.state, "code-1").await),
        StateRefusal::Replayed,
        "a state tried once is spent"
    );
    assert!(
        fake.requests("/oauth/token").is_empty(),
        "no code was exchanged"
    );

    // The real thing.
    let started = flow.start(&alice, &connection);
    approve(&authority, &started.url, "code-2");
    let stored_for = flow
        .callback(&alice, &started.state, "code-2")
        .await
        .unwrap();
    assert_eq!(stored_for, connection);
    assert_eq!(
        refused(flow.callback(&alice, &started.state, "code-2").await),
        StateRefusal::Replayed
    );
    let exchange = &fake.requests("/oauth/token")[0];
    let sent = form(exchange);
    assert_eq!(sent["grant_type"], "authorization_code");
    assert!(
        sent["code_verifier"].len() >= 43,
        "a PKCE verifier was sent"
    );

    let stored = store.get(&alice, &connection).await.unwrap().unwrap().value;
    let CredentialKind::OAuth2(token) = &stored.kind else {
        panic!("oauth2 credentials")
    };
    assert_eq!(token.access_token.expose_secret(), "SECRET-at-1");
    assert_eq!(
        token.refresh_token.as_ref().unwrap().expose_secret(),
        "SECRET-rt-1"
    );
    assert_eq!(token.scopes, ["read", "write"]);
    assert_eq!(stored.metadata["oauth_provider"], "linear");
    let expires = stored.expires_at.unwrap() - chrono::Utc::now();
    assert!(expires > chrono::Duration::minutes(59), "{expires}");
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(6).any(|window| window == b"SECRET"),
            "sealed at rest"
        );
    }

    // An expired state.
    let hasty = OAuthFlow::new(client.clone(), store.clone()).state_ttl(Duration::ZERO);
    let started = hasty.start(&alice, &connection);
    approve(&authority, &started.url, "code-3");
    assert_eq!(
        refused(hasty.callback(&alice, &started.state, "code-3").await),
        StateRefusal::Expired
    );

    // Later: the token nears expiry and the TokenManager refreshes it.
    let events = BroadcastSink::new(16);
    let mut received = events.subscribe();
    let tokens = TokenManager::builder(store.clone(), Arc::new(client.clone()))
        .margin(Duration::from_secs(7200))
        .events(events)
        .build()
        .unwrap();
    let token = tokens.access_token(&alice, &connection).await.unwrap();
    assert_eq!(token.expose_secret(), "SECRET-at-2");
    let refreshed = form(fake.requests("/oauth/token").last().unwrap());
    assert_eq!(refreshed["grant_type"], "refresh_token");
    assert_eq!(refreshed["refresh_token"], "SECRET-rt-1");

    // The provider revokes the grant: invalid_grant marks the connection.
    authority.lock().unwrap().refresh = None;
    tokens.invalidate(&alice, &connection);
    for _ in 0..2 {
        let err = tokens.access_token(&alice, &connection).await.unwrap_err();
        assert!(
            matches!(
                err,
                integrations_core::Error::Credentials(CredentialError::NeedsReauth { .. })
            ),
            "{err:?}"
        );
    }
    let mut kinds = Vec::new();
    while let Ok(event) = received.try_recv() {
        kinds.push(event.kind.name());
    }
    assert_eq!(
        kinds,
        ["token_refreshed", "needs_reauth"],
        "one event per change"
    );
    assert!(matches!(
        tokens.access_token(&alice, &connection).await,
        Err(integrations_core::Error::Credentials(
            CredentialError::NeedsReauth { .. }
        ))
    ));
    assert!(
        received.try_recv().is_err(),
        "no further event: the state did not change"
    );
}

#[tokio::test]
async fn client_credentials_and_token_endpoint_errors() {
    let fake = FakeServer::start().await;
    token_endpoint(&fake, Arc::default());
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let provider = OAuthProvider::new(
        "acme",
        "Acme",
        fake.url("/oauth/authorize"),
        fake.url("/oauth/token"),
    );
    let machine = ConnectionId::new("acme", "machine").unwrap();
    let client = OAuthClient::new(
        provider.clone(),
        "app-1",
        Some("SECRET-client".to_owned().into()),
        "http://127.0.0.1:1/callback",
    )
    .unwrap();
    client
        .client_credentials(&*store, &tenant("alice"), &machine)
        .await
        .unwrap();
    let stored = store
        .get(&tenant("alice"), &machine)
        .await
        .unwrap()
        .unwrap()
        .value;
    let CredentialKind::OAuth2(token) = &stored.kind else {
        panic!("oauth2")
    };
    assert_eq!(token.access_token.expose_secret(), "SECRET-machine");

    let wrong = OAuthClient::new(
        provider,
        "app-1",
        Some("SECRET-wrong".to_owned().into()),
        "http://127.0.0.1:1/callback",
    )
    .unwrap();
    let err = wrong
        .client_credentials(&*store, &tenant("alice"), &machine)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::OAuth { code, .. } if code == "invalid_client"),
        "{err:?}"
    );
    assert!(
        !format!("{err} {err:?} {wrong:?}").contains("SECRET"),
        "{err:?}"
    );
}

#[test]
fn the_builtin_providers_are_in_the_catalog() {
    let catalog = OAuthProvider::catalog(&OAuthProvider::builtin()).unwrap();
    let slugs: Vec<&str> = catalog.entries().iter().map(|e| e.slug.as_str()).collect();
    assert_eq!(slugs, ["slack", "notion", "github", "google", "linear"]);
    let google = OAuthProvider::google();
    assert!(
        google
            .extra_params
            .contains(&("access_type".into(), "offline".into()))
    );
    assert!(OAuthProvider::notion().basic_auth);
}

#[tokio::test]
async fn a_tenant_keeps_at_most_16_started_authorizations_and_others_keep_theirs() {
    // Security review, finding 12: pending states had no bound, and every
    // start scanned them all under one lock.
    let fake = FakeServer::start().await;
    let authority = Arc::new(Mutex::new(Authority::default()));
    token_endpoint(&fake, authority.clone());
    let provider = OAuthProvider::linear()
        .with_endpoints(fake.url("/oauth/authorize"), fake.url("/oauth/token"));
    let client = OAuthClient::new(
        provider,
        "app-1",
        Some("SECRET-client".to_owned().into()),
        "http://127.0.0.1:1/callback",
    )
    .unwrap();
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let flow = OAuthFlow::new(client, store);
    let connection = ConnectionId::new("linear", "default").unwrap();
    let (mallory, bob) = (tenant("mallory"), tenant("bob"));
    let bobs = flow.start(&bob, &connection);
    let started: Vec<_> = (0..20).map(|_| flow.start(&mallory, &connection)).collect();
    for old in &started[..4] {
        let refused = flow
            .callback(&mallory, &old.state, "code")
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                integrations_vendor::Error::OAuthState {
                    reason: StateRefusal::Unknown,
                    ..
                }
            ),
            "{refused}"
        );
    }
    approve(&authority, &bobs.url, "code-bob");
    flow.callback(&bob, &bobs.state, "code-bob")
        .await
        .expect("another tenant's flow is untouched");
    let newest = started.last().unwrap();
    approve(&authority, &newest.url, "code-m");
    flow.callback(&mallory, &newest.state, "code-m")
        .await
        .unwrap();
}

/// Security review, redirect matrix: a token endpoint that answers 307 to
/// another origin gets none of the three grants forwarded there (the code
/// with its PKCE verifier, the refresh token, the client secret); each ends
/// in a typed error that quotes no secret.
#[tokio::test]
async fn no_grant_follows_a_token_endpoint_redirect_to_another_origin() {
    let (fake, elsewhere) = (FakeServer::start().await, FakeServer::start().await);
    elsewhere.route("POST", "/oauth/token", |_| {
        Reply::json(
            200,
            json!({"access_token": "stolen", "token_type": "Bearer"}),
        )
    });
    let moved = Reply::text(307, "").header("location", &elsewhere.url("/oauth/token"));
    let issued = Reply::json(
        200,
        json!({"access_token": "SECRET-at-1", "refresh_token": "SECRET-rt-1",
               "token_type": "Bearer", "expires_in": 0}),
    );
    // The first exchange is answered (with a token already expired, so
    // the TokenManager must refresh); every later request is moved.
    fake.script("POST", "/oauth/token", vec![issued, moved]);
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let provider = OAuthProvider::linear()
        .with_endpoints(fake.url("/oauth/authorize"), fake.url("/oauth/token"));
    let client = OAuthClient::new(
        provider,
        "app-1",
        Some("SECRET-client".to_owned().into()),
        "http://127.0.0.1:1/callback",
    )
    .unwrap();
    let flow = OAuthFlow::new(client.clone(), store.clone());
    let alice = tenant("alice");
    let connection = ConnectionId::new("linear", "default").unwrap();
    let started = flow.start(&alice, &connection);
    flow.callback(&alice, &started.state, "code-1")
        .await
        .unwrap();

    // The refresh grant, through the TokenManager.
    let tokens = TokenManager::builder(store.clone(), Arc::new(client.clone()))
        .build()
        .unwrap();
    let refresh = tokens.access_token(&alice, &connection).await.unwrap_err();
    // The authorization code grant.
    let started = flow.start(&alice, &connection);
    let exchange = flow
        .callback(&alice, &started.state, "code-2")
        .await
        .unwrap_err();
    assert!(matches!(exchange, Error::OAuth { .. }), "{exchange:?}");
    // The client credentials grant.
    let machine = ConnectionId::new("linear", "machine").unwrap();
    let grant = client
        .client_credentials(&*store, &alice, &machine)
        .await
        .unwrap_err();
    assert!(matches!(grant, Error::OAuth { .. }), "{grant:?}");

    assert_eq!(
        fake.requests("/oauth/token").len(),
        4,
        "each grant was tried"
    );
    assert!(
        elsewhere.all_requests().is_empty(),
        "a grant crossed origins: {:?}",
        elsewhere.all_requests()
    );
    let said = format!("{refresh} {refresh:?} {exchange} {exchange:?} {grant} {grant:?}");
    assert!(said.contains("307"), "the errors say what happened: {said}");
    assert!(!said.contains("SECRET"), "{said}");
}
