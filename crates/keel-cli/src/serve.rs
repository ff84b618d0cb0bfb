//! `keel serve`: the demo and fault-injection server.

use std::process::ExitCode;

/// Arguments of `keel serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
}

/// Runs `keel serve`.
pub fn run(args: ServeArgs) -> ExitCode {
    let _ = args;
    eprintln!("keel serve: not built yet");
    ExitCode::FAILURE
}
