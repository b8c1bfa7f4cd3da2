//! TOML configuration: enabled integrations, their sections, and MCP servers.

mod env;
mod mcp;
mod tools;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use toml::{Table, Value};

pub use env::{ConfigString, Env};
pub use mcp::{HttpServer, HttpTransport, McpProtocol, McpServerEntry, StdioServer};
pub use tools::ToolPolicy;

use crate::error::{ConfigError, Error};
use crate::id::{IntegrationId, ServerName};

/// A host's configuration, loaded from TOML.
///
/// ```toml
/// [integrations]
/// enabled = ["github", "reminders"]
///
/// [integrations.github]
/// tick_interval = "30s"
/// token = "env:GITHUB_TOKEN"
/// repos = ["rust-lang/rust"]
///
/// [agents.mcp.files]
/// command = "npx"
/// args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
/// ```
///
/// Loading resolves every `env:VAR`, `${VAR}` and `${VAR:-default}` in the
/// sections of enabled integrations and in every MCP server entry (see
/// [`Env::expand`]); a variable that is not set fails the load with
/// [`ConfigError::MissingEnvVar`] naming the key and the variable. Sections of
/// integrations that are not enabled are not read. Other top-level tables
/// belong to the host and are ignored.
#[derive(Debug, Clone, Default)]
pub struct Config {
    enabled: Vec<IntegrationId>,
    integrations: BTreeMap<IntegrationId, IntegrationConfig>,
    mcp_servers: BTreeMap<ServerName, McpServerEntry>,
}

impl Config {
    /// Parses TOML text, resolving references from the process environment.
    pub fn from_toml_str(text: &str) -> Result<Self, Error> {
        Self::from_toml_str_with_env(text, &Env::process())
    }

    /// Parses TOML text, resolving references from `env`.
    pub fn from_toml_str_with_env(text: &str, env: &Env) -> Result<Self, Error> {
        let root: Table = text
            .parse()
            .map_err(|error: toml::de::Error| syntax_error(text, &error))?;
        let mut config = Self::default();

        if let Some(integrations) = root.get("integrations") {
            let integrations = as_table("integrations", integrations)?;
            config.enabled = match integrations.get("enabled") {
                None => Vec::new(),
                Some(Value::Array(ids)) => ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let key = format!("integrations.enabled[{i}]");
                        match id {
                            Value::String(id) => IntegrationId::new(id)
                                .map_err(|e| Error::invalid_config(key, e.to_string())),
                            _ => Err(Error::invalid_config(
                                key,
                                "expected an integration id string",
                            )),
                        }
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(Error::invalid_config(
                        "integrations.enabled",
                        "expected an array of integration ids",
                    ));
                }
            };
            let mut seen = std::collections::HashSet::with_capacity(config.enabled.len());
            if let Some(id) = config.enabled.iter().find(|id| !seen.insert(*id)) {
                return Err(Error::invalid_config(
                    "integrations.enabled",
                    format!("`{id}` is listed twice"),
                ));
            }
            for (name, section) in integrations {
                if name != "enabled" {
                    as_table(&format!("integrations.{name}"), section)?;
                }
            }
            for id in &config.enabled {
                let section = match integrations.get(id.as_str()) {
                    Some(Value::Table(section)) => section.clone(),
                    _ => Table::new(),
                };
                let integration = IntegrationConfig::from_table(id.clone(), section, env)?;
                config.integrations.insert(id.clone(), integration);
            }
        }

        if let Some(agents) = root.get("agents") {
            let agents = as_table("agents", agents)?;
            if let Some(servers) = agents.get("mcp") {
                for (name, entry) in as_table("agents.mcp", servers)? {
                    let key = format!("agents.mcp.{name}");
                    let entry = McpServerEntry::from_table(&key, as_table(&key, entry)?, env)?;
                    let name = ServerName::new(name)
                        .map_err(|e| Error::invalid_config(&key, e.to_string()))?;
                    config.mcp_servers.insert(name, entry);
                }
            }
        }
        Ok(config)
    }

    /// Reads and parses a TOML file, resolving references from `env`.
    ///
    /// This reads the file synchronously: call it before starting the async
    /// runtime, or inside `spawn_blocking`.
    pub fn from_path(path: impl AsRef<Path>, env: &Env) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str_with_env(&text, env)
    }

    /// The enabled integrations, in the order given.
    pub fn enabled(&self) -> &[IntegrationId] {
        &self.enabled
    }

    /// The config of an enabled integration.
    pub fn integration(&self, id: &str) -> Option<&IntegrationConfig> {
        self.integrations.get(id)
    }

    /// The MCP servers under `[agents.mcp]`, by name.
    pub fn mcp_servers(&self) -> &BTreeMap<ServerName, McpServerEntry> {
        &self.mcp_servers
    }
}

fn as_table<'a>(key: &str, value: &'a Value) -> Result<&'a Table, Error> {
    value.as_table().ok_or_else(|| {
        Error::invalid_config(key, format!("expected a table, found {}", value.type_str()))
    })
}

/// One integration's `[integrations.ID]` section, handed to
/// [`Integration::init`](crate::Integration::init).
///
/// Values that contained a reference are held as secrets; read them with
/// [`secret`](Self::secret), or deserialise the whole section with
/// [`parse`](Self::parse) into a struct whose secret fields are
/// [`SecretString`]. `Debug` shows the references (`env:TOKEN`), never the
/// resolved values.
#[derive(Clone)]
pub struct IntegrationConfig {
    id: IntegrationId,
    tick_interval: Option<Duration>,
    settings: Table,
    secrets: BTreeMap<String, (Vec<PathSegment>, SecretString)>,
}

#[derive(Clone, Debug)]
enum PathSegment {
    Key(String),
    Index(usize),
}

impl fmt::Debug for IntegrationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrationConfig")
            .field("id", &self.id)
            .field("tick_interval", &self.tick_interval)
            .field("settings", &self.settings)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl IntegrationConfig {
    /// An empty config for `id`: no settings, no tick interval.
    pub fn new(id: IntegrationId) -> Self {
        Self {
            id,
            tick_interval: None,
            settings: Table::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// Builds a config from a TOML table, resolving references from `env`.
    ///
    /// A `tick_interval` key is taken out of the settings: a string such as
    /// `"500ms"`, `"30s"` or `"5m"`, or a number of seconds; it must be
    /// positive.
    pub fn from_table(id: IntegrationId, mut settings: Table, env: &Env) -> Result<Self, Error> {
        let prefix = format!("integrations.{id}");
        let tick_interval = settings
            .remove("tick_interval")
            .map(|value| parse_interval(&format!("{prefix}.tick_interval"), &value))
            .transpose()?;
        let mut secrets = BTreeMap::new();
        let mut path = Vec::new();
        for (key, value) in &settings {
            path.push(PathSegment::Key(key.clone()));
            collect_secrets(
                &format!("{prefix}.{key}"),
                value,
                env,
                &mut path,
                &mut secrets,
            )?;
            path.pop();
        }
        Ok(Self {
            id,
            tick_interval,
            settings,
            secrets,
        })
    }

    /// The integration's id.
    pub fn id(&self) -> &IntegrationId {
        &self.id
    }

    /// The configured tick interval, if any.
    pub fn tick_interval(&self) -> Option<Duration> {
        self.tick_interval
    }

    /// Sets the tick interval.
    #[must_use]
    pub fn with_tick_interval(mut self, interval: Duration) -> Self {
        self.tick_interval = Some(interval);
        self
    }

    /// The resolved secret at `key`, a dotted path within the section such as
    /// `token` or `auth.token` (array items as `args[0]`); `None` when that
    /// value had no reference.
    pub fn secret(&self, key: &str) -> Option<&SecretString> {
        self.secrets.get(key).map(|(_, secret)| secret)
    }

    /// Deserialises one top-level setting, with references resolved;
    /// `Ok(None)` when it is absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        if !self.settings.contains_key(key) {
            return Ok(None);
        }
        self.deserialize_with(
            |table| table.remove(key).unwrap_or(Value::Boolean(false)),
            key,
        )
        .map(Some)
    }

    /// Reads one top-level setting as a duration, written as
    /// `tick_interval` is: a string such as `"500ms"`, `"2s"` or `"5m"`, or
    /// a positive number of seconds. `Ok(None)` when it is absent; an error
    /// naming the key when it is not a duration.
    ///
    /// ```
    /// use std::time::Duration;
    /// use integrations_core::Config;
    ///
    /// let config = Config::from_toml_str(r#"
    ///     [integrations]
    ///     enabled = ["inbox"]
    ///     [integrations.inbox]
    ///     poll = "2s"
    ///     backoff = 1.5
    /// "#)?;
    /// let inbox = config.integration("inbox").unwrap();
    /// assert_eq!(inbox.duration("poll")?, Some(Duration::from_secs(2)));
    /// assert_eq!(inbox.duration("backoff")?, Some(Duration::from_millis(1500)));
    /// assert_eq!(inbox.duration("missing")?, None);
    /// # Ok::<_, integrations_core::Error>(())
    /// ```
    pub fn duration(&self, key: &str) -> Result<Option<Duration>, Error> {
        let Some(value) = self.get::<Value>(key)? else {
            return Ok(None);
        };
        parse_interval(&format!("integrations.{}.{key}", self.id), &value).map(Some)
    }

    /// Deserialises the whole section (without `tick_interval`) into `T`,
    /// with references resolved. Give secret fields the type
    /// [`SecretString`] so they stay redacted.
    ///
    /// ```
    /// use integrations_core::Config;
    /// use integrations_core::config::Env;
    /// use secrecy::{ExposeSecret, SecretString};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Settings { channel: String, token: SecretString }
    ///
    /// let env = Env::from_vars([("SLACK_TOKEN", "xoxb-1")]);
    /// let config = Config::from_toml_str_with_env(r##"
    ///     [integrations]
    ///     enabled = ["slack"]
    ///     [integrations.slack]
    ///     channel = "#general"
    ///     token = "env:SLACK_TOKEN"
    /// "##, &env)?;
    /// let settings: Settings = config.integration("slack").unwrap().parse()?;
    /// assert_eq!(settings.token.expose_secret(), "xoxb-1");
    /// # Ok::<_, integrations_core::Error>(())
    /// ```
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.deserialize_with(|table| Value::Table(std::mem::take(table)), "")
    }

    /// Substitutes the secrets, picks a value with `pick`, and deserialises
    /// it. Error messages come from a second attempt on a copy whose secrets
    /// are `[redacted]`, so a secret never appears in them.
    fn deserialize_with<T: DeserializeOwned>(
        &self,
        pick: impl Fn(&mut Table) -> Value,
        key: &str,
    ) -> Result<T, Error> {
        let substituted = |redact: bool| {
            let mut table = self.settings.clone();
            for (path, secret) in self.secrets.values() {
                let text = if redact {
                    "[redacted]".to_owned()
                } else {
                    secret.expose_secret().to_owned()
                };
                if let Some(slot) = value_at(&mut table, path) {
                    *slot = Value::String(text);
                }
            }
            pick(&mut table)
        };
        T::deserialize(substituted(false)).map_err(|_| {
            let message = match T::deserialize(substituted(true)) {
                Err(e) => e.to_string().trim().to_owned(),
                Ok(_) => "a secret value does not fit the expected type".to_owned(),
            };
            let key = if key.is_empty() {
                format!("integrations.{}", self.id)
            } else {
                format!("integrations.{}.{key}", self.id)
            };
            Error::invalid_config(key, message)
        })
    }
}

fn value_at<'a>(table: &'a mut Table, path: &[PathSegment]) -> Option<&'a mut Value> {
    let (PathSegment::Key(first), rest) = path.split_first()? else {
        return None;
    };
    let mut value = table.get_mut(first)?;
    for segment in rest {
        value = match (segment, value) {
            (PathSegment::Key(key), Value::Table(table)) => table.get_mut(key)?,
            (PathSegment::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

fn collect_secrets(
    key: &str,
    value: &Value,
    env: &Env,
    path: &mut Vec<PathSegment>,
    secrets: &mut BTreeMap<String, (Vec<PathSegment>, SecretString)>,
) -> Result<(), Error> {
    match value {
        Value::String(text) => {
            let resolved = env.expand(key, text)?;
            if resolved.is_secret() {
                let relative = key.splitn(3, '.').nth(2).unwrap_or(key).to_owned();
                secrets.insert(relative, (path.clone(), resolved.to_secret()));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSegment::Index(i));
                collect_secrets(&format!("{key}[{i}]"), item, env, path, secrets)?;
                path.pop();
            }
        }
        Value::Table(table) => {
            for (name, item) in table {
                path.push(PathSegment::Key(name.clone()));
                collect_secrets(&format!("{key}.{name}"), item, env, path, secrets)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_interval(key: &str, value: &Value) -> Result<Duration, Error> {
    let duration = match value {
        Value::String(text) => humantime::parse_duration(text).map_err(|e| {
            Error::invalid_config(key, format!("{e}; write e.g. \"500ms\", \"30s\" or \"5m\""))
        })?,
        Value::Integer(seconds) if *seconds > 0 => Duration::from_secs(seconds.unsigned_abs()),
        Value::Float(seconds) if seconds.is_finite() && *seconds > 0.0 => {
            Duration::try_from_secs_f64(*seconds)
                .map_err(|e| Error::invalid_config(key, e.to_string()))?
        }
        Value::Integer(_) | Value::Float(_) => Duration::ZERO,
        other => {
            return Err(Error::invalid_config(
                key,
                format!(
                    "expected a duration such as \"30s\", found {}",
                    other.type_str()
                ),
            ));
        }
    };
    if duration.is_zero() {
        return Err(Error::invalid_config(key, "must be greater than zero"));
    }
    Ok(duration)
}

/// A TOML syntax error as position, nearest key and the parser's message:
/// the parser's own report quotes the offending line, which may hold a
/// secret, so it is not kept.
fn syntax_error(text: &str, error: &toml::de::Error) -> Error {
    let offset = error.span().map_or(0, |span| span.start).min(text.len());
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    // The table header above the error, then the key on the error's line.
    let mut table = None;
    for above in before[..line_start].lines() {
        let above = above.trim();
        if let Some(header) = above.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            table = header
                .split(']')
                .next()
                .map(str::trim)
                .filter(|h| is_key(h));
        }
    }
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    let key = line_text
        .split_once('=')
        .map(|(key, _)| key.trim())
        .filter(|key| is_key(key));
    let key = match (table, key) {
        (Some(table), Some(key)) => Some(format!("{table}.{key}")),
        (table, key) => key.or(table).map(str::to_owned),
    };
    // The parser's message says what it expected, quoting no input (the
    // test below holds it to that).
    let message = error.message().lines().next().unwrap_or("syntax error");
    ConfigError::Syntax {
        line,
        column,
        key,
        message: message.to_owned(),
    }
    .into()
}

/// A dotted key of bare words: nothing else is echoed from the config.
fn is_key(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate.len() <= 128
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests;
