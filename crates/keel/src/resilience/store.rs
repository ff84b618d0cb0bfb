//! Where the shared resilience state lives: the [`StateStore`] trait and its
//! in-process implementation, [`InMemoryStore`].
//!
//! The decisions (is an outcome retryable, how long to back off, is a
//! `Retry-After` acceptable, does a wait fit the deadline, what a retry
//! costs) stay in the client. A store only keeps the state those decisions
//! read and change: breakers per origin, retry-budget buckets and
//! rate-limit permits.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::{Breaker, BreakerState, CircuitBreaker, Permit, Transition};
use super::budget::{Bucket, RetryBudget};
use super::limiter::{Denied, Limiter, RateLimit};

/// The state behind a client's circuit breakers, retry budget and rate
/// limit, shared by every client that uses the same store.
///
/// By default each [`with_resilience`](crate::HttpClient::with_resilience)
/// call gets a fresh [`InMemoryStore`]. Give a store to
/// [`ResilienceBuilder::state_store`](super::ResilienceBuilder::state_store)
/// to share one breaker, budget and limit between clients built
/// independently — or, with a store backed by a shared service such as
/// Redis, between processes.
///
/// # Contract
/// - Every method is **synchronous** and is called on the caller's thread
///   (in the async driver: on the task, between I/O). It must return quickly
///   and must never wait for the state it guards (a rate limit answers with
///   the wait; the client does the sleeping). A store backed by a remote
///   service does its own short, bounded blocking round trip (pipelined, with
///   a timeout), or answers from a local cache that it synchronizes in the
///   background; either way it chooses what to answer when the service is
///   unreachable (usually: let the attempt go).
/// - Keep critical sections short and never hold a lock across I/O: many
///   requests call the store concurrently.
/// - The settings (`config`, `budget`, `limit`) come with every call, so a
///   remote store can pass them to a server-side script. The in-memory store
///   keeps separate state per key *and* settings: clients that share it share
///   state when their settings are equal.
/// - Keel calls, per attempt: [`breaker_refusing`](Self::breaker_refusing),
///   then [`rate_limit_acquire`](Self::rate_limit_acquire), then
///   [`breaker_acquire`](Self::breaker_acquire) before sending, and
///   [`breaker_record`](Self::breaker_record) after; per retry
///   [`budget_withdraw`](Self::budget_withdraw), and per successful call
///   [`budget_deposit`](Self::budget_deposit) — each only when the policy has
///   that feature. The key passed for the budget and the rate limit is
///   the configuration's [`scope`](super::ResilienceBuilder::scope), by
///   default the client family's id (a hash of its base URL and API key).
///
/// # Example: a store that delegates to [`InMemoryStore`]
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use keel::resilience::{
///     BreakerPermit, BreakerState, BreakerTransition, CircuitBreaker, InMemoryStore,
///     RateLimit, RateLimitDenied, Resilience, RetryBudget, StateStore,
/// };
///
/// /// Counts breaker trips, keeping the state in an `InMemoryStore`.
/// #[derive(Default)]
/// struct TripCounter {
///     inner: InMemoryStore,
///     trips: AtomicUsize,
/// }
///
/// impl StateStore for TripCounter {
///     fn breaker_refusing(&self, origin: &str, config: &CircuitBreaker) -> Option<Duration> {
///         self.inner.breaker_refusing(origin, config)
///     }
///     fn breaker_acquire(
///         &self,
///         origin: &str,
///         config: &CircuitBreaker,
///     ) -> (Result<BreakerPermit, Duration>, Option<BreakerTransition>) {
///         self.inner.breaker_acquire(origin, config)
///     }
///     fn breaker_record(
///         &self,
///         origin: &str,
///         config: &CircuitBreaker,
///         permit: BreakerPermit,
///         failure: bool,
///     ) -> Option<BreakerTransition> {
///         let t = self.inner.breaker_record(origin, config, permit, failure);
///         if matches!(t, Some((_, BreakerState::Open))) {
///             self.trips.fetch_add(1, Ordering::Relaxed);
///         }
///         t
///     }
///     fn breaker_state(&self, origin: &str, config: &CircuitBreaker) -> BreakerState {
///         self.inner.breaker_state(origin, config)
///     }
///     fn budget_withdraw(&self, key: &str, budget: &RetryBudget, tokens: u32) -> bool {
///         self.inner.budget_withdraw(key, budget, tokens)
///     }
///     fn budget_deposit(&self, key: &str, budget: &RetryBudget, tokens: u32) {
///         self.inner.budget_deposit(key, budget, tokens)
///     }
///     fn rate_limit_acquire(
///         &self,
///         key: &str,
///         limit: &RateLimit,
///         weight: u32,
///     ) -> Result<(), RateLimitDenied> {
///         self.inner.rate_limit_acquire(key, limit, weight)
///     }
/// }
///
/// let store = Arc::new(TripCounter::default());
/// let policy = Resilience::builder().state_store(store.clone()).build()?;
/// // Two clients built independently share breakers, budget and limit.
/// let a = keel::HttpClient::new("http://127.0.0.1:8080")?.with_resilience(policy.clone());
/// let b = keel::HttpClient::new("http://127.0.0.1:8080")?.with_resilience(policy);
/// # let _ = (a, b);
///
/// // What the client does when attempts to an origin keep failing:
/// let breaker = CircuitBreaker::new().consecutive_failures(2);
/// for _ in 0..2 {
///     let (permit, _) = store.breaker_acquire("http://127.0.0.1:8080", &breaker);
///     store.breaker_record("http://127.0.0.1:8080", &breaker, permit.unwrap(), true);
/// }
/// assert_eq!(store.trips.load(Ordering::Relaxed), 1);
/// assert!(store.breaker_refusing("http://127.0.0.1:8080", &breaker).is_some());
/// # Ok::<(), keel::Error>(())
/// ```
pub trait StateStore: Send + Sync {
    /// How long the breaker for `origin` (`scheme://host:port`) will still
    /// refuse attempts, without taking a half-open probe slot; `None` when an
    /// attempt may be tried now. Asked before the rate limit so an open
    /// breaker spends no permits. A store that cannot answer cheaply may
    /// return `None` and let [`breaker_acquire`](Self::breaker_acquire)
    /// decide.
    fn breaker_refusing(&self, origin: &str, config: &CircuitBreaker) -> Option<Duration>;

    /// Admits an attempt to `origin`: `Ok(permit)`, or `Err(retry_in)` when
    /// the breaker is open (or half-open with every probe slot taken). Moving
    /// from open to half-open happens here, and is returned as a transition
    /// so the client can report it.
    fn breaker_acquire(
        &self,
        origin: &str,
        config: &CircuitBreaker,
    ) -> (Result<Permit, Duration>, Option<Transition>);

    /// Records the outcome of an attempt admitted with `permit`: `failure`
    /// is true for a connect error, timeout, broken connection or a
    /// retryable status other than 429 and 425. Returns the state change it
    /// caused, if any.
    fn breaker_record(
        &self,
        origin: &str,
        config: &CircuitBreaker,
        permit: Permit,
        failure: bool,
    ) -> Option<Transition>;

    /// The current state of the breaker for `origin` (closed when the store
    /// knows nothing of it). An open breaker whose `open_for` has passed
    /// stays open here until the next attempt moves it to half-open.
    fn breaker_state(&self, origin: &str, config: &CircuitBreaker) -> BreakerState;

    /// Takes `tokens` from the retry budget named `key` (full when new) if
    /// it holds that many, and says whether it did; a refusal takes nothing.
    fn budget_withdraw(&self, key: &str, budget: &RetryBudget, tokens: u32) -> bool;

    /// Puts `tokens` back into the retry budget named `key`, up to its
    /// capacity.
    fn budget_deposit(&self, key: &str, budget: &RetryBudget, tokens: u32);

    /// Takes `weight` permits from the rate limit named `key` now, or says
    /// why not: [`Denied::Wait`] with the time until enough permits are
    /// available, or [`Denied::Never`] when `weight` exceeds the burst. A
    /// weight of 0 is always granted. Never waits.
    fn rate_limit_acquire(&self, key: &str, limit: &RateLimit, weight: u32) -> Result<(), Denied>;
}

/// At most this many keys keep state in one map; past it, entries that are
/// as good as new (closed breakers, full buckets) are forgotten, so a client
/// talking to ever new hosts does not grow forever.
const MAX_KEYS: usize = 1024;

/// Shared state per key and per settings, behind a lock held only for a map
/// look-up (the state itself has its own short lock or atomics).
struct Slots<C, T> {
    map: RwLock<HashMap<String, Entries<C, T>, Hasher>>,
}

/// The maps' hasher: foldhash, seeded per process. Every attempt looks its
/// origin up (breaker, budget, limit), and std's SipHash of the key cost
/// ~2 500 instructions a call with `Resilience::standard()` (callgrind).
type Hasher = foldhash::fast::RandomState;

/// The state kept under one key: one entry per distinct settings.
type Entries<C, T> = Vec<(C, Arc<T>)>;

impl<C, T> Default for Slots<C, T> {
    fn default() -> Self {
        Slots {
            map: RwLock::new(HashMap::default()),
        }
    }
}

impl<C: PartialEq, T> Slots<C, T> {
    fn find(&self, key: &str, config: &C) -> Option<Arc<T>> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)?
            .iter()
            .find(|(c, _)| c == config)
            .map(|(_, t)| t.clone())
    }

    fn get_or_insert<E>(
        &self,
        key: &str,
        config: &C,
        make: impl FnOnce() -> Result<(C, T), E>,
        as_new: impl Fn(&T) -> bool,
    ) -> Result<Arc<T>, E> {
        if let Some(t) = self.find(key, config) {
            return Ok(t);
        }
        let (config, value) = make()?;
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, v| {
                v.retain(|(_, t)| !as_new(t));
                !v.is_empty()
            });
        }
        let entries = map.entry(key.to_owned()).or_default();
        // Another thread may have inserted it since the read above.
        if let Some((_, t)) = entries.iter().find(|(c, _)| *c == config) {
            return Ok(t.clone());
        }
        let value = Arc::new(value);
        entries.push((config, value.clone()));
        Ok(value)
    }

    fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(Vec::len)
            .sum()
    }
}

/// What distinguishes one rate limit's permits from another's (how a call
/// waits is the client's business, not the store's).
#[derive(Debug, Clone, Copy, PartialEq)]
struct LimitKey {
    requests: u32,
    per: Duration,
    burst: Option<u32>,
}

impl From<&RateLimit> for LimitKey {
    fn from(l: &RateLimit) -> Self {
        LimitKey {
            requests: l.requests,
            per: l.per,
            burst: l.burst,
        }
    }
}

/// The in-process [`StateStore`], and the default: breakers, budget buckets
/// and rate limiters in this process's memory, each with its own short lock
/// or atomics (no lock is ever held across I/O, so concurrent requests are
/// not serialized). Time is tokio's monotonic clock (so it follows
/// `tokio::time::pause` in tests) for breakers, and `governor`'s for the
/// rate limit.
///
/// State is kept per key (origin, budget or limit name) and per settings:
/// two clients sharing this store share a breaker for an origin when their
/// [`CircuitBreaker`] settings are equal, and likewise for the budget and
/// the limit. Share it with an `Arc`:
///
/// ```
/// use std::sync::Arc;
/// use keel::resilience::{InMemoryStore, Resilience};
/// let store = Arc::new(InMemoryStore::new());
/// let policy = Resilience::builder().state_store(store).build()?;
/// let a = keel::HttpClient::new("http://127.0.0.1:8080")?.with_resilience(policy.clone());
/// let b = keel::HttpClient::new("http://127.0.0.1:8080")?.with_resilience(policy);
/// # let _ = (a, b);
/// # Ok::<(), keel::Error>(())
/// ```
#[derive(Default)]
pub struct InMemoryStore {
    breakers: Slots<CircuitBreaker, Breaker>,
    budgets: Slots<RetryBudget, Bucket>,
    limiters: Slots<LimitKey, Limiter>,
    nonces: super::shared::LocalNonces,
}

impl fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryStore")
            .field("breakers", &self.breakers.len())
            .field("budgets", &self.budgets.len())
            .field("rate_limits", &self.limiters.len())
            .finish()
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The nonce sequences (see [`NonceStore`](super::NonceStore)).
    pub(crate) fn nonces(&self) -> &super::shared::LocalNonces {
        &self.nonces
    }

    fn breaker(&self, origin: &str, config: &CircuitBreaker, now: Instant) -> Arc<Breaker> {
        let made = self.breakers.get_or_insert(
            origin,
            config,
            || {
                Ok::<_, std::convert::Infallible>((
                    config.clone(),
                    Breaker::new(config.clone(), now),
                ))
            },
            |b| b.state() == BreakerState::Closed,
        );
        match made {
            Ok(b) => b,
            Err(never) => match never {},
        }
    }

    fn bucket(&self, key: &str, budget: &RetryBudget) -> Arc<Bucket> {
        let made = self.budgets.get_or_insert(
            key,
            budget,
            || Ok::<_, std::convert::Infallible>((*budget, Bucket::new(*budget))),
            Bucket::is_full,
        );
        match made {
            Ok(b) => b,
            Err(never) => match never {},
        }
    }
}

impl StateStore for InMemoryStore {
    fn breaker_refusing(&self, origin: &str, config: &CircuitBreaker) -> Option<Duration> {
        self.breakers.find(origin, config)?.refusing(Instant::now())
    }

    fn breaker_acquire(
        &self,
        origin: &str,
        config: &CircuitBreaker,
    ) -> (Result<Permit, Duration>, Option<Transition>) {
        let now = Instant::now();
        self.breaker(origin, config, now).acquire(now)
    }

    fn breaker_record(
        &self,
        origin: &str,
        config: &CircuitBreaker,
        permit: Permit,
        failure: bool,
    ) -> Option<Transition> {
        let now = Instant::now();
        self.breaker(origin, config, now)
            .record(now, permit, failure)
    }

    fn breaker_state(&self, origin: &str, config: &CircuitBreaker) -> BreakerState {
        self.breakers
            .find(origin, config)
            .map_or(BreakerState::Closed, |b| b.state())
    }

    fn budget_withdraw(&self, key: &str, budget: &RetryBudget, tokens: u32) -> bool {
        self.bucket(key, budget).take(tokens)
    }

    fn budget_deposit(&self, key: &str, budget: &RetryBudget, tokens: u32) {
        self.bucket(key, budget).put(tokens)
    }

    fn rate_limit_acquire(&self, key: &str, limit: &RateLimit, weight: u32) -> Result<(), Denied> {
        let id = LimitKey::from(limit);
        let limiter = self.limiters.get_or_insert(
            key,
            &id,
            || Limiter::new(limit).map(|l| (id, l)),
            |_| false,
        );
        match limiter {
            Ok(l) => l.try_acquire(weight),
            // Only an unvalidated limit gets here (`ResilienceBuilder::build`
            // rejects them): it grants nothing.
            Err(_) => Err(Denied::Never { burst: 0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new()
            .consecutive_failures(2)
            .no_failure_ratio()
            .open_for(Duration::from_secs(30))
    }

    fn trip(s: &InMemoryStore, origin: &str, config: &CircuitBreaker) {
        for _ in 0..2 {
            let (p, _) = s.breaker_acquire(origin, config);
            s.breaker_record(origin, config, p.unwrap(), true);
        }
    }

    #[test]
    fn state_is_per_origin_and_per_settings() {
        let s = InMemoryStore::new();
        let a = breaker();
        assert_eq!(s.breaker_state("http://a", &a), BreakerState::Closed);
        assert_eq!(s.breaker_refusing("http://a", &a), None);
        trip(&s, "http://a", &a);
        assert_eq!(s.breaker_state("http://a", &a), BreakerState::Open);
        assert!(s.breaker_refusing("http://a", &a) > Some(Duration::from_secs(29)));
        assert!(s.breaker_acquire("http://a", &a).0.is_err());
        // Another origin, or other settings, have their own breaker.
        assert!(s.breaker_acquire("http://b", &a).0.is_ok());
        let other = breaker().open_for(Duration::from_secs(1));
        assert_eq!(s.breaker_state("http://a", &other), BreakerState::Closed);
        assert!(s.breaker_acquire("http://a", &other).0.is_ok());
    }

    #[test]
    fn budgets_and_limits_are_per_key() {
        let s = InMemoryStore::new();
        let b = RetryBudget::new(10);
        assert!(s.budget_withdraw("x", &b, 6));
        assert!(!s.budget_withdraw("x", &b, 6), "4 left");
        assert!(s.budget_withdraw("y", &b, 6), "y has its own bucket");
        s.budget_deposit("x", &b, 100);
        assert!(s.budget_withdraw("x", &b, 10), "refilled, up to capacity");
        assert!(!s.budget_withdraw("x", &b, 1));

        let l = RateLimit::per_second(1);
        assert_eq!(s.rate_limit_acquire("x", &l, 1), Ok(()));
        assert!(matches!(
            s.rate_limit_acquire("x", &l, 1),
            Err(Denied::Wait(d)) if d > Duration::ZERO && d <= Duration::from_secs(1)
        ));
        assert_eq!(s.rate_limit_acquire("y", &l, 1), Ok(()));
        assert_eq!(s.rate_limit_acquire("x", &l, 0), Ok(()));
        assert_eq!(
            s.rate_limit_acquire("z", &l, 2),
            Err(Denied::Never { burst: 1 })
        );
        // An unvalidated limit is refused, not a panic.
        assert_eq!(
            s.rate_limit_acquire("bad", &RateLimit::per_second(0), 1),
            Err(Denied::Never { burst: 0 })
        );
    }

    #[test]
    fn closed_breakers_are_forgotten_past_the_cap_open_ones_are_kept() {
        let s = InMemoryStore::new();
        let c = breaker();
        trip(&s, "http://open", &c);
        for i in 0..MAX_KEYS + 10 {
            let _ = s.breaker_acquire(&format!("http://h{i}"), &c);
        }
        assert!(s.breakers.len() <= MAX_KEYS, "{}", s.breakers.len());
        assert_eq!(s.breaker_state("http://open", &c), BreakerState::Open);
    }

    #[test]
    fn the_store_is_usable_from_many_threads() {
        let s = Arc::new(InMemoryStore::new());
        let b = RetryBudget::new(1000).retry_cost(1);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..500).filter(|_| s.budget_withdraw("k", &b, 1)).count()
                })
            })
            .collect();
        let taken: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(
            taken, 1000,
            "exactly the capacity, no token lost or doubled"
        );
    }
}
