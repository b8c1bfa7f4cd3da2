//! The client-side rate limit: governor, on tokio's clock.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// A client-side rate limiter that keeps tokio's time.
pub(crate) type Limiter =
    RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// governor's clock on tokio's time, so the limiter and the waits agree
/// (and tests on tokio's paused clock see the limit).
#[derive(Debug, Clone)]
pub(crate) struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// Waits until the rate limiter lets one request through.
pub(crate) async fn wait_for(limiter: &Limiter) {
    let clock = limiter.clock().clone();
    while let Err(not_until) = limiter.check() {
        tokio::time::sleep(not_until.wait_time_from(clock.now())).await;
    }
}

/// At most `per_second` requests a second, a burst of as many included.
pub(crate) fn limiter(per_second: NonZeroU32) -> Limiter {
    RateLimiter::direct_with_clock(Quota::per_second(per_second), TokioClock::new())
}
