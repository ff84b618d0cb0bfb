//! What sharing resilience state through Redis costs per request, against
//! the in-process store: the store calls one attempt makes (breaker check,
//! rate-limit permit, breaker admission, outcome), alone, and as the request
//! pipeline makes them around a real GET to the demo server on loopback
//! (`Resilience::shared_store` against `state_store`), one caller and 16
//! concurrent ones.
//!
//! Starts its own `redis-server` on a free loopback port (or uses
//! `KEEL_REDIS_URL`):
//!
//! ```text
//! cargo run --release -p keel-http --features redis --example fleet_overhead
//! ```

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel::resilience::{
    BreakerStore, CircuitBreaker, InMemoryStore, RateLimit, RateLimitStore, RedisStore, Resilience,
};

/// The store calls of one attempt, as the pipeline makes them.
async fn one_attempt<S: BreakerStore + RateLimitStore + ?Sized>(
    store: &S,
    breaker: &CircuitBreaker,
    limit: &RateLimit,
) {
    let origin = "http://127.0.0.1:1";
    let refusing = store.breaker_wait("bench", origin, breaker).await;
    assert!(matches!(refusing, Ok(None)), "{refusing:?}");
    let permit = store.rate_limit_take("bench", limit, 1).await;
    assert!(matches!(permit, Ok(Ok(()))), "{permit:?}");
    let (admitted, _) = store
        .breaker_admit("bench", origin, breaker)
        .await
        .expect("admission");
    let permit = admitted.expect("a closed breaker admits");
    store
        .breaker_report("bench", origin, breaker, permit, false)
        .await
        .expect("record");
}

async fn per_op<S: BreakerStore + RateLimitStore + ?Sized>(
    store: &S,
    n: u32,
    breaker: &CircuitBreaker,
    limit: &RateLimit,
) -> Duration {
    for _ in 0..n / 10 {
        one_attempt(store, breaker, limit).await;
    }
    let started = Instant::now();
    for _ in 0..n {
        one_attempt(store, breaker, limit).await;
    }
    started.elapsed() / n
}

async fn plain_get(client: keel::HttpClient, tasks: usize, per_task: u32) -> Duration {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let r = client.get("/bench").send().await.expect("GET /bench");
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    started.elapsed() / (tasks as u32 * per_task)
}

struct Redis(Option<std::process::Child>, String);

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn redis() -> Result<Redis, String> {
    if let Ok(url) = std::env::var("KEEL_REDIS_URL") {
        return Ok(Redis(None, url));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot start redis-server ({e}); install it (apt-get install redis-server) or set KEEL_REDIS_URL")
        })?;
    let r = Redis(Some(child), format!("redis://127.0.0.1:{port}"));
    for _ in 0..250 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(r);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("redis-server did not start within 5 s".into())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis = redis()?;
    let server = keel_demo::DemoServer::start_background()?;
    let store = Arc::new(RedisStore::builder(&redis.1).connect().await?);
    store.ping().await?;
    let memory = Arc::new(InMemoryStore::new());
    let breaker = CircuitBreaker::new();
    // High enough never to make anyone wait: this measures the cost of
    // asking, not the limit.
    let limit = RateLimit::per_second(1_000_000).burst(1_000_000);
    let client = keel::HttpClient::new(server.url())?;

    println!("store calls of one attempt (breaker check, permit, admission, outcome), one caller:");
    let m = per_op(&*memory, 200_000, &breaker, &limit).await;
    let r = per_op(&*store, 20_000, &breaker, &limit).await;
    println!("  in-memory  {:>8.2} µs", m.as_secs_f64() * 1e6);
    println!(
        "  redis      {:>8.2} µs  (4 script calls over loopback)",
        r.as_secs_f64() * 1e6
    );

    let policy = || {
        Resilience::builder()
            .max_attempts(1)
            .no_retry_budget()
            .no_deadline()
            .circuit_breaker(breaker.clone())
            .rate_limit(limit)
    };
    let in_memory = client.with_resilience(policy().state_store(memory.clone()).build()?);
    let shared = client.with_resilience(policy().shared_store(store.clone()).build()?);
    for (tasks, per_task) in [(1usize, 5_000u32), (16, 1_000)] {
        println!(
            "GET /bench through the pipeline (breaker + rate limit), {tasks} concurrent caller(s), wall time per request:"
        );
        let p = plain_get(client.clone(), tasks, per_task).await;
        let m = plain_get(in_memory.clone(), tasks, per_task).await;
        let r = plain_get(shared.clone(), tasks, per_task).await;
        println!("  no store   {:>8.2} µs", p.as_secs_f64() * 1e6);
        println!("  in-memory  {:>8.2} µs", m.as_secs_f64() * 1e6);
        println!(
            "  redis      {:>8.2} µs  (+{:.2} µs over in-memory)",
            r.as_secs_f64() * 1e6,
            (r.as_secs_f64() - m.as_secs_f64()) * 1e6
        );
    }
    Ok(())
}
