//! Exporting content from `integrations` to Slack, Notion, GitHub, webhooks
//! and audit files.
//!
//! **Status: skeleton.** Providers, markdown converters, the durable outbox
//! and fan-out are being built. Today it re-exports the event types an
//! export reports through.
//!
//! ```
//! use integrations_export::core::{Event, EventKind, IntegrationId};
//!
//! let event = Event::now(
//!     IntegrationId::new("slack")?,
//!     EventKind::Exported { destination: "#general".into() },
//! );
//! assert_eq!(event.kind.name(), "exported");
//! # Ok::<_, integrations_export::core::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use integrations_core as core;
