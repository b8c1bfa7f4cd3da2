//! Waiting for another replica's refresh: woken when the store says the
//! row was written ([`CredentialStore::changes`]), else by polling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use super::{Inner, lock};
use crate::credentials::Change;
use crate::id::{ConnectionId, TenantId};

/// How long a waiter woken by notifications waits at most before reading
/// the row anyway (a notification may be lost while the listener
/// reconnects).
pub(super) const NOTIFIED_POLL: Duration = Duration::from_secs(1);

type Key = (TenantId, ConnectionId);

/// Whether the manager listens to the store's changes.
#[derive(Default)]
pub(super) enum Listening {
    /// Not asked yet: asked at the first read of the store.
    #[default]
    NotAsked,
    /// Asked, in a task of its own; until the store answers, waiters poll.
    Connecting {
        /// Aborted when dropped (at `close`).
        _task: AbortOnDropHandle<()>,
        /// Closed when the task ends.
        done: watch::Receiver<()>,
    },
    /// The store cannot tell (or failed to): waiters poll.
    Polling,
    /// Listening: the waiters to wake.
    On(Arc<Changes>),
}

/// The latest change to a row that a waiter watches.
type Latest = watch::Sender<Option<Change>>;

/// The listener's task and the waiters it wakes, by connection.
pub(super) struct Changes {
    waiters: Arc<Mutex<HashMap<Key, Latest>>>,
    /// Reads the store's stream; stops when the manager drops this (at
    /// `close`, or with the manager).
    _listener: AbortOnDropHandle<()>,
}

/// A waiter's interest in one connection's row; dropped, it leaves the
/// map once nobody else waits for that row.
pub(super) struct ChangeWatch {
    changes: Arc<Changes>,
    key: Key,
    receiver: Option<watch::Receiver<Option<Change>>>,
}

impl ChangeWatch {
    /// Marks every write so far as seen: call it just before reading the
    /// row, which shows them.
    pub(super) fn mark_seen(&mut self) {
        if let Some(receiver) = &mut self.receiver {
            receiver.borrow_and_update();
        }
    }

    /// The latest write the watch was woken for, if any.
    pub(super) fn latest(&self) -> Option<Change> {
        self.receiver.as_ref()?.borrow().clone()
    }

    /// Returns once the row was written since this watch began or since
    /// the last [`mark_seen`](Self::mark_seen) or return.
    pub(super) async fn changed(&mut self) {
        if let Some(receiver) = &mut self.receiver
            && receiver.changed().await.is_err()
        {
            // The listener stopped: nothing will wake this watch again.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for ChangeWatch {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut waiters = lock(&self.changes.waiters);
        if waiters
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            waiters.remove(&self.key);
        }
    }
}

impl Inner {
    /// Starts watching a connection's row, where the manager listens to
    /// the store's changes: a write after this call wakes
    /// [`ChangeWatch::changed`]. The first call asks the store for its
    /// changes in the background; until it answers, this is `None` and the
    /// caller polls.
    pub(super) fn watch(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Option<ChangeWatch> {
        let changes = {
            let mut listening = lock(&self.listening);
            match &*listening {
                Listening::On(changes) => Arc::clone(changes),
                Listening::NotAsked => {
                    self.start_listening(&mut listening);
                    return None;
                }
                Listening::Connecting { .. } | Listening::Polling => return None,
            }
        };
        let key = (tenant.clone(), connection.clone());
        let receiver = lock(&changes.waiters)
            .entry(key.clone())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        Some(ChangeWatch {
            changes,
            key,
            receiver: Some(receiver),
        })
    }

    /// See [`TokenManager::listen`](super::TokenManager::listen).
    pub(super) async fn listen(&self) -> bool {
        loop {
            let mut done = {
                let mut listening = lock(&self.listening);
                match &*listening {
                    Listening::On(_) => return true,
                    Listening::Polling => return false,
                    Listening::Connecting { done, .. } => done.clone(),
                    Listening::NotAsked => self.start_listening(&mut listening),
                }
            };
            // Ends with the task (its sender dropped): done, or aborted by
            // `close`, after which this asks again.
            let _ = done.changed().await;
            let mut listening = lock(&self.listening);
            if matches!(&*listening, Listening::Connecting { done: now, .. } if now.same_channel(&done))
            {
                // The task ended without a word: the store panicked.
                *listening = Listening::Polling;
            }
        }
    }

    /// Asks the store for its changes in a task, `listening` (the locked
    /// state) saying so meanwhile; the task's end, to wait for.
    fn start_listening(&self, listening: &mut Listening) -> watch::Receiver<()> {
        let (finished, done) = watch::channel(());
        let store = Arc::clone(&self.store);
        let state = Arc::clone(&self.listening);
        let ours = done.clone();
        let task = tokio::spawn(async move {
            let next = match store.changes().await {
                Ok(Some(stream)) => Listening::On(Arc::new(Changes::start(stream))),
                Ok(None) => Listening::Polling,
                Err(error) => {
                    tracing::warn!(%error, "token manager: no change notifications; polling");
                    Listening::Polling
                }
            };
            let mut state = lock(&state);
            // `close` may have stopped this attempt, and a read started
            // another.
            if matches!(&*state, Listening::Connecting { done, .. } if done.same_channel(&ours)) {
                *state = next;
            }
            drop(finished);
        });
        *listening = Listening::Connecting {
            _task: AbortOnDropHandle::new(task),
            done: done.clone(),
        };
        done
    }
}

impl Changes {
    /// Wakes the waiters of each row `stream` tells of.
    fn start(mut stream: futures_util::stream::BoxStream<'static, Change>) -> Self {
        let waiters: Arc<Mutex<HashMap<Key, Latest>>> = Arc::default();
        let woken = Arc::clone(&waiters);
        let listener = tokio::spawn(async move {
            while let Some(change) = stream.next().await {
                let sender = {
                    let waiters = lock(&woken);
                    if waiters.is_empty() {
                        continue;
                    }
                    let key = (change.tenant.clone(), change.connection.clone());
                    waiters.get(&key).cloned()
                };
                // Woken outside the lock, which the waiter takes again
                // when it stops watching.
                if let Some(sender) = sender {
                    sender.send_replace(Some(change));
                }
            }
        });
        Self {
            waiters,
            _listener: AbortOnDropHandle::new(listener),
        }
    }
}
