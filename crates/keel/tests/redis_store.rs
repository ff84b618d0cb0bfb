//! The Redis state store against a real `redis-server` (skipped, saying so,
//! when none is installed): every script's semantics, atomicity under
//! concurrency, namespaces, and what happens when Redis stops answering.

mod redis_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel::resilience::{
    BreakerPermit, BreakerState, BreakerStore, BudgetStore, CircuitBreaker, InMemoryStore,
    NonceStore, OnUnavailable, RateLimit, RateLimitDenied, RateLimitStore, RedisStore,
    ResilienceEvent, RetryBudget, StoreErrorKind,
};
use redis_support::RedisServer;

async fn store(server: &RedisServer, ns: &str) -> RedisStore {
    RedisStore::builder(server.url())
        .namespace(ns)
        .connect()
        .await
        .expect("connect to the test redis")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcra_has_the_in_memory_limiters_semantics() {
    let Some(server) = RedisServer::start("gcra_has_the_in_memory_limiters_semantics") else {
        return;
    };
    let s = store(&server, "gcra").await;
    // A slow limit so the test's own pace cannot refill it: 1 per 10 s,
    // bursts of 3.
    let limit = RateLimit::new(1, Duration::from_secs(10)).burst(3);
    let mem = InMemoryStore::new();
    for store in [&s as &dyn RateLimitStore, &mem] {
        assert_eq!(store.rate_limit_take("k", &limit, 0).await.unwrap(), Ok(()));
        assert_eq!(store.rate_limit_take("k", &limit, 2).await.unwrap(), Ok(()));
        assert_eq!(store.rate_limit_take("k", &limit, 1).await.unwrap(), Ok(()));
        // Empty: the next permit comes one interval (10 s) later, less the
        // little time the calls above took.
        match store.rate_limit_take("k", &limit, 1).await.unwrap() {
            Err(RateLimitDenied::Wait(d)) => {
                assert!(
                    d > Duration::from_secs(9) && d <= Duration::from_secs(10),
                    "{d:?}"
                )
            }
            other => panic!("expected a wait, got {other:?}"),
        }
        // Two permits are two intervals away; a refusal takes nothing.
        match store.rate_limit_take("k", &limit, 2).await.unwrap() {
            Err(RateLimitDenied::Wait(d)) => {
                assert!(
                    d > Duration::from_secs(19) && d <= Duration::from_secs(20),
                    "{d:?}"
                )
            }
            other => panic!("expected a wait, got {other:?}"),
        }
        assert_eq!(
            store.rate_limit_take("k", &limit, 4).await.unwrap(),
            Err(RateLimitDenied::Never { burst: 3 })
        );
        // Another key, or other settings, have their own permits.
        assert_eq!(
            store.rate_limit_take("other", &limit, 3).await.unwrap(),
            Ok(())
        );
        let other = RateLimit::new(1, Duration::from_secs(10)).burst(4);
        assert_eq!(store.rate_limit_take("k", &other, 1).await.unwrap(), Ok(()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcra_grants_exactly_the_burst_to_concurrent_callers() {
    let Some(server) = RedisServer::start("gcra_grants_exactly_the_burst_to_concurrent_callers")
    else {
        return;
    };
    let s = store(&server, "gcra-conc").await;
    let limit = RateLimit::new(1, Duration::from_secs(60)).burst(25);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let w = if i % 2 == 0 { 1 } else { 2 };
                match s.rate_limit_take("k", &limit, w).await.unwrap() {
                    Ok(()) => w,
                    Err(_) => 0,
                }
            })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += t.await.unwrap();
    }
    // Weights 1 and 2 drawn against 25 permits: never more than 25, and at
    // most one permit left unused (a weight-2 request facing one permit).
    assert!((24..=25).contains(&granted), "{granted} permits granted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_transitions_happen_once_and_one_caller_wins_the_probe() {
    let Some(server) =
        RedisServer::start("breaker_transitions_happen_once_and_one_caller_wins_the_probe")
    else {
        return;
    };
    let s = store(&server, "breaker").await;
    let cfg = CircuitBreaker::new()
        .consecutive_failures(5)
        .no_failure_ratio()
        .open_for(ms(300))
        .half_open_probes(1);
    let origin = "http://127.0.0.1:1";
    assert_eq!(
        s.breaker_status("fam", origin, &cfg).await.unwrap(),
        BreakerState::Closed
    );
    // 40 concurrent failures: exactly one of them trips the breaker.
    let reports: Vec<_> = (0..40)
        .map(|_| {
            let (s, cfg) = (s.clone(), cfg.clone());
            tokio::spawn(async move {
                s.breaker_report("fam", origin, &cfg, BreakerPermit::Normal, true)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut trips = 0;
    for r in reports {
        if let Some(t) = r.await.unwrap() {
            assert_eq!(t, (BreakerState::Closed, BreakerState::Open));
            trips += 1;
        }
    }
    assert_eq!(trips, 1);
    assert_eq!(
        s.breaker_status("fam", origin, &cfg).await.unwrap(),
        BreakerState::Open
    );
    let wait = s.breaker_wait("fam", origin, &cfg).await.unwrap();
    assert!(wait.is_some_and(|w| w <= ms(300)), "{wait:?}");
    assert!(s
        .breaker_admit("fam", origin, &cfg)
        .await
        .unwrap()
        .0
        .is_err());
    // Other scopes and settings are not affected.
    assert!(s
        .breaker_wait("other", origin, &cfg)
        .await
        .unwrap()
        .is_none());
    let other = cfg.clone().open_for(ms(301));
    assert!(s
        .breaker_wait("fam", origin, &other)
        .await
        .unwrap()
        .is_none());

    tokio::time::sleep(ms(350)).await;
    // Half-open: of 40 concurrent admissions exactly one gets the probe, and
    // it alone reports open -> half-open.
    let admits: Vec<_> = (0..40)
        .map(|_| {
            let (s, cfg) = (s.clone(), cfg.clone());
            tokio::spawn(async move { s.breaker_admit("fam", origin, &cfg).await.unwrap() })
        })
        .collect();
    let (mut probes, mut transitions, mut refused) = (0, 0, 0);
    for a in admits {
        let (permit, t) = a.await.unwrap();
        match permit {
            Ok(BreakerPermit::Probe) => probes += 1,
            Ok(BreakerPermit::Normal) => panic!("a normal permit while half-open"),
            Err(_) => refused += 1,
        }
        if let Some(t) = t {
            assert_eq!(t, (BreakerState::Open, BreakerState::HalfOpen));
            transitions += 1;
        }
    }
    assert_eq!((probes, transitions, refused), (1, 1, 39));
    // A late outcome of a normal attempt does not close it; the probe does.
    assert_eq!(
        s.breaker_report("fam", origin, &cfg, BreakerPermit::Normal, false)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.breaker_report("fam", origin, &cfg, BreakerPermit::Probe, false)
            .await
            .unwrap(),
        Some((BreakerState::HalfOpen, BreakerState::Closed))
    );
    assert_eq!(
        s.breaker_admit("fam", origin, &cfg).await.unwrap(),
        (Ok(BreakerPermit::Normal), None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_half_open_failure_reopens_and_ratio_trips() {
    let Some(server) = RedisServer::start("breaker_half_open_failure_reopens_and_ratio_trips")
    else {
        return;
    };
    let s = store(&server, "breaker2").await;
    let cfg = CircuitBreaker::new()
        .consecutive_failures(1)
        .no_failure_ratio()
        .open_for(ms(100));
    let o = "http://a";
    assert!(s
        .breaker_report("f", o, &cfg, BreakerPermit::Normal, true)
        .await
        .unwrap()
        .is_some());
    tokio::time::sleep(ms(150)).await;
    let (p, t) = s.breaker_admit("f", o, &cfg).await.unwrap();
    assert_eq!(
        (p, t),
        (
            Ok(BreakerPermit::Probe),
            Some((BreakerState::Open, BreakerState::HalfOpen))
        )
    );
    assert_eq!(
        s.breaker_report("f", o, &cfg, BreakerPermit::Probe, true)
            .await
            .unwrap(),
        Some((BreakerState::HalfOpen, BreakerState::Open))
    );
    assert!(s.breaker_wait("f", o, &cfg).await.unwrap().is_some());

    // Ratio: 50 % of at least 10 attempts over 10 s.
    let ratio = CircuitBreaker::new()
        .no_consecutive_failures()
        .failure_ratio(0.5, Duration::from_secs(10), 10);
    let o = "http://b";
    for i in 0..9 {
        assert_eq!(
            s.breaker_report("f", o, &ratio, BreakerPermit::Normal, i % 2 == 1)
                .await
                .unwrap(),
            None,
            "attempt {i}"
        );
    }
    assert_eq!(
        s.breaker_report("f", o, &ratio, BreakerPermit::Normal, true)
            .await
            .unwrap(),
        Some((BreakerState::Closed, BreakerState::Open))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_is_exact_under_concurrency_and_refills_to_capacity() {
    let Some(server) =
        RedisServer::start("budget_is_exact_under_concurrency_and_refills_to_capacity")
    else {
        return;
    };
    let s = store(&server, "budget").await;
    let b = RetryBudget::new(200);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut n = 0;
                for _ in 0..100 {
                    if s.budget_take("k", &b, 1).await.unwrap() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += t.await.unwrap();
    }
    assert_eq!(taken, 200, "exactly the capacity, no token lost or doubled");
    assert!(!s.budget_take("k", &b, 1).await.unwrap());
    s.budget_put("k", &b, 1000).await.unwrap();
    assert!(
        s.budget_take("k", &b, 200).await.unwrap(),
        "refilled up to capacity"
    );
    assert!(!s.budget_take("k", &b, 1).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_strictly_increase_across_callers_and_leases_exclude() {
    let Some(server) =
        RedisServer::start("nonces_strictly_increase_across_callers_and_leases_exclude")
    else {
        return;
    };
    let a = store(&server, "nonce").await;
    let b = store(&server, "nonce").await; // a second connection, as another process
    assert_eq!(a.nonce_next("k", 1000).await.unwrap(), 1000);
    assert_eq!(b.nonce_next("k", 10).await.unwrap(), 1001);
    assert_eq!(a.nonce_next("k", 5000).await.unwrap(), 5000);
    // Beyond 2^53 (where Lua's doubles lose integers) values stay exact.
    let big = (1u64 << 60) + 1;
    assert_eq!(a.nonce_next("big", big).await.unwrap(), big);
    assert_eq!(b.nonce_next("big", 0).await.unwrap(), big + 1);
    let e = a.nonce_next("k", u64::MAX).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Invalid);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut last = 0;
                for _ in 0..50 {
                    let n = s.nonce_next("c", 0).await.unwrap();
                    assert!(n > last, "one caller's nonces increase");
                    last = n;
                    seen.lock().unwrap().push(n);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut all = seen.lock().unwrap().clone();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 400, "no nonce handed out twice");
    assert_eq!((all[0], all[399]), (1, 400));

    let lease = a
        .nonce_lease("l", 7, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.nonce, 7);
    assert_eq!(
        b.nonce_lease("l", 0, Duration::from_secs(30))
            .await
            .unwrap(),
        Err(())
    );
    a.nonce_release("l", &lease).await.unwrap();
    let next = b
        .nonce_lease("l", 0, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.nonce, 8);
    // Releasing someone else's (or an old) lease does nothing.
    a.nonce_release("l", &lease).await.unwrap();
    assert_eq!(
        a.nonce_lease("l", 0, Duration::from_secs(30))
            .await
            .unwrap(),
        Err(())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_keep_unrelated_clients_apart() {
    let Some(server) = RedisServer::start("namespaces_keep_unrelated_clients_apart") else {
        return;
    };
    let a = store(&server, "app-a").await;
    let a2 = store(&server, "app-a").await;
    let b = store(&server, "app-b").await;
    let limit = RateLimit::new(1, Duration::from_secs(60));
    assert_eq!(
        a.rate_limit_take("default", &limit, 1).await.unwrap(),
        Ok(())
    );
    assert!(
        a2.rate_limit_take("default", &limit, 1)
            .await
            .unwrap()
            .is_err(),
        "same namespace shares"
    );
    assert_eq!(
        b.rate_limit_take("default", &limit, 1).await.unwrap(),
        Ok(()),
        "another namespace does not"
    );
}

fn recorder() -> (
    Arc<Mutex<Vec<ResilienceEvent>>>,
    keel::resilience::EventHook,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (
        events,
        Arc::new(move |e: &ResilienceEvent| sink.lock().unwrap().push(e.clone())),
    )
}

fn count(events: &Mutex<Vec<ResilienceEvent>>, f: impl Fn(&ResilienceEvent) -> bool) -> usize {
    events.lock().unwrap().iter().filter(|e| f(e)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresponsive_redis_fails_open_or_closed_as_configured() {
    let Some(mut server) =
        RedisServer::start("an_unresponsive_redis_fails_open_or_closed_as_configured")
    else {
        return;
    };
    let (open_events, open_hook) = recorder();
    let open = RedisStore::builder(server.url())
        .timeout(ms(50))
        .recheck_every(ms(200))
        .on_event(open_hook)
        .connect()
        .await
        .unwrap();
    let (closed_events, closed_hook) = recorder();
    let closed = RedisStore::builder(server.url())
        .timeout(ms(50))
        .recheck_every(ms(200))
        .on_unavailable(OnUnavailable::FailClosed)
        .on_event(closed_hook)
        .connect()
        .await
        .unwrap();
    let limit = RateLimit::per_second(1000).burst(1000);
    assert_eq!(open.rate_limit_take("k", &limit, 1).await.unwrap(), Ok(()));
    assert_eq!(
        closed.rate_limit_take("k", &limit, 1).await.unwrap(),
        Ok(())
    );

    // Frozen: every call times out.
    server.pause();
    for _ in 0..20 {
        assert_eq!(
            open.rate_limit_take("k", &limit, 1).await.unwrap(),
            Ok(()),
            "fail-open answers from this process's limiter"
        );
        let e = closed.rate_limit_take("k", &limit, 1).await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(e.to_string().contains("redis"), "{e}");
    }
    assert!(!open.is_available() && !closed.is_available());
    let nonce = open.nonce_next("n", 0).await.unwrap();
    assert!(nonce >= 1);
    assert!(closed
        .budget_take("b", &RetryBudget::default(), 5)
        .await
        .is_err());
    for (events, policy) in [
        (&open_events, OnUnavailable::FailOpen),
        (&closed_events, OnUnavailable::FailClosed),
    ] {
        assert_eq!(
            count(
                events,
                |e| matches!(e, ResilienceEvent::StoreUnavailable { policy: p, .. } if *p == policy)
            ),
            1,
            "one event per outage: {:?}",
            events.lock().unwrap()
        );
        let shown = events.lock().unwrap()[0].to_string();
        assert!(
            shown.contains("unavailable") && !shown.contains('\n'),
            "{shown}"
        );
    }

    // Thawed: the next check finds it and says so once.
    server.resume();
    let started = std::time::Instant::now();
    while !(open.is_available() && closed.is_available()) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "redis did not come back"
        );
        tokio::time::sleep(ms(20)).await;
        let _ = open.rate_limit_take("k", &limit, 1).await;
        let _ = closed.rate_limit_take("k", &limit, 1).await;
    }
    assert_eq!(
        count(&open_events, |e| matches!(
            e,
            ResilienceEvent::StoreRecovered { .. }
        )),
        1
    );
    assert_eq!(
        count(&closed_events, |e| matches!(
            e,
            ResilienceEvent::StoreRecovered { .. }
        )),
        1
    );
    // Nonces handed out locally during the outage are below the shared
    // sequence's next one only if the shared one was ahead; the shared
    // sequence itself never goes back.
    let after = open.nonce_next("n", 0).await.unwrap();
    assert!(after >= 1);

    // Killed: connections are refused.
    server.kill();
    assert_eq!(open.rate_limit_take("k", &limit, 1).await.unwrap(), Ok(()));
    let e = closed.rate_limit_take("k", &limit, 1).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(
        count(&open_events, |e| matches!(
            e,
            ResilienceEvent::StoreUnavailable { .. }
        )),
        2
    );
}

#[tokio::test]
async fn connecting_without_a_server_is_clear() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let e = RedisStore::builder(&url)
        .on_unavailable(OnUnavailable::FailClosed)
        .connect()
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("redis-server") && msg.contains("127.0.0.1"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "the password leaked: {msg}");
    // Failing open, a store starts without Redis and says it is unavailable.
    let s = RedisStore::builder(&url).connect().await.unwrap();
    assert!(!s.is_available());
    assert!(!format!("{s:?}").contains("hunter2"));
    let limit = RateLimit::per_second(1);
    assert_eq!(s.rate_limit_take("k", &limit, 1).await.unwrap(), Ok(()));
    // Bad settings are configuration errors.
    for b in [
        RedisStore::builder("not a url"),
        RedisStore::builder(&url).timeout(Duration::ZERO),
        RedisStore::builder(&url).namespace(""),
    ] {
        assert!(matches!(
            b.connect().await,
            Err(keel::Error::InvalidConfig(_))
        ));
    }
}
