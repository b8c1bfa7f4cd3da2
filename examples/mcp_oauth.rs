//! MCP authorization: a remote MCP server that requires OAuth, and the pool
//! walking the whole flow, offline.
//!
//! One local axum server plays both parts: a protected MCP server (the
//! bridge behind a bearer check, with its protected-resource metadata) and
//! its authorization server (metadata, dynamic registration, an authorize
//! endpoint that approves at once, a token endpoint that checks PKCE). The
//! pool discovers the authorization server, registers, sends "the user" to
//! authorize, takes the callback, seals the tokens in an SQLite file, calls
//! a tool; then a new pool on the same file connects with the stored
//! tokens, no user involved.
//!
//! ```sh
//! cargo run --example mcp_oauth
//! ```
//!
//! `RUST_LOG` sets what it logs to stderr (default `info`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use integrations_core::credentials::{CredentialStore, EncryptionKey, KeyRing, SqliteStore};
use integrations_core::id::KeyId;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, TenantId,
    async_trait,
};
use integrations_mcp::client::{McpAuthorization, ToolResultExt};
use integrations_mcp::{Bridge, Error, McpPool, SessionKey};
use serde_json::{Value, json};
use sha2::Digest;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// What the authorization server remembers.
#[derive(Default)]
struct Auth {
    base: String,
    /// Codes issued, with their PKCE challenge.
    codes: Mutex<HashMap<String, String>>,
    /// Access tokens issued.
    tokens: Mutex<Vec<String>>,
}

async fn authorization_server_metadata(State(auth): State<Arc<Auth>>) -> Json<Value> {
    let base = &auth.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["notes"],
    }))
}

async fn resource_metadata(State(auth): State<Arc<Auth>>) -> Json<Value> {
    Json(
        json!({"resource": format!("{}/mcp", auth.base), "authorization_servers": [auth.base], "scopes_supported": ["notes"]}),
    )
}

async fn register(Json(client): Json<Value>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({
            "client_id": "registered-client", "redirect_uris": client["redirect_uris"],
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
        })),
    )
}

/// The user approves at once: back to the client with a code.
async fn authorize(
    State(auth): State<Arc<Auth>>,
    Query(asked): Query<HashMap<String, String>>,
) -> Redirect {
    let code = format!("code-{}", auth.codes.lock().unwrap().len() + 1);
    auth.codes
        .lock()
        .unwrap()
        .insert(code.clone(), asked["code_challenge"].clone());
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        asked["redirect_uri"], asked["state"]
    ))
}

async fn token(
    State(auth): State<Arc<Auth>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
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
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let access = format!("at-{}", auth.tokens.lock().unwrap().len() + 1);
    auth.tokens.lock().unwrap().push(access.clone());
    Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-1", "scope": "notes"})).into_response()
}

/// The protected resource: a valid bearer token, or a 401 naming the
/// resource metadata.
async fn bearer_check(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented.is_some_and(|token| auth.tokens.lock().unwrap().iter().any(|t| t == token)) {
        return next.run(request).await;
    }
    let challenge = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"notes\"",
        auth.base
    );
    (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)]).into_response()
}

/// The integration the protected server offers.
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
    async fn handle(&self, _action: Action) -> Result<ActionResult, BoxError> {
        Ok(ActionResult::ok(json!("Buy milk")))
    }
}

async fn protected_server(
    listener: tokio::net::TcpListener,
    base: String,
    stop: tokio_util::sync::CancellationToken,
) -> Result<(), Failure> {
    let mut registry = Registry::new();
    registry.register(Arc::new(Notes))?;
    let runtime = Arc::new(
        Runtime::builder(registry)
            .start(&Config::from_toml_str(
                "[integrations]\nenabled = [\"notes\"]",
            )?)
            .await,
    );
    let auth = Arc::new(Auth {
        base,
        ..Auth::default()
    });
    let mcp = Bridge::new(runtime)
        .router(&stop)
        .layer(axum::middleware::from_fn_with_state(
            auth.clone(),
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
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(auth)
        .merge(mcp);
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    Ok(())
}

fn pool(base: &str, store: Arc<dyn CredentialStore>) -> McpPool {
    McpPool::builder()
        .server("notes", Bridge::http_entry(format!("{base}/mcp")))
        .authorization(
            "notes",
            McpAuthorization::authorization_code(format!("{base}/callback"))
                .client_name("mcp_oauth example"),
        )
        .credential_store(store)
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    integrations_examples::init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://localhost:{}", listener.local_addr()?.port());
    let stop = tokio_util::sync::CancellationToken::new();
    protected_server(listener, base.clone(), stop.clone()).await?;
    println!("1. a protected MCP server and its authorization server at {base}");

    let dir = tempfile::tempdir()?;
    let key_bytes = [7u8; 32]; // a real host reads its key from its secret manager
    let keys = || {
        KeyRing::new(
            KeyId::new("k1").expect("a valid id"),
            EncryptionKey::from_bytes(key_bytes),
        )
    };
    let store: Arc<dyn CredentialStore> =
        Arc::new(SqliteStore::open(dir.path().join("tokens.db"), keys()).await?);
    let key = SessionKey::new(TenantId::new("ada")?, "notes");
    let first = pool(&base, store.clone());
    let Err(Error::AuthorizationRequired { url, .. }) = first.list_tools(&key).await else {
        return Err("expected the server to ask for authorization".into());
    };
    println!(
        "2. the pool discovered the authorization server and registered; send the user to:\n   {}",
        url.split('&').next().unwrap_or_default()
    );

    // The user's browser: approve, and come back to the host's callback.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let callback = browser.get(&url).send().await?.headers()["location"]
        .to_str()?
        .to_owned();
    println!(
        "3. the user approved; the host's callback got {}",
        callback.split('?').next().unwrap_or_default()
    );
    first.complete_authorization(&key.tenant, &callback).await?;
    println!(
        "4. code exchanged with PKCE; tokens sealed in SQLite for tenant {}",
        key.tenant
    );
    match first.complete_authorization(&key.tenant, &callback).await {
        Err(refused) => println!("5. the same callback again is refused: {refused}"),
        Ok(_) => return Err("a replayed callback was accepted".into()),
    }

    let tools = first.list_tools(&key).await?;
    let result = first.call_tool(&key, &tools[0].name, json!({})).await?;
    println!("6. {} -> {}", tools[0].name, result.text());
    first.shutdown(Duration::from_secs(5)).await;

    // A restart: a new pool on the same file connects with the stored tokens.
    let store: Arc<dyn CredentialStore> =
        Arc::new(SqliteStore::open(dir.path().join("tokens.db"), keys()).await?);
    let second = pool(&base, store);
    let result = second.call_tool(&key, &tools[0].name, json!({})).await?;
    println!(
        "7. after a restart, with the sealed tokens: {}",
        result.text()
    );
    second.shutdown(Duration::from_secs(5)).await;
    stop.cancel();
    Ok(())
}
