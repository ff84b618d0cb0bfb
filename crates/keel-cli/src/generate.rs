//! `keel generate`.

use std::process::ExitCode;

/// Arguments of `keel generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {}

/// Runs `keel generate`.
pub fn run(_args: GenerateArgs) -> ExitCode {
    eprintln!("keel generate: not built yet");
    ExitCode::FAILURE
}
