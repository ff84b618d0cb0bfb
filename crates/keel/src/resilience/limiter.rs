//! Client-side rate limiting with `governor` (GCRA).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// What a call does when the rate limiter has no permit for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnLimit {
    /// Wait for a permit, but fail with
    /// [`Error::RateLimited`](crate::Error::RateLimited) rather than wait
    /// more than `max_wait` in total within one call.
    Wait {
        /// The most one call waits for permits, over all its attempts.
        max_wait: Duration,
    },
    /// Fail at once with [`Error::RateLimited`](crate::Error::RateLimited).
    Fail,
}

/// A client-side rate limit: `requests` per `per`, with bursts of up to
/// `burst` requests. Every attempt (retries included) takes
/// [`RequestBuilder::weight`](crate::RequestBuilder::weight) permits.
/// Set it with
/// [`ResilienceBuilder::rate_limit`](super::ResilienceBuilder::rate_limit).
///
/// ```
/// use std::time::Duration;
/// use keel::resilience::{OnLimit, RateLimit};
/// // 100 requests a minute, bursts of 10, wait at most 30 s per call.
/// let limit = RateLimit::new(100, Duration::from_secs(60))
///     .burst(10)
///     .on_limit(OnLimit::Wait { max_wait: Duration::from_secs(30) });
/// # let _ = limit;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub(crate) requests: u32,
    pub(crate) per: Duration,
    pub(crate) burst: Option<u32>,
    pub(crate) on_limit: OnLimit,
}

impl RateLimit {
    /// `requests` per `per`; the burst defaults to 1 (evenly spaced
    /// requests), and a call waits up to 60 s for permits.
    pub fn new(requests: u32, per: Duration) -> Self {
        RateLimit {
            requests,
            per,
            burst: None,
            on_limit: OnLimit::Wait {
                max_wait: Duration::from_secs(60),
            },
        }
    }

    /// `requests` per second.
    pub fn per_second(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(1))
    }

    /// How many requests may go at once after a quiet period (at least 1).
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Wait for a permit or fail at once.
    pub fn on_limit(mut self, on_limit: OnLimit) -> Self {
        self.on_limit = on_limit;
        self
    }

    pub(crate) fn quota(&self) -> Result<Quota, String> {
        if self.requests == 0 {
            return Err("rate limit `requests` must be at least 1".into());
        }
        let period = self.per / self.requests;
        let burst = self.burst.unwrap_or(1);
        let burst = NonZeroU32::new(burst)
            .ok_or_else(|| "rate limit `burst` must be at least 1".to_owned())?;
        let quota = Quota::with_period(period).ok_or_else(|| {
            format!(
                "rate limit interval {:?} for {} requests is too short",
                self.per, self.requests
            )
        })?;
        Ok(quota.allow_burst(burst))
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        crate::validate::at_most_a_year("rate limit interval", self.per)?;
        if let OnLimit::Wait { max_wait } = self.on_limit {
            crate::validate::at_most_a_year("rate limit `max_wait`", max_wait)?;
        }
        self.quota().map(|_| ())
    }
}

/// Why rate-limit permits were not granted, as
/// [`StateStore::rate_limit_acquire`](super::StateStore::rate_limit_acquire)
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denied {
    /// Enough permits will be available after this long (more than zero).
    Wait(Duration),
    /// The weight exceeds the burst: it can never be granted.
    Never {
        /// The most permits the limit ever grants at once.
        burst: u32,
    },
}

/// The live limiter. Generic over governor's clock so tests can use a fake
/// one; the client uses the default (quanta, monotonic) clock.
pub(crate) struct Limiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    burst: u32,
}

impl<C: Clock> std::fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl Limiter<DefaultClock> {
    pub(crate) fn new(config: &RateLimit) -> Result<Self, String> {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limiter<C> {
    pub(crate) fn with_clock(config: &RateLimit, clock: C) -> Result<Self, String> {
        let quota = config.quota()?;
        Ok(Limiter {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            burst: quota.burst_size().get(),
        })
    }

    /// Takes `weight` permits now, or says why not. A weight of 0 is free.
    pub(crate) fn try_acquire(&self, weight: u32) -> Result<(), Denied> {
        let Some(n) = NonZeroU32::new(weight) else {
            return Ok(());
        };
        match self.limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Denied::Wait(
                not_until
                    .wait_time_from(self.clock.now())
                    .max(Duration::from_micros(1)),
            )),
            Err(_) => Err(Denied::Never { burst: self.burst }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn burst_then_evenly_spaced() {
        let clock = FakeRelativeClock::default();
        let l = Limiter::with_clock(&RateLimit::per_second(10).burst(3), clock.clone()).unwrap();
        for _ in 0..3 {
            assert_eq!(l.try_acquire(1), Ok(()));
        }
        assert_eq!(l.try_acquire(1), Err(Denied::Wait(ms(100))));
        clock.advance(ms(40));
        assert_eq!(l.try_acquire(1), Err(Denied::Wait(ms(60))));
        clock.advance(ms(60));
        assert_eq!(l.try_acquire(1), Ok(()));
        assert_eq!(l.try_acquire(1), Err(Denied::Wait(ms(100))));
    }

    #[test]
    fn weights_take_several_permits_and_oversized_weights_never_pass() {
        let clock = FakeRelativeClock::default();
        let l = Limiter::with_clock(&RateLimit::per_second(10).burst(5), clock.clone()).unwrap();
        assert_eq!(l.try_acquire(0), Ok(()));
        assert_eq!(l.try_acquire(4), Ok(()));
        assert_eq!(l.try_acquire(3), Err(Denied::Wait(ms(200))));
        assert_eq!(l.try_acquire(6), Err(Denied::Never { burst: 5 }));
        clock.advance(ms(200));
        assert_eq!(l.try_acquire(3), Ok(()));
    }

    #[test]
    fn holds_the_rate_over_a_long_run() {
        // 1000 permits at 50/s with a burst of 10 take (1000-10)/50 s of fake time.
        let clock = FakeRelativeClock::default();
        let l = Limiter::with_clock(&RateLimit::per_second(50).burst(10), clock.clone()).unwrap();
        let mut granted = 0;
        let mut elapsed = Duration::ZERO;
        for _ in 0..100_000 {
            if granted == 1000 {
                break;
            }
            match l.try_acquire(1) {
                Ok(()) => granted += 1,
                Err(Denied::Wait(d)) => {
                    clock.advance(d);
                    elapsed += d;
                }
                Err(Denied::Never { .. }) => unreachable!(),
            }
        }
        assert_eq!(granted, 1000);
        assert_eq!(elapsed, Duration::from_millis(990 * 20));
    }

    #[test]
    fn validation() {
        assert!(RateLimit::per_second(0).validate().is_err());
        assert!(RateLimit::per_second(5).burst(0).validate().is_err());
        assert!(RateLimit::new(5, Duration::ZERO).validate().is_err());
        assert!(RateLimit::new(100, Duration::from_secs(60))
            .burst(10)
            .validate()
            .is_ok());
    }
}
