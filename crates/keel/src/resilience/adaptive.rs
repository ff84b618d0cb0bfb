//! The adaptive client-side rate: CUBIC, as the AWS SDKs' `adaptive` retry
//! mode does it. Pure code: time is an argument.
//!
//! Nothing is limited until the server throttles. On the first throttling
//! answer (429, a 503 with `Retry-After`, a preset's throttle status) a
//! token bucket starts at 70 % (β = 0.7) of the rate the client was
//! actually sending (measured in half-second buckets, smoothed 0.8); each
//! later success raises the rate along the CUBIC curve
//! `W(t) = C·(t − K)³ + W_max` (C = 0.4, `K = ∛(W_max·(1 − β)/C)`), so it
//! climbs back quickly at first, slowly near the rate that was throttled,
//! and probes beyond it after that; it is never more than twice the
//! measured sending rate, nor below 0.5 requests a second. Another throttle
//! multiplies the rate by β again.

use std::time::Duration;

use tokio::time::Instant;

const BETA: f64 = 0.7;
const SCALE: f64 = 0.4;
const SMOOTH: f64 = 0.8;
const MIN_FILL_RATE: f64 = 0.5;
const MIN_CAPACITY: f64 = 1.0;

/// The adaptive rate's state (one per client family).
#[derive(Debug, Clone)]
pub(crate) struct AdaptiveRate {
    origin: Instant,
    enabled: bool,
    fill_rate: f64,
    max_capacity: f64,
    capacity: f64,
    last_refill: f64,
    measured_rate: f64,
    last_bucket: f64,
    count: f64,
    last_max_rate: f64,
    last_throttle: f64,
    k: f64,
}

impl AdaptiveRate {
    pub(crate) fn new(now: Instant) -> Self {
        AdaptiveRate {
            origin: now,
            enabled: false,
            fill_rate: 0.0,
            max_capacity: 0.0,
            capacity: 0.0,
            last_refill: 0.0,
            measured_rate: 0.0,
            last_bucket: 0.0,
            count: 0.0,
            last_max_rate: 0.0,
            last_throttle: 0.0,
            k: 0.0,
        }
    }

    fn secs(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.origin).as_secs_f64()
    }

    /// The rate requests may go at now, in requests a second; `None` while
    /// the server has not throttled.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.enabled.then_some(self.fill_rate)
    }

    fn refill(&mut self, t: f64) {
        let add = (t - self.last_refill).max(0.0) * self.fill_rate;
        self.capacity = (self.capacity + add).min(self.max_capacity);
        self.last_refill = t;
    }

    /// `None`: send now (a token was taken). `Some(wait)`: ask again then.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<Duration> {
        if !self.enabled {
            return None;
        }
        let t = self.secs(now);
        self.refill(t);
        if self.capacity >= 1.0 {
            self.capacity -= 1.0;
            return None;
        }
        let wait = (1.0 - self.capacity) / self.fill_rate.max(MIN_FILL_RATE);
        Some(Duration::from_secs_f64(wait).max(Duration::from_micros(1)))
    }

    fn measure(&mut self, t: f64) {
        let bucket = (t * 2.0).floor() / 2.0;
        self.count += 1.0;
        if bucket > self.last_bucket {
            let current = self.count / (bucket - self.last_bucket);
            self.measured_rate = current * SMOOTH + self.measured_rate * (1.0 - SMOOTH);
            self.count = 0.0;
            self.last_bucket = bucket;
        }
    }

    fn window(&mut self) {
        self.k = (self.last_max_rate * (1.0 - BETA) / SCALE).cbrt();
    }

    /// Takes in an attempt's outcome at `now`: `throttled` when the server
    /// said "slow down".
    pub(crate) fn record(&mut self, now: Instant, throttled: bool) {
        let t = self.secs(now);
        self.measure(t);
        let calculated = if throttled {
            let base = if self.enabled {
                self.measured_rate.min(self.fill_rate)
            } else {
                self.measured_rate
            };
            self.last_max_rate = base;
            self.window();
            self.last_throttle = t;
            self.enabled = true;
            base * BETA
        } else {
            if !self.enabled {
                return;
            }
            self.window();
            let dt = t - self.last_throttle - self.k;
            SCALE * dt * dt * dt + self.last_max_rate
        };
        let new_rate = calculated.min(2.0 * self.measured_rate);
        self.refill(t);
        self.fill_rate = new_rate.max(MIN_FILL_RATE);
        self.max_capacity = new_rate.max(MIN_CAPACITY);
        self.capacity = self.capacity.min(self.max_capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends at `rate` per second for `secs` seconds of fake time, as far as
    /// the limiter admits, with `throttle(t)` deciding each outcome; returns
    /// the requests sent.
    fn drive(
        a: &mut AdaptiveRate,
        t0: Instant,
        from: f64,
        secs: f64,
        rate: f64,
        mut throttle: impl FnMut(f64) -> bool,
    ) -> u32 {
        let mut sent = 0;
        for i in 0..(secs * rate).round() as u32 {
            let t = from + f64::from(i) / rate;
            let now = t0 + Duration::from_secs_f64(t);
            if a.admit(now).is_none() {
                a.record(now, throttle(t));
                sent += 1;
            }
        }
        sent
    }

    #[test]
    fn nothing_is_limited_until_the_server_throttles() {
        let t0 = Instant::now();
        let mut a = AdaptiveRate::new(t0);
        assert_eq!(drive(&mut a, t0, 0.0, 5.0, 100.0, |_| false), 500);
        assert_eq!(a.rate(), None);
    }

    #[test]
    fn a_throttle_cuts_the_rate_and_successes_bring_it_back() {
        let t0 = Instant::now();
        let mut a = AdaptiveRate::new(t0);
        drive(&mut a, t0, 0.0, 5.0, 100.0, |_| false);
        // One throttle at 5 s: the rate drops to about 0.7 × 100.
        let now = t0 + Duration::from_secs(5);
        a.record(now, true);
        let cut = a.rate().expect("enabled");
        assert!((60.0..=75.0).contains(&cut), "{cut}");
        // A second throttle soon after cuts again.
        a.record(now + Duration::from_millis(10), true);
        let cut2 = a.rate().unwrap();
        assert!(cut2 < cut, "{cut2} < {cut}");
        // Successes (as fast as allowed, offered at 200/s) raise it again.
        drive(&mut a, t0, 5.1, 10.0, 200.0, |_| false);
        let back = a.rate().unwrap();
        assert!(back > cut, "{back} should be above {cut}");
    }

    #[test]
    fn a_server_that_admits_40_a_second_holds_the_client_near_it() {
        // The server answers 40 requests per one-second window and throttles
        // the rest; the caller offers 200/s.
        let t0 = Instant::now();
        let mut a = AdaptiveRate::new(t0);
        let mut window = (0u64, 0u32);
        let mut server = move |t: f64| {
            let w = t.floor() as u64;
            if window.0 != w {
                window = (w, 0);
            }
            window.1 += 1;
            window.1 > 40
        };
        drive(&mut a, t0, 0.0, 30.0, 200.0, &mut server);
        let (mut sent, mut throttled) = (0, 0);
        for s in 30..40 {
            sent += drive(&mut a, t0, f64::from(s), 1.0, 200.0, |t| {
                let over = server(t);
                throttled += u32::from(over);
                over
            });
        }
        // At least half of what the server accepts (400), never a flood, and
        // under one request in ten throttled (measured: 248 sent, 3
        // throttled: each throttle cuts by β, and the cubic climb back to
        // the throttled rate takes K = ∛(40 · 0.3 / 0.4) ≈ 3.1 s).
        assert!((200..=450).contains(&sent), "{sent} sent in 10 s");
        assert!(throttled * 10 < sent, "{throttled} of {sent} throttled");
    }

    #[test]
    fn waits_are_finite_and_positive() {
        let t0 = Instant::now();
        let mut a = AdaptiveRate::new(t0);
        a.record(t0, true); // throttled before any measurement: minimum rate
        assert_eq!(a.rate(), Some(MIN_FILL_RATE));
        let mut waited = None;
        for _ in 0..3 {
            if let Some(w) = a.admit(t0) {
                waited = Some(w);
            }
        }
        let w = waited.expect("the bucket runs dry");
        assert!(w > Duration::ZERO && w <= Duration::from_secs(2), "{w:?}");
    }
}
