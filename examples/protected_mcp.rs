//! A remote MCP server that requires OAuth, and its authorization server,
//! on one local axum server, offline: what the `mcp_oauth` and `host_app`
//! examples connect to.
//!
//! - `/mcp`: the bridge (one integration, `notes`, with one action,
//!   `latest`) behind a bearer check; without a valid token, a 401 whose
//!   `WWW-Authenticate` names the protected-resource metadata.
//! - `/.well-known/oauth-protected-resource[/mcp]`: that metadata.
//! - `/.well-known/oauth-authorization-server`: the authorization server's
//!   metadata; `/register` (dynamic client registration), `/authorize`
//!   (the user approves at once) and `/token` (which checks PKCE).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, async_trait,
};
use integrations_mcp::Bridge;
use serde_json::{Value, json};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

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
) -> Response {
    let (Some(challenge), Some(redirect), Some(state)) = (
        asked.get("code_challenge"),
        asked.get("redirect_uri"),
        asked.get("state"),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "code_challenge, redirect_uri and state are required",
        )
            .into_response();
    };
    let mut codes = auth.codes.lock().unwrap();
    let code = format!("code-{}", codes.len() + 1);
    codes.insert(code.clone(), challenge.clone());
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
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
    let access = {
        let mut tokens = auth.tokens.lock().unwrap();
        let access = format!("at-{}", tokens.len() + 1);
        tokens.push(access.clone());
        access
    };
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

/// Serves the protected MCP server (at `{base}/mcp`) and its authorization
/// server on `listener` until `stop` is cancelled; `base` is the URL
/// `listener` is reached at (`http://localhost:PORT`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    base: String,
    stop: CancellationToken,
) -> Result<(), BoxError> {
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
    // Not `axum::serve`: it sets no header-read timeout (see host_app).
    tokio::spawn(integrations_mcp::server::serve_router(
        listener,
        app,
        std::time::Duration::from_secs(10),
        stop,
    ));
    Ok(())
}
