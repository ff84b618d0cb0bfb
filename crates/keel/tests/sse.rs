//! Server-sent events against the demo server's `/sse/ticks`: typed events,
//! the terminator, reconnection with `Last-Event-ID` (no event lost or
//! repeated), the server's `retry:` honoured, a clean end not reconnected,
//! the reconnection bound, and the blocking iterator.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use keel::resilience::{Resilience, RetryBudget};
use keel::sse::EventSource;
use keel::{Error, HttpClient};
use keel_demo::DemoServer;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
struct Tick {
    n: u64,
    text: String,
}

fn ids(events: &[keel::sse::Event]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn typed_events_arrive_in_order_and_the_terminator_ends_the_stream() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let stream = EventSource::get(&client, "/sse/ticks?count=7&done=1&key=typed")
        .connect()
        .typed::<Tick>();
    let ticks: Vec<_> = stream.collect().await;
    let ticks: Vec<_> = ticks.into_iter().map(Result::unwrap).collect();
    assert_eq!(ticks.len(), 7, "[DONE] is not an event");
    for (i, t) in ticks.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(t.event, "tick");
        assert_eq!(t.id.as_deref(), Some(n.to_string().as_str()));
        // Every third event's JSON spans several data lines.
        assert_eq!(
            t.data,
            Tick {
                n,
                text: format!("tick {n}")
            }
        );
    }
    assert_eq!(server.state().sse_connections("typed").len(), 1);
}

#[tokio::test]
async fn a_dropped_stream_resumes_from_the_last_event_id_without_loss_or_repeats() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let mut events = EventSource::get(
        &client,
        "/sse/ticks?count=20&drop_after=3&retry_ms=20&key=resume",
    )
    .connect();
    let mut got = Vec::new();
    while let Some(e) = events.next().await.unwrap() {
        got.push(e);
        assert!(got.len() <= 20, "more events than the server has");
    }
    assert_eq!(ids(&got), (1..=20).collect::<Vec<_>>());
    let unique: BTreeSet<_> = ids(&got).into_iter().collect();
    assert_eq!(unique.len(), 20, "no event twice");
    // Connections: 20 events / 3 per connection → 7 connections, each
    // after the first resuming from the last id seen.
    let conns = server.state().sse_connections("resume");
    assert_eq!(conns.len(), 7, "{conns:?}");
    assert_eq!(events.connections(), 7);
    assert_eq!(events.reconnects(), 6);
    assert_eq!(conns[0].last_event_id, None);
    for (i, c) in conns.iter().enumerate().skip(1) {
        assert_eq!(c.last_event_id, Some((i as u64 * 3).to_string()));
    }
    // The last connection delivered 20 and then ended cleanly: no 8th.
    assert_eq!(events.last_event_id(), Some("20"));
}

#[tokio::test]
async fn the_servers_retry_time_is_waited_before_reconnecting() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let retry = Duration::from_millis(300);
    let mut events = EventSource::get(
        &client,
        "/sse/ticks?count=4&drop_after=2&retry_ms=300&key=retry",
    )
    // The configured time would be much shorter: the server's wins.
    .retry(Duration::from_millis(1))
    .connect();
    let mut n = 0;
    while events.next().await.unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(events.retry_time(), retry);
    let conns = server.state().sse_connections("retry");
    assert_eq!(conns.len(), 2);
    // A lower bound only: the reconnection came no sooner than `retry:`.
    let gap = conns[1].at.duration_since(conns[0].at);
    assert!(
        gap >= retry,
        "reconnected after {gap:?}, before retry: {retry:?}"
    );
}

#[tokio::test]
async fn a_clean_end_is_not_reconnected() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    // No terminator, no drop: the body simply ends after 5 events.
    let mut events = EventSource::get(&client, "/sse/ticks?count=5&retry_ms=1&key=clean").connect();
    let mut got = Vec::new();
    while let Some(e) = events.next().await.unwrap() {
        got.push(e);
    }
    assert_eq!(ids(&got), vec![1, 2, 3, 4, 5]);
    assert!(events.next().await.unwrap().is_none(), "stays ended");
    assert_eq!(server.state().sse_connections("clean").len(), 1);
    assert_eq!(events.reconnects(), 0);
}

#[tokio::test]
async fn reconnections_are_paid_from_the_retry_budget() {
    let server = DemoServer::start().await.unwrap();
    // A stream that drops after each event: with a retry budget of
    // capacity 2 (cost 1 each, nothing refunded), the third reconnection
    // is refused.
    let budget = Resilience::builder()
        .max_attempts(1)
        .retry_budget(RetryBudget::new(2).retry_cost(1).success_refund(0))
        .build()
        .unwrap();
    let client = HttpClient::new(server.url())
        .unwrap()
        .with_resilience(budget);
    let mut events = EventSource::get(
        &client,
        "/sse/ticks?count=10&drop_after=1&retry_ms=5&key=budget",
    )
    .connect();
    let mut got = Vec::new();
    let err = loop {
        match events.next().await {
            Ok(Some(e)) => got.push(e),
            Ok(None) => panic!("the stream ended although reconnections were refused"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        ids(&got),
        vec![1, 2, 3],
        "one event per connection, 3 connections"
    );
    assert!(
        matches!(err, Error::RetriesExhausted { .. }),
        "gave up with {err:?}"
    );
    assert_eq!(server.state().sse_connections("budget").len(), 3);
    assert!(
        events.next().await.unwrap().is_none(),
        "ended after the error"
    );
}

#[tokio::test]
async fn a_reconnection_that_would_pass_the_deadline_is_not_made() {
    let server = DemoServer::start().await.unwrap();
    let policy = Resilience::builder()
        .max_attempts(1)
        .deadline(Duration::from_millis(200))
        .build()
        .unwrap();
    let client = HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    // The server asks for 5 s between reconnections: more than the deadline.
    let mut events = EventSource::get(
        &client,
        "/sse/ticks?count=5&drop_after=1&retry_ms=5000&key=deadline",
    )
    .connect();
    assert!(events.next().await.unwrap().is_some());
    let err = events.next().await.unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded { .. }),
        "gave up with {err:?}"
    );
    assert_eq!(server.state().sse_connections("deadline").len(), 1);
}

#[tokio::test]
async fn an_open_circuit_breaker_stops_the_reconnections() {
    use keel::resilience::CircuitBreaker;
    let server = DemoServer::start().await.unwrap();
    let policy = Resilience::builder()
        .max_attempts(1)
        .circuit_breaker(CircuitBreaker::new().consecutive_failures(1))
        .build()
        .unwrap();
    let client = HttpClient::new(server.url())
        .unwrap()
        .with_resilience(policy);
    let mut events = EventSource::get(&client, "/sse/ticks?count=1000&delay_ms=20&retry_ms=10")
        .max_reconnects(5)
        .connect();
    assert!(events.next().await.unwrap().is_some());
    // The server goes away: the stream drops, the first reconnection is
    // refused (a failure the breaker counts), and the breaker then refuses
    // the next one before it is sent.
    server.shutdown().await;
    let err = loop {
        match events.next().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended cleanly although the server went away"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, Error::CircuitOpen { .. }),
        "gave up with {err:?}"
    );
    assert!(events.reconnects() >= 2, "{events:?}");
}

#[tokio::test]
async fn max_reconnects_bounds_a_stream_that_never_comes_back() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    // Each connection drops after 1 event; allow no reconnection at all.
    let mut events = EventSource::get(
        &client,
        "/sse/ticks?count=10&drop_after=1&retry_ms=5&key=noreconnect",
    )
    .reconnect(false)
    .connect();
    assert!(events.next().await.unwrap().is_some());
    let err = events.next().await.unwrap_err();
    assert!(matches!(err, Error::RetriesExhausted { .. }), "{err:?}");
    assert_eq!(server.state().sse_connections("noreconnect").len(), 1);
}

#[tokio::test]
async fn a_response_that_is_not_an_event_stream_is_an_error() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let err = EventSource::get(&client, "/health")
        .connect()
        .next()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("text/event-stream"), "{err}");
    let err = EventSource::get(&client, "/status/404")
        .connect()
        .next()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");
}

#[test]
fn blocking_callers_iterate_and_resume() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let events = EventSource::get(
        &client,
        "/sse/ticks?count=9&drop_after=4&retry_ms=10&done=1&key=blocking",
    )
    .connect()
    .blocking();
    let got: Vec<_> = events.map(Result::unwrap).collect();
    assert_eq!(ids(&got), (1..=9).collect::<Vec<_>>());
    let t: Tick = got[2].json().unwrap();
    assert_eq!(t.n, 3);
    assert_eq!(server.state().sse_connections("blocking").len(), 3);
}
