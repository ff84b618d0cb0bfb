//! `keel-bench`: Keel side by side with raw hyper, raw reqwest, the
//! reqwest-middleware peer stack and Python httpx, against the demo
//! server's `GET /bench` and `POST /bench`, in one run.
//!
//! The server runs as a separate process (this binary with `--server`),
//! pinned to core 0 with `taskset` when there are two cores or more; run the
//! bench itself pinned to core 1 (`scripts/bench.sh` does). Contenders
//! alternate, round after round, so drift and noise from other work on the
//! machine spread evenly across them.
//!
//! ```text
//! keel-bench [--quick] [--requests N] [--concurrent-requests N] [--post-requests N]
//!            [--rounds R] [--concurrency C] [--only a,b,..]
//!            [--shapes sequential,concurrent,post] [--python PATH | --no-python] [--out DIR]
//! keel-bench --hmac N | --hmac-keyed N       bare HMAC-SHA256, for callgrind
//! keel-bench --download SIZE [--blocking]    streaming download, peak RSS
//! ```

mod contenders;
mod cpu;
mod download;
mod hmac_mode;
mod peer;
mod python;
mod report;
mod server;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use contenders::{Clients, Kind, Shape};
use report::{Measurement, Report};

const USAGE: &str = "\
keel-bench: Keel vs raw hyper, raw reqwest, reqwest-middleware and Python httpx
on GET /bench and POST /bench

options:
  --quick                    2 000 sequential and POST / 5 000 concurrent requests, 3 rounds
  --requests N               sequential requests per contender and round (default 20000)
  --concurrent-requests N    concurrent-shape requests (default 50000; with --requests
                             alone, the same N)
  --post-requests N          post-shape requests (default: the sequential count)
  --rounds R                 rounds (default 5)
  --concurrency C            requests in flight in the concurrent shape (default 64)
  --warmup N                 warm-up requests before each measurement (default 200)
  --only a,b,..              contenders: hyper reqwest reqwest-timeout reqwest-blocking
                             reqwest-middleware keel keel-blocking
                             keel-signed keel-signed-resilient httpx httpx-async
  --shapes s,..              sequential (GET), concurrent (GET), post (sequential POST
                             of a 300-byte JSON body) (default all three)
  --python PATH              the Python with httpx (default <workspace>/.venv-bench/bin/python)
  --no-python                skip the httpx contenders
  --httpx-fraction F         httpx runs F x the request count (default 0.1: httpx is
                             ~10-50x slower; its req/s does not depend on the count)
  --server-cpu LIST          taskset CPU list for the server (default 0 when >= 2 CPUs)
  --no-pin                   do not pin the server
  --out DIR                  where latest.json / latest.md go (default bench-results)

other modes (one per process):
  --hmac N                   N bare HMAC-SHA256 of a signed GET /bench's string to sign,
                             keyed once (run under callgrind by scripts/instructions.sh)
  --hmac-keyed N             the same, keying the HMAC for every signature
  --hmac-post N              keyed once, over a signed POST /bench's string to sign
  --download SIZE            stream GET /bytes/SIZE (e.g. 200MiB) to a file with Keel
                             and report peak RSS; --blocking uses the blocking API,
                             --file PATH the target (default: a temp file, removed);
                             writes <out>/download.json
";

/// The parsed command line.
#[derive(Debug, Clone)]
struct Options {
    sequential: usize,
    concurrent: usize,
    post: usize,
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
    mode: Mode,
}

/// What a run does.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// The side-by-side benchmark.
    Bench,
    /// `--hmac N` / `--hmac-keyed N` / `--hmac-post N`.
    Hmac {
        n: usize,
        keyed_each: bool,
        post: bool,
    },
    /// `--download SIZE`.
    Download {
        bytes: u64,
        blocking: bool,
        file: Option<PathBuf>,
    },
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut o = Options {
        sequential: 20_000,
        concurrent: 50_000,
        post: 20_000,
        rounds: 5,
        concurrency: 64,
        warmup: 200,
        only: Kind::ALL.to_vec(),
        shapes: Shape::ALL.to_vec(),
        python: Some(default_python()),
        httpx_fraction: 0.1,
        server_cpu: default_server_cpu(),
        out: PathBuf::from("bench-results"),
        quick: false,
        mode: Mode::Bench,
    };
    let mut requests = None;
    let mut concurrent_requests = None;
    let mut post_requests = None;
    let mut blocking = false;
    let mut file = None;
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
            "--post-requests" => post_requests = Some(number(value(&mut it, a)?, a)?),
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
                    .map(|s| {
                        Shape::from_name(s).with_context(|| {
                            format!("unknown shape {s:?} (sequential, concurrent, post)")
                        })
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
            "--hmac" | "--hmac-keyed" | "--hmac-post" => {
                o.mode = Mode::Hmac {
                    n: number(value(&mut it, a)?, a)?,
                    keyed_each: a == "--hmac-keyed",
                    post: a == "--hmac-post",
                }
            }
            "--download" => {
                o.mode = Mode::Download {
                    bytes: download::parse_size(value(&mut it, a)?)?,
                    blocking: false,
                    file: None,
                }
            }
            "--blocking" => blocking = true,
            "--file" => file = Some(PathBuf::from(value(&mut it, a)?)),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if let Mode::Download {
        blocking: b,
        file: f,
        ..
    } = &mut o.mode
    {
        *b = blocking;
        *f = file;
    } else if blocking || file.is_some() {
        bail!("--blocking and --file go with --download");
    }
    if o.quick {
        o.sequential = 2_000;
        o.concurrent = 5_000;
        o.post = 2_000;
        o.rounds = 3;
    }
    if let Some(n) = requests {
        o.sequential = n;
        o.concurrent = n;
        o.post = n;
    }
    if let Some(n) = concurrent_requests {
        o.concurrent = n;
    }
    if let Some(n) = post_requests {
        o.post = n;
    }
    if let Some(r) = rounds {
        o.rounds = r;
    }
    if o.sequential == 0 || o.concurrent == 0 || o.post == 0 || o.rounds == 0 || o.concurrency == 0
    {
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
        parse_args(&args).and_then(|o| match &o.mode {
            Mode::Bench => bench(&o, &args),
            Mode::Hmac {
                n,
                keyed_each,
                post,
            } => {
                let msg = if *post {
                    hmac_mode::post_string_to_sign()
                } else {
                    hmac_mode::STRING_TO_SIGN.to_owned()
                };
                let last = hmac_mode::run(*n, *keyed_each, msg.as_bytes())?;
                println!(
                    "{n} HMAC-SHA256 ({}) of {} bytes ({:?}...); last tag starts {last:02x}",
                    if *keyed_each {
                        "keyed each time"
                    } else {
                        "keyed once"
                    },
                    msg.len(),
                    &msg[..msg.len().min(22)],
                );
                Ok(())
            }
            Mode::Download {
                bytes,
                blocking,
                file,
            } => {
                let d = download::run(*bytes, file.clone(), *blocking, o.server_cpu.as_deref())?;
                println!("{}", d.line());
                std::fs::create_dir_all(&o.out)
                    .with_context(|| format!("cannot create {}", o.out.display()))?;
                let path = o.out.join("download.json");
                std::fs::write(&path, serde_json::to_string_pretty(&d.json())?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(())
            }
        })
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
    let (expected_len, expected_post_len) = fetch_lens(&format!("{base}/bench"))?;
    let clients = Arc::new(Clients::new(&base, expected_len, expected_post_len)?);
    // Every async contender runs on the same kind of runtime: multi-thread
    // with one worker. (A Keel client used from a current_thread runtime
    // makes its connections on Keel's own runtime, an extra thread hop per
    // request that hyper and reqwest would not pay there.)
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the client runtime")?;
    if kinds
        .iter()
        .any(|k| matches!(k, Kind::Peer | Kind::KeelSigned | Kind::KeelSignedResilient))
    {
        rt.block_on(clients.verify_signatures())
            .context("a signed contender's signatures do not verify")?;
    }

    let mut report = Report::new(o, args, &server, contenders::resilient_policy().1);
    eprintln!(
        "server pinned to CPU {}, client affinity {}; {} round(s), {} sequential / {} concurrent (x{}) / {} POST requests; load average {}",
        server.pinned_to.as_deref().unwrap_or("(not pinned)"),
        report::own_affinity(),
        o.rounds,
        o.sequential,
        o.concurrent,
        o.concurrency,
        o.post,
        report::load_average().unwrap_or_else(|| "?".to_owned()),
    );

    for round in 0..o.rounds {
        for &shape in &o.shapes {
            let n = o.requests(shape);
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
                        contenders::POST_BODY,
                        py_n,
                        o.concurrency,
                        o.warmup,
                        match shape {
                            Shape::Post => expected_post_len,
                            _ => expected_len,
                        },
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
    report.finish();

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

impl Options {
    /// Requests per contender and round in `shape`.
    fn requests(&self, shape: Shape) -> usize {
        match shape {
            Shape::Sequential => self.sequential,
            Shape::Concurrent => self.concurrent,
            Shape::Post => self.post,
        }
    }
}

/// The lengths of the answers to `GET /bench` and to `POST /bench` with
/// the POST body, fetched once so every contender can check that it read
/// all of them.
fn fetch_lens(url: &str) -> Result<(usize, usize)> {
    let c = reqwest::blocking::Client::new();
    let resp = c
        .get(url)
        .send()
        .with_context(|| format!("GET {url} failed"))?;
    if !resp.status().is_success() {
        bail!("GET {url} answered {}", resp.status());
    }
    let get = resp.bytes()?.len();
    let resp = c
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(contenders::POST_BODY)
        .send()
        .with_context(|| format!("POST {url} failed"))?;
    if !resp.status().is_success() {
        bail!("POST {url} answered {}", resp.status());
    }
    let body = resp.bytes()?;
    let want = format!(r#"{{"received":{}}}"#, contenders::POST_BODY.len());
    if body != want.as_bytes() {
        bail!(
            "POST {url} answered {:?}, expected {want} (a demo server without POST /bench?)",
            String::from_utf8_lossy(&body)
        );
    }
    Ok((get, body.len()))
}
