//! What a 2026-07-28 server announces arrives only on a
//! `subscriptions/listen` stream the client opens (there is no session to
//! push on): the session keeps one open for the tool list changes the
//! server says it announces and for the resources [`Session::subscribe`]
//! asked about, opens it again with the new filter when that set grows, and
//! after the stream ends (a short pause, growing, up to 5 s), until the
//! session closes.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rmcp::model::{ServerNotification, SubscriptionFilter};
use rmcp::{Peer, RoleClient};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::Client;

/// The longest pause before a stream that ended is opened again.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The resources a session listens for, and what the server acknowledged.
#[derive(Debug)]
pub(super) struct Listening {
    /// Whether the server announces tool list changes (and the stream asks
    /// for them).
    tools: bool,
    uris: Mutex<BTreeSet<String>>,
    grown: Notify,
    acknowledged: watch::Sender<BTreeSet<String>>,
    stream: watch::Sender<Stream>,
}

/// The session's stream: how many times one was opened or refused, and
/// whether the last one is open. A change the server announces while no
/// stream is open is lost, so a tool list fetched then is not kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Stream {
    attempts: u64,
    open: bool,
}

impl Stream {
    pub(super) fn is_open(self) -> bool {
        self.open
    }
}

impl Listening {
    pub(super) fn new(tools: bool) -> Self {
        Self {
            tools,
            uris: Mutex::default(),
            grown: Notify::new(),
            acknowledged: watch::channel(BTreeSet::new()).0,
            stream: watch::channel(Stream::default()).0,
        }
    }

    /// The stream now, where a cached tool list depends on it: `None` when
    /// the server announces no tool list changes.
    pub(super) fn tools_stream(&self) -> Option<Stream> {
        self.tools.then(|| *self.stream.borrow())
    }

    /// Waits until the first stream was opened or refused, so that a change
    /// made once the session is handed out is announced (at once when the
    /// server announces no tool list changes).
    pub(super) async fn first_attempt(&self) {
        if !self.tools {
            return;
        }
        let mut stream = self.stream.subscribe();
        let _ = stream.wait_for(|stream| stream.attempts > 0).await;
    }

    fn opened(&self, open: bool) {
        self.stream.send_modify(|stream| {
            stream.attempts += 1;
            stream.open = open;
        });
    }

    fn closed(&self) {
        self.stream
            .send_if_modified(|stream| std::mem::replace(&mut stream.open, false));
    }

    /// Adds `uri` and waits until a stream whose filter holds it is open.
    pub(super) async fn add(&self, uri: &str) {
        let added = self
            .uris
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uri.to_owned());
        if added {
            self.grown.notify_one();
        }
        let mut acknowledged = self.acknowledged.subscribe();
        let _ = acknowledged.wait_for(|uris| uris.contains(uri)).await;
    }

    fn filter(&self, tools: bool) -> SubscriptionFilter {
        let uris = self.uris.lock().unwrap_or_else(|e| e.into_inner());
        let mut filter = SubscriptionFilter::builder();
        if tools {
            filter = filter.tools_list_changed();
        }
        if !uris.is_empty() {
            filter = filter.resource_subscriptions(uris.iter().cloned());
        }
        filter.build()
    }
}

/// Keeps the session's stream open until `stop`.
pub(super) async fn keep_listening(
    peer: Peer<RoleClient>,
    client: Client,
    listening: std::sync::Arc<Listening>,
    stop: CancellationToken,
) {
    let mut pause = Duration::from_millis(100);
    loop {
        listening.closed();
        let filter = listening.filter(listening.tools);
        if filter.tools_list_changed.is_none() && filter.resource_subscriptions.is_none() {
            tokio::select! {
                () = listening.grown.notified() => continue,
                () = stop.cancelled() => return,
            }
        }
        let opened = tokio::select! {
            opened = peer.listen(filter) => opened,
            () = stop.cancelled() => return,
        };
        let mut subscription = match opened {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::debug!(%error, "subscriptions/listen refused");
                listening.opened(false);
                if peer.is_transport_closed() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stop.cancelled() => return,
                }
                pause = (pause * 2).min(MAX_PAUSE);
                continue;
            }
        };
        let acknowledged = subscription
            .acknowledged()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        listening
            .acknowledged
            .send_replace(acknowledged.into_iter().collect());
        listening.opened(true);
        loop {
            tokio::select! {
                next = subscription.next() => match next {
                    Ok(Some(notification)) => {
                        pause = Duration::from_millis(100);
                        deliver(&client, notification).await;
                    }
                    // The stream ended: open it again after a pause.
                    _ => {
                        listening.closed();
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = stop.cancelled() => return,
                        }
                        pause = (pause * 2).min(MAX_PAUSE);
                        break;
                    }
                },
                () = listening.grown.notified() => {
                    let _ = subscription.cancel().await;
                    break;
                }
                () = stop.cancelled() => return,
            }
        }
    }
}

async fn deliver(client: &Client, notification: ServerNotification) {
    match notification {
        ServerNotification::ToolListChangedNotification(_) => {
            client.tools_generation.fetch_add(1, Ordering::SeqCst);
        }
        ServerNotification::ResourceUpdatedNotification(updated) => {
            client.resource_updated(&updated.params.uri).await;
        }
        _ => {}
    }
}
