//! The circuit breaker: closed / open / half-open, per origin.
//!
//! The state machine is plain code over an explicit `now`; its lock is held
//! only for a few arithmetic operations, never across I/O, so concurrent
//! requests are not serialized.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How a circuit breaker trips and recovers. Set it with
/// [`ResilienceBuilder::circuit_breaker`](super::ResilienceBuilder::circuit_breaker).
///
/// The breaker trips (opens) on `consecutive_failures` failed attempts in a
/// row, or when, over the last `window`, at least `min_throughput` attempts
/// were made and the share that failed reached `failure_ratio` — whichever
/// comes first. While open, calls fail at once with
/// [`Error::CircuitOpen`](crate::Error::CircuitOpen). After `open_for`, it
/// lets `half_open_probes` attempts through: if they all succeed it closes,
/// and the first failure opens it again.
///
/// A failure is a connect error, a timeout, a broken connection, or a
/// retryable status other than 429 and 425 (those say "slow down", not
/// "unwell").
///
/// ```
/// use std::time::Duration;
/// let breaker = keel::resilience::CircuitBreaker::new()
///     .consecutive_failures(5)
///     .failure_ratio(0.5, Duration::from_secs(30), 20)
///     .open_for(Duration::from_secs(5))
///     .half_open_probes(1);
/// # let _ = breaker;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreaker {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_ratio: Option<(f64, Duration, u32)>,
    pub(crate) open_for: Duration,
    pub(crate) half_open_probes: u32,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new()
    }
}

impl CircuitBreaker {
    /// The standard breaker: trips on 10 consecutive failures or on a 50 %
    /// failure ratio over 30 s with at least 20 attempts; stays open 5 s;
    /// one probe.
    pub fn new() -> Self {
        CircuitBreaker {
            consecutive_failures: Some(10),
            failure_ratio: Some((0.5, Duration::from_secs(30), 20)),
            open_for: Duration::from_secs(5),
            half_open_probes: 1,
        }
    }

    /// Trip on this many failed attempts in a row (at least 1).
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = Some(n);
        self
    }

    /// Do not trip on consecutive failures (only on the failure ratio).
    pub fn no_consecutive_failures(mut self) -> Self {
        self.consecutive_failures = None;
        self
    }

    /// Trip when, over the sliding `window`, at least `min_throughput`
    /// attempts were made and the share that failed is at least `ratio`
    /// (in `(0, 1]`).
    pub fn failure_ratio(mut self, ratio: f64, window: Duration, min_throughput: u32) -> Self {
        self.failure_ratio = Some((ratio, window, min_throughput));
        self
    }

    /// Do not trip on a failure ratio (only on consecutive failures).
    pub fn no_failure_ratio(mut self) -> Self {
        self.failure_ratio = None;
        self
    }

    /// How long the breaker stays open before letting probes through.
    pub fn open_for(mut self, d: Duration) -> Self {
        self.open_for = d;
        self
    }

    /// How many attempts half-open lets through (and must succeed to close).
    pub fn half_open_probes(mut self, n: u32) -> Self {
        self.half_open_probes = n;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.consecutive_failures.is_none() && self.failure_ratio.is_none() {
            return Err("the circuit breaker needs a way to trip: set `consecutive_failures` or `failure_ratio` (or remove the breaker with `no_circuit_breaker()`)".into());
        }
        if self.consecutive_failures == Some(0) {
            return Err("circuit breaker `consecutive_failures` must be at least 1".into());
        }
        if let Some((ratio, window, min)) = self.failure_ratio {
            if !(ratio > 0.0 && ratio <= 1.0) {
                return Err(format!(
                    "circuit breaker `failure_ratio` must be in (0, 1], got {ratio}"
                ));
            }
            if window < Duration::from_millis(100) {
                return Err(format!(
                    "circuit breaker window must be at least 100 ms, got {window:?}"
                ));
            }
            if min == 0 {
                return Err("circuit breaker `min_throughput` must be at least 1".into());
            }
        }
        crate::validate::at_most_a_year("circuit breaker `open_for`", self.open_for)?;
        if let Some((_, window, _)) = self.failure_ratio {
            crate::validate::at_most_a_year("circuit breaker window", window)?;
        }
        if self.open_for.is_zero() {
            return Err("circuit breaker `open_for` must be longer than zero".into());
        }
        if self.half_open_probes == 0 {
            return Err("circuit breaker `half_open_probes` must be at least 1".into());
        }
        Ok(())
    }
}

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Attempts go through; outcomes are counted.
    Closed,
    /// Attempts fail fast.
    Open,
    /// A limited number of probe attempts go through.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

/// A breaker's state change, `(from, to)`, as a
/// [`StateStore`](super::StateStore) reports it so the client can emit
/// [`ResilienceEvent::BreakerTransition`](super::ResilienceEvent::BreakerTransition).
pub type Transition = (BreakerState, BreakerState);

/// How a breaker admitted an attempt, so the attempt's outcome is counted in
/// the right phase: [`StateStore::breaker_acquire`](super::StateStore::breaker_acquire)
/// hands it out and [`StateStore::breaker_record`](super::StateStore::breaker_record)
/// takes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permit {
    /// Admitted while the breaker was closed.
    Normal,
    /// Admitted as one of the half-open breaker's probes.
    Probe,
}

const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    epoch: u64,
    successes: u32,
    failures: u32,
}

/// Outcome counts over a sliding time window, in `BUCKETS` slices.
#[derive(Debug)]
struct Window {
    origin: Instant,
    slice: Duration,
    buckets: [Bucket; BUCKETS],
}

impl Window {
    fn new(origin: Instant, window: Duration) -> Self {
        Window {
            origin,
            slice: (window / BUCKETS as u32).max(Duration::from_millis(1)),
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin);
        // +1 so that epoch 0 marks an unused bucket.
        (since.as_nanos() / self.slice.as_nanos().max(1)) as u64 + 1
    }

    fn record(&mut self, now: Instant, failure: bool) {
        let epoch = self.epoch(now);
        let b = &mut self.buckets[(epoch % BUCKETS as u64) as usize];
        if b.epoch != epoch {
            *b = Bucket {
                epoch,
                ..Bucket::default()
            };
        }
        if failure {
            b.failures = b.failures.saturating_add(1);
        } else {
            b.successes = b.successes.saturating_add(1);
        }
    }

    /// (attempts, failures) over the window ending at `now`.
    fn totals(&self, now: Instant) -> (u32, u32) {
        let epoch = self.epoch(now);
        let oldest = epoch.saturating_sub(BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| b.epoch != 0 && b.epoch >= oldest && b.epoch <= epoch)
            .fold((0u32, 0u32), |(n, f), b| {
                (
                    n.saturating_add(b.successes).saturating_add(b.failures),
                    f.saturating_add(b.failures),
                )
            })
    }

    fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        in_flight: u32,
        successes: u32,
        since: Instant,
    },
}

impl Phase {
    fn state(&self) -> BreakerState {
        match self {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    consecutive: u32,
    window: Option<Window>,
}

/// One origin's breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: CircuitBreaker,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub(crate) fn new(config: CircuitBreaker, now: Instant) -> Self {
        let window = config.failure_ratio.map(|(_, w, _)| Window::new(now, w));
        Breaker {
            config,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                consecutive: 0,
                window,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current state (moving open to half-open is left to `acquire`).
    pub(crate) fn state(&self) -> BreakerState {
        self.lock().phase.state()
    }

    /// How long the breaker will still refuse attempts, without taking a
    /// probe slot: `None` when an attempt may be tried now.
    pub(crate) fn refusing(&self, now: Instant) -> Option<Duration> {
        match self.lock().phase {
            Phase::Open { until } if now < until => Some(until - now),
            _ => None,
        }
    }

    /// Admits an attempt, or says how long until it may be tried.
    pub(crate) fn acquire(&self, now: Instant) -> (Result<Permit, Duration>, Option<Transition>) {
        let probes = self.config.half_open_probes;
        let open_for = self.config.open_for;
        let mut g = self.lock();
        match &mut g.phase {
            Phase::Closed => (Ok(Permit::Normal), None),
            Phase::Open { until } => {
                if now < *until {
                    (Err(*until - now), None)
                } else {
                    g.phase = Phase::HalfOpen {
                        in_flight: 1,
                        successes: 0,
                        since: now,
                    };
                    (
                        Ok(Permit::Probe),
                        Some((BreakerState::Open, BreakerState::HalfOpen)),
                    )
                }
            }
            Phase::HalfOpen {
                in_flight,
                successes,
                since,
            } => {
                if *in_flight + *successes < probes {
                    *in_flight += 1;
                    (Ok(Permit::Probe), None)
                } else if now.saturating_duration_since(*since) >= open_for {
                    // The probes never reported (their calls were dropped):
                    // start a fresh round rather than stay half-open forever.
                    *in_flight = 1;
                    *successes = 0;
                    *since = now;
                    (Ok(Permit::Probe), None)
                } else {
                    (
                        Err(open_for.saturating_sub(now.saturating_duration_since(*since))),
                        None,
                    )
                }
            }
        }
    }

    /// Records the outcome of an attempt admitted with `permit`.
    pub(crate) fn record(&self, now: Instant, permit: Permit, failure: bool) -> Option<Transition> {
        let cfg = &self.config;
        let mut g = self.lock();
        let inner = &mut *g;
        match &mut inner.phase {
            Phase::Open { .. } => None,
            Phase::HalfOpen {
                in_flight,
                successes,
                ..
            } => {
                if permit != Permit::Probe {
                    // A late outcome of an attempt admitted before the trip.
                    return None;
                }
                if failure {
                    inner.phase = Phase::Open {
                        until: now + cfg.open_for,
                    };
                    return Some((BreakerState::HalfOpen, BreakerState::Open));
                }
                *in_flight = in_flight.saturating_sub(1);
                *successes += 1;
                if *successes >= cfg.half_open_probes {
                    inner.phase = Phase::Closed;
                    inner.consecutive = 0;
                    if let Some(w) = &mut inner.window {
                        w.clear();
                    }
                    return Some((BreakerState::HalfOpen, BreakerState::Closed));
                }
                None
            }
            Phase::Closed => {
                inner.consecutive = if failure {
                    inner.consecutive.saturating_add(1)
                } else {
                    0
                };
                let mut trip = cfg
                    .consecutive_failures
                    .is_some_and(|n| inner.consecutive >= n);
                if let (Some(w), Some((ratio, _, min))) = (&mut inner.window, cfg.failure_ratio) {
                    w.record(now, failure);
                    let (n, f) = w.totals(now);
                    if failure && n >= min && f64::from(f) >= ratio * f64::from(n) {
                        trip = true;
                    }
                }
                if trip {
                    inner.phase = Phase::Open {
                        until: now + cfg.open_for,
                    };
                    inner.consecutive = 0;
                    if let Some(w) = &mut inner.window {
                        w.clear();
                    }
                    return Some((BreakerState::Closed, BreakerState::Open));
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn consecutive(n: u32) -> CircuitBreaker {
        CircuitBreaker::new()
            .consecutive_failures(n)
            .no_failure_ratio()
            .open_for(ms(1000))
            .half_open_probes(2)
    }

    #[test]
    fn trips_on_consecutive_failures_and_a_success_resets_the_count() {
        let t0 = Instant::now();
        let b = Breaker::new(consecutive(3), t0);
        assert_eq!(b.record(t0, Permit::Normal, true), None);
        assert_eq!(b.record(t0, Permit::Normal, true), None);
        assert_eq!(b.record(t0, Permit::Normal, false), None);
        assert_eq!(b.record(t0, Permit::Normal, true), None);
        assert_eq!(b.record(t0, Permit::Normal, true), None);
        assert_eq!(
            b.record(t0, Permit::Normal, true),
            Some((BreakerState::Closed, BreakerState::Open))
        );
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn open_fails_fast_then_half_opens_with_limited_probes_then_closes() {
        let t0 = Instant::now();
        let b = Breaker::new(consecutive(1), t0);
        b.record(t0, Permit::Normal, true);
        let (r, t) = b.acquire(t0 + ms(400));
        assert_eq!(r, Err(ms(600)));
        assert_eq!(t, None);
        assert_eq!(b.refusing(t0 + ms(400)), Some(ms(600)));
        assert_eq!(b.refusing(t0 + ms(1000)), None);

        let t1 = t0 + ms(1000);
        let (r, t) = b.acquire(t1);
        assert_eq!(r, Ok(Permit::Probe));
        assert_eq!(t, Some((BreakerState::Open, BreakerState::HalfOpen)));
        assert_eq!(b.acquire(t1).0, Ok(Permit::Probe));
        // Two probes in flight: a third waits.
        assert!(b.acquire(t1).0.is_err());
        // A late outcome from before the trip is ignored.
        assert_eq!(b.record(t1, Permit::Normal, true), None);
        assert_eq!(b.record(t1, Permit::Probe, false), None);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(
            b.record(t1, Permit::Probe, false),
            Some((BreakerState::HalfOpen, BreakerState::Closed))
        );
        assert_eq!(b.acquire(t1).0, Ok(Permit::Normal));
    }

    #[test]
    fn a_failed_probe_reopens() {
        let t0 = Instant::now();
        let b = Breaker::new(consecutive(1), t0);
        b.record(t0, Permit::Normal, true);
        let t1 = t0 + ms(1000);
        assert_eq!(b.acquire(t1).0, Ok(Permit::Probe));
        assert_eq!(
            b.record(t1, Permit::Probe, true),
            Some((BreakerState::HalfOpen, BreakerState::Open))
        );
        assert_eq!(b.acquire(t1 + ms(10)).0, Err(ms(990)));
    }

    #[test]
    fn lost_probes_do_not_keep_it_half_open_forever() {
        let t0 = Instant::now();
        let b = Breaker::new(consecutive(1), t0);
        b.record(t0, Permit::Normal, true);
        let t1 = t0 + ms(1000);
        assert!(b.acquire(t1).0.is_ok());
        assert!(b.acquire(t1).0.is_ok());
        assert!(b.acquire(t1 + ms(500)).0.is_err());
        // The probes' calls were dropped; after open_for a new round starts.
        assert_eq!(b.acquire(t1 + ms(1000)).0, Ok(Permit::Probe));
    }

    #[test]
    fn trips_on_failure_ratio_only_with_enough_throughput() {
        let t0 = Instant::now();
        let cfg = CircuitBreaker::new()
            .no_consecutive_failures()
            .failure_ratio(0.5, Duration::from_secs(10), 10)
            .open_for(ms(1000));
        let b = Breaker::new(cfg, t0);
        // 4 failures, 5 successes interleaved: 9 attempts < 10.
        for i in 0..9 {
            assert_eq!(b.record(t0, Permit::Normal, i % 2 == 1), None);
        }
        // The 10th attempt fails: 5 of 10 failed -> trip.
        assert_eq!(
            b.record(t0 + ms(10), Permit::Normal, true),
            Some((BreakerState::Closed, BreakerState::Open))
        );
    }

    #[test]
    fn old_outcomes_slide_out_of_the_window() {
        let t0 = Instant::now();
        let cfg = CircuitBreaker::new()
            .no_consecutive_failures()
            .failure_ratio(0.5, Duration::from_secs(10), 4);
        let b = Breaker::new(cfg, t0);
        for _ in 0..3 {
            b.record(t0, Permit::Normal, true);
        }
        // 20 s later the three failures are gone: one more failure is 1 of 1,
        // below the throughput needed.
        assert_eq!(
            b.record(t0 + Duration::from_secs(20), Permit::Normal, true),
            None
        );
        assert_eq!(b.state(), BreakerState::Closed);
        // Within the window, successes keep the ratio below one half.
        let t2 = t0 + Duration::from_secs(21);
        for _ in 0..3 {
            assert_eq!(b.record(t2, Permit::Normal, false), None);
        }
        assert_eq!(b.record(t2, Permit::Normal, true), None); // 2 of 5
        assert_eq!(
            b.record(t2, Permit::Normal, true), // 3 of 6
            Some((BreakerState::Closed, BreakerState::Open))
        );
    }

    #[test]
    fn validation_rejects_bad_values() {
        assert!(CircuitBreaker::new().validate().is_ok());
        assert!(CircuitBreaker::new()
            .consecutive_failures(0)
            .validate()
            .is_err());
        assert!(CircuitBreaker::new()
            .no_consecutive_failures()
            .no_failure_ratio()
            .validate()
            .is_err());
        assert!(CircuitBreaker::new()
            .failure_ratio(1.5, Duration::from_secs(1), 1)
            .validate()
            .is_err());
        assert!(CircuitBreaker::new()
            .failure_ratio(f64::NAN, Duration::from_secs(1), 1)
            .validate()
            .is_err());
        assert!(CircuitBreaker::new()
            .failure_ratio(0.5, Duration::from_millis(1), 1)
            .validate()
            .is_err());
        assert!(CircuitBreaker::new()
            .open_for(Duration::ZERO)
            .validate()
            .is_err());
        assert!(CircuitBreaker::new()
            .half_open_probes(0)
            .validate()
            .is_err());
    }
}
