//! A server's log messages, handed to the host's hooks one at a time in
//! the order they arrived: rmcp runs each notification's handler in a task
//! of its own, which can reorder them.
// Logging is deprecated by SEP-2577, and still in both revisions.
#![allow(deprecated)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::model::LoggingMessageNotificationParam;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::client::hooks::{ClientHooks, HookContext};

/// Messages waiting for the hooks; past this, new ones are dropped (and
/// counted) until the hooks catch up.
const QUEUED: usize = 256;

/// The queue in front of the hooks' [`ClientHooks::log`].
#[derive(Clone)]
pub(super) struct LogQueue {
    sender: mpsc::Sender<LoggingMessageNotificationParam>,
    dropped: Arc<AtomicU64>,
}

impl LogQueue {
    /// Starts the task that hands the queue's messages to `hooks`, one at
    /// a time, on `tasks`; it ends when the last copy of the queue goes
    /// (the session's transport and client).
    pub(super) fn start(
        hooks: Arc<dyn ClientHooks>,
        context: HookContext,
        tasks: &TaskTracker,
    ) -> Self {
        let (sender, mut receiver) = mpsc::channel::<LoggingMessageNotificationParam>(QUEUED);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&dropped);
        tasks.spawn(async move {
            while let Some(message) = receiver.recv().await {
                let level = crate::level::from_mcp(&message.level);
                hooks
                    .log(&context, level, message.logger.as_deref(), &message.data)
                    .await;
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
        Self { sender, dropped }
    }

    /// Queues `message` for the hooks, or counts it dropped when the queue
    /// is full.
    pub(super) fn push(&self, message: &LoggingMessageNotificationParam) {
        if self.sender.try_send(message.clone()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
