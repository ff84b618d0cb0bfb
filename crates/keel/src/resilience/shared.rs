//! The asynchronous store traits, one per policy: where the state of a
//! breaker, a retry budget, a rate limit and a nonce sequence lives when it
//! may be shared with other processes.
//!
//! A store backed by a service (Redis, [`RedisStore`](super::RedisStore)) does
//! I/O on every call, so each operation returns a future; the in-process
//! stores answer at once (their futures are ready). Every operation is one
//! atomic step on the store's side: the decision about *what* to do with the
//! answer (retry or not, how long to back off, what a retry costs) stays in
//! the client, in plain code.
//!
//! Any [`StateStore`] (the synchronous trait, [`InMemoryStore`] among them)
//! is a [`BreakerStore`], a [`BudgetStore`] and a [`RateLimitStore`] through
//! blanket implementations, so existing stores keep working. A type may
//! implement any subset of these traits.
//!
//! # Errors and availability
//! An operation fails with a [`StoreError`] only when the store could not
//! answer (unreachable, timed out, protocol error). What happens then is the
//! [`OnUnavailable`] policy of the store that wraps the service (Redis:
//! [`RedisStoreBuilder::on_unavailable`](super::RedisStoreBuilder::on_unavailable)):
//! answer from in-process state and say so in an event (fail open), or pass
//! the error on so the call fails before anything is sent (fail closed).
//! An error never causes a request to be sent twice or dropped after it was
//! sent: admission errors come before the request is sent, and a failure to
//! record an outcome leaves the outcome with the caller.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::breaker::{BreakerState, CircuitBreaker, Permit, Transition};
use super::budget::RetryBudget;
use super::limiter::{Denied, RateLimit};
use super::store::{InMemoryStore, StateStore};

/// The future a store operation returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

/// Why a store could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The service could not be reached (connection refused, closed, DNS).
    Unavailable,
    /// The service did not answer within the store's timeout.
    Timeout,
    /// The service answered something the store did not expect (a script
    /// error, a wrong type): a bug or a version mismatch, not an outage.
    Protocol,
    /// The call asked for something the store cannot do (a value out of the
    /// range it can represent).
    Invalid,
}

/// A store could not answer. The message names the store, the operation and
/// what went wrong; it never contains a secret (the store's URL is shown
/// without its password).
#[derive(Debug, Clone)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
}

impl StoreError {
    /// An error of `kind` with a one-line `message`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether the store may answer if asked again later (an outage or a
    /// timeout, not a protocol error).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        )
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// What a store backed by a service does when the service cannot answer
/// (unreachable, or slower than the store's timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnUnavailable {
    /// Answer from in-process state instead (a breaker, budget, limit and
    /// nonce counter of this process alone) until the service answers
    /// again, and report [`ResilienceEvent::StoreUnavailable`](super::ResilienceEvent::StoreUnavailable)
    /// once per outage. Requests keep flowing; while the service is away
    /// each process enforces the limits on its own traffic only, so a fleet
    /// of N processes may send up to N times a shared limit.
    #[default]
    FailOpen,
    /// Fail every operation with a [`StoreError`]: the call fails before
    /// anything is sent (nothing is lost, nothing sent twice), and
    /// [`ResilienceEvent::StoreUnavailable`](super::ResilienceEvent::StoreUnavailable)
    /// is reported once per outage. For limits that must never be exceeded,
    /// such as an exchange's weight limit whose penalty is a ban.
    FailClosed,
}

/// Where the circuit breakers live: one state per origin (and per breaker
/// settings). The same operations as the synchronous [`StateStore`]'s
/// breaker methods, asynchronous; see those for the exact semantics.
///
/// Each operation is atomic: a transition (`closed -> open`, `open ->
/// half-open`, …) is made by exactly one caller, and only that caller gets
/// it back, so it is reported once however many processes share the store.
pub trait BreakerStore: Send + Sync {
    /// How long the breaker for `origin` will still refuse attempts, without
    /// taking a probe slot; `None` when an attempt may be tried now.
    fn breaker_wait<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, Option<Duration>>;

    /// Admits an attempt to `origin`: `Ok(permit)`, or `Err(retry_in)` when
    /// the breaker is open (or half-open with every probe slot taken); with
    /// the transition this call made, if any.
    fn breaker_admit<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, (Result<Permit, Duration>, Option<Transition>)>;

    /// Records the outcome of an attempt admitted with `permit`; returns the
    /// transition it caused, if any.
    fn breaker_report<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
        permit: Permit,
        failure: bool,
    ) -> StoreFuture<'a, Option<Transition>>;

    /// The breaker's current state (closed when the store knows nothing of
    /// it).
    fn breaker_status<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, BreakerState>;
}

/// Where the retry budgets live.
pub trait BudgetStore: Send + Sync {
    /// Takes `tokens` from the budget `key` (full when new) if it holds that
    /// many, and says whether it did; a refusal takes nothing.
    fn budget_take<'a>(
        &'a self,
        key: &'a str,
        budget: &'a RetryBudget,
        tokens: u32,
    ) -> StoreFuture<'a, bool>;

    /// Puts `tokens` back into the budget `key`, up to its capacity.
    fn budget_put<'a>(
        &'a self,
        key: &'a str,
        budget: &'a RetryBudget,
        tokens: u32,
    ) -> StoreFuture<'a, ()>;
}

/// Where the rate limits live.
pub trait RateLimitStore: Send + Sync {
    /// Takes `weight` permits from the limit `key` now, or says why not
    /// ([`Denied::Wait`] with the time until enough permits are available,
    /// or [`Denied::Never`] when `weight` exceeds the burst). A weight of 0
    /// is always granted. Never waits for permits: the caller sleeps.
    fn rate_limit_take<'a>(
        &'a self,
        key: &'a str,
        limit: &'a RateLimit,
        weight: u32,
    ) -> StoreFuture<'a, Result<(), Denied>>;
}

/// A nonce handed out under a lease: while the lease is held no other
/// caller (in any process sharing the store) gets a nonce for the same key,
/// so requests carrying these nonces reach the server in increasing order
/// when each is released after its response (or its failure) came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceLease {
    /// The nonce: larger than every nonce handed out before for this key.
    pub nonce: u64,
    token: u64,
}

impl NonceLease {
    /// A lease with `nonce` and the holder's `token` (for store
    /// implementations: the token identifies the holder on release).
    pub fn new(nonce: u64, token: u64) -> Self {
        NonceLease { nonce, token }
    }

    /// The token that identifies the holder.
    pub fn token(&self) -> u64 {
        self.token
    }
}

/// Where the nonce sequences live: strictly increasing numbers per key
/// (an API key, usually), across every process that shares the store.
pub trait NonceStore: Send + Sync {
    /// The next nonce for `key`: the larger of `at_least` (a time-based
    /// floor, such as the current time in microseconds, so nonces survive a
    /// store that forgot the key) and one more than the last one handed out.
    fn nonce_next<'a>(&'a self, key: &'a str, at_least: u64) -> StoreFuture<'a, u64>;

    /// Like [`nonce_next`](Self::nonce_next), and holds the key for `hold`
    /// (or until [`nonce_release`](Self::nonce_release)): `Ok(lease)`, or
    /// `Err(())` when another holder has it (ask again shortly; nothing was
    /// taken). A lease not released in time expires, so a crashed holder
    /// blocks the key for `hold` at most.
    fn nonce_lease<'a>(
        &'a self,
        key: &'a str,
        at_least: u64,
        hold: Duration,
    ) -> StoreFuture<'a, Result<NonceLease, ()>>;

    /// Releases a lease (a lease that already expired is left alone).
    fn nonce_release<'a>(&'a self, key: &'a str, lease: &'a NonceLease) -> StoreFuture<'a, ()>;
}

impl<S: StateStore + ?Sized> BreakerStore for S {
    fn breaker_wait<'a>(
        &'a self,
        _scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, Option<Duration>> {
        ready(self.breaker_refusing(origin, config))
    }

    fn breaker_admit<'a>(
        &'a self,
        _scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, (Result<Permit, Duration>, Option<Transition>)> {
        ready(self.breaker_acquire(origin, config))
    }

    fn breaker_report<'a>(
        &'a self,
        _scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
        permit: Permit,
        failure: bool,
    ) -> StoreFuture<'a, Option<Transition>> {
        ready(self.breaker_record(origin, config, permit, failure))
    }

    fn breaker_status<'a>(
        &'a self,
        _scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, BreakerState> {
        ready(self.breaker_state(origin, config))
    }
}

impl<S: StateStore + ?Sized> BudgetStore for S {
    fn budget_take<'a>(
        &'a self,
        key: &'a str,
        budget: &'a RetryBudget,
        tokens: u32,
    ) -> StoreFuture<'a, bool> {
        ready(self.budget_withdraw(key, budget, tokens))
    }

    fn budget_put<'a>(
        &'a self,
        key: &'a str,
        budget: &'a RetryBudget,
        tokens: u32,
    ) -> StoreFuture<'a, ()> {
        self.budget_deposit(key, budget, tokens);
        ready(())
    }
}

impl<S: StateStore + ?Sized> RateLimitStore for S {
    fn rate_limit_take<'a>(
        &'a self,
        key: &'a str,
        limit: &'a RateLimit,
        weight: u32,
    ) -> StoreFuture<'a, Result<(), Denied>> {
        ready(self.rate_limit_acquire(key, limit, weight))
    }
}

/// In-process nonce sequences (and leases), for one process: what
/// [`InMemoryStore`] keeps, and what a Redis store answers from while Redis
/// is away and it fails open.
#[derive(Debug, Default)]
pub(crate) struct LocalNonces {
    keys: Mutex<HashMap<String, NonceSlot>>,
}

#[derive(Debug, Default)]
struct NonceSlot {
    last: u64,
    held: Option<(u64, tokio::time::Instant)>,
    tokens: u64,
}

impl LocalNonces {
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut NonceSlot) -> T) -> T {
        let mut map = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= 1024 && !map.contains_key(key) {
            // Keys are API keys: a handful. Past a thousand, forget the idle
            // ones (their floor is the clock, so a forgotten key stays
            // increasing as long as callers pass a time-based floor).
            map.retain(|_, s| s.held.is_some());
        }
        f(map.entry(key.to_owned()).or_default())
    }

    /// The next nonce, at least `floor` (the largest nonce the caller knows
    /// was handed out elsewhere, plus one).
    pub(crate) fn next(&self, key: &str, at_least: u64) -> Result<u64, StoreError> {
        self.with(key, |s| {
            let n = s.last.checked_add(1).ok_or_else(exhausted)?.max(at_least);
            s.last = n;
            Ok(n)
        })
    }

    pub(crate) fn lease(
        &self,
        key: &str,
        at_least: u64,
        hold: Duration,
    ) -> Result<Result<NonceLease, ()>, StoreError> {
        let now = tokio::time::Instant::now();
        self.with(key, |s| {
            if let Some((_, until)) = s.held {
                if now < until {
                    return Ok(Err(()));
                }
            }
            let n = s.last.checked_add(1).ok_or_else(exhausted)?.max(at_least);
            s.last = n;
            s.tokens = s.tokens.wrapping_add(1);
            s.held = Some((s.tokens, now + hold));
            Ok(Ok(NonceLease::new(n, s.tokens)))
        })
    }

    pub(crate) fn release(&self, key: &str, lease: &NonceLease) {
        self.with(key, |s| {
            if matches!(s.held, Some((t, _)) if t == lease.token) {
                s.held = None;
            }
        })
    }

    /// Raises the key's floor to `seen` (a nonce handed out by the shared
    /// store), so a fall-back to local nonces never goes below it.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn observe(&self, key: &str, seen: u64) {
        self.with(key, |s| s.last = s.last.max(seen))
    }
}

fn exhausted() -> StoreError {
    StoreError::new(
        StoreErrorKind::Invalid,
        "the nonce sequence reached u64::MAX; use a new API key",
    )
}

impl NonceStore for InMemoryStore {
    fn nonce_next<'a>(&'a self, key: &'a str, at_least: u64) -> StoreFuture<'a, u64> {
        Box::pin(std::future::ready(self.nonces().next(key, at_least)))
    }

    fn nonce_lease<'a>(
        &'a self,
        key: &'a str,
        at_least: u64,
        hold: Duration,
    ) -> StoreFuture<'a, Result<NonceLease, ()>> {
        Box::pin(std::future::ready(self.nonces().lease(key, at_least, hold)))
    }

    fn nonce_release<'a>(&'a self, key: &'a str, lease: &'a NonceLease) -> StoreFuture<'a, ()> {
        self.nonces().release(key, lease);
        ready(())
    }
}

/// Takes a nonce lease for `key`, asking again every millisecond while
/// another holder has it, for at most `max_wait`. Fails with a
/// [`StoreErrorKind::Timeout`] error when the key stayed busy.
pub async fn lease_nonce<S: NonceStore + ?Sized>(
    store: &S,
    key: &str,
    at_least: impl Fn() -> u64,
    hold: Duration,
    max_wait: Duration,
) -> Result<NonceLease, StoreError> {
    let started = tokio::time::Instant::now();
    loop {
        if let Ok(lease) = store.nonce_lease(key, at_least(), hold).await? {
            return Ok(lease);
        }
        if started.elapsed() >= max_wait {
            return Err(StoreError::new(
                StoreErrorKind::Timeout,
                format!(
                    "the nonce key stayed leased by another request for {max_wait:?}; raise the wait or check for a holder that never releases"
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(f: StoreFuture<'_, T>) -> Result<T, StoreError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_state_store_is_an_async_store() {
        let s = InMemoryStore::new();
        let b = CircuitBreaker::new()
            .consecutive_failures(1)
            .no_failure_ratio();
        let (permit, t) = block(s.breaker_admit("f", "http://a", &b)).unwrap();
        assert_eq!(t, None);
        let t = block(s.breaker_report("f", "http://a", &b, permit.unwrap(), true)).unwrap();
        assert_eq!(t, Some((BreakerState::Closed, BreakerState::Open)));
        assert_eq!(
            block(s.breaker_status("f", "http://a", &b)).unwrap(),
            BreakerState::Open
        );
        assert!(block(s.breaker_wait("f", "http://a", &b))
            .unwrap()
            .is_some());
        let budget = RetryBudget::new(5);
        assert!(block(s.budget_take("k", &budget, 5)).unwrap());
        assert!(!block(s.budget_take("k", &budget, 1)).unwrap());
        block(s.budget_put("k", &budget, 1)).unwrap();
        assert!(block(s.budget_take("k", &budget, 1)).unwrap());
        let l = RateLimit::per_second(1);
        assert_eq!(block(s.rate_limit_take("k", &l, 1)).unwrap(), Ok(()));
        assert!(block(s.rate_limit_take("k", &l, 1)).unwrap().is_err());
    }

    #[test]
    fn local_nonces_increase_and_leases_exclude() {
        let s = InMemoryStore::new();
        assert_eq!(block(s.nonce_next("k", 10)).unwrap(), 10);
        assert_eq!(block(s.nonce_next("k", 5)).unwrap(), 11);
        assert_eq!(block(s.nonce_next("k", 20)).unwrap(), 20);
        assert_eq!(block(s.nonce_next("other", 0)).unwrap(), 1);
        let lease = block(s.nonce_lease("k", 0, Duration::from_secs(60)))
            .unwrap()
            .unwrap();
        assert_eq!(lease.nonce, 21);
        assert_eq!(
            block(s.nonce_lease("k", 0, Duration::from_secs(60))).unwrap(),
            Err(())
        );
        block(s.nonce_release("k", &lease)).unwrap();
        assert_eq!(
            block(s.nonce_lease("k", 0, Duration::from_secs(60)))
                .unwrap()
                .unwrap()
                .nonce,
            22
        );
        s.nonces().observe("k", 100);
        assert_eq!(block(s.nonce_next("k", 0)).unwrap(), 101);
        s.nonces().observe("max", u64::MAX);
        let e = block(s.nonce_next("max", 0)).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Invalid);
    }

    #[test]
    fn an_expired_lease_is_taken_over() {
        let s = InMemoryStore::new();
        let first = block(s.nonce_lease("k", 0, Duration::ZERO))
            .unwrap()
            .unwrap();
        let second = block(s.nonce_lease("k", 0, Duration::from_secs(60)))
            .unwrap()
            .unwrap();
        assert!(second.nonce > first.nonce);
        // The late release of the expired lease does not free the new one.
        block(s.nonce_release("k", &first)).unwrap();
        assert_eq!(
            block(s.nonce_lease("k", 0, Duration::from_secs(60))).unwrap(),
            Err(())
        );
    }
}
