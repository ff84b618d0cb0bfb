//! Resilience through the blocking driver, against the demo server's fault
//! injection (started on its own thread). The same scenarios run through
//! the async driver in `resilience_async.rs`.

mod resilience_support;

use std::time::{Duration, Instant};

use keel::resilience::{OnLimit, RateLimit};
use resilience_support::*;

fn env() -> Env {
    Env::new(Mode::Blocking)
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                resilience_support::$name(&env());
            }
        )*
    };
}

scenarios!(
    retries_until_success_with_exact_arrivals,
    gives_up_after_max_attempts_with_the_last_response,
    post_without_key_is_sent_once,
    post_with_key_is_retried_with_the_same_key,
    generated_key_is_the_same_on_every_attempt,
    retry_after_beyond_max_is_not_waited,
    client_errors_are_not_retried,
    deadline_cuts_the_attempt_in_flight,
    deadline_spans_attempts_and_waits,
    retry_after_beyond_deadline_fails_at_once,
    connect_errors_are_retried_even_for_post,
    broken_connections_are_retried_for_get_only,
    breaker_opens_fails_fast_half_opens_and_closes,
    breaker_trips_on_failure_ratio,
    rate_limit_fail_fast,
    rate_limit_wait_respects_max_wait,
    retry_budget_stops_retries_when_most_calls_fail,
    none_makes_one_attempt,
);

#[test]
fn retry_after_seconds_is_honoured() {
    retry_after_is_honoured(&env(), "seconds");
}

#[test]
fn retry_after_http_date_is_honoured() {
    retry_after_is_honoured(&env(), "date");
}

#[test]
fn every_attempt_is_signed_afresh_blocking() {
    every_attempt_is_signed_afresh(&Mode::Blocking);
}

#[test]
fn rate_limiter_holds_the_rate_over_many_threads() {
    let server = keel_demo::DemoServer::start_background().unwrap();
    // 20 per second with bursts of 5: 30 calls need at least (30-5)/20 s.
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(
            fast()
                .rate_limit(RateLimit::per_second(20).burst(5).on_limit(OnLimit::Wait {
                    max_wait: Duration::from_secs(30),
                }))
                .build()
                .unwrap(),
        );
    let started = Instant::now();
    let threads: Vec<_> = (0..30)
        .map(|_| {
            let c = client.clone();
            std::thread::spawn(move || {
                c.get("/fault/fail?times=0")
                    .header("X-Fault-Key", "rate")
                    .send_blocking()
                    .map(|r| r.status.as_u16())
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), 200);
    }
    let took = started.elapsed();
    assert_eq!(server.state().arrivals("rate").arrivals, 30);
    assert!(
        took >= Duration::from_millis(1_150),
        "30 calls in {took:?}: faster than 20/s"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}
