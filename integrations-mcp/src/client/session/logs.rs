//! A server's log messages, handed to the host's hooks one at a time in
//! the order they arrived: rmcp runs each notification's handler in a task
//! of its own, which can reorder them.
// Logging is deprecated by SEP-2577, and still in both revisions.
#![allow(deprecated)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rmcp::model::LoggingMessageNotificationParam;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::client::hooks::{ClientHooks, HookContext};

/// Messages waiting for the hooks; past this, new ones are dropped (and
/// counted) until the hooks catch up.
const QUEUED: usize = 256;
/// Bytes of messages (about: their data's strings and numbers) waiting for
/// the hooks; past this, too, new ones are dropped.
const QUEUED_BYTES: usize = 4 << 20;

/// The queue in front of the hooks' [`ClientHooks::log`], held by the
/// session's transport.
pub(super) struct LogQueue {
    sender: mpsc::Sender<(LoggingMessageNotificationParam, usize)>,
    dropped: Arc<AtomicU64>,
    /// The bytes queued.
    bytes: Arc<AtomicUsize>,
    /// Tells the task the session closed when the queue goes.
    _closed: tokio_util::sync::DropGuard,
}

/// About how many bytes `value` holds.
fn size(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len() + 8,
        Value::Array(items) => items.iter().map(size).sum::<usize>() + 8,
        Value::Object(fields) => fields.iter().map(|(k, v)| k.len() + size(v)).sum::<usize>() + 8,
        _ => 8,
    }
}

impl LogQueue {
    /// Starts the task that hands the queue's messages to `hooks`, one at
    /// a time, on `tasks`. When the queue goes (with the session's
    /// transport), the task hands on what is left as far as each call
    /// returns without waiting, and ends: a hook stuck in a call does not
    /// keep it past the session.
    pub(super) fn start(
        hooks: Arc<dyn ClientHooks>,
        context: HookContext,
        tasks: &TaskTracker,
    ) -> Self {
        let (sender, mut receiver) =
            mpsc::channel::<(LoggingMessageNotificationParam, usize)>(QUEUED);
        let dropped = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicUsize::new(0));
        let (counted, queued) = (Arc::clone(&dropped), Arc::clone(&bytes));
        let closed = tokio_util::sync::CancellationToken::new();
        let session_closed = closed.clone();
        tasks.spawn(async move {
            while let Some((message, size)) = receiver.recv().await {
                queued.fetch_sub(size, Ordering::Relaxed);
                let level = crate::level::from_mcp(&message.level);
                let logged = hooks.log(&context, level, message.logger.as_deref(), &message.data);
                tokio::select! {
                    biased;
                    () = logged => {}
                    () = session_closed.cancelled() => break,
                }
                let lost = counted.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    tracing::warn!(
                        tenant = %context.tenant,
                        server = %context.server,
                        lost,
                        "server log messages dropped: the hooks took them slower than the server sent them"
                    );
                }
            }
        });
        Self {
            sender,
            dropped,
            bytes,
            _closed: closed.drop_guard(),
        }
    }

    /// Queues `message` for the hooks, or counts it dropped when the queue
    /// is full (by count or by bytes).
    pub(super) fn push(&self, message: &LoggingMessageNotificationParam) {
        let size = size(&message.data);
        let queued = self.bytes.fetch_add(size, Ordering::Relaxed);
        if queued + size > QUEUED_BYTES || self.sender.try_send((message.clone(), size)).is_err() {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Stuck;

    #[async_trait::async_trait]
    impl ClientHooks for Stuck {
        fn capabilities(&self) -> crate::client::HookCapabilities {
            crate::client::HookCapabilities::none()
        }
        async fn log(
            &self,
            _context: &HookContext,
            _level: integrations_core::integration::LogLevel,
            _logger: Option<&str>,
            _data: &Value,
        ) {
            std::future::pending::<()>().await;
        }
    }

    /// A server that sends big log messages faster than the hooks take
    /// them holds at most `QUEUED_BYTES` of this process's memory, and a
    /// stuck hook does not keep the task past its session.
    #[tokio::test]
    async fn what_waits_for_slow_hooks_is_bounded_in_bytes() {
        let tasks = TaskTracker::new();
        let context = HookContext {
            tenant: integrations_core::TenantId::new("t").unwrap(),
            server: integrations_core::id::ServerName::new("s").unwrap(),
        };
        let queue = LogQueue::start(Arc::new(Stuck), context, &tasks);
        let big = LoggingMessageNotificationParam::new(
            rmcp::model::LoggingLevel::Info,
            Value::String("x".repeat(1 << 20)),
        );
        for _ in 0..100 {
            queue.push(&big);
        }
        let queued = queue.bytes.load(Ordering::Relaxed);
        assert!(queued <= QUEUED_BYTES, "{queued} bytes queued");
        assert!(queue.dropped.load(Ordering::Relaxed) >= 95);
        // The session closes: the task stops, the stuck call dropped.
        drop(queue);
        tasks.close();
        tokio::time::timeout(std::time::Duration::from_secs(5), tasks.wait())
            .await
            .expect("the log task ends with its session");
    }
}
