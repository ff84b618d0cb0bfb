//! `keel request`.

use std::process::ExitCode;

/// Arguments of `keel request`.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {}

/// Runs `keel request`.
pub fn run(_args: RequestArgs) -> ExitCode {
    eprintln!("keel request: not built yet");
    ExitCode::FAILURE
}
