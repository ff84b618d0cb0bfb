//! Scenarios shared by `resilience_async.rs` and `resilience_blocking.rs`:
//! each runs once through the async driver and once through the blocking
//! driver, against the demo server's fault-injection endpoints, and checks
//! exact arrival counts on the server.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keel::resilience::{
    BreakerState, CircuitBreaker, Jitter, OnLimit, RateLimit, Resilience, ResilienceEvent,
    RetryBudget,
};
use keel::{Error, HttpClient, RequestBuilder, Response};
use keel_demo::DemoServer;

/// How a scenario sends: through the async driver (on a runtime the test
/// owns) or the blocking driver (from a plain thread).
pub enum Mode {
    Async(tokio::runtime::Runtime),
    Blocking,
}

impl Mode {
    pub fn asynchronous() -> Self {
        Mode::Async(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime"),
        )
    }

    pub fn send(&self, rb: RequestBuilder) -> keel::Result<Response> {
        match self {
            Mode::Async(rt) => rt.block_on(rb.send()),
            Mode::Blocking => rb.send_blocking(),
        }
    }
}

pub struct Env {
    pub server: DemoServer,
    pub mode: Mode,
}

impl Env {
    pub fn new(mode: Mode) -> Self {
        Env {
            server: DemoServer::start_background().expect("demo server"),
            mode,
        }
    }

    pub fn client(&self, policy: Resilience) -> HttpClient {
        HttpClient::new(self.server.url())
            .expect("client")
            .with_resilience(policy)
    }

    pub fn arrivals(&self, key: &str) -> keel_demo::Arrivals {
        self.server.state().arrivals(key)
    }
}

/// A recorder for the event hook.
pub fn recorder() -> (
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

/// Standard retries with short, deterministic waits and no breaker or
/// budget, so a scenario tests one thing at a time.
pub fn fast() -> keel::resilience::ResilienceBuilder {
    Resilience::builder()
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .jitter(Jitter::None)
        .no_circuit_breaker()
        .no_retry_budget()
}

// ----- scenarios ----------------------------------------------------------

pub fn retries_until_success_with_exact_arrivals(env: &Env) {
    let (events, hook) = recorder();
    let client = env.client(fast().on_event(hook).build().unwrap());
    let resp = env
        .mode
        .send(
            client
                .get("/fault/fail?times=2&status=503")
                .header("X-Fault-Key", "three"),
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.attempts(), 3);
    assert_eq!(env.arrivals("three").arrivals, 3);
    let events = events.lock().unwrap();
    let attempts: Vec<String> = events
        .iter()
        .filter(|e| matches!(e, ResilienceEvent::Attempt { .. }))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(
        attempts[0].contains("503") && attempts[2].contains("200"),
        "{attempts:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ResilienceEvent::Retry { .. }))
            .count(),
        2
    );
}

pub fn gives_up_after_max_attempts_with_the_last_response(env: &Env) {
    let client = env.client(fast().max_attempts(3).build().unwrap());
    let resp = env
        .mode
        .send(
            client
                .get("/fault/fail?times=10&status=502")
                .header("X-Fault-Key", "exhaust"),
        )
        .unwrap();
    assert_eq!(resp.status, 502);
    assert_eq!(resp.attempts(), 3);
    assert_eq!(env.arrivals("exhaust").arrivals, 3);

    // With raise_on_unexpected_status the error says how many attempts.
    let raising = client.with_raise_on_unexpected_status(true);
    let err = env
        .mode
        .send(
            raising
                .get("/fault/fail?times=10&status=502")
                .header("X-Fault-Key", "exhaust-raise")
                .documented([200u16]),
        )
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502), "{err}");
    assert_eq!(env.arrivals("exhaust-raise").arrivals, 3);
}

pub fn post_without_key_is_sent_once(env: &Env) {
    let (events, hook) = recorder();
    let client = env.client(fast().on_event(hook).build().unwrap());
    let resp = env
        .mode
        .send(
            client
                .post("/fault/fail?times=2&status=503")
                .header("X-Fault-Key", "post-once")
                .json(&serde_json::json!({"a": 1})),
        )
        .unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(env.arrivals("post-once").arrivals, 1);
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        ResilienceEvent::GaveUp {
            reason: keel::resilience::GiveUpReason::NotIdempotent,
            ..
        }
    )));
}

pub fn post_with_key_is_retried_with_the_same_key(env: &Env) {
    let client = env.client(fast().build().unwrap());
    let resp = env
        .mode
        .send(
            client
                .post("/fault/fail?times=2&status=503")
                .header("X-Fault-Key", "post-key")
                .idempotency_key("order-7")
                .json(&serde_json::json!({"a": 1})),
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    let a = env.arrivals("post-key");
    assert_eq!(a.arrivals, 3);
    assert_eq!(a.by_idempotency_key.get("order-7"), Some(&3));
    assert_eq!(a.by_idempotency_key.len(), 1);
}

pub fn generated_key_is_the_same_on_every_attempt(env: &Env) {
    let client = env.client(fast().generate_idempotency_key(true).build().unwrap());
    for key in ["gen-1", "gen-2"] {
        let resp = env
            .mode
            .send(
                client
                    .patch("/fault/fail?times=1&status=500")
                    .header("X-Fault-Key", key)
                    .body("x", "text/plain"),
            )
            .unwrap();
        assert_eq!(resp.status, 200);
        let a = env.arrivals(key);
        assert_eq!(a.arrivals, 2);
        assert_eq!(a.by_idempotency_key.len(), 1, "{:?}", a.by_idempotency_key);
        let (k, n) = a.by_idempotency_key.iter().next().unwrap();
        assert_eq!(*n, 2);
        assert_eq!(k.len(), 36, "{k}");
    }
    // One key per call: the two calls had different keys.
    assert_ne!(
        env.arrivals("gen-1").by_idempotency_key.keys().next(),
        env.arrivals("gen-2").by_idempotency_key.keys().next()
    );
}

pub fn retry_after_is_honoured(env: &Env, form: &str) {
    let (events, hook) = recorder();
    // Backoff alone would wait 10 ms: a wait of about a second proves the
    // server's Retry-After was used.
    let client = env.client(fast().on_event(hook).build().unwrap());
    let key = format!("ra-{form}");
    let started = Instant::now();
    let resp = env
        .mode
        .send(
            client
                .get(&format!("/fault/retry-after?times=1&seconds=1&form={form}"))
                .header("X-Fault-Key", &key),
        )
        .unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status, 200);
    assert_eq!(env.arrivals(&key).arrivals, 2);
    // The HTTP-date form has whole seconds: the wait is between 0 and 2 s
    // depending on where in the second the date was made; the server rounds
    // up so it is never less than the 1 s asked for, minus clock slack.
    assert!(took >= Duration::from_millis(900), "{form}: {took:?}");
    assert!(took < Duration::from_secs(10), "{form}: {took:?}");
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        ResilienceEvent::Retry {
            from_retry_after: true,
            ..
        }
    )));
}

pub fn retry_after_beyond_max_is_not_waited(env: &Env) {
    let client = env.client(
        fast()
            .max_retry_after(Duration::from_secs(2))
            .build()
            .unwrap(),
    );
    let started = Instant::now();
    let resp = env
        .mode
        .send(
            client
                .get("/fault/retry-after?times=1&seconds=60")
                .header("X-Fault-Key", "ra-long"),
        )
        .unwrap();
    assert_eq!(resp.status, 429);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(env.arrivals("ra-long").arrivals, 1);
}

pub fn client_errors_are_not_retried(env: &Env) {
    let client = env.client(fast().build().unwrap());
    for status in [400u16, 401, 404, 409, 422, 501] {
        let key = format!("4xx-{status}");
        let resp = env
            .mode
            .send(
                client
                    .get(&format!("/fault/fail?times=5&status={status}"))
                    .header("X-Fault-Key", &key),
            )
            .unwrap();
        assert_eq!(resp.status.as_u16(), status);
        assert_eq!(env.arrivals(&key).arrivals, 1, "status {status}");
    }
    // A configurable set: 404 retried when asked.
    let client = env.client(fast().retry_statuses([404]).build().unwrap());
    let resp = env
        .mode
        .send(
            client
                .get("/fault/fail?times=1&status=404")
                .header("X-Fault-Key", "404-retried"),
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(env.arrivals("404-retried").arrivals, 2);
}

pub fn deadline_cuts_the_attempt_in_flight(env: &Env) {
    let client = env.client(fast().deadline(Duration::from_millis(400)).build().unwrap());
    let started = Instant::now();
    let err = env
        .mode
        .send(
            client
                .get("/fault/delay?ms=5000")
                .header("X-Fault-Key", "deadline"),
        )
        .unwrap_err();
    let took = started.elapsed();
    match &err {
        Error::DeadlineExceeded {
            deadline, attempts, ..
        } => {
            assert_eq!(*deadline, Duration::from_millis(400));
            assert_eq!(*attempts, 1, "{err}");
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(err.to_string().contains("1 attempt"), "{err}");
    assert!(took >= Duration::from_millis(350), "{took:?}");
    assert!(
        took < Duration::from_secs(3),
        "the deadline did not cut the attempt: {took:?}"
    );
}

pub fn deadline_spans_attempts_and_waits(env: &Env) {
    // Each attempt is cut at 300 ms by its own timeout and retried; the
    // 1 s deadline ends the call after a few attempts.
    let client = env.client(
        fast()
            .max_attempts(20)
            .deadline(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    let started = Instant::now();
    let err = env
        .mode
        .send(
            client
                .get("/fault/delay?ms=5000")
                .timeout(Duration::from_millis(300))
                .header("X-Fault-Key", "deadline-many"),
        )
        .unwrap_err();
    let took = started.elapsed();
    let Error::DeadlineExceeded { attempts, last, .. } = &err else {
        panic!("expected DeadlineExceeded, got {err:?}");
    };
    assert!((2..=5).contains(attempts), "{err}");
    assert!(last.is_some(), "{err}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    // The last attempt may be cut before the server counted it.
    let arrived = env.arrivals("deadline-many").arrivals;
    assert!(
        arrived == u64::from(*attempts) || arrived + 1 == u64::from(*attempts),
        "{arrived} arrivals for {attempts} attempts"
    );
}

pub fn retry_after_beyond_deadline_fails_at_once(env: &Env) {
    let client = env.client(
        fast()
            .deadline(Duration::from_secs(2))
            .max_retry_after(Duration::from_secs(30))
            .build()
            .unwrap(),
    );
    let started = Instant::now();
    let err = env
        .mode
        .send(
            client
                .get("/fault/retry-after?times=1&seconds=5")
                .header("X-Fault-Key", "ra-deadline"),
        )
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "waited");
    match &err {
        Error::DeadlineExceeded { attempts, last, .. } => {
            assert_eq!(*attempts, 1);
            assert_eq!(
                last.as_ref().and_then(|e| e.status()).map(|s| s.as_u16()),
                Some(429)
            );
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert_eq!(env.arrivals("ra-deadline").arrivals, 1);
}

pub fn connect_errors_are_retried_even_for_post(env: &Env) {
    // A port nobody listens on: bind, note the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (events, hook) = recorder();
    let client = HttpClient::new(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_resilience(fast().on_event(hook).build().unwrap());
    let err = env
        .mode
        .send(client.post("/x").json(&serde_json::json!({"a": 1})))
        .unwrap_err();
    match &err {
        Error::RetriesExhausted { attempts, last } => {
            assert_eq!(*attempts, 3);
            assert!(last.is_connect(), "{last:?}");
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert!(err.to_string().contains("3 attempt"), "{err}");
    assert_eq!(
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, ResilienceEvent::Attempt { .. }))
            .count(),
        3
    );
}

pub fn broken_connections_are_retried_for_get_only(env: &Env) {
    let client = env.client(fast().build().unwrap());
    let resp = env
        .mode
        .send(
            client
                .get("/fault/close?times=1")
                .header("X-Fault-Key", "close-get"),
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(env.arrivals("close-get").arrivals, 2);
    let resp = env
        .mode
        .send(
            client
                .get("/fault/reset-mid-body?times=1")
                .header("X-Fault-Key", "reset-get"),
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(env.arrivals("reset-get").arrivals, 2);
    // A POST that may have reached the server is not re-sent.
    let err = env
        .mode
        .send(
            client
                .post("/fault/close?times=1")
                .header("X-Fault-Key", "close-post")
                .body("x", "text/plain"),
        )
        .unwrap_err();
    assert!(!matches!(err, Error::RetriesExhausted { .. }), "{err:?}");
    assert_eq!(env.arrivals("close-post").arrivals, 1);
}

pub fn breaker_opens_fails_fast_half_opens_and_closes(env: &Env) {
    let (events, hook) = recorder();
    let open_for = Duration::from_millis(400);
    let client = env.client(
        fast()
            .max_attempts(1)
            .circuit_breaker(
                CircuitBreaker::new()
                    .consecutive_failures(3)
                    .no_failure_ratio()
                    .open_for(open_for)
                    .half_open_probes(1),
            )
            .on_event(hook)
            .build()
            .unwrap(),
    );
    // The endpoint fails 4 times, then succeeds.
    let call = || {
        env.mode.send(
            client
                .get("/fault/fail?times=4&status=503")
                .header("X-Fault-Key", "breaker"),
        )
    };
    for _ in 0..3 {
        assert_eq!(call().unwrap().status, 503);
    }
    // Open: fails fast, nothing reaches the server.
    let started = Instant::now();
    for _ in 0..5 {
        match call() {
            Err(Error::CircuitOpen { origin, retry_in }) => {
                assert_eq!(origin, env.server.url().trim_end_matches('/'));
                assert!(
                    retry_in <= open_for && retry_in > Duration::ZERO,
                    "{retry_in:?}"
                );
            }
            other => panic!("expected CircuitOpen, got {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(env.arrivals("breaker").arrivals, 3);
    // A clone and a derived client share the breaker.
    let derived = client.with_headers([("X-Derived", "1")]).unwrap();
    assert!(matches!(
        env.mode
            .send(derived.get("/fault/fail").header("X-Fault-Key", "breaker")),
        Err(Error::CircuitOpen { .. })
    ));
    // A new with_resilience starts fresh.
    let fresh = client.with_resilience(fast().max_attempts(1).build().unwrap());
    assert!(env
        .mode
        .send(fresh.get("/health"))
        .is_ok_and(|r| r.status == 200));

    // Half-open: one probe; it fails (4th arrival) and the breaker reopens.
    std::thread::sleep(open_for + Duration::from_millis(50));
    assert_eq!(call().unwrap().status, 503);
    assert!(matches!(call(), Err(Error::CircuitOpen { .. })));
    assert_eq!(env.arrivals("breaker").arrivals, 4);
    // Half-open again: the probe succeeds and the breaker closes.
    std::thread::sleep(open_for + Duration::from_millis(50));
    assert_eq!(call().unwrap().status, 200);
    assert_eq!(call().unwrap().status, 200);
    assert_eq!(env.arrivals("breaker").arrivals, 6);

    let transitions: Vec<(BreakerState, BreakerState)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ResilienceEvent::BreakerTransition { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    use BreakerState::*;
    assert_eq!(
        transitions,
        vec![
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed)
        ]
    );
}

pub fn breaker_trips_on_failure_ratio(env: &Env) {
    let client = env.client(
        fast()
            .max_attempts(1)
            .circuit_breaker(
                CircuitBreaker::new()
                    .no_consecutive_failures()
                    .failure_ratio(0.5, Duration::from_secs(30), 10)
                    .open_for(Duration::from_secs(30)),
            )
            .build()
            .unwrap(),
    );
    // /fault/flap?period=1 alternates 503, 200, 503, ...: half fail. Below
    // 10 attempts nothing trips; the breaker trips on the first failure
    // once the throughput is there: the 11th attempt (6 of 11 failed).
    let mut opened_after = None;
    for i in 1..=20u64 {
        match env.mode.send(
            client
                .get("/fault/flap?period=1")
                .header("X-Fault-Key", "ratio"),
        ) {
            Ok(_) => {}
            Err(Error::CircuitOpen { .. }) => {
                opened_after = Some(i - 1);
                break;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(opened_after, Some(11));
    assert_eq!(env.arrivals("ratio").arrivals, 11);
}

pub fn rate_limit_fail_fast(env: &Env) {
    let (events, hook) = recorder();
    let client = env.client(
        fast()
            .rate_limit(
                RateLimit::new(1, Duration::from_secs(10))
                    .burst(2)
                    .on_limit(OnLimit::Fail),
            )
            .on_event(hook)
            .build()
            .unwrap(),
    );
    let mut limited = 0;
    for _ in 0..5 {
        match env.mode.send(
            client
                .get("/fault/fail?times=0")
                .header("X-Fault-Key", "rl-fail"),
        ) {
            Ok(r) => assert_eq!(r.status, 200),
            Err(Error::RateLimited { retry_in }) => {
                assert!(retry_in > Duration::from_secs(5) && retry_in <= Duration::from_secs(10));
                limited += 1;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(limited, 3);
    assert_eq!(env.arrivals("rl-fail").arrivals, 2);
    // A weight larger than the burst can never pass: a clear error.
    let err = env.mode.send(client.get("/health").weight(3)).unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest(ref m) if m.contains("burst")),
        "{err:?}"
    );
    assert_eq!(
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, ResilienceEvent::RateLimited { .. }))
            .count(),
        3
    );
}

pub fn rate_limit_wait_respects_max_wait(env: &Env) {
    let client = env.client(
        fast()
            .rate_limit(
                RateLimit::new(1, Duration::from_secs(2)).on_limit(OnLimit::Wait {
                    max_wait: Duration::from_millis(500),
                }),
            )
            .build()
            .unwrap(),
    );
    assert!(env.mode.send(client.get("/health")).is_ok());
    let started = Instant::now();
    // The next permit is 2 s away: more than the 500 ms this call may wait.
    assert!(matches!(
        env.mode.send(client.get("/health")),
        Err(Error::RateLimited { .. })
    ));
    assert!(started.elapsed() < Duration::from_millis(400));
}

pub fn retry_budget_stops_retries_when_most_calls_fail(env: &Env) {
    let (events, hook) = recorder();
    // 10 tokens, 5 per retry: two retries in all, then every call gets one
    // attempt. Without a budget, 20 failing calls would make 60 attempts.
    let client = env.client(
        fast()
            .max_attempts(3)
            .retry_budget(RetryBudget::new(10).retry_cost(5))
            .on_event(hook)
            .build()
            .unwrap(),
    );
    for _ in 0..20 {
        let r = env
            .mode
            .send(
                client
                    .get("/fault/fail?times=1000&status=503")
                    .header("X-Fault-Key", "budget"),
            )
            .unwrap();
        assert_eq!(r.status, 503);
    }
    assert_eq!(env.arrivals("budget").arrivals, 22);
    assert_eq!(
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(
                e,
                ResilienceEvent::GaveUp {
                    reason: keel::resilience::GiveUpReason::BudgetExhausted,
                    ..
                }
            ))
            .count(),
        19
    );
    // The control: the same calls without a budget retry every time.
    let unbudgeted = env.client(fast().max_attempts(3).build().unwrap());
    for _ in 0..5 {
        env.mode
            .send(
                unbudgeted
                    .get("/fault/fail?times=1000&status=503")
                    .header("X-Fault-Key", "no-budget"),
            )
            .unwrap();
    }
    assert_eq!(env.arrivals("no-budget").arrivals, 15);
}

pub fn none_makes_one_attempt(env: &Env) {
    let client = env.client(Resilience::none());
    let r = env
        .mode
        .send(
            client
                .get("/fault/fail?times=3")
                .header("X-Fault-Key", "none"),
        )
        .unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(env.arrivals("none").arrivals, 1);
}

// ----- signatures on every attempt -----------------------------------------

/// What the signature route saw on one arrival.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub api_key: String,
    pub body: Vec<u8>,
}

/// A demo server with an extra route `/sig-flaky` that records what each
/// arrival carried and answers 503 to the first two, then 200.
pub fn signature_server() -> (DemoServer, Arc<Mutex<Vec<Seen>>>) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let sink = seen.clone();
    let route = axum::Router::new().route(
        "/sig-flaky",
        axum::routing::any(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let mut seen = sink.lock().unwrap();
                    seen.push(Seen {
                        method: method.to_string(),
                        path_and_query: uri
                            .path_and_query()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default(),
                        timestamp: h("api-timestamp"),
                        nonce: h("api-nonce"),
                        signature: h("api-signature"),
                        api_key: h("api-key"),
                        body: body.to_vec(),
                    });
                    if seen.len() <= 2 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            },
        ),
    );
    let server = DemoServer::builder()
        .routes(route)
        .start_background()
        .expect("demo server");
    (server, seen)
}

pub const SECRET: &str = "s3cr3t-for-tests";

fn hmac_hex(s: &Seen) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    // Keel's default scheme (keel-v2): ts \n nonce \n METHOD \n path?query \n body.
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    for part in [&s.timestamp, &s.nonce, &s.method, &s.path_and_query] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    mac.update(&s.body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn every_attempt_is_signed_afresh(mode: &Mode) {
    let (server, seen) = signature_server();
    let client = keel::HttpAuthenticatedClient::builder(server.url())
        .api_key("key-1")
        .api_secret(SECRET)
        .build()
        .unwrap()
        .with_resilience(
            fast()
                .backoff(Duration::from_millis(5), Duration::from_millis(5))
                .build()
                .unwrap(),
        );
    let resp = mode
        .send(
            client
                .put("/sig-flaky?x=1")
                .json(&serde_json::json!({"n": 42})),
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.attempts(), 3);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    for s in seen.iter() {
        assert_eq!(s.api_key, "key-1");
        assert_eq!(s.method, "PUT");
        assert_eq!(s.path_and_query, "/sig-flaky?x=1");
        assert_eq!(s.body, br#"{"n":42}"#, "the body survives retries");
        assert_eq!(s.signature, hmac_hex(s), "signature does not verify: {s:?}");
    }
    // Fresh nonce, timestamp and signature on each attempt (waits of 5 ms,
    // clock in milliseconds).
    for pair in seen.windows(2) {
        assert_ne!(pair[0].nonce, pair[1].nonce);
        assert_ne!(pair[0].timestamp, pair[1].timestamp);
        assert_ne!(pair[0].signature, pair[1].signature);
    }
}
