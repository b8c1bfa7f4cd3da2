//! No secret in any Debug, Display, error or trace: the flows run with a
//! subscriber at TRACE that captures every span and event (reqwest's `log`
//! records too), and the test secrets must appear nowhere.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use integrations_core::credentials::{
    CredentialKind, CredentialStore, Credentials, MemoryStore, RefreshRequest, TokenManager,
    TokenRefresher, TokenResponse,
};
use integrations_core::{BoxError, ConnectionId, TenantId, async_trait};
use integrations_fakes::{FakeServer, Reply};
use integrations_vendor::oauth::{OAuthClient, OAuthFlow, OAuthProvider};
use integrations_vendor::{Auth, RetryPolicy, Vendor, VendorConnection};
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct Refresher;

#[async_trait]
impl TokenRefresher for Refresher {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        Ok(TokenResponse::new("SECRET-access-new")
            .with_refresh_token("SECRET-refresh-new")
            .with_expires_in(Duration::from_secs(3600)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_debug_display_errors_or_traces() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    tracing_log::LogTracer::init_with_filter(tracing_log::log::LevelFilter::Trace).unwrap();

    let fake = FakeServer::start().await;
    fake.route("POST", "/api/chat.postMessage", |request| {
        if request.json()["channel"] == "C-missing" {
            Reply::json(200, json!({"ok": false, "error": "channel_not_found"}))
        } else {
            Reply::json(200, json!({"ok": true, "ts": "1"}))
        }
    });
    fake.route("GET", "/v2/items", |_| {
        Reply::json(500, json!({"message": "boom"}))
    });
    fake.route("GET", "/v1/users/me", |request| {
        if request.header("authorization") == Some("Bearer SECRET-access-new") {
            Reply::json(200, json!({"name": "Ada"}))
        } else {
            Reply::json(
                401,
                json!({"object": "error", "code": "unauthorized", "message": "invalid"}),
            )
        }
    });
    let tenant = TenantId::new("user-1").unwrap();
    let connection = ConnectionId::new("acme", "main").unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let quick = RetryPolicy::default()
        .max_attempts(2)
        .min_delay(Duration::from_millis(5));
    let mut shown = Vec::new();

    // Bearer, header key, query key and basic, each with a success or an error.
    for (credentials, auth) in [
        (Credentials::bearer("SECRET-bearer"), Auth::Bearer),
        (
            Credentials::api_key("SECRET-header-key"),
            Auth::api_key_header("X-API-Key"),
        ),
        (
            Credentials::api_key("SECRET-query-key"),
            Auth::api_key_query("api_key"),
        ),
        (
            Credentials::new(CredentialKind::Basic {
                username: "ada".into(),
                password: "SECRET-password".to_owned().into(),
            }),
            Auth::Basic,
        ),
    ] {
        store.put(&tenant, &connection, &credentials).await.unwrap();
        let slack = VendorConnection::builder(Vendor::slack().with_base_url(fake.url("/api")))
            .auth(auth.clone())
            .credentials(store.clone(), tenant.clone(), connection.clone())
            .retry(quick.clone())
            .build()
            .unwrap();
        let request = slack
            .post("/chat.postMessage")
            .json(&json!({"channel": "C1", "text": "hi"}));
        shown.push(format!("{request:?} {slack:?}"));
        let response = request.send().await.unwrap();
        shown.push(format!("{response:?}"));
        let error = slack
            .post("/chat.postMessage")
            .json(&json!({"channel": "C-missing"}))
            .send()
            .await
            .unwrap_err();
        shown.push(format!("{error} {error:?}"));
        let other = VendorConnection::builder(Vendor::new("acme", fake.url("")))
            .auth(auth)
            .credentials(store.clone(), tenant.clone(), connection.clone())
            .retry(quick.clone())
            .build()
            .unwrap();
        let error = other.get("/v2/items").send().await.unwrap_err();
        shown.push(format!("{error} {error:?}"));
        let closed = VendorConnection::builder(Vendor::new("acme", "http://127.0.0.1:9"))
            .auth(Auth::api_key_query("api_key"))
            .credentials(store.clone(), tenant.clone(), connection.clone())
            .retry(quick.clone())
            .build()
            .unwrap();
        let error = closed.get("/v2/items").send().await.unwrap_err();
        shown.push(format!("{error} {error:?}"));
        let test = other.test_connection().await;
        shown.push(format!("{test:?}"));
    }

    // OAuth 2: a refused token, a refresh, the new token.
    store
        .put(
            &tenant,
            &connection,
            &Credentials::oauth2(
                "SECRET-access-old",
                Some("SECRET-refresh-old".into()),
                Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            ),
        )
        .await
        .unwrap();
    let tokens = TokenManager::builder(store.clone(), Arc::new(Refresher))
        .build()
        .unwrap();
    let notion = VendorConnection::builder(Vendor::notion().with_base_url(fake.url("")))
        .auth(Auth::OAuth2)
        .token_manager(tokens.clone(), tenant.clone(), connection.clone())
        .build()
        .unwrap();
    let me: serde_json::Value = notion.get("/v1/users/me").send_json().await.unwrap();
    assert_eq!(me["name"], "Ada");
    shown.push(format!("{notion:?} {tokens:?}"));

    // The OAuth 2 code flow and the client credentials grant.
    fake.route("POST", "/oauth/token", |request| {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        if body.contains("grant_type=client_credentials") {
            Reply::json(400, json!({"error": "invalid_client"}))
        } else {
            Reply::json(200, json!({"access_token": "SECRET-flow-access", "refresh_token": "SECRET-flow-refresh", "token_type": "Bearer", "expires_in": 3600}))
        }
    });
    let client = OAuthClient::new(
        OAuthProvider::new(
            "acme",
            "Acme",
            fake.url("/oauth/authorize"),
            fake.url("/oauth/token"),
        ),
        "app",
        Some("SECRET-client-secret".to_owned().into()),
        "http://127.0.0.1:1/callback",
    )
    .unwrap();
    let flow = OAuthFlow::new(client.clone(), store.clone());
    let started = flow.start(&tenant, &connection);
    flow.callback(&tenant, &started.state, "SECRET-code")
        .await
        .unwrap();
    let replayed = flow
        .callback(&tenant, &started.state, "SECRET-code")
        .await
        .unwrap_err();
    let refused = client
        .client_credentials(&*store, &tenant, &connection)
        .await
        .unwrap_err();
    shown.push(format!(
        "{flow:?} {client:?} {replayed} {replayed:?} {refused} {refused:?}"
    ));

    // A JWT grant and a client certificate, from stored keys.
    store
        .put(
            &tenant,
            &connection,
            &Credentials::new(CredentialKind::Jwt {
                key_id: None,
                private_key: include_str!("fixtures/test-es256.pem").to_owned().into(),
            }),
        )
        .await
        .unwrap();
    let jwt = VendorConnection::builder(Vendor::new("google", fake.url("")))
        .auth(Auth::JwtGrant {
            token_url: fake.url("/oauth/token"),
            issuer: "robot@example.com".into(),
            scope: "read".into(),
        })
        .credentials(store.clone(), tenant.clone(), connection.clone())
        .retry(quick.clone())
        .build()
        .unwrap();
    let error = jwt.get("/v2/items").send().await.unwrap_err();
    shown.push(format!("{jwt:?} {error} {error:?}"));
    store
        .put(
            &tenant,
            &connection,
            &Credentials::new(CredentialKind::ClientCertificate {
                certificate: include_str!("fixtures/test-client.pem").to_owned(),
                private_key: include_str!("fixtures/test-client.key").to_owned().into(),
            }),
        )
        .await
        .unwrap();
    let mtls = VendorConnection::builder(Vendor::new("bank", fake.url("")))
        .auth(Auth::ClientCertificate)
        .credentials(store.clone(), tenant.clone(), connection.clone())
        .retry(quick.clone())
        .build()
        .unwrap();
    let error = mtls.get("/v2/items").send().await.unwrap_err();
    shown.push(format!("{mtls:?} {error} {error:?}"));

    let traces = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(traces.contains("vendor.request"), "the spans were captured");
    assert!(traces.len() > 1000, "the traces hold the flows");
    assert!(
        traces.contains("reqwest::connect") && traces.contains("hyper_util"),
        "reqwest's log records and hyper's events were captured too"
    );
    let key_material = ["PRIVATE KEY", "BEGIN CERTIFICATE"];
    for text in shown.iter().chain(std::iter::once(&traces)) {
        assert!(
            !key_material.iter().any(|pem| text.contains(pem)),
            "key material leaked"
        );
        assert!(
            !text.contains("SECRET"),
            "a secret leaked: ...{}...",
            &text[text.find("SECRET").unwrap().saturating_sub(200)..]
                [..400.min(text.len() - text.find("SECRET").unwrap().saturating_sub(200))]
        );
    }
}
