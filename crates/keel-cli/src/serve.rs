//! `keel serve`: the demo and fault-injection server.

use std::net::SocketAddr;
use std::process::ExitCode;

/// Arguments of `keel serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one, printed at start).
    #[arg(long, short, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
}

/// Runs `keel serve` until Ctrl-C.
pub fn run(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keel serve: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "keel serve: cannot listen on {addr}: {e} (is the port in use? try --port 0)"
                );
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().unwrap_or(addr);
        println!("keel demo server listening on http://{local}");
        println!(
            "  try: curl http://{local}/items   (OpenAPI document: http://{local}/openapi.json)"
        );
        println!("  stop with Ctrl-C");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match keel_demo::serve(listener, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("keel serve: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
