//! A resilience state store on Redis: one rate limit, breaker per origin,
//! retry budget and nonce sequence for a whole fleet of processes.
//!
//! Every operation is one Lua script, run atomically by the Redis server
//! (`EVALSHA`, loaded on first use), against the Redis server's own clock
//! (`TIME`), so processes whose clocks differ still share one timeline.
//! The scripts are in `src/resilience/redis/*.lua`, each with its contract
//! at the top.

use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{FromRedisValue, Script};
use tokio::time::Instant;

use super::breaker::{BreakerState, CircuitBreaker, Permit, Transition};
use super::budget::RetryBudget;
use super::limiter::{Denied, RateLimit};
use super::shared::{
    BreakerStore, BudgetStore, LocalNonces, NonceLease, NonceStore, OnUnavailable, RateLimitStore,
    StoreError, StoreErrorKind, StoreFuture,
};
use super::store::{InMemoryStore, StateStore};
use super::{EventHook, ResilienceEvent};
use crate::error::{Error, Result};

const GCRA: &str = include_str!("redis/gcra.lua");
const BREAKER: &str = include_str!("redis/breaker.lua");
const BUDGET: &str = include_str!("redis/budget.lua");
const NONCE: &str = include_str!("redis/nonce.lua");

/// How long an untouched budget or breaker is kept (then it is as new:
/// a full bucket, a closed breaker).
const IDLE_TTL: Duration = Duration::from_secs(3600);

/// The largest nonce floor the nonce script accepts (Redis integers are
/// signed 64-bit).
const MAX_NONCE: u64 = i64::MAX as u64;

/// A [`BreakerStore`], [`BudgetStore`], [`RateLimitStore`] and
/// [`NonceStore`] on a Redis server, shared by every process that uses the
/// same server and namespace. Cheap to clone (the connection is shared).
///
/// - **Rate limit**: GCRA with request weights, the same semantics as the
///   in-process limiter (the caller waits for permits within its bound, or
///   fails at once), on the Redis server's clock.
/// - **Circuit breaker**: one state per origin (and breaker settings)
///   across the fleet. Each transition is made by exactly one script call
///   and returned to that caller only, so it is reported once; exactly one
///   process wins each half-open probe slot and the others fail fast.
/// - **Retry budget**: one token bucket per key.
/// - **Nonces**: strictly increasing per key, with an optional lease that
///   keeps requests in nonce order as the server receives them.
///
/// Every call has a timeout ([`RedisStoreBuilder::timeout`], 50 ms by
/// default); when Redis cannot answer, the store follows its
/// [`OnUnavailable`] policy, reports [`ResilienceEvent::StoreUnavailable`]
/// once per outage (and [`ResilienceEvent::StoreRecovered`] when it answers
/// again), and while it is away asks it again at most once per
/// [`recheck_every`](RedisStoreBuilder::recheck_every), answering
/// everything else at once.
///
/// Keys live under the namespace (`keel` by default) and the key, scope or
/// origin the client passes: `keel:rl:{key}:…`, `keel:breaker:{scope}:{origin}:…`,
/// `keel:budget:{key}:…`, `keel:nonce:{key}`. Idle keys expire (a full
/// limit, an hour-old budget or breaker), so Redis holds only live state.
///
/// ```no_run
/// # async fn run() -> keel::Result<()> {
/// use std::time::Duration;
/// use keel::resilience::{OnUnavailable, RateLimit, RateLimitStore, RedisStore};
/// let store = RedisStore::builder("redis://127.0.0.1:6379")
///     .namespace("orders-service")
///     .timeout(Duration::from_millis(50))
///     .on_unavailable(OnUnavailable::FailClosed)
///     .connect()
///     .await?;
/// let limit = RateLimit::per_second(50).burst(5);
/// match store.rate_limit_take("binance-key-1", &limit, 2).await {
///     Ok(Ok(())) => { /* send */ }
///     Ok(Err(denied)) => { /* wait, or fail */ let _ = denied; }
///     Err(redis_down) => eprintln!("{redis_down}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    /// The server's address without credentials, for messages.
    shown: String,
    namespace: String,
    timeout: Duration,
    recheck_every: Duration,
    policy: OnUnavailable,
    on_event: Option<EventHook>,
    /// The state answered from while Redis is away (fail open).
    local: InMemoryStore,
    local_nonces: LocalNonces,
    down: Mutex<Option<Outage>>,
    gcra: Script,
    breaker: Script,
    budget: Script,
    nonce: Script,
}

#[derive(Debug, Clone, Copy)]
struct Outage {
    since: Instant,
    next_check: Instant,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.inner.shown)
            .field("namespace", &self.inner.namespace)
            .field("timeout", &self.inner.timeout)
            .field("on_unavailable", &self.inner.policy)
            .field("available", &self.is_available())
            .finish_non_exhaustive()
    }
}

/// Configures and connects a [`RedisStore`].
#[derive(Clone)]
#[must_use = "a builder does nothing until `connect()`"]
pub struct RedisStoreBuilder {
    url: String,
    namespace: String,
    timeout: Duration,
    recheck_every: Duration,
    policy: OnUnavailable,
    on_event: Option<EventHook>,
    require_connection: bool,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("server", &shown(&self.url))
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("on_unavailable", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A Redis URL for messages: the password (and user) replaced.
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() || !u.username().is_empty() {
                let _ = u.set_password(None);
                let _ = u.set_username("");
                let mut s = u.to_string();
                if let Some(i) = s.find("://") {
                    s.insert_str(i + 3, "***@");
                }
                s
            } else {
                u.to_string()
            }
        }
        Err(_) => "<unparseable redis url>".to_owned(),
    }
}

impl RedisStoreBuilder {
    /// The namespace every key lives under (default `keel`). Processes that
    /// should share state use the same namespace; unrelated applications on
    /// one Redis use different ones.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The longest a store call may take, connecting included (default
    /// 50 ms; at least 1 ms). Past it the call counts as unavailable.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// While Redis is unavailable, how often one call tries it again
    /// (default 1 s); the others answer at once by the policy.
    pub fn recheck_every(mut self, every: Duration) -> Self {
        self.recheck_every = every;
        self
    }

    /// What happens when Redis cannot answer (default
    /// [`OnUnavailable::FailOpen`]).
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Self {
        self.policy = policy;
        self
    }

    /// A callback for [`ResilienceEvent::StoreUnavailable`] and
    /// [`ResilienceEvent::StoreRecovered`].
    pub fn on_event(mut self, hook: EventHook) -> Self {
        self.on_event = Some(hook);
        self
    }

    /// Whether [`connect`](Self::connect) fails when Redis cannot be
    /// reached at once (default: only under [`OnUnavailable::FailClosed`];
    /// a fail-open store starts unavailable and connects when Redis comes).
    pub fn require_connection(mut self, require: bool) -> Self {
        self.require_connection = require;
        self
    }

    /// Validates the settings and connects. Fails with
    /// [`Error::InvalidConfig`] for a bad URL or setting, and when Redis
    /// cannot be reached and a connection is required.
    pub async fn connect(self) -> Result<RedisStore> {
        let shown = shown(&self.url);
        if self.timeout < Duration::from_millis(1) {
            return Err(Error::config(
                "redis store: the timeout must be at least 1 ms",
            ));
        }
        if self.recheck_every.is_zero() {
            return Err(Error::config(
                "redis store: `recheck_every` must be longer than zero",
            ));
        }
        if self.namespace.is_empty() || self.namespace.contains(char::is_whitespace) {
            return Err(Error::config(format!(
                "redis store: the namespace {:?} must be non-empty, without spaces",
                self.namespace
            )));
        }
        let client = ::redis::Client::open(self.url.as_str()).map_err(|e| {
            Error::config(format!(
                "redis store: {shown} is not a usable Redis URL ({e}); use redis://host:port[/db]"
            ))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(self.recheck_every);
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            Error::config(format!(
                "redis store: cannot set up a connection to {shown}: {e}"
            ))
        })?;
        let store = RedisStore {
            inner: std::sync::Arc::new(Inner {
                conn,
                shown,
                namespace: self.namespace,
                timeout: self.timeout,
                recheck_every: self.recheck_every,
                policy: self.policy,
                on_event: self.on_event,
                local: InMemoryStore::new(),
                local_nonces: LocalNonces::default(),
                down: Mutex::new(None),
                gcra: Script::new(GCRA),
                breaker: Script::new(BREAKER),
                budget: Script::new(BUDGET),
                nonce: Script::new(NONCE),
            }),
        };
        let require = self.require_connection || self.policy == OnUnavailable::FailClosed;
        if let Err(e) = store.ping().await {
            if require {
                return Err(Error::config(format!(
                    "redis store: {e}; start Redis (for example `redis-server --port 6379`) or check the URL"
                )));
            }
            store.went_down("connect", &e);
        }
        Ok(store)
    }
}

impl RedisStore {
    /// A builder for a store on the Redis server at `url`
    /// (`redis://host:port[/db]`, `redis://:password@host:port`,
    /// `rediss://` for TLS is not built in).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            namespace: "keel".to_owned(),
            timeout: Duration::from_millis(50),
            recheck_every: Duration::from_secs(1),
            policy: OnUnavailable::FailOpen,
            on_event: None,
            require_connection: false,
        }
    }

    /// Whether the last call found Redis answering.
    pub fn is_available(&self) -> bool {
        self.inner
            .down
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// The policy in force when Redis cannot answer.
    pub fn on_unavailable(&self) -> OnUnavailable {
        self.inner.policy
    }

    /// Asks Redis for a `PONG` within the timeout.
    pub async fn ping(&self) -> std::result::Result<(), StoreError> {
        let mut conn = self.inner.conn.clone();
        let reply: std::result::Result<String, StoreError> = self
            .bounded("ping", async move {
                ::redis::cmd("PING").query_async(&mut conn).await
            })
            .await;
        reply.map(|_| ())
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.inner.namespace.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }

    fn emit(&self, event: ResilienceEvent) {
        if let Some(hook) = &self.inner.on_event {
            hook(&event);
        }
    }

    fn went_down(&self, operation: &'static str, error: &StoreError) {
        let now = Instant::now();
        let first = {
            let mut down = self
                .inner
                .down
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let first = down.is_none();
            let since = down.map_or(now, |d| d.since);
            *down = Some(Outage {
                since,
                next_check: now + self.inner.recheck_every,
            });
            first
        };
        if first {
            tracing::warn!(store = %self.inner.shown, operation, %error, policy = ?self.inner.policy, "redis state store unavailable");
            self.emit(ResilienceEvent::StoreUnavailable {
                store: format!("redis {}", self.inner.shown),
                operation,
                error: error.to_string(),
                policy: self.inner.policy,
            });
        } else {
            tracing::debug!(store = %self.inner.shown, operation, %error, "redis state store still unavailable");
        }
    }

    fn came_back(&self) {
        let was = self
            .inner
            .down
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(outage) = was {
            let after = outage.since.elapsed();
            tracing::info!(store = %self.inner.shown, ?after, "redis state store answers again");
            self.emit(ResilienceEvent::StoreRecovered {
                store: format!("redis {}", self.inner.shown),
                after,
            });
        }
    }

    /// Whether this call should skip Redis (it is known to be away and this
    /// is not the call that checks again).
    fn skip(&self) -> bool {
        let mut down = self
            .inner
            .down
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match down.as_mut() {
            None => false,
            Some(o) => {
                let now = Instant::now();
                if now >= o.next_check {
                    o.next_check = now + self.inner.recheck_every;
                    false
                } else {
                    true
                }
            }
        }
    }

    /// Runs a Redis call within the timeout, mapping its errors.
    async fn bounded<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = ::redis::RedisResult<T>>,
    ) -> std::result::Result<T, StoreError> {
        match tokio::time::timeout(self.inner.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let kind = if e.is_timeout() {
                    StoreErrorKind::Timeout
                } else if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_unrecoverable_error()
                {
                    StoreErrorKind::Unavailable
                } else {
                    StoreErrorKind::Protocol
                };
                Err(StoreError::new(
                    kind,
                    format!("redis {} ({operation}): {e}", self.inner.shown),
                ))
            }
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                format!(
                    "redis {} ({operation}): no answer within {:?}",
                    self.inner.shown, self.inner.timeout
                ),
            )),
        }
    }

    /// Runs one script call under the availability policy: the Redis answer,
    /// or (Redis away) the local answer when failing open, or the error.
    async fn guarded<T: FromRedisValue, R>(
        &self,
        operation: &'static str,
        script: &Script,
        keys: &[&str],
        args: &[&str],
        parse: impl FnOnce(T) -> std::result::Result<R, StoreError>,
        local: impl FnOnce() -> std::result::Result<R, StoreError>,
    ) -> std::result::Result<R, StoreError> {
        let error = if self.skip() {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "redis {} is unavailable (checked again every {:?})",
                    self.inner.shown, self.inner.recheck_every
                ),
            )
        } else {
            let mut conn = self.inner.conn.clone();
            let mut inv = script.prepare_invoke();
            for k in keys {
                inv.key(*k);
            }
            for a in args {
                inv.arg(*a);
            }
            match self
                .bounded(
                    operation,
                    async move { inv.invoke_async::<T>(&mut conn).await },
                )
                .await
            {
                Ok(v) => {
                    self.came_back();
                    return parse(v);
                }
                Err(e) => {
                    self.went_down(operation, &e);
                    e
                }
            }
        };
        match self.inner.policy {
            OnUnavailable::FailOpen => local(),
            OnUnavailable::FailClosed => Err(error),
        }
    }
}

fn micros(d: Duration) -> String {
    d.as_micros().to_string()
}

fn millis_ceil(d: Duration) -> String {
    (d.as_micros().div_ceil(1000).max(1)).to_string()
}

fn protocol(what: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Protocol,
        format!("redis answered {what}; is the server Redis 5 or later?"),
    )
}

fn transition(code: i64) -> std::result::Result<Option<Transition>, StoreError> {
    use BreakerState::{Closed, HalfOpen, Open};
    Ok(match code {
        0 => None,
        1 => Some((Closed, Open)),
        2 => Some((Open, HalfOpen)),
        3 => Some((HalfOpen, Open)),
        4 => Some((HalfOpen, Closed)),
        other => return Err(protocol(&format!("an unknown breaker transition {other}"))),
    })
}

/// The breaker's settings as they appear in its key (so breakers with other
/// settings keep their own state) and as script arguments.
struct BreakerArgs {
    id: String,
    args: [String; 7],
}

impl BreakerArgs {
    fn new(c: &CircuitBreaker) -> Self {
        let cons = c.consecutive_failures.unwrap_or(0);
        let (ratio, window, min) = c.failure_ratio.unwrap_or((0.0, Duration::ZERO, 0));
        let id = format!(
            "c{cons}r{ratio}w{}m{min}o{}p{}",
            window.as_millis(),
            c.open_for.as_millis(),
            c.half_open_probes
        );
        let ttl = IDLE_TTL.max(c.open_for * 2).max(window * 2);
        BreakerArgs {
            id,
            args: [
                cons.to_string(),
                ratio.to_string(),
                micros(window),
                min.to_string(),
                micros(c.open_for),
                c.half_open_probes.to_string(),
                millis_ceil(ttl),
            ],
        }
    }

    fn with<'a>(&'a self, op: &'a str, permit: &'a str, failure: &'a str) -> [&'a str; 10] {
        let a = &self.args;
        [
            op, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], permit, failure, &a[6],
        ]
    }
}

impl BreakerStore for RedisStore {
    fn breaker_wait<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, Option<Duration>> {
        Box::pin(async move {
            let b = BreakerArgs::new(config);
            let key = self.key(&["breaker", scope, origin, &b.id]);
            self.guarded(
                "breaker",
                &self.inner.breaker,
                &[&key],
                &b.with("wait", "n", "0"),
                |us: i64| Ok((us > 0).then(|| Duration::from_micros(us.unsigned_abs()))),
                || Ok(self.inner.local.breaker_refusing(origin, config)),
            )
            .await
        })
    }

    fn breaker_admit<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, (std::result::Result<Permit, Duration>, Option<Transition>)> {
        Box::pin(async move {
            let b = BreakerArgs::new(config);
            let key = self.key(&["breaker", scope, origin, &b.id]);
            self.guarded(
                "breaker",
                &self.inner.breaker,
                &[&key],
                &b.with("admit", "n", "0"),
                |r: Vec<i64>| match r.as_slice() {
                    [1, probe, t] => Ok((
                        Ok(if *probe == 1 {
                            Permit::Probe
                        } else {
                            Permit::Normal
                        }),
                        transition(*t)?,
                    )),
                    [0, wait, t] => Ok((
                        Err(Duration::from_micros(wait.unsigned_abs())),
                        transition(*t)?,
                    )),
                    other => Err(protocol(&format!("{other:?} to a breaker admission"))),
                },
                || Ok(self.inner.local.breaker_acquire(origin, config)),
            )
            .await
        })
    }

    fn breaker_report<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
        permit: Permit,
        failure: bool,
    ) -> StoreFuture<'a, Option<Transition>> {
        Box::pin(async move {
            let b = BreakerArgs::new(config);
            let key = self.key(&["breaker", scope, origin, &b.id]);
            let p = if permit == Permit::Probe { "p" } else { "n" };
            let f = if failure { "1" } else { "0" };
            self.guarded(
                "breaker",
                &self.inner.breaker,
                &[&key],
                &b.with("report", p, f),
                transition,
                || {
                    Ok(self
                        .inner
                        .local
                        .breaker_record(origin, config, permit, failure))
                },
            )
            .await
        })
    }

    fn breaker_status<'a>(
        &'a self,
        scope: &'a str,
        origin: &'a str,
        config: &'a CircuitBreaker,
    ) -> StoreFuture<'a, BreakerState> {
        Box::pin(async move {
            let b = BreakerArgs::new(config);
            let key = self.key(&["breaker", scope, origin, &b.id]);
            self.guarded(
                "breaker",
                &self.inner.breaker,
                &[&key],
                &b.with("status", "n", "0"),
                |s: i64| match s {
                    0 => Ok(BreakerState::Closed),
                    1 => Ok(BreakerState::Open),
                    2 => Ok(BreakerState::HalfOpen),
                    other => Err(protocol(&format!("an unknown breaker state {other}"))),
                },
                || Ok(self.inner.local.breaker_state(origin, config)),
            )
            .await
        })
    }
}

impl BudgetStore for RedisStore {
    fn budget_take<'a>(
        &'a self,
        key: &'a str,
        budget: &'a RetryBudget,
        tokens: u32,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let cap = budget.capacity.to_string();
            let k = self.key(&["budget", key, &cap]);
            self.guarded(
                "retry_budget",
                &self.inner.budget,
                &[&k],
                &["take", &cap, &tokens.to_string(), &millis_ceil(IDLE_TTL)],
                |r: i64| Ok(r == 1),
                || Ok(self.inner.local.budget_withdraw(key, budget, tokens)),
            )
            .await
        })
    }

    fn budget_put<'a>(
        &'a self,
        key: &'a str,
        budget: &'a RetryBudget,
        tokens: u32,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if tokens == 0 {
                return Ok(());
            }
            let cap = budget.capacity.to_string();
            let k = self.key(&["budget", key, &cap]);
            self.guarded(
                "retry_budget",
                &self.inner.budget,
                &[&k],
                &["put", &cap, &tokens.to_string(), &millis_ceil(IDLE_TTL)],
                |_: i64| Ok(()),
                || {
                    self.inner.local.budget_deposit(key, budget, tokens);
                    Ok(())
                },
            )
            .await
        })
    }
}

impl RateLimitStore for RedisStore {
    fn rate_limit_take<'a>(
        &'a self,
        key: &'a str,
        limit: &'a RateLimit,
        weight: u32,
    ) -> StoreFuture<'a, std::result::Result<(), Denied>> {
        Box::pin(async move {
            if weight == 0 {
                return Ok(Ok(()));
            }
            if limit.requests == 0 {
                // Only an unvalidated limit gets here: it grants nothing.
                return Ok(Err(Denied::Never { burst: 0 }));
            }
            let burst = limit.burst.unwrap_or(1);
            if burst == 0 {
                return Ok(Err(Denied::Never { burst: 0 }));
            }
            let interval_us = limit.per.as_secs_f64() * 1e6 / f64::from(limit.requests);
            let id = format!("{}/{}us/b{burst}", limit.requests, limit.per.as_micros());
            let k = self.key(&["rl", key, &id]);
            self.guarded(
                "rate_limit",
                &self.inner.gcra,
                &[&k],
                &[
                    &format!("{interval_us:.3}"),
                    &burst.to_string(),
                    &weight.to_string(),
                ],
                |r: i64| {
                    Ok(match r {
                        0 => Ok(()),
                        -1 => Err(Denied::Never { burst }),
                        us => Err(Denied::Wait(Duration::from_micros(us.unsigned_abs()))),
                    })
                },
                || Ok(self.inner.local.rate_limit_acquire(key, limit, weight)),
            )
            .await
        })
    }
}

fn nonce_floor(at_least: u64) -> std::result::Result<String, StoreError> {
    if at_least > MAX_NONCE {
        return Err(StoreError::new(
            StoreErrorKind::Invalid,
            format!("a nonce floor of {at_least} is above what Redis counts to (2^63 - 1)"),
        ));
    }
    Ok(at_least.to_string())
}

fn parse_nonce(s: &str) -> std::result::Result<u64, StoreError> {
    s.parse()
        .map_err(|_| protocol(&format!("{s:?} as a nonce")))
}

impl NonceStore for RedisStore {
    fn nonce_next<'a>(&'a self, key: &'a str, at_least: u64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let floor = nonce_floor(at_least)?;
            let k = self.key(&["nonce", key]);
            let lease = self.key(&["nonce", key, "lease"]);
            let n = self
                .guarded(
                    "nonce",
                    &self.inner.nonce,
                    &[&k, &lease],
                    &["next", &floor],
                    |s: String| parse_nonce(&s).map(Some),
                    || Ok(None),
                )
                .await?;
            match n {
                Some(n) => {
                    self.inner.local_nonces.observe(key, n);
                    Ok(n)
                }
                None => self.inner.local_nonces.next(key, at_least),
            }
        })
    }

    fn nonce_lease<'a>(
        &'a self,
        key: &'a str,
        at_least: u64,
        hold: Duration,
    ) -> StoreFuture<'a, std::result::Result<NonceLease, ()>> {
        Box::pin(async move {
            let floor = nonce_floor(at_least)?;
            let k = self.key(&["nonce", key]);
            let lease = self.key(&["nonce", key, "lease"]);
            let token: u64 = rand::random::<u64>() >> 1;
            let got = self
                .guarded(
                    "nonce",
                    &self.inner.nonce,
                    &[&k, &lease],
                    &["lease", &floor, &token.to_string(), &millis_ceil(hold)],
                    |s: Option<String>| match s {
                        Some(s) => parse_nonce(&s).map(|n| Some(Ok(NonceLease::new(n, token)))),
                        None => Ok(Some(Err(()))),
                    },
                    || Ok(None),
                )
                .await?;
            match got {
                Some(Ok(lease)) => {
                    self.inner.local_nonces.observe(key, lease.nonce);
                    Ok(Ok(lease))
                }
                Some(Err(())) => Ok(Err(())),
                // Failing open: this process's own lease and sequence.
                None => self.inner.local_nonces.lease(key, at_least, hold),
            }
        })
    }

    fn nonce_release<'a>(&'a self, key: &'a str, lease: &'a NonceLease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // A lease handed out locally (Redis away) is released locally;
            // releasing a token that is not held is a no-op on either side.
            self.inner.local_nonces.release(key, lease);
            let k = self.key(&["nonce", key]);
            let l = self.key(&["nonce", key, "lease"]);
            let token = lease.token().to_string();
            self.guarded(
                "nonce",
                &self.inner.nonce,
                &[&k, &l],
                &["release", &token],
                |_: i64| Ok(()),
                || Ok(()),
            )
            .await
        })
    }
}
