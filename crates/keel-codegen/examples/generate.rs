//! `cargo run --example generate -- SPEC OUT_DIR [CRATE_NAME] [KEEL_PATH]`: generate one crate
//! and print `ops schemas warnings millis` on stdout (used by scripts/build-corpus.sh).

use keel_codegen::{generate, GenerateOptions, KeelDependency};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: generate SPEC OUT_DIR [CRATE_NAME] [KEEL_PATH]");
        std::process::exit(2);
    }
    let mut options = GenerateOptions::new(args.get(2).cloned().unwrap_or_default());
    if let Some(p) = args.get(3) {
        options = options.keel(KeelDependency::Path(PathBuf::from(p)));
    }
    let start = Instant::now();
    match generate(&PathBuf::from(&args[0]), &options) {
        Ok(g) => {
            let ms = start.elapsed().as_millis();
            if let Err(e) = g.write_to(&PathBuf::from(&args[1])) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
            for w in &g.warnings {
                eprintln!("warning: {w}");
            }
            println!("{} {} {} {}", g.operations, g.schemas, g.warnings.len(), ms);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
