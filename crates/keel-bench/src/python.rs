//! The httpx contenders: `python/bench_httpx.py` run with the venv's Python,
//! reporting its own timings as JSON.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::contenders::{Kind, Shape};
use crate::report::Measurement;

#[derive(Deserialize)]
struct PyResult {
    requests: usize,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    #[serde(default)]
    cpu_seconds: Option<f64>,
}

/// Runs one httpx measurement and returns what the script measured.
#[allow(clippy::too_many_arguments)]
pub fn run(
    python: &Path,
    script: &Path,
    url: &str,
    kind: Kind,
    shape: Shape,
    post_body: &str,
    n: usize,
    concurrency: usize,
    warmup: usize,
    expected_len: usize,
) -> Result<Measurement> {
    let mode = match kind {
        Kind::Httpx => "sync",
        Kind::HttpxAsync => "async",
        other => bail!("{} is not a Python contender", other.name()),
    };
    let out = Command::new(python)
        .arg(script)
        .args(["--url", url, "--mode", mode, "--shape", shape.name()])
        .args(["--requests", &n.to_string()])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--warmup", &warmup.to_string()])
        .args(["--expected-len", &expected_len.to_string()])
        .args(["--body", post_body])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!("the httpx script exited with {}", out.status);
    }
    let r: PyResult = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the httpx script printed something other than its JSON result: {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    if r.requests != n || r.seconds <= 0.0 {
        bail!(
            "the httpx script reports {} requests in {} s, expected {n}",
            r.requests,
            r.seconds
        );
    }
    Ok(Measurement {
        requests: r.requests,
        rps: r.requests as f64 / r.seconds,
        p50_us: r.p50_us,
        p99_us: r.p99_us,
        cpu_us: r.cpu_seconds.map(|c| c * 1e6 / r.requests as f64),
    })
}

/// The httpx version in `python`'s environment, if it can be imported.
pub fn httpx_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import httpx, sys; print(httpx.__version__, sys.version.split()[0])",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
