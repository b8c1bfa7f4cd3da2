//! Server configs in the `mcpServers` JSON that agents read, in and out.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use std::sync::Arc;

use integrations_core::config::{ConfigString, Env};
use integrations_core::id::ServerName;
use serde_json::{Map, Value, json};
use tempfile::TempPath;

pub use integrations_core::config::{HttpServer, McpServerEntry, StdioServer};

use crate::error::Error;

/// Reads the servers of an `mcpServers` document, as Claude Code, Claude
/// Desktop and Cursor write it (`{"mcpServers": {...}}`), or VS Code's
/// `mcp.json` (`{"servers": {...}}`). `${VAR}` and `${VAR:-default}` are
/// resolved from `env`; a missing variable is an error naming the entry.
/// `Env::process()` is for documents the host wrote; give a document a
/// tenant supplied [`Env::none()`](integrations_core::config::Env::none),
/// so it cannot read the host's environment.
///
/// ```
/// use integrations_core::config::{Env, McpServerEntry};
/// let servers = integrations_mcp::servers_from_json(r#"{"mcpServers": {
///     "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
///     "search": {"type": "http", "url": "https://mcp.example.com/mcp"}
/// }}"#, &Env::process())?;
/// assert!(matches!(servers["files"], McpServerEntry::Stdio(_)));
/// assert!(matches!(servers["search"], McpServerEntry::Http(_)));
/// # Ok::<_, integrations_mcp::Error>(())
/// ```
pub fn servers_from_json(
    text: &str,
    env: &Env,
) -> Result<BTreeMap<ServerName, McpServerEntry>, Error> {
    let document: Value = serde_json::from_str(text).map_err(|e| Error::InvalidJson {
        message: e.to_string(),
    })?;
    let (field, servers) = ["mcpServers", "servers"]
        .iter()
        .find_map(|field| Some((*field, document.get(field)?)))
        .ok_or_else(|| Error::InvalidJson {
            message: "expected an object with `mcpServers` (or VS Code's `servers`)".into(),
        })?;
    let servers = servers.as_object().ok_or_else(|| Error::InvalidJson {
        message: format!("`{field}` must be an object of servers by name"),
    })?;
    servers
        .iter()
        .map(|(name, entry)| {
            let key = format!("{field}.{name}");
            let name = ServerName::new(name).map_err(|e| Error::InvalidJson {
                message: format!("`{key}`: the server's name: {e}"),
            })?;
            Ok((name, McpServerEntry::from_json(&key, entry, env)?))
        })
        .collect()
}

/// Renders servers as an `mcpServers` document, every `${` written as
/// `$${` so that a reader (this crate's, Claude Code's) takes it literally
/// instead of expanding it from its own environment. With `expose`, secrets
/// are written as they are; without, as `[redacted]`: the values marked
/// secret, and every `env` and header value, which hold tokens written
/// literally as often as `${VAR}`.
fn to_json(servers: &BTreeMap<ServerName, McpServerEntry>, expose: bool) -> Value {
    const REDACTED: &str = "[redacted]";
    let text = |value: &ConfigString| {
        Value::String(if expose || !value.is_secret() {
            value.expose().replace("${", "$${")
        } else {
            REDACTED.to_owned()
        })
    };
    let table = |entries: &BTreeMap<String, ConfigString>| {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let value = if expose {
                        text(v)
                    } else {
                        Value::String(REDACTED.into())
                    };
                    (k.clone(), value)
                })
                .collect(),
        )
    };
    let mut out = Map::new();
    for (name, entry) in servers {
        let value = match entry {
            McpServerEntry::Stdio(stdio) => {
                let mut value = json!({
                    "type": "stdio",
                    "command": text(&stdio.command),
                    "args": stdio.args.iter().map(text).collect::<Vec<_>>(),
                    "env": table(&stdio.env),
                });
                if let Some(cwd) = &stdio.cwd {
                    value["cwd"] = Value::String(cwd.display().to_string());
                }
                value
            }
            McpServerEntry::Http(http) => json!({
                "type": if http.transport == integrations_core::config::HttpTransport::Sse { "sse" } else { "http" },
                "url": text(&http.url),
                "headers": table(&http.headers),
            }),
            _ => continue,
        };
        out.insert(name.to_string(), value);
    }
    json!({ "mcpServers": out })
}

/// An `mcpServers` file for `claude --mcp-config PATH`: created with
/// permissions 0600 in the temporary directory, holding the resolved
/// secrets (and nowhere else), and removed when this guard drops.
///
/// ```no_run
/// # async fn run(config: integrations_core::Config) -> Result<(), integrations_mcp::Error> {
/// let file = integrations_mcp::ClaudeConfigFile::write(config.mcp_servers()).await?;
/// let status = tokio::process::Command::new("claude")
///     .arg("--mcp-config").arg(file.path())
///     .status().await;
/// // `file` is deleted here.
/// # Ok(()) }
/// ```
#[must_use = "the file is removed when this guard drops"]
pub struct ClaudeConfigFile {
    path: TempPath,
    redacted: String,
}

impl fmt::Debug for ClaudeConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaudeConfigFile")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl ClaudeConfigFile {
    /// Writes the servers to a new private file.
    pub async fn write(servers: &BTreeMap<ServerName, McpServerEntry>) -> Result<Self, Error> {
        let contents =
            serde_json::to_vec_pretty(&to_json(servers, true)).map_err(|e| Error::InvalidJson {
                message: e.to_string(),
            })?;
        let redacted = serde_json::to_string_pretty(&to_json(servers, false)).unwrap_or_default();
        let path = tokio::task::spawn_blocking(move || -> std::io::Result<TempPath> {
            // tempfile creates files readable and writable by the owner only.
            let mut file = tempfile::Builder::new()
                .prefix("mcp-config-")
                .suffix(".json")
                .tempfile()?;
            file.write_all(&contents)?;
            file.as_file().sync_all()?;
            Ok(file.into_temp_path())
        })
        .await
        .map_err(|e| Error::Io {
            path: std::env::temp_dir(),
            source: Arc::new(std::io::Error::other(e)),
        })?
        .map_err(|source| Error::Io {
            path: std::env::temp_dir(),
            source: Arc::new(source),
        })?;
        Ok(Self { path, redacted })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's content with every secret shown as `[redacted]`, for logs.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_through_a_private_file_with_secrets_only_inside() {
        let env = Env::from_vars([("GH", "ghp_secret"), ("TOKEN", "t0k3n")]);
        let servers = servers_from_json(
            r#"{"mcpServers": {
                "github": {"command": "npx", "args": ["-y", "server-github"], "env": {"GITHUB_TOKEN": "${GH}"}},
                "remote": {"type": "http", "url": "https://h/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
                "plain": {"command": "demo", "args": ["${MISSING:-fallback}"]}
            }}"#,
            &env,
        )
        .unwrap();
        let file = ClaudeConfigFile::write(&servers).await.unwrap();
        let path = file.path().to_owned();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.contains("ghp_secret") && written.contains("Bearer t0k3n"));
        assert!(!file.redacted().contains("ghp_secret") && !file.redacted().contains("t0k3n"));
        assert!(!format!("{file:?}").contains("ghp_secret"));
        // What was written reads back as the same servers.
        let again =
            servers_from_json(&written, &Env::from_vars::<[(&str, &str); 0], _, _>([])).unwrap();
        let McpServerEntry::Stdio(github) = &again["github"] else {
            panic!()
        };
        assert_eq!(github.env["GITHUB_TOKEN"].expose(), "ghp_secret");
        let McpServerEntry::Stdio(plain) = &again["plain"] else {
            panic!()
        };
        assert_eq!(plain.args[0].expose(), "fallback");
        drop(file);
        assert!(!path.exists(), "the guard removes the file");
    }

    #[tokio::test]
    async fn an_escaped_dollar_brace_is_written_escaped_and_literal_values_are_redacted() {
        // Security review, findings 15 and 10: `$${X}` was written as
        // `${X}`, which the reader expands from its own environment; and
        // literal tokens showed in the "redacted" text.
        let env = Env::from_vars([("HOST_ONLY_SECRET", "hunter2")]);
        let servers = servers_from_json(
            r#"{"mcpServers": {
                "x": {"command": "c", "args": ["$${HOST_ONLY_SECRET}"],
                      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_LITERAL_SECRET"}},
                "r": {"type": "http", "url": "https://h/mcp",
                      "headers": {"Authorization": "Bearer LITERAL_BEARER_SECRET"}}
            }}"#,
            &env,
        )
        .unwrap();
        let file = ClaudeConfigFile::write(&servers).await.unwrap();
        let written = std::fs::read_to_string(file.path()).unwrap();
        let again = servers_from_json(&written, &env).unwrap();
        let McpServerEntry::Stdio(x) = &again["x"] else {
            panic!()
        };
        assert_eq!(
            x.args[0].expose(),
            "${HOST_ONLY_SECRET}",
            "read back literally"
        );
        for secret in ["ghp_LITERAL_SECRET", "LITERAL_BEARER_SECRET"] {
            assert!(!file.redacted().contains(secret), "{}", file.redacted());
        }
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        let env = Env::from_vars([("A", "a")]);
        for (text, needle) in [
            ("[]", "mcpServers"),
            (r#"{"mcpServers": []}"#, "object"),
            (
                r#"{"mcpServers": {"x": {"type": "ws", "url": "http://h"}}}"#,
                "unknown transport",
            ),
            (
                r#"{"mcpServers": {"x": {"command": "c", "env": {"K": "${NOPE}"}}}}"#,
                "NOPE",
            ),
            (r#"{"servers": {"x": {}}}"#, "needs `command`"),
            (
                r#"{"mcpServers": {"../x": {"command": "c"}}}"#,
                "`mcpServers.../x`: the server's name",
            ),
        ] {
            let err = servers_from_json(text, &env).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        let vscode = servers_from_json(r#"{"servers": {"x": {"command": "c"}}}"#, &env).unwrap();
        assert_eq!(vscode.len(), 1);
    }
}
