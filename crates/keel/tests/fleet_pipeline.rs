//! The shared (Redis) store wired into the request pipeline: clients built
//! independently, each with its own resilience state and its own Redis
//! connection (as two processes would be), share one rate limit, breaker
//! and budget through the store; state is kept per client family unless a
//! scope names it; a store that fails closed fails calls unsent, one that
//! fails open lets them through once; the resilience hook hears the store's
//! outages; ordered nonces reach the server in order; server-sent-event
//! reconnections are paid from the shared retry budget. Against a real
//! `redis-server` (skipped, saying so, when none is installed).

mod redis_support;

/// The README's fleet example, compiled here (it needs the `redis` feature,
/// and a Redis on the default port to run).
#[allow(dead_code)]
mod fleet_readme;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use keel::resilience::{
    CircuitBreaker, OnLimit, OnUnavailable, RateLimit, RedisStore, Resilience, ResilienceEvent,
    RetryBudget,
};
use keel::signing::StoreNonceSource;
use keel::{Error, HttpAuthenticatedClient, HttpClient};
use keel_demo::DemoServer;
use redis_support::RedisServer;

async fn store(server: &RedisServer, ns: &str, policy: OnUnavailable) -> RedisStore {
    RedisStore::builder(server.url())
        .namespace(ns)
        .timeout(Duration::from_millis(500))
        .recheck_every(Duration::from_secs(60))
        .on_unavailable(policy)
        .connect()
        .await
        .expect("connect to the test redis")
}

/// A policy with nothing but what a test names, on `store`.
fn policy(store: RedisStore) -> keel::resilience::ResilienceBuilder {
    Resilience::builder()
        .max_attempts(1)
        .no_circuit_breaker()
        .no_retry_budget()
        .no_deadline()
        .shared_store(Arc::new(store))
}

fn fail_fast(n: u32) -> RateLimit {
    // n per 10 minutes, in one burst: nothing refills during the test.
    RateLimit::new(n, Duration::from_secs(600))
        .burst(n)
        .on_limit(OnLimit::Fail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_clients_share_one_rate_limit_per_family() {
    let Some(redis) = RedisServer::start("independent_clients_share_one_rate_limit_per_family")
    else {
        return;
    };
    let server = DemoServer::start().await.unwrap();
    let limit = fail_fast(4);
    let client = |s: RedisStore, base: String| {
        HttpClient::new(base)
            .unwrap()
            .with_resilience(policy(s).rate_limit(limit).build().unwrap())
    };
    // Two "processes": separate clients, separate connections, one family.
    let a = client(
        store(&redis, "rl", OnUnavailable::FailClosed).await,
        server.url(),
    );
    let b = client(
        store(&redis, "rl", OnUnavailable::FailClosed).await,
        server.url(),
    );
    for c in [&a, &b, &a, &b] {
        let r = c.get("/fault/fail?times=0&key=rl").send().await.unwrap();
        assert_eq!(r.status, 200);
    }
    for c in [&a, &b] {
        match c.get("/fault/fail?times=0&key=rl").send().await {
            Err(Error::RateLimited { retry_in }) => assert!(retry_in > Duration::from_secs(60)),
            other => panic!("expected the shared limit to be spent, got {other:?}"),
        }
    }
    assert_eq!(server.state().arrivals("rl").arrivals, 4);

    // A weight takes that many permits of the shared limit.
    let w = client(
        store(&redis, "rl-weight", OnUnavailable::FailClosed).await,
        server.url(),
    );
    w.get("/fault/fail?times=0&key=w")
        .weight(3)
        .send()
        .await
        .unwrap();
    assert!(matches!(
        w.get("/fault/fail?times=0&key=w").weight(2).send().await,
        Err(Error::RateLimited { .. })
    ));
    w.get("/fault/fail?times=0&key=w")
        .weight(1)
        .send()
        .await
        .unwrap();

    // Another family (another base URL) on the same store and namespace
    // has its own limit …
    let other = client(
        store(&redis, "rl", OnUnavailable::FailClosed).await,
        format!("{}/fault", server.url()),
    );
    other
        .get("/fail?times=0&key=rl-other")
        .send()
        .await
        .unwrap();
    // … unless both name the same scope.
    let scoped = |base: String, s: RedisStore| {
        HttpClient::new(base).unwrap().with_resilience(
            policy(s)
                .rate_limit(fail_fast(1))
                .scope("orders-service")
                .build()
                .unwrap(),
        )
    };
    let x = scoped(
        server.url(),
        store(&redis, "rl", OnUnavailable::FailClosed).await,
    );
    let y = scoped(
        format!("{}/fault", server.url()),
        store(&redis, "rl", OnUnavailable::FailClosed).await,
    );
    x.get("/fault/fail?times=0&key=scoped")
        .send()
        .await
        .unwrap();
    assert!(matches!(
        y.get("/fail?times=0&key=scoped").send().await,
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(server.state().arrivals("scoped").arrivals, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_opened_by_one_client_fails_another_fast() {
    let Some(redis) = RedisServer::start("a_breaker_opened_by_one_client_fails_another_fast")
    else {
        return;
    };
    let server = DemoServer::start().await.unwrap();
    let breaker = CircuitBreaker::new()
        .consecutive_failures(2)
        .no_failure_ratio()
        .open_for(Duration::from_secs(60));
    let (events, hook) = recorder();
    let client = |s: RedisStore, hook: Option<keel::resilience::EventHook>| {
        let mut p = policy(s).circuit_breaker(breaker.clone());
        if let Some(h) = hook {
            p = p.on_event(h);
        }
        HttpClient::new(server.url())
            .unwrap()
            .with_resilience(p.build().unwrap())
    };
    let a = client(
        store(&redis, "br", OnUnavailable::FailClosed).await,
        Some(hook),
    );
    let b = client(store(&redis, "br", OnUnavailable::FailClosed).await, None);
    for _ in 0..2 {
        let r = a
            .get("/fault/fail?times=100&status=503&key=br")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status, 503);
    }
    // The transition was made (and reported) by the client that made it.
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        ResilienceEvent::BreakerTransition {
            to: keel::resilience::BreakerState::Open,
            ..
        }
    )));
    match b.get("/fault/fail?times=100&key=br").send().await {
        Err(Error::CircuitOpen { origin, retry_in }) => {
            assert_eq!(origin, server.url().trim_end_matches('/'));
            assert!(retry_in > Duration::from_secs(50), "{retry_in:?}");
        }
        other => panic!("expected the shared breaker to be open, got {other:?}"),
    }
    assert_eq!(server.state().arrivals("br").arrivals, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_is_shared_and_confirmed_by_the_store() {
    let Some(redis) = RedisServer::start("the_retry_budget_is_shared_and_confirmed_by_the_store")
    else {
        return;
    };
    let server = DemoServer::start().await.unwrap();
    // Room for exactly two retries (cost 5 each) across both clients.
    let client = |s: RedisStore| {
        HttpClient::new(server.url()).unwrap().with_resilience(
            policy(s)
                .max_attempts(3)
                .backoff(Duration::from_millis(1), Duration::from_millis(2))
                .retry_budget(
                    RetryBudget::new(10)
                        .retry_cost(5)
                        .timeout_cost(5)
                        .success_refund(0),
                )
                .build()
                .unwrap(),
        )
    };
    let a = client(store(&redis, "budget", OnUnavailable::FailClosed).await);
    let b = client(store(&redis, "budget", OnUnavailable::FailClosed).await);
    // a: 1 attempt + 2 retries (the whole budget); b: 1 attempt, no retry.
    let r = a
        .get("/fault/fail?times=100&status=503&key=ba")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status, 503);
    let r = b
        .get("/fault/fail?times=100&status=503&key=bb")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(server.state().arrivals("ba").arrivals, 3);
    assert_eq!(server.state().arrivals("bb").arrivals, 1);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_closed_fails_calls_unsent_and_tells_the_resilience_hook() {
    let Some(mut redis) = RedisServer::start("fail_closed_in_the_pipeline") else {
        return;
    };
    let server = DemoServer::start().await.unwrap();
    let s = RedisStore::builder(redis.url())
        .namespace("closed")
        .timeout(Duration::from_millis(100))
        .on_unavailable(OnUnavailable::FailClosed)
        .connect()
        .await
        .unwrap();
    let (events, hook) = recorder();
    let client = HttpClient::new(server.url()).unwrap().with_resilience(
        policy(s)
            .rate_limit(RateLimit::per_second(1000))
            .on_event(hook)
            .build()
            .unwrap(),
    );
    client
        .get("/fault/fail?times=0&key=closed")
        .send()
        .await
        .unwrap();
    redis.kill();
    for _ in 0..3 {
        match client.get("/fault/fail?times=0&key=closed").send().await {
            Err(e @ Error::StoreUnavailable { .. }) => {
                let text = e.to_string();
                assert!(text.contains("not sent"), "{text}");
                assert!(std::error::Error::source(&e).is_some());
            }
            other => panic!("expected the closed store to fail the call, got {other:?}"),
        }
    }
    assert_eq!(server.state().arrivals("closed").arrivals, 1);
    let outages = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ResilienceEvent::StoreUnavailable { .. }))
        .count();
    assert_eq!(outages, 1, "one outage, reported once through the hook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_open_lets_every_call_through_once() {
    let Some(mut redis) = RedisServer::start("fail_open_in_the_pipeline") else {
        return;
    };
    let server = DemoServer::start().await.unwrap();
    let s = RedisStore::builder(redis.url())
        .namespace("open")
        .timeout(Duration::from_millis(100))
        .on_unavailable(OnUnavailable::FailOpen)
        .connect()
        .await
        .unwrap();
    let (events, hook) = recorder();
    let client = HttpClient::new(server.url()).unwrap().with_resilience(
        policy(s)
            .rate_limit(RateLimit::per_second(1000))
            .circuit_breaker(CircuitBreaker::new())
            .on_event(hook)
            .build()
            .unwrap(),
    );
    redis.kill();
    for _ in 0..5 {
        let r = client
            .get("/fault/fail?times=0&key=open")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    assert_eq!(server.state().arrivals("open").arrivals, 5);
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ResilienceEvent::StoreUnavailable { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_nonces_reach_the_server_in_order_through_the_pipeline() {
    let Some(redis) = RedisServer::start("ordered_nonces_through_the_pipeline") else {
        return;
    };
    // The server logs the nonce of every request as it arrives, and is
    // slow to answer, so racing requests would overtake each other.
    let log: Arc<Mutex<Vec<u64>>> = Arc::default();
    let sink = log.clone();
    let router = axum::Router::new().route(
        "/ordered",
        get(move |headers: HeaderMap| {
            let sink = sink.clone();
            async move {
                let nonce = headers
                    .get("api-nonce")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                sink.lock().unwrap().push(nonce);
                tokio::time::sleep(Duration::from_millis(2)).await;
                "ok"
            }
        }),
    );
    let server = DemoServer::builder().routes(router).start().await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let s: Arc<dyn keel::resilience::NonceStore> =
            Arc::new(store(&redis, "nonces", OnUnavailable::FailClosed).await);
        clients.push(
            HttpAuthenticatedClient::builder(server.url())
                .api_key(keel_demo::DEMO_API_KEY)
                .api_secret(keel_demo::DEMO_API_SECRET)
                .nonce_source(Arc::new(StoreNonceSource::ordered(
                    s,
                    "demo-key",
                    Duration::from_secs(10),
                    Duration::from_secs(20),
                )))
                .build()
                .unwrap(),
        );
    }
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let c = clients[i % 2].clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    let r = c.get("/ordered").send().await.unwrap();
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let nonces = log.lock().unwrap().clone();
    assert_eq!(nonces.len(), 40);
    for pair in nonces.windows(2) {
        assert!(
            pair[1] > pair[0],
            "nonce {} arrived after {}: {nonces:?}",
            pair[1],
            pair[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_reconnections_are_paid_from_the_shared_budget() {
    let Some(redis) =
        RedisServer::start("event_stream_reconnections_are_paid_from_the_shared_budget")
    else {
        return;
    };
    let server = DemoServer::start().await.unwrap();
    // Capacity 2, cost 1 per reconnection, nothing refunded: the fleet may
    // reconnect twice in all.
    let client = |s: RedisStore| {
        HttpClient::new(server.url()).unwrap().with_resilience(
            policy(s)
                .retry_budget(RetryBudget::new(2).retry_cost(1).success_refund(0))
                .build()
                .unwrap(),
        )
    };
    let a = client(store(&redis, "sse-budget", OnUnavailable::FailClosed).await);
    let b = client(store(&redis, "sse-budget", OnUnavailable::FailClosed).await);
    // Streams that drop after each event.
    let drain = |c: HttpClient, key: &'static str| async move {
        let mut events = keel::sse::EventSource::get(
            &c,
            &format!("/sse/ticks?count=10&drop_after=1&retry_ms=5&key={key}"),
        )
        .connect();
        let mut got = 0;
        for _ in 0..20 {
            match events.next().await {
                Ok(Some(_)) => got += 1,
                Ok(None) => panic!("the stream ended although reconnections were refused"),
                Err(e) => return (got, e),
            }
        }
        panic!("the stream kept reconnecting past the shared budget");
    };
    let (got_a, err_a) = drain(a, "sse-a").await;
    assert_eq!(got_a, 3, "a: one event per connection, two reconnections");
    assert!(matches!(err_a, Error::RetriesExhausted { .. }), "{err_a:?}");
    // The other client's stream finds the fleet's budget spent.
    let (got_b, err_b) = drain(b, "sse-b").await;
    assert_eq!(got_b, 1, "b: no reconnection left in the shared budget");
    assert!(matches!(err_b, Error::RetriesExhausted { .. }), "{err_b:?}");
    assert_eq!(server.state().sse_connections("sse-a").len(), 3);
    assert_eq!(server.state().sse_connections("sse-b").len(), 1);
}
