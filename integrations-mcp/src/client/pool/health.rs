//! Health per (tenant, server): ok, degraded, needs re-authorization, down,
//! from what the pool's own requests saw; an event on each transition.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use integrations_core::events::EventKind;
use integrations_core::health::HealthState;

use super::{Inner, SessionKey, lock};
use crate::error::Error;

/// When a server counts as degraded or down; set with
/// [`McpPoolBuilder::health`](super::McpPoolBuilder::health).
///
/// Degraded looks at the last `window` requests that reached a live
/// session (tool calls and listings): more than `error_rate` of them failed
/// (a timeout or the server's error answer), or their 95th percentile took
/// longer than `latency`, once at least `min_requests` were made. Down is
/// `down_after` failures in a row to start or keep a session (the process
/// would not start or exited, the handshake failed, the transport closed)
/// with no successful request between them.
///
/// ```
/// use std::time::Duration;
/// use integrations_mcp::client::HealthThresholds;
/// let thresholds = HealthThresholds::default()
///     .error_rate(0.2)
///     .latency(Duration::from_secs(2))
///     .down_after(5);
/// # let _ = thresholds;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthThresholds {
    /// Failed share of recent requests above which a server is degraded
    /// (default 0.5).
    pub error_rate: f64,
    /// 95th percentile latency of recent requests above which a server is
    /// degraded (default 10 s).
    pub latency: Duration,
    /// How many recent requests are looked at (default 20).
    pub window: usize,
    /// Requests needed before degraded is judged (default 5).
    pub min_requests: usize,
    /// Failures in a row to keep a session up before a server is down
    /// (default 3).
    pub down_after: u32,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            error_rate: 0.5,
            latency: Duration::from_secs(10),
            window: 20,
            min_requests: 5,
            down_after: 3,
        }
    }
}

impl HealthThresholds {
    /// Sets [`error_rate`](Self::error_rate) (clamped to 0..=1).
    #[must_use]
    pub fn error_rate(mut self, rate: f64) -> Self {
        self.error_rate = if rate.is_nan() {
            0.5
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// Sets [`latency`](Self::latency).
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets [`window`](Self::window) (at least 1) and
    /// [`min_requests`](Self::min_requests) (at most the window).
    #[must_use]
    pub fn window(mut self, window: usize, min_requests: usize) -> Self {
        self.window = window.max(1);
        self.min_requests = min_requests.clamp(1, self.window);
        self
    }

    /// Sets [`down_after`](Self::down_after) (at least 1).
    #[must_use]
    pub fn down_after(mut self, failures: u32) -> Self {
        self.down_after = failures.max(1);
        self
    }
}

/// How a tenant's server is doing: its state, why, and since when.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerHealth {
    /// The state.
    pub state: HealthState,
    /// Why it is not ok (the last error that decided it; never a secret).
    pub reason: Option<String>,
    /// When it entered this state (for a server never used, now).
    pub since: DateTime<Utc>,
}

/// What one request told about a server.
pub(super) enum Outcome<'a> {
    /// Answered, in this time.
    Answered(Duration),
    /// Failed.
    Failed(&'a Error),
    /// The tenant has just authorised (new tokens are sealed): no longer
    /// waiting for the user.
    #[cfg(feature = "http")]
    Authorized,
}

#[derive(Debug)]
pub(super) struct Tracker {
    health: ServerHealth,
    /// Recent requests on live sessions: (failed, latency).
    recent: VecDeque<(bool, Duration)>,
    /// Failures to keep a session up since the last answered request.
    failures_in_a_row: u32,
    last_failure: Option<String>,
    needs_reauth: Option<String>,
}

impl Tracker {
    fn new() -> Self {
        Self {
            health: ServerHealth {
                state: HealthState::Ok,
                reason: None,
                since: Utc::now(),
            },
            recent: VecDeque::new(),
            failures_in_a_row: 0,
            last_failure: None,
            needs_reauth: None,
        }
    }

    fn observe(&mut self, outcome: &Outcome<'_>, limits: &HealthThresholds) {
        match outcome {
            Outcome::Answered(latency) => {
                self.failures_in_a_row = 0;
                self.needs_reauth = None;
                self.push(false, *latency, limits);
            }
            Outcome::Failed(error) if error.needs_reauth() => {
                self.needs_reauth = Some(error.to_string());
            }
            Outcome::Failed(error) if keeps_no_session(error) => {
                self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
                self.last_failure = Some(error.to_string());
            }
            Outcome::Failed(error @ (Error::Timeout { .. } | Error::Server { .. })) => {
                self.last_failure = Some(error.to_string());
                self.push(true, Duration::ZERO, limits);
            }
            #[cfg(feature = "http")]
            Outcome::Authorized => self.needs_reauth = None,
            // The caller's doing (bad arguments, a denied tool, cancelled)
            // or the pool's (shut down): nothing about the server.
            Outcome::Failed(_) => {}
        }
    }

    fn push(&mut self, failed: bool, latency: Duration, limits: &HealthThresholds) {
        self.recent.push_back((failed, latency));
        while self.recent.len() > limits.window {
            self.recent.pop_front();
        }
    }

    /// The state the observations say, and why.
    fn judge(&self, limits: &HealthThresholds) -> (HealthState, Option<String>) {
        if self.failures_in_a_row >= limits.down_after {
            let last = self.last_failure.as_deref().unwrap_or("failed");
            return (
                HealthState::Down,
                Some(format!(
                    "{} failures in a row; last: {last}",
                    self.failures_in_a_row
                )),
            );
        }
        if let Some(reason) = &self.needs_reauth {
            return (HealthState::NeedsReauth, Some(reason.clone()));
        }
        if self.recent.len() >= limits.min_requests {
            let failed = self.recent.iter().filter(|(failed, _)| *failed).count();
            #[allow(clippy::cast_precision_loss)] // counts of at most `window`
            let rate = failed as f64 / self.recent.len() as f64;
            if rate > limits.error_rate {
                let last = self.last_failure.as_deref().unwrap_or("failed");
                return (
                    HealthState::Degraded,
                    Some(format!(
                        "{failed} of the last {} requests failed; last: {last}",
                        self.recent.len()
                    )),
                );
            }
            // The 95th percentile (nearest rank) of the answered requests
            // is over the limit when more than the top 5% of them are.
            let answered = self.recent.len() - failed;
            let over = self
                .recent
                .iter()
                .filter(|(failed, latency)| !failed && *latency > limits.latency)
                .count();
            if answered > 0 && over > answered - (answered * 95).div_ceil(100) {
                return (
                    HealthState::Degraded,
                    Some(format!(
                        "95th percentile latency over {:?} ({over} of the last {answered} answers)",
                        limits.latency
                    )),
                );
            }
        }
        (HealthState::Ok, None)
    }
}

/// Failures to start or keep a session (the transient errors but a
/// timeout): toward down, not degraded.
fn keeps_no_session(error: &Error) -> bool {
    error.is_transient() && !matches!(error, Error::Timeout { .. })
}

impl Inner {
    /// Records what a request to `key` saw; sends an event if the state
    /// changed.
    pub(super) fn observe(&self, key: &SessionKey, outcome: &Outcome<'_>) {
        let changed = {
            let mut health = lock(&self.health);
            let tracker = match health.get_mut(key) {
                Some(tracker) => tracker,
                None => health.entry(key.clone()).or_insert_with(Tracker::new),
            };
            tracker.observe(outcome, &self.thresholds);
            let (state, reason) = tracker.judge(&self.thresholds);
            let before = tracker.health.state;
            if state == before {
                if tracker.health.reason != reason {
                    tracker.health.reason = reason;
                }
                None
            } else {
                tracker.health = ServerHealth {
                    state,
                    reason: reason.clone(),
                    since: Utc::now(),
                };
                Some((before, state, reason))
            }
        };
        if let Some((from, to, reason)) = changed {
            tracing::info!(tenant = %key.tenant, server = %key.server, %from, %to, reason = reason.as_deref(), "MCP server health changed");
            self.emit(EventKind::HealthChanged {
                tenant: key.tenant.clone(),
                server: key.server.clone(),
                from,
                to,
                reason,
            });
        }
    }

    /// `key`'s health; ok for a key never used (nothing is recorded for it).
    pub(super) fn health_of(&self, key: &SessionKey) -> ServerHealth {
        lock(&self.health)
            .get(key)
            .map_or_else(|| Tracker::new().health, |tracker| tracker.health.clone())
    }

    /// Forgets the health of the keys `gone` says (closed by the host, or
    /// closed while ok), so the map holds live keys and troubled ones.
    pub(super) fn forget_health(&self, gone: impl Fn(&SessionKey, &ServerHealth) -> bool) {
        lock(&self.health).retain(|key, tracker| !gone(key, &tracker.health));
    }
}

pub(super) type HealthMap = HashMap<SessionKey, Tracker>;
