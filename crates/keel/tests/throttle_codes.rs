//! An exchange's own "too many requests" answer, where the status does not
//! say it (Bybit's `retCode` 10006 with HTTP 200, OKX's `50011`, Binance's
//! 418 IP ban): the signing preset knows it, and the resilience policy
//! treats it as throttling — retried after the throttling backoff, reported
//! as `RetryReason::Throttled`, not a failure for the circuit breaker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use keel::resilience::{CircuitBreaker, Resilience, ResilienceEvent, RetryReason};
use keel::signing::Scheme;
use keel::HttpAuthenticatedClient;
use keel_demo::DemoServer;

/// A server that throttles the first `throttled` requests with `refusal`,
/// then answers `{"ok":true}`.
async fn server(
    refusal: (StatusCode, &'static str),
    throttled: usize,
) -> (DemoServer, Arc<AtomicUsize>) {
    let arrivals = Arc::new(AtomicUsize::new(0));
    let count = arrivals.clone();
    let routes = axum::Router::new().route(
        "/orders",
        get(move || {
            let count = count.clone();
            async move {
                if count.fetch_add(1, Ordering::SeqCst) < throttled {
                    refusal.into_response()
                } else {
                    (StatusCode::OK, r#"{"ok":true}"#).into_response()
                }
            }
        }),
    );
    (
        DemoServer::builder().routes(routes).start().await.unwrap(),
        arrivals,
    )
}

fn client(
    server: &DemoServer,
    scheme: Scheme,
    events: Arc<Mutex<Vec<ResilienceEvent>>>,
) -> HttpAuthenticatedClient {
    let policy = Resilience::builder()
        .max_attempts(3)
        .backoff(Duration::from_secs(5), Duration::from_secs(5))
        .throttle_backoff(Duration::from_millis(5), Duration::from_millis(10))
        // One failure would open it: throttling must not count as one.
        .circuit_breaker(
            CircuitBreaker::new()
                .consecutive_failures(1)
                .no_failure_ratio(),
        )
        .no_retry_budget()
        .no_deadline()
        .on_event(Arc::new(move |e: &ResilienceEvent| {
            events.lock().unwrap().push(e.clone())
        }))
        .build()
        .unwrap();
    HttpAuthenticatedClient::builder(server.url())
        .api_key("k-123")
        .api_secret("s3cret-s3cret-s3cret")
        .passphrase("p4ssphrase")
        .scheme(scheme)
        .build()
        .unwrap()
        .with_resilience(policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_throttle_codes_are_throttling() {
    for (name, scheme, refusal) in [
        (
            "bybit",
            Scheme::bybit(),
            (
                StatusCode::OK,
                r#"{"retCode":10006,"retMsg":"Too many visits!","result":{}}"#,
            ),
        ),
        (
            "okx",
            Scheme::okx(),
            (
                StatusCode::OK,
                r#"{"code":"50011","msg":"Rate limit reached. Please refer to API documentation and throttle requests accordingly.","data":[]}"#,
            ),
        ),
        (
            "binance",
            Scheme::binance(),
            (
                StatusCode::IM_A_TEAPOT,
                r#"{"code":-1003,"msg":"Way too many requests; IP banned."}"#,
            ),
        ),
    ] {
        let (server, arrivals) = server(refusal, 2).await;
        let events = Arc::new(Mutex::new(Vec::new()));
        let c = client(&server, scheme, events.clone());
        let r = c.get("/orders").send().await.unwrap();
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.text().unwrap(), r#"{"ok":true}"#, "{name}");
        assert_eq!(
            arrivals.load(Ordering::SeqCst),
            3,
            "{name}: two throttled, then served"
        );
        let events = events.lock().unwrap();
        let retries: Vec<(RetryReason, Duration)> = events
            .iter()
            .filter_map(|e| match e {
                ResilienceEvent::Retry { reason, wait, .. } => Some((*reason, *wait)),
                _ => None,
            })
            .collect();
        // The throttling backoff (at most 10 ms), not the transient one (5 s).
        assert!(
            retries.iter().all(|(_, w)| *w <= Duration::from_millis(10)),
            "{name}: {retries:?}"
        );
        let reasons: Vec<RetryReason> = retries.iter().map(|(r, _)| *r).collect();
        assert_eq!(reasons.len(), 2, "{name}: {events:?}");
        assert!(
            reasons
                .iter()
                .all(|r| matches!(r, RetryReason::Throttled(_))),
            "{name}: {reasons:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ResilienceEvent::BreakerTransition { .. })),
            "{name}: throttling opened the breaker: {events:?}"
        );
    }
}

#[tokio::test]
async fn a_success_with_another_code_is_not_throttling() {
    let (server, arrivals) = server(
        (StatusCode::OK, r#"{"retCode":0,"retMsg":"OK","result":{}}"#),
        1,
    )
    .await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let c = client(&server, Scheme::bybit(), events.clone());
    let r = c.get("/orders").send().await.unwrap();
    assert_eq!(
        r.text().unwrap(),
        r#"{"retCode":0,"retMsg":"OK","result":{}}"#
    );
    assert_eq!(arrivals.load(Ordering::SeqCst), 1);
}
