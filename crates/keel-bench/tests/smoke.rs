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
        "keel",
        "keel-blocking",
        "keel-signed",
        "keel-signed-resilient",
    ];
    for shape in ["sequential", "concurrent"] {
        for name in rust {
            let r = results
                .iter()
                .find(|r| r["contender"] == name && r["shape"] == shape)
                .unwrap_or_else(|| panic!("no result for {name} ({shape})"));
            assert_eq!(r["requests_per_round"], 200, "{name} ({shape})");
            assert!(r["rps_median"].as_f64().is_some_and(|v| v > 0.0));
            assert!(r["p99_us_median"].as_f64() >= r["p50_us_median"].as_f64());
        }
    }
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
    let _ = std::fs::remove_dir_all(&out_dir);
}
