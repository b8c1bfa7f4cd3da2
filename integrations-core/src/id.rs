//! The ids every crate of the family shares: one implementation, one rule per
//! kind of id, checked once when the id is made.
//!
//! Ids end up in database keys, file names, URLs and log lines, so each kind
//! allows a small set of characters:
//!
//! | id | length | characters |
//! |---|---|---|
//! | [`IntegrationId`] | 1 to 64 | ASCII letters, digits, `-`, `_` (no `.`: targets are `integration.action`) |
//! | [`ProviderId`] | 1 to 64 | as [`IntegrationId`] |
//! | [`TenantId`] | 1 to 128 | ASCII letters, digits, `.`, `_`, `-`, `@`, `+`; starts with a letter or digit |
//! | [`ServerName`] | 1 to 128 | as [`TenantId`] |
//! | [`KeyId`] | 1 to 64 | as [`TenantId`] |
//! | [`ConnectionId`] | provider + name | an [`IntegrationId`] and a name with [`TenantId`]'s rule |
//!
//! Every id is cheap to clone (an `Arc<str>`), compares and hashes as its
//! text, shows as its text (`Display`) or quoted (`Debug`), borrows as `&str`
//! and is (de)serialised as a string, checked on the way in.
//!
//! ```
//! use integrations_core::id::{ServerName, TenantId};
//!
//! assert!(TenantId::new("ada@example.com").is_ok());
//! assert!(TenantId::new("bad tenant/..").is_err());
//! let server: ServerName = "github".parse()?;
//! assert_eq!(server.as_str(), "github");
//! # Ok::<_, integrations_core::Error>(())
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What one kind of id allows.
struct Rule {
    max: usize,
    /// Extra characters besides ASCII letters and digits.
    extra: &'static [u8],
    /// Whether the first character must be a letter or digit.
    alnum_start: bool,
    /// The sentence an error shows for a bad character.
    allowed: &'static str,
}

const NAME: Rule = Rule {
    max: 64,
    extra: b"-_",
    alnum_start: false,
    allowed: "only ASCII letters, digits, `-` and `_` are allowed",
};

const LABEL: Rule = Rule {
    max: 128,
    extra: b"._-@+",
    alnum_start: true,
    allowed: "only ASCII letters, digits and `.`, `_`, `-`, `@`, `+` are allowed",
};

const KEY: Rule = Rule { max: 64, ..LABEL };

impl Rule {
    fn check(&self, id: &str) -> Result<(), Error> {
        let reason = if id.is_empty() {
            Some("it is empty")
        } else if id.len() > self.max {
            Some("it is too long")
        } else if self.alnum_start && !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            Some("it must start with an ASCII letter or digit")
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || self.extra.contains(&b))
        {
            Some(self.allowed)
        } else {
            None
        };
        reason.map_or(Ok(()), |reason| Err(invalid(id, reason)))
    }
}

/// The error for a bad id: at most its first 64 printable characters.
fn invalid(id: &str, reason: &'static str) -> Error {
    Error::InvalidId {
        id: id.chars().take(64).filter(|c| !c.is_control()).collect(),
        reason,
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $rule:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Checks and wraps an id (see [the module](self) for the rule).
            pub fn new(id: impl AsRef<str>) -> Result<Self, Error> {
                let id = id.as_ref();
                $rule.check(id)?;
                Ok(Self(Arc::from(id)))
            }

            /// An id written in the source, like `http`'s
            /// `HeaderName::from_static`: for literals known to be valid.
            ///
            /// # Panics
            ///
            /// If `id` breaks the rule; use [`new`](Self::new) for ids
            /// that come from outside.
            #[track_caller]
            pub fn from_static(id: &'static str) -> Self {
                match Self::new(id) {
                    Ok(id) => id,
                    Err(error) => panic!("{error}"),
                }
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(id: &str) -> Result<Self, Error> {
                Self::new(id)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(id: &str) -> Result<Self, Error> {
                Self::new(id)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(id: String) -> Result<Self, Error> {
                Self::new(id)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.as_str().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let id = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::new(&*id).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id! {
    /// The id of an integration: 1 to 64 ASCII letters, digits, `-` or `_`.
    ///
    /// The dot is excluded because dispatch targets are written
    /// `integration.action`.
    ///
    /// ```
    /// use integrations_core::IntegrationId;
    /// assert!(IntegrationId::new("github").is_ok());
    /// assert!(IntegrationId::new("git.hub").is_err());
    /// ```
    IntegrationId, NAME
}

string_id! {
    /// The tenant (usually a user or a workspace) that owns credentials,
    /// sessions and exports. Every store operation is scoped by one.
    ///
    /// 1 to 128 ASCII letters, digits and `.`, `_`, `-`, `@`, `+`, starting
    /// with a letter or a digit: a UUID, an e-mail address or `org_42` fits;
    /// `"bad tenant/.."` does not.
    ///
    /// ```
    /// use integrations_core::TenantId;
    /// assert!(TenantId::new("ada@example.com").is_ok());
    /// assert!(TenantId::new("bad tenant/..").is_err());
    /// ```
    TenantId, LABEL
}

string_id! {
    /// The name of an encryption key, stored beside every row it seals so
    /// keys can rotate: e.g. `2026-11`. 1 to 64 ASCII letters, digits and
    /// `.`, `_`, `-`, `@`, `+`, starting with a letter or a digit.
    KeyId, KEY
}

string_id! {
    /// The name of an MCP server, as configured (`[mcp.servers.github]`,
    /// `"mcpServers": {"github": ...}`): 1 to 128 ASCII letters, digits and
    /// `.`, `_`, `-`, `@`, `+`, starting with a letter or a digit.
    ///
    /// ```
    /// use integrations_core::id::ServerName;
    /// assert!(ServerName::new("brave-search").is_ok());
    /// assert!(ServerName::new("my server").is_err());
    /// ```
    ServerName, LABEL
}

string_id! {
    /// The id of an export provider (`slack`, `notion`, `github`,
    /// `slack-mcp`...): 1 to 64 ASCII letters, digits, `-` or `_`.
    ProviderId, NAME
}

/// One connection of a tenant to a provider, e.g. `slack` / `acme-workspace`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    provider: IntegrationId,
    name: Arc<str>,
}

impl ConnectionId {
    /// A connection named `name` to `provider` (a valid [`IntegrationId`]).
    /// Names follow the rule of [`TenantId`]: 1 to 128 ASCII letters,
    /// digits and `._-@+`, starting with a letter or digit.
    pub fn new(provider: impl AsRef<str>, name: impl AsRef<str>) -> Result<Self, Error> {
        let name = name.as_ref();
        LABEL.check(name)?;
        Ok(Self {
            provider: IntegrationId::new(provider)?,
            name: Arc::from(name),
        })
    }

    /// The provider, e.g. `slack`.
    pub fn provider(&self) -> &IntegrationId {
        &self.provider
    }

    /// The connection's name within the provider.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.name)
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Parses `provider/name`, the form [`Display`](fmt::Display) writes.
impl FromStr for ConnectionId {
    type Err = Error;
    fn from_str(id: &str) -> Result<Self, Error> {
        match id.split_once('/') {
            Some((provider, name)) => Self::new(provider, name),
            None => Err(invalid(id, "a connection is written `provider/name`")),
        }
    }
}

/// As `provider/name`.
impl Serialize for ConnectionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConnectionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        id.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_refuses_what_it_says() {
        assert!(IntegrationId::new("a-b_c").is_ok());
        assert!(IntegrationId::new("a.b").is_err());
        assert!(IntegrationId::new("x".repeat(65)).is_err());
        assert!(TenantId::new("org_42").is_ok());
        assert!(TenantId::new("_org").is_err());
        assert!(TenantId::new("..").is_err());
        assert!(TenantId::new("x".repeat(129)).is_err());
        assert!(KeyId::new("2026-11").is_ok());
        assert!(KeyId::new("x".repeat(65)).is_err());
        assert!(ServerName::new("github.com").is_ok());
        assert!(ServerName::new("").is_err());
        assert!(ProviderId::new("slack-mcp").is_ok());
        assert!(ConnectionId::new("slack", "a/b").is_err());
        assert!(ConnectionId::new("sl.ack", "a").is_err());
    }

    #[test]
    fn an_error_quotes_at_most_64_printable_characters() {
        let error = TenantId::new(format!("{}\u{7}", "x".repeat(100))).unwrap_err();
        let Error::InvalidId { id, .. } = error else {
            panic!("not InvalidId")
        };
        assert_eq!(id, "x".repeat(64));
    }

    #[test]
    fn a_connection_round_trips_as_provider_slash_name() {
        let id = ConnectionId::new("slack", "acme").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"slack/acme\"");
        assert_eq!(
            serde_json::from_str::<ConnectionId>("\"slack/acme\"").unwrap(),
            id
        );
        assert!("slack".parse::<ConnectionId>().is_err());
        assert!("slack/a/b".parse::<ConnectionId>().is_err());
    }

    #[test]
    fn serde_checks_on_the_way_in() {
        let id: ServerName = serde_json::from_str("\"github\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"github\"");
        assert!(serde_json::from_str::<TenantId>("\"a b\"").is_err());
    }
}
