//! The overhead of a resilient call over a plain one, against the demo
//! server on loopback: mean time per request of N sequential `GET /bench`
//! with `Resilience::none()` and with `Resilience::standard()`, in
//! alternating rounds of the same run (so both see the same machine load).
//!
//! ```text
//! cargo run --release -p keel --example resilience_overhead [-- N]
//! ```
//!
//! A measurement, not a test: it asserts nothing about speed.

use std::time::{Duration, Instant};

use keel::{HttpClient, Resilience};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2000);
    let rounds = 4;
    let per_round = (n / rounds).max(1);
    let server = keel_demo::DemoServer::start_background()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let base = HttpClient::new(server.url())?;
    let plain = base.with_resilience(Resilience::none());
    let resilient = base.with_resilience(Resilience::standard());

    let run = |client: &HttpClient, count: u32| -> Result<Duration, keel::Error> {
        rt.block_on(async {
            let started = Instant::now();
            for _ in 0..count {
                let r = client.get("/bench").send().await?;
                if r.status != 200 {
                    return Err(keel::Error::InvalidRequest(format!("status {}", r.status)));
                }
            }
            Ok(started.elapsed())
        })
    };
    // Warm the pool and the code paths.
    run(&plain, 100)?;
    run(&resilient, 100)?;

    let (mut t_plain, mut t_res) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        t_plain += run(&plain, per_round)?;
        t_res += run(&resilient, per_round)?;
    }
    let total = per_round * rounds;
    let mean_plain = t_plain / total;
    let mean_res = t_res / total;
    println!(
        "{total} sequential GET /bench per policy (async, loopback, {rounds} alternating rounds)"
    );
    println!("Resilience::none()     mean {mean_plain:?} per request");
    println!("Resilience::standard() mean {mean_res:?} per request");
    println!(
        "overhead               {:+.1} µs per request ({:+.1} %)",
        (mean_res.as_secs_f64() - mean_plain.as_secs_f64()) * 1e6,
        (mean_res.as_secs_f64() / mean_plain.as_secs_f64() - 1.0) * 100.0
    );
    Ok(())
}
