//! Generation (not building) of every document in the shared OpenAPI corpus.
//!
//! The corpus is not part of the repository: it is read from the directory named by
//! `KEEL_OPENAPI_CORPUS`, or from `../shared/openapi-corpus` beside the checkout when that
//! exists. Without either, the tests that need it print that they skipped and why.
//! Building the generated crates is `build_corpus.rs` (gated by `KEEL_CORPUS_BUILD=1`).

use keel_codegen::{generate, GenerateOptions};
use std::path::PathBuf;
use std::time::Instant;

/// The corpus directory, or `None` (with a message saying so) when it is absent.
fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KEEL_OPENAPI_CORPUS") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "KEEL_OPENAPI_CORPUS={} is not a directory",
            dir.display()
        );
        return Some(dir);
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openapi-corpus");
    if beside.is_dir() {
        return Some(beside);
    }
    eprintln!(
        "skipped: the shared OpenAPI corpus is not here (set KEEL_OPENAPI_CORPUS, or place it at {})",
        beside.display()
    );
    None
}

fn corpus_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus unreadable at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_document_generates() {
    let Some(dir) = corpus_dir() else { return };
    let files = corpus_files(&dir);
    assert_eq!(files.len(), 10, "the corpus has 10 documents");
    for path in files {
        let start = Instant::now();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let generated = generate(&path, &GenerateOptions::new(format!("{name}-client")))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let elapsed = start.elapsed();
        assert_eq!(
            generated.operations, generated.spec_operations,
            "{name}: an operation was dropped"
        );
        assert!(generated.spec_operations > 0, "{name}: no operations");
        // warnings are sane: each has a pointer and a message, and there are not more of them
        // than there are operations + schemas (a runaway would signal a bug)
        for w in &generated.warnings {
            assert!(
                w.pointer.starts_with('/'),
                "{name}: warning without a pointer: {w}"
            );
            assert!(!w.message.is_empty());
        }
        assert!(
            generated.warnings.len() <= generated.spec_operations + generated.schemas + 10,
            "{name}: {} warnings",
            generated.warnings.len()
        );
        println!(
            "{name}: {} ops, {} schemas, {} models, {} warnings, {:?}",
            generated.operations,
            generated.schemas,
            generated.models,
            generated.warnings.len(),
            elapsed
        );
        for w in generated.warnings.iter().take(8) {
            println!("    {w}");
        }
    }
}

/// A tiny deterministic generator for the mutation test.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn count_nodes(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Object(m) => m.values().map(count_nodes).sum(),
        serde_json::Value::Array(a) => a.iter().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replace the `target`-th node (pre-order) with something else.
fn mutate(v: &mut serde_json::Value, target: &mut usize, rng: &mut Lcg) -> bool {
    use serde_json::{json, Value};
    if *target == 0 {
        let choices = [
            Value::Null,
            json!(42),
            json!("text"),
            json!({}),
            json!([]),
            json!({"$ref": "#/components/schemas/Nope"}),
            json!({"$ref": "#"}),
            json!({"$ref": "#/paths"}),
            json!({"type": ["string", "null", "integer"]}),
            json!({"allOf": [{"$ref": "#"}, {"type": "string"}]}),
            json!({"oneOf": [{"nullable": true}], "discriminator": {"propertyName": 3}}),
        ];
        let pick = choices[rng.below(choices.len())].clone();
        // sometimes delete a key of an object instead
        if let Value::Object(m) = v {
            if !m.is_empty() && rng.below(3) == 0 {
                let k = m.keys().nth(rng.below(m.len())).cloned().unwrap();
                m.remove(&k);
                return true;
            }
        }
        *v = pick;
        return true;
    }
    *target -= 1;
    match v {
        Value::Object(m) => m.values_mut().any(|c| mutate(c, target, rng)),
        Value::Array(a) => a.iter_mut().any(|c| mutate(c, target, rng)),
        _ => false,
    }
}

#[test]
fn mutated_documents_never_panic() {
    let specs_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/specs");
    let mut sources = vec![
        specs_dir.join("models.yaml"),
        specs_dir.join("operations.yaml"),
        specs_dir.join("openapi31.yaml"),
    ];
    // The corpus adds real-world documents when it is here; the local specs run either way.
    if let Some(dir) = corpus_dir() {
        for name in [
            "oai-petstore.yaml",
            "swagger-petstore3.yaml",
            "redocly-museum.yaml",
            "nytimes-most-popular.yaml",
        ] {
            sources.push(dir.join(name));
        }
    }
    let mut rng = Lcg(0x5eed);
    let mut ok = 0;
    let mut errors = 0;
    for src in sources {
        let text = std::fs::read_to_string(&src).unwrap();
        let base: serde_json::Value = keel_codegen::parse_document(&text).unwrap();
        let n = count_nodes(&base);
        for _ in 0..40 {
            let mut doc = base.clone();
            for _ in 0..1 + rng.below(3) {
                let mut target = rng.below(n);
                mutate(&mut doc, &mut target, &mut rng);
            }
            let text = serde_json::to_string(&doc).unwrap();
            match keel_codegen::generate_from_str(&text, &GenerateOptions::default()) {
                Ok(g) => {
                    assert_eq!(g.operations, g.spec_operations);
                    ok += 1;
                }
                Err(_) => errors += 1,
            }
        }
    }
    println!("mutations: {ok} generated, {errors} rejected with an error");
    assert!(ok > 0);
}
