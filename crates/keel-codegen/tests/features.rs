//! Every combination of a generated crate's Cargo features that a user can pick compiles
//! without warnings: `cargo build` of the crate generated from `specs/features.yaml` (six
//! tags sharing models through fields, an alias, a oneOf, a multipart part and an event
//! schema) with the default features (all of them), with none, with each one alone and with
//! every pair.
//!
//! With `KEEL_OPENAPI_CORPUS` set, the same matrix for a mid-sized corpus document
//! (`deepl-api`, 13 tags, one of them the `default` group of untagged operations; override
//! with `KEEL_FEATURE_MATRIX_DOC=<file name>`).
//!
//! The nested builds use `target/keel-generated` with the end-to-end test's settings (dev
//! profile without debug info), so the dependencies it built are reused: a build, not a
//! `cargo check`, because check metadata would compile keel-http's whole dependency tree a
//! second time. (The outer `cargo test` holds the lock on the workspace's own target
//! directory.) `KEEL_SKIP_E2E=1` skips them.

use keel_codegen::{generate, GenerateOptions, KeelDependency};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one `cargo build` of the generated crate reported.
struct Outcome {
    label: String,
    ok: bool,
    /// Diagnostics about the generated crate's own sources, and cargo's per-crate summary.
    problems: Vec<String>,
    seconds: f64,
}

/// `cargo build` of `crate_dir` with these extra arguments.
fn cargo_build(crate_dir: &Path, label: &str, args: &[&str], offline: bool) -> Outcome {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("../../target"))
        .join("keel-generated");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--message-format", "short"])
        .args(args)
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
    if offline {
        cmd.arg("--offline");
    }
    let started = Instant::now();
    let out = cmd.output().expect("run cargo build");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<String> = stderr
        .lines()
        .filter(|l| {
            (l.starts_with("src/") && (l.contains(": warning") || l.contains(": error")))
                || (l.contains("generated") && l.contains("warning"))
                || l.starts_with("error")
        })
        .map(str::to_owned)
        .collect();
    let ok = out.status.success();
    let problems = if ok || !problems.is_empty() {
        problems
    } else {
        vec![stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n")]
    };
    Outcome {
        label: label.to_owned(),
        ok,
        problems,
        seconds,
    }
}

/// Generates `spec` and builds it with the defaults, with no features, with each feature
/// alone and, with `pairs`, with every two features together; panics listing every
/// combination that failed or warned.
fn check_matrix(spec: &Path, crate_name: &str, min_features: usize, pairs: bool) {
    let keel = manifest().join("../keel").canonicalize().unwrap();
    let options = GenerateOptions::new(crate_name)
        .keel(KeelDependency::Path(keel))
        .standalone_workspace(true);
    let generated = generate(spec, &options).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
    let features: Vec<String> = generated.features.iter().map(|f| f.name.clone()).collect();
    assert!(
        features.len() >= min_features,
        "{}: expected at least {min_features} features, got {features:?}",
        spec.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(crate_name);
    generated.write_to(&dir).unwrap();
    // pin dependency versions to the workspace's lockfile so the build works offline
    let lock = manifest().join("../../Cargo.lock");
    let offline = lock.exists();
    if offline {
        std::fs::copy(&lock, dir.join("Cargo.lock")).unwrap();
    }
    let mut outcomes = vec![
        cargo_build(&dir, "default (all features)", &[], offline),
        cargo_build(&dir, "no features", &["--no-default-features"], offline),
    ];
    for f in &features {
        outcomes.push(cargo_build(
            &dir,
            &format!("only `{f}`"),
            &["--no-default-features", "--features", f],
            offline,
        ));
    }
    if pairs {
        for (i, a) in features.iter().enumerate() {
            for b in &features[i + 1..] {
                let both = format!("{a},{b}");
                outcomes.push(cargo_build(
                    &dir,
                    &format!("`{a}` and `{b}`"),
                    &["--no-default-features", "--features", &both],
                    offline,
                ));
            }
        }
    }
    println!("{}: cargo build per feature set", spec.display());
    for o in &outcomes {
        println!(
            "  {:<40} {:>6.1} s  {}",
            o.label,
            o.seconds,
            if o.ok && o.problems.is_empty() {
                "ok".to_owned()
            } else {
                format!("FAILED ({} problems)", o.problems.len())
            }
        );
    }
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.ok || !o.problems.is_empty())
        .map(|o| format!("{}:\n    {}", o.label, o.problems.join("\n    ")))
        .collect();
    assert!(
        failed.is_empty(),
        "{}: feature combinations that do not compile cleanly:\n{}",
        spec.display(),
        failed.join("\n")
    );
}

#[test]
fn every_single_feature_compiles_without_warnings() {
    if std::env::var_os("KEEL_SKIP_E2E").is_some() {
        eprintln!("KEEL_SKIP_E2E set: skipped");
        return;
    }
    check_matrix(
        &manifest().join("tests/specs/features.yaml"),
        "shop-client",
        6,
        true,
    );
}

#[test]
fn corpus_document_feature_matrix() {
    let Some(corpus) = std::env::var_os("KEEL_OPENAPI_CORPUS") else {
        eprintln!("set KEEL_OPENAPI_CORPUS to check a corpus document's features one by one");
        return;
    };
    if std::env::var_os("KEEL_SKIP_E2E").is_some() {
        eprintln!("KEEL_SKIP_E2E set: skipped");
        return;
    }
    let doc = std::env::var("KEEL_FEATURE_MATRIX_DOC").unwrap_or_else(|_| "deepl-api.yaml".into());
    let spec = PathBuf::from(corpus).join(&doc);
    assert!(spec.is_file(), "{} not found", spec.display());
    let stem = doc.split('.').next().unwrap_or("corpus");
    check_matrix(&spec, &format!("{stem}-client"), 2, false);
}
