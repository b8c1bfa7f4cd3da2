//! Vendor REST APIs for `integrations`: one authenticated, polite,
//! observable connection to any vendor's API (Slack, Notion, GitHub, and
//! the hundreds a host meets), with its credentials in the core's
//! encrypted store.
//!
//! - [`VendorConnection`]: auth ([`Auth`]) from the credential store or a
//!   `TokenManager`; retries on 429, 5xx and connection errors that wait at
//!   least `Retry-After` ([`RetryPolicy`]); a client-side rate limit; an
//!   OAuth token refreshed once on a 401; the vendor's error bodies (Slack's
//!   `ok: false`, Notion's `object: error`) as typed [`Error`]s; a tracing
//!   span and a health sample per request; [`test_connection`](VendorConnection::test_connection).
//! - [`VendorClient`]: one vendor's HTTP client, rate limiter, retry policy
//!   and token cache, shared by every tenant's connection (each a cheap
//!   view): what a host serving many tenants builds once per vendor.
//! - [`Vendor`]: what the crate knows of a vendor, as data a host extends.
//! - OAuth 2 ([`OAuthFlow`](crate::oauth::OAuthFlow), [`OAuthClient`](crate::oauth::OAuthClient), [`OAuthProvider`](crate::oauth::OAuthProvider)): the code
//!   flow with PKCE and one-time states, client credentials, and the refresh
//!   grant as the core's `TokenRefresher`; Slack, Notion, GitHub, Google and
//!   Linear defined as data.
//! - [`WebhookVerifier`](crate::webhook::WebhookVerifier): Slack v0 signatures, GitHub `X-Hub-Signature-256`
//!   and Standard Webhooks, compared in constant time, stale timestamps and
//!   replayed ids refused.
//!
//! ```
//! use std::sync::Arc;
//! use integrations_core::{ConnectionId, TenantId};
//! use integrations_core::credentials::{CredentialStore, Credentials, MemoryStore};
//! use integrations_vendor::{Auth, Error, Vendor, VendorConnection};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let base = format!("http://{}/api", listener.local_addr().unwrap());
//! # tokio::spawn(async move { // a one-request stand-in for Slack
//! #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! #     let (mut socket, _) = listener.accept().await.unwrap();
//! #     let mut buffer = [0; 4096]; let _ = socket.read(&mut buffer).await;
//! #     let body = r#"{"ok":false,"error":"channel_not_found"}"#;
//! #     let reply = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
//! #     socket.write_all(reply.as_bytes()).await.unwrap();
//! # });
//! // The tenant's token lives in the credential store, never in code.
//! let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
//! let (tenant, connection) = (TenantId::new("user-1")?, ConnectionId::new("slack", "acme")?);
//! store.put(&tenant, &connection, &Credentials::bearer("xoxb-example")).await?;
//!
//! let slack = VendorConnection::builder(Vendor::slack().with_base_url(base))
//!     .auth(Auth::Bearer)
//!     .credentials(store, tenant, connection)
//!     .build()?;
//! let posted = slack
//!     .post("/chat.postMessage")
//!     .json(&serde_json::json!({"channel": "C404", "text": "hello"}))
//!     .send()
//!     .await;
//! // Slack answers HTTP 200 with `ok: false`: a typed error naming it.
//! assert!(matches!(posted, Err(Error::Api { code: Some(code), .. }) if code == "channel_not_found"));
//! # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! # Features
//!
//! None: HTTP (reqwest with rustls), OAuth 2 and webhooks are the crate's
//! job. Credentials come from whichever `integrations-core` store the host
//! enables.
//!
//! # Related crates and guides
//!
//! [`integrations-core`](https://docs.rs/integrations-core) (credential
//! stores and the `TokenManager`),
//! [`integrations-export`](https://docs.rs/integrations-export) (exports
//! over these connections). Guides: [vendor APIs](https://github.com/integrations-rs/integrations/blob/main/docs/vendor.md),
//! [credentials and tokens](https://github.com/integrations-rs/integrations/blob/main/docs/credentials.md).
//!
//! Minimum supported Rust version: 1.94.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod client;
mod connection;
mod error;
mod jwt;
pub mod oauth;
mod probe;
mod rate;
mod request;
mod response;
mod retry;
mod vendor;
pub mod webhook;

pub use auth::Auth;
pub use client::{VendorClient, VendorConnectionBuilder};
pub use connection::VendorConnection;
pub use error::Error;
pub use integrations_core as core;
pub use probe::ConnectionTest;
pub use request::VendorRequest;
pub use response::VendorResponse;
pub use retry::{MAX_RETRY_AFTER, RetryPolicy};
pub use vendor::{ErrorStyle, TestEndpoint, Vendor};
