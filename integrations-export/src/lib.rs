//! Exporting content from `integrations` to Slack, Notion, GitHub, email,
//! webhooks and audit files, reliably, telling the user where it went.
//!
//! - [`Provider`]: where content goes: list destinations, validate the
//!   connection, format, plan (a dry run) and export. Shipped:
//!   [`SlackProvider`](crate::providers::SlackProvider) (Web API), `McpToolProvider` (any MCP server's tool through a declared mapping, Slack's among them,
//!   feature `mcp`), [`NotionProvider`](crate::providers::NotionProvider), [`GitHubProvider`](crate::providers::GitHubProvider),
//!   `EmailProvider` (SMTP, feature `email`),
//!   [`WebhookProvider`](crate::providers::WebhookProvider) (Standard Webhooks signatures) and
//!   [`AuditProvider`] (JSONL files).
//! - Markdown converters on `pulldown-cmark`: [`markdown_to_slack`](crate::markdown::markdown_to_slack) (Block
//!   Kit and mrkdwn) and [`markdown_to_notion`](crate::markdown::markdown_to_notion), split so that no message
//!   or request breaks a platform limit and nothing the user wrote is
//!   dropped.
//! - [`ExportService`]: direct exports with an export log per tenant, a
//!   durable outbox ([`enqueue`](ExportService::enqueue) commits before it
//!   returns; workers retry with backoff and resume after a crash),
//!   fan-out to several providers, and preferences that export a
//!   deliverable when it is approved.
//!
//! ```
//! use integrations_core::TenantId;
//! use integrations_core::id::ProviderId;
//! use integrations_export::{AuditProvider, Content, ExportRequest, ExportService, ExportStatus, SqliteExportStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = SqliteExportStore::open(dir.path().join("exports.db")).await?;
//! let service = ExportService::builder(store)
//!     .provider(AuditProvider::new(dir.path().join("audit")))
//!     .build();
//!
//! let tenant = TenantId::new("user-1")?;
//! let content = Content::new("We ship **on Friday**.").title("Decision");
//! let audit = ProviderId::new("audit")?;
//! let request = ExportRequest::new(tenant.clone(), audit, "decision", content)
//!     .idempotency_key("decision-42");
//! let record = service.export(request).await?;
//! assert_eq!(record.status, ExportStatus::Delivered);
//! println!("written to {:?}", record.result.unwrap().external_url);
//! assert_eq!(service.log(&tenant, 10).await?.len(), 1);
//! # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | [`SqliteExportStore`]: the outbox, export log and preferences in an SQLite file |
//! | `postgres` | no | `PgExportStore`: the same on PostgreSQL, for several replicas |
//! | `mcp` | no | `McpToolProvider`: any MCP server's tool in an `McpPool` as a destination (the Slack MCP server's preset among them) |
//! | `email` | no | `EmailProvider`: email through an SMTP relay (`lettre`, rustls) |
//!
//! # Related crates and guides
//!
//! [`integrations-vendor`](https://docs.rs/integrations-vendor) (the HTTP
//! client each provider uses), [`integrations-core`](https://docs.rs/integrations-core)
//! (tenants, credentials). Guide: [exporting](https://github.com/integrations-rs/integrations/blob/main/docs/export.md).
//!
//! Minimum supported Rust version: 1.94.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
pub mod markdown;
mod provider;
pub mod providers;
mod request;
pub mod service;
pub mod store;

pub use error::{Error, ErrorKind, Failure};
pub use integrations_core as core;
pub use provider::Content;
pub use providers::{AuditProvider, Provider};
pub use request::ExportRequest;
pub use service::ExportService;
#[cfg(feature = "sqlite")]
pub use store::SqliteExportStore;
pub use store::{ExportId, ExportRecord, ExportStatus};
