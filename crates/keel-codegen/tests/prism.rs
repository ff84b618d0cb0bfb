//! The generated clients, proven against a server that implements their document.
//!
//! For every document (the demo server's and the shared corpus's): generate the client, generate (from the
//! public IR) a program that calls every operation with arguments from the document's
//! examples or built from its schemas, build both, run Stoplight Prism as a validating mock
//! of the document (`prism mock --errors`), run the program against it, and count the
//! requests Prism accepted (no `sl-violations`) and the responses the generated types
//! decoded. Prints the table and every miss, and fails when an operation outside
//! [`EXCLUDED`] misses (`KEEL_PRISM_REPORT=1` only reports).
//!
//! When Prism cannot build a response valid against the document (its examples break the
//! schema, or its generator does), the call is made again through `prism proxy --errors` in
//! front of the harness itself, answering a response built from the schema
//! (`ir::Response::example`): Prism validates the request and that response, and the
//! generated type must decode it.
//!
//! The documents: the demo server's own (`keel_demo::openapi::document()`), and every
//! document of the shared corpus (`KEEL_OPENAPI_CORPUS` or `../shared/openapi-corpus`) when
//! it is here. Needs Prism (`npm install --prefix target/prism @stoplight/prism-cli`, or
//! `KEEL_PRISM` naming the `prism` executable); without it the test prints that it skipped.
//! `.ci/run` installs Prism and runs it.

mod prism_harness;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keel_codegen::{emit_crate, lower, GenerateOptions, KeelDependency};

/// Operations left out of the target, each with the reason (at most 2 % of all operations).
/// Each is a limit of the document or of Prism, not of the generated client: the request
/// the client sends is what the document describes.
const EXCLUDED: &[(&str, &str, &str)] = &[
    (
        "binance-spot",
        "post_sapi_v1_convert_limit_cancel_order",
        "Prism reads int64 values as JavaScript numbers and refuses the document's orderId example \
         above 2^53 (`must be <= 9007199254740991`); the client sends it exactly",
    ),
    (
        "binance-spot",
        "post_sapi_v1_lending_auto_invest_plan_add",
        "a query parameter that is an array of objects: OpenAPI defines no serialization for it \
         and Prism cannot parse one back (`details.0 must be object`)",
    ),
    (
        "xero-accounting",
        "get_contact_by_contact_number",
        "`/Contacts/{ContactNumber}` and `/Contacts/{ContactID}` match the same URLs; Prism routes \
         the call to the other operation and validates it as a uuid",
    ),
    (
        "xero-accounting",
        "get_journal",
        "`/Journals/{JournalID}` and `/Journals/{JournalNumber}` match the same URLs; Prism routes \
         the call to the other operation and validates it as an integer",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn prism() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KEEL_PRISM") {
        return Some(PathBuf::from(p));
    }
    let local = root().join("target/prism/node_modules/.bin/prism");
    local.exists().then_some(local)
}

fn corpus() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KEEL_OPENAPI_CORPUS") {
        return Some(PathBuf::from(d));
    }
    let beside = root().join("../shared/openapi-corpus");
    beside.is_dir().then_some(beside)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(4010)
}

/// Kills Prism when the run ends, however it ends.
struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `prism mock` of `spec` (`upstream: None`: dynamic responses seeded, so a run is
/// repeatable), or `prism proxy` in front of `upstream`; validating either way (`--errors`).
fn start_prism(
    prism: &Path,
    spec: &Path,
    port: u16,
    upstream: Option<&str>,
) -> Result<Server, String> {
    let mut cmd = Command::new(prism);
    match upstream {
        None => cmd.args(["mock", "--seed", "keel"]),
        Some(_) => cmd.arg("proxy"),
    };
    cmd.args(["--errors", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(spec);
    if let Some(up) = upstream {
        cmd.arg(up);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", prism.display()))?;
    let server = Server(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "Prism did not listen on {port} within 120 s for {}",
        spec.display()
    ))
}

/// Runs the harness for one document, bounded in time: 120 s plus 2 s per operation (Prism
/// validates each call against the whole document, so large documents take long on a loaded
/// machine; Xero's 235 operations took more than 300 s at load 12).
fn run_harness(
    bin: &Path,
    doc: &str,
    base: &str,
    operations: usize,
    extra: &[String],
) -> Result<String, String> {
    let limit = Duration::from_secs(120 + 2 * operations as u64);
    let mut child = Command::new(bin)
        .args([doc, base])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the harness: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let out = reader.join().unwrap_or_default();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                if !status.success() {
                    return Err(format!("harness failed for {doc}: {err}"));
                }
                return Ok(out);
            }
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                return Err(format!("harness for {doc} took more than {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[test]
fn every_operation_of_the_corpus_against_prism() {
    let Some(prism) = prism() else {
        eprintln!("skipped: Prism is not installed (npm install --prefix target/prism @stoplight/prism-cli, or set KEEL_PRISM)");
        return;
    };
    let work = root().join("target/keel-prism");
    // The demo server's own document always takes part; the shared corpus when it is here.
    let demo = work.join("specs/keel-demo.json");
    write_if_changed(
        &demo,
        &serde_json::to_string_pretty(&keel_demo::openapi::document()).expect("demo document"),
    );
    let mut specs = vec![demo];
    match corpus() {
        Some(corpus) => specs.extend(
            std::fs::read_dir(&corpus)
                .expect("corpus readable")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                }),
        ),
        None => eprintln!(
            "the shared OpenAPI corpus is not here (set KEEL_OPENAPI_CORPUS, or place it at ../shared/openapi-corpus): only the demo server's document runs"
        ),
    }
    specs.sort();
    if let Ok(only) = std::env::var("KEEL_PRISM_ONLY") {
        specs.retain(|p| {
            p.file_stem()
                .is_some_and(|s| s.to_string_lossy().contains(&only))
        });
    }
    let keel = root()
        .join("crates/keel")
        .canonicalize()
        .expect("crates/keel");
    std::fs::create_dir_all(work.join("harness/src")).expect("work dir");

    // generate every client and its harness module
    let mut docs = Vec::new();
    let mut members = vec!["\"harness\"".to_string()];
    let mut deps = String::new();
    for spec in &specs {
        let stem = spec
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let module = stem.replace('-', "_");
        let crate_name = format!("{stem}-client");
        let (api, warnings) = lower(spec).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
        let options =
            GenerateOptions::new(crate_name.clone()).keel(KeelDependency::Path(keel.clone()));
        let generated = emit_crate(&api, warnings, &options).expect("emit");
        generated.write_to(&work.join(&stem)).expect("write crate");
        let harness = prism_harness::module(&api, &crate_name.replace('-', "_"));
        write_if_changed(&work.join(format!("harness/src/{module}.rs")), &harness);
        members.push(format!("{stem:?}"));
        deps.push_str(&format!("{crate_name} = {{ path = \"../{stem}\" }}\n"));
        docs.push((stem, module, spec.clone(), api.spec_operations));
    }
    let modules: Vec<String> = docs.iter().map(|d| d.1.clone()).collect();
    write_if_changed(
        &work.join("harness/src/main.rs"),
        &prism_harness::main_rs(&modules),
    );
    write_if_changed(
        &work.join("harness/Cargo.toml"),
        &format!("[package]\nname = \"harness\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nkeel = {{ package = \"keel-http\", path = {:?} }}\ntokio = {{ version = \"1\", features = [\"rt\"] }}\nserde = \"1\"\nserde_json = \"1\"\n{deps}", keel.display().to_string()),
    );
    write_if_changed(
        &work.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    );
    let lock = root().join("Cargo.lock");
    if !work.join("Cargo.lock").exists() {
        let _ = std::fs::copy(&lock, work.join("Cargo.lock"));
    }

    // build them all at once (dependencies compile once)
    // The nested build shares `keel-generated` in the target directory in use with the other
    // nested builds (the demo end-to-end test, the README check); no debug info, to keep it
    // small and fast.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("keel-generated");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let out = Command::new(&cargo)
        .args([
            "build",
            "--offline",
            "--message-format",
            "short",
            "-p",
            "harness",
        ])
        .current_dir(&work)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .output()
        .expect("cargo build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "built {} generated crates and the harness in {:.0?}",
        docs.len(),
        started.elapsed()
    );
    let generated_warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            !l.starts_with("harness/") && (l.contains(": warning") || l.contains(": error"))
        })
        .collect();
    assert!(out.status.success(), "build failed:\n{stderr}");
    assert!(
        generated_warnings.is_empty(),
        "generated crates have warnings:\n{}",
        generated_warnings.join("\n")
    );
    let bin = target.join("debug/harness");

    // run each document's calls against Prism
    let mut rows = Vec::new();
    let mut misses = Vec::new();
    let (mut all_tried, mut all_accepted, mut all_decoded, mut all_generated, mut all_proxied) =
        (0, 0, 0, 0, 0);
    let runs_started = Instant::now();
    for (stem, module, spec, ops) in &docs {
        let doc_started = Instant::now();
        let port = free_port();
        let server = start_prism(&prism, spec, port, None).expect("prism");
        let base = format!("http://127.0.0.1:{port}");
        let output = run_harness(&bin, module, &base, *ops, &[]).expect("harness");
        drop(server);
        let mut lines: Vec<[String; 4]> = output.lines().filter_map(parse_line).collect();
        // Calls whose request Prism accepted but for which it could not build a response
        // valid against the document (even from the schema): again through `prism proxy`,
        // with the harness answering a response built from the schema, which Prism validates.
        let needs_proxy: Vec<String> = lines
            .iter()
            .filter(|l| l[3].starts_with("[needs proxy]"))
            .map(|l| l[0].clone())
            .collect();
        if !needs_proxy.is_empty() {
            let (port, up) = (free_port(), free_port());
            let upstream = format!("127.0.0.1:{up}");
            let server = start_prism(&prism, spec, port, Some(&format!("http://{upstream}")))
                .expect("prism proxy");
            let mut extra = vec!["--proxy".to_string(), upstream];
            extra.extend(needs_proxy.iter().cloned());
            let base = format!("http://127.0.0.1:{port}");
            let again = run_harness(&bin, module, &base, needs_proxy.len(), &extra)
                .expect("harness (proxy)");
            drop(server);
            for l in again.lines().filter_map(parse_line) {
                if let Some(slot) = lines.iter_mut().find(|s| s[0] == l[0]) {
                    *slot = l;
                }
            }
        }
        let (mut tried, mut accepted, mut decoded, mut generated, mut proxied) = (0, 0, 0, 0, 0);
        for [op, acc, dec, detail] in &lines {
            tried += 1;
            let a = acc == "yes";
            let d = dec == "yes";
            accepted += a as usize;
            decoded += (a && d) as usize;
            generated += detail.starts_with("[schema-generated response]") as usize;
            proxied += detail.starts_with("[proxied") as usize;
            let excluded = EXCLUDED.iter().any(|(doc, o, _)| doc == stem && o == op);
            let passed = a && d;
            if !excluded && !passed {
                misses.push(format!(
                    "{stem} {op}: accepted={acc} decoded={dec} {detail}"
                ));
            }
        }
        assert_eq!(
            tried, *ops,
            "{stem}: the harness did not call every operation"
        );
        all_tried += tried;
        all_accepted += accepted;
        all_decoded += decoded;
        all_generated += generated;
        all_proxied += proxied;
        // printed as each document finishes, so a run that stops early still reports
        println!(
            "{stem}: tried {tried}, accepted {accepted}, decoded {decoded} ({generated} against a schema-generated response, {proxied} through the proxy) in {:.0?}",
            doc_started.elapsed()
        );
        rows.push((stem.clone(), tried, accepted, decoded, generated, proxied));
    }
    println!(
        "\n{:<24} {:>6} {:>9} {:>8} {:>17} {:>8}",
        "document", "tried", "accepted", "decoded", "schema-generated", "proxied"
    );
    for (d, t, a, k, g, p) in &rows {
        println!("{d:<24} {t:>6} {a:>9} {k:>8} {g:>17} {p:>8}");
    }
    println!(
        "{:<24} {all_tried:>6} {all_accepted:>9} {all_decoded:>8} {all_generated:>17} {all_proxied:>8}",
        "total"
    );
    println!(
        "schema-generated: calls whose response built from the document's examples violated the document's own schema \
         (Prism's 500), repeated with `Prefer: dynamic=true` (counted as accepted/decoded only when that response passed)"
    );
    println!(
        "proxied: calls for which Prism could build no valid response at all, repeated through `prism proxy --errors` \
         in front of the harness answering a response built from the schema: Prism validated the request and that \
         response, the generated type decoded it"
    );
    println!("Prism runs took {:.0?}", runs_started.elapsed());
    // the exclusions of the documents that ran (all of them, with the corpus)
    let excluded: Vec<_> = EXCLUDED
        .iter()
        .filter(|(d, _, _)| rows.iter().any(|r| r.0 == *d))
        .collect();
    println!("excluded ({}):", excluded.len());
    for (d, o, why) in &excluded {
        println!("  {d} {o}: {why}");
    }
    assert!(
        excluded.len() * 50 <= all_tried,
        "more than 2 % of the operations are excluded"
    );
    println!("{} calls missed (outside the excluded list):", misses.len());
    for m in &misses {
        println!("  {m}");
    }
    // Every operation outside the exclusion list must pass; KEEL_PRISM_REPORT=1 only
    // reports the misses (to survey a new document or a new Prism version).
    if std::env::var_os("KEEL_PRISM_REPORT").is_none() {
        assert!(
            misses.is_empty(),
            "{} calls missed outside the excluded list (listed above; KEEL_PRISM_REPORT=1 reports without failing)",
            misses.len()
        );
    }
}

/// One harness line: `op<TAB>accepted<TAB>decoded<TAB>detail`.
fn parse_line(line: &str) -> Option<[String; 4]> {
    let cols: Vec<&str> = line.splitn(4, '\t').collect();
    let [op, acc, dec, detail] = cols[..] else {
        return None;
    };
    Some([op, acc, dec, detail].map(str::to_string))
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).expect("dir");
        }
        std::fs::write(path, text).expect("write");
    }
}
