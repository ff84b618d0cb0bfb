//! Hedged requests over loopback: an idempotent request whose first copy
//! does not answer gets a second copy, whose answer wins (the first is never
//! waited for); a POST is never hedged; the second copy needs a rate-limit
//! permit and the retry budget's cost, and is not sent without them; the
//! losing copy is cancelled (its connection closed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::routing::any;
use keel::resilience::{Hedge, OnLimit, RateLimit, Resilience, ResilienceEvent, RetryBudget};
use keel::HttpClient;
use keel_demo::DemoServer;
use tokio::sync::Semaphore;

/// A server whose first `hold` arrivals per key wait until the test opens
/// the gate; later ones answer at once with their arrival number.
struct Gated {
    server: DemoServer,
    arrivals: Arc<Mutex<HashMap<String, usize>>>,
    gate: Arc<Semaphore>,
}

impl Gated {
    async fn start() -> Gated {
        let arrivals: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let gate = Arc::new(Semaphore::new(0));
        let (count, wait) = (arrivals.clone(), gate.clone());
        let router = axum::Router::new().route(
            "/hedge",
            any(move |Query(q): Query<HashMap<String, String>>| {
                let (count, wait) = (count.clone(), wait.clone());
                async move {
                    let key = q.get("key").cloned().unwrap_or_default();
                    let hold: usize = q.get("hold").and_then(|h| h.parse().ok()).unwrap_or(1);
                    let n = {
                        let mut a = count.lock().unwrap();
                        let n = a.entry(key).or_insert(0);
                        *n += 1;
                        *n
                    };
                    if n <= hold {
                        // One permit opens the gate for one arrival.
                        if let Ok(permit) = wait.acquire().await {
                            permit.forget();
                        }
                        format!("slow {n}")
                    } else {
                        format!("fast {n}")
                    }
                }
            }),
        );
        let server = DemoServer::builder().routes(router).start().await.unwrap();
        Gated {
            server,
            arrivals,
            gate,
        }
    }

    fn arrivals(&self, key: &str) -> usize {
        self.arrivals.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    /// Waits (bounded) until `key` has had `n` arrivals.
    async fn until(&self, key: &str, n: usize) {
        for _ in 0..500 {
            if self.arrivals(key) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{key}: {} arrivals, expected {n}", self.arrivals(key));
    }
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

fn hedges(events: &Mutex<Vec<ResilienceEvent>>) -> usize {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ResilienceEvent::Hedged { .. }))
        .count()
}

fn base() -> keel::resilience::ResilienceBuilder {
    Resilience::builder()
        .max_attempts(1)
        .no_retry_budget()
        .no_circuit_breaker()
        .no_deadline()
        .hedge(Hedge::after(Duration::from_millis(20)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_copy_answers_when_the_first_does_not() {
    let g = Gated::start().await;
    let (events, hook) = recorder();
    let client = HttpClient::new(g.server.url())
        .unwrap()
        .with_resilience(base().on_event(hook).build().unwrap());
    // The first copy waits for a gate that is never opened while the call
    // runs: the call can only finish through the hedge.
    let r = client.get("/hedge?key=get").send().await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text().unwrap(), "fast 2");
    assert_eq!(g.arrivals("get"), 2);
    assert_eq!(hedges(&events), 1);
    // A fast first copy is not hedged.
    let r = client.get("/hedge?key=fast&hold=0").send().await.unwrap();
    assert_eq!(r.text().unwrap(), "fast 1");
    assert_eq!(g.arrivals("fast"), 1);
    assert_eq!(hedges(&events), 1);
    g.gate.add_permits(100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_hedged() {
    let g = Gated::start().await;
    let (events, hook) = recorder();
    let client = HttpClient::new(g.server.url())
        .unwrap()
        .with_resilience(base().on_event(hook).build().unwrap());
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.post("/hedge?key=post").send().await }
    });
    g.until("post", 1).await;
    // Ten hedge delays later there is still one copy.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(g.arrivals("post"), 1);
    g.gate.add_permits(100);
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.text().unwrap(), "slow 1");
    assert_eq!(g.arrivals("post"), 1);
    assert_eq!(hedges(&events), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_copy_needs_a_permit_and_the_budget() {
    let g = Gated::start().await;
    // One permit in ten minutes: the first copy takes it, the hedge finds
    // none and is not sent.
    let (events, hook) = recorder();
    let limited = HttpClient::new(g.server.url()).unwrap().with_resilience(
        base()
            .rate_limit(
                RateLimit::new(1, Duration::from_secs(600))
                    .burst(1)
                    .on_limit(OnLimit::Fail),
            )
            .on_event(hook)
            .build()
            .unwrap(),
    );
    let call = tokio::spawn({
        let c = limited.clone();
        async move { c.get("/hedge?key=rl").send().await }
    });
    g.until("rl", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(g.arrivals("rl"), 1, "no permit, no hedge");
    g.gate.add_permits(1);
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.text().unwrap(), "slow 1");
    assert_eq!(hedges(&events), 0);

    // A budget with room for one hedge: the first call is hedged, the
    // second is not.
    let (events, hook) = recorder();
    let budgeted = HttpClient::new(g.server.url()).unwrap().with_resilience(
        base()
            .retry_budget(RetryBudget::new(5).retry_cost(5).success_refund(0))
            .on_event(hook)
            .build()
            .unwrap(),
    );
    let r = budgeted.get("/hedge?key=b1").send().await.unwrap();
    assert_eq!(r.text().unwrap(), "fast 2");
    assert_eq!(hedges(&events), 1);
    let call = tokio::spawn({
        let c = budgeted.clone();
        async move { c.get("/hedge?key=b2").send().await }
    });
    g.until("b2", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(g.arrivals("b2"), 1, "budget spent, no hedge");
    g.gate.add_permits(100);
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.text().unwrap(), "slow 1");
    assert_eq!(hedges(&events), 1);
}

/// The losing copy is cancelled, not left running: once the hedge has
/// answered, the first copy's connection is closed by the client (the server
/// reads end of stream on it), so a slow server is not kept busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slower_copy_is_cancelled_and_its_connection_closed() {
    use std::io::{Read, Write};
    use std::sync::mpsc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        // The first connection holds its request unanswered and reports
        // what happens to it; the second answers.
        for (n, stream) in listener.incoming().take(2).enumerate() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                if n == 0 {
                    let outcome = match stream.read(&mut byte) {
                        Ok(0) => "closed by the client",
                        Ok(_) => "more bytes",
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                            "closed by the client"
                        }
                        Err(_) => "still open after 5 s",
                    };
                    let _ = tx.send(outcome.to_owned());
                } else {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nhedged");
                    let _ = stream.read(&mut byte);
                }
            });
        }
    });
    let client = HttpClient::new(url)
        .unwrap()
        .with_resilience(base().build().unwrap());
    let r = client.get("/slow").send().await.unwrap();
    assert_eq!(r.text().unwrap(), "hedged");
    let outcome = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the first connection reported");
    assert_eq!(outcome, "closed by the client");
}
