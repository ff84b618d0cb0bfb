//! Smoke test: the bench binary runs end to end in a tiny configuration and
//! writes a well-formed report. No timing is asserted.

use std::process::Command;

#[test]
fn quick_run_writes_json_and_markdown_for_every_rust_contender() {
    let out_dir = std::env::temp_dir().join(format!("keel-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let status = Command::new(env!("CARGO_BIN_EXE_keel-bench"))
        .args([
            "--quick",
            "--requests",
            "200",
            "--rounds",
            "1",
            "--warmup",
            "20",
        ])
        .args(["--concurrency", "8", "--no-python", "--no-pin", "--out"])
        .arg(&out_dir)
        .status()
        .expect("run keel-bench");
    assert!(status.success(), "keel-bench exited with {status}");

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("latest.json")).expect("latest.json"),
    )
    .expect("valid JSON");
    let results = json["results"].as_array().expect("results array");
    let rust = [
        "hyper",
        "reqwest",
        "reqwest-timeout",
        "reqwest-blocking",
        "reqwest-middleware",
        "keel",
        "keel-blocking",
        "keel-signed",
        "keel-signed-resilient",
    ];
    for shape in ["sequential", "concurrent", "post"] {
        for name in rust {
            let r = results
                .iter()
                .find(|r| r["contender"] == name && r["shape"] == shape)
                .unwrap_or_else(|| panic!("no result for {name} ({shape})"));
            assert_eq!(r["requests_per_round"], 200, "{name} ({shape})");
            assert!(r["rps_median"].as_f64().is_some_and(|v| v > 0.0));
            assert!(r["p99_us_median"].as_f64() >= r["p50_us_median"].as_f64());
            assert!(
                r["cpu_us_per_request_median"]
                    .as_f64()
                    .is_some_and(|v| v > 0.0),
                "{name} ({shape}): no CPU time"
            );
        }
    }
    // Every target of the issue is computed (met or not: no timing is
    // asserted).
    let targets = json["targets"].as_array().expect("targets array");
    assert_eq!(targets.len(), 2 + 3 + 3 + 1, "{targets:?}");
    assert!(targets.iter().all(|t| t["measured"].as_f64().is_some()));
    let reqwest = results
        .iter()
        .find(|r| r["contender"] == "reqwest" && r["shape"] == "sequential")
        .expect("reqwest result");
    assert_eq!(reqwest["ratio_to_reqwest"], 1.0);
    assert!(results.iter().all(|r| !r["contender"]
        .as_str()
        .is_some_and(|c| c.starts_with("httpx"))));

    let md = std::fs::read_to_string(out_dir.join("latest.md")).expect("latest.md");
    assert!(md.contains("| keel-signed |"), "{md}");
    assert!(md.contains("| reqwest-middleware |"), "{md}");
    assert!(md.contains("sequential POST, 300-byte JSON body"), "{md}");
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn hmac_modes_run() {
    for mode in ["--hmac", "--hmac-keyed", "--hmac-post"] {
        let out = Command::new(env!("CARGO_BIN_EXE_keel-bench"))
            .args([mode, "10"])
            .output()
            .expect("run keel-bench");
        assert!(out.status.success(), "{mode}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("10 HMAC-SHA256"), "{text}");
    }
}

#[test]
fn download_streams_to_a_file_and_reports_peak_rss() {
    for blocking in [false, true] {
        let out_dir = std::env::temp_dir().join(format!(
            "keel-bench-download-{}-{blocking}",
            std::process::id()
        ));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel-bench"));
        cmd.args(["--download", "3MiB", "--no-pin", "--out"])
            .arg(&out_dir);
        if blocking {
            cmd.arg("--blocking");
        }
        let status = cmd.status().expect("run keel-bench");
        assert!(
            status.success(),
            "keel-bench --download exited with {status}"
        );
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out_dir.join("download.json")).expect("download.json"),
        )
        .expect("valid JSON");
        assert_eq!(json["bytes"], 3 << 20);
        assert_eq!(json["mode"], if blocking { "blocking" } else { "async" });
        assert!(json["vm_hwm_kib_after"].as_u64().is_some_and(|k| k > 0));
        let _ = std::fs::remove_dir_all(&out_dir);
    }
}
