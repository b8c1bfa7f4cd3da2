//! The tick loops: one per ticking integration, with backoff after a
//! failure and, across replicas, a lease.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, error_chain, panic_message};
use crate::events::{Event, EventKind};
use crate::id::IntegrationId;
use crate::integration::Integration;

use super::hub::EventHub;
use super::lease::Leasing;

pub(super) struct TickLoop {
    pub(super) id: IntegrationId,
    pub(super) integration: Arc<dyn Integration>,
    pub(super) interval: Duration,
    pub(super) max_backoff: Duration,
    pub(super) hub: EventHub,
    pub(super) cancel: CancellationToken,
    pub(super) leasing: Option<Leasing>,
}

/// Ticks until cancelled. A tick that errors or panics is logged, published
/// as an error event, and followed by a growing pause; the loop survives.
pub(super) async fn tick_loop(this: TickLoop) -> IntegrationId {
    let TickLoop {
        id,
        integration,
        interval,
        max_backoff,
        hub,
        cancel,
        leasing,
    } = this;
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    // A tick that overruns its interval delays the next one; no burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures: u32 = 0;
    // One waiter for the whole loop rather than a new one per select.
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    loop {
        tokio::select! {
            biased;
            () = &mut cancelled => return release(id, leasing.as_ref()).await,
            _ = ticker.tick() => {}
        }
        if let Some(leasing) = &leasing {
            match leasing
                .lease
                .acquire(&id, &leasing.holder, leasing.ttl)
                .await
            {
                Ok(true) => {}
                // Another replica ticks it.
                Ok(false) => continue,
                // Unsure who holds it: skipping risks a missed tick, ticking
                // a double one; a missed one is the lesser harm.
                Err(error) => {
                    tracing::warn!(integration = %id, %error, "tick skipped: cannot take the tick lease");
                    continue;
                }
            }
        }
        let outcome = tokio::select! {
            biased;
            () = &mut cancelled => return release(id, leasing.as_ref()).await,
            outcome = AssertUnwindSafe(integration.tick()).catch_unwind() => outcome,
        };
        let failure = match outcome {
            Ok(Ok(notifications)) => {
                for notification in notifications {
                    hub.publish(Event::now(
                        id.clone(),
                        EventKind::Notification { notification },
                    ))
                    .await;
                }
                None
            }
            Ok(Err(error)) => Some(error_chain(&*error)),
            Err(panic) => Some(format!("panicked: {}", panic_message(&*panic))),
        };
        match failure {
            None => failures = 0,
            Some(message) => {
                failures = failures.saturating_add(1);
                let pause = interval
                    .saturating_mul(2u32.saturating_pow(failures.min(31)))
                    .min(max_backoff);
                tracing::warn!(integration = %id, failures, ?pause, "tick failed: {message}");
                hub.publish(Event::now(
                    id.clone(),
                    EventKind::Error {
                        operation: "tick".into(),
                        message,
                    },
                ))
                .await;
                ticker.reset_at(Instant::now() + pause);
            }
        }
    }
}

/// Gives the tick lease up, if the loop had one, so another replica ticks
/// at once.
pub(super) async fn release(id: IntegrationId, leasing: Option<&Leasing>) -> IntegrationId {
    if let Some(leasing) = leasing
        && let Err(error) = leasing.lease.release(&id, &leasing.holder).await
    {
        tracing::warn!(integration = %id, %error, "cannot release the tick lease");
    }
    id
}

pub(super) fn error_event(id: &IntegrationId, operation: &str, error: &Error) -> Event {
    Event::now(
        id.clone(),
        EventKind::Error {
            operation: operation.into(),
            message: error_chain(error),
        },
    )
}
