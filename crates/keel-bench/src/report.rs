//! Statistics over rounds, and the table, JSON and markdown output.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::contenders::{Kind, Sample, Shape};
use crate::server::ServerProcess;
use crate::Options;

/// One contender, one shape, one round.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    pub requests: usize,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Measurement {
    pub fn from_sample(s: Sample) -> Measurement {
        let mut lat = s.latencies_ns;
        lat.sort_unstable();
        Measurement {
            requests: lat.len(),
            rps: lat.len() as f64 / s.seconds.max(1e-9),
            p50_us: percentile(&lat, 0.50),
            p99_us: percentile(&lat, 0.99),
        }
    }
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds.
fn percentile(sorted_ns: &[u64], p: f64) -> f64 {
    if sorted_ns.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted_ns.len() as f64).ceil() as usize).clamp(1, sorted_ns.len());
    sorted_ns[rank - 1] as f64 / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Every measurement of a run, and what the run was.
pub struct Report {
    entries: Vec<(Kind, Shape, Vec<Measurement>)>,
    header: Value,
    shapes: Vec<(Shape, usize)>,
    concurrency: usize,
    resilience: String,
}

/// One row of the summary.
struct Row {
    kind: Kind,
    requests: usize,
    median: f64,
    min: f64,
    max: f64,
    p50: f64,
    p99: f64,
    vs_reqwest: Option<f64>,
    vs_hyper: Option<f64>,
    vs_httpx: Option<f64>,
    rounds: Vec<Measurement>,
}

impl Report {
    pub fn new(o: &Options, args: &[String], server: &ServerProcess, resilience: &str) -> Self {
        let httpx = o.python.as_deref().and_then(crate::python::httpx_version);
        let header = json!({
            "command": std::iter::once("keel-bench".to_owned())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            "git": git_describe(),
            "machine": {
                "cpus": machine_cpus(),
                "cpu_model": cpu_model(),
                "client_affinity": own_affinity(),
                "server_pinned_to": server.pinned_to,
            },
            "config": {
                "rounds": o.rounds,
                "sequential_requests": o.sequential,
                "concurrent_requests": o.concurrent,
                "concurrency": o.concurrency,
                "warmup": o.warmup,
                "httpx_fraction": o.httpx_fraction,
                "client_runtime": "tokio current_thread (async); OS threads (blocking, concurrent shape)",
                "server_runtime": "tokio current_thread, keel_demo::serve, separate process",
            },
            "httpx": httpx,
            "keel_signed_resilient_policy": resilience,
        });
        Report {
            entries: Vec::new(),
            header,
            shapes: o
                .shapes
                .iter()
                .map(|&s| {
                    (
                        s,
                        match s {
                            Shape::Sequential => o.sequential,
                            Shape::Concurrent => o.concurrent,
                        },
                    )
                })
                .collect(),
            concurrency: o.concurrency,
            resilience: resilience.to_owned(),
        }
    }

    pub fn add(&mut self, kind: Kind, shape: Shape, m: Measurement) {
        match self
            .entries
            .iter_mut()
            .find(|(k, s, _)| *k == kind && *s == shape)
        {
            Some((_, _, v)) => v.push(m),
            None => self.entries.push((kind, shape, vec![m])),
        }
    }

    fn rounds_of(&self, kind: Kind, shape: Shape) -> Option<&[Measurement]> {
        self.entries
            .iter()
            .find(|(k, s, _)| *k == kind && *s == shape)
            .map(|(_, _, v)| v.as_slice())
    }

    /// Median over rounds of (rps ÷ the reference's rps in the same round).
    fn paired(&self, ms: &[Measurement], reference: &[f64]) -> Option<f64> {
        if reference.is_empty() {
            return None;
        }
        let ratios: Vec<f64> = ms.iter().zip(reference).map(|(m, r)| m.rps / r).collect();
        (!ratios.is_empty()).then(|| median(ratios))
    }

    fn rows(&self, shape: Shape) -> Vec<Row> {
        let rps = |k: Kind| -> Vec<f64> {
            self.rounds_of(k, shape)
                .map(|v| v.iter().map(|m| m.rps).collect())
                .unwrap_or_default()
        };
        let reqwest = rps(Kind::Reqwest);
        let hyper = rps(Kind::Hyper);
        let (h1, h2) = (rps(Kind::Httpx), rps(Kind::HttpxAsync));
        let best_httpx: Vec<f64> = if h1.is_empty() {
            h2
        } else if h2.is_empty() {
            h1
        } else {
            h1.iter().zip(&h2).map(|(a, b)| a.max(*b)).collect()
        };
        self.entries
            .iter()
            .filter(|(_, s, _)| *s == shape)
            .map(|(kind, _, ms)| {
                let r: Vec<f64> = ms.iter().map(|m| m.rps).collect();
                Row {
                    kind: *kind,
                    requests: ms.first().map_or(0, |m| m.requests),
                    median: median(r.clone()),
                    min: r.iter().copied().fold(f64::INFINITY, f64::min),
                    max: r.iter().copied().fold(0.0, f64::max),
                    p50: median(ms.iter().map(|m| m.p50_us).collect()),
                    p99: median(ms.iter().map(|m| m.p99_us).collect()),
                    vs_reqwest: self.paired(ms, &reqwest),
                    vs_hyper: self.paired(ms, &hyper),
                    vs_httpx: self.paired(ms, &best_httpx),
                    rounds: ms.clone(),
                }
            })
            .collect()
    }

    fn shape_title(&self, shape: Shape, n: usize) -> String {
        let rounds = self
            .entries
            .iter()
            .find(|(_, s, _)| *s == shape)
            .map_or(0, |(_, _, v)| v.len());
        match shape {
            Shape::Sequential => {
                format!("sequential keep-alive: {n} GETs per round, {rounds} rounds")
            }
            Shape::Concurrent => format!(
                "{} in flight: {n} GETs per round, {rounds} rounds",
                self.concurrency
            ),
        }
    }

    /// The plain-text table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nmachine: {} CPUs, {}; client affinity {}; server pinned to {}",
            self.header["machine"]["cpus"],
            self.header["machine"]["cpu_model"].as_str().unwrap_or("?"),
            self.header["machine"]["client_affinity"]
                .as_str()
                .unwrap_or("?"),
            self.header["machine"]["server_pinned_to"]
                .as_str()
                .unwrap_or("(not pinned)")
        );
        let _ = writeln!(out, "keel-signed-resilient policy: {}", self.resilience);
        let _ = writeln!(
            out,
            "ratios: median over rounds of (contender req/s / reference req/s in the same round)"
        );
        for &(shape, n) in &self.shapes {
            let _ = writeln!(out, "\n{}", self.shape_title(shape, n));
            let _ = writeln!(
                out,
                "{:<22} {:>10} {:>19} {:>9} {:>9} {:>9} {:>8} {:>8}",
                "contender",
                "req/s",
                "min - max",
                "p50 us",
                "p99 us",
                "x reqwest",
                "x hyper",
                "x httpx"
            );
            for r in self.rows(shape) {
                let _ = writeln!(
                    out,
                    "{:<22} {:>10.0} {:>19} {:>9.1} {:>9.1} {:>9} {:>8} {:>8}",
                    r.kind.name(),
                    r.median,
                    format!("{:.0} - {:.0}", r.min, r.max),
                    r.p50,
                    r.p99,
                    fmt_ratio(r.vs_reqwest),
                    fmt_ratio(r.vs_hyper),
                    fmt_ratio(r.vs_httpx),
                );
            }
        }
        out
    }

    /// The markdown table for the README.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.header["machine"];
        let _ = writeln!(
            out,
            "Machine: {} CPUs ({}), server pinned to CPU {}, client affinity {}. Command: `{}`. \
             `keel-signed-resilient` policy: {}. Ratios are the median over rounds of the \
             contender's req/s divided by the reference's req/s in the same round; \
             `x httpx` is against the faster of httpx `Client` and `AsyncClient`.\n",
            m["cpus"],
            m["cpu_model"].as_str().unwrap_or("?"),
            m["server_pinned_to"].as_str().unwrap_or("(not pinned)"),
            m["client_affinity"].as_str().unwrap_or("?"),
            self.header["command"].as_str().unwrap_or("keel-bench"),
            self.resilience
        );
        for &(shape, n) in &self.shapes {
            let _ = writeln!(out, "**{}**\n", self.shape_title(shape, n));
            let _ = writeln!(
                out,
                "| contender | req/s (median) | min – max | p50 µs | p99 µs | × reqwest | × hyper | × httpx |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
            for r in self.rows(shape) {
                let _ = writeln!(
                    out,
                    "| {} | {:.0} | {:.0} – {:.0} | {:.1} | {:.1} | {} | {} | {} |",
                    r.kind.name(),
                    r.median,
                    r.min,
                    r.max,
                    r.p50,
                    r.p99,
                    fmt_ratio(r.vs_reqwest),
                    fmt_ratio(r.vs_hyper),
                    fmt_ratio(r.vs_httpx),
                );
            }
            let _ = writeln!(out);
        }
        out
    }

    /// Everything, as JSON.
    pub fn json(&self) -> Value {
        let mut results = Vec::new();
        for &(shape, _) in &self.shapes {
            for r in self.rows(shape) {
                results.push(json!({
                    "contender": r.kind.name(),
                    "description": r.kind.describe(),
                    "shape": shape.name(),
                    "requests_per_round": r.requests,
                    "rps_median": r.median,
                    "rps_min": r.min,
                    "rps_max": r.max,
                    "p50_us_median": r.p50,
                    "p99_us_median": r.p99,
                    "ratio_to_reqwest": r.vs_reqwest,
                    "ratio_to_hyper": r.vs_hyper,
                    "ratio_to_best_httpx": r.vs_httpx,
                    "rounds": r.rounds.iter().map(|m| json!({
                        "rps": m.rps, "p50_us": m.p50_us, "p99_us": m.p99_us
                    })).collect::<Vec<_>>(),
                }));
            }
        }
        let mut v = self.header.clone();
        v["results"] = Value::Array(results);
        v
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"))
}

/// CPUs of the machine (not of this process's affinity).
pub fn machine_cpus() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|n| *n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// This process's CPU affinity as the kernel lists it.
pub fn own_affinity() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Cpus_allowed_list"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_describe() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
