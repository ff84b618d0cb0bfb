//! Pure retry decisions: backoff, `Retry-After`, outcome classification.
//!
//! Nothing here reads a clock or draws a random number by itself: the time
//! and the random draw are arguments, so every function is deterministic and
//! tested without a network.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::StatusCode;

use crate::error::Error;

/// How the wait before a retry is randomized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// Wait a uniformly random time between zero and the exponential
    /// ceiling ("full jitter", the AWS SDKs' choice): retries of many
    /// clients spread out best.
    #[default]
    Full,
    /// Wait half the ceiling plus a random share of the other half: never
    /// retries almost at once, at the price of a little more clustering.
    Equal,
    /// Wait exactly the ceiling (deterministic; for tests and for servers
    /// with one client).
    None,
}

/// Exponential backoff: the ceiling for retry `k` (1 for the first retry) is
/// `min(cap, base * 2^(k-1))`, randomized by the [`Jitter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's wait.
    pub base: Duration,
    /// The largest wait, whatever the retry number.
    pub cap: Duration,
    /// How the wait is randomized under its ceiling.
    pub jitter: Jitter,
}

impl Backoff {
    /// Exponential backoff from `base` up to `cap`, with full jitter.
    pub fn exponential(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            jitter: Jitter::Full,
        }
    }

    /// The same backoff with another jitter.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The ceiling of retry `retry` (1-based): `min(cap, base * 2^(retry-1))`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << shift)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The wait before retry `retry` (1-based), given a uniform random draw
    /// `unit` in `[0, 1)` (values outside are clamped).
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(retry);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => ceiling.mul_f64(unit),
            Jitter::Equal => {
                let half = ceiling / 2;
                half + (ceiling - half).mul_f64(unit)
            }
        }
    }
}

/// Parses a `Retry-After` value: delta-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), relative to `now`. A date in the
/// past means "retry now" (zero). Anything else is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Huge numbers saturate rather than fail: they mean "much later".
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why an attempt is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// The server answered with a retryable status.
    Status(StatusCode),
    /// The connection could not be made (nothing was sent).
    Connect,
    /// The attempt timed out.
    Timeout,
    /// The connection failed after it was made (reset, closed early).
    Transport {
        /// Whether the request may have reached the server.
        maybe_sent: bool,
    },
    /// The API's own "too many requests" answer in the body of a response
    /// whose status says nothing of it (Bybit's `retCode` 10006 with HTTP
    /// 200, Kraken's `EAPI:Rate limit exceeded`): the status it came with.
    Throttled(StatusCode),
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryReason::Status(s) => write!(f, "status {s}"),
            RetryReason::Connect => f.write_str("connect error"),
            RetryReason::Timeout => f.write_str("timeout"),
            RetryReason::Transport { .. } => f.write_str("connection failed"),
            RetryReason::Throttled(s) => write!(f, "throttled by the API (status {s})"),
        }
    }
}

impl RetryReason {
    /// Whether re-sending is safe whatever the method: the request never
    /// reached the server.
    pub(crate) fn never_sent(&self) -> bool {
        matches!(
            self,
            RetryReason::Connect | RetryReason::Transport { maybe_sent: false }
        )
    }

    /// Whether this outcome says the server (or the path to it) is unwell,
    /// for the circuit breaker. A throttling answer (429, 425) is not: the
    /// server is healthy and asks us to slow down.
    pub(crate) fn is_failure(&self) -> bool {
        !matches!(
            self,
            RetryReason::Status(s) if *s == StatusCode::TOO_MANY_REQUESTS || s.as_u16() == 425
        ) && !matches!(self, RetryReason::Throttled(_))
    }
}

/// The class of an attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// A response that is not retryable (success, or a 4xx the caller must
    /// handle): final, and a sign of a healthy server.
    Final,
    /// Worth retrying.
    Retryable(RetryReason),
    /// An error no retry can fix (bad request, decode, signing).
    Fatal,
}

/// Classifies a status against the retryable statuses.
pub(crate) fn classify_status(status: StatusCode, retry_statuses: &[u16]) -> Class {
    if retry_statuses.contains(&status.as_u16()) {
        Class::Retryable(RetryReason::Status(status))
    } else {
        Class::Final
    }
}

/// Classifies an error of one attempt.
pub(crate) fn classify_error(error: &Error) -> Class {
    match error {
        Error::Connect { kind, .. } if kind.is_retryable() => {
            Class::Retryable(RetryReason::Connect)
        }
        Error::Timeout { .. } => Class::Retryable(RetryReason::Timeout),
        Error::Transport { maybe_sent, .. } => Class::Retryable(RetryReason::Transport {
            maybe_sent: *maybe_sent,
        }),
        _ => Class::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let b = Backoff::exponential(ms(100), ms(1000));
        assert_eq!(b.ceiling(1), ms(100));
        assert_eq!(b.ceiling(2), ms(200));
        assert_eq!(b.ceiling(3), ms(400));
        assert_eq!(b.ceiling(4), ms(800));
        assert_eq!(b.ceiling(5), ms(1000));
        assert_eq!(b.ceiling(60), ms(1000));
        assert_eq!(b.ceiling(u32::MAX), ms(1000));
        // retry 0 is treated as the first.
        assert_eq!(b.ceiling(0), ms(100));
    }

    #[test]
    fn huge_base_does_not_overflow() {
        let b = Backoff::exponential(Duration::from_secs(u64::MAX / 4), Duration::from_secs(5));
        assert_eq!(b.ceiling(40), Duration::from_secs(5));
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_ceiling() {
        let b = Backoff::exponential(ms(100), ms(10_000));
        for retry in 1..=10 {
            let ceiling = b.ceiling(retry);
            assert_eq!(b.delay(retry, 0.0), Duration::ZERO);
            for i in 0..100 {
                let d = b.delay(retry, f64::from(i) / 100.0);
                assert!(d <= ceiling, "retry {retry}: {d:?} > {ceiling:?}");
            }
            assert_eq!(b.delay(retry, 0.5), ceiling / 2);
        }
        // Out-of-range draws are clamped, never a panic or a longer wait.
        assert_eq!(b.delay(1, 7.0), ms(100));
        assert_eq!(b.delay(1, -1.0), Duration::ZERO);
        assert_eq!(b.delay(1, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn equal_jitter_waits_at_least_half() {
        let b = Backoff::exponential(ms(200), ms(10_000)).with_jitter(Jitter::Equal);
        assert_eq!(b.delay(1, 0.0), ms(100));
        assert_eq!(b.delay(1, 1.0), ms(200));
        assert_eq!(b.delay(2, 0.5), ms(300));
    }

    #[test]
    fn no_jitter_is_the_ceiling() {
        let b = Backoff::exponential(ms(50), ms(10_000)).with_jitter(Jitter::None);
        assert_eq!(b.delay(3, 0.123), ms(200));
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date in the past: retry now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // The obsolete RFC 850 and asctime forms are accepted too.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:05 2015", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now),
            None
        );
    }

    #[test]
    fn statuses_and_errors_are_classified() {
        let retry = [408, 425, 429, 500, 502, 503, 504];
        assert_eq!(
            classify_status(StatusCode::SERVICE_UNAVAILABLE, &retry),
            Class::Retryable(RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert_eq!(classify_status(StatusCode::OK, &retry), Class::Final);
        assert_eq!(classify_status(StatusCode::NOT_FOUND, &retry), Class::Final);
        assert_eq!(
            classify_status(StatusCode::NOT_IMPLEMENTED, &retry),
            Class::Final
        );
        let connect = Error::Connect {
            url: "u".into(),
            message: "refused".into(),
            kind: crate::error::ConnectErrorKind::Other,
            source: None,
        };
        assert_eq!(
            classify_error(&connect),
            Class::Retryable(RetryReason::Connect)
        );
        assert_eq!(
            classify_error(&Error::InvalidRequest("x".into())),
            Class::Fatal
        );
        assert!(RetryReason::Connect.never_sent());
        assert!(RetryReason::Transport { maybe_sent: false }.never_sent());
        assert!(!RetryReason::Transport { maybe_sent: true }.never_sent());
        assert!(!RetryReason::Timeout.never_sent());
        assert!(!RetryReason::Status(StatusCode::TOO_MANY_REQUESTS).is_failure());
        assert!(RetryReason::Status(StatusCode::BAD_GATEWAY).is_failure());
        assert!(RetryReason::Timeout.is_failure());
    }
}
