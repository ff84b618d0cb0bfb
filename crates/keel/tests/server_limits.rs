//! Resilience that reads the server: throttling is not failure (its own
//! backoff base and budget cost, never a breaker trip), pacing by the
//! server's rate-limit headers, and the adaptive (CUBIC) rate — against the
//! demo server on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use keel::resilience::{
    CircuitBreaker, GiveUpReason, Jitter, LimitHeaders, Resilience, ResilienceEvent, RetryBudget,
};

type Events = Arc<Mutex<Vec<ResilienceEvent>>>;

fn recorder() -> (Events, keel::resilience::EventHook) {
    let events: Events = Arc::default();
    let sink = events.clone();
    (
        events,
        Arc::new(move |e: &ResilienceEvent| sink.lock().unwrap().push(e.clone())),
    )
}

/// Extra routes: `/quota/{remaining}` answers 200 with X-RateLimit headers
/// (`X-RateLimit-Reset: 1`), `/busy` answers 503 with `Retry-After: 0`, and
/// `/slow-down` answers 429 without `Retry-After`.
async fn server() -> keel_demo::DemoServer {
    let routes = axum::Router::new()
        .route(
            "/quota/{remaining}",
            get(
                |axum::extract::Path(remaining): axum::extract::Path<u32>| async move {
                    let mut h = HeaderMap::new();
                    h.insert("x-ratelimit-limit", "100".parse().unwrap());
                    h.insert(
                        "x-ratelimit-remaining",
                        remaining.to_string().parse().unwrap(),
                    );
                    h.insert("x-ratelimit-reset", "1".parse().unwrap());
                    (h, "ok")
                },
            ),
        )
        .route(
            "/busy",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "0")],
                    "busy",
                )
            }),
        )
        .route(
            "/slow-down",
            get(|| async { (StatusCode::TOO_MANY_REQUESTS, "slow down") }),
        );
    keel_demo::DemoServer::builder()
        .routes(routes)
        .start()
        .await
        .expect("demo server")
}

fn retries(events: &Events) -> Vec<(Duration, bool)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ResilienceEvent::Retry {
                wait,
                from_retry_after,
                ..
            } => Some((*wait, *from_retry_after)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn throttling_backs_off_from_its_own_base() {
    let server = server().await;
    let (events, hook) = recorder();
    let policy = Resilience::builder()
        .max_attempts(2)
        .jitter(Jitter::None)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .throttle_backoff(Duration::from_millis(150), Duration::from_secs(1))
        .no_retry_budget()
        .on_event(hook)
        .build()
        .unwrap();
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    let r = client.get("/slow-down").send().await.unwrap();
    assert_eq!(r.status, 429);
    let r = client.get("/status/502").send().await.unwrap();
    assert_eq!(r.status, 502);
    assert_eq!(
        retries(&events),
        vec![
            (Duration::from_millis(150), false),
            (Duration::from_millis(1), false)
        ],
        "429 waits the throttling base, 502 the transient one"
    );
}

#[tokio::test]
async fn throttling_costs_the_budget_less_than_failure() {
    let server = server().await;
    let (events, hook) = recorder();
    // 10 tokens: a throttled retry costs 5, a transient one 14 (too much).
    let policy = Resilience::builder()
        .max_attempts(2)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .throttle_backoff(Duration::from_millis(1), Duration::from_millis(1))
        .retry_budget(RetryBudget::new(10))
        .on_event(hook)
        .build()
        .unwrap();
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    // A 503 without Retry-After is a transient failure: 14 > 10, no retry.
    client.get("/status/503").send().await.unwrap();
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        ResilienceEvent::GaveUp {
            reason: GiveUpReason::BudgetExhausted,
            ..
        }
    )));
    assert!(retries(&events).is_empty());
    // A 503 with Retry-After is throttling: 5 tokens, retried (twice over
    // two calls, then the 10 tokens are spent).
    for _ in 0..3 {
        client.get("/busy").send().await.unwrap();
    }
    assert_eq!(retries(&events).len(), 2, "{:?}", events.lock().unwrap());
}

#[tokio::test]
async fn throttling_never_trips_the_breaker() {
    let server = server().await;
    let policy = Resilience::builder()
        .max_attempts(1)
        .circuit_breaker(
            CircuitBreaker::new()
                .consecutive_failures(2)
                .no_failure_ratio(),
        )
        .build()
        .unwrap();
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    for _ in 0..5 {
        assert_eq!(client.get("/busy").send().await.unwrap().status, 503);
        assert_eq!(client.get("/slow-down").send().await.unwrap().status, 429);
    }
    // Two real failures do trip it.
    for _ in 0..2 {
        client.get("/status/502").send().await.unwrap();
    }
    assert!(matches!(
        client.get("/health").send().await,
        Err(keel::Error::CircuitOpen { .. })
    ));
}

#[tokio::test]
async fn a_spent_server_quota_waits_for_the_reset() {
    let server = server().await;
    let (events, hook) = recorder();
    let policy = Resilience::builder()
        .server_limits(LimitHeaders::x_ratelimit())
        .on_event(hook)
        .build()
        .unwrap();
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    // Plenty left: no waiting.
    client.get("/quota/90").send().await.unwrap();
    client.get("/quota/0").send().await.unwrap();
    assert!(!events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ResilienceEvent::ServerLimitWait { .. })));
    // The server said none is left until its reset (1 s): the next call
    // waits for it, and then goes.
    assert_eq!(client.get("/health").send().await.unwrap().status, 200);
    let waits: Vec<Duration> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ResilienceEvent::ServerLimitWait { wait } => Some(*wait),
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0] > Duration::from_millis(500) && waits[0] <= Duration::from_secs(1));
}

#[tokio::test]
async fn a_spent_server_quota_fails_at_once_when_the_limit_says_fail() {
    let server = server().await;
    let policy = Resilience::builder()
        .server_limits(LimitHeaders::standard())
        .rate_limit(
            keel::resilience::RateLimit::per_second(1000)
                .burst(1000)
                .on_limit(keel::resilience::OnLimit::Fail),
        )
        .build()
        .unwrap();
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    client.get("/quota/0").send().await.unwrap();
    match client.get("/health").send().await {
        Err(keel::Error::RateLimited { retry_in }) => {
            assert!(retry_in <= Duration::from_secs(1))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_throttle_lowers_the_adaptive_rate() {
    let server = server().await;
    let (events, hook) = recorder();
    let policy = Resilience::builder()
        .max_attempts(1)
        .adaptive_rate(true)
        .on_event(hook)
        .build()
        .unwrap();
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    for _ in 0..20 {
        client.get("/health").send().await.unwrap();
    }
    assert!(!events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ResilienceEvent::AdaptiveRate { .. })));
    client.get("/slow-down").send().await.unwrap();
    let rates: Vec<f64> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ResilienceEvent::AdaptiveRate { per_second } => Some(*per_second),
            _ => None,
        })
        .collect();
    assert_eq!(rates.len(), 1);
    assert!(rates[0] >= 0.5, "{rates:?}");
    // The client now paces itself: the next call waits for a token.
    client.get("/health").send().await.unwrap();
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ResilienceEvent::RateLimitWait { .. })));
}
