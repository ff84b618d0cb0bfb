//! `keel-bench`: Keel side by side with raw hyper, raw reqwest and Python
//! httpx, against the demo server's `GET /bench`, in one run.
//!
//! The server runs as a separate process (this binary with `--server`),
//! pinned to core 0 with `taskset` when there are two cores or more; run the
//! bench itself pinned to core 1 (`scripts/bench.sh` does). Contenders
//! alternate, round after round, so drift and noise from other work on the
//! machine spread evenly across them.
//!
//! ```text
//! keel-bench [--quick] [--requests N] [--concurrent-requests N] [--rounds R]
//!            [--concurrency C] [--only a,b,..] [--shapes sequential,concurrent]
//!            [--python PATH | --no-python] [--out DIR]
//! ```

mod contenders;
mod python;
mod report;
mod server;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use contenders::{Clients, Kind, Shape};
use report::{Measurement, Report};

const USAGE: &str = "\
keel-bench: Keel vs raw hyper, raw reqwest and Python httpx on GET /bench

options:
  --quick                    2 000 sequential / 5 000 concurrent requests, 3 rounds
  --requests N               sequential requests per contender and round (default 20000)
  --concurrent-requests N    concurrent-shape requests (default 50000; with --requests
                             alone, the same N)
  --rounds R                 rounds (default 5)
  --concurrency C            requests in flight in the concurrent shape (default 64)
  --warmup N                 warm-up requests before each measurement (default 200)
  --only a,b,..              contenders: hyper reqwest reqwest-timeout reqwest-blocking
                             keel keel-blocking
                             keel-signed keel-signed-resilient httpx httpx-async
  --shapes s,..              sequential, concurrent (default both)
  --python PATH              the Python with httpx (default <workspace>/.venv-bench/bin/python)
  --no-python                skip the httpx contenders
  --httpx-fraction F         httpx runs F x the request count (default 0.1: httpx is
                             ~10-50x slower; its req/s does not depend on the count)
  --server-cpu LIST          taskset CPU list for the server (default 0 when >= 2 CPUs)
  --no-pin                   do not pin the server
  --out DIR                  where latest.json / latest.md go (default bench-results)
";

/// The parsed command line.
#[derive(Debug, Clone)]
struct Options {
    sequential: usize,
    concurrent: usize,
    rounds: usize,
    concurrency: usize,
    warmup: usize,
    only: Vec<Kind>,
    shapes: Vec<Shape>,
    python: Option<PathBuf>,
    httpx_fraction: f64,
    server_cpu: Option<String>,
    out: PathBuf,
    quick: bool,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut o = Options {
        sequential: 20_000,
        concurrent: 50_000,
        rounds: 5,
        concurrency: 64,
        warmup: 200,
        only: Kind::ALL.to_vec(),
        shapes: vec![Shape::Sequential, Shape::Concurrent],
        python: Some(default_python()),
        httpx_fraction: 0.1,
        server_cpu: default_server_cpu(),
        out: PathBuf::from("bench-results"),
        quick: false,
    };
    let mut requests = None;
    let mut concurrent_requests = None;
    let mut rounds = None;
    let mut it = args.iter();
    fn value<'a>(it: &mut std::slice::Iter<'a, String>, flag: &str) -> Result<&'a String> {
        it.next()
            .with_context(|| format!("{flag} needs a value (see --help)"))
    }
    fn number(s: &str, flag: &str) -> Result<usize> {
        s.parse()
            .with_context(|| format!("{flag} expects a whole number, got {s:?}"))
    }
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--requests" => requests = Some(number(value(&mut it, a)?, a)?),
            "--concurrent-requests" => concurrent_requests = Some(number(value(&mut it, a)?, a)?),
            "--rounds" => rounds = Some(number(value(&mut it, a)?, a)?),
            "--concurrency" => o.concurrency = number(value(&mut it, a)?, a)?,
            "--warmup" => o.warmup = number(value(&mut it, a)?, a)?,
            "--only" => {
                o.only = value(&mut it, a)?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| Kind::from_name(s).with_context(|| format!("unknown contender {s:?}")))
                    .collect::<Result<_>>()?;
            }
            "--shapes" => {
                o.shapes = value(&mut it, a)?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| match s {
                        "sequential" | "seq" => Ok(Shape::Sequential),
                        "concurrent" | "conc" => Ok(Shape::Concurrent),
                        _ => bail!("unknown shape {s:?} (sequential, concurrent)"),
                    })
                    .collect::<Result<_>>()?;
            }
            "--python" => o.python = Some(PathBuf::from(value(&mut it, a)?)),
            "--no-python" => o.python = None,
            "--httpx-fraction" => {
                let v = value(&mut it, a)?;
                o.httpx_fraction = v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| *f > 0.0 && *f <= 1.0)
                    .with_context(|| format!("--httpx-fraction expects 0 < F <= 1, got {v:?}"))?;
            }
            "--server-cpu" => o.server_cpu = Some(value(&mut it, a)?.clone()),
            "--no-pin" => o.server_cpu = None,
            "--out" => o.out = PathBuf::from(value(&mut it, a)?),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if o.quick {
        o.sequential = 2_000;
        o.concurrent = 5_000;
        o.rounds = 3;
    }
    if let Some(n) = requests {
        o.sequential = n;
        o.concurrent = n;
    }
    if let Some(n) = concurrent_requests {
        o.concurrent = n;
    }
    if let Some(r) = rounds {
        o.rounds = r;
    }
    if o.sequential == 0 || o.concurrent == 0 || o.rounds == 0 || o.concurrency == 0 {
        bail!("request counts, rounds and concurrency must be at least 1");
    }
    if o.only.is_empty() || o.shapes.is_empty() {
        bail!("nothing to run: --only and --shapes must name at least one");
    }
    Ok(o)
}

fn default_python() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.venv-bench/bin/python"
    ))
}

fn script_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/bench_httpx.py"
    ))
}

fn taskset_available() -> bool {
    std::process::Command::new("taskset")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn default_server_cpu() -> Option<String> {
    (report::machine_cpus() >= 2 && taskset_available()).then(|| "0".to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().is_some_and(|a| a == "--server") {
        server::run()
    } else {
        parse_args(&args).and_then(|o| bench(&o, &args))
    };
    if let Err(e) = result {
        eprintln!("keel-bench: {e:#}");
        std::process::exit(1);
    }
}

fn bench(o: &Options, args: &[String]) -> Result<()> {
    let python = match &o.python {
        Some(p) if o.only.iter().any(|k| k.is_python()) => {
            if p.exists() {
                Some(p.clone())
            } else {
                eprintln!(
                    "note: {} not found; skipping httpx (run scripts/bench.sh, or pass --python)",
                    p.display()
                );
                None
            }
        }
        _ => None,
    };
    let kinds: Vec<Kind> = o
        .only
        .iter()
        .copied()
        .filter(|k| !k.is_python() || python.is_some())
        .collect();
    if kinds.is_empty() {
        bail!("no contender left to run");
    }

    let server = server::ServerProcess::spawn(o.server_cpu.as_deref())?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let expected_len = fetch_len(&format!("{base}/bench"))?;
    let clients = Arc::new(Clients::new(&base, expected_len)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the client runtime")?;

    let mut report = Report::new(o, args, &server, contenders::resilient_policy().1);
    eprintln!(
        "server pinned to CPU {}, client affinity {}; {} round(s), {} sequential / {} concurrent (x{}) requests",
        server.pinned_to.as_deref().unwrap_or("(not pinned)"),
        report::own_affinity(),
        o.rounds,
        o.sequential,
        o.concurrent,
        o.concurrency
    );

    for round in 0..o.rounds {
        for &shape in &o.shapes {
            let n = match shape {
                Shape::Sequential => o.sequential,
                Shape::Concurrent => o.concurrent,
            };
            // Rotate the order every round so no contender always follows
            // the same one.
            let mut order = kinds.clone();
            let len = order.len();
            order.rotate_left(round % len);
            for kind in order {
                let m = if kind.is_python() {
                    let py_n = ((n as f64 * o.httpx_fraction).round() as usize).max(1);
                    python::run(
                        python.as_deref().unwrap_or(&default_python()),
                        &script_path(),
                        &format!("{base}/bench"),
                        kind,
                        shape,
                        py_n,
                        o.concurrency,
                        o.warmup,
                        expected_len,
                    )
                } else {
                    contenders::run(&rt, &clients, kind, shape, n, o.concurrency, o.warmup)
                        .map(Measurement::from_sample)
                }
                .with_context(|| format!("{} ({}) failed", kind.name(), shape.name()))?;
                eprintln!(
                    "round {}/{} {:<10} {:<22} {:>9.0} req/s  p50 {:>7.1} us  p99 {:>8.1} us",
                    round + 1,
                    o.rounds,
                    shape.name(),
                    kind.name(),
                    m.rps,
                    m.p50_us,
                    m.p99_us
                );
                report.add(kind, shape, m);
            }
        }
    }
    drop(clients);
    drop(rt);
    drop(server);

    let text = report.table();
    println!("{text}");
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("cannot create {}", o.out.display()))?;
    let json_path = o.out.join("latest.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report.json())?)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let md_path = o.out.join("latest.md");
    std::fs::write(&md_path, report.markdown())
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    eprintln!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}

/// The length of the bench body, fetched once so every contender can check
/// that it read all of it.
fn fetch_len(url: &str) -> Result<usize> {
    let resp = reqwest::blocking::get(url).with_context(|| format!("GET {url} failed"))?;
    if !resp.status().is_success() {
        bail!("GET {url} answered {}", resp.status());
    }
    Ok(resp.bytes()?.len())
}
