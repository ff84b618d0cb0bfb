//! `keel-bench --download SIZE`: Keel streams `GET /bytes/{SIZE}` from the
//! demo server (a separate process) into a file with
//! [`keel::StreamingResponse::write_to`] (or `copy_to` with `--blocking`)
//! and reports this process's peak resident memory (`VmHWM` in
//! `/proc/self/status`). The file is then read back and checked against
//! the server's byte pattern, and removed.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;

use crate::server::ServerProcess;

/// What one download measured.
pub struct Download {
    pub bytes: u64,
    pub seconds: f64,
    pub hwm_before_kib: Option<u64>,
    pub hwm_after_kib: Option<u64>,
    pub blocking: bool,
}

impl Download {
    /// One human-readable line.
    pub fn line(&self) -> String {
        let mib =
            |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
        format!(
            "download ({}): {} bytes in {:.2} s ({:.0} MiB/s); peak RSS (VmHWM) {} MiB, {} MiB before the download",
            if self.blocking { "send_streaming_blocking + copy_to" } else { "send_streaming + write_to" },
            self.bytes,
            self.seconds,
            self.bytes as f64 / (1024.0 * 1024.0) / self.seconds.max(1e-9),
            mib(self.hwm_after_kib),
            mib(self.hwm_before_kib),
        )
    }

    /// The same as JSON.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "mode": if self.blocking { "blocking" } else { "async" },
            "bytes": self.bytes,
            "seconds": self.seconds,
            "vm_hwm_kib_before": self.hwm_before_kib,
            "vm_hwm_kib_after": self.hwm_after_kib,
        })
    }
}

/// Parses `200MiB`, `1GiB`, `64KiB`, `1000000` (bytes).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let (digits, mult) = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suffix, m)| t.strip_suffix(suffix).map(|d| (d, *m)))
    .unwrap_or((t, 1));
    let n: u64 = digits
        .trim()
        .parse()
        .with_context(|| format!("--download expects a size such as 200MiB, got {s:?}"))?;
    n.checked_mul(mult)
        .filter(|n| *n > 0)
        .with_context(|| format!("--download size {s:?} is zero or too large"))
}

/// `VmHWM` (peak resident set) of this process, in KiB.
pub fn vm_hwm_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Downloads `bytes` into `file` (a new file in the temp dir when `None`),
/// checks it, removes it.
pub fn run(
    bytes: u64,
    file: Option<PathBuf>,
    blocking: bool,
    server_cpu: Option<&str>,
) -> Result<Download> {
    let server = ServerProcess::spawn(server_cpu)?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let path = file.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("keel-bench-download-{}.bin", std::process::id()))
    });
    let client = keel::HttpClient::builder(&base).build()?;
    let route = format!("/bytes/{bytes}");
    let hwm_before_kib = vm_hwm_kib();
    let t0 = Instant::now();
    let written = if blocking {
        let resp = client.get(&route).send_streaming_blocking()?;
        ensure!(resp.status == 200, "GET {route} answered {}", resp.status);
        let mut out = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        resp.copy_to(&mut out)?
    } else {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("cannot start the client runtime")?;
        rt.block_on(async {
            let resp = client.get(&route).send_streaming().await?;
            ensure!(resp.status == 200, "GET {route} answered {}", resp.status);
            let mut out = tokio::fs::File::create(&path)
                .await
                .with_context(|| format!("cannot create {}", path.display()))?;
            Ok(resp.write_to(&mut out).await?)
        })?
    };
    let seconds = t0.elapsed().as_secs_f64();
    let hwm_after_kib = vm_hwm_kib();
    drop(client);
    drop(server);
    let checked = check_file(&path, bytes);
    let _ = std::fs::remove_file(&path);
    checked?;
    ensure!(written == bytes, "wrote {written} bytes, expected {bytes}");
    Ok(Download {
        bytes,
        seconds,
        hwm_before_kib,
        hwm_after_kib,
        blocking,
    })
}

/// The file holds exactly `len` bytes of the demo server's pattern.
fn check_file(path: &Path, len: u64) -> Result<()> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        for (i, b) in buf[..n].iter().enumerate() {
            if *b != keel_demo::pattern_byte(at + i as u64) {
                bail!(
                    "byte {} of the download differs from what the server sent",
                    at + i as u64
                );
            }
        }
        at += n as u64;
    }
    ensure!(at == len, "the file has {at} bytes, expected {len}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("200MiB").unwrap(), 200 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_size("12345").unwrap(), 12345);
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }
}
