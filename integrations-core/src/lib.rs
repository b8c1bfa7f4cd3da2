//! The core of `integrations`: the [`Integration`] trait, a [`Registry`] that
//! validates and dispatches actions, a [`Runtime`] that drives the lifecycle
//! (init, tick loops, shutdown with a deadline), TOML [`Config`] with secrets
//! by reference, a [`Catalog`](crate::catalog::Catalog) of integration types, [`Event`](crate::events::Event)s with sinks,
//! [`HealthMetrics`](crate::health::HealthMetrics), and credentials: encrypted [`CredentialStore`](crate::credentials::CredentialStore)s
//! ([`SqliteStore`](crate::credentials::SqliteStore) with the default `sqlite` feature, `PgStore` with
//! `postgres`, [`MemoryStore`](crate::credentials::MemoryStore)) and a [`TokenManager`](crate::credentials::TokenManager) that refreshes each
//! OAuth token exactly once, across replicas too; with `postgres`, a
//! `PgTickLease` so that each integration ticks on one replica at a time.
//! No network I/O lives here, but for the PostgreSQL client of the
//! `postgres` feature.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use integrations_core::{Action, ActionResult, BoxError, Capability, Config, Integration, Registry, Runtime, async_trait};
//! use serde_json::json;
//!
//! struct Greeter;
//!
//! #[async_trait]
//! impl Integration for Greeter {
//!     fn id(&self) -> &str { "greeter" }
//!     fn name(&self) -> &str { "Greeter" }
//!     fn capabilities(&self) -> Vec<Capability> {
//!         vec![Capability::new("greet", "Greets someone by name").with_parameters(json!({
//!             "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]
//!         }))]
//!     }
//!     async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
//!         Ok(ActionResult::ok(json!(format!("hello, {}", action.arguments["name"].as_str().unwrap_or("?")))))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let config = Config::from_toml_str("[integrations]\nenabled = [\"greeter\"]")?;
//! let mut registry = Registry::new();
//! registry.register(Arc::new(Greeter))?;
//! let runtime = Runtime::builder(registry).start(&config).await;
//!
//! let reply = runtime.dispatch("greeter.greet", json!({"name": "Ada"})).await?;
//! assert_eq!(reply.output, json!("hello, Ada"));
//! assert!(runtime.dispatch("greeter.greet", json!({})).await.is_err()); // refused by the schema
//!
//! assert!(runtime.shutdown(Duration::from_secs(5)).await.is_clean());
//! # Ok::<_, integrations_core::Error>(()) }).unwrap();
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | [`SqliteStore`](crate::credentials::SqliteStore): credentials in an embedded SQLite file (sqlx, bundled SQLite) |
//! | `postgres` | no | `PgStore` and `PgTickLease`: credentials and tick leases on PostgreSQL, for several replicas |
//!
//! # Modules
//!
//! The root holds what writing and running an integration takes; the rest is
//! by topic: [`config`], [`catalog`], [`credentials`] (stores, keys, the
//! `TokenManager`), [`events`], [`health`], [`id`], [`integration`] (the
//! action context, and MCP-shaped content in [`integration::content`]),
//! [`runtime`] (builder, reports, tick leases) and [`error`].
//!
//! # Related crates and guides
//!
//! [`integrations-mcp`](https://docs.rs/integrations-mcp) (MCP client pool
//! and bridge), [`integrations-vendor`](https://docs.rs/integrations-vendor)
//! (vendor REST APIs, OAuth 2, webhooks),
//! [`integrations-export`](https://docs.rs/integrations-export) (exports to
//! Slack, Notion, GitHub). Guides: [getting started](https://github.com/integrations-rs/integrations/blob/main/docs/getting-started.md),
//! [writing an integration](https://github.com/integrations-rs/integrations/blob/main/docs/integrations.md),
//! [credentials](https://github.com/integrations-rs/integrations/blob/main/docs/credentials.md), [several replicas](https://github.com/integrations-rs/integrations/blob/main/docs/scaling.md),
//! [troubleshooting](https://github.com/integrations-rs/integrations/blob/main/docs/troubleshooting.md).
//!
//! Minimum supported Rust version: 1.94.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod catalog;
pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
pub mod health;
pub mod id;
pub mod integration;
pub mod net;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod registry;
pub mod runtime;

pub use async_trait::async_trait;
pub use config::{Config, IntegrationConfig};
pub use error::{BoxError, Error};
pub use id::{ConnectionId, IntegrationId, TenantId};
pub use integration::{Action, ActionResult, Capability, Integration, Notification};
pub use registry::Registry;
pub use runtime::Runtime;
