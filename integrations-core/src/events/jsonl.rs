//! Append-only JSON Lines files, one per event kind and day.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Event, EventSink};
use crate::error::Error;

/// Writes each event as one JSON line to `{dir}/{event}-{YYYY-MM-DD}.jsonl`
/// (the date of the event, in UTC): an audit trail that `grep` and `jq` read.
///
/// Files are opened in append mode and every line goes out in a single
/// `write`, so any number of tasks, sinks or processes may append to the same
/// directory without interleaving lines. File I/O runs on tokio's blocking
/// pool.
///
/// ```
/// # use integrations_core::IntegrationId;
/// # use integrations_core::events::{Event, EventKind, EventSink, JsonlSink};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let sink = JsonlSink::open(dir.path()).await?;
/// let event = Event::now(IntegrationId::new("clock")?, EventKind::Connected);
/// sink.record(&event).await?;
/// let text = std::fs::read_to_string(sink.path_for(&event)).unwrap();
/// assert!(text.ends_with("\"event\":\"connected\"}\n"));
/// # Ok::<_, integrations_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct JsonlSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    files: Mutex<HashMap<PathBuf, Arc<File>>>,
}

/// Open files kept at most; older days' files are closed past this.
const OPEN_FILES: usize = 32;

impl JsonlSink {
    /// Uses `dir`, creating it if needed.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        let create = dir.clone();
        tokio::task::spawn_blocking(move || std::fs::create_dir_all(&create))
            .await
            .map_err(|e| Error::io(&dir, std::io::Error::other(e)))?
            .map_err(|e| Error::io(&dir, e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                files: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The file an event is appended to.
    pub fn path_for(&self, event: &Event) -> PathBuf {
        self.inner.dir.join(format!(
            "{}-{}.jsonl",
            event.kind.name(),
            event.at.format("%Y-%m-%d")
        ))
    }
}

impl Inner {
    fn append(&self, path: &Path, line: &[u8]) -> std::io::Result<()> {
        let file = {
            let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            match files.get(path) {
                Some(file) => Arc::clone(file),
                None => {
                    if files.len() >= OPEN_FILES {
                        files.clear();
                    }
                    let mut options = OpenOptions::new();
                    options.create(true).append(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                    let file = Arc::new(options.open(path)?);
                    files.insert(path.to_owned(), Arc::clone(&file));
                    file
                }
            }
        };
        (&*file).write_all(line)
    }
}

#[async_trait]
impl EventSink for JsonlSink {
    async fn record(&self, event: &Event) -> Result<(), Error> {
        let mut line = serde_json::to_vec(event).map_err(|source| Error::Json { source })?;
        line.push(b'\n');
        let path = self.path_for(event);
        let inner = Arc::clone(&self.inner);
        let target = path.clone();
        tokio::task::spawn_blocking(move || inner.append(&target, &line))
            .await
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))?
            .map_err(|e| Error::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;
    use crate::id::IntegrationId;
    use crate::integration::Notification;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_never_interleave_lines() {
        let dir = tempfile::tempdir().unwrap();
        // Two sinks on one directory stand in for two processes.
        let sinks = [
            JsonlSink::open(dir.path()).await.unwrap(),
            JsonlSink::open(dir.path()).await.unwrap(),
        ];
        let id = IntegrationId::new("audit").unwrap();
        let big = "x".repeat(16 * 1024);
        let mut tasks = tokio::task::JoinSet::new();
        for writer in 0..8 {
            let sink = sinks[writer % 2].clone();
            let id = id.clone();
            let big = big.clone();
            tasks.spawn(async move {
                for n in 0..50 {
                    let note = Notification::new("n", format!("{writer}-{n}"))
                        .with_data(big.clone().into());
                    let event =
                        Event::now(id.clone(), EventKind::Notification { notification: note });
                    sink.record(&event).await.unwrap();
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let mut seen = std::collections::HashSet::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(
                name.starts_with("notification-") && name.ends_with(".jsonl"),
                "{name}"
            );
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let event: Event =
                    serde_json::from_str(line).expect("every line is one whole event");
                let EventKind::Notification { notification } = event.kind else {
                    panic!()
                };
                assert!(seen.insert(notification.message), "duplicate line");
            }
        }
        assert_eq!(seen.len(), 8 * 50);
    }

    #[tokio::test]
    async fn names_files_by_event_and_date() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonlSink::open(dir.path().join("nested/audit"))
            .await
            .unwrap();
        let mut event = Event::now(IntegrationId::new("a").unwrap(), EventKind::ConfigUpdated);
        event.at = "2026-01-02T03:04:05Z".parse().unwrap();
        sink.record(&event).await.unwrap();
        let path = dir
            .path()
            .join("nested/audit/config_updated-2026-01-02.jsonl");
        assert_eq!(sink.path_for(&event), path);
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.lines().count(), 1);
    }
}
