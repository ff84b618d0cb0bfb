//! `keel generate`: an OpenAPI document → a Rust client crate on Keel.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use keel_codegen::{GenerateOptions, KeelDependency};

/// Arguments of `keel generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The OpenAPI 3.0/3.1 or Swagger 2.0 document (JSON or YAML).
    pub spec: PathBuf,
    /// The directory to write the crate into (created if needed).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The package name of the generated crate (default: from the document's title).
    #[arg(long)]
    pub crate_name: Option<String>,
    /// Depend on the keel-http package by path (for example a checkout of this repository's crates/keel).
    #[arg(long, conflicts_with = "keel_version")]
    pub keel_path: Option<PathBuf>,
    /// Depend on the keel-http package by version requirement (default: this release line, "0.1").
    #[arg(long)]
    pub keel_version: Option<String>,
    /// Add an empty [workspace] table so the crate builds on its own inside another workspace.
    #[arg(long)]
    pub standalone_workspace: bool,
    /// Print every warning (default: the first 20).
    #[arg(short, long)]
    pub verbose: bool,
}

/// Runs `keel generate`.
pub fn run(args: GenerateArgs) -> ExitCode {
    let mut options = GenerateOptions::new(args.crate_name.clone().unwrap_or_default())
        .standalone_workspace(args.standalone_workspace);
    if let Some(path) = &args.keel_path {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        options = options.keel(KeelDependency::Path(path));
    } else if let Some(v) = &args.keel_version {
        options = options.keel(KeelDependency::Version(v.clone()));
    }
    let started = Instant::now();
    let generated = match keel_codegen::generate(&args.spec, &options) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("keel generate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let took = started.elapsed();
    if let Err(e) = generated.write_to(&args.output) {
        eprintln!("keel generate: cannot write the crate: {e}");
        return ExitCode::FAILURE;
    }
    let shown = if args.verbose {
        generated.warnings.len()
    } else {
        20
    };
    for w in generated.warnings.iter().take(shown) {
        eprintln!("warning: {w}");
    }
    if generated.warnings.len() > shown {
        eprintln!(
            "… and {} more warnings (-v shows all)",
            generated.warnings.len() - shown
        );
    }
    for (op, strategy) in &generated.paginated {
        println!("paginated: {op} ({strategy}): paginate()");
    }
    for op in &generated.event_streams {
        println!("server-sent events: {op}: events()");
    }
    if !generated.features.is_empty() {
        let list: Vec<String> = generated
            .features
            .iter()
            .map(|f| {
                format!(
                    "{} ({} operation{})",
                    f.name,
                    f.operations,
                    if f.operations == 1 { "" } else { "s" }
                )
            })
            .collect();
        println!(
            "cargo features (one per tag, all on by default; `default-features = false, features = [..]` picks some): {}",
            list.join(", ")
        );
    }
    println!(
        "generated crate `{}` in {}: {} operations, {} schemas ({} models), {} warnings, {:.0?}",
        generated.crate_name,
        args.output.display(),
        generated.operations,
        generated.schemas,
        generated.models,
        generated.warnings.len(),
        took
    );
    ExitCode::SUCCESS
}
