//! MCP authorization: a remote MCP server that requires OAuth, and the pool
//! walking the whole flow, offline.
//!
//! One local axum server plays both parts
//! (`integrations_examples::protected_mcp`): a protected MCP server (the
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

use std::sync::Arc;
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::credentials::{CredentialStore, EncryptionKey, KeyRing, SqliteStore};
use integrations_core::id::KeyId;
use integrations_core::id::ServerName;
use integrations_mcp::client::{McpAuthorization, ToolResultExt};
use integrations_mcp::{Bridge, Error, McpPool, SessionKey};
use serde_json::json;

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn pool(base: &str, store: Arc<dyn CredentialStore>) -> McpPool {
    McpPool::builder()
        .server(
            ServerName::from_static("notes"),
            Bridge::http_entry(format!("{base}/mcp")),
        )
        .authorization(
            ServerName::from_static("notes"),
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
    integrations_examples::protected_mcp::serve(listener, base.clone(), stop.clone()).await?;
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
    let key = SessionKey::new(TenantId::new("ada")?, ServerName::from_static("notes"));
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
