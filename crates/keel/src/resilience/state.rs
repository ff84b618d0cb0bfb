//! The live state of a resilience configuration and the two questions the
//! pipeline asks it: may an attempt go now (`admit`), and what comes after an
//! attempt (`record`). Both are synchronous and never sleep.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::Method;
use url::Url;

use super::breaker::{CircuitBreaker, Permit};
use super::limiter::{Denied, OnLimit};
use super::policy::{classify_error, classify_status, parse_retry_after, Class, RetryReason};
use super::store::{InMemoryStore, StateStore};
use super::{AttemptOutcome, GiveUpReason, Resilience, ResilienceEvent};
use crate::error::{display_url, Error, Result};

/// The key the client passes to the store for its retry budget and rate
/// limit.
const KEY: &str = "default";

/// The live state (breakers, limiter, budget) of one `with_resilience`
/// call, shared by the clients derived from it: the configuration and the
/// store that keeps the state (the configuration's, or a fresh in-memory
/// one).
pub(crate) struct ResilienceState {
    config: Resilience,
    store: Arc<dyn StateStore>,
}

impl fmt::Debug for ResilienceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Per-call state the resilience layer keeps between `admit` and `record`.
#[derive(Debug, Default)]
pub(crate) struct CallState {
    /// How the breaker admitted the current attempt, and its origin.
    breaker: Option<(Permit, String)>,
    /// Time spent waiting for rate-limit permits so far.
    rate_waited: Duration,
    /// Budget tokens the last retry took (refunded on success).
    last_retry_cost: u32,
}

/// What happened in one attempt, as the core reports it.
/// The head of a response: what the decisions read of it.
#[derive(Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) status: http::StatusCode,
    pub(crate) headers: &'a http::HeaderMap,
}

pub(crate) struct AttemptInfo<'a> {
    /// 1 for the first attempt.
    pub(crate) attempt: u32,
    pub(crate) method: &'a Method,
    /// The request's URL (its origin keys the breaker).
    pub(crate) url: &'a Url,
    pub(crate) outcome: Outcome<'a>,
    /// Whether the method is idempotent or the request carries an
    /// idempotency key.
    pub(crate) idempotent: bool,
    /// Whether the body can be sent again (not a stream).
    pub(crate) replayable: bool,
    /// Time since the call started.
    pub(crate) elapsed: Duration,
    /// Time left before the call's deadline, if it has one.
    pub(crate) remaining: Option<Duration>,
}

/// The outcome of one attempt.
pub(crate) enum Outcome<'a> {
    Response(Head<'a>),
    Error(&'a Error),
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Return this outcome to the caller.
    Finish,
    /// Try again after this wait.
    Retry(Duration),
    /// A retry was due, but the body is a stream that cannot be re-sent.
    NotReplayable,
    /// A retry was due, but its wait would pass the deadline.
    Deadline,
}

impl ResilienceState {
    pub(crate) fn new(config: Resilience) -> Self {
        let store = config
            .store
            .clone()
            .unwrap_or_else(|| Arc::new(InMemoryStore::new()));
        ResilienceState { config, store }
    }

    pub(crate) fn config(&self) -> &Resilience {
        &self.config
    }

    fn emit(&self, event: impl FnOnce() -> ResilienceEvent) {
        if let Some(hook) = &self.config.on_event {
            hook(&event());
        }
    }

    fn transition(&self, origin: &str, t: Option<super::breaker::Transition>) {
        if let Some((from, to)) = t {
            tracing::info!(origin, %from, %to, "circuit breaker state change");
            self.emit(|| ResilienceEvent::BreakerTransition {
                origin: origin.to_owned(),
                from,
                to,
            });
        }
    }

    fn circuit_open(&self, origin: String, retry_in: Duration) -> Error {
        tracing::debug!(origin = %origin, ?retry_in, "circuit open: not sending");
        self.emit(|| ResilienceEvent::CircuitRejected {
            origin: origin.clone(),
            retry_in,
        });
        Error::CircuitOpen { origin, retry_in }
    }

    fn rate_limited(&self, retry_in: Duration) -> Error {
        tracing::debug!(?retry_in, "rate limited: failing at once");
        self.emit(|| ResilienceEvent::RateLimited { retry_in });
        Error::RateLimited { retry_in }
    }

    /// Whether an attempt to `url` may go now: `Ok(None)` yes, `Ok(Some(d))`
    /// wait `d` and ask again, `Err` fail fast (breaker open, rate limited).
    pub(crate) fn admit(
        &self,
        url: &Url,
        weight: u32,
        call: &mut CallState,
    ) -> Result<Option<Duration>> {
        call.breaker = None;
        // The breaker first, without taking a probe slot: an open breaker
        // must not spend rate-limit permits.
        let breaker: Option<(&CircuitBreaker, String)> = match &self.config.breaker {
            Some(cfg) => {
                let origin = url.origin().ascii_serialization();
                if let Some(retry_in) = self.store.breaker_refusing(&origin, cfg) {
                    return Err(self.circuit_open(origin, retry_in));
                }
                Some((cfg, origin))
            }
            None => None,
        };
        if let Some(rl) = &self.config.rate_limit {
            match self.store.rate_limit_acquire(KEY, rl, weight) {
                Ok(()) => {}
                Err(Denied::Never { burst }) => {
                    return Err(Error::request(format!(
                        "the request's weight ({weight}) is larger than the rate limit's burst ({burst}), so it could never be sent; lower the weight or raise the burst"
                    )))
                }
                Err(Denied::Wait(wait)) => {
                    match rl.on_limit {
                        OnLimit::Fail => return Err(self.rate_limited(wait)),
                        OnLimit::Wait { max_wait } => {
                            if call.rate_waited + wait > max_wait {
                                return Err(self.rate_limited(wait));
                            }
                            call.rate_waited += wait;
                            tracing::debug!(?wait, "waiting for a rate-limit permit");
                            self.emit(|| ResilienceEvent::RateLimitWait { wait });
                            return Ok(Some(wait));
                        }
                    }
                }
            }
        }
        if let Some((cfg, origin)) = breaker {
            let (permit, t) = self.store.breaker_acquire(&origin, cfg);
            self.transition(&origin, t);
            match permit {
                Ok(permit) => call.breaker = Some((permit, origin)),
                Err(retry_in) => return Err(self.circuit_open(origin, retry_in)),
            }
        }
        Ok(None)
    }

    fn give_up(&self, attempts: u32, reason: GiveUpReason) {
        tracing::debug!(attempts, %reason, "not retrying");
        self.emit(|| ResilienceEvent::GaveUp { attempts, reason });
    }

    /// Pays for one reconnection of a long-lived stream (server-sent
    /// events) from the retry budget, as a retry would: `false` when the
    /// budget is empty (the stream then gives up). Always `true` without a
    /// budget.
    pub(crate) fn withdraw_reconnect(&self) -> bool {
        match &self.config.budget {
            Some(b) => {
                let cost = b.cost(false);
                let ok = self.store.budget_withdraw(KEY, b, cost);
                if !ok {
                    self.give_up(0, GiveUpReason::BudgetExhausted);
                }
                ok
            }
            None => true,
        }
    }

    /// Records an attempt's outcome and decides what comes next.
    pub(crate) fn record(&self, info: &AttemptInfo<'_>, call: &mut CallState) -> Decision {
        let cfg = &self.config;
        let class = match info.outcome {
            Outcome::Response(r) => classify_status(r.status, &cfg.retry_statuses),
            Outcome::Error(e) => classify_error(e),
        };
        match info.outcome {
            Outcome::Response(r) => {
                tracing::debug!(
                    attempt = info.attempt,
                    status = r.status.as_u16(),
                    "attempt finished"
                )
            }
            Outcome::Error(e) => {
                tracing::debug!(attempt = info.attempt, error = %e, "attempt failed")
            }
        }
        self.emit(|| ResilienceEvent::Attempt {
            attempt: info.attempt,
            method: info.method.clone(),
            url: display_url(info.url),
            outcome: match info.outcome {
                Outcome::Response(r) => AttemptOutcome::Status(r.status),
                Outcome::Error(e) => AttemptOutcome::Error(e.to_string()),
            },
            elapsed: info.elapsed,
        });

        if let (Some((permit, origin)), Some(cfg)) = (call.breaker.take(), &self.config.breaker) {
            let failure = matches!(class, Class::Retryable(r) if r.is_failure());
            let t = self.store.breaker_record(&origin, cfg, permit, failure);
            self.transition(&origin, t);
        }

        let reason = match class {
            Class::Final => {
                if let Some(b) = &self.config.budget {
                    let refund = b.refund(call.last_retry_cost);
                    if refund > 0 {
                        self.store.budget_deposit(KEY, b, refund);
                    }
                }
                return Decision::Finish;
            }
            Class::Fatal => return Decision::Finish,
            Class::Retryable(reason) => reason,
        };

        if !(info.idempotent || reason.never_sent()) {
            self.give_up(info.attempt, GiveUpReason::NotIdempotent);
            return Decision::Finish;
        }
        if info.attempt >= cfg.max_attempts {
            if cfg.max_attempts > 1 {
                self.give_up(info.attempt, GiveUpReason::MaxAttempts);
            }
            return Decision::Finish;
        }
        if !info.replayable {
            self.give_up(info.attempt, GiveUpReason::NotReplayable);
            return Decision::NotReplayable;
        }

        let retry_after = match info.outcome {
            Outcome::Response(r) => r
                .headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            Outcome::Error(_) => None,
        };
        let (wait, from_retry_after) = match retry_after {
            Some(ra) if ra > cfg.max_retry_after => {
                self.give_up(info.attempt, GiveUpReason::RetryAfterTooLong(ra));
                return Decision::Finish;
            }
            Some(ra) => (ra, true),
            None => (cfg.backoff.delay(info.attempt, fastrand::f64()), false),
        };
        if info.remaining.is_some_and(|r| wait >= r) {
            self.give_up(info.attempt, GiveUpReason::Deadline);
            return Decision::Deadline;
        }
        if let Some(b) = &self.config.budget {
            let cost = b.cost(reason == RetryReason::Timeout);
            if self.store.budget_withdraw(KEY, b, cost) {
                call.last_retry_cost = cost;
            } else {
                self.give_up(info.attempt, GiveUpReason::BudgetExhausted);
                return Decision::Finish;
            }
        }
        tracing::debug!(attempt = info.attempt, %reason, ?wait, from_retry_after, "retrying");
        self.emit(|| ResilienceEvent::Retry {
            attempt: info.attempt,
            reason,
            wait,
            from_retry_after,
        });
        Decision::Retry(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::{RetryBudget, DEFAULT_RETRY_STATUSES};
    use crate::response::Response;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, StatusCode};
    use std::sync::Mutex;

    fn url() -> Url {
        Url::parse("http://127.0.0.1:9/x").unwrap()
    }

    fn head(r: &Response) -> Head<'_> {
        Head {
            status: r.status,
            headers: &r.headers,
        }
    }

    fn response(status: u16, retry_after: Option<&str>) -> Response {
        let mut h = HeaderMap::new();
        if let Some(v) = retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        }
        Response::<()>::raw(
            StatusCode::from_u16(status).unwrap(),
            h,
            Bytes::new(),
            url(),
        )
    }

    fn decide(
        state: &ResilienceState,
        call: &mut CallState,
        attempt: u32,
        method: Method,
        outcome: Outcome<'_>,
    ) -> Decision {
        let idempotent = method != Method::POST;
        state.record(
            &AttemptInfo {
                attempt,
                method: &method,
                url: &url(),
                outcome,
                idempotent,
                replayable: true,
                elapsed: Duration::ZERO,
                remaining: Some(Duration::from_secs(10)),
            },
            call,
        )
    }

    fn policy() -> crate::resilience::ResilienceBuilder {
        Resilience::builder()
            .jitter(crate::resilience::Jitter::None)
            .backoff(Duration::from_millis(100), Duration::from_secs(1))
            .no_circuit_breaker()
            .no_retry_budget()
    }

    #[test]
    fn retryable_statuses_retry_with_backoff_until_attempts_run_out() {
        let s = ResilienceState::new(policy().max_attempts(3).build().unwrap());
        let mut c = CallState::default();
        let r = response(503, None);
        assert_eq!(
            decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))),
            Decision::Retry(Duration::from_millis(100))
        );
        assert_eq!(
            decide(&s, &mut c, 2, Method::GET, Outcome::Response(head(&r))),
            Decision::Retry(Duration::from_millis(200))
        );
        assert_eq!(
            decide(&s, &mut c, 3, Method::GET, Outcome::Response(head(&r))),
            Decision::Finish
        );
        for code in [200, 201, 301, 400, 401, 404, 409, 501] {
            let r = response(code, None);
            assert_eq!(
                decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))),
                Decision::Finish,
                "{code}"
            );
        }
        for code in DEFAULT_RETRY_STATUSES {
            let r = response(code, None);
            assert!(matches!(
                decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))),
                Decision::Retry(_)
            ));
        }
    }

    #[test]
    fn non_idempotent_requests_retry_only_when_nothing_was_sent() {
        let s = ResilienceState::new(policy().build().unwrap());
        let mut c = CallState::default();
        let r = response(503, None);
        assert_eq!(
            decide(&s, &mut c, 1, Method::POST, Outcome::Response(head(&r))),
            Decision::Finish
        );
        let timeout = Error::Timeout {
            url: "u".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(
            decide(&s, &mut c, 1, Method::POST, Outcome::Error(&timeout)),
            Decision::Finish
        );
        let connect = Error::Connect {
            url: "u".into(),
            message: "refused".into(),
            kind: crate::error::ConnectErrorKind::Other,
            source: None,
        };
        assert!(matches!(
            decide(&s, &mut c, 1, Method::POST, Outcome::Error(&connect)),
            Decision::Retry(_)
        ));
    }

    #[test]
    fn retry_after_is_honoured_capped_and_checked_against_the_deadline() {
        let s = ResilienceState::new(
            policy()
                .max_retry_after(Duration::from_secs(5))
                .build()
                .unwrap(),
        );
        let mut c = CallState::default();
        let r = response(429, Some("2"));
        assert_eq!(
            decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))),
            Decision::Retry(Duration::from_secs(2))
        );
        let r = response(429, Some("6"));
        assert_eq!(
            decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))),
            Decision::Finish
        );
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(4));
        let r = response(503, Some(&date));
        match decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))) {
            Decision::Retry(d) => assert!(
                d <= Duration::from_secs(4) && d >= Duration::from_secs(2),
                "{d:?}"
            ),
            other => panic!("{other:?}"),
        }
        // A garbled Retry-After falls back to backoff.
        let r = response(503, Some("later"));
        assert_eq!(
            decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))),
            Decision::Retry(Duration::from_millis(100))
        );
        // Beyond the remaining deadline: give up at once.
        let r = response(503, Some("3"));
        let d = s.record(
            &AttemptInfo {
                attempt: 1,
                method: &Method::GET,
                url: &url(),
                outcome: Outcome::Response(head(&r)),
                idempotent: true,
                replayable: true,
                elapsed: Duration::ZERO,
                remaining: Some(Duration::from_secs(1)),
            },
            &mut c,
        );
        assert_eq!(d, Decision::Deadline);
    }

    #[test]
    fn budget_stops_retries_and_events_report_why() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let s = ResilienceState::new(
            policy()
                .retry_budget(RetryBudget::new(10).retry_cost(5))
                .on_event(Arc::new(move |e: &ResilienceEvent| {
                    sink.lock().unwrap().push(e.clone())
                }))
                .build()
                .unwrap(),
        );
        let r = response(500, None);
        let mut retries = 0;
        for _ in 0..5 {
            let mut c = CallState::default();
            if matches!(
                decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r))),
                Decision::Retry(_)
            ) {
                retries += 1;
            }
        }
        assert_eq!(retries, 2);
        let events = events.lock().unwrap();
        assert!(events.iter().any(|e| matches!(
            e,
            ResilienceEvent::GaveUp {
                reason: GiveUpReason::BudgetExhausted,
                ..
            }
        )));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, ResilienceEvent::Attempt { .. }))
                .count(),
            5
        );
    }

    #[test]
    fn stream_bodies_are_not_replayed() {
        let s = ResilienceState::new(policy().build().unwrap());
        let r = response(503, None);
        let d = s.record(
            &AttemptInfo {
                attempt: 1,
                method: &Method::PUT,
                url: &url(),
                outcome: Outcome::Response(head(&r)),
                idempotent: true,
                replayable: false,
                elapsed: Duration::ZERO,
                remaining: None,
            },
            &mut CallState::default(),
        );
        assert_eq!(d, Decision::NotReplayable);
    }

    #[test]
    fn open_breaker_refuses_admission_with_retry_in() {
        let s = ResilienceState::new(
            policy()
                .circuit_breaker(
                    CircuitBreaker::new()
                        .consecutive_failures(2)
                        .no_failure_ratio()
                        .open_for(Duration::from_secs(30)),
                )
                .max_attempts(1)
                .build()
                .unwrap(),
        );
        let r = response(502, None);
        for _ in 0..2 {
            let mut c = CallState::default();
            assert_eq!(s.admit(&url(), 1, &mut c).unwrap(), None);
            decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r)));
        }
        let mut c = CallState::default();
        match s.admit(&url(), 1, &mut c) {
            Err(Error::CircuitOpen { origin, retry_in }) => {
                assert_eq!(origin, "http://127.0.0.1:9");
                assert!(retry_in > Duration::from_secs(29), "{retry_in:?}");
            }
            other => panic!("{other:?}"),
        }
        // Another origin has its own breaker.
        let other = Url::parse("http://127.0.0.2:9/").unwrap();
        assert!(s.admit(&other, 1, &mut c).is_ok());
    }
}
