//! The outbox's workers.

use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::FutureExt;
use integrations_core::IntegrationId;
use integrations_core::events::{Event, EventKind};

use super::Inner;
use crate::error::{Error, ErrorKind, Failure};
use crate::store::{Claimed, Outcome};

/// One worker: claims due exports one at a time and delivers them, until
/// the service stops.
pub(super) async fn run(inner: Arc<Inner>) {
    loop {
        if inner.stop.is_cancelled() {
            return;
        }
        let wake = inner.wake.notified();
        match inner
            .store
            .claim(1, inner.options.lease, &inner.options.owner)
            .await
        {
            Ok(claimed) if !claimed.is_empty() => {
                for export in claimed {
                    tokio::select! {
                        () = deliver(&inner, export, false) => {}
                        () = inner.abort.cancelled() => return,
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "export outbox: cannot claim exports"),
        }
        // Nothing due: sleep until the next export is due, an enqueue wakes
        // us, or the poll interval passes (another process may enqueue).
        let mut nap = inner.options.poll;
        if let Ok(Some(due)) = inner.store.next_due().await {
            let until = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            nap = nap.min(until.max(Duration::from_millis(5)));
        }
        tokio::select! {
            () = wake => {}
            () = tokio::time::sleep(nap) => {}
            () = inner.stop.cancelled() => return,
        }
    }
}

/// Takes back the exports this owner claimed before a restart and did not
/// finish, starts the workers, and delivers what it took back.
pub(super) async fn begin(inner: Arc<Inner>) {
    let claimed = match inner
        .store
        .reclaim(&inner.options.owner, inner.options.lease)
        .await
    {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(%error, "export outbox: cannot take back this owner's claims");
            Vec::new()
        }
    };
    for _ in 0..inner.options.workers {
        inner.tracker.spawn(run(Arc::clone(&inner)));
    }
    match inner.store.enqueues().await {
        Ok(Some(wakes)) => {
            inner.tracker.spawn(wake_on(Arc::clone(&inner), wakes));
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, "export outbox: no enqueue notifications; polling only");
        }
    }
    if !claimed.is_empty() {
        tracing::info!(
            count = claimed.len(),
            "export outbox: resuming exports this owner had in hand when it stopped"
        );
    }
    for export in claimed {
        tokio::select! {
            () = deliver(&inner, export, false) => {}
            () = inner.abort.cancelled() => return,
        }
    }
}

/// Wakes an idle worker for each enqueue the store reports, until the
/// service stops.
async fn wake_on(inner: Arc<Inner>, mut wakes: futures_util::stream::BoxStream<'static, ()>) {
    use futures_util::StreamExt;
    loop {
        tokio::select! {
            () = inner.stop.cancelled() => return,
            wake = wakes.next() => match wake {
                Some(()) => inner.wake.notify_one(),
                None => return,
            },
        }
    }
}

/// Renews the claim on `claimed` every third of the lease, until dropped
/// (it never returns).
async fn keep_leased(inner: &Inner, claimed: &Claimed) -> std::convert::Infallible {
    let record = &claimed.record;
    let every = inner.options.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        match inner
            .store
            .renew(
                record.id,
                record.attempts,
                &inner.options.owner,
                inner.options.lease,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    export = record.id.get(),
                    "export outbox: the claim was lost; delivering anyway"
                );
                return std::future::pending().await;
            }
            Err(error) => {
                tracing::warn!(export = record.id.get(), %error, "export outbox: cannot renew a lease")
            }
        }
    }
}

/// Sends one claimed export and records the outcome. `retry_requests`:
/// whether the provider may retry a request itself; the workers say no,
/// since they retry the whole export.
pub(super) async fn deliver(inner: &Inner, claimed: Claimed, retry_requests: bool) {
    let record = &claimed.record;
    let request = &record.request;
    let context = Inner::context(&claimed, retry_requests);
    let max_attempts = inner.options.max_attempts;
    let outcome = if record.attempts > max_attempts {
        // Claimed again after every lease: each delivery began and never
        // finished (its process died, perhaps because of this export).
        Outcome::Failed {
            error: Failure::new(
                ErrorKind::Abandoned,
                format!(
                    "{} deliveries began and did not finish (their process stopped); not sent again",
                    record.attempts - 1
                ),
            ),
        }
    } else {
        let sent = match inner.providers.get(&request.provider) {
            Some(provider) => {
                let export = AssertUnwindSafe(provider.export(
                    &context,
                    &request.content,
                    &request.destination,
                ))
                .catch_unwind();
                // The claim is renewed for as long as the export runs.
                let export = tokio::select! {
                    sent = export => sent,
                    never = keep_leased(inner, &claimed) => match never {},
                };
                export.unwrap_or_else(|_| {
                    Err(Error::Panicked {
                        provider: request.provider.clone(),
                    })
                })
            }
            None => Err(Error::UnknownProvider {
                provider: request.provider.clone(),
            }),
        };
        match sent {
            Ok(result) => Outcome::Delivered(result),
            Err(error) if error.is_transient() && record.attempts < max_attempts => {
                let wait =
                    backoff(inner, record.attempts).max(error.retry_after().unwrap_or_default());
                Outcome::Retry {
                    at: later(wait),
                    error: Failure::from(&error),
                }
            }
            Err(error) => Outcome::Failed {
                error: Failure::from(&error),
            },
        }
    };
    match inner
        .store
        .finish(record.id, record.attempts, &outcome)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            export = record.id.get(),
            "export outbox: the lease ran out before the export finished; another worker took it over"
        ),
        Err(error) => {
            tracing::error!(export = record.id.get(), %error, "export outbox: cannot record an outcome")
        }
    }
    publish(inner, &claimed, &outcome).await;
    inner.finished.notify_waiters();
}

/// `wait` from now, at most the longest `Retry-After` a vendor is taken
/// at (an MCP server's or a host provider's error may ask for centuries).
fn later(wait: Duration) -> DateTime<Utc> {
    let wait = wait.min(integrations_vendor::MAX_RETRY_AFTER);
    Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::days(1))
}

/// The wait before attempt `attempts + 1`.
fn backoff(inner: &Inner, attempts: u32) -> Duration {
    let options = &inner.options;
    ExponentialBuilder::default()
        .with_min_delay(options.min_backoff)
        .with_max_delay(options.max_backoff)
        .with_jitter()
        .without_max_times()
        .build()
        .nth(attempts.saturating_sub(1) as usize)
        .unwrap_or(options.max_backoff)
}

async fn publish(inner: &Inner, claimed: &Claimed, outcome: &Outcome) {
    let Some(events) = &inner.events else {
        return;
    };
    let request = &claimed.record.request;
    let Ok(integration) = IntegrationId::new(&request.provider) else {
        return;
    };
    let kind = match outcome {
        Outcome::Delivered(result) => EventKind::Exported {
            destination: result
                .external_url
                .clone()
                .unwrap_or_else(|| request.destination.clone()),
        },
        Outcome::Retry { error, .. } | Outcome::Failed { error } => EventKind::Error {
            operation: "export".into(),
            message: error.message.clone(),
        },
    };
    if let Err(error) = events.record(&Event::now(integration, kind)).await {
        tracing::warn!(%error, "export outbox: an event sink failed");
    }
}
