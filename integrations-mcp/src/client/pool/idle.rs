//! Closing sessions: idle ones (a reaper task the pool owns) and the least
//! recently used beyond the maximum.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Inner, SessionKey, Slot, lock};
use crate::client::session::Session;

impl Inner {
    /// Starts the task that closes idle sessions, once, from inside the
    /// runtime that uses the pool.
    pub(super) fn start_reaper(self: &Arc<Self>) {
        if self.reaper_started.swap(true, Ordering::SeqCst) {
            return;
        }
        self.start_events();
        let reaper = Arc::downgrade(self);
        let stop = self.stop.clone();
        let every =
            (self.idle_timeout / 2).clamp(Duration::from_millis(10), Duration::from_secs(30));
        self.tasks.spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let Some(inner) = reaper.upgrade() else {
                    return;
                };
                inner.close_idle().await;
            }
        });
    }

    /// Starts the task that hands the pool's events to its sink, in order;
    /// at shutdown it hands over what is queued, then stops.
    fn start_events(self: &Arc<Self>) {
        let (Some(sink), Some(mut queue)) =
            (self.events.clone(), lock(&self.event_receiver).take())
        else {
            return;
        };
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            loop {
                let event = tokio::select! {
                    biased;
                    event = queue.recv() => event,
                    () = stop.cancelled() => queue.try_recv().ok(),
                };
                let Some(event) = event else { return };
                if let Err(error) = sink.record(&event).await {
                    tracing::warn!(%error, "MCP pool event sink failed");
                }
            }
        });
    }

    /// Closes a session in a task the pool owns.
    pub(super) fn close_later(self: &Arc<Self>, session: Arc<Session>) {
        let grace = self.close_grace;
        self.tasks.spawn(async move { session.close(grace).await });
    }

    pub(super) async fn close_idle(self: &Arc<Self>) {
        let idle: Vec<(SessionKey, Arc<Session>)> = {
            let mut slots = lock(&self.slots);
            let keys: Vec<SessionKey> = slots
                .iter()
                .filter_map(|(key, slot)| match slot {
                    Slot::Ready(session)
                        if session
                            .idle_for()
                            .is_some_and(|idle| idle >= self.idle_timeout) =>
                    {
                        Some(key.clone())
                    }
                    _ => None,
                })
                .collect();
            keys.into_iter()
                .filter_map(|key| match slots.remove(&key) {
                    Some(Slot::Ready(session)) => Some((key, session)),
                    _ => None,
                })
                .collect()
        };
        let closed: Vec<SessionKey> = idle.iter().map(|(key, _)| key.clone()).collect();
        self.forget_health(|key, health| {
            health.state == integrations_core::health::HealthState::Ok && closed.contains(key)
        });
        for (_, session) in idle {
            tracing::debug!(server = %session.server(), "closing idle MCP session");
            self.idle_closed.fetch_add(1, Ordering::Relaxed);
            self.close_later(session);
        }
    }

    /// Closes the least recently used sessions beyond the maximum.
    pub(super) fn evict(self: &Arc<Self>, slots: &mut HashMap<SessionKey, Slot>) {
        loop {
            let ready: Vec<(&SessionKey, Instant)> = slots
                .iter()
                .filter_map(|(key, slot)| match slot {
                    Slot::Ready(session) => Some((key, session.last_used())),
                    Slot::Connecting { .. } => None,
                })
                .collect();
            if ready.len() <= self.max_sessions {
                return;
            }
            let Some(oldest) = ready
                .iter()
                .min_by_key(|(_, used)| *used)
                .map(|(key, _)| (*key).clone())
            else {
                return;
            };
            if let Some(Slot::Ready(session)) = slots.remove(&oldest) {
                self.evicted.fetch_add(1, Ordering::Relaxed);
                self.close_later(session);
            }
        }
    }
}
