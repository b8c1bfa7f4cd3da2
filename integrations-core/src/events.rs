//! Events and the sinks that record them.

mod jsonl;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use jsonl::JsonlSink;

use crate::error::Error;
use crate::id::{ConnectionId, IntegrationId, ServerName, TenantId};
use crate::integration::Notification;

/// Something that happened to an integration, with when and to which.
///
/// Serialised flat, with the kind under `event`:
/// `{"at":"2026-11-23T10:00:00Z","integration":"clock","event":"notification","notification":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The integration it happened to.
    pub integration: IntegrationId,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// An event that happens now.
    pub fn now(integration: IntegrationId, kind: EventKind) -> Self {
        Self {
            at: Utc::now(),
            integration,
            kind,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The integration started (its `init` succeeded) or a connection opened.
    Connected,
    /// The integration stopped or a connection closed.
    Disconnected,
    /// A connection test ran.
    Tested {
        /// Whether it succeeded.
        success: bool,
        /// How long it took, in milliseconds.
        response_time_ms: u64,
        /// Why it failed, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Something failed: an init, a tick, a shutdown.
    Error {
        /// `init`, `tick`, `shutdown`, ...
        operation: String,
        /// What went wrong (never a secret).
        message: String,
    },
    /// The integration's configuration changed.
    ConfigUpdated,
    /// Something is likely a mistake but did not stop anything, e.g. an
    /// integration registered but not listed in `[integrations] enabled`.
    Warning {
        /// What looks wrong and what to do about it.
        message: String,
    },
    /// The integration published a notification from its tick.
    Notification {
        /// The notification.
        notification: Notification,
    },
    /// Content was exported to a destination.
    Exported {
        /// Where it went.
        destination: String,
    },
    /// A connection's OAuth token was refreshed.
    TokenRefreshed {
        /// The tenant.
        tenant: TenantId,
        /// The connection (serialised as `provider/name`).
        connection: ConnectionId,
    },
    /// A token refresh failed for a reason that may pass (network, outage).
    TokenRefreshFailed {
        /// The tenant.
        tenant: TenantId,
        /// The connection (serialised as `provider/name`).
        connection: ConnectionId,
        /// What went wrong (never a secret).
        message: String,
    },
    /// The provider refused the refresh token; the user must authorise the
    /// connection again.
    NeedsReauth {
        /// The tenant.
        tenant: TenantId,
        /// The connection (serialised as `provider/name`).
        connection: ConnectionId,
    },
    /// An action reported progress through its context (called by the
    /// host, not through the MCP bridge).
    Progress {
        /// The action.
        action: String,
        /// How far it is.
        progress: f64,
        /// Of how much, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<f64>,
        /// What it is doing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A pooled MCP session was closed by the host or replaced (its calls
    /// in flight were let finish first).
    SessionClosed {
        /// The tenant.
        tenant: TenantId,
        /// The server, as configured.
        server: ServerName,
        /// Why.
        reason: SessionCloseReason,
    },
    /// A connection's health changed state; sent on transitions only.
    HealthChanged {
        /// The tenant.
        tenant: TenantId,
        /// The server, as configured.
        server: ServerName,
        /// The state before.
        from: crate::health::HealthState,
        /// The state now.
        to: crate::health::HealthState,
        /// Why, when not ok.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// An action logged through its context (called by the host).
    Log {
        /// The action.
        action: String,
        /// The severity.
        level: crate::integration::LogLevel,
        /// The message.
        message: String,
    },
}

impl EventKind {
    /// The kind's name as serialised, e.g. `notification`; also the prefix
    /// of [`JsonlSink`] file names.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::Tested { .. } => "tested",
            Self::Error { .. } => "error",
            Self::ConfigUpdated => "config_updated",
            Self::Warning { .. } => "warning",
            Self::Notification { .. } => "notification",
            Self::Exported { .. } => "exported",
            Self::TokenRefreshed { .. } => "token_refreshed",
            Self::TokenRefreshFailed { .. } => "token_refresh_failed",
            Self::NeedsReauth { .. } => "needs_reauth",
            Self::Progress { .. } => "progress",
            Self::SessionClosed { .. } => "session_closed",
            Self::HealthChanged { .. } => "health_changed",
            Self::Log { .. } => "log",
        }
    }
}

/// Why a pooled session was closed ([`EventKind::SessionClosed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionCloseReason {
    /// The host closed this one session.
    Closed,
    /// The host closed all of the tenant's sessions.
    TenantClosed,
    /// The tenant's server was removed.
    ServerRemoved,
    /// The server's config changed; the next call starts a new session.
    ConfigChanged,
}

/// Somewhere events go.
///
/// The [`Runtime`](crate::Runtime) hands every event to each sink from one
/// background task, in order, through a queue of 4096 events: a slow sink
/// delays later events, and only once that queue is full do the publishers
/// (tick loops included) wait for it.
#[async_trait]
pub trait EventSink: Send + Sync + fmt::Debug + 'static {
    /// Records one event.
    async fn record(&self, event: &Event) -> Result<(), Error>;
}

#[async_trait]
impl<T: EventSink + ?Sized> EventSink for Arc<T> {
    async fn record(&self, event: &Event) -> Result<(), Error> {
        (**self).record(event).await
    }
}

/// Logs each event with `tracing` under the target `integrations::events`:
/// errors at `WARN`, everything else at `INFO`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

#[async_trait]
impl EventSink for TracingSink {
    async fn record(&self, event: &Event) -> Result<(), Error> {
        let integration = event.integration.as_str();
        match &event.kind {
            EventKind::Error { operation, message } => tracing::warn!(
                target: "integrations::events",
                integration, operation = %operation, "{message}"
            ),
            EventKind::Warning { message } => tracing::warn!(
                target: "integrations::events",
                integration, event = "warning", "{message}"
            ),
            EventKind::Notification { notification } => tracing::info!(
                target: "integrations::events",
                integration, event = "notification", kind = %notification.kind,
                "{}", notification.message
            ),
            other => tracing::info!(
                target: "integrations::events",
                integration, event = other.name(), "{}", other.name()
            ),
        }
        Ok(())
    }
}

/// Sends each event to any number of subscribers.
///
/// A subscriber that falls more than `capacity` events behind loses the
/// oldest ones and is told so by
/// [`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError::Lagged).
#[derive(Debug, Clone)]
pub struct BroadcastSink {
    sender: broadcast::Sender<Event>,
}

impl BroadcastSink {
    /// A channel that keeps up to `capacity` events for slow subscribers.
    ///
    /// # Panics
    ///
    /// When `capacity` is zero.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::Sender::new(capacity),
        }
    }

    /// A new subscriber, which sees events sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Sends an event to the current subscribers, if any.
    pub fn send(&self, event: Event) {
        // No subscriber is not an error: nobody is listening yet.
        let _ = self.sender.send(event);
    }
}

#[async_trait]
impl EventSink for BroadcastSink {
    async fn record(&self, event: &Event) -> Result<(), Error> {
        self.send(event.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_flat_with_the_kind_name() {
        let event = Event::now(
            IntegrationId::new("clock").unwrap(),
            EventKind::Notification {
                notification: Notification::new("tick", "it ticked"),
            },
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "notification");
        assert_eq!(json["integration"], "clock");
        assert_eq!(json["notification"]["message"], "it ticked");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        for kind in [
            EventKind::Connected,
            EventKind::ConfigUpdated,
            EventKind::Error {
                operation: "tick".into(),
                message: "m".into(),
            },
        ] {
            let json =
                serde_json::to_value(Event::now(event.integration.clone(), kind.clone())).unwrap();
            assert_eq!(json["event"], kind.name());
        }
    }

    #[test]
    fn typed_ids_keep_the_wire_format_and_are_checked_on_the_way_in() {
        let event = Event::now(
            IntegrationId::new("slack").unwrap(),
            EventKind::NeedsReauth {
                tenant: TenantId::new("ada").unwrap(),
                connection: ConnectionId::new("slack", "acme").unwrap(),
            },
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["tenant"], "ada");
        assert_eq!(json["connection"], "slack/acme");
        assert_eq!(
            serde_json::from_value::<Event>(json.clone()).unwrap(),
            event
        );
        let mut forged = json;
        forged["connection"] = "slack".into();
        assert!(serde_json::from_value::<Event>(forged).is_err());
    }
}
