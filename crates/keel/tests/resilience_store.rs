//! The resilience state store (`keel::resilience::StateStore`): clients built
//! independently share breakers through one store, the pipeline asks the
//! store at every attempt (async and blocking drivers), and the in-memory
//! store does not serialize concurrent requests. Against the demo server.

mod resilience_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keel::resilience::{
    BreakerPermit, BreakerState, BreakerTransition, CircuitBreaker, InMemoryStore, OnLimit,
    RateLimit, RateLimitDenied, Resilience, RetryBudget, StateStore,
};
use keel::{Error, HttpClient};
use keel_demo::DemoServer;
use resilience_support::{fast, Env, Mode};

fn breaker() -> CircuitBreaker {
    CircuitBreaker::new()
        .consecutive_failures(2)
        .no_failure_ratio()
        .open_for(Duration::from_secs(30))
}

#[tokio::test]
async fn a_breaker_opened_by_one_client_fails_fast_in_another() {
    let server = DemoServer::start().await.unwrap();
    let store = Arc::new(InMemoryStore::new());
    let policy = fast()
        .max_attempts(1)
        .circuit_breaker(breaker())
        .state_store(store.clone())
        .build()
        .unwrap();
    // Two clients built independently: no pool, no state in common but the
    // store.
    let a = HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy.clone());
    let b = HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy.clone());
    assert!(!a.shares_pool_with(&b));
    let fail = |c: &HttpClient| {
        c.get("/fault/fail?times=100&status=503")
            .header("X-Fault-Key", "shared-breaker")
    };
    let origin = server.url().trim_end_matches('/').to_owned();

    for _ in 0..2 {
        assert_eq!(fail(&a).send().await.unwrap().status, 503);
    }
    assert_eq!(store.breaker_state(&origin, &breaker()), BreakerState::Open);
    // `b` never sent anything to this origin, yet fails fast.
    match fail(&b).send().await {
        Err(Error::CircuitOpen {
            origin: o,
            retry_in,
        }) => {
            assert_eq!(o, origin);
            assert!(retry_in > Duration::from_secs(25), "{retry_in:?}");
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(server.state().arrivals("shared-breaker").arrivals, 2);

    // The same policy without the store starts fresh state, as before.
    let fresh = HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy.to_builder().no_state_store().build().unwrap());
    assert_eq!(fail(&fresh).send().await.unwrap().status, 503);
    assert_eq!(server.state().arrivals("shared-breaker").arrivals, 3);
    // So does `with_resilience` with a policy that has no store.
    let refreshed = b.with_resilience(
        fast()
            .max_attempts(1)
            .circuit_breaker(breaker())
            .build()
            .unwrap(),
    );
    assert_eq!(fail(&refreshed).send().await.unwrap().status, 503);
    assert_eq!(server.state().arrivals("shared-breaker").arrivals, 4);
}

/// A store that counts the calls it gets, delegating to an `InMemoryStore`,
/// and that can be told to report every breaker open.
#[derive(Default)]
struct Counting {
    inner: InMemoryStore,
    calls: Mutex<HashMap<&'static str, u32>>,
    deposited: Mutex<u32>,
    force_open: AtomicBool,
}

impl Counting {
    fn count(&self, name: &'static str) {
        *self.calls.lock().unwrap().entry(name).or_default() += 1;
    }

    fn take(&self) -> HashMap<&'static str, u32> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl StateStore for Counting {
    fn breaker_refusing(&self, origin: &str, config: &CircuitBreaker) -> Option<Duration> {
        self.count("breaker_refusing");
        if self.force_open.load(Ordering::SeqCst) {
            return Some(Duration::from_secs(7));
        }
        self.inner.breaker_refusing(origin, config)
    }

    fn breaker_acquire(
        &self,
        origin: &str,
        config: &CircuitBreaker,
    ) -> (Result<BreakerPermit, Duration>, Option<BreakerTransition>) {
        self.count("breaker_acquire");
        self.inner.breaker_acquire(origin, config)
    }

    fn breaker_record(
        &self,
        origin: &str,
        config: &CircuitBreaker,
        permit: BreakerPermit,
        failure: bool,
    ) -> Option<BreakerTransition> {
        self.count(if failure {
            "breaker_record_failure"
        } else {
            "breaker_record_success"
        });
        self.inner.breaker_record(origin, config, permit, failure)
    }

    fn breaker_state(&self, origin: &str, config: &CircuitBreaker) -> BreakerState {
        self.count("breaker_state");
        self.inner.breaker_state(origin, config)
    }

    fn budget_withdraw(&self, key: &str, budget: &RetryBudget, tokens: u32) -> bool {
        self.count("budget_withdraw");
        self.inner.budget_withdraw(key, budget, tokens)
    }

    fn budget_deposit(&self, key: &str, budget: &RetryBudget, tokens: u32) {
        self.count("budget_deposit");
        *self.deposited.lock().unwrap() += tokens;
        self.inner.budget_deposit(key, budget, tokens)
    }

    fn rate_limit_acquire(
        &self,
        key: &str,
        limit: &RateLimit,
        weight: u32,
    ) -> Result<(), RateLimitDenied> {
        self.count("rate_limit_acquire");
        self.inner.rate_limit_acquire(key, limit, weight)
    }
}

fn counted_policy(store: Arc<Counting>) -> Resilience {
    fast()
        .max_attempts(3)
        .circuit_breaker(CircuitBreaker::new().consecutive_failures(10))
        .retry_budget(RetryBudget::new(100).retry_cost(5))
        .rate_limit(RateLimit::per_second(1000).burst(100))
        .state_store(store)
        .build()
        .unwrap()
}

fn every_attempt_goes_through_the_store(env: &Env, key: &str) {
    let store = Arc::new(Counting::default());
    let client = env.client(counted_policy(store.clone()));
    let path = "/fault/fail?times=2&status=503";

    // Two 503s then a 200: three attempts, two retries, one success.
    let resp = env
        .mode
        .send(client.get(path).header("X-Fault-Key", key))
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.attempts(), 3);
    assert_eq!(env.arrivals(key).arrivals, 3);
    let calls = store.take();
    let expected: HashMap<&str, u32> = [
        ("breaker_refusing", 3),
        ("rate_limit_acquire", 3),
        ("breaker_acquire", 3),
        ("breaker_record_failure", 2),
        ("breaker_record_success", 1),
        ("budget_withdraw", 2),
        ("budget_deposit", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(calls, expected);
    // A success after a retry puts back what the last retry took.
    assert_eq!(*store.deposited.lock().unwrap(), 5);

    // The store's answer is what the client obeys: an open breaker there
    // fails the call at once, and nothing is sent.
    store.force_open.store(true, Ordering::SeqCst);
    match env.mode.send(client.get(path).header("X-Fault-Key", key)) {
        Err(Error::CircuitOpen { retry_in, .. }) => {
            assert_eq!(retry_in, Duration::from_secs(7))
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(env.arrivals(key).arrivals, 3);
    let calls = store.take();
    assert_eq!(calls.get("breaker_refusing"), Some(&1));
    assert_eq!(calls.len(), 1, "{calls:?}");
}

#[test]
fn every_attempt_goes_through_the_store_async() {
    every_attempt_goes_through_the_store(&Env::new(Mode::asynchronous()), "count-async");
}

#[test]
fn every_attempt_goes_through_the_store_blocking() {
    every_attempt_goes_through_the_store(&Env::new(Mode::Blocking), "count-blocking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_store_does_not_serialize_concurrent_requests() {
    const CALLS: usize = 8;
    const DELAY_MS: u64 = 1500;
    let server = DemoServer::start().await.unwrap();
    let store = Arc::new(InMemoryStore::new());
    let limit = RateLimit::per_second(1000).burst(100);
    let budget = RetryBudget::new(100);
    let policy = fast()
        .circuit_breaker(breaker())
        .retry_budget(budget)
        .rate_limit(limit.on_limit(OnLimit::Fail))
        .state_store(store.clone())
        .build()
        .unwrap();
    // Two independent clients on one store, half the calls each.
    let clients = [
        HttpClient::new(server.url())
            .unwrap()
            .with_resilience(policy.clone()),
        HttpClient::new(server.url())
            .unwrap()
            .with_resilience(policy),
    ];
    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let c = clients[i % 2].clone();
            tokio::spawn(async move {
                c.get(&format!("/fault/delay?ms={DELAY_MS}"))
                    .header("X-Fault-Key", "concurrent")
                    .send()
                    .await
            })
        })
        .collect();

    // Wait (bounded) until every call is in flight on the server.
    for _ in 0..200 {
        if server.state().arrivals("concurrent").arrivals == CALLS as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.state().arrivals("concurrent").arrivals, CALLS as u64);

    // While they are in flight, the store answers at once from another
    // thread: no lock is held across the I/O.
    let origin = server.url().trim_end_matches('/').to_owned();
    let probe = store.clone();
    let asked = Instant::now();
    let answers = std::thread::spawn(move || {
        (
            probe.breaker_state(&origin, &breaker()),
            probe.breaker_acquire(&origin, &breaker()).0.is_ok(),
            probe.budget_withdraw("default", &budget, 1),
            probe.rate_limit_acquire("default", &limit, 1),
        )
    })
    .join()
    .unwrap();
    assert_eq!(answers, (BreakerState::Closed, true, true, Ok(())));
    assert!(
        asked.elapsed() < Duration::from_millis(DELAY_MS / 2),
        "the store waited for requests in flight: {:?}",
        asked.elapsed()
    );

    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status, 200);
    }
    // Serialized, the calls would take CALLS * 1.5 s = 12 s.
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(DELAY_MS * CALLS as u64 / 2),
        "{CALLS} concurrent calls took {took:?}"
    );
}
