//! Resilience: retry policy, backoff, Retry-After, deadline, circuit breaker,
//! rate limit and retry budget.
//!
//! The decisions live here as plain synchronous code; the pipeline's two
//! drivers only perform the waits these decisions ask for.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::response::Response;

/// A resilience configuration, applied to a client with
/// [`HttpClient::with_resilience`](crate::HttpClient::with_resilience).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Resilience {
    deadline: Option<Duration>,
}

impl Resilience {
    /// No retries, no breaker, no limiter: one attempt per call.
    pub fn none() -> Self {
        Resilience { deadline: None }
    }

    /// The total time budget of a call across all attempts and waits.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }
}

/// The live state of a resilience configuration (breakers, limiter, budget),
/// shared by the clients derived from one `with_resilience` call.
#[derive(Debug)]
pub(crate) struct ResilienceState {
    config: Resilience,
}

/// What happened in one attempt, as the core reports it.
pub(crate) struct AttemptInfo<'a> {
    /// 1 for the first attempt.
    pub(crate) attempt: u32,
    /// The request's URL (its origin keys the breaker).
    pub(crate) url: &'a Url,
    pub(crate) outcome: Outcome<'a>,
    /// Whether re-sending is allowed (idempotent method or idempotency key,
    /// and a replayable body).
    pub(crate) may_resend: bool,
    /// Time since the call started.
    #[allow(dead_code)]
    pub(crate) elapsed: Duration,
}

/// The outcome of one attempt.
pub(crate) enum Outcome<'a> {
    Response(&'a Response),
    Error(&'a Error),
}

/// What to do after an attempt.
pub(crate) enum Decision {
    /// Return this outcome to the caller.
    Finish,
    /// Try again after this wait.
    Retry(Duration),
}

impl ResilienceState {
    pub(crate) fn new(config: Resilience) -> Self {
        ResilienceState { config }
    }

    pub(crate) fn config(&self) -> &Resilience {
        &self.config
    }

    /// Whether an attempt to `url` may go now: `Ok(None)` yes, `Ok(Some(d))`
    /// wait `d` and ask again, `Err` fail fast (breaker open, rate limited).
    pub(crate) fn admit(&self, _url: &Url, _weight: u32) -> Result<Option<Duration>> {
        Ok(None)
    }

    /// Records an attempt's outcome and decides what comes next.
    pub(crate) fn record(&self, info: &AttemptInfo<'_>) -> Decision {
        let _ = (info.attempt, info.url, info.may_resend, &info.outcome);
        Decision::Finish
    }
}
