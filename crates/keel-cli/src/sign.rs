//! `keel sign`.

use std::process::ExitCode;

/// Arguments of `keel sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {}

/// Runs `keel sign`.
pub fn run(_args: SignArgs) -> ExitCode {
    eprintln!("keel sign: not built yet");
    ExitCode::FAILURE
}
