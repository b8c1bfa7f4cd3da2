//! [`RetryPolicy`] and `Retry-After`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};

/// When and how often a request is sent again: on 429, 5xx and connection
/// errors, with exponential backoff and jitter (from `backon`), never
/// sooner than the vendor's `Retry-After`, within a total wait budget.
///
/// A request that changes something (POST, PATCH) is sent again only where
/// the vendor cannot have acted on it (a 429, a connection that never
/// opened) unless it carries an idempotency key.
///
/// ```
/// use std::time::Duration;
/// use integrations_vendor::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(4)
///     .budget(Duration::from_secs(20));
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) min_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) budget: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff from 250 ms up to 30 s, 60 s of waiting at most.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn never() -> Self {
        Self::default().max_attempts(1)
    }

    /// How many requests at most (the first one included); at least 1.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first pause; later ones double, with jitter.
    #[must_use]
    pub fn min_delay(mut self, delay: Duration) -> Self {
        self.min_delay = delay;
        self
    }

    /// The longest pause the backoff chooses (a `Retry-After` may ask for
    /// more, within the budget).
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The most time spent waiting between attempts, all told. A wait that
    /// would go past it (say, a `Retry-After: 3600`) ends the retries with a
    /// typed error instead.
    #[must_use]
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The backoff pauses, one per retry.
    pub(crate) fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }
}

/// The longest `Retry-After` read from a vendor: a day. A longer one (or
/// `18446744073709551615`) is read as this, so no wait computed from it
/// overflows, and an export is not parked for centuries.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A `Retry-After` value: delay-seconds, or an HTTP date (as seen from
/// `now`), at most [`MAX_RETRY_AFTER`]. `None` when it is neither, so the
/// backoff decides.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let after = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") reads as RFC 2822.
        let at = DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(after.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates_and_refuses_the_rest() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 11:59:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        for malformed in [
            "",
            "-1",
            "1.5",
            "soon",
            "Tuesday noon",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_retry_after(malformed, now), None, "{malformed:?}");
        }
    }

    #[test]
    fn the_backoff_grows_and_stops_at_the_attempts() {
        let policy = RetryPolicy::default()
            .max_attempts(4)
            .min_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(1));
        let pauses: Vec<Duration> = policy.backoff().collect();
        assert_eq!(pauses.len(), 3, "three retries after the first attempt");
        assert!(
            pauses.iter().all(|p| *p <= Duration::from_secs(2)),
            "{pauses:?}"
        );
        assert!(pauses[2] >= Duration::from_millis(400), "{pauses:?}");
        assert!(RetryPolicy::never().backoff().next().is_none());
    }
}
