//! `keel verify-webhook`: check a received webhook's signature (Standard
//! Webhooks, Stripe, GitHub, Slack) from its headers and body.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel::signing::webhook::{WebhookScheme, WebhookVerifier};

/// Arguments of `keel verify-webhook`.
#[derive(Debug, clap::Args)]
pub struct VerifyWebhookArgs {
    /// The provider's scheme: standard (Standard Webhooks: Svix, Resend,
    /// Clerk …), stripe, github or slack.
    #[arg(long)]
    pub scheme: String,
    /// The webhook secret (prefer the KEEL_WEBHOOK_SECRET environment
    /// variable: a secret on the command line lands in shell history).
    #[arg(long, env = "KEEL_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// A received header, 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The body as received, from this file; `-` or no --body reads stdin.
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// How far the timestamp may be from now, in seconds (default 300).
    #[arg(long, default_value_t = 300)]
    pub tolerance: u64,
    /// Verify as of this time (seconds since the epoch), for recorded
    /// deliveries. Default: now.
    #[arg(long)]
    pub now: Option<u64>,
}

fn verify(args: &VerifyWebhookArgs) -> Result<String, String> {
    if std::env::args().any(|a| a == "--secret" || a.starts_with("--secret=")) {
        eprintln!("keel: warning: --secret on the command line is visible in shell history and to other users (ps); prefer the KEEL_WEBHOOK_SECRET environment variable");
    }
    let scheme = WebhookScheme::from_name(&args.scheme).ok_or_else(|| {
        format!(
            "unknown scheme {:?}; use standard, stripe, github or slack",
            args.scheme
        )
    })?;
    let secret = args
        .secret
        .as_deref()
        .ok_or("a webhook secret is needed: KEEL_WEBHOOK_SECRET or --secret")?;
    let verifier = WebhookVerifier::new(scheme, secret)
        .map_err(|e| e.to_string())?
        .tolerance(Duration::from_secs(args.tolerance));
    let headers = crate::sign::parse_headers(&args.headers)?;
    let mut body = Vec::new();
    match &args.body {
        Some(p) if p.as_os_str() != "-" => {
            body = std::fs::read(p)
                .map_err(|e| format!("cannot read the body file {}: {e}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read the body from stdin: {e}"))?;
        }
    }
    let now = match args.now {
        Some(s) => UNIX_EPOCH + Duration::from_secs(s),
        None => SystemTime::now(),
    };
    let ok = verifier
        .verify_at(&headers, &body, now)
        .map_err(|r| format!("rejected: {}", r.reason()))?;
    let mut line = format!(
        "verified: {} signature over {} bytes",
        scheme.name(),
        body.len()
    );
    if let Some(id) = ok.id {
        line.push_str(&format!(", id {id}"));
    }
    if let Some(ts) = ok.timestamp {
        line.push_str(&format!(", timestamp {ts}"));
    }
    Ok(line)
}

/// Runs `keel verify-webhook`: exit 0 and one line on stdout when the
/// signature is valid, exit 1 and the reason on stderr otherwise.
pub fn run(args: VerifyWebhookArgs) -> ExitCode {
    match verify(&args) {
        Ok(line) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{line}").is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keel verify-webhook: {e}");
            ExitCode::FAILURE
        }
    }
}
