//! The authorization code flow against a real authorization server on
//! loopback (axum, in this test): discovery, dynamic registration, the code
//! flow with PKCE, tokens sealed in an SQLite file, a restarted pool reusing
//! them, a refresh on expiry made once for 50 concurrent calls, a refused
//! refresh token sending the tenant back to authorise (one event).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use integrations_core::credentials::{
    CredentialKind, CredentialStatus, CredentialStore, EncryptionKey, KeyRing, SqliteStore,
};
use integrations_core::events::{BroadcastSink, EventKind};
use integrations_core::id::KeyId;
use integrations_core::id::ServerName;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, ConnectionId, Integration, Registry,
    Runtime, TenantId, async_trait,
};
use integrations_mcp::client::{McpAuthorization, ToolResultExt};
use integrations_mcp::{Bridge, Error, McpPool, SessionKey};
use serde_json::{Value, json};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

/// The authorization server's state, and what it saw.
#[derive(Default)]
struct Auth {
    base: String,
    /// Seconds the first access token (from the code) lives.
    first_lifetime: AtomicU64,
    /// Refuse every refresh with `invalid_grant`.
    refuse_refresh: std::sync::atomic::AtomicBool,
    registrations: AtomicU64,
    authorizations: AtomicU64,
    refreshes: AtomicU64,
    /// Codes issued, with their PKCE challenge.
    codes: Mutex<HashMap<String, String>>,
    /// Access tokens issued, with when they expire.
    tokens: Mutex<HashMap<String, Instant>>,
    /// The refresh token currently valid (they rotate).
    refresh_token: Mutex<Option<String>>,
    /// The tokens the MCP endpoint was called with, in order.
    presented: Mutex<Vec<String>>,
    issued: AtomicU64,
    /// A scope every request needs beyond what tokens carry: a valid token
    /// then gets 403 `insufficient_scope` naming it.
    require_scope: Mutex<Option<String>>,
    /// Where a request with a valid token is sent instead (a 307), as an
    /// open redirect on the server would.
    redirect_to: Mutex<Option<String>>,
    /// Every bearer token the MCP endpoint received, valid or not.
    received: Mutex<Vec<String>>,
    /// A token endpoint the metadata names instead of its own.
    token_endpoint: Mutex<Option<String>>,
    /// Where the token endpoint sends every request instead (a 307).
    token_redirect: Mutex<Option<String>>,
    /// Requests the token endpoint received.
    token_requests: AtomicU64,
}

impl Auth {
    fn issue(&self, lifetime: u64) -> Value {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let (access, refresh) = (format!("at-{n}"), format!("rt-{n}"));
        self.tokens.lock().unwrap().insert(
            access.clone(),
            Instant::now() + Duration::from_secs(lifetime),
        );
        *self.refresh_token.lock().unwrap() = Some(refresh.clone());
        json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime,
               "refresh_token": refresh, "scope": "notes"})
    }
}

async fn authorization_server_metadata(State(auth): State<Arc<Auth>>) -> Json<Value> {
    let base = &auth.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": auth.token_endpoint.lock().unwrap().clone().unwrap_or(format!("{base}/token")),
        "registration_endpoint": format!("{base}/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
}

async fn resource_metadata(State(auth): State<Arc<Auth>>) -> Json<Value> {
    Json(json!({"resource": format!("{}/mcp", auth.base), "authorization_servers": [auth.base]}))
}

async fn register(State(auth): State<Arc<Auth>>, Json(client): Json<Value>) -> Response {
    auth.registrations.fetch_add(1, Ordering::SeqCst);
    let body = json!({
        "client_id": "registered-client", "redirect_uris": client["redirect_uris"],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// The user approves at once.
async fn authorize(
    State(auth): State<Arc<Auth>>,
    Query(asked): Query<HashMap<String, String>>,
) -> Response {
    if asked.get("code_challenge_method").map(String::as_str) != Some("S256")
        || asked.get("resource") != Some(&format!("{}/mcp", auth.base))
    {
        return (
            StatusCode::BAD_REQUEST,
            "PKCE S256 and the resource are required",
        )
            .into_response();
    }
    let n = auth.authorizations.fetch_add(1, Ordering::SeqCst) + 1;
    let code = format!("code-{n}");
    auth.codes
        .lock()
        .unwrap()
        .insert(code.clone(), asked["code_challenge"].clone());
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        asked["redirect_uri"], asked["state"]
    ))
    .into_response()
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

async fn token(
    State(auth): State<Arc<Auth>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    auth.token_requests.fetch_add(1, Ordering::SeqCst);
    if let Some(elsewhere) = auth.token_redirect.lock().unwrap().clone() {
        return (StatusCode::TEMPORARY_REDIRECT, [("location", elsewhere)]).into_response();
    }
    if form.get("resource") != Some(&format!("{}/mcp", auth.base)) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_target"})),
        )
            .into_response();
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let verified = form
                .get("code")
                .and_then(|code| auth.codes.lock().unwrap().remove(code))
                .is_some_and(|challenge| {
                    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(sha2::Sha256::digest(verifier.as_bytes()))
                        == challenge
                });
            if !verified {
                return invalid_grant();
            }
            Json(auth.issue(auth.first_lifetime.load(Ordering::SeqCst))).into_response()
        }
        Some("refresh_token") => {
            auth.refreshes.fetch_add(1, Ordering::SeqCst);
            // Let concurrent refreshes (if the client made any) overlap.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let current = auth.refresh_token.lock().unwrap().clone();
            if auth.refuse_refresh.load(Ordering::SeqCst)
                || form.get("refresh_token") != current.as_ref()
            {
                return invalid_grant();
            }
            Json(auth.issue(3600)).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response(),
    }
}

/// The protected resource: an unexpired token, or a 401 naming the
/// resource metadata.
async fn bearer_check(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if let Some(token) = presented {
        auth.received.lock().unwrap().push(token.clone());
        let valid = auth
            .tokens
            .lock()
            .unwrap()
            .get(&token)
            .is_some_and(|until| *until > Instant::now());
        let wanted = auth.require_scope.lock().unwrap().clone();
        if let (true, Some(scope)) = (valid, wanted) {
            let challenge = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
                auth.base
            );
            return (StatusCode::FORBIDDEN, [("www-authenticate", challenge)]).into_response();
        }
        let elsewhere = auth.redirect_to.lock().unwrap().clone();
        if let (true, Some(elsewhere)) = (valid, elsewhere) {
            return (StatusCode::TEMPORARY_REDIRECT, [("location", elsewhere)]).into_response();
        }
        if valid {
            auth.presented.lock().unwrap().push(token);
            return next.run(request).await;
        }
    }
    let challenge = format!(
        "Bearer error=\"invalid_token\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        auth.base
    );
    (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)]).into_response()
}

struct Notes;

#[async_trait]
impl Integration for Notes {
    fn id(&self) -> &str {
        "notes"
    }
    fn name(&self) -> &str {
        "Notes"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("latest", "The latest note")]
    }
    async fn handle(&self, _: Action) -> Result<ActionResult, BoxError> {
        Ok(ActionResult::ok(json!("Buy milk")))
    }
}

/// A protected MCP server and its authorization server; the first access
/// token lives `first_lifetime` seconds.
async fn protected_server(first_lifetime: u64) -> (Arc<Auth>, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut registry = Registry::new();
    registry.register(Arc::new(Notes)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"notes\"]").unwrap();
    let runtime = Arc::new(Runtime::builder(registry).start(&config).await);
    let auth = Arc::new(Auth {
        base,
        first_lifetime: AtomicU64::new(first_lifetime),
        ..Auth::default()
    });
    let stop = CancellationToken::new();
    let mcp = Bridge::new(runtime)
        .router(&stop)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&auth),
            bearer_check,
        ));
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(authorization_server_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(resource_metadata),
        )
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(Arc::clone(&auth))
        .merge(mcp);
    let serving = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(serving.cancelled_owned())
            .await
    });
    (auth, stop)
}

fn keys() -> KeyRing {
    KeyRing::new(
        KeyId::new("k1").unwrap(),
        EncryptionKey::from_bytes([7; 32]),
    )
}

fn pool(base: &str, store: Arc<dyn CredentialStore>, events: Option<BroadcastSink>) -> McpPool {
    let builder = McpPool::builder()
        .server(
            ServerName::from_static("notes"),
            Bridge::http_entry(format!("{base}/mcp")),
        )
        .authorization(
            ServerName::from_static("notes"),
            McpAuthorization::authorization_code(format!("{base}/callback")),
        )
        .credential_store(store)
        .call_timeout(Duration::from_secs(20));
    match events {
        Some(events) => builder.events(events),
        None => builder,
    }
    .build()
}

fn ada() -> SessionKey {
    SessionKey::new(
        TenantId::new("ada").unwrap(),
        ServerName::from_static("notes"),
    )
}

/// Walks the user through: the pool's error names the URL, the browser
/// follows it, the host's callback completes the flow.
async fn authorise(pool: &McpPool, key: &SessionKey) {
    let error = pool.list_tools(key).await.unwrap_err();
    let Error::AuthorizationRequired { url, server, .. } = &error else {
        panic!("expected AuthorizationRequired, got {error:?}")
    };
    assert_eq!(server, "notes");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let callback = answer.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        pool.complete_authorization(&key.tenant, &callback)
            .await
            .unwrap(),
        "notes"
    );
}

async fn latest(pool: &McpPool, key: &SessionKey) -> Result<String, Error> {
    Ok(pool
        .call_tool(key, "notes__latest", json!({}))
        .await?
        .text())
}

async fn sealed(
    store: &dyn CredentialStore,
    key: &SessionKey,
) -> integrations_core::credentials::Credentials {
    store
        .get(&key.tenant, &ConnectionId::new("mcp", "notes").unwrap())
        .await
        .unwrap()
        .expect("sealed tokens")
        .value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_flow_seals_tokens_in_sqlite_and_a_restarted_pool_reuses_them() {
    let (auth, stop) = protected_server(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let store: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(&path, keys()).await.unwrap());
    let key = ada();
    let first = pool(&auth.base, Arc::clone(&store), None);
    authorise(&first, &key).await;
    assert_eq!(
        auth.registrations.load(Ordering::SeqCst),
        1,
        "registered once"
    );
    assert_eq!(latest(&first, &key).await.unwrap(), "Buy milk");

    let credentials = sealed(store.as_ref(), &key).await;
    let CredentialKind::OAuth2(token) = &credentials.kind else {
        panic!("OAuth 2 tokens")
    };
    assert!(token.refresh_token.is_some());
    assert!(credentials.expires_at.is_some());
    let other = SessionKey::new(
        TenantId::new("grace").unwrap(),
        ServerName::from_static("notes"),
    );
    assert!(
        matches!(
            first.list_tools(&other).await,
            Err(Error::AuthorizationRequired { .. })
        ),
        "another tenant has its own authorization"
    );
    let registrations = auth.registrations.load(Ordering::SeqCst);
    first.shutdown(Duration::from_secs(5)).await;
    drop(store);
    let file = std::fs::read(&path).unwrap();
    for secret in ["at-1", "rt-1"] {
        assert!(
            !file.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is sealed, not plain, in the file"
        );
    }

    let store: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(&path, keys()).await.unwrap());
    let second = pool(&auth.base, store, None);
    assert_eq!(latest(&second, &key).await.unwrap(), "Buy milk");
    assert_eq!(
        auth.authorizations.load(Ordering::SeqCst),
        1,
        "no new authorization"
    );
    assert_eq!(
        auth.registrations.load(Ordering::SeqCst),
        registrations,
        "no new registration"
    );
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 0);
    second.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_refreshed_once_for_50_concurrent_calls() {
    // The pool refreshes 30 s before expiry: a 33 s token is good for 3 s.
    let (auth, stop) = protected_server(33).await;
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let key = ada();
    let pool = Arc::new(pool(&auth.base, Arc::clone(&store), None));
    authorise(&pool, &key).await;
    let issued = Instant::now();
    pool.list_tools(&key).await.unwrap();
    tokio::time::sleep(
        Duration::from_secs(3).saturating_sub(issued.elapsed()) + Duration::from_millis(300),
    )
    .await;
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 0, "not yet");

    let calls = (0..50).map(|_| {
        let (pool, key) = (Arc::clone(&pool), key.clone());
        tokio::spawn(async move { latest(&pool, &key).await })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap(), "Buy milk");
    }
    assert_eq!(
        auth.refreshes.load(Ordering::SeqCst),
        1,
        "one refresh for 50 calls"
    );
    let presented = auth.presented.lock().unwrap().clone();
    assert_eq!(presented.last().map(String::as_str), Some("at-2"));
    assert!(
        presented.iter().rev().take(50).all(|token| token == "at-2"),
        "every call after the refresh sent the new token: {presented:?}"
    );
    let CredentialKind::OAuth2(token) = sealed(store.as_ref(), &key).await.kind else {
        panic!("OAuth 2 tokens")
    };
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&token.refresh_token.unwrap()),
        "rt-2",
        "the rotated refresh token is sealed"
    );

    // The server revokes the token: a 401 refreshes once and the call goes through.
    auth.tokens.lock().unwrap().clear();
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 2);
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_sends_the_tenant_back_to_authorise_with_one_event() {
    let (auth, stop) = protected_server(3600).await;
    auth.refuse_refresh.store(true, Ordering::SeqCst);
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let events = BroadcastSink::new(64);
    let mut seen = events.subscribe();
    let key = ada();
    let pool = pool(&auth.base, Arc::clone(&store), Some(events));
    authorise(&pool, &key).await;
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");

    // The server revokes the token; the refresh is refused.
    auth.tokens.lock().unwrap().clear();
    let before = pool.metrics();
    let error = latest(&pool, &key).await.unwrap_err();
    assert!(
        matches!(error, Error::AuthorizationRequired { .. }),
        "the user is asked again: {error:?}"
    );
    let after = pool.metrics();
    assert_eq!(
        (after.connects, after.connect_failures),
        (before.connects, before.connect_failures),
        "the 401 is answered without connecting again"
    );
    for _ in 0..2 {
        let error = latest(&pool, &key).await.unwrap_err();
        assert!(
            matches!(error, Error::AuthorizationRequired { .. }),
            "the user is asked again: {error:?}"
        );
    }
    assert_eq!(
        auth.refreshes.load(Ordering::SeqCst),
        1,
        "a refused token is not tried again"
    );
    assert_eq!(
        sealed(store.as_ref(), &key).await.status,
        CredentialStatus::NeedsReauth
    );
    let mut needs_reauth = 0;
    while let Ok(event) = seen.try_recv() {
        if matches!(event.kind, EventKind::NeedsReauth { .. }) {
            needs_reauth += 1;
        }
    }
    assert_eq!(needs_reauth, 1, "one needs_reauth event");

    // The user authorises again, and the connection works.
    auth.refuse_refresh.store(false, Ordering::SeqCst);
    authorise(&pool, &key).await;
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");
    assert_eq!(
        sealed(store.as_ref(), &key).await.status,
        CredentialStatus::Active
    );
    assert_eq!(
        auth.registrations.load(Ordering::SeqCst),
        1,
        "the second authorization reuses the sealed registration"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// The state a refused connect gives a server (needs re-authorization)
/// ends when the user has authorised: the callback sets it back to ok, with
/// one event, before any call; a disconnect that forgets the authorization
/// sends the next connect to authorise again, whatever the pool held in
/// memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorising_ends_needs_reauth_and_forgetting_asks_again() {
    use integrations_core::health::HealthState;
    let (auth, stop) = protected_server(3600).await;
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let events = BroadcastSink::new(64);
    let mut seen = events.subscribe();
    let key = ada();
    let pool = pool(&auth.base, Arc::clone(&store), Some(events));
    let url = authorization_url(&pool, &key).await;
    assert_eq!(pool.health(&key).state, HealthState::NeedsReauth);
    pool.complete_authorization(&key.tenant, &approve(&url).await)
        .await
        .unwrap();
    assert_eq!(
        pool.health(&key).state,
        HealthState::Ok,
        "authorised: no longer waiting for the user"
    );
    // Events are delivered off the caller's task: wait for the two.
    let mut changes = Vec::new();
    while changes.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(5), seen.recv())
            .await
            .expect("two health changes within 5 s")
            .unwrap();
        if let EventKind::HealthChanged { from, to, .. } = event.kind {
            changes.push((from, to));
        }
    }
    assert_eq!(
        changes,
        [
            (HealthState::Ok, HealthState::NeedsReauth),
            (HealthState::NeedsReauth, HealthState::Ok)
        ]
    );
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");

    assert!(
        pool.forget_authorization(&key.tenant, &key.server)
            .await
            .unwrap()
    );
    assert!(
        !pool
            .forget_authorization(&key.tenant, &key.server)
            .await
            .unwrap(),
        "nothing left to forget"
    );
    assert!(
        store
            .get(&key.tenant, &ConnectionId::new("mcp", "notes").unwrap())
            .await
            .unwrap()
            .is_none(),
        "the sealed tokens are gone"
    );
    assert!(pool.close(&key).await, "the session closes");
    let error = pool.list_tools(&key).await.unwrap_err();
    assert!(
        matches!(error, Error::AuthorizationRequired { .. }),
        "asked again: {error:?}"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// The user's browser: approves and returns the callback URL.
async fn approve(url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    answer.headers()["location"].to_str().unwrap().to_owned()
}

async fn authorization_url(pool: &McpPool, key: &SessionKey) -> String {
    match pool.list_tools(key).await {
        Err(Error::AuthorizationRequired { url, .. }) => url,
        other => panic!("expected AuthorizationRequired, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_authorization_completes_after_a_restart_once_and_for_its_tenant_only() {
    let (auth, stop) = protected_server(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let open = || async { Arc::new(SqliteStore::open(&path, keys()).await.unwrap()) };
    let key = ada();
    let first = pool(&auth.base, open().await, None);
    let url = authorization_url(&first, &key).await;
    first.shutdown(Duration::from_secs(5)).await;
    drop(first);

    // The host restarted while the user was at the authorization server.
    let store: Arc<dyn CredentialStore> = open().await;
    let second = pool(&auth.base, Arc::clone(&store), None);
    let callback = approve(&url).await;
    let grace = TenantId::new("grace").unwrap();
    let refused = second
        .complete_authorization(&grace, &callback)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::CallbackRefused { message } if message.contains("state refused")),
        "another tenant's callback: {refused:?}"
    );
    assert!(refused.needs_reauth(), "the user starts again");
    assert_eq!(
        second
            .complete_authorization(&key.tenant, &callback)
            .await
            .unwrap(),
        "notes"
    );
    let replay = second
        .complete_authorization(&key.tenant, &callback)
        .await
        .unwrap_err();
    assert!(
        replay.to_string().contains("state refused"),
        "replayed: {replay}"
    );
    assert_eq!(latest(&second, &key).await.unwrap(), "Buy milk");

    // A flow left for longer than ten minutes is refused.
    let other = SessionKey::new(
        TenantId::new("grace").unwrap(),
        ServerName::from_static("notes"),
    );
    let url = authorization_url(&second, &other).await;
    let state = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let pending = ConnectionId::new("mcp-state", format!("s{state}")).unwrap();
    let mut record = store
        .get(&other.tenant, &pending)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(
        !format!("{record:?}").contains(&state),
        "the sealed flow does not show its state"
    );
    record.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    store.put(&other.tenant, &pending, &record).await.unwrap();
    let expired = second
        .complete_authorization(&other.tenant, &approve(&url).await)
        .await
        .unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
    second.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// Issue 17: after a 403 `insufficient_scope` the pool connected again only
/// to learn from the failed handshake that the user must authorise; the
/// step-up now starts the authorization for the new scope at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_returns_authorization_required_without_a_second_connect() {
    let (auth, stop) = protected_server(3600).await;
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let pool = pool(&auth.base, store, None);
    let key = ada();
    authorise(&pool, &key).await;
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");
    let before = pool.metrics();

    *auth.require_scope.lock().unwrap() = Some("admin".into());
    let error = latest(&pool, &key).await.unwrap_err();
    let Error::AuthorizationRequired { url, server, .. } = &error else {
        panic!("expected AuthorizationRequired, got {error:?}")
    };
    assert_eq!(server, "notes");
    let scopes: String = reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "scope")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    assert!(scopes.contains("admin"), "the new scope is asked: {url}");
    let after = pool.metrics();
    assert_eq!(
        (after.connects, after.connect_failures),
        (before.connects, before.connect_failures),
        "no connect to learn what the 403 meant"
    );
    assert!(error.needs_reauth());
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// A 403 `insufficient_scope` to a handshake was a `Handshake` error, and
/// one to a listing no step-up: both now send the user to authorise, for
/// the scope granted so far (`notes`) and the challenged one (SEP-2350).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_short_of_scope_steps_up_keeping_the_scopes_granted() {
    let (auth, stop) = protected_server(3600).await;
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let pool = pool(&auth.base, store, None);
    let key = ada();
    authorise(&pool, &key).await;
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");
    pool.close(&key).await;

    *auth.require_scope.lock().unwrap() = Some("admin".into());
    let error = pool.list_tools(&key).await.unwrap_err();
    let Error::AuthorizationRequired { url, .. } = &error else {
        panic!("expected AuthorizationRequired, got {error:?}")
    };
    let scopes: Vec<String> = reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "scope")
        .map(|(_, value)| value.split(' ').map(str::to_owned).collect())
        .unwrap_or_default();
    assert!(
        scopes.contains(&"notes".to_owned()) && scopes.contains(&"admin".to_owned()),
        "{scopes:?}"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

/// A listener on 127.0.0.1 that counts the connections reaching it: a URL
/// of it at `path`, and the count.
async fn collector(path: &str) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    let reached = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&reached);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, reached)
}

/// A protected server, and a pool keeping Ada's tokens in memory.
async fn in_memory() -> (Arc<Auth>, CancellationToken, McpPool, SessionKey) {
    let (auth, stop) = protected_server(3600).await;
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let pool = pool(&auth.base, store, None);
    (auth, stop, pool, ada())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorized_session_does_not_follow_a_redirect_to_another_origin() {
    // Security review, finding 3: authorized sessions followed any
    // redirect, replaying the JSON-RPC body, the session id and the
    // config's headers to the other origin.
    let (elsewhere, reached) = collector("/collect").await;
    let (auth, stop, pool, key) = in_memory().await;
    authorise(&pool, &key).await;
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");
    *auth.redirect_to.lock().unwrap() = Some(elsewhere);
    assert!(latest(&pool, &key).await.is_err());
    assert!(latest(&pool, &key).await.is_err(), "and again");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "nothing reached the other origin"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_sent_only_to_the_resource_it_was_issued_for() {
    // Security review, finding 4: tokens were found by server name, so a
    // name whose URL changed sent its token to the new URL.
    let (auth, stop) = protected_server(3600).await;
    let (impostor, stop_impostor) = protected_server(3600).await;
    let store: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    let pool = pool(&auth.base, Arc::clone(&store), None);
    let key = ada();
    authorise(&pool, &key).await;
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");
    pool.shutdown(Duration::from_secs(5)).await;

    // The same server name, now at another URL.
    let moved = self::pool(&impostor.base, store, None);
    let error = latest(&moved, &key).await.unwrap_err();
    assert!(
        matches!(error, Error::AuthorizationRequired { .. }),
        "a new authorization for the new resource: {error:?}"
    );
    assert!(
        impostor.received.lock().unwrap().is_empty(),
        "the token issued for {} reached {}",
        auth.base,
        impostor.base
    );
    moved.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
    stop_impostor.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_swaps_its_token_endpoint_mid_flow_gets_no_code() {
    // Security review, observation: the completion discovered the metadata
    // again and sent the code (and the client's secret) where it now said.
    let (elsewhere, reached) = collector("/token").await;
    let (auth, stop, pool, key) = in_memory().await;
    let url = authorization_url(&pool, &key).await;
    let callback = approve(&url).await;
    *auth.token_endpoint.lock().unwrap() = Some(elsewhere);
    let refused = pool
        .complete_authorization(&key.tenant, &callback)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("changed"), "{refused}");
    assert_eq!(reached.load(Ordering::SeqCst), 0, "the code went nowhere");
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_code_nor_refresh_token_follows_a_token_endpoint_redirect() {
    // Security review, redirect matrix: a token endpoint that answers 307
    // to another origin must not have the code (with its PKCE verifier) or
    // the refresh token posted there again.
    let (elsewhere, reached) = collector("/token").await;
    let (auth, stop, pool, key) = in_memory().await;
    let url = authorization_url(&pool, &key).await;
    let callback = approve(&url).await;
    *auth.token_redirect.lock().unwrap() = Some(elsewhere.clone());
    let asked = auth.token_requests.load(Ordering::SeqCst);
    let refused = pool
        .complete_authorization(&key.tenant, &callback)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Authorization { .. }),
        "{refused:?}"
    );
    assert_eq!(auth.token_requests.load(Ordering::SeqCst), asked + 1);

    *auth.token_redirect.lock().unwrap() = None;
    authorise(&pool, &key).await;
    assert_eq!(latest(&pool, &key).await.unwrap(), "Buy milk");
    // The server revokes the token, so the pool spends its refresh token.
    *auth.token_redirect.lock().unwrap() = Some(elsewhere);
    auth.tokens.lock().unwrap().clear();
    let asked = auth.token_requests.load(Ordering::SeqCst);
    let error = latest(&pool, &key).await.unwrap_err();
    assert!(
        auth.token_requests.load(Ordering::SeqCst) > asked,
        "the refresh was tried: {error}"
    );
    assert!(
        !error.to_string().contains("rt-"),
        "no refresh token in the error: {error}"
    );
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "no grant reached the other origin"
    );
    pool.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
}
