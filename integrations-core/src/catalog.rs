//! A catalog of integration types a host can offer its users.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ConfigError, Error};
use crate::id::IntegrationId;

/// What an integration type is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntegrationKind {
    /// An MCP server.
    Mcp,
    /// A vendor REST API.
    Vendor,
    /// Code of the host's own.
    Custom,
}

/// How a user authenticates a connection of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// No credentials.
    None,
    /// An API key in a header or query parameter.
    ApiKey,
    /// A bearer token.
    Bearer,
    /// HTTP basic authentication.
    Basic,
    /// OAuth 2.
    Oauth2,
    /// A signed JWT assertion.
    Jwt,
    /// A client TLS certificate.
    Certificate,
    /// An SSH key.
    SshKey,
}

/// One integration type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CatalogEntry {
    /// Unique, URL-safe id (ASCII letters, digits, `-`, `_`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// MCP, vendor or custom.
    pub kind: IntegrationKind,
    /// A grouping such as `communication` or `developer-tools`.
    pub category: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The ways a user can authenticate.
    #[serde(default)]
    pub auth_methods: Vec<AuthMethod>,
    /// JSON Schema of a connection's settings.
    #[serde(default = "object_schema")]
    pub config_schema: Value,
}

fn object_schema() -> Value {
    serde_json::json!({ "type": "object" })
}

/// A search over the catalog; every part that is set must match.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CatalogQuery {
    /// Words that must each appear (case-insensitively) in the slug, name,
    /// description or category.
    pub text: Option<String>,
    /// The kind, exactly.
    pub kind: Option<IntegrationKind>,
    /// The category, case-insensitively.
    pub category: Option<String>,
}

impl CatalogQuery {
    /// A query that matches everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires these words.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Requires this kind.
    #[must_use]
    pub fn kind(mut self, kind: IntegrationKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Requires this category.
    #[must_use]
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }
}

/// Integration types, loaded from TOML or JSON and searchable.
///
/// ```
/// use integrations_core::catalog::{Catalog, CatalogQuery, IntegrationKind};
///
/// let catalog = Catalog::from_toml_str(r#"
///     [[integrations]]
///     slug = "slack"
///     name = "Slack"
///     kind = "vendor"
///     category = "communication"
///     description = "Post messages to channels"
///     auth_methods = ["oauth2", "bearer"]
///
///     [[integrations]]
///     slug = "github-mcp"
///     name = "GitHub MCP server"
///     kind = "mcp"
///     category = "developer-tools"
/// "#)?;
/// let hits = catalog.search(&CatalogQuery::new().text("messages"));
/// assert_eq!(hits[0].slug, "slack");
/// assert_eq!(catalog.search(&CatalogQuery::new().kind(IntegrationKind::Mcp)).len(), 1);
/// # Ok::<_, integrations_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    integrations: Vec<CatalogEntry>,
}

impl Catalog {
    /// A catalog of these entries; refused when a slug is invalid or repeated,
    /// or a config schema is not a valid JSON Schema.
    pub fn new(entries: Vec<CatalogEntry>) -> Result<Self, Error> {
        let mut slugs = HashSet::new();
        for entry in &entries {
            IntegrationId::new(&entry.slug)?;
            if !slugs.insert(entry.slug.as_str()) {
                return Err(ConfigError::Invalid {
                    key: format!("catalog.{}", entry.slug),
                    message: "slug appears twice".into(),
                }
                .into());
            }
            jsonschema::validator_for(&entry.config_schema).map_err(|e| {
                Error::Config(ConfigError::Invalid {
                    key: format!("catalog.{}.config_schema", entry.slug),
                    message: e.to_string(),
                })
            })?;
        }
        Ok(Self { entries })
    }

    /// Loads `[[integrations]]` tables from TOML.
    pub fn from_toml_str(text: &str) -> Result<Self, Error> {
        let document: Document = toml::from_str(text).map_err(|e| {
            Error::Config(ConfigError::InvalidCatalog {
                format: "TOML",
                message: e.to_string(),
            })
        })?;
        Self::new(document.integrations)
    }

    /// Loads `{"integrations": [...]}` or a bare array of entries from JSON.
    pub fn from_json_str(text: &str) -> Result<Self, Error> {
        let invalid = |e: serde_json::Error| {
            Error::Config(ConfigError::InvalidCatalog {
                format: "JSON",
                message: e.to_string(),
            })
        };
        let value: Value = serde_json::from_str(text).map_err(invalid)?;
        let entries = if value.is_array() {
            serde_json::from_value(value).map_err(invalid)?
        } else {
            serde_json::from_value::<Document>(value)
                .map_err(invalid)?
                .integrations
        };
        Self::new(entries)
    }

    /// Every entry, in the order loaded.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// The entry with this slug.
    pub fn get(&self, slug: &str) -> Option<&CatalogEntry> {
        self.entries.iter().find(|entry| entry.slug == slug)
    }

    /// The entries matching `query`, best first: a word found in the slug or
    /// name ranks above one found only in the description or category;
    /// equal ranks keep catalog order.
    pub fn search(&self, query: &CatalogQuery) -> Vec<&CatalogEntry> {
        let words: Vec<String> = query
            .text
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut hits: Vec<(usize, &CatalogEntry)> = self
            .entries
            .iter()
            .filter(|entry| query.kind.is_none_or(|kind| entry.kind == kind))
            .filter(|entry| {
                query
                    .category
                    .as_deref()
                    .is_none_or(|category| entry.category.eq_ignore_ascii_case(category))
            })
            .filter_map(|entry| {
                let title = format!("{} {}", entry.slug, entry.name).to_lowercase();
                let body = format!("{} {}", entry.description, entry.category).to_lowercase();
                words
                    .iter()
                    .try_fold(0, |score, word| {
                        if title.contains(word.as_str()) {
                            Some(score + 2)
                        } else if body.contains(word.as_str()) {
                            Some(score + 1)
                        } else {
                            None
                        }
                    })
                    .map(|score| (score, entry))
            })
            .collect();
        hits.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        hits.into_iter().map(|(_, entry)| entry).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"integrations": [
        {"slug": "notion", "name": "Notion", "kind": "vendor", "category": "docs",
         "description": "Pages and databases; export slack threads", "auth_methods": ["oauth2"],
         "config_schema": {"type": "object", "properties": {"workspace": {"type": "string"}}}},
        {"slug": "slack", "name": "Slack", "kind": "vendor", "category": "Communication",
         "description": "Messages", "auth_methods": ["oauth2", "bearer"]},
        {"slug": "fs", "name": "Filesystem", "kind": "mcp", "category": "files"}
    ]}"#;

    #[test]
    fn search_filters_and_ranks() {
        let catalog = Catalog::from_json_str(JSON).unwrap();
        let slugs = |q: &CatalogQuery| {
            catalog
                .search(q)
                .iter()
                .map(|e| e.slug.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(slugs(&CatalogQuery::new()), ["notion", "slack", "fs"]);
        assert_eq!(
            slugs(&CatalogQuery::new().text("SLACK")),
            ["slack", "notion"]
        );
        assert_eq!(slugs(&CatalogQuery::new().text("slack export")), ["notion"]);
        assert_eq!(
            slugs(&CatalogQuery::new().kind(IntegrationKind::Mcp)),
            ["fs"]
        );
        assert_eq!(
            slugs(&CatalogQuery::new().category("communication")),
            ["slack"]
        );
        assert!(slugs(&CatalogQuery::new().text("nothing-like-this")).is_empty());
        assert_eq!(
            catalog.get("slack").unwrap().auth_methods,
            [AuthMethod::Oauth2, AuthMethod::Bearer]
        );
        assert_eq!(catalog.get("fs").unwrap().config_schema, object_schema());
    }

    #[test]
    fn json_and_toml_load_the_same_entries() {
        let from_json = Catalog::from_json_str(JSON).unwrap();
        let toml_text =
            toml::to_string(&serde_json::json!({ "integrations": from_json.entries() })).unwrap();
        let from_toml = Catalog::from_toml_str(&toml_text).unwrap();
        assert_eq!(from_json.entries(), from_toml.entries());
        let bare = serde_json::to_string(from_json.entries()).unwrap();
        assert_eq!(
            Catalog::from_json_str(&bare).unwrap().entries(),
            from_json.entries()
        );
    }

    #[test]
    fn bad_catalogs_are_refused() {
        let entry = r#"{"slug": "a", "name": "A", "kind": "custom", "category": "c"}"#;
        assert!(matches!(
            Catalog::from_json_str(&format!("[{entry},{entry}]")),
            Err(Error::Config(ConfigError::Invalid { .. }))
        ));
        assert!(matches!(
            Catalog::from_json_str(
                r#"[{"slug": "a", "name": "A", "kind": "robot", "category": "c"}]"#
            ),
            Err(Error::Config(ConfigError::InvalidCatalog {
                format: "JSON",
                ..
            }))
        ));
        assert!(matches!(
            Catalog::from_json_str(
                r#"[{"slug": "a b", "name": "A", "kind": "mcp", "category": "c"}]"#
            ),
            Err(Error::InvalidId { .. })
        ));
        assert!(matches!(
            Catalog::from_json_str(
                r#"[{"slug": "a", "name": "A", "kind": "mcp", "category": "c", "config_schema": {"type": 5}}]"#
            ),
            Err(Error::Config(ConfigError::Invalid { .. }))
        ));
        assert!(matches!(
            Catalog::from_toml_str("integrations = 5"),
            Err(Error::Config(ConfigError::InvalidCatalog {
                format: "TOML",
                ..
            }))
        ));
    }
}
