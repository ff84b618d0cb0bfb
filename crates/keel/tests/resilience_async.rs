//! Resilience through the async driver, against the demo server's fault
//! injection. The same scenarios run through the blocking driver in
//! `resilience_blocking.rs`.

mod resilience_support;

use std::time::{Duration, Instant};

use keel::resilience::{OnLimit, RateLimit};
use resilience_support::*;

fn env() -> Env {
    Env::new(Mode::asynchronous())
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
fn every_attempt_is_signed_afresh_async() {
    every_attempt_is_signed_afresh(&Mode::asynchronous());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiter_holds_the_rate_over_many_concurrent_tasks() {
    let server = keel_demo::DemoServer::start().await.unwrap();
    // 20 per second with bursts of 5: 40 calls need at least (40-5)/20 s.
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
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move {
                c.get("/fault/fail?times=0")
                    .header("X-Fault-Key", "rate")
                    .send()
                    .await
                    .map(|r| (r.status.as_u16(), Instant::now()))
            })
        })
        .collect();
    let mut done = Vec::new();
    for t in tasks {
        let (status, at) = t.await.unwrap().unwrap();
        assert_eq!(status, 200);
        done.push(at.duration_since(started));
    }
    let took = started.elapsed();
    assert_eq!(server.state().arrivals("rate").arrivals, 40);
    assert!(
        took >= Duration::from_millis(1_650),
        "40 calls in {took:?}: faster than 20/s"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    // No window of one second saw more than the rate plus the burst.
    done.sort();
    for (i, t) in done.iter().enumerate() {
        let within = done[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_secs(1))
            .count();
        assert!(within <= 25 + 3, "{within} calls within 1 s of {t:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn async_tracing_spans_do_not_break_streams_and_streams_are_never_retried() {
    let server = keel_demo::DemoServer::start().await.unwrap();
    let client = keel::HttpClient::new(server.url())
        .unwrap()
        .with_resilience(fast().build().unwrap());
    let body = http_body_util::Full::new(keel::Bytes::from_static(b"streamed"));
    let resp = client
        .put("/fault/fail?times=1&status=503")
        .header("X-Fault-Key", "stream")
        .body_stream(body, "text/plain")
        .send()
        .await
        .unwrap();
    // Retryable, but the stream was consumed: the 503 is returned as is.
    assert_eq!(resp.status, 503);
    assert_eq!(server.state().arrivals("stream").arrivals, 1);

    // A connect error with a stream body: the error says why no retry.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = keel::HttpClient::new(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_resilience(fast().build().unwrap());
    let err = dead
        .put("/x")
        .body_stream(
            http_body_util::Full::new(keel::Bytes::from_static(b"streamed")),
            "text/plain",
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, keel::Error::BodyNotReplayable { attempts: 1 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cannot be re-sent"), "{err}");
    server.shutdown().await;
}
