//! Builds the crates generated from every corpus document (slow: several minutes on 2 cores).
//! Runs only with `KEEL_CORPUS_BUILD=1`; it drives `scripts/build-corpus.sh`, which prints a table.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn corpus_crates_build() {
    if std::env::var_os("KEEL_CORPUS_BUILD").is_none() {
        eprintln!("set KEEL_CORPUS_BUILD=1 to build the generated corpus crates");
        return;
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openapi-corpus");
    if std::env::var_os("KEEL_OPENAPI_CORPUS").is_none() && !beside.is_dir() {
        eprintln!(
            "skipped: the shared OpenAPI corpus is not here (set KEEL_OPENAPI_CORPUS, or place it at {})",
            beside.display()
        );
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/build-corpus.sh");
    // not the workspace's target dir: the outer `cargo test` holds its lock
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/keel-generated");
    let out = Command::new("bash")
        .arg(&script)
        .env("GEN_TARGET_DIR", &target)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run build-corpus.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "corpus build failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
