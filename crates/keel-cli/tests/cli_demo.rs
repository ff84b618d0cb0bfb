//! `keel demo`, the README's main-job command, runs to the end on its
//! embedded demo server.

use std::process::Command;

#[test]
fn demo_runs_every_step() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("demo")
        .output()
        .expect("run keel demo");
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
