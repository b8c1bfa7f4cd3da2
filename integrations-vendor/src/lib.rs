//! Vendor REST APIs for `integrations`.
//!
//! **Status: skeleton.** Auth methods, OAuth 2 with PKCE, HTTP with retries
//! that honour `Retry-After`, webhook verification and per-vendor connection
//! tests are being built. Today it re-exports the catalog types that describe
//! vendor integrations.
//!
//! ```
//! use integrations_vendor::core::{AuthMethod, Catalog, CatalogQuery, IntegrationKind};
//!
//! let catalog = Catalog::from_json_str(r#"[
//!     {"slug": "slack", "name": "Slack", "kind": "vendor", "category": "communication",
//!      "auth_methods": ["oauth2", "bearer"]}
//! ]"#)?;
//! let vendors = catalog.search(&CatalogQuery::new().kind(IntegrationKind::Vendor));
//! assert_eq!(vendors[0].auth_methods, [AuthMethod::Oauth2, AuthMethod::Bearer]);
//! # Ok::<_, integrations_vendor::core::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use integrations_core as core;
