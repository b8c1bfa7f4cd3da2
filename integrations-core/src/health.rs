//! Health metrics: response times and outcomes, with summaries.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::IntegrationId;

/// One observed call: how long it took and whether it worked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// When the call finished.
    pub at: DateTime<Utc>,
    /// How long it took.
    pub response_time: Duration,
    /// Why it failed; `None` for a success.
    pub error: Option<String>,
}

impl Sample {
    /// A successful call that took `response_time`.
    pub fn success(response_time: Duration) -> Self {
        Self {
            at: Utc::now(),
            response_time,
            error: None,
        }
    }

    /// A failed call.
    pub fn failure(response_time: Duration, error: impl Into<String>) -> Self {
        Self {
            at: Utc::now(),
            response_time,
            error: Some(error.into()),
        }
    }

    /// Whether the call succeeded.
    pub fn is_success(&self) -> bool {
        self.error.is_none()
    }
}

/// How a connection is doing, as a person looking at it would say.
///
/// Serialised in snake case: `"ok"`, `"degraded"`, `"needs_reauth"`,
/// `"down"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthState {
    /// Working.
    Ok,
    /// Working, but failing or slow more often than the host accepts.
    Degraded,
    /// Refused until the user authorises the connection again.
    NeedsReauth,
    /// Not working: it fails again and again, and retries are backing off.
    Down,
}

impl HealthState {
    /// How it is serialised, e.g. `needs_reauth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::NeedsReauth => "needs_reauth",
            Self::Down => "down",
        }
    }
}

impl std::fmt::Display for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A summary of the recent samples of one integration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthSummary {
    /// Samples in the window.
    pub count: usize,
    /// Successful samples in the window.
    pub successes: usize,
    /// `successes / count`, from 0.0 to 1.0.
    pub success_rate: f64,
    /// Median response time (nearest rank).
    pub p50: Duration,
    /// 95th percentile response time (nearest rank).
    pub p95: Duration,
    /// The most recent failure's message, if any sample in the window failed.
    pub last_error: Option<String>,
    /// When the most recent sample finished.
    pub last_at: DateTime<Utc>,
}

/// Recent samples per integration, in a window of fixed size.
///
/// ```
/// use std::time::Duration;
/// use integrations_core::IntegrationId;
/// use integrations_core::health::{HealthMetrics, Sample};
///
/// let health = HealthMetrics::new(100);
/// let id = IntegrationId::new("slack").unwrap();
/// health.record(&id, Sample::success(Duration::from_millis(20)));
/// health.record(&id, Sample::failure(Duration::from_millis(40), "timeout"));
/// let summary = health.summary("slack").unwrap();
/// assert_eq!(summary.count, 2);
/// assert_eq!(summary.success_rate, 0.5);
/// assert_eq!(summary.last_error.as_deref(), Some("timeout"));
/// ```
#[derive(Debug)]
pub struct HealthMetrics {
    window: usize,
    samples: Mutex<HashMap<IntegrationId, VecDeque<Sample>>>,
}

impl Default for HealthMetrics {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl HealthMetrics {
    /// Keeps the last `window` samples per integration (at least one).
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            samples: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a sample, dropping the oldest when the window is full.
    pub fn record(&self, integration: &IntegrationId, sample: Sample) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        match samples.get_mut(integration.as_str()) {
            Some(window) => {
                if window.len() == self.window {
                    window.pop_front();
                }
                window.push_back(sample);
            }
            None => {
                samples.insert(integration.clone(), VecDeque::from([sample]));
            }
        }
    }

    /// The summary for one integration; `None` before its first sample.
    pub fn summary(&self, integration: &str) -> Option<HealthSummary> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.get(integration).and_then(summarise)
    }

    /// The samples of one integration in its window, oldest first: a
    /// connection's health history as a page shows it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use integrations_core::IntegrationId;
    /// use integrations_core::health::{HealthMetrics, Sample};
    ///
    /// let health = HealthMetrics::new(2);
    /// let id = IntegrationId::new("slack").unwrap();
    /// for error in ["dropped", "timeout"] {
    ///     health.record(&id, Sample::failure(Duration::from_millis(40), error));
    /// }
    /// health.record(&id, Sample::success(Duration::from_millis(20)));
    /// let errors: Vec<_> = health.samples("slack").into_iter().map(|s| s.error).collect();
    /// assert_eq!(errors, [Some("timeout".to_string()), None]);
    /// assert!(health.samples("notion").is_empty());
    /// ```
    pub fn samples(&self, integration: &str) -> Vec<Sample> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples
            .get(integration)
            .map(|window| window.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Summaries for every integration with samples.
    pub fn summaries(&self) -> BTreeMap<IntegrationId, HealthSummary> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples
            .iter()
            .filter_map(|(id, window)| Some((id.clone(), summarise(window)?)))
            .collect()
    }
}

fn summarise(window: &VecDeque<Sample>) -> Option<HealthSummary> {
    let last = window.back()?;
    let mut times: Vec<Duration> = window.iter().map(|s| s.response_time).collect();
    times.sort_unstable();
    let successes = window.iter().filter(|s| s.is_success()).count();
    Some(HealthSummary {
        count: window.len(),
        successes,
        success_rate: successes as f64 / window.len() as f64,
        p50: nearest_rank(&times, 50),
        p95: nearest_rank(&times, 95),
        last_error: window.iter().rev().find_map(|s| s.error.clone()),
        last_at: last.at,
    })
}

/// The nearest-rank percentile of sorted, non-empty `times`.
fn nearest_rank(times: &[Duration], percent: usize) -> Duration {
    let rank = (percent * times.len()).div_ceil(100).max(1);
    times[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let health = HealthMetrics::new(1000);
        let id = IntegrationId::new("x").unwrap();
        for ms in (1..=100).rev() {
            health.record(&id, Sample::success(Duration::from_millis(ms)));
        }
        let summary = health.summary("x").unwrap();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50, Duration::from_millis(50));
        assert_eq!(summary.p95, Duration::from_millis(95));
        assert_eq!(summary.success_rate, 1.0);
        assert_eq!(summary.last_error, None);
    }

    #[test]
    fn the_window_keeps_the_latest_samples() {
        let health = HealthMetrics::new(3);
        let id = IntegrationId::new("x").unwrap();
        health.record(&id, Sample::failure(Duration::from_secs(9), "old"));
        for _ in 0..3 {
            health.record(&id, Sample::success(Duration::from_millis(1)));
        }
        let summary = health.summary("x").unwrap();
        assert_eq!((summary.count, summary.successes), (3, 3));
        assert_eq!(summary.p95, Duration::from_millis(1));
        assert_eq!(summary.last_error, None);
        assert!(health.summary("y").is_none());
        assert_eq!(health.summaries().len(), 1);
    }

    #[test]
    fn single_sample_percentiles() {
        assert_eq!(
            nearest_rank(&[Duration::from_millis(7)], 50),
            Duration::from_millis(7)
        );
        assert_eq!(
            nearest_rank(&[Duration::from_millis(7)], 95),
            Duration::from_millis(7)
        );
    }
}
