//! Waiting for another replica's refresh: woken when the store says the
//! row was written ([`CredentialStore::changes`]), else by polling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use super::{Inner, lock};
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
    /// The store cannot tell (or failed to): waiters poll.
    Polling,
    /// Listening: the waiters to wake.
    On(Arc<Changes>),
}

/// The listener's task and the waiters it wakes, by connection.
pub(super) struct Changes {
    waiters: Arc<Mutex<HashMap<Key, watch::Sender<u64>>>>,
    /// Reads the store's stream; stops when the manager drops this (at
    /// `close`, or with the manager).
    _listener: AbortOnDropHandle<()>,
}

/// A waiter's interest in one connection's row; dropped, it leaves the
/// map once nobody else waits for that row.
pub(super) struct ChangeWatch {
    changes: Arc<Changes>,
    key: Key,
    receiver: Option<watch::Receiver<u64>>,
}

impl ChangeWatch {
    /// Marks every write so far as seen: call it just before reading the
    /// row, which shows them.
    pub(super) fn mark_seen(&mut self) {
        if let Some(receiver) = &mut self.receiver {
            receiver.borrow_and_update();
        }
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
    /// Starts watching a connection's row, where the store tells of
    /// changes (listening to them first if the manager does not yet): a
    /// write after this call wakes [`ChangeWatch::changed`].
    pub(super) async fn watch(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Option<ChangeWatch> {
        let changes = self.changes().await?;
        let key = (tenant.clone(), connection.clone());
        let receiver = lock(&changes.waiters)
            .entry(key.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Some(ChangeWatch {
            changes,
            key,
            receiver: Some(receiver),
        })
    }

    /// The store's changes, listened to from the first call on.
    async fn changes(&self) -> Option<Arc<Changes>> {
        let mut listening = self.listening.lock().await;
        match &*listening {
            Listening::On(changes) => return Some(Arc::clone(changes)),
            Listening::Polling => return None,
            Listening::NotAsked => {}
        }
        let stream = match self.store.changes().await {
            Ok(Some(stream)) => stream,
            Ok(None) => {
                *listening = Listening::Polling;
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "token manager: no change notifications; polling");
                *listening = Listening::Polling;
                return None;
            }
        };
        let waiters: Arc<Mutex<HashMap<Key, watch::Sender<u64>>>> = Arc::default();
        let woken = Arc::clone(&waiters);
        let listener = tokio::spawn(async move {
            let mut stream = stream;
            while let Some(key) = stream.next().await {
                if let Some(sender) = lock(&woken).get(&key) {
                    sender.send_modify(|writes| *writes += 1);
                }
            }
        });
        let changes = Arc::new(Changes {
            waiters,
            _listener: AbortOnDropHandle::new(listener),
        });
        *listening = Listening::On(Arc::clone(&changes));
        Some(changes)
    }
}
