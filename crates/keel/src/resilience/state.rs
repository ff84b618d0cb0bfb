//! The live state of a resilience configuration and the two questions the
//! pipeline asks it: may an attempt go now (`admit`), and what comes after an
//! attempt (`record`). Both are synchronous and never sleep.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::Method;
use url::Url;

use super::adaptive::AdaptiveRate;
use super::breaker::{CircuitBreaker, Permit, Transition};
use super::budget::RetryBudget;
use super::limiter::{Denied, OnLimit, RateLimit};
use super::policy::{classify_error, classify_status, parse_retry_after, Class, RetryReason};
use super::server_limits::ServerPacer;
use super::shared::StoreError;
use super::store::InMemoryStore;
use super::{AttemptOutcome, GiveUpReason, Resilience, ResilienceEvent, StoreRef};
use crate::error::{display_url, Error, Result};

/// An answer of the resilience layer: ready now (an in-process store: no
/// allocation, no await), or after the driver awaits a shared store.
pub(crate) enum Pending<'c, T> {
    Ready(T),
    Wait(Pin<Box<dyn Future<Output = T> + Send + 'c>>),
}

/// Polls a future that cannot pend (the in-process store's path) on the
/// stack, once.
fn at_once<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// What an admission decided, for the call to keep.
pub(crate) struct Admitted {
    /// `Ok(None)` go now, `Ok(Some(d))` wait `d` and ask again, `Err` fail
    /// fast.
    pub(crate) result: Result<Option<Duration>>,
    breaker: Option<(Permit, String)>,
    rate_waited: Duration,
}

/// What recording an outcome decided, for the call to keep.
pub(crate) struct Recorded {
    pub(crate) decision: Decision,
    /// Budget tokens the retry took, when one was decided and paid for.
    retry_cost: Option<u32>,
}

/// The store operations that recording an outcome still has to make, in
/// order: the breaker's report, then the budget's refund or withdrawal
/// (which decides whether the retry happens).
struct Plan {
    breaker: Option<(Permit, String, bool)>,
    budget: BudgetOp,
    decision: Decision,
    /// The event the decision reports, after the breaker's (as it always
    /// came).
    note: Option<Note>,
}

enum Note {
    GaveUp(u32, GiveUpReason),
    Retrying(u32, RetryReason, Duration, bool),
}

enum BudgetOp {
    None,
    Refund(u32),
    Withdraw {
        cost: u32,
        attempt: u32,
        reason: RetryReason,
        from_retry_after: bool,
    },
}

/// The live state (breakers, limiter, budget) of one `with_resilience`
/// call, shared by the clients derived from it: the configuration and the
/// store that keeps the state (the configuration's, or a fresh in-memory
/// one).
pub(crate) struct ResilienceState {
    config: Resilience,
    store: StoreRef,
    /// The key of this family's budget and rate limit, and the scope of its
    /// breakers, in the store: the configuration's `scope`, or the client
    /// family's id.
    scope: String,
    /// What the server's rate-limit headers last said (in-process).
    pacer: Mutex<ServerPacer>,
    /// The adaptive rate (in-process).
    adaptive: Mutex<AdaptiveRate>,
    /// Recent exchange durations, for hedging at a quantile.
    latencies: super::hedge::Latencies,
}

/// The longest a call waits for the server's quota or the adaptive rate
/// when the policy has no client-side rate limit to take `max_wait` from.
const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);

/// Whether an outcome is the server saying "slow down": a throttle status,
/// or a 503 with a `Retry-After` that parses.
/// The breaker's key for `url`: its origin, serialized as
/// [`url::Origin::ascii_serialization`] does. A URL without user info is
/// already `scheme://host[:port]` up to its path (the parser lower-cases the
/// host and drops a default port), so that prefix is copied instead of
/// building an `Origin` (which clones the host) and formatting it again.
fn origin_key(url: &Url) -> String {
    if url.username().is_empty()
        && url.password().is_none()
        && url.has_host()
        && matches!(url.scheme(), "http" | "https")
    {
        url[..url::Position::BeforePath].to_owned()
    } else {
        url.origin().ascii_serialization()
    }
}

pub(crate) fn is_throttle(config: &Resilience, outcome: &Outcome<'_>) -> bool {
    match outcome {
        Outcome::Response(r) => {
            r.throttled
                || config.throttle_statuses.contains(&r.status.as_u16())
                || (r.status == http::StatusCode::SERVICE_UNAVAILABLE
                    && r.headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()))
                        .is_some())
        }
        Outcome::Error(_) => false,
    }
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
    /// The signing scheme read the API's own throttling answer in the body.
    pub(crate) throttled: bool,
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
    /// The state of `config` for the client family `family` (its id:
    /// the default scope of shared state).
    pub(crate) fn new(config: Resilience, family: &str) -> Self {
        let store = config
            .store
            .clone()
            .unwrap_or_else(|| StoreRef::Local(Arc::new(InMemoryStore::new())));
        if let (StoreRef::Shared(s), Some(hook)) = (&store, &config.on_event) {
            s.subscribe(hook.clone());
        }
        let scope = config.scope.clone().unwrap_or_else(|| family.to_owned());
        ResilienceState {
            config,
            store,
            scope,
            pacer: Mutex::new(ServerPacer::new(0.1)),
            adaptive: Mutex::new(AdaptiveRate::new(tokio::time::Instant::now())),
            latencies: super::hedge::Latencies::default(),
        }
    }

    /// How long a hedged request waits before its second copy, when
    /// hedging is on (and, at a quantile, enough was observed).
    pub(crate) fn hedge_delay(&self) -> Option<Duration> {
        self.config.hedge.as_ref()?.delay.now(&self.latencies)
    }

    /// Whether exchanges' latencies are kept (hedging at a quantile): only
    /// then does the driver time each exchange.
    pub(crate) fn observes_latency(&self) -> bool {
        matches!(
            self.config.hedge,
            Some(super::Hedge {
                delay: super::hedge::HedgeDelay::Quantile { .. }
            })
        )
    }

    /// An exchange that answered took `d` (kept when hedging at a
    /// quantile).
    pub(crate) fn observe_latency(&self, d: Duration) {
        if self.observes_latency() {
            self.latencies.observe(d);
        }
    }

    /// Whether a hedged request's second copy may go now: it takes
    /// `weight` rate-limit permits without waiting, and a retry's cost from
    /// the budget. Reported as [`ResilienceEvent::Hedged`] when it may.
    pub(crate) fn hedge_admit<'c>(&'c self, weight: u32, after: Duration) -> Pending<'c, bool> {
        let fut = self.hedge_admission(weight, after);
        match self.store {
            StoreRef::Local(_) => Pending::Ready(at_once(fut).unwrap_or(false)),
            StoreRef::Shared(_) => Pending::Wait(Box::pin(fut)),
        }
    }

    async fn hedge_admission(&self, weight: u32, after: Duration) -> bool {
        if let Some(rl) = &self.config.rate_limit {
            match self.rate_take(rl, weight).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
        }
        if let Some(b) = &self.config.budget {
            match self.budget_take(b, b.cost(false, false)).await {
                Ok(true) => {}
                _ => return false,
            }
        }
        tracing::debug!(?after, "hedging: sending a second copy");
        self.emit(|| ResilienceEvent::Hedged { after });
        true
    }

    /// A wait asked for by the server's quota or the adaptive rate: within
    /// the call's wait bound, or the call fails as rate limited.
    fn paced(
        &self,
        wait: Duration,
        rate_waited: &mut Duration,
        event: ResilienceEvent,
    ) -> Result<Option<Duration>> {
        let max_wait = match self.config.rate_limit.map(|l| l.on_limit) {
            Some(OnLimit::Fail) => Duration::ZERO,
            Some(OnLimit::Wait { max_wait }) => max_wait,
            None => DEFAULT_MAX_WAIT,
        };
        if *rate_waited + wait > max_wait {
            return Err(self.rate_limited(wait));
        }
        *rate_waited += wait;
        tracing::debug!(?wait, "pacing by the server's limits");
        self.emit(|| event);
        Ok(Some(wait))
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

    /// The store's breaker wait (how long it still refuses).
    async fn breaker_wait(
        &self,
        origin: &str,
        cfg: &CircuitBreaker,
    ) -> std::result::Result<Option<Duration>, StoreError> {
        match &self.store {
            StoreRef::Local(s) => Ok(s.breaker_refusing(origin, cfg)),
            StoreRef::Shared(s) => s.breaker_wait(&self.scope, origin, cfg).await,
        }
    }

    async fn breaker_admit(
        &self,
        origin: &str,
        cfg: &CircuitBreaker,
    ) -> std::result::Result<(std::result::Result<Permit, Duration>, Option<Transition>), StoreError>
    {
        match &self.store {
            StoreRef::Local(s) => Ok(s.breaker_acquire(origin, cfg)),
            StoreRef::Shared(s) => s.breaker_admit(&self.scope, origin, cfg).await,
        }
    }

    async fn breaker_report(
        &self,
        origin: &str,
        cfg: &CircuitBreaker,
        permit: Permit,
        failure: bool,
    ) -> std::result::Result<Option<Transition>, StoreError> {
        match &self.store {
            StoreRef::Local(s) => Ok(s.breaker_record(origin, cfg, permit, failure)),
            StoreRef::Shared(s) => {
                s.breaker_report(&self.scope, origin, cfg, permit, failure)
                    .await
            }
        }
    }

    async fn rate_take(
        &self,
        limit: &RateLimit,
        weight: u32,
    ) -> std::result::Result<std::result::Result<(), Denied>, StoreError> {
        match &self.store {
            StoreRef::Local(s) => Ok(s.rate_limit_acquire(&self.scope, limit, weight)),
            StoreRef::Shared(s) => s.rate_limit_take(&self.scope, limit, weight).await,
        }
    }

    async fn budget_take(
        &self,
        b: &RetryBudget,
        tokens: u32,
    ) -> std::result::Result<bool, StoreError> {
        match &self.store {
            StoreRef::Local(s) => Ok(s.budget_withdraw(&self.scope, b, tokens)),
            StoreRef::Shared(s) => s.budget_take(&self.scope, b, tokens).await,
        }
    }

    async fn budget_put(
        &self,
        b: &RetryBudget,
        tokens: u32,
    ) -> std::result::Result<(), StoreError> {
        match &self.store {
            StoreRef::Local(s) => {
                s.budget_deposit(&self.scope, b, tokens);
                Ok(())
            }
            StoreRef::Shared(s) => s.budget_put(&self.scope, b, tokens).await,
        }
    }

    /// A store that could not answer during admission, and fails closed:
    /// the call fails before anything is sent.
    fn store_failed(&self, operation: &str, e: StoreError) -> Error {
        tracing::warn!(operation, error = %e, "shared resilience store did not answer; not sending");
        Error::StoreUnavailable { source: e }
    }

    /// Whether an attempt to `url` may go now: `Ok(None)` yes, `Ok(Some(d))`
    /// wait `d` and ask again, `Err` fail fast (breaker open, rate limited,
    /// a shared store that fails closed could not answer). Ready at once
    /// for an in-process store; for a shared one the driver awaits it.
    pub(crate) fn admit<'c>(
        &'c self,
        url: &Url,
        weight: u32,
        call: &mut CallState,
    ) -> Pending<'c, Admitted> {
        call.breaker = None;
        let rate_waited = call.rate_waited;
        if !self.admission_has_work() {
            // Nothing to ask the store or a pacer: the answer `admission`
            // would give, without its key or its state machine.
            return Pending::Ready(Admitted {
                result: Ok(None),
                breaker: None,
                rate_waited,
            });
        }
        let origin = self.config.breaker.as_ref().map(|_| origin_key(url));
        match self.store {
            StoreRef::Local(_) => Pending::Ready(
                at_once(self.admission(origin, weight, rate_waited)).unwrap_or_else(|| Admitted {
                    result: Err(Error::request(
                        "an in-process resilience store did not answer at once (a Keel bug)",
                    )),
                    breaker: None,
                    rate_waited,
                }),
            ),
            StoreRef::Shared(_) => {
                Pending::Wait(Box::pin(self.admission(origin, weight, rate_waited)))
            }
        }
    }

    /// Whether admission has anything to decide: a breaker, a client-side
    /// rate limit, the server's limits or an adaptive rate.
    fn admission_has_work(&self) -> bool {
        let cfg = &self.config;
        cfg.breaker.is_some()
            || cfg.rate_limit.is_some()
            || cfg.server_limits.is_some()
            || cfg.adaptive
    }

    /// Keeps what an admission decided in the call's state.
    pub(crate) fn admitted(&self, a: Admitted, call: &mut CallState) -> Result<Option<Duration>> {
        call.breaker = a.breaker;
        call.rate_waited = a.rate_waited;
        a.result
    }

    async fn admission(
        &self,
        origin: Option<String>,
        weight: u32,
        rate_waited: Duration,
    ) -> Admitted {
        let mut out = Admitted {
            result: Ok(None),
            breaker: None,
            rate_waited,
        };
        out.result = self.admission_steps(origin, weight, &mut out).await;
        out
    }

    async fn admission_steps(
        &self,
        origin: Option<String>,
        weight: u32,
        out: &mut Admitted,
    ) -> Result<Option<Duration>> {
        // The breaker first, without taking a probe slot: an open breaker
        // must not spend rate-limit permits.
        let breaker: Option<(&CircuitBreaker, String)> = match (&self.config.breaker, origin) {
            (Some(cfg), Some(origin)) => {
                match self.breaker_wait(&origin, cfg).await {
                    Ok(Some(retry_in)) => return Err(self.circuit_open(origin, retry_in)),
                    Ok(None) => {}
                    Err(e) => return Err(self.store_failed("breaker", e)),
                }
                Some((cfg, origin))
            }
            _ => None,
        };
        if let Some(rl) = &self.config.rate_limit {
            match self.rate_take(rl, weight).await {
                Ok(Ok(())) => {}
                Ok(Err(Denied::Never { burst })) => {
                    return Err(Error::request(format!(
                        "the request's weight ({weight}) is larger than the rate limit's burst ({burst}), so it could never be sent; lower the weight or raise the burst"
                    )))
                }
                Ok(Err(Denied::Wait(wait))) => match rl.on_limit {
                    OnLimit::Fail => return Err(self.rate_limited(wait)),
                    OnLimit::Wait { max_wait } => {
                        if out.rate_waited + wait > max_wait {
                            return Err(self.rate_limited(wait));
                        }
                        out.rate_waited += wait;
                        tracing::debug!(?wait, "waiting for a rate-limit permit");
                        self.emit(|| ResilienceEvent::RateLimitWait { wait });
                        return Ok(Some(wait));
                    }
                },
                Err(e) => return Err(self.store_failed("rate limit", e)),
            }
        }
        if self.config.server_limits.is_some() {
            let now = tokio::time::Instant::now();
            let wait = self
                .pacer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .admit(now);
            if let Some(wait) = wait {
                return self.paced(
                    wait,
                    &mut out.rate_waited,
                    ResilienceEvent::ServerLimitWait { wait },
                );
            }
        }
        if self.config.adaptive {
            let now = tokio::time::Instant::now();
            let wait = self
                .adaptive
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .admit(now);
            if let Some(wait) = wait {
                return self.paced(
                    wait,
                    &mut out.rate_waited,
                    ResilienceEvent::RateLimitWait { wait },
                );
            }
        }
        if let Some((cfg, origin)) = breaker {
            match self.breaker_admit(&origin, cfg).await {
                Ok((permit, t)) => {
                    self.transition(&origin, t);
                    match permit {
                        Ok(permit) => out.breaker = Some((permit, origin)),
                        Err(retry_in) => return Err(self.circuit_open(origin, retry_in)),
                    }
                }
                Err(e) => return Err(self.store_failed("breaker", e)),
            }
        }
        Ok(None)
    }

    fn give_up(&self, attempts: u32, reason: GiveUpReason) {
        tracing::debug!(attempts, %reason, "not retrying");
        self.emit(|| ResilienceEvent::GaveUp { attempts, reason });
    }

    /// Pays for one reconnection of a long-lived stream (server-sent
    /// events) from the retry budget, as a retry would, in whichever store
    /// holds the budget (a shared one counts the fleet's reconnections with
    /// its retries): `false` when the budget is empty or a shared store did
    /// not answer (as a retry is not made then), and the stream gives up.
    /// Always `true` without a budget.
    pub(crate) async fn withdraw_reconnect(&self) -> bool {
        let Some(b) = &self.config.budget else {
            return true;
        };
        match self.budget_take(b, b.cost(false, false)).await {
            Ok(true) => true,
            Ok(false) => {
                self.give_up(0, GiveUpReason::BudgetExhausted);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "shared resilience store did not answer for the retry budget; not reconnecting");
                self.give_up(0, GiveUpReason::StoreUnavailable);
                false
            }
        }
    }

    /// Records an attempt's outcome and decides what comes next. Ready at
    /// once for an in-process store; for a shared one the driver awaits
    /// the store's part (the breaker's report, the budget).
    pub(crate) fn record<'c>(
        &'c self,
        info: &AttemptInfo<'_>,
        call: &mut CallState,
    ) -> Pending<'c, Recorded> {
        let plan = self.plan(info, call);
        if plan.breaker.is_none() && self.config.budget.is_none() {
            // Nothing for the store to do: only the decision's event.
            self.report(plan.note);
            return Pending::Ready(Recorded {
                decision: plan.decision,
                retry_cost: None,
            });
        }
        match self.store {
            StoreRef::Local(_) => Pending::Ready(at_once(self.settle(plan)).unwrap_or(Recorded {
                decision: Decision::Finish,
                retry_cost: None,
            })),
            StoreRef::Shared(_) => Pending::Wait(Box::pin(self.settle(plan))),
        }
    }

    /// Keeps what recording decided in the call's state.
    pub(crate) fn recorded(&self, r: Recorded, call: &mut CallState) -> Decision {
        if let Some(cost) = r.retry_cost {
            call.last_retry_cost = cost;
        }
        r.decision
    }

    /// The store operations of a recorded outcome, and the decision they
    /// confirm.
    async fn settle(&self, plan: Plan) -> Recorded {
        if let (Some((permit, origin, failure)), Some(cfg)) = (plan.breaker, &self.config.breaker) {
            match self.breaker_report(&origin, cfg, permit, failure).await {
                Ok(t) => self.transition(&origin, t),
                // The outcome stays with the caller; the breaker misses one
                // report.
                Err(e) => {
                    tracing::warn!(error = %e, "shared resilience store did not record the breaker outcome")
                }
            }
        }
        self.report(plan.note);
        let Some(b) = &self.config.budget else {
            return Recorded {
                decision: plan.decision,
                retry_cost: None,
            };
        };
        match plan.budget {
            BudgetOp::None => Recorded {
                decision: plan.decision,
                retry_cost: None,
            },
            BudgetOp::Refund(tokens) => {
                if let Err(e) = self.budget_put(b, tokens).await {
                    tracing::warn!(error = %e, "shared resilience store did not take the budget refund");
                }
                Recorded {
                    decision: plan.decision,
                    retry_cost: None,
                }
            }
            BudgetOp::Withdraw {
                cost,
                attempt,
                reason,
                from_retry_after,
            } => match self.budget_take(b, cost).await {
                Ok(true) => {
                    if let Decision::Retry(wait) = plan.decision {
                        self.retrying(attempt, reason, wait, from_retry_after);
                    }
                    Recorded {
                        decision: plan.decision,
                        retry_cost: Some(cost),
                    }
                }
                Ok(false) => {
                    self.give_up(attempt, GiveUpReason::BudgetExhausted);
                    Recorded {
                        decision: Decision::Finish,
                        retry_cost: None,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "shared resilience store did not answer for the retry budget; not retrying");
                    self.give_up(attempt, GiveUpReason::StoreUnavailable);
                    Recorded {
                        decision: Decision::Finish,
                        retry_cost: None,
                    }
                }
            },
        }
    }

    /// Emits the event a decision reports.
    fn report(&self, note: Option<Note>) {
        match note {
            Some(Note::GaveUp(attempt, reason)) => self.give_up(attempt, reason),
            Some(Note::Retrying(attempt, reason, wait, from_retry_after)) => {
                self.retrying(attempt, reason, wait, from_retry_after)
            }
            None => {}
        }
    }

    fn retrying(&self, attempt: u32, reason: RetryReason, wait: Duration, from_retry_after: bool) {
        tracing::debug!(attempt, %reason, ?wait, from_retry_after, "retrying");
        self.emit(|| ResilienceEvent::Retry {
            attempt,
            reason,
            wait,
            from_retry_after,
        });
    }

    /// The synchronous part of recording: classification, events, the
    /// server's limits and the adaptive rate; what the store still has to
    /// do.
    fn plan(&self, info: &AttemptInfo<'_>, call: &mut CallState) -> Plan {
        let cfg = &self.config;
        let class = match info.outcome {
            Outcome::Response(r) if r.throttled => {
                Class::Retryable(RetryReason::Throttled(r.status))
            }
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

        let throttled = is_throttle(cfg, &info.outcome);
        if let (Some(table), Outcome::Response(r)) = (&cfg.server_limits, &info.outcome) {
            if let Some(quota) = table.read(r.headers, SystemTime::now()) {
                self.pacer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .observe(quota, tokio::time::Instant::now());
            }
        }
        if cfg.adaptive && matches!(info.outcome, Outcome::Response(_)) {
            let rate = {
                let mut a = self.adaptive.lock().unwrap_or_else(PoisonError::into_inner);
                a.record(tokio::time::Instant::now(), throttled);
                a.rate()
            };
            if let (true, Some(per_second)) = (throttled, rate) {
                tracing::debug!(per_second, "throttled: adaptive rate lowered");
                self.emit(|| ResilienceEvent::AdaptiveRate { per_second });
            }
        }

        let breaker = match (call.breaker.take(), &self.config.breaker) {
            (Some((permit, origin)), Some(_)) => {
                // Throttling says "slow down", not "unwell".
                let failure = !throttled && matches!(class, Class::Retryable(r) if r.is_failure());
                Some((permit, origin, failure))
            }
            _ => None,
        };
        let mut note = None;
        let (decision, budget) = self.decide(info, call, class, throttled, &mut note);
        Plan {
            breaker,
            budget,
            decision,
            note,
        }
    }

    /// What comes after an attempt of `class`, and what it does to the
    /// budget.
    fn decide(
        &self,
        info: &AttemptInfo<'_>,
        call: &CallState,
        class: Class,
        throttled: bool,
        note: &mut Option<Note>,
    ) -> (Decision, BudgetOp) {
        let cfg = &self.config;
        let finish = |budget| (Decision::Finish, budget);
        let reason = match class {
            Class::Final => {
                let refund = self
                    .config
                    .budget
                    .as_ref()
                    .map_or(0, |b| b.refund(call.last_retry_cost));
                return finish(if refund > 0 {
                    BudgetOp::Refund(refund)
                } else {
                    BudgetOp::None
                });
            }
            Class::Fatal => return finish(BudgetOp::None),
            Class::Retryable(reason) => reason,
        };

        if !(info.idempotent || reason.never_sent()) {
            *note = Some(Note::GaveUp(info.attempt, GiveUpReason::NotIdempotent));
            return finish(BudgetOp::None);
        }
        if info.attempt >= cfg.max_attempts {
            if cfg.max_attempts > 1 {
                *note = Some(Note::GaveUp(info.attempt, GiveUpReason::MaxAttempts));
            }
            return finish(BudgetOp::None);
        }
        if matches!(reason, RetryReason::Timeout) && !cfg.retry_timeouts {
            *note = Some(Note::GaveUp(info.attempt, GiveUpReason::TimeoutNotRetried));
            return finish(BudgetOp::None);
        }
        if !info.replayable {
            *note = Some(Note::GaveUp(info.attempt, GiveUpReason::NotReplayable));
            return (Decision::NotReplayable, BudgetOp::None);
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
                *note = Some(Note::GaveUp(
                    info.attempt,
                    GiveUpReason::RetryAfterTooLong(ra),
                ));
                return finish(BudgetOp::None);
            }
            Some(ra) => (ra, true),
            None => {
                let backoff = if throttled {
                    cfg.throttle_backoff
                } else {
                    cfg.backoff
                };
                (backoff.delay(info.attempt, fastrand::f64()), false)
            }
        };
        if info.remaining.is_some_and(|r| wait >= r) {
            *note = Some(Note::GaveUp(info.attempt, GiveUpReason::Deadline));
            return (Decision::Deadline, BudgetOp::None);
        }
        let budget = match &self.config.budget {
            Some(b) => BudgetOp::Withdraw {
                cost: b.cost(reason == RetryReason::Timeout, throttled),
                attempt: info.attempt,
                reason,
                from_retry_after,
            },
            None => {
                *note = Some(Note::Retrying(info.attempt, reason, wait, from_retry_after));
                BudgetOp::None
            }
        };
        (Decision::Retry(wait), budget)
    }
}

impl ResilienceState {
    /// Admission answered at once (an in-process store): for the
    /// benchmarks and unit tests, which have no driver.
    pub(crate) fn admit_now(
        &self,
        url: &Url,
        weight: u32,
        call: &mut CallState,
    ) -> Result<Option<Duration>> {
        match self.admit(url, weight, call) {
            Pending::Ready(a) => self.admitted(a, call),
            Pending::Wait(_) => Err(Error::request(
                "a shared store answers asynchronously; send a request instead",
            )),
        }
    }

    /// Recording answered at once (an in-process store), as `admit_now`.
    pub(crate) fn record_now(&self, info: &AttemptInfo<'_>, call: &mut CallState) -> Decision {
        match self.record(info, call) {
            Pending::Ready(r) => self.recorded(r, call),
            Pending::Wait(_) => Decision::Finish,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_key_is_the_origins_serialization() {
        for u in [
            "http://127.0.0.1:8080/a?b=c",
            "https://Example.COM/x",
            "https://example.com:443/",
            "http://example.com:80",
            "http://[::1]:9000/p#f",
            "https://user:pw@example.com:8443/secret",
            "https://user@example.com/",
            "http://xn--bcher-kva.example/",
            "http://bücher.example:81/x",
        ] {
            let url = Url::parse(u).unwrap();
            assert_eq!(
                super::origin_key(&url),
                url.origin().ascii_serialization(),
                "{u}"
            );
        }
    }

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
            throttled: false,
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
        state.record_now(
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
        let s = ResilienceState::new(policy().max_attempts(3).build().unwrap(), "test");
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
    fn timeouts_are_retried_unless_the_policy_says_not_to() {
        let timeout = Error::Timeout {
            url: "u".into(),
            after: Duration::from_secs(1),
        };
        let on = ResilienceState::new(policy().max_attempts(3).build().unwrap(), "test");
        assert!(matches!(
            decide(
                &on,
                &mut CallState::default(),
                1,
                Method::GET,
                Outcome::Error(&timeout)
            ),
            Decision::Retry(_)
        ));
        let off = ResilienceState::new(
            policy()
                .max_attempts(3)
                .retry_timeouts(false)
                .build()
                .unwrap(),
            "test",
        );
        assert!(!off.config().retries_timeouts());
        assert_eq!(
            decide(
                &off,
                &mut CallState::default(),
                1,
                Method::GET,
                Outcome::Error(&timeout)
            ),
            Decision::Finish
        );
        // Other failures are retried as before.
        let r = response(503, None);
        assert!(matches!(
            decide(
                &off,
                &mut CallState::default(),
                1,
                Method::GET,
                Outcome::Response(head(&r))
            ),
            Decision::Retry(_)
        ));
    }

    #[test]
    fn non_idempotent_requests_retry_only_when_nothing_was_sent() {
        let s = ResilienceState::new(policy().build().unwrap(), "test");
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
            "test",
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
        let d = s.record_now(
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
            "test",
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
        let s = ResilienceState::new(policy().build().unwrap(), "test");
        let r = response(503, None);
        let d = s.record_now(
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
            "test",
        );
        let r = response(502, None);
        for _ in 0..2 {
            let mut c = CallState::default();
            assert_eq!(s.admit_now(&url(), 1, &mut c).unwrap(), None);
            decide(&s, &mut c, 1, Method::GET, Outcome::Response(head(&r)));
        }
        let mut c = CallState::default();
        match s.admit_now(&url(), 1, &mut c) {
            Err(Error::CircuitOpen { origin, retry_in }) => {
                assert_eq!(origin, "http://127.0.0.1:9");
                assert!(retry_in > Duration::from_secs(29), "{retry_in:?}");
            }
            other => panic!("{other:?}"),
        }
        // Another origin has its own breaker.
        let other = Url::parse("http://127.0.0.2:9/").unwrap();
        assert!(s.admit_now(&other, 1, &mut c).is_ok());
    }
}
