//! Case counts for the property tests: each test names a count small enough
//! that `cargo test` stays fast; `KEEL_PROPTEST_SCALE=100` (what
//! `scripts/proptest-long.sh` sets) multiplies every count.

use proptest::test_runner::Config;

/// A proptest configuration running `cases` cases times the scale, with no
/// regression files written into the source tree (a failure prints its
/// minimal input; add it to the test as a plain case).
pub fn config(cases: u32) -> Config {
    let scale: u32 = std::env::var("KEEL_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    Config {
        cases: cases.saturating_mul(scale),
        failure_persistence: None,
        ..Config::default()
    }
}
