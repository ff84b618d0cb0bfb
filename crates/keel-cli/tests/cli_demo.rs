//! `keel demo`, the README's main-job command, runs to the end on its
//! embedded demo server.
//!
//! Every run goes through the secret check (tests/common): the demo signs
//! with the demo API secret and gets OAuth2 tokens with the demo client
//! secret, and its stdout and stderr show neither.

mod common;

use std::process::Command;

use common::ScanOutput as _;

/// The secrets `keel demo` uses inside.
const DEMO_SECRETS: [&str; 2] = [
    keel_demo::DEMO_API_SECRET,
    keel_demo::DEMO_OAUTH_CLIENT_SECRET,
];

#[test]
fn demo_runs_every_step() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("demo")
        .scanned_output_with(&DEMO_SECRETS);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(". Lifecycle"), "{stdout}");
    assert!(stdout.contains("All steps passed."), "{stdout}");
    assert!(
        !stdout.contains(keel_demo::DEMO_API_SECRET),
        "the secret was printed"
    );
}

#[path = "../../keel/tests/redis_support/mod.rs"]
mod redis_support;

/// With a Redis server, the fleet step runs two `keel` processes that share
/// one limit; without one, it says how to start one and the demo still
/// passes.
#[test]
fn demo_fleet_step_shares_one_limit_through_redis() {
    let Some(redis) =
        redis_support::RedisServer::start("demo_fleet_step_shares_one_limit_through_redis")
    else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("demo")
        .env("KEEL_REDIS_URL", redis.url())
        .scanned_output_with(&DEMO_SECRETS);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(". A fleet: two processes share one rate limit through Redis"),
        "{stdout}"
    );
    assert!(
        stdout.contains("one limit held for both together"),
        "{stdout}"
    );
}

#[test]
fn demo_fleet_step_explains_how_to_start_redis() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("demo")
        .env("KEEL_REDIS_URL", format!("redis://127.0.0.1:{port}"))
        .scanned_output_with(&DEMO_SECRETS);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("redis-server --port 6379"), "{stdout}");
    assert!(stdout.contains("All steps passed."), "{stdout}");
}
