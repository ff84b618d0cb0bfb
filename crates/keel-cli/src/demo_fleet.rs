//! `keel demo`'s fleet step: two `keel` processes share one rate limit
//! through Redis. The parent spawns itself twice with the hidden
//! `--fleet-worker` flag; each worker's client keeps its rate limit in the
//! Redis store (`Resilience::shared_store`), and the server counts what
//! arrives.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel::resilience::{OnLimit, RateLimit, RedisStore, Resilience};

/// The shared limit of the demo: 20 requests a second, no burst.
fn limit() -> RateLimit {
    RateLimit::per_second(20)
}

/// How long each worker sends.
const RUN: Duration = Duration::from_secs(2);

/// Where to find Redis: `KEEL_REDIS_URL`, or the default local port.
pub(crate) fn redis_url() -> String {
    std::env::var("KEEL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The fleet step. `Ok(None)` when no Redis answers (the step says how to
/// start one); `Ok(Some(line))` with what happened.
pub(crate) async fn step(
    base: &str,
    state: &keel_demo::DemoState,
) -> Result<Option<String>, String> {
    let url = redis_url();
    let store = RedisStore::builder(&url)
        .require_connection(true)
        .timeout(Duration::from_millis(200))
        .connect()
        .await;
    if store.is_err() {
        println!("   · no Redis server answers at {url}: skipping this step.");
        println!("     Start one with `redis-server --port 6379` (Debian/Ubuntu: `apt-get install redis-server`),");
        println!("     or point KEEL_REDIS_URL at yours, and run `keel demo` again.");
        return Ok(None);
    }
    // A namespace of this run's own: nothing else on that Redis is touched.
    let namespace = format!("keel-demo-{}-{}", std::process::id(), rand_suffix());
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the keel binary: {e}"))?;
    println!("   → 2 processes, each as fast as one shared limit of 20 requests/s lets it, through {url}");
    let started = Instant::now();
    let mut children = Vec::new();
    for _ in 0..2 {
        let child = Command::new(&exe)
            .args(["demo", "--fleet-worker", "--redis", &url, "--server", base])
            .args(["--namespace", &namespace])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start a worker process: {e}"))?;
        children.push(child);
    }
    let mut sent = Vec::new();
    for child in children {
        let out = child
            .wait_with_output()
            .map_err(|e| format!("a worker process failed: {e}"))?;
        if !out.status.success() {
            return Err(format!("a worker process exited with {}", out.status));
        }
        let n: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| "a worker printed no count".to_owned())?;
        sent.push(n);
    }
    let took = started.elapsed();
    let arrived = state.arrivals(&namespace).arrivals;
    let total: u64 = sent.iter().sum();
    if arrived != total {
        return Err(format!(
            "the workers sent {total} requests but {arrived} arrived"
        ));
    }
    // 20/s over the time both ran (their start-up skew included), plus the
    // one permit a full bucket holds.
    let allowed = (20.0 * took.as_secs_f64()).floor() as u64 + 1;
    if total > allowed {
        return Err(format!(
            "{total} requests in {took:.1?} is more than the shared limit allows ({allowed})"
        ));
    }
    Ok(Some(format!(
        "process 1 sent {}, process 2 sent {}: {total} arrived in {took:.1?} — one limit held for both together (each with a limit of its own: about {} in all)",
        sent[0],
        sent[1],
        2 * (20 * RUN.as_secs() + 1)
    )))
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64 % 1_000_000)
}

/// A worker: sends GET /fault/fail?times=0 (always 200, counted under the
/// namespace) for 2 s through a client whose resilience keeps its rate limit
/// in Redis (the pipeline takes a permit from the store before each
/// request); prints how many it sent.
pub(crate) async fn worker(redis: &str, server: &str, namespace: &str) -> Result<(), String> {
    let store = RedisStore::builder(redis)
        .namespace(namespace)
        .require_connection(true)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let policy = Resilience::builder()
        .max_attempts(1)
        .no_circuit_breaker()
        .no_retry_budget()
        .no_deadline()
        .rate_limit(limit().on_limit(OnLimit::Wait { max_wait: RUN }))
        .shared_store(Arc::new(store))
        .build()
        .map_err(|e| e.to_string())?;
    // Both workers build the same client (same base URL): one client
    // family, so one limit in the store.
    let client = keel::HttpClient::new(server)
        .map_err(|e| e.to_string())?
        .with_resilience(policy);
    let until = Instant::now() + RUN;
    let mut sent = 0u64;
    for _ in 0..100_000 {
        if Instant::now() >= until {
            break;
        }
        client
            .get("/fault/fail")
            .query("times", 0)
            .header("X-Fault-Key", namespace)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        sent += 1;
    }
    println!("{sent}");
    Ok(())
}
