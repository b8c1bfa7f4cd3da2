//! Running rmcp's OAuth work off the async workers, bounded by a deadline.

use std::fmt;
use std::time::Duration;

use integrations_core::id::ServerName;
use tokio::time::Instant;

use super::flow::failed;
use crate::error::Error;

/// How long OAuth work no session waits for may take (completing an
/// authorization at the callback, a refresh): rmcp gives each of its
/// requests 30 s, and there are a few.
pub(crate) const OAUTH_WORK_LIMIT: Duration = Duration::from_secs(60);

/// Runs a future that is not `Send` (rmcp's OAuth futures hold a form
/// serializer across an await) on a blocking thread, with that thread's
/// logging off (rmcp logs the authorization code it exchanges, and no
/// secret may reach the host's logs), until `deadline` at the latest: the
/// thread is back in tokio's blocking pool by then whatever the server
/// does, and the work's connections are closed.
pub(crate) async fn off_runtime<T: Send + 'static>(
    deadline: Instant,
    work: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> Result<T, Offloaded> {
    let (runtime, started) = (tokio::runtime::Handle::current(), Instant::now());
    tokio::task::spawn_blocking(move || {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            runtime.block_on(tokio::time::timeout_at(deadline, work()))
        })
    })
    .await
    .map_err(|e| Offloaded::Failed(e.to_string()))?
    .map_err(|_| Offloaded::TimedOut(deadline.saturating_duration_since(started)))
}

/// Why [`off_runtime`] has no result.
#[derive(Debug)]
pub(crate) enum Offloaded {
    /// The deadline passed; the work was dropped.
    TimedOut(Duration),
    /// The work panicked.
    Failed(String),
}

impl Offloaded {
    /// The error of a connect to `server`: a timeout is the handshake's.
    pub(super) fn into_error(self, server: &ServerName) -> Error {
        match self {
            Self::TimedOut(after) => Error::HandshakeTimeout {
                server: server.clone(),
                after,
            },
            Self::Failed(why) => failed(server, why),
        }
    }
}

impl fmt::Display for Offloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut(after) => write!(f, "no answer within {after:?}"),
            Self::Failed(why) => f.write_str(why),
        }
    }
}
