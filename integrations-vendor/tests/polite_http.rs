//! A VendorConnection against fake vendor servers on 127.0.0.1 that answer
//! as the real APIs do: Retry-After honoured on tokio's paused clock, 5xx
//! storms ending in typed errors, Slack's `ok: false` bodies, one refresh
//! for a hundred 401s, and a POST the vendor acted on never sent twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integrations_core::credentials::{
    CredentialStore, Credentials, MemoryStore, RefreshRequest, TokenManager, TokenRefresher,
    TokenResponse,
};
use integrations_core::{BoxError, ConnectionId, TenantId, async_trait};
use integrations_fakes::{FakeServer, Reply};
use integrations_vendor::{Auth, Error, RetryPolicy, Vendor, VendorConnection};
use serde_json::json;

fn tenant() -> TenantId {
    TenantId::new("user-1").unwrap()
}

fn connection() -> ConnectionId {
    ConnectionId::new("slack", "acme").unwrap()
}

async fn store_with(credentials: Credentials) -> Arc<dyn CredentialStore> {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    store
        .put(&tenant(), &connection(), &credentials)
        .await
        .unwrap();
    store
}

/// A Slack connection to `fake` with a stored bearer token.
async fn slack(fake: &FakeServer, policy: RetryPolicy) -> VendorConnection {
    VendorConnection::builder(Vendor::slack().with_base_url(fake.url("/api")))
        .auth(Auth::Bearer)
        .credentials(
            store_with(Credentials::bearer("xoxb-token")).await,
            tenant(),
            connection(),
        )
        .retry(policy)
        .build()
        .unwrap()
}

fn ok(body: serde_json::Value) -> Reply {
    Reply::json(200, body)
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_waits_at_least_that_long_then_succeeds() {
    let fake = FakeServer::start().await;
    fake.script(
        "GET",
        "/api/conversations.list",
        vec![
            Reply::json(429, json!({"ok": false, "error": "ratelimited"}))
                .header("Retry-After", "2"),
            ok(json!({"ok": true, "channels": []})),
        ],
    );
    let slack = slack(&fake, RetryPolicy::default()).await;
    let started = tokio::time::Instant::now();
    let listed: serde_json::Value = slack.get("/conversations.list").send_json().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(listed["ok"], true);
    assert!(waited >= Duration::from_secs(2), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!(fake.requests("/api/conversations.list").len(), 2);
    let health = slack.health().summary("slack").unwrap();
    assert_eq!(
        (health.count, health.successes),
        (1, 1),
        "one sample per request"
    );
}

#[tokio::test(start_paused = true)]
async fn a_503_storm_ends_in_a_typed_error_after_the_attempts_allowed() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/api/users.list", |_| {
        Reply::text(503, "upstream unavailable")
    });
    let slack = slack(&fake, RetryPolicy::default().max_attempts(4)).await;
    let err = slack.get("/users.list").send().await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 503, attempts: 4, message, .. } if message.contains("upstream unavailable")),
        "{err:?}"
    );
    assert_eq!(fake.requests("/api/users.list").len(), 4);
    let health = slack.health().summary("slack").unwrap();
    assert_eq!((health.count, health.successes), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_budget_is_a_rate_limit_error_at_once() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/api/users.list", |_| {
        Reply::json(429, json!({"ok": false})).header("Retry-After", "3600")
    });
    let slack = slack(
        &fake,
        RetryPolicy::default().budget(Duration::from_secs(60)),
    )
    .await;
    let started = tokio::time::Instant::now();
    let err = slack.get("/users.list").send().await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(after), attempts: 1, .. } if after == Duration::from_secs(3600)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "it did not wait"
    );
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_is_a_rate_limit_error_not_a_panic() {
    // Waits earlier in the same request, then a Retry-After of u64::MAX
    // seconds: adding it to the time waited overflowed (security review,
    // finding 9).
    let fake = FakeServer::start().await;
    fake.script(
        "GET",
        "/api/users.list",
        vec![
            Reply::json(503, json!({"ok": false})),
            Reply::json(503, json!({"ok": false})),
            Reply::json(503, json!({"ok": false})),
            Reply::json(429, json!({"ok": false})).header("Retry-After", &u64::MAX.to_string()),
        ],
    );
    let slack = slack(
        &fake,
        RetryPolicy::default().min_delay(Duration::from_secs(1)),
    )
    .await;
    let err = tokio::spawn(async move { slack.get("/users.list").send().await })
        .await
        .expect("the request does not panic")
        .unwrap_err();
    let Error::RateLimited {
        retry_after: Some(after),
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert!(
        after <= integrations_vendor::MAX_RETRY_AFTER,
        "a Retry-After is read as at most a day: {after:?}"
    );
}

#[tokio::test]
async fn slack_ok_false_bodies_become_typed_errors_naming_the_slack_error() {
    let fake = FakeServer::start().await;
    fake.route("POST", "/api/chat.postMessage", |request| {
        match request.json()["channel"].as_str() {
            Some("C-missing") => ok(json!({"ok": false, "error": "channel_not_found"})),
            Some("C-scope") => ok(json!({"ok": false, "error": "missing_scope", "needed": "chat:write", "provided": "channels:read"})),
            Some("C-revoked") => ok(json!({"ok": false, "error": "token_revoked"})),
            _ => ok(json!({"ok": true, "channel": "C1", "ts": "1700000000.000100"})),
        }
    });
    let slack = slack(&fake, RetryPolicy::default()).await;
    let post = |channel: &'static str| {
        let slack = slack.clone();
        async move {
            slack
                .post("/chat.postMessage")
                .json(&json!({"channel": channel, "text": "hi"}))
                .send_json::<serde_json::Value>()
                .await
        }
    };
    assert_eq!(post("C1").await.unwrap()["ts"], "1700000000.000100");
    let err = post("C-missing").await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 200, code: Some(code), attempts: 1, .. } if code == "channel_not_found"),
        "{err:?}"
    );
    assert!(err.to_string().contains("channel_not_found"), "{err}");
    let err = post("C-scope").await.unwrap_err();
    assert!(
        matches!(&err, Error::MissingScope { needed: Some(scope), .. } if scope == "chat:write"),
        "{err:?}"
    );
    let err = post("C-revoked").await.unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized { reason, .. } if reason == "token_revoked"),
        "{err:?}"
    );
    let sent = fake.requests("/api/chat.postMessage");
    assert_eq!(sent.len(), 4, "errors that are final are not retried");
    assert_eq!(sent[0].header("authorization"), Some("Bearer xoxb-token"));
    assert_eq!(sent[0].header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_post_the_vendor_may_have_acted_on_is_not_sent_again() {
    let fake = FakeServer::start().await;
    // The vendor posts the message, then answers too late.
    fake.route("POST", "/api/chat.postMessage", |_| {
        ok(json!({"ok": true, "ts": "1"})).after(Duration::from_millis(1500))
    });
    let slack = slack(
        &fake,
        RetryPolicy::default().min_delay(Duration::from_millis(10)),
    )
    .await;
    let err = slack
        .post("/chat.postMessage")
        .json(&json!({"channel": "C1", "text": "once"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(
        fake.requests("/api/chat.postMessage").len(),
        1,
        "a POST that may have been acted on is not repeated"
    );

    // With an idempotency key the vendor deduplicates: it may go again.
    let fake = FakeServer::start().await;
    fake.route("POST", "/v1/charges", |_| {
        Reply::json(200, json!({"id": "ch_1"})).after(Duration::from_millis(1500))
    });
    let api = VendorConnection::builder(
        Vendor::new("payments", fake.url("")).with_idempotency_header("Idempotency-Key"),
    )
    .retry(
        RetryPolicy::default()
            .max_attempts(3)
            .min_delay(Duration::from_millis(10)),
    )
    .build()
    .unwrap();
    let err = api
        .post("/v1/charges")
        .json(&json!({"amount": 100}))
        .idempotency_key("order-42")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let sent = fake.requests("/v1/charges");
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|r| r.header("idempotency-key") == Some("order-42"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_is_safe_to_repeat_even_for_a_post() {
    let fake = FakeServer::start().await;
    fake.script(
        "POST",
        "/api/chat.postMessage",
        vec![
            Reply::json(429, json!({"ok": false, "error": "ratelimited"}))
                .header("Retry-After", "1"),
            ok(json!({"ok": true, "ts": "2"})),
        ],
    );
    let slack = slack(&fake, RetryPolicy::default()).await;
    let posted: serde_json::Value = slack
        .post("/chat.postMessage")
        .json(&json!({"channel": "C1", "text": "hi"}))
        .send_json()
        .await
        .unwrap();
    assert_eq!(posted["ts"], "2");
    assert_eq!(fake.requests("/api/chat.postMessage").len(), 2);
}

#[derive(Debug, Default)]
struct CountingRefresher(AtomicUsize);

#[async_trait]
impl TokenRefresher for CountingRefresher {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(TokenResponse::new("access-new").with_expires_in(Duration::from_secs(3600)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_triggers_exactly_one_refresh_for_a_hundred_concurrent_requests() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/v1/users/me", |request| {
        if request.header("authorization") == Some("Bearer access-new") {
            Reply::json(200, json!({"object": "user", "name": "Ada"}))
        } else {
            Reply::json(
                401,
                json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."}),
            )
        }
    });
    // Not expired by its clock: the vendor revoked it.
    let store = store_with(Credentials::oauth2(
        "access-old",
        Some("refresh-1".into()),
        Some(chrono::Utc::now() + chrono::Duration::hours(1)),
    ))
    .await;
    let refresher = Arc::new(CountingRefresher::default());
    let tokens = TokenManager::builder(store, refresher.clone())
        .build()
        .unwrap();
    let notion = VendorConnection::builder(Vendor::notion().with_base_url(fake.url("")))
        .auth(Auth::OAuth2)
        .token_manager(tokens, tenant(), connection())
        .build()
        .unwrap();

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let notion = notion.clone();
        requests.spawn(async move {
            notion
                .get("/v1/users/me")
                .send_json::<serde_json::Value>()
                .await
        });
    }
    while let Some(result) = requests.join_next().await {
        assert_eq!(result.unwrap().unwrap()["name"], "Ada");
    }
    assert_eq!(refresher.0.load(Ordering::SeqCst), 1, "one refresh");
    let sent = fake.requests("/v1/users/me");
    assert_eq!(
        sent.iter()
            .filter(|r| r.header("authorization") == Some("Bearer access-new"))
            .count(),
        100
    );
    assert!(
        sent.iter()
            .all(|r| r.header("notion-version") == Some("2022-06-28"))
    );

    // A token refused again after the refresh is final.
    fake.route("GET", "/v1/users/me", |_| {
        Reply::json(
            401,
            json!({"object": "error", "status": 401, "code": "unauthorized", "message": "no"}),
        )
    });
    let err = notion.get("/v1/users/me").send().await.unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized { reason, .. } if reason == "unauthorized"),
        "{err:?}"
    );
    assert_eq!(
        refresher.0.load(Ordering::SeqCst),
        2,
        "one more refresh, then it gives up"
    );
}

#[tokio::test]
async fn api_keys_in_headers_and_queries_and_basic_auth_come_from_the_store() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/v2/items", |_| Reply::json(200, json!([])));
    let vendor = || Vendor::new("acme", fake.url(""));
    let store = store_with(Credentials::api_key("key-123")).await;
    for (auth, check) in [
        (Auth::api_key_header("X-API-Key"), "header"),
        (Auth::api_key_query("api_key"), "query"),
        (Auth::Bearer, "bearer"),
    ] {
        let api = VendorConnection::builder(vendor())
            .auth(auth)
            .credentials(store.clone(), tenant(), connection())
            .build()
            .unwrap();
        api.get("/v2/items").query("page", 2).send().await.unwrap();
        let last = fake.requests("/v2/items").pop().unwrap();
        match check {
            "header" => assert_eq!(last.header("x-api-key"), Some("key-123")),
            "query" => assert_eq!(last.query.as_deref(), Some("page=2&api_key=key-123")),
            _ => assert_eq!(last.header("authorization"), Some("Bearer key-123")),
        }
    }
    let basic = store_with(Credentials::new(
        integrations_core::credentials::CredentialKind::Basic {
            username: "ada".into(),
            password: "pw".to_owned().into(),
        },
    ))
    .await;
    let api = VendorConnection::builder(vendor())
        .auth(Auth::Basic)
        .credentials(basic.clone(), tenant(), connection())
        .build()
        .unwrap();
    api.get("/v2/items").send().await.unwrap();
    let last = fake.requests("/v2/items").pop().unwrap();
    assert_eq!(last.header("authorization"), Some("Basic YWRhOnB3"));

    // The wrong kind of credentials for the method is a clear error.
    let api = VendorConnection::builder(vendor())
        .auth(Auth::Bearer)
        .credentials(basic, tenant(), connection())
        .build()
        .unwrap();
    let err = api.get("/v2/items").send().await.unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("basic"), "{err}");
}

#[tokio::test]
async fn keys_and_vendor_headers_never_follow_a_redirect_to_another_origin() {
    // Security review, finding 6: a header key was sent to the redirect's
    // host, and a query key leaked there in `Referer`.
    let elsewhere = FakeServer::start().await;
    elsewhere.route("GET", "/download", |_| Reply::json(200, json!({})));
    let fake = FakeServer::start().await;
    let target = elsewhere.url("/download");
    fake.route("GET", "/v1/files/1", move |_| {
        Reply::json(302, json!({})).header("Location", &target)
    });
    fake.route("GET", "/v1/moved", |_| {
        Reply::json(307, json!({})).header("Location", "/v1/here")
    });
    fake.route("GET", "/v1/here", |_| {
        Reply::json(200, json!({"here": true}))
    });
    let store = store_with(Credentials::api_key("sk-VENDOR-SECRET")).await;
    for auth in [
        Auth::api_key_header("X-API-Key"),
        Auth::api_key_query("api_key"),
        Auth::Bearer,
    ] {
        let api = VendorConnection::builder(
            Vendor::new("acme", fake.url("")).with_header("X-Workspace", "ws-SECRET"),
        )
        .auth(auth)
        .credentials(store.clone(), tenant(), connection())
        .build()
        .unwrap();
        let answer = api.get("/v1/files/1").send().await;
        assert!(answer.is_err(), "the redirect is the caller's to follow");
        let here: serde_json::Value = api.get("/v1/moved").send_json().await.unwrap();
        assert_eq!(here["here"], true, "a same-origin redirect is followed");
    }
    assert!(
        elsewhere.requests("/download").is_empty(),
        "nothing reached the other origin"
    );
    assert!(
        fake.requests("/v1/here")
            .iter()
            .all(|r| r.header("referer").is_none()),
        "no Referer"
    );
}

#[tokio::test]
async fn an_answer_past_the_body_limit_is_a_typed_error_not_a_memory_spike() {
    // Every HTTP client we build states its body limit: a vendor (or
    // anything at its base URL) answering gigabytes is read no further
    // than the limit.
    let fake = FakeServer::start().await;
    fake.route("GET", "/v1/huge", |_| {
        Reply::text(200, &"x".repeat(3 * 1024 * 1024))
    });
    fake.route("GET", "/v1/small", |_| {
        Reply::json(200, json!({"ok": true}))
    });
    let store = store_with(Credentials::api_key("k")).await;
    let api = VendorConnection::builder(Vendor::new("acme", fake.url("")))
        .auth(Auth::Bearer)
        .max_body_bytes(1024 * 1024)
        .credentials(store, tenant(), connection())
        .build()
        .unwrap();
    let error = api.get("/v1/huge").send().await.unwrap_err();
    assert!(
        matches!(&error, Error::Decode { message, .. } if message.contains("1048576")),
        "{error:?}"
    );
    assert!(api.get("/v1/small").send().await.is_ok());
}

#[tokio::test]
async fn path_parameters_are_encoded_and_a_missing_one_is_refused() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/v1/blocks/a%2Fb%20c/children", |_| {
        Reply::json(200, json!({"results": []}))
    });
    let api = VendorConnection::builder(Vendor::new("notion", fake.url("")))
        .build()
        .unwrap();
    api.get("/v1/blocks/{id}/children")
        .param("id", "a/b c")
        .send()
        .await
        .unwrap();
    let err = api
        .get("/v1/blocks/{id}/children")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(
        VendorConnection::builder(Vendor::new("x", "ftp://example.com"))
            .build()
            .is_err()
    );
    assert!(
        VendorConnection::builder(Vendor::new("x", "not a url"))
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn connection_tests_report_identity_scopes_and_actionable_errors() {
    let fake = FakeServer::start().await;
    fake.route("POST", "/api/auth.test", |_| {
        ok(json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "U024BE7LH", "team_id": "T1", "user_id": "U024BE7LH"}))
            .header("X-OAuth-Scopes", "chat:write, channels:read")
    });
    let slack = slack(&fake, RetryPolicy::default()).await;
    let test = slack.test_connection().await;
    assert!(test.success(), "{:?}", test.error);
    assert_eq!(test.identity.as_deref(), Some("U024BE7LH"));
    assert_eq!(test.scopes, ["chat:write", "channels:read"]);

    fake.route("GET", "/user", |_| {
        Reply::json(401, json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}))
    });
    let github = VendorConnection::builder(Vendor::github().with_base_url(fake.url("")))
        .auth(Auth::Bearer)
        .credentials(
            store_with(Credentials::bearer("ghp_x")).await,
            tenant(),
            connection(),
        )
        .build()
        .unwrap();
    let test = github.test_connection().await;
    assert!(
        matches!(test.error, Some(Error::Unauthorized { .. })),
        "{:?}",
        test.error
    );

    // Nothing listens there: a network error, after the retries.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let unreachable = VendorConnection::builder(Vendor::github().with_base_url(closed))
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .min_delay(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let test = unreachable.test_connection().await;
    let Some(Error::Network { message, .. }) = &test.error else {
        panic!("{:?}", test.error)
    };
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn the_client_side_rate_limit_spaces_requests_out() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/api/users.info", |_| ok(json!({"ok": true})));
    let slack = VendorConnection::builder(Vendor::slack().with_base_url(fake.url("/api")))
        .rate_limit(std::num::NonZeroU32::new(5).unwrap())
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    for _ in 0..15 {
        slack.get("/users.info").send().await.unwrap();
    }
    let took = started.elapsed();
    // A burst of 5, then one every 200 ms: the 15th goes out at 2 s.
    assert!(took >= Duration::from_millis(1990), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert_eq!(fake.requests("/api/users.info").len(), 15);
}

#[tokio::test]
async fn google_and_linear_connection_tests() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/oauth2/v3/userinfo", |_| {
        Reply::json(200, json!({"sub": "1170", "email": "ada@example.com"}))
    });
    fake.route("POST", "/graphql", |request| {
        if request.json()["query"].as_str().is_some_and(|q| q.contains("viewer")) {
            Reply::json(200, json!({"data": {"viewer": {"id": "u1", "name": "Ada", "email": "ada@linear.example"}}}))
        } else {
            Reply::json(400, json!({"errors": [{"message": "no query"}]}))
        }
    });
    for (vendor, identity) in [
        (Vendor::google(), "ada@example.com"),
        (Vendor::linear(), "ada@linear.example"),
    ] {
        let test = VendorConnection::builder(vendor.with_base_url(fake.url("")))
            .build()
            .unwrap()
            .test_connection()
            .await;
        assert!(test.success(), "{:?}", test.error);
        assert_eq!(test.identity.as_deref(), Some(identity));
    }
}

/// Keys and tokens are cached (one store read per connection, not one per
/// request); a key rotated in the store is read again when the vendor
/// refuses the cached one, and the request goes once more. A refused key
/// with nothing new in the store is not sent again.
#[tokio::test]
async fn a_cached_key_is_read_again_only_when_the_vendor_refuses_it() {
    let fake = FakeServer::start().await;
    let accepted = Arc::new(std::sync::Mutex::new("key-1".to_owned()));
    let current = Arc::clone(&accepted);
    fake.route("GET", "/v2/items", move |request| {
        if request.header("x-api-key") == Some(current.lock().unwrap().as_str()) {
            Reply::json(200, json!([]))
        } else {
            Reply::json(401, json!({"error": "invalid key"}))
        }
    });
    let store = store_with(Credentials::api_key("key-1")).await;
    let api = VendorConnection::builder(Vendor::new("acme", fake.url("")))
        .auth(Auth::api_key_header("X-API-Key"))
        .credentials(store.clone(), tenant(), connection())
        .build()
        .unwrap();
    api.get("/v2/items").send().await.unwrap();
    api.get("/v2/items").send().await.unwrap();

    // Rotated: the vendor takes only the new key, the store holds it.
    *accepted.lock().unwrap() = "key-2".to_owned();
    store
        .put(&tenant(), &connection(), &Credentials::api_key("key-2"))
        .await
        .unwrap();
    api.get("/v2/items").send().await.unwrap();
    let keys: Vec<_> = fake
        .requests("/v2/items")
        .iter()
        .map(|r| r.header("x-api-key").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(keys, ["key-1", "key-1", "key-1", "key-2"]);

    // Revoked, nothing new stored: refused once, not sent again.
    *accepted.lock().unwrap() = "key-3".to_owned();
    let err = api.get("/v2/items").send().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(err.needs_reauth());
    assert_eq!(fake.requests("/v2/items").len(), 5);
}
