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
    uris: Mutex<BTreeSet<String>>,
    grown: Notify,
    acknowledged: watch::Sender<BTreeSet<String>>,
}

impl Default for Listening {
    fn default() -> Self {
        Self {
            uris: Mutex::default(),
            grown: Notify::new(),
            acknowledged: watch::channel(BTreeSet::new()).0,
        }
    }
}

impl Listening {
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

/// Keeps the session's stream open until `stop`; `tools` says whether the
/// server announces tool list changes.
pub(super) async fn keep_listening(
    peer: Peer<RoleClient>,
    client: Client,
    listening: std::sync::Arc<Listening>,
    tools: bool,
    stop: CancellationToken,
) {
    let mut pause = Duration::from_millis(100);
    loop {
        let filter = listening.filter(tools);
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
        loop {
            tokio::select! {
                next = subscription.next() => match next {
                    Ok(Some(notification)) => {
                        pause = Duration::from_millis(100);
                        deliver(&client, notification).await;
                    }
                    // The stream ended: open it again after a pause.
                    _ => {
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
