//! `keel demo`: a guided tour against the embedded demo server.

use std::process::ExitCode;

/// Arguments of `keel demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `keel demo`.
pub fn run(_args: DemoArgs) -> ExitCode {
    eprintln!("keel demo: not built yet");
    ExitCode::FAILURE
}
