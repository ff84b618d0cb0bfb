//! Hedged requests: when an idempotent request is slow to answer, a second
//! copy is sent; the first answer wins and the other is cancelled.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// When a hedged request sends its second copy (opt in with
/// [`ResilienceBuilder::hedge`](super::ResilienceBuilder::hedge)).
///
/// Only idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, TRACE, or any
/// request with an `Idempotency-Key`) with a byte body are hedged, and only
/// their first hop. The second copy is admitted like an attempt: it takes
/// rate-limit permits (it is not sent when none are available now) and a
/// retry's cost from the retry budget (it is not sent when the budget is
/// empty). The first answer wins — a response, or, when both fail, the
/// later failure — and the other copy is cancelled (its connection is
/// dropped). A request signed with a nonce from a store (such as
/// `StoreNonceSource`) is not hedged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hedge {
    pub(crate) delay: HedgeDelay,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum HedgeDelay {
    Fixed(Duration),
    /// The observed quantile of this client family's recent exchanges, at
    /// least `floor`; no hedge until `MIN_SAMPLES` were observed.
    Quantile {
        q: f64,
        floor: Duration,
    },
}

/// How many recent exchange durations the observed latency is taken from.
const WINDOW: usize = 128;
/// How many the quantile needs before it is trusted.
const MIN_SAMPLES: usize = 20;

impl Hedge {
    /// The second copy goes when the first has not answered after `delay`.
    pub fn after(delay: Duration) -> Self {
        Hedge {
            delay: HedgeDelay::Fixed(delay),
        }
    }

    /// The second copy goes when the first has taken longer than the 95th
    /// percentile of the family's last 128 exchanges (at least 1 ms); until
    /// 20 exchanges were observed, nothing is hedged.
    pub fn at_p95() -> Self {
        Hedge {
            delay: HedgeDelay::Quantile {
                q: 0.95,
                floor: Duration::from_millis(1),
            },
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        match self.delay {
            HedgeDelay::Fixed(d) if d.is_zero() => {
                Err("the hedge delay must be longer than zero".into())
            }
            HedgeDelay::Fixed(d) => crate::validate::at_most_a_year("the hedge delay", d),
            HedgeDelay::Quantile { .. } => Ok(()),
        }
    }
}

/// The recent exchange durations of a family (kept only when hedging by a
/// quantile).
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    micros: Vec<u32>,
    next: usize,
}

impl Latencies {
    pub(crate) fn observe(&self, d: Duration) {
        let us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        let mut r = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if r.micros.len() < WINDOW {
            r.micros.push(us);
        } else {
            let i = r.next;
            r.micros[i] = us;
        }
        r.next = (r.next + 1) % WINDOW;
    }

    /// The `q` quantile of the recent durations, once there are enough.
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        let mut v = {
            let r = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            if r.micros.len() < MIN_SAMPLES {
                return None;
            }
            r.micros.clone()
        };
        let i = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        let (_, x, _) = v.select_nth_unstable(i);
        Some(Duration::from_micros(u64::from(*x)))
    }
}

impl HedgeDelay {
    /// The delay for the next hedged request, if it is hedged.
    pub(crate) fn now(&self, latencies: &Latencies) -> Option<Duration> {
        match *self {
            HedgeDelay::Fixed(d) => Some(d),
            HedgeDelay::Quantile { q, floor } => latencies.quantile(q).map(|d| d.max(floor)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_needs_samples_and_follows_the_recent_ones() {
        let l = Latencies::default();
        for ms in 1..20 {
            l.observe(Duration::from_millis(ms));
        }
        assert_eq!(l.quantile(0.95), None);
        l.observe(Duration::from_millis(20));
        assert_eq!(l.quantile(0.95), Some(Duration::from_millis(19)));
        // The window keeps the last 128: slow recent exchanges move it up.
        for _ in 0..WINDOW {
            l.observe(Duration::from_millis(100));
        }
        assert_eq!(l.quantile(0.95), Some(Duration::from_millis(100)));
        assert_eq!(
            Hedge::at_p95().delay.now(&l),
            Some(Duration::from_millis(100))
        );
        assert!(Hedge::after(Duration::ZERO).validate().is_err());
    }
}
