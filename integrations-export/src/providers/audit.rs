//! A JSONL audit trail on the filesystem.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use integrations_core::id::ProviderId;
use serde_json::{Value, json};

use super::{content_json, require_destination};
use crate::error::Error;
use crate::provider::{
    ConnectionCheck, Content, Destination, DestinationPage, ExportContext, ExportResult,
    PlannedRequest, Provider,
};

provider_id!("audit");

/// An audit trail of JSON lines: each export appends one line to
/// `{dir}/{event}-{date}.jsonl`, where the destination names the event
/// (`decision`, `session_end`, ...; letters, digits, `_` and `-`) and the
/// date is today's in UTC.
///
/// A line is written with one `write` to a file opened for appending, under
/// a lock, so lines from concurrent exports never interleave, and it is
/// synced to disk before the export returns. A line holds `at`, `tenant`,
/// `event`, `title`, `markdown`, `metadata` and `idempotency_key`.
#[derive(Debug, Clone)]
pub struct AuditProvider {
    dir: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl AuditProvider {
    /// A trail in `dir`, created at the first export if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lock: Arc::default(),
        }
    }

    fn event(destination: &str) -> Result<&str, Error> {
        require_destination(
            provider_id(),
            destination,
            "an event name such as `decision`",
        )?;
        if !destination
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        {
            return Err(Error::invalid(
                provider_id(),
                format!("{destination:?} is not an event name: use letters, digits, `_` and `-`"),
            ));
        }
        Ok(destination)
    }

    fn path(&self, event: &str, at: DateTime<Utc>) -> PathBuf {
        self.dir
            .join(format!("{event}-{}.jsonl", at.format("%Y-%m-%d")))
    }

    fn line(context: &ExportContext, content: &Content, event: &str, at: DateTime<Utc>) -> Value {
        json!({
            "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "tenant": context.tenant.as_str(),
            "event": event,
            "title": content.title,
            "markdown": content.markdown,
            "metadata": content.metadata,
            "idempotency_key": context.idempotency_key,
        })
    }
}

/// Runs file I/O on the blocking pool; its error names `path`.
async fn blocking<T: Send + 'static>(
    path: &Path,
    io: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(io)
        .await
        .map_err(|error| Error::unexpected(provider_id(), error.to_string()))?
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
}

fn append(dir: &Path, path: &Path, line: &[u8]) -> std::io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    // Every tenant's exported markdown: the owner's only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(line)?;
    file.sync_data()?;
    file.metadata().map(|metadata| metadata.len())
}

#[async_trait]
impl Provider for AuditProvider {
    fn id(&self) -> &ProviderId {
        provider_id()
    }

    /// The events with a trail in the directory.
    async fn list_destinations(
        &self,
        _context: &ExportContext,
        _cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        let dir = self.dir.clone();
        let names = blocking(&self.dir, move || -> std::io::Result<Vec<String>> {
            let mut names = Vec::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(names),
                Err(error) => return Err(error),
            };
            for entry in entries {
                let name = entry?.file_name().to_string_lossy().into_owned();
                // `{event}-YYYY-MM-DD.jsonl`: the event is what precedes the date.
                if let Some(stem) = name.strip_suffix(".jsonl")
                    && stem.len() > 11
                    && stem.is_char_boundary(stem.len() - 11)
                {
                    names.push(stem[..stem.len() - 11].to_owned());
                }
            }
            names.sort();
            names.dedup();
            Ok(names)
        })
        .await?;
        Ok(DestinationPage::new(
            names
                .into_iter()
                .map(|name| Destination::new(name.clone(), name, "file"))
                .collect(),
            None,
        ))
    }

    async fn validate_connection(
        &self,
        _context: &ExportContext,
    ) -> Result<ConnectionCheck, Error> {
        let started = Instant::now();
        let dir = self.dir.clone();
        blocking(&self.dir, move || std::fs::create_dir_all(&dir)).await?;
        Ok(ConnectionCheck::new(
            Some(self.dir.display().to_string()),
            started.elapsed(),
        ))
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(content_json(content))
    }

    fn plan(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        let event = Self::event(destination)?;
        let at = Utc::now();
        Ok(vec![PlannedRequest::new(
            "APPEND",
            self.path(event, at).display().to_string(),
            Self::line(context, content, event, at),
        )])
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        let event = Self::event(destination)?;
        let at = Utc::now();
        let path = self.path(event, at);
        let mut line = serde_json::to_vec(&Self::line(context, content, event, at))
            .map_err(|error| Error::unexpected(provider_id(), error.to_string()))?;
        line.push(b'\n');
        let _guard = self.lock.lock().await;
        let (dir, file) = (self.dir.clone(), path.clone());
        let end = blocking(&path, move || append(&dir, &file, &line)).await?;
        Ok(ExportResult::new(provider_id().clone())
            .external_id(format!("{}@{end}", path.display()))
            .external_url(format!("file://{}", path.display())))
    }
}
