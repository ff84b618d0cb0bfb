//! `keel request --retries / --deadline / --idempotency-key / -v`, run as the
//! built binary against the demo fault server.

use std::process::{Command, Output};

use keel_demo::DemoServer;

fn keel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(args)
        .env_remove("KEEL_API_KEY")
        .env_remove("KEEL_API_SECRET")
        .output()
        .expect("run keel")
}

fn arrivals(server: &DemoServer, key: &str) -> u64 {
    server.state().arrivals(key).arrivals
}

#[test]
fn retries_until_success_and_prints_one_line_per_attempt() {
    let server = DemoServer::start_background().expect("demo server");
    let url = format!("{}/fault/fail?times=2&status=503", server.url());
    let o = keel(&[
        "request",
        "GET",
        &url,
        "-H",
        "X-Fault-Key: cli-retry",
        "-v",
        "--fail",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stderr: {err}");
    assert_eq!(arrivals(&server, "cli-retry"), 3);
    assert_eq!(err.matches("* attempt ").count(), 3, "stderr: {err}");
    assert_eq!(
        err.matches("* retrying after attempt").count(),
        2,
        "stderr: {err}"
    );
    // -v prints the request and the response head on stdout, then the body.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("GET /fault/fail?"), "stdout: {out}");
    assert!(out.contains("HTTP/1.1 200 OK"), "stdout: {out}");
    assert!(out.contains("\"ok\":true"), "stdout: {out}");
}

#[test]
fn retries_zero_sends_once() {
    let server = DemoServer::start_background().expect("demo server");
    let url = format!("{}/fault/fail?times=2&status=503", server.url());
    let o = keel(&[
        "request",
        "GET",
        &url,
        "-H",
        "X-Fault-Key: cli-once",
        "--retries",
        "0",
        "--fail",
    ]);
    assert_eq!(o.status.code(), Some(5));
    assert_eq!(arrivals(&server, "cli-once"), 1);
}

#[test]
fn post_is_retried_only_with_an_idempotency_key() {
    let server = DemoServer::start_background().expect("demo server");
    let url = format!("{}/fault/fail?times=1&status=503", server.url());
    let o = keel(&[
        "request",
        "POST",
        &url,
        "-H",
        "X-Fault-Key: cli-post",
        "--json",
        "{}",
    ]);
    assert!(o.status.success());
    assert_eq!(
        arrivals(&server, "cli-post"),
        1,
        "a POST without a key is sent once"
    );

    let o = keel(&[
        "request",
        "POST",
        &url,
        "-H",
        "X-Fault-Key: cli-post-key",
        "--json",
        "{}",
        "--idempotency-key",
        "order-42",
    ]);
    assert!(o.status.success());
    let seen = server.state().arrivals("cli-post-key");
    assert_eq!(seen.arrivals, 2);
    assert_eq!(seen.by_idempotency_key.get("order-42").copied(), Some(2));
}

#[test]
fn deadline_cuts_a_slow_call() {
    let server = DemoServer::start_background().expect("demo server");
    let url = format!("{}/slow?ms=5000", server.url());
    let started = std::time::Instant::now();
    let o = keel(&["request", "GET", &url, "--deadline", "0.3"]);
    // A timeout of any kind exits 2 (see `keel request --help`).
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("raise --deadline"), "stderr: {err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    let bad = keel(&["request", "GET", &url, "--deadline", "0"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--deadline must be"));
}
