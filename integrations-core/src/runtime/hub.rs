//! Where the runtime's events go ([`EventHub`]), and the host as an
//! action's caller ([`HostPeer`]).

use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, RuntimeError, error_chain};
use crate::events::{BroadcastSink, Event, EventKind, EventSink};
use crate::id::IntegrationId;
use crate::integration::ActionPeer;

/// The host as an action's caller: progress and logs become events;
/// requests back are not available.
pub(super) struct HostPeer {
    pub(super) hub: EventHub,
    pub(super) integration: IntegrationId,
    pub(super) action: String,
}

impl fmt::Debug for HostPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostPeer")
            .field("integration", &self.integration)
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ActionPeer for HostPeer {
    async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let kind = EventKind::Progress {
            action: self.action.clone(),
            progress,
            total,
            message,
        };
        self.hub
            .publish(Event::now(self.integration.clone(), kind))
            .await;
    }

    async fn log(&self, level: crate::integration::LogLevel, message: String) {
        let kind = EventKind::Log {
            action: self.action.clone(),
            level,
            message,
        };
        self.hub
            .publish(Event::now(self.integration.clone(), kind))
            .await;
    }

    async fn sample(
        &self,
        _: crate::integration::SamplingRequest,
    ) -> Result<crate::integration::SamplingResponse, Error> {
        Err(RuntimeError::NotAvailable {
            request: "sampling",
            reason: "the action was called by the host, not an MCP client".into(),
        }
        .into())
    }

    async fn elicit(
        &self,
        _: crate::integration::Elicitation,
    ) -> Result<crate::integration::ElicitationResponse, Error> {
        Err(RuntimeError::NotAvailable {
            request: "elicitation",
            reason: "the action was called by the host, not an MCP client".into(),
        }
        .into())
    }
}

/// Fans events out to the broadcast subscribers and, through a bounded
/// queue, to the sinks' writer task.
#[derive(Clone)]
pub(super) struct EventHub {
    pub(super) broadcast: BroadcastSink,
    pub(super) sinks: Option<mpsc::Sender<Event>>,
}

/// Events queued for the sinks before publishers wait.
pub(super) const SINK_QUEUE: usize = 4096;

impl EventHub {
    pub(super) fn new(
        capacity: usize,
        sinks: Vec<Arc<dyn EventSink>>,
    ) -> (Self, Option<(JoinHandle<()>, CancellationToken)>) {
        let broadcast = BroadcastSink::new(capacity);
        if sinks.is_empty() {
            return (
                Self {
                    broadcast,
                    sinks: None,
                },
                None,
            );
        }
        let (sender, mut receiver) = mpsc::channel::<Event>(SINK_QUEUE);
        let close = CancellationToken::new();
        let closing = close.clone();
        let writer = tokio::spawn(async move {
            let record = |event: Event| {
                let sinks = &sinks;
                async move {
                    for sink in sinks {
                        if let Err(error) = sink.record(&event).await {
                            tracing::warn!(?sink, error = %error_chain(&error), "event sink failed");
                        }
                    }
                }
            };
            loop {
                tokio::select! {
                    event = receiver.recv() => match event {
                        Some(event) => record(event).await,
                        None => return,
                    },
                    () = closing.cancelled() => break,
                }
            }
            receiver.close();
            while let Some(event) = receiver.recv().await {
                record(event).await;
            }
        });
        (
            Self {
                broadcast,
                sinks: Some(sender),
            },
            Some((writer, close)),
        )
    }

    pub(super) async fn publish(&self, event: Event) {
        match &self.sinks {
            Some(sinks) => {
                self.broadcast.send(event.clone());
                // Closed only after shutdown; the event then has nowhere to go.
                let _ = sinks.send(event).await;
            }
            None => self.broadcast.send(event),
        }
    }
}
