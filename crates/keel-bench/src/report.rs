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
    /// CPU time of the client process per request, in microseconds.
    pub cpu_us: Option<f64>,
}

impl Measurement {
    pub fn from_sample(s: Sample) -> Measurement {
        let mut lat = s.latencies_ns;
        lat.sort_unstable();
        let n = lat.len();
        Measurement {
            requests: n,
            rps: n as f64 / s.seconds.max(1e-9),
            p50_us: percentile(&lat, 0.50),
            p99_us: percentile(&lat, 0.99),
            cpu_us: s.cpu_seconds.filter(|_| n > 0).map(|c| c * 1e6 / n as f64),
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
    load_start: Option<String>,
    load_end: Option<String>,
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
    cpu_us: Option<f64>,
    vs_reqwest: Option<f64>,
    vs_hyper: Option<f64>,
    vs_peer: Option<f64>,
    vs_httpx: Option<f64>,
    rounds: Vec<Measurement>,
}

/// One of the targets, checked on this run's paired ratios.
struct Target {
    what: String,
    shape: Shape,
    ratio: Option<f64>,
    at_least: f64,
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
                "post_requests": o.post,
                "post_body_bytes": crate::contenders::POST_BODY.len(),
                "concurrency": o.concurrency,
                "warmup": o.warmup,
                "httpx_fraction": o.httpx_fraction,
                "client_runtime": "tokio multi_thread, 1 worker, measurement loop spawned on it (async); OS threads (blocking, concurrent shape)",
                "server_runtime": "tokio current_thread, keel_demo::serve, separate process",
            },
            "httpx": httpx,
            "keel_signed_resilient_policy": resilience,
        });
        Report {
            entries: Vec::new(),
            header,
            load_start: load_average(),
            load_end: None,
            shapes: o.shapes.iter().map(|&s| (s, o.requests(s))).collect(),
            concurrency: o.concurrency,
            resilience: resilience.to_owned(),
        }
    }

    /// Notes the load average at the end of the run.
    pub fn finish(&mut self) {
        self.load_end = load_average();
    }

    fn load_text(&self) -> String {
        format!(
            "load average (1, 5, 15 min) {} at the start, {} at the end",
            self.load_start.as_deref().unwrap_or("?"),
            self.load_end.as_deref().unwrap_or("?")
        )
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

    /// `a`'s paired ratio to `b` in `shape`, when both ran.
    fn ratio(&self, a: Kind, b: Kind, shape: Shape) -> Option<f64> {
        let ms = self.rounds_of(a, shape)?;
        let reference: Vec<f64> = self.rounds_of(b, shape)?.iter().map(|m| m.rps).collect();
        self.paired(ms, &reference)
    }

    /// The targets (issue 9, "Targets") that this run can check.
    fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        let mut add = |what: &str, shape: Shape, a: Kind, b: Kind, at_least: f64| {
            if self.shapes.iter().any(|(s, _)| *s == shape) {
                if let Some(ratio) = self.ratio(a, b, shape) {
                    out.push(Target {
                        what: what.to_owned(),
                        shape,
                        ratio: Some(ratio),
                        at_least,
                    });
                } else if self.rounds_of(a, shape).is_some() || self.rounds_of(b, shape).is_some() {
                    out.push(Target {
                        what: what.to_owned(),
                        shape,
                        ratio: None,
                        at_least,
                    });
                }
            }
        };
        for shape in [Shape::Sequential, Shape::Concurrent] {
            add("keel / hyper", shape, Kind::Keel, Kind::Hyper, 0.85);
        }
        for shape in Shape::ALL {
            add(
                "keel-signed-resilient / hyper",
                shape,
                Kind::KeelSignedResilient,
                Kind::Hyper,
                0.75,
            );
            add(
                "keel-signed-resilient / reqwest-middleware",
                shape,
                Kind::KeelSignedResilient,
                Kind::Peer,
                1.2,
            );
        }
        add(
            "keel-blocking / keel",
            Shape::Sequential,
            Kind::KeelBlocking,
            Kind::Keel,
            0.9,
        );
        out
    }

    fn rows(&self, shape: Shape) -> Vec<Row> {
        let rps = |k: Kind| -> Vec<f64> {
            self.rounds_of(k, shape)
                .map(|v| v.iter().map(|m| m.rps).collect())
                .unwrap_or_default()
        };
        let reqwest = rps(Kind::Reqwest);
        let hyper = rps(Kind::Hyper);
        let peer = rps(Kind::Peer);
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
                    cpu_us: {
                        let c: Vec<f64> = ms.iter().filter_map(|m| m.cpu_us).collect();
                        (!c.is_empty()).then(|| median(c))
                    },
                    vs_reqwest: self.paired(ms, &reqwest),
                    vs_hyper: self.paired(ms, &hyper),
                    vs_peer: self.paired(ms, &peer),
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
            Shape::Post => format!(
                "sequential POST, {}-byte JSON body: {n} POSTs per round, {rounds} rounds",
                crate::contenders::POST_BODY.len()
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
        let _ = writeln!(out, "{}", self.load_text());
        let _ = writeln!(out, "keel-signed-resilient policy: {}", self.resilience);
        let _ = writeln!(
            out,
            "ratios: median over rounds of (contender req/s / reference req/s in the same round); \
             cpu: client process CPU time per request"
        );
        for &(shape, n) in &self.shapes {
            let _ = writeln!(out, "\n{}", self.shape_title(shape, n));
            let _ = writeln!(
                out,
                "{:<22} {:>9} {:>15} {:>8} {:>9} {:>7} {:>9} {:>7} {:>7} {:>7}",
                "contender",
                "req/s",
                "min - max",
                "p50 us",
                "p99 us",
                "cpu us",
                "x reqwest",
                "x hyper",
                "x peer",
                "x httpx"
            );
            for r in self.rows(shape) {
                let _ = writeln!(
                    out,
                    "{:<22} {:>9.0} {:>15} {:>8.1} {:>9.1} {:>7} {:>9} {:>7} {:>7} {:>7}",
                    r.kind.name(),
                    r.median,
                    format!("{:.0} - {:.0}", r.min, r.max),
                    r.p50,
                    r.p99,
                    fmt_cpu(r.cpu_us),
                    fmt_ratio(r.vs_reqwest),
                    fmt_ratio(r.vs_hyper),
                    fmt_ratio(r.vs_peer),
                    fmt_ratio(r.vs_httpx),
                );
            }
        }
        let targets = self.targets();
        if !targets.is_empty() {
            let _ = writeln!(out, "\ntargets (issue 9), paired ratios of this run:");
            for t in &targets {
                let _ = writeln!(
                    out,
                    "  {:<44} {:<10} {:>7}  (>= {:.2})  {}",
                    t.what,
                    t.shape.name(),
                    fmt_ratio(t.ratio),
                    t.at_least,
                    verdict(t)
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
            "Machine: {} CPUs ({}), server pinned to CPU {}, client affinity {}; {}. \
             Command: `{}` at {}. `keel-signed-resilient` policy: {}. Ratios are the median \
             over rounds of the contender's req/s divided by the reference's req/s in the \
             same round (`× peer`: against `reqwest-middleware`; `× httpx`: against the \
             faster of httpx `Client` and `AsyncClient`); CPU is the client process's CPU \
             time per request (median over rounds).\n",
            m["cpus"],
            m["cpu_model"].as_str().unwrap_or("?"),
            m["server_pinned_to"].as_str().unwrap_or("(not pinned)"),
            m["client_affinity"].as_str().unwrap_or("?"),
            self.load_text(),
            self.header["command"].as_str().unwrap_or("keel-bench"),
            self.header["git"].as_str().unwrap_or("?"),
            self.resilience
        );
        for &(shape, n) in &self.shapes {
            let _ = writeln!(out, "**{}**\n", self.shape_title(shape, n));
            let _ = writeln!(
                out,
                "| contender | req/s (median) | min – max | p50 µs | p99 µs | CPU µs/req | × reqwest | × hyper | × peer | × httpx |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for r in self.rows(shape) {
                let _ = writeln!(
                    out,
                    "| {} | {:.0} | {:.0} – {:.0} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
                    r.kind.name(),
                    r.median,
                    r.min,
                    r.max,
                    r.p50,
                    r.p99,
                    fmt_cpu(r.cpu_us),
                    fmt_ratio(r.vs_reqwest),
                    fmt_ratio(r.vs_hyper),
                    fmt_ratio(r.vs_peer),
                    fmt_ratio(r.vs_httpx),
                );
            }
            let _ = writeln!(out);
        }
        let targets = self.targets();
        if !targets.is_empty() {
            let _ = writeln!(out, "**Targets (issue 9), paired ratios of this run**\n");
            let _ = writeln!(out, "| ratio | shape | measured | target | |");
            let _ = writeln!(out, "|---|---|---:|---:|---|");
            for t in &targets {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | ≥ {:.2} | {} |",
                    t.what,
                    t.shape.name(),
                    fmt_ratio(t.ratio),
                    t.at_least,
                    verdict(t)
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
                    "cpu_us_per_request_median": r.cpu_us,
                    "ratio_to_reqwest": r.vs_reqwest,
                    "ratio_to_hyper": r.vs_hyper,
                    "ratio_to_peer": r.vs_peer,
                    "ratio_to_best_httpx": r.vs_httpx,
                    "rounds": r.rounds.iter().map(|m| json!({
                        "rps": m.rps, "p50_us": m.p50_us, "p99_us": m.p99_us,
                        "cpu_us_per_request": m.cpu_us,
                    })).collect::<Vec<_>>(),
                }));
            }
        }
        let targets: Vec<Value> = self
            .targets()
            .iter()
            .map(|t| {
                json!({
                    "ratio": t.what, "shape": t.shape.name(), "measured": t.ratio,
                    "at_least": t.at_least, "met": t.ratio.map(|r| r >= t.at_least),
                })
            })
            .collect();
        let mut v = self.header.clone();
        v["load_average"] = json!({ "start": self.load_start, "end": self.load_end });
        v["results"] = Value::Array(results);
        v["targets"] = Value::Array(targets);
        v
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"))
}

fn fmt_cpu(c: Option<f64>) -> String {
    c.map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"))
}

fn verdict(t: &Target) -> &'static str {
    match t.ratio {
        Some(r) if r >= t.at_least => "met",
        Some(_) => "missed",
        None => "not measured (a contender is missing)",
    }
}

/// The first three fields of `/proc/loadavg`.
pub fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let v: Vec<&str> = s.split_whitespace().take(3).collect();
    (v.len() == 3).then(|| v.join(" "))
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
