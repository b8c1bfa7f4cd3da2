//! [`ToolPolicy`]: which of a server's tools may be listed and called.

use toml::Value;

use crate::error::Error;

/// Patterns per list, at most.
const MAX_PATTERNS: usize = 256;
/// Characters per pattern, at most (tool names are 1 to 128).
const MAX_PATTERN_LEN: usize = 256;

/// Which of an MCP server's tools may be listed and called, as allow and
/// deny lists of glob patterns (`*` any run of characters, `?` one).
///
/// A tool is allowed when the allow list is empty or one of its patterns
/// matches, and no deny pattern matches: deny wins. Matching takes time
/// linear in the pattern's and the name's length times each other at
/// worst, both bounded.
///
/// ```toml
/// [agents.mcp.github]
/// command = "github-mcp-server"
/// tools = { allow = ["get_*", "list_*", "search_*"], deny = ["*secret*"] }
/// ```
///
/// ```
/// use integrations_core::config::ToolPolicy;
/// let policy = ToolPolicy::new(["get_*", "search_*"], ["*_secret"])?;
/// assert!(policy.allows("search_issues"));
/// assert!(!policy.allows("delete_repository"));
/// assert!(!policy.allows("get_secret"));
/// assert!(ToolPolicy::default().allows("anything"));
/// # Ok::<_, integrations_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    allow: Vec<String>,
    deny: Vec<String>,
}

impl ToolPolicy {
    /// A policy from allow and deny patterns; refused when a pattern is
    /// empty, longer than 256 characters or holds whitespace or a control
    /// character, or a list holds more than 256 patterns.
    pub fn new(
        allow: impl IntoIterator<Item = impl Into<String>>,
        deny: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, Error> {
        Ok(Self {
            allow: patterns("tools.allow", allow.into_iter().map(Into::into))?,
            deny: patterns("tools.deny", deny.into_iter().map(Into::into))?,
        })
    }

    /// Whether the policy lets `tool` be listed and called.
    pub fn allows(&self, tool: &str) -> bool {
        let matches = |pattern: &String| glob(pattern.as_bytes(), tool.as_bytes());
        (self.allow.is_empty() || self.allow.iter().any(matches)) && !self.deny.iter().any(matches)
    }

    /// Whether it allows every tool (both lists empty).
    pub fn is_unrestricted(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// The allow patterns.
    pub fn allowed(&self) -> &[String] {
        &self.allow
    }

    /// The deny patterns.
    pub fn denied(&self) -> &[String] {
        &self.deny
    }

    /// Reads `tools = { allow = [...], deny = [...] }`; `key` is the entry's
    /// dotted key, for errors.
    pub(crate) fn from_value(key: &str, value: &Value) -> Result<Self, Error> {
        let key = format!("{key}.tools");
        let Value::Table(table) = value else {
            return Err(Error::invalid_config(
                key,
                "expected a table with `allow` and/or `deny` lists of patterns",
            ));
        };
        if let Some(field) = table
            .keys()
            .find(|field| !["allow", "deny"].contains(&field.as_str()))
        {
            return Err(Error::invalid_config(
                format!("{key}.{field}"),
                "unknown field; expected allow or deny",
            ));
        }
        let list = |field: &str| -> Result<Vec<String>, Error> {
            let field_key = format!("{key}.{field}");
            match table.get(field) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => {
                    let items = items.iter().map(|item| match item {
                        Value::String(pattern) => Ok(pattern.clone()),
                        _ => Err(Error::invalid_config(&field_key, "expected strings")),
                    });
                    patterns(&field_key, items.collect::<Result<Vec<_>, _>>()?)
                }
                Some(_) => Err(Error::invalid_config(
                    field_key,
                    "expected an array of patterns",
                )),
            }
        };
        Ok(Self {
            allow: list("allow")?,
            deny: list("deny")?,
        })
    }
}

fn patterns(key: &str, patterns: impl IntoIterator<Item = String>) -> Result<Vec<String>, Error> {
    let mut checked = Vec::new();
    for pattern in patterns {
        if checked.len() == MAX_PATTERNS {
            return Err(Error::invalid_config(
                key,
                format!("at most {MAX_PATTERNS} patterns"),
            ));
        }
        if pattern.is_empty()
            || pattern.len() > MAX_PATTERN_LEN
            || pattern.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid_config(
                key,
                format!(
                    "invalid pattern {:?}: 1 to {MAX_PATTERN_LEN} characters, no whitespace; \
                     `*` matches any run of characters, `?` one",
                    pattern.chars().take(40).collect::<String>()
                ),
            ));
        }
        checked.push(pattern);
    }
    Ok(checked)
}

/// Whether `name` matches `pattern` (`*`, `?`), without recursion: on a
/// mismatch after a `*`, the star takes one more byte.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_a_shell_would() {
        for (pattern, name, expected) in [
            ("*", "anything", true),
            ("get_*", "get_issue", true),
            ("get_*", "list_issues", false),
            ("*_issue?", "get_issues", true),
            ("*_issue?", "get_issue", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("**", "", true),
        ] {
            assert_eq!(
                glob(pattern.as_bytes(), name.as_bytes()),
                expected,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn deny_wins_and_empty_allow_allows_all() {
        let policy = ToolPolicy::new(Vec::<String>::new(), ["delete_*"]).unwrap();
        assert!(policy.allows("create_issue"));
        assert!(!policy.allows("delete_repo"));
        let policy = ToolPolicy::new(["*"], ["*"]).unwrap();
        assert!(!policy.allows("anything"));
    }

    #[test]
    fn bad_patterns_are_refused_with_what_to_fix() {
        let error = ToolPolicy::new(["get *"], Vec::<String>::new()).unwrap_err();
        assert!(error.to_string().contains("no whitespace"), "{error}");
        assert!(ToolPolicy::new([""], Vec::<String>::new()).is_err());
        assert!(ToolPolicy::new(vec!["a"; 257], Vec::<String>::new()).is_err());
    }

    #[test]
    fn a_hostile_pattern_is_still_quick() {
        let pattern = format!("{}b", "*a".repeat(120));
        let name = "a".repeat(128);
        let policy = ToolPolicy::new([pattern], Vec::<String>::new()).unwrap();
        assert!(!policy.allows(&name));
    }
}
