//! `keel`: try, debug and script HTTP APIs with Keel.
//!
//! Subcommands: `demo` (a guided tour against the embedded demo server),
//! `serve` (run the demo server), `request` (send a request, signed and
//! resilient), `sign` (print a signed request without sending it),
//! `verify-webhook` (check a received webhook's signature), `generate`
//! (OpenAPI → Rust client crate).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod generate;
mod request;
mod serve;
mod sign;
mod verify_webhook;

/// Typed, signed and resilient HTTP API clients.
#[derive(Debug, Parser)]
#[command(name = "keel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the embedded demo server and walk through Keel's features against it.
    Demo(demo::DemoArgs),
    /// Run the demo and fault-injection server.
    Serve(serve::ServeArgs),
    /// Send a request (signed when an API key is given) and print the response.
    Request(request::RequestArgs),
    /// Print the signed request that would be sent, without sending it.
    Sign(sign::SignArgs),
    /// Check a received webhook's signature (Standard Webhooks, Stripe, GitHub, Slack).
    VerifyWebhook(verify_webhook::VerifyWebhookArgs),
    /// Generate a Rust client crate from an OpenAPI document.
    Generate(generate::GenerateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Request(a) => request::run(a),
        Command::Sign(a) => sign::run(a),
        Command::VerifyWebhook(a) => verify_webhook::run(a),
        Command::Generate(a) => generate::run(a),
    }
}
