//! The READMEs' code blocks are real files that build and run, so what a
//! newcomer copies works (the rules are also in the comment at the top of
//! README.md):
//!
//! - every ```` ```rust ```` and ```` ```toml ```` block in `README.md` and
//!   `crates/*/README.md` sits right under a `<!-- checked: PATH -->` line and
//!   equals the file at PATH (relative to the repository root) byte for byte;
//!   `KEEL_README_BLESS=1 cargo test -p keel-http --test readme` copies the
//!   files into the blocks after you edit them;
//! - the Rust files under `crates/keel/examples/` that a README shows are
//!   built as binaries of a new crate whose `[dependencies]` are exactly the
//!   README's snippet (`crates/keel/examples/readme_dependencies.toml`, with a
//!   `path` to this checkout added), then run against the demo server. So a
//!   missing tokio feature, a blocking call inside an async fn, or a request
//!   the server rejects fails here. The nested build uses
//!   `keel-generated` in the target directory (shared with the generator's
//!   end-to-end test);
//!   `KEEL_SKIP_README_CRATE=1` skips it.
//!
//! Blocks in other languages (`sh`, `text`) are not checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MARKER: &str = "<!-- checked: ";
const DEPENDENCIES: &str = "crates/keel/examples/readme_dependencies.toml";
const EXAMPLES_DIR: &str = "crates/keel/examples/";

/// The repository root, or `None` (with the reason printed) when this crate
/// is not inside a Keel checkout (for example when built from crates.io).
fn repo_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if root.join("README.md").is_file() && root.join("crates/keel/examples").is_dir() {
        Some(root)
    } else {
        eprintln!(
            "skipped: no Keel checkout around {} (the README checks need the repository)",
            env!("CARGO_MANIFEST_DIR")
        );
        None
    }
}

/// One fenced block: where it is, its info string, the file it claims to be
/// and its text (each line ending in `\n`).
struct Block {
    readme: PathBuf,
    line: usize,
    info: String,
    checked: Option<String>,
    start: usize,
    end: usize,
    text: String,
}

fn blocks(readme: &Path, source: &str) -> Vec<Block> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if let Some(info) = line.strip_prefix("```") {
            let checked = i
                .checked_sub(1)
                .map(|p| lines[p].trim())
                .and_then(|p| p.strip_prefix(MARKER))
                .and_then(|p| p.strip_suffix("-->"))
                .map(|p| p.trim().to_owned());
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].trim_end().starts_with("```") {
                end += 1;
            }
            out.push(Block {
                readme: readme.to_owned(),
                line: i + 1,
                info: info.trim().to_owned(),
                checked,
                start,
                end,
                text: lines[start..end.min(lines.len())].concat(),
            });
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn readmes(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![root.join("README.md")];
    if let Ok(dirs) = std::fs::read_dir(root.join("crates")) {
        let mut crates: Vec<PathBuf> = dirs
            .filter_map(|d| d.ok())
            .map(|d| d.path().join("README.md"))
            .filter(|p| p.is_file())
            .collect();
        crates.sort();
        found.extend(crates);
    }
    found
}

fn is_checked_language(info: &str) -> bool {
    let lang = info.split([',', ' ']).next().unwrap_or("");
    lang == "rust" || lang == "toml"
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

#[test]
fn readme_blocks_are_the_checked_files() {
    let Some(root) = repo_root() else { return };
    let bless = std::env::var_os("KEEL_README_BLESS").is_some();
    let mut problems = Vec::new();
    for readme in readmes(&root) {
        let source = std::fs::read_to_string(&readme).unwrap();
        let mut blessed: Vec<String> = source.split_inclusive('\n').map(str::to_owned).collect();
        // Later blocks first, so earlier line numbers stay valid while splicing.
        for b in blocks(&readme, &source).into_iter().rev() {
            if !is_checked_language(&b.info) {
                continue;
            }
            let at = format!("{}:{}", relative(&root, &b.readme), b.line);
            let Some(path) = &b.checked else {
                problems.push(format!(
                    "{at}: a ```{} block with no `{MARKER}PATH -->` line above it; put the code in \
                     a file that CI builds (for Rust, an example under {EXAMPLES_DIR}) and name it there",
                    b.info
                ));
                continue;
            };
            if b.info != "rust" && b.info != "toml" {
                problems.push(format!(
                    "{at}: info string `{}`: use plain ```rust / ```toml (rustdoc flags and hidden \
                     `#` lines show as text on GitHub and crates.io)",
                    b.info
                ));
            }
            // The code says `keel::`: a manifest that names the package
            // without renaming it would make the reader write `keel_http::`.
            if b.info == "toml"
                && b.text
                    .lines()
                    .any(|l| l.trim_start().starts_with("keel-http "))
            {
                problems.push(format!(
                    "{at}: `keel-http = …` makes the crate `keel_http`; write \
                     `keel = {{ package = \"keel-http\", … }}` as the code uses `keel::`"
                ));
            }
            let file = match std::fs::read_to_string(root.join(path)) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(format!("{at}: cannot read {path}: {e}"));
                    continue;
                }
            };
            if file != b.text {
                if bless {
                    blessed.splice(
                        b.start..b.end,
                        file.split_inclusive('\n').map(str::to_owned),
                    );
                } else {
                    problems.push(format!(
                        "{at}: the block differs from {path}; edit {path} (CI builds it), then run \
                         `KEEL_README_BLESS=1 cargo test -p keel-http --test readme` to copy it into the README"
                    ));
                }
            }
        }
        if bless {
            let updated = blessed.concat();
            if updated != source {
                std::fs::write(&readme, updated).unwrap();
                eprintln!("blessed {}", relative(&root, &readme));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "README blocks:\n{}",
        problems.join("\n")
    );
}

/// The Rust examples a README shows, from the examples folder of this crate.
fn shown_examples(root: &Path) -> Vec<String> {
    let mut shown: Vec<String> = readmes(root)
        .iter()
        .flat_map(|r| {
            let source = std::fs::read_to_string(r).unwrap_or_default();
            blocks(r, &source)
        })
        .filter_map(|b| b.checked)
        .filter(|p| p.starts_with(EXAMPLES_DIR) && p.ends_with(".rs"))
        .collect();
    shown.sort();
    shown.dedup();
    shown
}

/// The README's `[dependencies]` snippet with a `path` to this checkout added
/// to the `keel` line (version requirement kept, so cargo checks it).
fn dependencies_with_path(root: &Path) -> String {
    let snippet = std::fs::read_to_string(root.join(DEPENDENCIES)).unwrap();
    let keel = root.join("crates/keel").canonicalize().unwrap();
    let mut found = false;
    let lines: Vec<String> = snippet
        .lines()
        .map(|l| {
            if l.starts_with("keel ") && l.contains("package = \"keel-http\"") && l.ends_with('}') {
                found = true;
                let body = l.trim_end_matches('}').trim_end();
                format!("{body}, path = {:?} }}", keel.display().to_string())
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(
        found,
        "{DEPENDENCIES}: expected a line `keel = {{ package = \"keel-http\", version = \"..\" }}`"
    );
    lines.join("\n") + "\n"
}

#[test]
fn readme_examples_build_and_run_as_a_new_crate() {
    let Some(root) = repo_root() else { return };
    if std::env::var_os("KEEL_SKIP_README_CRATE").is_some() {
        eprintln!("KEEL_SKIP_README_CRATE set: skipped");
        return;
    }
    let examples = shown_examples(&root);
    assert!(
        !examples.is_empty(),
        "no README shows an example from {EXAMPLES_DIR}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut manifest = String::from(
        "[package]\nname = \"readme-check\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n\n",
    );
    let mut bins = Vec::new();
    for ex in &examples {
        let name = Path::new(ex)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap()
            .to_owned();
        let path = root.join(ex).canonicalize().unwrap();
        manifest.push_str(&format!(
            "[[bin]]\nname = {name:?}\npath = {:?}\n\n",
            path.display().to_string()
        ));
        bins.push(name);
    }
    manifest.push_str(&dependencies_with_path(&root));
    std::fs::write(dir.join("Cargo.toml"), &manifest).unwrap();
    let lock = root.join("Cargo.lock");
    if lock.exists() {
        std::fs::copy(&lock, dir.join("Cargo.lock")).unwrap();
    }

    let target = nested_target_dir(&root);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .args(["build", "--bins", "--message-format", "short"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env_remove("RUSTFLAGS");
    if lock.exists() {
        build.arg("--offline");
    }
    let out = build.output().unwrap();
    assert!(
        out.status.success(),
        "the README's examples do not build with only the README's [dependencies]:\n{manifest}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let warnings: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("warning") && l.contains("examples/readme"))
        .map(str::to_owned)
        .collect();
    assert!(
        warnings.is_empty(),
        "README examples warn:\n{}",
        warnings.join("\n")
    );

    // Run each one against the demo server, as the README says.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(keel_demo::DemoServer::start()).unwrap();
    let url = server.url().trim_end_matches('/').to_owned();
    let mut failures = Vec::new();
    for bin in &bins {
        let exe = target.join("debug").join(bin);
        match run_bounded(&exe, &url, Duration::from_secs(60)) {
            Ok((true, _)) => {}
            Ok((false, output)) => failures.push(format!("{bin} failed:\n{output}")),
            Err(e) => failures.push(format!("{bin}: {e}")),
        }
    }
    rt.block_on(server.shutdown());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `keel-generated` inside the target directory in use (`CARGO_TARGET_DIR`
/// when set, as in CI), shared with the generator's end-to-end test and
/// CI's `cargo publish --dry-run`, which build the same dependencies.
fn nested_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("keel-generated")
}

/// Runs `exe` with `API_URL=url`, killing it after `limit`.
fn run_bounded(exe: &Path, url: &str, limit: Duration) -> Result<(bool, String), String> {
    let mut child = Command::new(exe)
        .env("API_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return Ok((status.success(), text));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
