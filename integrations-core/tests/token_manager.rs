//! The TokenManager against real stores: exactly one refresh under load,
//! across two managers on one SQLite file, refresh-token preservation, the
//! `invalid_grant` races, and no secret in any output.
#![cfg(feature = "sqlite")]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use integrations_core::config::Env;
use integrations_core::credentials::{
    CredentialKind, CredentialStatus, CredentialStore, Credentials, EncryptionKey, KeyRing,
    MemoryStore, RefreshRequest, SqliteStore, TokenManager, TokenRefresher, TokenResponse,
};
use integrations_core::error::CredentialError;
use integrations_core::events::{BroadcastSink, Event, EventKind};
use integrations_core::id::KeyId;
use integrations_core::{BoxError, Config, ConnectionId, Error, TenantId, async_trait};
use secrecy::{ExposeSecret, SecretString};

/// What the fake provider answers.
#[derive(Debug, Clone)]
enum Answer {
    /// New access token `access-N` (N = call number), maybe a rotated
    /// refresh token, after a delay.
    Tokens {
        rotate: bool,
        delay: Duration,
    },
    InvalidGrant,
    /// Signals `entered`, waits for `release`, then answers rotated tokens
    /// as `Tokens` does: the test acts while the refresh is in flight.
    Gated {
        entered: Arc<tokio::sync::Notify>,
        release: Arc<tokio::sync::Notify>,
    },
    /// Stores fresh tokens as "another writer" would, then says invalid_grant.
    RaceThenInvalidGrant(Arc<dyn CredentialStore>),
    Outage,
}

#[derive(Debug)]
struct FakeProvider {
    answer: Mutex<Answer>,
    calls: AtomicUsize,
    seen_refresh_tokens: Mutex<Vec<String>>,
    seen_requests: Mutex<Vec<String>>,
}

impl FakeProvider {
    fn new(answer: Answer) -> Arc<Self> {
        Arc::new(Self {
            answer: Mutex::new(answer),
            calls: AtomicUsize::new(0),
            seen_refresh_tokens: Mutex::new(Vec::new()),
            seen_requests: Mutex::new(Vec::new()),
        })
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenRefresher for FakeProvider {
    async fn refresh(&self, request: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen_requests
            .lock()
            .unwrap()
            .push(format!("{request:?}"));
        self.seen_refresh_tokens
            .lock()
            .unwrap()
            .push(request.refresh_token.expose_secret().to_owned());
        let answer = self.answer.lock().unwrap().clone();
        match answer {
            Answer::Tokens { rotate, delay } => {
                tokio::time::sleep(delay).await;
                let response = TokenResponse::new(format!("SECRET-access-{n}"))
                    .with_expires_in(Duration::from_secs(3600));
                Ok(if rotate {
                    response.with_refresh_token(format!("SECRET-refresh-{n}"))
                } else {
                    response
                })
            }
            Answer::Gated { entered, release } => {
                entered.notify_one();
                release.notified().await;
                Ok(TokenResponse::new(format!("SECRET-access-{n}"))
                    .with_expires_in(Duration::from_secs(3600))
                    .with_refresh_token(format!("SECRET-refresh-{n}")))
            }
            Answer::InvalidGrant => Err(Box::new(CredentialError::InvalidGrant {
                description: "token revoked".into(),
            })),
            Answer::RaceThenInvalidGrant(store) => {
                let fresh = Credentials::oauth2(
                    "SECRET-access-winner",
                    Some("SECRET-refresh-winner".into()),
                    Some(Utc::now() + chrono::Duration::hours(1)),
                );
                store
                    .put(request.tenant, request.connection, &fresh)
                    .await?;
                Err(Box::new(CredentialError::InvalidGrant {
                    description: "refresh token already used".into(),
                }))
            }
            Answer::Outage => Err("provider returned 503".into()),
        }
    }
}

fn tenant() -> TenantId {
    TenantId::new("user-1").unwrap()
}

fn connection() -> ConnectionId {
    ConnectionId::new("slack", "acme").unwrap()
}

/// OAuth credentials whose access token expires in a minute: inside the
/// default 5 minute margin, so it must be refreshed, yet still valid.
fn expiring() -> Credentials {
    Credentials::oauth2(
        "SECRET-access-0",
        Some("SECRET-refresh-0".into()),
        Some(Utc::now() + chrono::Duration::minutes(1)),
    )
}

fn expired() -> Credentials {
    Credentials::oauth2(
        "SECRET-access-0",
        Some("SECRET-refresh-0".into()),
        Some(Utc::now() - chrono::Duration::minutes(1)),
    )
}

fn ring() -> KeyRing {
    KeyRing::new(
        KeyId::new("k1").unwrap(),
        EncryptionKey::from_bytes([5; 32]),
    )
}

fn manager(
    store: Arc<dyn CredentialStore>,
    provider: Arc<FakeProvider>,
    events: Option<BroadcastSink>,
) -> TokenManager {
    let builder = TokenManager::builder(store, provider).poll_interval(Duration::from_millis(20));
    match events {
        Some(sink) => builder.events(sink),
        None => builder,
    }
    .build()
    .unwrap()
}

fn expose(token: &SecretString) -> &str {
    token.expose_secret()
}

/// `calls` concurrent `access_token` calls spread over `managers`; the
/// distinct tokens they returned.
async fn concurrent_tokens(managers: &[TokenManager], calls: usize) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..calls {
        let manager = managers[i % managers.len()].clone();
        tasks.spawn(async move { manager.access_token(&tenant(), &connection()).await });
    }
    let mut tokens = std::collections::BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        tokens.insert(result.unwrap().unwrap().expose_secret().to_owned());
    }
    tokens.into_iter().collect()
}

/// The manager's token for the test connection, as text.
async fn token_of(manager: &TokenManager) -> String {
    let token = manager
        .access_token(&tenant(), &connection())
        .await
        .unwrap();
    token.expose_secret().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_cause_exactly_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(
        SqliteStore::open(dir.path().join("c.db"), ring())
            .await
            .unwrap(),
    );
    store
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::Tokens {
        rotate: true,
        delay: Duration::from_millis(100),
    });
    let manager = manager(store.clone(), provider.clone(), None);

    assert_eq!(
        concurrent_tokens(std::slice::from_ref(&manager), 1000).await,
        ["SECRET-access-1"],
        "every caller gets the one token"
    );
    assert_eq!(provider.calls(), 1);
    let stored = store
        .get(&tenant(), &connection())
        .await
        .unwrap()
        .unwrap()
        .value;
    let CredentialKind::OAuth2(token) = &stored.kind else {
        panic!()
    };
    assert_eq!(
        expose(token.refresh_token.as_ref().unwrap()),
        "SECRET-refresh-1"
    );
    assert!(stored.last_rotated_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_managers_sharing_one_sqlite_file_refresh_once_per_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let first: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(&path, ring()).await.unwrap());
    let second: Arc<dyn CredentialStore> =
        Arc::new(SqliteStore::open(&path, ring()).await.unwrap());
    first
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    // One provider behind both managers, so its counter sees every refresh.
    let provider = FakeProvider::new(Answer::Tokens {
        rotate: true,
        delay: Duration::from_millis(200),
    });
    let managers = [
        manager(first, provider.clone(), None),
        manager(second.clone(), provider.clone(), None),
    ];

    assert_eq!(
        concurrent_tokens(&managers, 1000).await,
        ["SECRET-access-1"],
        "every caller gets the one token"
    );
    assert_eq!(provider.calls(), 1, "one refresh for the expiry window");

    // The next window: the token nears expiry again, and again one refresh.
    let current = second.get(&tenant(), &connection()).await.unwrap().unwrap();
    let mut nearly = current.value.clone();
    nearly.expires_at = Some(Utc::now() + chrono::Duration::minutes(1));
    second.put(&tenant(), &connection(), &nearly).await.unwrap();
    for manager in &managers {
        manager.invalidate(&tenant(), &connection());
    }
    assert_eq!(
        concurrent_tokens(&managers, 200).await,
        ["SECRET-access-2"],
        "every caller gets the one token"
    );
    assert_eq!(provider.calls(), 2);
    assert_eq!(
        *provider.seen_refresh_tokens.lock().unwrap(),
        ["SECRET-refresh-0", "SECRET-refresh-1"]
    );
}

#[tokio::test]
async fn a_response_without_a_refresh_token_keeps_the_old_one() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(&tenant(), &connection(), &expired())
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::Tokens {
        rotate: false,
        delay: Duration::ZERO,
    });
    let manager = manager(store.clone(), provider.clone(), None);

    assert_eq!(token_of(&manager).await, "SECRET-access-1");
    let stored = store
        .get(&tenant(), &connection())
        .await
        .unwrap()
        .unwrap()
        .value;
    let CredentialKind::OAuth2(token) = &stored.kind else {
        panic!()
    };
    assert_eq!(
        expose(token.refresh_token.as_ref().unwrap()),
        "SECRET-refresh-0"
    );
    assert!(stored.expires_at.unwrap() > Utc::now() + chrono::Duration::minutes(59));

    // And the kept refresh token is what the next refresh spends.
    let mut nearly = stored.clone();
    nearly.expires_at = Some(Utc::now());
    store.put(&tenant(), &connection(), &nearly).await.unwrap();
    manager.invalidate(&tenant(), &connection());
    assert_eq!(token_of(&manager).await, "SECRET-access-2");
    assert_eq!(
        *provider.seen_refresh_tokens.lock().unwrap(),
        ["SECRET-refresh-0", "SECRET-refresh-0"]
    );
}

#[tokio::test]
async fn invalid_grant_after_another_writer_refreshed_uses_the_new_token() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(&tenant(), &connection(), &expired())
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::RaceThenInvalidGrant(store.clone()));
    let events = BroadcastSink::new(16);
    let mut received = events.subscribe();
    let manager = manager(store.clone(), provider.clone(), Some(events));

    let token = manager
        .access_token(&tenant(), &connection())
        .await
        .unwrap();
    assert_eq!(expose(&token), "SECRET-access-winner");
    assert_eq!(provider.calls(), 1);
    let stored = store
        .get(&tenant(), &connection())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(stored.status, CredentialStatus::Active);
    assert!(
        received.try_recv().is_err(),
        "no state change of ours to report"
    );
}

#[tokio::test]
async fn a_real_invalid_grant_needs_reauth_once() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(
        SqliteStore::open(dir.path().join("c.db"), ring())
            .await
            .unwrap(),
    );
    store
        .put(&tenant(), &connection(), &expired())
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::InvalidGrant);
    let events = BroadcastSink::new(16);
    let mut received = events.subscribe();
    let manager = manager(store.clone(), provider.clone(), Some(events));

    for _ in 0..5 {
        let err = manager
            .access_token(&tenant(), &connection())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Credentials(CredentialError::NeedsReauth { .. })),
            "{err:?}"
        );
    }
    assert_eq!(provider.calls(), 1, "a dead connection is not retried");
    let stored = store
        .get(&tenant(), &connection())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(stored.status, CredentialStatus::NeedsReauth);

    let event = received.try_recv().unwrap();
    assert_eq!(event.integration.as_str(), "slack");
    assert_eq!(
        event.kind,
        EventKind::NeedsReauth {
            tenant: "user-1".parse().unwrap(),
            connection: "slack/acme".parse().unwrap()
        }
    );
    assert!(
        received.try_recv().is_err(),
        "needs_reauth is reported once"
    );

    // Re-authorising (a new put) brings the connection back.
    store
        .put(
            &tenant(),
            &connection(),
            &Credentials::oauth2("SECRET-new", None, None),
        )
        .await
        .unwrap();
    assert_eq!(token_of(&manager).await, "SECRET-new");
}

#[tokio::test]
async fn an_outage_keeps_a_still_valid_token_and_reports_the_failure() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::Outage);
    let events = BroadcastSink::new(16);
    let mut received = events.subscribe();
    let manager = manager(store.clone(), provider.clone(), Some(events));

    assert_eq!(token_of(&manager).await, "SECRET-access-0");
    assert!(matches!(
        received.try_recv().unwrap().kind,
        EventKind::TokenRefreshFailed { .. }
    ));
    let stored = store
        .get(&tenant(), &connection())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        stored.status,
        CredentialStatus::Active,
        "an outage is not a dead connection"
    );

    store
        .put(&tenant(), &connection(), &expired())
        .await
        .unwrap();
    let err = manager
        .access_token(&tenant(), &connection())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Credentials(CredentialError::RefreshFailed { .. })
        ),
        "{err:?}"
    );
    assert_eq!(provider.calls(), 2);

    // Recovery: the provider answers again.
    *provider.answer.lock().unwrap() = Answer::Tokens {
        rotate: false,
        delay: Duration::ZERO,
    };
    assert_eq!(token_of(&manager).await, "SECRET-access-3");
}

#[tokio::test]
async fn keys_and_bearer_tokens_are_returned_as_they_are() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let key = ConnectionId::new("notion", "k").unwrap();
    store
        .put(&tenant(), &key, &Credentials::api_key("SECRET-key"))
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::InvalidGrant);
    let manager = manager(store.clone(), provider.clone(), None);
    assert_eq!(
        expose(&manager.access_token(&tenant(), &key).await.unwrap()),
        "SECRET-key"
    );
    let missing = ConnectionId::new("notion", "missing").unwrap();
    assert!(matches!(
        manager.access_token(&tenant(), &missing).await,
        Err(Error::Credentials(CredentialError::NotFound { .. }))
    ));
    assert_eq!(provider.calls(), 0);
}

/// A `tracing` writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_appears_in_debug_display_errors_events_or_traces() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(
        SqliteStore::open(dir.path().join("c.db"), ring())
            .await
            .unwrap(),
    );
    let store: Arc<dyn CredentialStore> = sqlite.clone();
    let events = BroadcastSink::new(64);
    let mut received = events.subscribe();
    let mut text = Vec::<String>::new();

    // The manager at work: a refresh, an outage, an invalid grant.
    store
        .put(&tenant(), &connection(), &expired())
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::Tokens {
        rotate: true,
        delay: Duration::ZERO,
    });
    let manager = manager(store.clone(), provider.clone(), Some(events));
    let token = manager
        .access_token(&tenant(), &connection())
        .await
        .unwrap();
    for answer in [Answer::Outage, Answer::InvalidGrant] {
        *provider.answer.lock().unwrap() = answer;
        store
            .put(&tenant(), &connection(), &expired())
            .await
            .unwrap();
        manager.invalidate(&tenant(), &connection());
        let err = manager
            .access_token(&tenant(), &connection())
            .await
            .unwrap_err();
        text.push(format!("{err:?}"));
        text.push(format!("{err}"));
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text.push(cause.to_string());
            source = cause.source();
        }
    }
    while let Ok(event) = received.try_recv() {
        text.push(format!("{event:?}"));
        text.push(serde_json::to_string::<Event>(&event).unwrap());
    }

    // Every type that carries a secret, through Debug and (where it has
    // one) Display.
    let oauth = Credentials::oauth2("SECRET-access-x", Some("SECRET-refresh-x".into()), None);
    text.push(format!("{oauth:?}"));
    text.push(format!("{oauth}"));
    text.push(format!("{:?}", oauth.kind));
    text.push(format!("{}", oauth.kind));
    if let CredentialKind::OAuth2(token) = &oauth.kind {
        text.push(format!("{token:?}"));
    }
    text.push(format!(
        "{:?}",
        store.get(&tenant(), &connection()).await.unwrap()
    ));
    text.push(format!(
        "{:?}",
        TokenResponse::new("SECRET-access-y").with_refresh_token("SECRET-refresh-y")
    ));
    let requests = provider.seen_requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    text.extend(requests);
    text.push(format!(
        "{:?}",
        EncryptionKey::from_bytes(*b"SECRET-key-bytes-32-bytes-long!!")
    ));
    text.push(format!("{:?}", ring()));
    text.push(format!("{sqlite:?}"));
    text.push(format!("{manager:?}"));
    text.push(format!("{token:?}"));
    let env = Env::from_vars([("SLACK_TOKEN", "SECRET-env")]);
    let config = Config::from_toml_str_with_env(
        "[integrations]\nenabled = [\"s\"]\n[integrations.s]\ntoken = \"env:SLACK_TOKEN\"\n[agents.mcp.m]\ncommand = \"x\"\nenv = { T = \"${SLACK_TOKEN}\" }",
        &env,
    )
    .unwrap();
    text.push(format!("{config:?}"));
    text.push(format!("{env:?}"));

    let traces = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        traces.contains("token refresh failed"),
        "the traces were captured"
    );
    text.push(traces);
    let all = text.join("\n");
    assert!(all.contains("[REDACTED]") || all.contains("[redacted]"));
    for needle in [
        "SECRET-access",
        "SECRET-refresh",
        "SECRET-key",
        "SECRET-env",
    ] {
        assert!(!all.contains(needle), "`{needle}` leaked in:\n{all}");
    }
}

/// Refreshes by appending a line to a log file shared by the processes, so
/// the parent can count refreshes across them.
#[derive(Debug)]
struct LoggingProvider {
    log: std::path::PathBuf,
}

#[async_trait]
impl TokenRefresher for LoggingProvider {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(log, "refresh by {}", std::process::id())?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(
            TokenResponse::new(format!("SECRET-access-from-{}", std::process::id()))
                .with_expires_in(Duration::from_secs(3600)),
        )
    }
}

/// The child side of the test below: 200 concurrent callers in a process of
/// its own, started once both children are ready; prints the token it got.
async fn child_process(db: &str, log: &str, ready: &str) {
    let store: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(db, ring()).await.unwrap());
    let manager = TokenManager::builder(store, Arc::new(LoggingProvider { log: log.into() }))
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let ready = std::path::Path::new(ready);
    std::fs::write(ready.join(std::process::id().to_string()), b"").unwrap();
    while std::fs::read_dir(ready).unwrap().count() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tokens = concurrent_tokens(std::slice::from_ref(&manager), 200).await;
    assert_eq!(tokens.len(), 1, "one token within a process");
    println!("TOKEN={}", tokens[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_sqlite_file_refresh_once() {
    const CHILD: &str = "INTEGRATIONS_TOKEN_TEST_CHILD";
    if let Ok(args) = std::env::var(CHILD) {
        let args: Vec<&str> = args.split('\n').collect();
        child_process(args[0], args[1], args[2]).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let log = dir.path().join("refreshes.log");
    let ready = dir.path().join("ready");
    std::fs::create_dir(&ready).unwrap();
    let store = SqliteStore::open(&db, ring()).await.unwrap();
    store
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    store.close().await;

    let spawn = || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "two_processes_on_one_sqlite_file_refresh_once",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                CHILD,
                format!("{}\n{}\n{}", db.display(), log.display(), ready.display()),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(), spawn()];
    let mut tokens = Vec::new();
    for child in children {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let token = stdout
            .lines()
            .find_map(|l| l.split("TOKEN=").nth(1))
            .unwrap_or_else(|| panic!("no token line in:\n{stdout}"))
            .to_owned();
        tokens.push(token);
    }
    let refreshes = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        refreshes.lines().count(),
        1,
        "exactly one refresh across both processes:\n{refreshes}"
    );
    assert_eq!(
        tokens[0], tokens[1],
        "both processes use the one refreshed token"
    );
    assert!(tokens[0].starts_with("SECRET-access-from-"));
}

/// A provider that holds its answer until the test says so, and the two
/// handles on the gate.
fn gated() -> (
    Arc<FakeProvider>,
    Arc<tokio::sync::Notify>,
    Arc<tokio::sync::Notify>,
) {
    let (entered, release) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let provider = FakeProvider::new(Answer::Gated {
        entered: entered.clone(),
        release: release.clone(),
    });
    (provider, entered, release)
}

/// A manager on `store` refreshing through a gated provider, with one
/// `access_token` call in flight: returns once the provider holds the
/// request, with the gate to release it and the call's token to come.
async fn refresh_in_flight(
    store: Arc<dyn CredentialStore>,
) -> (
    Arc<FakeProvider>,
    Arc<tokio::sync::Notify>,
    tokio::task::JoinHandle<String>,
) {
    let (provider, entered, release) = gated();
    let manager = manager(store, provider.clone(), None);
    let call = tokio::spawn(async move { token_of(&manager).await });
    entered.notified().await;
    (provider, release, call)
}

/// The stored OAuth tokens (access, refresh) and whether a lease is left.
async fn stored_tokens(store: &dyn CredentialStore) -> (String, String, bool) {
    let stored = store
        .get(&tenant(), &connection())
        .await
        .unwrap()
        .unwrap()
        .value;
    let CredentialKind::OAuth2(token) = &stored.kind else {
        panic!("oauth2 credentials")
    };
    (
        expose(&token.access_token).to_owned(),
        expose(token.refresh_token.as_ref().unwrap()).to_owned(),
        stored.refresh_lease.is_some(),
    )
}

/// Review item 1: a key rotation bumps the row's version while a refresh is
/// in flight; the refresh's final compare-and-swap failed, the response was
/// thrown away and the spent refresh token was sent again. Now the response
/// is applied to the rotated row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_during_a_refresh_keeps_the_response() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let (k1, k2) = (KeyId::new("k1").unwrap(), KeyId::new("k2").unwrap());
    let key = |byte| EncryptionKey::from_bytes([byte; 32]);
    // A rotation rolls the new key out first, then makes it active.
    let rolled_out = KeyRing::new(k1.clone(), key(5))
        .with_previous(k2.clone(), key(6))
        .unwrap();
    let store: Arc<dyn CredentialStore> =
        Arc::new(SqliteStore::open(&path, rolled_out).await.unwrap());
    store
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    let (provider, release, call) = refresh_in_flight(store).await;
    let rotated = SqliteStore::open(
        &path,
        KeyRing::new(k2, key(6)).with_previous(k1, key(5)).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(rotated.rotate().await.unwrap(), 1, "the row was re-sealed");
    release.notify_one();

    assert_eq!(call.await.unwrap(), "SECRET-access-1");
    assert_eq!(
        provider.calls(),
        1,
        "the spent refresh token was not sent again"
    );
    assert_eq!(
        stored_tokens(&rotated).await,
        ("SECRET-access-1".into(), "SECRET-refresh-1".into(), false)
    );
}

/// Review item 1, second case: a host updates the row's metadata while a
/// refresh is in flight; both the metadata and the new tokens are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_write_during_a_refresh_keeps_both() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    let (provider, release, call) = refresh_in_flight(store.clone()).await;
    let current = store.get(&tenant(), &connection()).await.unwrap().unwrap();
    let updated = current.value.with_metadata("team_id", "T024BE7LD");
    store
        .compare_and_swap(&tenant(), &connection(), current.version, &updated)
        .await
        .unwrap()
        .expect("the host's write lands");
    release.notify_one();

    assert_eq!(call.await.unwrap(), "SECRET-access-1");
    assert_eq!(provider.calls(), 1);
    assert_eq!(
        stored_tokens(&*store).await,
        ("SECRET-access-1".into(), "SECRET-refresh-1".into(), false)
    );
    let stored = store.get(&tenant(), &connection()).await.unwrap().unwrap();
    assert_eq!(stored.value.metadata["team_id"], "T024BE7LD");
}

/// The other side of item 1: credentials replaced while a refresh is in
/// flight (the user authorised again) win over the refresh's response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_replaced_during_a_refresh_win() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    let (provider, release, call) = refresh_in_flight(store.clone()).await;
    let reauthorised = Credentials::oauth2(
        "SECRET-access-new-grant",
        Some("SECRET-refresh-new-grant".into()),
        Some(Utc::now() + chrono::Duration::hours(1)),
    );
    store
        .put(&tenant(), &connection(), &reauthorised)
        .await
        .unwrap();
    release.notify_one();

    assert_eq!(call.await.unwrap(), "SECRET-access-new-grant");
    assert_eq!(provider.calls(), 1);
    assert_eq!(
        stored_tokens(&*store).await,
        (
            "SECRET-access-new-grant".into(),
            "SECRET-refresh-new-grant".into(),
            false
        )
    );
}

/// Review item 2: a caller dropped mid-refresh leaves no lease behind and
/// loses no response; `close` waits for the refresh in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_dropped_mid_refresh_loses_nothing_and_close_waits_for_it() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(&tenant(), &connection(), &expired())
        .await
        .unwrap();
    let (provider, entered, release) = gated();
    // A long lease: one left behind would stall the second manager below
    // far beyond the guard's limit.
    let first = TokenManager::builder(store.clone(), provider.clone())
        .refresh_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let call = tokio::spawn({
        let first = first.clone();
        async move { token_of(&first).await }
    });
    entered.notified().await;
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    assert!(
        stored_tokens(&*store).await.2,
        "the lease is held mid-refresh"
    );

    release.notify_one();
    first.close().await;
    assert_eq!(
        stored_tokens(&*store).await,
        ("SECRET-access-1".into(), "SECRET-refresh-1".into(), false),
        "after close the response is stored and the lease released"
    );

    // Another process sees the new token at once, without a refresh.
    let second = manager(store.clone(), provider.clone(), None);
    let token = tokio::time::timeout(Duration::from_secs(20), token_of(&second))
        .await
        .expect("no lease left to wait for");
    assert_eq!(token, "SECRET-access-1");
    assert_eq!(provider.calls(), 1);
    // And the closed manager still answers.
    assert_eq!(token_of(&first).await, "SECRET-access-1");
}

/// A store a host wrote over its own tables (here, a map of plain rows): it
/// keeps every field, the refresh lease included, as the `CredentialStore`
/// contract asks.
#[derive(Debug, Clone, Default)]
struct HostStore {
    rows: Arc<Mutex<std::collections::HashMap<(String, String), HostRow>>>,
    last_version: Arc<AtomicUsize>,
}

#[derive(Debug, Clone)]
struct HostRow {
    version: u64,
    access: String,
    refresh: Option<String>,
    expires_at: Option<chrono::DateTime<Utc>>,
    status: CredentialStatus,
    lease: Option<(String, chrono::DateTime<Utc>)>,
}

impl HostRow {
    fn from(credentials: &Credentials, version: u64) -> Self {
        let CredentialKind::OAuth2(token) = &credentials.kind else {
            panic!("this host stores OAuth tokens only")
        };
        Self {
            version,
            access: token.access_token.expose_secret().to_owned(),
            refresh: token
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            expires_at: credentials.expires_at,
            status: credentials.status,
            lease: credentials
                .refresh_lease
                .as_ref()
                .map(|lease| (lease.owner().to_owned(), lease.until())),
        }
    }

    fn credentials(&self) -> Credentials {
        let mut credentials =
            Credentials::oauth2(self.access.clone(), self.refresh.clone(), self.expires_at);
        credentials.status = self.status;
        credentials.refresh_lease = self.lease.as_ref().map(|(owner, until)| {
            integrations_core::credentials::RefreshLease::new(owner.clone(), *until)
        });
        credentials
    }
}

impl HostStore {
    fn key(tenant: &TenantId, connection: &ConnectionId) -> (String, String) {
        (tenant.to_string(), connection.to_string())
    }
    fn next(&self) -> u64 {
        self.last_version.fetch_add(1, Ordering::SeqCst) as u64 + 1
    }
}

#[async_trait]
impl CredentialStore for HostStore {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<integrations_core::credentials::Versioned<Credentials>>, Error> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.get(&Self::key(tenant, connection)).map(|row| {
            integrations_core::credentials::Versioned::new(row.credentials(), row.version)
        }))
    }
    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, Error> {
        let version = self.next();
        self.rows.lock().unwrap().insert(
            Self::key(tenant, connection),
            HostRow::from(credentials, version),
        );
        Ok(version)
    }
    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, Error> {
        let mut rows = self.rows.lock().unwrap();
        let key = Self::key(tenant, connection);
        if rows.get(&key).map(|row| row.version) != Some(expected) {
            return Ok(None);
        }
        let version = self.next();
        rows.insert(key, HostRow::from(credentials, version));
        Ok(Some(version))
    }
    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .remove(&Self::key(tenant, connection))
            .is_some())
    }
    async fn list(&self, _: &TenantId) -> Result<Vec<ConnectionId>, Error> {
        Ok(Vec::new())
    }
}

/// Review item 3: the refresh lease was crate-private, so a store written
/// outside the crate could not keep it and two managers on it refreshed
/// twice. Two "processes" (managers, each with its own handle on the host's
/// rows) now refresh once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_written_store_gets_cross_process_single_flight() {
    let shared = HostStore::default();
    shared
        .put(&tenant(), &connection(), &expiring())
        .await
        .unwrap();
    let provider = FakeProvider::new(Answer::Tokens {
        rotate: true,
        delay: Duration::from_millis(200),
    });
    let managers = [
        manager(Arc::new(shared.clone()), provider.clone(), None),
        manager(Arc::new(shared.clone()), provider.clone(), None),
    ];
    assert_eq!(concurrent_tokens(&managers, 200).await, ["SECRET-access-1"]);
    assert_eq!(provider.calls(), 1);
    assert_eq!(
        stored_tokens(&shared).await,
        ("SECRET-access-1".into(), "SECRET-refresh-1".into(), false)
    );
}

/// A provider answered 401 to a token that had not expired yet (revoked at
/// the provider): a hundred callers report it at once and it is refreshed
/// once; a late report of the old token refreshes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_refreshed_once_however_many_report_it() {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let fresh = Credentials::oauth2(
        "SECRET-access-0",
        Some("SECRET-refresh-0".into()),
        Some(Utc::now() + chrono::Duration::hours(1)),
    );
    store.put(&tenant(), &connection(), &fresh).await.unwrap();
    let provider = FakeProvider::new(Answer::Tokens {
        rotate: true,
        delay: Duration::from_millis(50),
    });
    let manager = manager(store.clone(), provider.clone(), None);
    let rejected = manager
        .access_token(&tenant(), &connection())
        .await
        .unwrap();
    assert_eq!(expose(&rejected), "SECRET-access-0");
    assert_eq!(provider.calls(), 0, "fresh: no refresh");

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (manager, rejected) = (manager.clone(), rejected.clone());
        calls.spawn(async move {
            manager
                .refresh_rejected(&tenant(), &connection(), &rejected)
                .await
                .map(|token| expose(&token).to_owned())
        });
    }
    while let Some(token) = calls.join_next().await {
        assert_eq!(token.unwrap().unwrap(), "SECRET-access-1");
    }
    assert_eq!(provider.calls(), 1);
    let late = manager
        .refresh_rejected(&tenant(), &connection(), &rejected)
        .await
        .unwrap();
    assert_eq!(expose(&late), "SECRET-access-1");
    assert_eq!(provider.calls(), 1, "already replaced: no second refresh");
    assert_eq!(token_of(&manager).await, "SECRET-access-1");
}
