//! Resilience: retry policy, backoff, Retry-After, deadline, circuit breaker,
//! rate limit and retry budget.
//!
//! A [`Resilience`] value is a validated configuration, applied to a client
//! with [`HttpClient::with_resilience`](crate::HttpClient::with_resilience).
//! The decisions live here as plain synchronous code; the pipeline's two
//! drivers (async and blocking) only perform the waits these decisions ask
//! for, so both behave the same.
//!
//! ```no_run
//! # async fn run() -> keel::Result<()> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use keel::resilience::{CircuitBreaker, RateLimit, Resilience, ResilienceEvent};
//!
//! let policy = Resilience::builder()            // starts from `Resilience::standard()`
//!     .max_attempts(4)
//!     .backoff(Duration::from_millis(200), Duration::from_secs(5))
//!     .deadline(Duration::from_secs(20))
//!     .circuit_breaker(CircuitBreaker::new().consecutive_failures(5))
//!     .rate_limit(RateLimit::per_second(20).burst(5))
//!     .on_event(Arc::new(|e: &ResilienceEvent| eprintln!("{e}")))
//!     .build()?;
//! let client = keel::HttpClient::new("https://api.example.com")?.with_resilience(policy);
//! let resp = client.get("/items").send().await?;
//! println!("{} after {} attempt(s)", resp.status, resp.attempts());
//! # Ok(()) }
//! ```
//!
//! # What is retried
//! An attempt is retried when its outcome is retryable — a connect error, a
//! timeout, a connection broken before the response was complete, or a
//! retryable status (by default 408, 425, 429, 500, 502, 503, 504) — and all
//! of these hold:
//! - re-sending is safe: the method is idempotent (GET, HEAD, OPTIONS, PUT,
//!   DELETE, TRACE), or the request carries an `Idempotency-Key` header, or
//!   the request never left (connect error);
//! - the body can be sent again (bytes, not a stream: a stream is never
//!   retried, and the error says so);
//! - attempts are left (`max_attempts`), the retry budget can pay, and the
//!   wait fits in the deadline.
//!
//! The wait is the server's `Retry-After` (seconds or HTTP-date) when the
//! response has one — a `Retry-After` longer than `max_retry_after` ends the
//! retries — and otherwise exponential backoff with jitter.

mod adaptive;
mod breaker;
mod budget;
mod hedge;
mod limiter;
mod policy;
#[cfg(feature = "redis")]
mod redis;
mod server_limits;
mod shared;
mod state;
mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::error::{Error, Result};

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
pub use breaker::{
    BreakerState, CircuitBreaker, Permit as BreakerPermit, Transition as BreakerTransition,
};
pub use budget::RetryBudget;
pub use hedge::Hedge;
pub use limiter::{Denied as RateLimitDenied, OnLimit, RateLimit};
pub use policy::{parse_retry_after, Backoff, Jitter, RetryReason};
pub use server_limits::{LimitHeaders, ResetUnit, ServerQuota};
pub use shared::{
    lease_nonce, BreakerStore, BudgetStore, NonceLease, NonceStore, OnUnavailable, RateLimitStore,
    SharedStore, StoreError, StoreErrorKind, StoreFuture,
};
pub(crate) use state::{
    Admitted, AttemptInfo, CallState, Decision, Head, Outcome, Pending, Recorded, ResilienceState,
};
pub use store::{InMemoryStore, StateStore};

/// A fresh random idempotency key: a UUID version 4 from the `uuid` crate
/// (122 random bits from the operating system's generator).
pub(crate) fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The statuses retried by default: 408, 425, 429, 500, 502, 503, 504.
pub const DEFAULT_RETRY_STATUSES: [u16; 7] = [408, 425, 429, 500, 502, 503, 504];

/// A callback that observes what the resilience layer does.
pub type EventHook = Arc<dyn Fn(&ResilienceEvent) + Send + Sync>;

/// A resilience configuration: retries, backoff, `Retry-After`, deadline,
/// circuit breaker, rate limit, retry budget and idempotency keys.
///
/// Use a preset ([`none`](Self::none), [`standard`](Self::standard),
/// [`rate_limited`](Self::rate_limited)) or [`builder`](Self::builder).
/// Apply it with [`HttpClient::with_resilience`](crate::HttpClient::with_resilience):
/// each call of `with_resilience` starts fresh state (breakers, limiter,
/// budget) shared by the clones and derived clients of the client it
/// returns — unless the configuration has a
/// [`state_store`](ResilienceBuilder::state_store), whose state every client
/// using it shares.
#[derive(Clone)]
#[non_exhaustive]
pub struct Resilience {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) throttle_backoff: Backoff,
    pub(crate) retry_statuses: Vec<u16>,
    pub(crate) throttle_statuses: Vec<u16>,
    pub(crate) server_limits: Option<LimitHeaders>,
    pub(crate) adaptive: bool,
    pub(crate) max_retry_after: Duration,
    pub(crate) deadline: Option<Duration>,
    pub(crate) generate_idempotency_key: bool,
    pub(crate) retry_timeouts: bool,
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) on_event: Option<EventHook>,
    pub(crate) store: Option<StoreRef>,
    pub(crate) scope: Option<String>,
    pub(crate) hedge: Option<Hedge>,
}

/// The store a configuration keeps its state in.
#[derive(Clone)]
pub(crate) enum StoreRef {
    /// Synchronous, in this process: answered at once.
    Local(Arc<dyn StateStore>),
    /// Shared with other processes (Redis): awaited by the driver.
    Shared(Arc<dyn SharedStore>),
}

impl fmt::Debug for Resilience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resilience")
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("throttle_backoff", &self.throttle_backoff)
            .field("retry_statuses", &self.retry_statuses)
            .field("throttle_statuses", &self.throttle_statuses)
            .field("server_limits", &self.server_limits)
            .field("adaptive_rate", &self.adaptive)
            .field("max_retry_after", &self.max_retry_after)
            .field("deadline", &self.deadline)
            .field("generate_idempotency_key", &self.generate_idempotency_key)
            .field("retry_timeouts", &self.retry_timeouts)
            .field("circuit_breaker", &self.breaker)
            .field("rate_limit", &self.rate_limit)
            .field("retry_budget", &self.budget)
            .field("on_event", &self.on_event.as_ref().map(|_| "set"))
            .field(
                "state_store",
                &self.store.as_ref().map(|s| match s {
                    StoreRef::Local(_) => "in-process",
                    StoreRef::Shared(_) => "shared",
                }),
            )
            .field("scope", &self.scope)
            .field("hedge", &self.hedge)
            .finish()
    }
}

impl Default for Resilience {
    /// [`Resilience::none`].
    fn default() -> Self {
        Self::none()
    }
}

impl Resilience {
    /// One attempt per call: no retries, no deadline, no breaker, no rate
    /// limit, no budget. What a client has until `with_resilience`.
    ///
    /// An idempotent request the server dropped unanswered on a kept-alive
    /// connection (its idle timeout firing as the request went out) is
    /// still sent again on another connection, as every policy does: that
    /// is not an attempt (see `TransportError::stale_connection`).
    pub fn none() -> Self {
        Resilience {
            max_attempts: 1,
            backoff: Backoff::exponential(Duration::from_millis(50), Duration::from_secs(20)),
            throttle_backoff: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(20)),
            retry_statuses: DEFAULT_RETRY_STATUSES.to_vec(),
            throttle_statuses: vec![429],
            server_limits: None,
            adaptive: false,
            max_retry_after: Duration::from_secs(30),
            deadline: None,
            generate_idempotency_key: false,
            retry_timeouts: true,
            breaker: None,
            rate_limit: None,
            budget: None,
            on_event: None,
            store: None,
            scope: None,
            hedge: None,
        }
    }

    /// The recommended policy for most APIs:
    /// - 3 attempts; exponential backoff with full jitter, up to 20 s, from
    ///   50 ms after a transient error and from 1 s after a throttling
    ///   answer (429, or 503 with `Retry-After`), as the AWS SDKs' 2026
    ///   retry behaviour;
    /// - retries on connect errors, timeouts, broken connections and 408,
    ///   425, 429, 500, 502, 503, 504; `Retry-After` honoured up to 30 s;
    /// - a 60 s deadline over all attempts and waits;
    /// - a circuit breaker per origin ([`CircuitBreaker::new`]: 10
    ///   consecutive failures, or 50 % of at least 20 attempts over 30 s;
    ///   open 5 s; 1 probe);
    /// - a retry budget ([`RetryBudget::default`], the AWS standard quota:
    ///   14 tokens per retry after a transient error, 5 after a throttle);
    /// - no rate limit, no server-limit pacing, no adaptive rate, no
    ///   generated idempotency keys.
    pub fn standard() -> Self {
        Resilience {
            max_attempts: 3,
            deadline: Some(Duration::from_secs(60)),
            breaker: Some(CircuitBreaker::new()),
            budget: Some(RetryBudget::default()),
            ..Self::none()
        }
    }

    /// For APIs with strict rate limits: [`standard`](Self::standard) plus
    /// the client-side `limit`, pacing by the server's rate-limit headers
    /// ([`LimitHeaders::standard`]), 5 attempts with throttling backoff from
    /// 1 s up to 30 s, `Retry-After` honoured up to 120 s, and a 300 s
    /// deadline. Throttling answers never trip the breaker.
    ///
    /// Fails with [`Error::InvalidConfig`] when `limit` is invalid.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = keel::Resilience::rate_limited(
    ///     keel::resilience::RateLimit::new(100, Duration::from_secs(60)).burst(10),
    /// )?;
    /// assert_eq!(policy.max_attempts(), 5);
    /// # Ok::<(), keel::Error>(())
    /// ```
    pub fn rate_limited(limit: RateLimit) -> Result<Self> {
        Resilience {
            max_attempts: 5,
            throttle_backoff: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30)),
            server_limits: Some(LimitHeaders::standard()),
            max_retry_after: Duration::from_secs(120),
            deadline: Some(Duration::from_secs(300)),
            rate_limit: Some(limit),
            ..Self::standard()
        }
        .to_builder()
        .build()
    }

    /// A builder starting from [`standard`](Self::standard).
    pub fn builder() -> ResilienceBuilder {
        Self::standard().to_builder()
    }

    /// A builder starting from this configuration.
    pub fn to_builder(&self) -> ResilienceBuilder {
        ResilienceBuilder {
            config: self.clone(),
        }
    }

    /// The total time budget of a call across all attempts and waits.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The most attempts a call makes (1 = no retries).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff after a transient error (connect error, timeout, 5xx).
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// The backoff after a throttling answer (when it has no
    /// `Retry-After`).
    pub fn throttle_backoff(&self) -> Backoff {
        self.throttle_backoff
    }

    /// The statuses that count as throttling (besides a 503 with
    /// `Retry-After`).
    pub fn throttle_statuses(&self) -> &[u16] {
        &self.throttle_statuses
    }

    /// How the server's rate-limit headers are read, if they are.
    pub fn server_limits(&self) -> Option<&LimitHeaders> {
        self.server_limits.as_ref()
    }

    /// Whether the client lowers its rate when throttled (CUBIC).
    pub fn adaptive_rate(&self) -> bool {
        self.adaptive
    }

    /// The statuses that are retried.
    pub fn retry_statuses(&self) -> &[u16] {
        &self.retry_statuses
    }

    /// The longest `Retry-After` honoured.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The circuit breaker, if any.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// The client-side rate limit, if any.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate_limit.as_ref()
    }

    /// The retry budget, if any.
    pub fn retry_budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// Whether POST and PATCH calls get a generated `Idempotency-Key`.
    pub fn generates_idempotency_key(&self) -> bool {
        self.generate_idempotency_key
    }

    /// Whether an attempt that timed out is retried.
    pub fn retries_timeouts(&self) -> bool {
        self.retry_timeouts
    }

    /// The shared state store, if one was given (otherwise every
    /// `with_resilience` call starts a fresh [`InMemoryStore`]).
    pub fn state_store(&self) -> Option<&Arc<dyn StateStore>> {
        match &self.store {
            Some(StoreRef::Local(s)) => Some(s),
            _ => None,
        }
    }

    /// The shared (cross-process) store, if one was given with
    /// [`shared_store`](ResilienceBuilder::shared_store).
    pub fn shared_store(&self) -> Option<&Arc<dyn SharedStore>> {
        match &self.store {
            Some(StoreRef::Shared(s)) => Some(s),
            _ => None,
        }
    }

    /// When idempotent requests are hedged, if they are.
    pub fn hedge(&self) -> Option<&Hedge> {
        self.hedge.as_ref()
    }

    /// The name this configuration's state has in its store, when set with
    /// [`scope`](ResilienceBuilder::scope) (otherwise: the client family's
    /// id).
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(h) = &self.hedge {
            h.validate()?;
        }
        if let Some(scope) = &self.scope {
            if scope.is_empty() || scope.len() > 200 || scope.contains(char::is_whitespace) {
                return Err(format!(
                    "the scope {scope:?} must be 1 to 200 characters without spaces"
                ));
            }
        }
        if self.max_attempts == 0 {
            return Err("`max_attempts` must be at least 1 (1 means no retries)".into());
        }
        if self.max_attempts > 100 {
            return Err(format!(
                "`max_attempts` of {} is more than 100; that is a storm, not a retry policy",
                self.max_attempts
            ));
        }
        use crate::validate::at_most_a_year;
        at_most_a_year("backoff cap", self.backoff.cap)?;
        at_most_a_year("throttle backoff cap", self.throttle_backoff.cap)?;
        at_most_a_year("`max_retry_after`", self.max_retry_after)?;
        if let Some(d) = self.deadline {
            at_most_a_year("the deadline", d)?;
        }
        for (what, b) in [
            ("backoff", &self.backoff),
            ("throttle backoff", &self.throttle_backoff),
        ] {
            if b.cap < b.base {
                return Err(format!(
                    "{what} cap ({:?}) must not be below its base ({:?})",
                    b.cap, b.base
                ));
            }
        }
        for &s in &self.throttle_statuses {
            if !(400..=599).contains(&s) {
                return Err(format!("throttle status {s} is not a 4xx or 5xx status"));
            }
        }
        if let Some(d) = self.deadline {
            if d.is_zero() {
                return Err(
                    "the deadline must be longer than zero (or use `no_deadline()`)".into(),
                );
            }
        }
        for &s in &self.retry_statuses {
            if StatusCode::from_u16(s).is_err() || s < 100 {
                return Err(format!(
                    "retry status {s} is not an HTTP status (100..=999)"
                ));
            }
            if s < 300 {
                return Err(format!(
                    "retry status {s} is a success or informational status; only errors can be retried"
                ));
            }
        }
        if let Some(b) = &self.breaker {
            b.validate()?;
        }
        if let Some(l) = &self.rate_limit {
            l.validate()?;
        }
        if let Some(b) = &self.budget {
            b.validate()?;
        }
        Ok(())
    }
}

/// Builds a [`Resilience`]; [`build`](Self::build) validates every value
/// and fails with [`Error::InvalidConfig`] instead of panicking.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()`"]
pub struct ResilienceBuilder {
    config: Resilience,
}

impl ResilienceBuilder {
    /// The most attempts per call, the first included (1..=100).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.config.max_attempts = n;
        self
    }

    /// Exponential backoff after transient errors (connect errors,
    /// timeouts, broken connections, 5xx), from `base` (the first retry's
    /// ceiling) up to `cap`, keeping the jitter. Default 50 ms to 20 s.
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.config.backoff.base = base;
        self.config.backoff.cap = cap;
        self
    }

    /// Exponential backoff after throttling answers that carry no
    /// `Retry-After` (429, [`throttle_statuses`](Self::throttle_statuses)),
    /// from `base` up to `cap`. Default 1 s to 20 s.
    pub fn throttle_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.config.throttle_backoff.base = base;
        self.config.throttle_backoff.cap = cap;
        self
    }

    /// The statuses that mean "slow down" rather than "failing" (default
    /// 429; a 503 with `Retry-After` always counts). They back off from the
    /// throttling base, cost the budget's `throttle_cost`, lower an
    /// [`adaptive_rate`](Self::adaptive_rate), and never trip the breaker.
    /// A throttle status is retried only if it is also a retry status.
    pub fn throttle_statuses<I: IntoIterator<Item = u16>>(mut self, statuses: I) -> Self {
        self.config.throttle_statuses = statuses.into_iter().collect();
        self
    }

    /// Pace requests by the server's rate-limit headers, read with `table`
    /// (see [`LimitHeaders`]): once the quota left in the server's window
    /// runs low (10 %), requests are spread over the time to its reset, and
    /// with none left they wait for the reset — within the rate limit's
    /// `max_wait` (60 s without a client-side limit), else the call fails
    /// with [`Error::RateLimited`].
    pub fn server_limits(mut self, table: LimitHeaders) -> Self {
        self.config.server_limits = Some(table);
        self
    }

    /// Do not read the server's rate-limit headers.
    pub fn no_server_limits(mut self) -> Self {
        self.config.server_limits = None;
        self
    }

    /// Lower the client's own rate when the server throttles, and raise it
    /// back as requests succeed: CUBIC, as the AWS SDKs' adaptive retry
    /// mode (β = 0.7, C = 0.4). Off by default; nothing is limited until the
    /// first throttling answer. Waits count against the rate limit's
    /// `max_wait` (60 s without a client-side limit).
    pub fn adaptive_rate(mut self, on: bool) -> Self {
        self.config.adaptive = on;
        self
    }

    /// How waits are randomized (default [`Jitter::Full`]), for both
    /// backoffs.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.config.backoff.jitter = jitter;
        self.config.throttle_backoff.jitter = jitter;
        self
    }

    /// The statuses to retry, replacing the default set.
    pub fn retry_statuses<I: IntoIterator<Item = u16>>(mut self, statuses: I) -> Self {
        self.config.retry_statuses = statuses.into_iter().collect();
        self
    }

    /// The longest `Retry-After` honoured; a longer one ends the retries
    /// (the response or error is returned).
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.config.max_retry_after = d;
        self
    }

    /// The total time budget of a call across all attempts and waits.
    pub fn deadline(mut self, d: Duration) -> Self {
        self.config.deadline = Some(d);
        self
    }

    /// No total deadline (each attempt still has its timeout).
    pub fn no_deadline(mut self) -> Self {
        self.config.deadline = None;
        self
    }

    /// Give every POST and PATCH call without an `Idempotency-Key` header a
    /// random one (UUID v4 format), set once so every attempt carries the
    /// same key — which makes them retryable. Only for APIs that honour
    /// idempotency keys.
    pub fn generate_idempotency_key(mut self, on: bool) -> Self {
        self.config.generate_idempotency_key = on;
        self
    }

    /// Whether an attempt that timed out is retried (yes by default). A
    /// tool whose user set the timeout to bound the wait (`keel request
    /// --timeout 1`) turns it off: a slow server stays slow, and each retry
    /// would wait the whole timeout again. A timeout still counts as a
    /// failure for the circuit breaker.
    pub fn retry_timeouts(mut self, on: bool) -> Self {
        self.config.retry_timeouts = on;
        self
    }

    /// A circuit breaker per origin.
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.config.breaker = Some(breaker);
        self
    }

    /// No circuit breaker.
    pub fn no_circuit_breaker(mut self) -> Self {
        self.config.breaker = None;
        self
    }

    /// A client-side rate limit.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.config.rate_limit = Some(limit);
        self
    }

    /// No client-side rate limit.
    pub fn no_rate_limit(mut self) -> Self {
        self.config.rate_limit = None;
        self
    }

    /// A retry budget.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.config.budget = Some(budget);
        self
    }

    /// No retry budget: every retryable failure may use all its attempts.
    pub fn no_retry_budget(mut self) -> Self {
        self.config.budget = None;
        self
    }

    /// A callback for every [`ResilienceEvent`] (attempts, retries, breaker
    /// transitions, rate-limit waits). It runs on the caller's task: keep it
    /// short and non-blocking.
    pub fn on_event(mut self, hook: EventHook) -> Self {
        self.config.on_event = Some(hook);
        self
    }

    /// Keep the breakers, retry budget and rate limit in `store`, shared by
    /// every client whose configuration has the same store — clients built
    /// independently, or, with a store backed by a shared service, other
    /// processes. Without it, each
    /// [`with_resilience`](crate::HttpClient::with_resilience) call starts
    /// fresh state in a new [`InMemoryStore`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use keel::resilience::{InMemoryStore, Resilience};
    /// let shared = Resilience::builder()
    ///     .state_store(Arc::new(InMemoryStore::new()))
    ///     .build()?;
    /// // Both clients see the same breaker per origin, budget and limit.
    /// let a = keel::HttpClient::new("http://127.0.0.1:8080")?.with_resilience(shared.clone());
    /// let b = keel::HttpClient::new("http://127.0.0.1:8080")?.with_resilience(shared);
    /// # let _ = (a, b);
    /// # Ok::<(), keel::Error>(())
    /// ```
    pub fn state_store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.config.store = Some(StoreRef::Local(store));
        self
    }

    /// Keep the breakers, retry budget and rate limit in a store shared by
    /// every process that uses it (`RedisStore`, feature `redis`): the pipeline awaits the
    /// store at admission (breaker, rate limit) and when it records an
    /// outcome (breaker, budget). The configuration's
    /// [`on_event`](Self::on_event) hook also receives the store's
    /// [`StoreUnavailable`](ResilienceEvent::StoreUnavailable) and
    /// [`StoreRecovered`](ResilienceEvent::StoreRecovered) events.
    ///
    /// State is kept under the client family's id (its base URL and API
    /// key, hashed), so two unrelated clients on one store never share a
    /// budget by accident, while the same client built in every process of
    /// a fleet shares one; name the state with [`scope`](Self::scope) to
    /// share it between different clients on purpose.
    ///
    /// When the store cannot answer, its own policy applies
    /// ([`OnUnavailable`]): fail open (answer from in-process state) or
    /// fail closed (the call fails with [`Error::StoreUnavailable`] before
    /// anything is sent; a retry the budget cannot confirm is not made).
    pub fn shared_store(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.config.store = Some(StoreRef::Shared(store));
        self
    }

    /// The name of this configuration's rate limit, retry budget and
    /// breakers in its store (default: the client family's id). Clients
    /// whose configurations have the same store and scope share that
    /// state, whatever their base URL or credentials.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.config.scope = Some(scope.into());
        self
    }

    /// Hedge idempotent requests: when the first copy has not answered
    /// after the [`Hedge`]'s delay, send a second; the first answer wins and
    /// the other is cancelled. Both copies take rate-limit permits, and the
    /// second a retry's cost from the retry budget (it is not sent when
    /// either is short). Off by default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keel::resilience::{Hedge, Resilience};
    /// let policy = Resilience::builder().hedge(Hedge::after(Duration::from_millis(200))).build()?;
    /// let p95 = Resilience::builder().hedge(Hedge::at_p95()).build()?;
    /// # let _ = (policy, p95);
    /// # Ok::<(), keel::Error>(())
    /// ```
    pub fn hedge(mut self, hedge: Hedge) -> Self {
        self.config.hedge = Some(hedge);
        self
    }

    /// No hedged requests (the default).
    pub fn no_hedge(mut self) -> Self {
        self.config.hedge = None;
        self
    }

    /// No shared store: each `with_resilience` call starts fresh state.
    pub fn no_state_store(mut self) -> Self {
        self.config.store = None;
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<Resilience> {
        self.config
            .validate()
            .map_err(|m| Error::config(format!("resilience: {m}")))?;
        Ok(self.config)
    }
}

/// The outcome of one attempt, as reported in [`ResilienceEvent::Attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The server answered with this status.
    Status(StatusCode),
    /// The attempt failed without a response; the error's message.
    Error(String),
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Status(s) => write!(f, "{s}"),
            AttemptOutcome::Error(e) => f.write_str(e),
        }
    }
}

/// Why a retryable outcome was not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// `max_attempts` were made.
    MaxAttempts,
    /// The request may have reached the server and re-sending it is not
    /// safe (a non-idempotent method without an `Idempotency-Key`).
    NotIdempotent,
    /// The body is a stream that cannot be sent again.
    NotReplayable,
    /// The retry budget is empty.
    BudgetExhausted,
    /// The server's `Retry-After` is longer than `max_retry_after`.
    RetryAfterTooLong(Duration),
    /// The wait would pass the call's deadline.
    Deadline,
    /// The shared store could not confirm the retry's budget (it did not
    /// answer and fails closed).
    StoreUnavailable,
    /// The attempt timed out, and the policy does not retry timeouts
    /// ([`retry_timeouts(false)`](ResilienceBuilder::retry_timeouts)).
    TimeoutNotRetried,
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUpReason::MaxAttempts => f.write_str("no attempts left"),
            GiveUpReason::NotIdempotent => {
                f.write_str("not safe to re-send (non-idempotent method without Idempotency-Key)")
            }
            GiveUpReason::NotReplayable => {
                f.write_str("the body is a stream and cannot be re-sent")
            }
            GiveUpReason::BudgetExhausted => f.write_str("retry budget exhausted"),
            GiveUpReason::RetryAfterTooLong(d) => {
                write!(f, "Retry-After of {d:?} is longer than max_retry_after")
            }
            GiveUpReason::Deadline => f.write_str("the wait would pass the deadline"),
            GiveUpReason::StoreUnavailable => {
                f.write_str("the shared store could not confirm the retry budget")
            }
            GiveUpReason::TimeoutNotRetried => f.write_str("a timeout is not retried"),
        }
    }
}

/// Something the resilience layer did, reported to the
/// [`on_event`](ResilienceBuilder::on_event) hook (and `Display`ed as one
/// line, for `keel request -v`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResilienceEvent {
    /// An attempt finished.
    Attempt {
        /// 1 for the first attempt.
        attempt: u32,
        /// The request method.
        method: Method,
        /// The URL, without its query string.
        url: String,
        /// What came back.
        outcome: AttemptOutcome,
        /// Time since the call started.
        elapsed: Duration,
    },
    /// A retry was decided: the next attempt starts after `wait`.
    Retry {
        /// The attempt that failed.
        attempt: u32,
        /// Why it is retried.
        reason: RetryReason,
        /// The wait before the next attempt.
        wait: Duration,
        /// Whether the wait is the server's `Retry-After`.
        from_retry_after: bool,
    },
    /// The server throttled: the adaptive rate changed.
    AdaptiveRate {
        /// The rate requests may now go at, per second.
        per_second: f64,
    },
    /// The call waits because the server's rate-limit headers said its
    /// quota is low or spent.
    ServerLimitWait {
        /// How long.
        wait: Duration,
    },
    /// A retryable outcome was not retried.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Why not.
        reason: GiveUpReason,
    },
    /// A circuit breaker changed state.
    BreakerTransition {
        /// The origin (scheme://host:port).
        origin: String,
        /// The state it left.
        from: BreakerState,
        /// The state it entered.
        to: BreakerState,
    },
    /// An attempt was refused because the origin's breaker is open.
    CircuitRejected {
        /// The origin (scheme://host:port).
        origin: String,
        /// When a probe will be let through.
        retry_in: Duration,
    },
    /// A hedged request's first copy had not answered after `after`: a
    /// second copy was sent.
    Hedged {
        /// How long the first copy had been waiting.
        after: Duration,
    },
    /// The call waits for a rate-limit permit.
    RateLimitWait {
        /// How long.
        wait: Duration,
    },
    /// The call failed for lack of a rate-limit permit.
    RateLimited {
        /// When a permit would be available.
        retry_in: Duration,
    },
    /// A shared state store (Redis) could not answer: reported once when an
    /// outage starts, with what the client does until it ends.
    StoreUnavailable {
        /// Which store (`"redis"`), and where, without credentials.
        store: String,
        /// The operation that found it unavailable (`"rate_limit"`, …).
        operation: &'static str,
        /// What went wrong.
        error: String,
        /// The policy in force: fail open (in-process state) or closed.
        policy: OnUnavailable,
    },
    /// A shared state store answers again after an outage.
    StoreRecovered {
        /// Which store, as in [`StoreUnavailable`](Self::StoreUnavailable).
        store: String,
        /// How long it was away.
        after: Duration,
    },
}

impl fmt::Display for ResilienceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResilienceEvent::Attempt {
                attempt,
                method,
                url,
                outcome,
                elapsed,
            } => write!(
                f,
                "attempt {attempt}: {method} {url} -> {outcome} ({elapsed:.1?} since start)"
            ),
            ResilienceEvent::Retry {
                attempt,
                reason,
                wait,
                from_retry_after,
            } => write!(
                f,
                "retrying after attempt {attempt} ({reason}) in {wait:.1?}{}",
                if *from_retry_after {
                    " (Retry-After)"
                } else {
                    ""
                }
            ),
            ResilienceEvent::AdaptiveRate { per_second } => {
                write!(
                    f,
                    "server throttled: sending at most {per_second:.1} requests/s"
                )
            }
            ResilienceEvent::ServerLimitWait { wait } => {
                write!(
                    f,
                    "waiting {wait:.1?}: the server's rate-limit quota is low"
                )
            }
            ResilienceEvent::GaveUp { attempts, reason } => {
                write!(f, "not retrying after {attempts} attempt(s): {reason}")
            }
            ResilienceEvent::BreakerTransition { origin, from, to } => {
                write!(f, "circuit breaker for {origin}: {from} -> {to}")
            }
            ResilienceEvent::CircuitRejected { origin, retry_in } => write!(
                f,
                "circuit breaker for {origin} is open; next probe in {retry_in:.1?}"
            ),
            ResilienceEvent::RateLimitWait { wait } => {
                write!(f, "waiting {wait:.1?} for a rate-limit permit")
            }
            ResilienceEvent::Hedged { after } => {
                write!(f, "no answer after {after:.1?}: sent a second copy (hedge)")
            }
            ResilienceEvent::RateLimited { retry_in } => {
                write!(f, "rate limited; a permit is available in {retry_in:.1?}")
            }
            ResilienceEvent::StoreUnavailable {
                store,
                operation,
                error,
                policy,
            } => write!(
                f,
                "state store {store} unavailable ({operation}: {error}); {}",
                match policy {
                    OnUnavailable::FailOpen =>
                        "failing open: using this process's own state until it answers",
                    OnUnavailable::FailClosed =>
                        "failing closed: calls fail before sending until it answers",
                }
            ),
            ResilienceEvent::StoreRecovered { store, after } => {
                write!(f, "state store {store} answers again after {after:.1?}")
            }
        }
    }
}

/// The decision path of one attempt, without a network, for the benchmarks
/// in `benches/resilience.rs`. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct BenchDecider {
    state: ResilienceState,
    url: url::Url,
}

#[doc(hidden)]
impl BenchDecider {
    /// A decider for `policy` and requests to `url`.
    pub fn new(policy: Resilience, url: &str) -> Result<Self> {
        Ok(BenchDecider {
            state: ResilienceState::new(policy, "bench"),
            url: url::Url::parse(url).map_err(|e| Error::config(e.to_string()))?,
        })
    }

    /// Admits one GET attempt and records `status` (with an optional
    /// `Retry-After`): the work the pipeline asks of the resilience layer per
    /// attempt. Returns the retry wait, if a retry was decided.
    pub fn attempt(&self, status: StatusCode, retry_after: Option<&str>) -> Option<Duration> {
        let mut call = CallState::default();
        if !matches!(self.state.admit_now(&self.url, 1, &mut call), Ok(None)) {
            return None;
        }
        let mut headers = http::HeaderMap::new();
        if let Some(v) = retry_after.and_then(|v| http::HeaderValue::from_str(v).ok()) {
            headers.insert(http::header::RETRY_AFTER, v);
        }
        match self.state.record_now(
            &AttemptInfo {
                attempt: 1,
                method: &Method::GET,
                url: &self.url,
                outcome: Outcome::Response(Head {
                    status,
                    headers: &headers,
                    throttled: false,
                }),
                idempotent: true,
                replayable: true,
                elapsed: Duration::ZERO,
                remaining: None,
            },
            &mut call,
        ) {
            Decision::Retry(d) => Some(d),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_random_uuid_v4() {
        let a = new_idempotency_key();
        let b = new_idempotency_key();
        assert_ne!(a, b);
        for k in [&a, &b] {
            let parsed = uuid::Uuid::parse_str(k).unwrap();
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random));
            assert_eq!(k.len(), 36, "hyphenated lower-case form: {k}");
        }
    }

    #[test]
    fn presets_are_valid() {
        assert!(Resilience::none().validate().is_ok());
        assert!(Resilience::standard().validate().is_ok());
        assert!(Resilience::rate_limited(RateLimit::per_second(5)).is_ok());
        assert_eq!(Resilience::none().max_attempts(), 1);
        assert_eq!(Resilience::standard().max_attempts(), 3);
    }

    #[test]
    fn bad_values_are_config_errors_not_panics() {
        let cases: Vec<(ResilienceBuilder, &str)> = vec![
            (Resilience::builder().max_attempts(0), "max_attempts"),
            (Resilience::builder().max_attempts(1000), "max_attempts"),
            (
                Resilience::builder().backoff(Duration::from_secs(2), Duration::from_secs(1)),
                "backoff cap",
            ),
            (Resilience::builder().deadline(Duration::ZERO), "deadline"),
            (
                Resilience::builder().retry_statuses([200]),
                "retry status 200",
            ),
            (
                Resilience::builder().retry_statuses([42]),
                "retry status 42",
            ),
            (
                Resilience::builder().circuit_breaker(CircuitBreaker::new().half_open_probes(0)),
                "half_open_probes",
            ),
            (
                Resilience::builder().rate_limit(RateLimit::per_second(0)),
                "requests",
            ),
            (
                Resilience::builder().retry_budget(RetryBudget::new(0)),
                "capacity",
            ),
        ];
        for (b, needle) in cases {
            match b.build() {
                Err(Error::InvalidConfig(m)) => {
                    assert!(m.contains(needle), "{m:?} should mention {needle:?}")
                }
                other => panic!("expected InvalidConfig mentioning {needle}, got {other:?}"),
            }
        }
        assert!(matches!(
            Resilience::rate_limited(RateLimit::per_second(0)),
            Err(Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn debug_does_not_require_the_hook_to_be_debug() {
        let r = Resilience::builder()
            .on_event(Arc::new(|_: &ResilienceEvent| {}))
            .build()
            .unwrap();
        assert!(format!("{r:?}").contains("on_event: Some(\"set\")"));
    }

    #[test]
    fn events_display_as_one_line() {
        let e = ResilienceEvent::Retry {
            attempt: 1,
            reason: RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE),
            wait: Duration::from_millis(250),
            from_retry_after: false,
        };
        let s = e.to_string();
        assert!(
            s.contains("attempt 1") && s.contains("503") && !s.contains('\n'),
            "{s}"
        );
    }
}
