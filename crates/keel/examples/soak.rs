//! Soak: many requests through one client family (a client, clients derived
//! from it, async tasks and blocking threads sharing one pool and one
//! resilience state) against the demo server's normal and fault routes,
//! sampling this process's resident memory, open file descriptors and
//! threads from `/proc/self`. Run by `scripts/soak.sh`, which starts
//! `keel serve`; by hand:
//!
//! ```text
//! cargo run --release -p keel-http --example soak -- http://127.0.0.1:8080 100000
//! ```
//!
//! Arguments: base URL (loopback only), requests (default 100 000), async
//! tasks (default 32), blocking threads (default 2). Exits 1 if a request
//! fails in a way the route does not explain, or if descriptors or memory
//! keep growing over the second half of the run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keel::{HttpClient, Resilience};

/// One `/proc/self` reading.
#[derive(Debug, Clone, Copy)]
struct Sample {
    done: usize,
    secs: f64,
    rss_kib: u64,
    fds: usize,
    threads: u64,
}

fn status_field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn sample(done: usize, started: Instant) -> Sample {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    Sample {
        done,
        secs: started.elapsed().as_secs_f64(),
        rss_kib: status_field(&status, "VmRSS:"),
        fds,
        threads: status_field(&status, "Threads:"),
    }
}

/// The route for request `i`: mostly normal traffic, with faults mixed in.
/// Keys are unique where the fault counts arrivals, so every faulted call
/// has a defined outcome.
fn route(i: usize) -> (keel::Method, String, &'static str) {
    use keel::Method;
    match i % 50 {
        0 => (
            Method::GET,
            format!("/fault/fail?times=1&key=soak-fail-{i}"),
            "503 once, then retried",
        ),
        10 => (
            Method::GET,
            format!("/fault/retry-after?times=1&seconds=0&key=soak-ra-{i}"),
            "429 Retry-After: 0, then retried",
        ),
        20 => (
            Method::GET,
            format!("/fault/close?times=1&key=soak-close-{i}"),
            "connection closed once, then retried",
        ),
        30 => (
            Method::GET,
            format!("/fault/reset-mid-body?times=1&key=soak-reset-{i}"),
            "body cut once, then retried",
        ),
        40 => (Method::GET, "/fault/delay?ms=2".into(), "2 ms delay"),
        n if n % 5 == 1 => (Method::POST, "/echo".into(), "POST /echo"),
        n if n % 5 == 2 => (Method::GET, "/items/{id}".into(), "GET /items/{id}"),
        _ => (Method::GET, "/echo".into(), "GET /echo"),
    }
}

#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<String, usize>,
    unexplained: Vec<String>,
}

impl Tally {
    fn record(&mut self, what: &str, result: &keel::Result<u16>) {
        let key = match result {
            Ok(status) => format!("{what}: {status}"),
            Err(e) => {
                if self.unexplained.len() < 20 {
                    self.unexplained.push(format!("{what}: {e}"));
                }
                format!("{what}: error")
            }
        };
        *self.outcomes.entry(key).or_default() += 1;
    }
}

async fn send_async(client: &HttpClient, i: usize) -> keel::Result<u16> {
    let (method, path, _) = route(i);
    let mut rb = client.request(method.clone(), &path);
    if path == "/items/{id}" {
        rb = rb.path_param("id", 1 + i % 3);
    }
    if method == keel::Method::POST {
        rb = rb
            .json(&serde_json::json!({ "n": i, "pad": "x".repeat(i % 512) }))
            .idempotency_key(format!("soak-{i}"));
    }
    let resp = rb.query("i", i).send().await?;
    Ok(resp.status.as_u16())
}

fn send_blocking(client: &HttpClient, i: usize) -> keel::Result<u16> {
    let (method, path, _) = route(i);
    let mut rb = client.request(method.clone(), &path);
    if path == "/items/{id}" {
        rb = rb.path_param("id", 1 + i % 3);
    }
    if method == keel::Method::POST {
        rb = rb
            .json(&serde_json::json!({ "n": i }))
            .idempotency_key(format!("soak-{i}"));
    }
    let resp = rb.query("i", i).send_blocking()?;
    Ok(resp.status.as_u16())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let total: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let tasks: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
        .max(1);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    match run(&url, total, tasks, threads) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(url: &str, total: usize, tasks: usize, threads: usize) -> keel::Result<bool> {
    let parsed = keel::Url::parse(url)
        .map_err(|e| keel::Error::InvalidConfig(format!("{url:?} is not a URL: {e}")))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !loopback {
        return Err(keel::Error::InvalidConfig(format!(
            "the soak only targets loopback, not {url}"
        )));
    }
    let base = HttpClient::builder(url)
        .header("User-Agent", "keel-soak/1")
        .timeout(Duration::from_secs(10))
        .build()?;
    // Fast backoff so faults cost milliseconds; the rest is standard().
    let family = base.with_resilience(
        Resilience::builder()
            .backoff(Duration::from_millis(1), Duration::from_millis(5))
            .build()?,
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| keel::Error::InvalidConfig(format!("runtime: {e}")))?;
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let every = (total / 20).max(1);
    samples
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(sample(0, started));

    let record = {
        let (done, tally, samples) = (done.clone(), tally.clone(), samples.clone());
        move |i: usize, r: keel::Result<u16>| {
            let (_, _, what) = route(i);
            tally
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(what, &r);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if n % every == 0 {
                let s = sample(n, started);
                samples.lock().unwrap_or_else(|p| p.into_inner()).push(s);
            }
        }
    };

    // Blocking threads take every 10th request (outside the runtime).
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (client, next, record) = (family.clone(), next.clone(), record.clone());
        handles.push(std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= total {
                break;
            }
            // Every 100th request goes through a freshly derived client.
            let r = if i % 100 == 7 {
                client
                    .with_headers([("X-Soak", "derived")])
                    .and_then(|c| send_blocking(&c, i))
            } else {
                send_blocking(&client, i)
            };
            record(i, r);
            if i % 10 != 0 {
                // Leave most requests to the async tasks.
                std::thread::yield_now();
            }
        }));
    }
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..tasks {
            let (client, next, record) = (family.clone(), next.clone(), record.clone());
            set.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let r = if i % 100 == 7 {
                        match client.with_headers([("X-Soak", "derived")]) {
                            Ok(c) => send_async(&c, i).await,
                            Err(e) => Err(e),
                        }
                    } else {
                        send_async(&client, i).await
                    };
                    record(i, r);
                }
            });
        }
        while set.join_next().await.is_some() {}
    });
    for h in handles {
        let _ = h.join();
    }
    let elapsed = started.elapsed();
    let end = sample(done.load(Ordering::Relaxed), started);
    let samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));

    println!("| requests done | seconds | RSS MiB | open fds | threads |");
    println!("|---:|---:|---:|---:|---:|");
    for s in samples.iter().chain(std::iter::once(&end)) {
        println!(
            "| {} | {:.1} | {:.1} | {} | {} |",
            s.done,
            s.secs,
            s.rss_kib as f64 / 1024.0,
            s.fds,
            s.threads
        );
    }
    println!();
    for (k, n) in &tally.outcomes {
        println!("  {n:>7}  {k}");
    }
    let n = end.done;
    println!(
        "\n{n} requests in {:.1} s ({:.0} req/s), {tasks} async tasks + {threads} blocking threads",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64().max(1e-9)
    );

    // Growth over the second half (after pools and allocator warm up).
    let half = samples.get(samples.len() / 2).copied().unwrap_or(end);
    let peak_rss = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let peak_fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    println!(
        "RSS: {:.1} MiB at the start, {:.1} MiB at half-way, {:.1} MiB at the end, peak {:.1} MiB; fds: {} / {} / {}, peak {}",
        samples[0].rss_kib as f64 / 1024.0,
        half.rss_kib as f64 / 1024.0,
        end.rss_kib as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        samples[0].fds,
        half.fds,
        end.fds,
        peak_fds,
    );
    let mut ok = true;
    if !tally.unexplained.is_empty() {
        ok = false;
        println!("requests that failed (first 20):");
        for u in &tally.unexplained {
            println!("  {u}");
        }
    }
    // A leak shows as growth that goes on: allow 25 % memory and a pool's
    // worth of descriptors over the second half.
    if end.rss_kib > half.rss_kib + half.rss_kib / 4 {
        ok = false;
        println!("FAIL: resident memory grew by more than 25 % over the second half");
    }
    if end.fds > half.fds + tasks + threads + 8 {
        ok = false;
        println!("FAIL: open descriptors grew over the second half");
    }
    if n != total {
        ok = false;
        println!("FAIL: {n} of {total} requests completed");
    }
    Ok(ok)
}
