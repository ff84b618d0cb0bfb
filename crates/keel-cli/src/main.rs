//! `keel`: try, debug and script HTTP APIs with Keel.
//!
//! Subcommands: `demo` (a guided tour against the embedded demo server),
//! `serve` (run the demo server), `request` (send a request, signed and
//! resilient), `sign` (print a signed request without sending it),
//! `verify-webhook` (check a received webhook's signature), `generate`
//! (OpenAPI → Rust client crate).

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

mod call;
mod demo;
mod errors;
mod generate;
mod items;
mod pretty;
mod profile;
mod record;
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
    /// Send a request (signed when an API key is given) and print the response:
    /// `keel request [METHOD] URL [ITEM]...` (alias `r`).
    #[command(visible_alias = "r")]
    Request(Box<request::RequestArgs>),
    /// Call an operation of an OpenAPI document by its operationId:
    /// parameters by name, checked before sending; the document's security
    /// scheme; the response checked against the document. `--list` lists
    /// the operations.
    #[command(
        disable_help_flag = true,
        override_usage = "keel call --spec FILE [OPTIONS] OPERATION_ID [name=value | name:=json | Header:value]...\n       keel call --spec FILE --list [--tag TAG]"
    )]
    Call(Box<call::CallArgs>),
    /// Print the signed request that would be sent, without sending it.
    Sign(Box<sign::SignArgs>),
    /// Check a received webhook's signature (Standard Webhooks, Stripe, GitHub, Slack).
    VerifyWebhook(verify_webhook::VerifyWebhookArgs),
    /// Generate a Rust client crate from an OpenAPI document.
    Generate(generate::GenerateArgs),
    /// Print a shell completion script: `keel completions bash > ~/.local/share/bash-completion/completions/keel`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `keel man | man -l -`; `keel man request` for one command.
    Man(ManArgs),
}

/// Arguments of `keel completions`.
#[derive(Debug, clap::Args)]
struct CompletionsArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

/// Arguments of `keel man`.
#[derive(Debug, clap::Args)]
struct ManArgs {
    /// A subcommand (default: the `keel` page).
    command: Option<String>,
}

fn completions(a: CompletionsArgs) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "keel", &mut std::io::stdout());
    ExitCode::SUCCESS
}

fn man(a: ManArgs) -> ExitCode {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match &a.command {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone().display_name(format!("keel-{}", sub.get_name())),
            None => {
                eprintln!("keel man: no command {name:?}; see keel --help");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut out) {
        eprintln!("keel man: cannot render the page: {e}");
        return ExitCode::FAILURE;
    }
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keel man: cannot write the page: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Request(a) => request::run(*a),
        Command::Call(a) => call::run(*a),
        Command::Sign(a) => sign::run(*a),
        Command::VerifyWebhook(a) => verify_webhook::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Completions(a) => completions(a),
        Command::Man(a) => man(a),
    }
}
