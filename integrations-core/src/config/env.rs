//! Environment variables and the `env:VAR` / `${VAR}` reference syntax.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{ConfigError, Error};

/// Where `env:VAR` and `${VAR}` references are looked up: the process
/// environment, or a fixed map (for tests, or a host with its own secret
/// source).
///
/// ```
/// use integrations_core::config::Env;
/// let env = Env::from_vars([("TOKEN", "s3cret")]);
/// let value = env.expand("slack.token", "Bearer ${TOKEN}").unwrap();
/// assert_eq!(value.expose(), "Bearer s3cret");
/// assert!(value.is_secret());
/// assert_eq!(format!("{value:?}"), "[redacted]");
/// ```
#[derive(Clone, Default)]
pub struct Env {
    vars: Option<Arc<HashMap<String, String>>>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.vars {
            None => f.write_str("Env::process"),
            Some(vars) => {
                let mut names: Vec<_> = vars.keys().collect();
                names.sort();
                f.debug_struct("Env").field("names", &names).finish()
            }
        }
    }
}

impl Env {
    /// The process environment, read at the time of each lookup.
    pub fn process() -> Self {
        Self { vars: None }
    }

    /// No variables: a reference without a default (`${VAR}`, `env:VAR`)
    /// is an error naming it, and nothing is read from the process. For
    /// config a tenant supplies (an `mcpServers` document pasted in a
    /// form): with [`Env::process`] it could pull any of the host's
    /// environment variables into a URL, header or argument sent to a
    /// server of its choosing.
    ///
    /// ```
    /// use integrations_core::config::Env;
    /// assert!(Env::none().expand("servers.x.url", "https://h/?k=${AWS_SECRET_ACCESS_KEY}").is_err());
    /// assert_eq!(Env::none().expand("k", "${MODE:-plain}").unwrap().expose(), "plain");
    /// ```
    pub fn none() -> Self {
        Self::from_vars(std::iter::empty::<(String, String)>())
    }

    /// A fixed set of variables; nothing is read from the process.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: Some(Arc::new(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
        }
    }

    /// Looks up one variable; `key` names the config key for error messages.
    fn lookup(&self, key: &str, var: &str) -> Result<Option<String>, Error> {
        if var.is_empty()
            || var.starts_with(|c: char| c.is_ascii_digit())
            || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::invalid_config(
                key,
                format!(
                    "{var:?} is not an environment variable name (letters, digits and `_`, not starting with a digit)"
                ),
            ));
        }
        match &self.vars {
            Some(vars) => Ok(vars.get(var).cloned()),
            None => match std::env::var(var) {
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid_config(
                    key,
                    format!("environment variable `{var}` is not valid UTF-8"),
                )),
            },
        }
    }

    fn require(&self, key: &str, var: &str) -> Result<String, Error> {
        self.lookup(key, var)?.ok_or_else(|| {
            ConfigError::MissingEnvVar {
                key: key.to_owned(),
                var: var.to_owned(),
            }
            .into()
        })
    }

    /// Resolves references in one config string.
    ///
    /// - `env:VAR` (the whole string) is the value of `VAR`;
    /// - `${VAR}` anywhere in the string is replaced by the value of `VAR`;
    /// - `${VAR:-default}` is `default` when `VAR` is unset or empty;
    /// - `$${` is a literal `${`; any other `$` is kept as it is.
    ///
    /// A string with at least one reference is a secret
    /// ([`ConfigString::is_secret`]). A referenced variable that is not set
    /// (and has no default) is [`ConfigError::MissingEnvVar`], naming `key` and the
    /// variable; it never becomes an empty string.
    pub fn expand(&self, key: &str, text: &str) -> Result<ConfigString, Error> {
        if let Some(var) = text.strip_prefix("env:") {
            return Ok(ConfigString::secret(self.require(key, var)?));
        }
        if !text.contains('$') {
            return Ok(ConfigString::plain(text));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut referenced = false;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(literal) = after.strip_prefix("${") {
                out.push_str("${");
                rest = literal;
            } else if let Some(reference) = after.strip_prefix('{') {
                let end = reference.find('}').ok_or_else(|| {
                    Error::invalid_config(key, "unterminated `${`; write `$${` for a literal `${`")
                })?;
                let inner = &reference[..end];
                match inner.split_once(":-") {
                    Some((var, default)) => match self.lookup(key, var)? {
                        Some(value) if !value.is_empty() => out.push_str(&value),
                        _ => out.push_str(default),
                    },
                    None => out.push_str(&self.require(key, inner)?),
                }
                referenced = true;
                rest = &reference[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Ok(if referenced {
            ConfigString::secret(out)
        } else {
            ConfigString::plain(out)
        })
    }
}

/// A resolved config string that may be a secret.
///
/// Values that came through an `env:`/`${}` reference are secrets: `Debug`
/// prints `[redacted]` for them; others print as ordinary strings.
/// [`expose`](Self::expose) gives the text at the point of use.
#[derive(Clone)]
pub struct ConfigString {
    value: SecretString,
    secret: bool,
}

/// Equal when the texts and their secrecy are (say, to tell whether a
/// server's config changed); not in constant time.
impl PartialEq for ConfigString {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret && self.expose() == other.expose()
    }
}

impl ConfigString {
    /// A string that is not secret.
    pub fn plain(value: impl Into<String>) -> Self {
        Self {
            value: SecretString::from(value.into()),
            secret: false,
        }
    }

    /// A secret string.
    pub fn secret(value: impl Into<String>) -> Self {
        Self {
            value: SecretString::from(value.into()),
            secret: true,
        }
    }

    /// The text. Call it only where the value is used.
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// Whether the value came from a reference and must not be shown.
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// The value as a [`SecretString`].
    pub fn to_secret(&self) -> SecretString {
        self.value.clone()
    }
}

impl fmt::Debug for ConfigString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            f.write_str("[redacted]")
        } else {
            fmt::Debug::fmt(self.expose(), f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_vars([("A", "alpha"), ("EMPTY", "")])
    }

    #[test]
    fn expands_every_form() {
        let env = env();
        let cases = [
            ("plain", "plain", false),
            ("env:A", "alpha", true),
            ("x-${A}-y", "x-alpha-y", true),
            ("${A}${A}", "alphaalpha", true),
            ("${MISSING:-dflt}", "dflt", true),
            ("${EMPTY:-dflt}", "dflt", true),
            ("${A:-dflt}", "alpha", true),
            ("cost $5", "cost $5", false),
            ("$${A}", "${A}", false),
            ("${EMPTY}", "", true),
            ("trailing $", "trailing $", false),
        ];
        for (input, expected, secret) in cases {
            let got = env.expand("k", input).unwrap();
            assert_eq!(got.expose(), expected, "input {input:?}");
            assert_eq!(got.is_secret(), secret, "input {input:?}");
        }
    }

    #[test]
    fn missing_variables_name_key_and_variable() {
        for input in ["env:NOPE", "a ${NOPE} b"] {
            let err = env().expand("integrations.x.token", input).unwrap_err();
            let Error::Config(ConfigError::MissingEnvVar { key, var }) = &err else {
                panic!("{err:?}");
            };
            assert_eq!(
                (key.as_str(), var.as_str()),
                ("integrations.x.token", "NOPE")
            );
            assert_eq!(
                err.to_string(),
                "config key `integrations.x.token` refers to environment variable `NOPE`, which is not set"
            );
        }
    }

    #[test]
    fn malformed_references_are_errors() {
        for input in ["${A", "env:", "${1X}", "${A B}", "env:A-B"] {
            let err = env().expand("k", input).unwrap_err();
            assert!(
                matches!(err, Error::Config(ConfigError::Invalid { .. })),
                "{input}: {err:?}"
            );
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let env = Env::from_vars([("T", "hunter2")]);
        let value = env.expand("k", "env:T").unwrap();
        assert_eq!(format!("{value:?}"), "[redacted]");
        assert!(!format!("{env:?}").contains("hunter2"));
        assert_eq!(format!("{:?}", ConfigString::plain("x")), "\"x\"");
    }
}
