//! OAuth 2 flow: connect a tenant's account to a provider, end to end,
//! offline.
//!
//! A fake provider runs on 127.0.0.1 (its authorize endpoint stands in for
//! the user clicking "Allow"; its token endpoint checks the PKCE verifier).
//! The example starts the flow, follows the user's redirect back to the
//! callback, stores the tokens sealed in an SQLite file, calls the
//! provider's API with them, and refreshes them when they near expiry,
//! printing each step.
//!
//! ```sh
//! cargo run --example oauth_flow
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use integrations_core::credentials::{
    CredentialStore, EncryptionKey, KeyRing, SqliteStore, TokenManager,
};
use integrations_core::id::KeyId;
use integrations_core::{ConnectionId, TenantId};
use integrations_fakes::{FakeServer, Recorded, Reply};
use integrations_vendor::oauth::{OAuthClient, OAuthFlow, OAuthProvider};
use integrations_vendor::{Auth, Vendor, VendorConnection};
use serde_json::json;
use sha2::Digest;

type Error = Box<dyn std::error::Error + Send + Sync>;

const REDIRECT: &str = "http://127.0.0.1:8400/oauth/callback";

fn query(request: &Recorded) -> HashMap<String, String> {
    let text = request
        .query
        .clone()
        .unwrap_or_else(|| String::from_utf8_lossy(&request.body).into_owned());
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// A provider with an authorize endpoint that approves at once, a token
/// endpoint that checks PKCE and rotates refresh tokens, and an API.
async fn fake_provider() -> FakeServer {
    let fake = FakeServer::start().await;
    let codes: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let issued = Arc::new(Mutex::new(0u32));
    let approved = Arc::clone(&codes);
    fake.route("GET", "/oauth/authorize", move |request| {
        let asked = query(request);
        let code = format!("code-{}", approved.lock().unwrap().len() + 1);
        approved
            .lock()
            .unwrap()
            .insert(code.clone(), asked["code_challenge"].clone());
        let back = format!(
            "{}?code={code}&state={}",
            asked["redirect_uri"], asked["state"]
        );
        Reply::text(302, "").header("location", &back)
    });
    fake.route("POST", "/oauth/token", move |request| {
        let form = query(request);
        let ok = match form["grant_type"].as_str() {
            "authorization_code" => {
                codes
                    .lock()
                    .unwrap()
                    .remove(&form["code"])
                    .is_some_and(|challenge| {
                        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                        base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .encode(sha2::Sha256::digest(verifier.as_bytes()))
                            == challenge
                    })
            }
            "refresh_token" => form["refresh_token"].starts_with("rt-"),
            _ => false,
        };
        if !ok {
            return Reply::json(400, json!({"error": "invalid_grant"}));
        }
        let mut n = issued.lock().unwrap();
        *n += 1;
        // Short-lived tokens, so the refresh below is due at once.
        Reply::json(
            200,
            json!({
                "access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}"),
                "token_type": "Bearer", "expires_in": 120, "scope": "read write",
            }),
        )
    });
    fake.route("GET", "/v1/me", |request| {
        match request.header("authorization") {
            Some(bearer) if bearer.starts_with("Bearer at-") => Reply::json(
                200,
                json!({"name": "Ada Lovelace", "token": bearer.trim_start_matches("Bearer ")}),
            ),
            _ => Reply::json(401, json!({"error": "unauthorized"})),
        }
    });
    fake
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    integrations_examples::init_tracing();
    let provider = fake_provider().await;
    println!("1. a fake provider listens at {}", provider.url(""));

    let dir = tempfile::tempdir()?;
    let keys = KeyRing::new(KeyId::new("k1")?, EncryptionKey::generate()?);
    let store: Arc<dyn CredentialStore> =
        Arc::new(SqliteStore::open(dir.path().join("credentials.db"), keys).await?);
    let oauth = OAuthProvider::new(
        "acme",
        "Acme",
        provider.url("/oauth/authorize"),
        provider.url("/oauth/token"),
    )
    .with_scopes(["read", "write"]);
    let client = OAuthClient::new(
        oauth,
        "example-app",
        Some("example-client-secret".to_owned().into()),
        REDIRECT,
    )?;
    let flow = OAuthFlow::new(client.clone(), Arc::clone(&store));

    let tenant = TenantId::new("ada@example.com")?;
    let connection = ConnectionId::new("acme", "default")?;
    let authorization = flow.start(&tenant, &connection);
    println!("2. send the user to: {}", authorization.url);

    // The user's browser: the provider redirects back to our callback.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let answer = browser.get(&authorization.url).send().await?;
    let callback = answer.headers()["location"].to_str()?.to_owned();
    println!("3. the user approved; the provider redirects to {callback}");
    let back: HashMap<String, String> = reqwest::Url::parse(&callback)?
        .query_pairs()
        .into_owned()
        .collect();

    let stored_for = flow
        .callback(&tenant, &back["state"], &back["code"])
        .await?;
    let stored = store.get(&tenant, &stored_for).await?.ok_or("not stored")?;
    println!(
        "4. code exchanged (PKCE checked by the provider); stored for {stored_for}, sealed in SQLite: {} (version {})",
        stored.value, stored.version
    );
    match flow.callback(&tenant, &back["state"], &back["code"]).await {
        Err(refused) => println!("5. the same callback again is refused: {refused}"),
        Ok(_) => return Err("a replayed state was accepted".into()),
    }

    // Requests through a connection; the token expires within the margin,
    // so the first request refreshes it.
    let tokens = TokenManager::builder(Arc::clone(&store), Arc::new(client))
        .margin(Duration::from_secs(300))
        .build()?;
    let api = VendorConnection::builder(Vendor::new("acme", provider.url("")))
        .auth(Auth::OAuth2)
        .token_manager(tokens, tenant.clone(), connection.clone())
        .build()?;
    let me: serde_json::Value = api.get("/v1/me").send_json().await?;
    println!(
        "6. GET /v1/me as {} (with the refreshed token {})",
        me["name"], me["token"]
    );
    let refreshes = provider
        .requests("/oauth/token")
        .iter()
        .filter(|request| query(request)["grant_type"] == "refresh_token")
        .count();
    println!(
        "7. refreshes so far: {refreshes}; health: {:?}",
        api.health().summary("acme").map(|h| h.success_rate)
    );
    Ok(())
}
