//! Generation (not building) of every document in the shared OpenAPI corpus.
//!
//! The corpus lives beside the repository: `../../../shared/openapi-corpus` from this crate.
//! Building the generated crates is `build_corpus.rs` (gated by `KEEL_CORPUS_BUILD=1`).

use keel_codegen::{generate, GenerateOptions};
use std::path::PathBuf;
use std::time::Instant;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openapi-corpus")
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus not found at {}: {e}", dir.display()))
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
    let files = corpus_files();
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
