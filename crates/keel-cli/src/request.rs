//! `keel request`: send one request (signed when an API key is given) and
//! print the response.
//!
//! Exit status: 0 for any response, unless `--fail` (then 4 for a 4xx, 5 for
//! a 5xx); 1 with a one-line reason when no response arrived (connection,
//! timeout, TLS, bad arguments).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use keel::{Method, Url};

use crate::sign::{parse_headers, SchemeArgs};

/// Arguments of `keel request`.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    /// The method (GET, POST …).
    pub method: String,
    /// The full URL.
    pub url: String,
    /// A header, 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// A raw body (Content-Type application/x-www-form-urlencoded unless a
    /// header says otherwise).
    #[arg(long, short = 'd', conflicts_with = "json")]
    pub data: Option<String>,
    /// A JSON body (validated; Content-Type application/json).
    #[arg(long)]
    pub json: Option<String>,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Do not verify the server's TLS certificate (testing only).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Follow redirects (credentials never go to another origin).
    #[arg(long, short = 'L')]
    pub follow_redirects: bool,
    /// Print the status line and headers on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Exit 4 for a 4xx response and 5 for a 5xx.
    #[arg(long, short = 'f')]
    pub fail: bool,
    /// Retries after a retryable failure (connect error, timeout, 408, 425,
    /// 429, 5xx): exponential backoff with full jitter, `Retry-After`
    /// honoured. POST/PATCH are retried only with an idempotency key. 0
    /// disables retries.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// Total time budget in seconds for all attempts and waits.
    #[arg(long)]
    pub deadline: Option<f64>,
    /// Send this `Idempotency-Key` (the same on every attempt), which makes a
    /// POST or PATCH retryable.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

/// Why the command failed without a response.
struct Failure(String);

impl From<keel::Error> for Failure {
    fn from(e: keel::Error) -> Self {
        Failure(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure(e)
    }
}

fn origin(url: &Url) -> String {
    let mut o = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(p) = url.port() {
        o.push_str(&format!(":{p}"));
    }
    o
}

/// The resilience policy the flags ask for: `standard()` with `--retries`
/// and `--deadline`; with `-v`, one line per attempt on stderr.
fn resilience(args: &RequestArgs) -> Result<keel::Resilience, Failure> {
    let mut b = keel::Resilience::builder()
        .max_attempts(args.retries.saturating_add(1))
        .no_circuit_breaker()
        .no_retry_budget();
    match args.deadline {
        Some(d) if d.is_finite() && d > 0.0 => b = b.deadline(Duration::from_secs_f64(d)),
        Some(_) => {
            return Err(Failure(
                "--deadline must be a positive number of seconds".into(),
            ))
        }
        None => b = b.no_deadline(),
    }
    if args.verbose {
        b = b.on_event(std::sync::Arc::new(
            |event: &keel::resilience::ResilienceEvent| {
                eprintln!("* {event}");
            },
        ));
    }
    Ok(b.build()?)
}

/// Everything that shapes the client, in one place.
fn configure_http(args: &RequestArgs, b: keel::HttpClientBuilder) -> keel::HttpClientBuilder {
    b.timeout(Duration::from_secs_f64(args.timeout))
        .verify_ssl(!args.insecure)
        .follow_redirects(args.follow_redirects)
}

fn configure_auth(
    args: &RequestArgs,
    b: keel::HttpAuthenticatedClientBuilder,
) -> keel::HttpAuthenticatedClientBuilder {
    b.timeout(Duration::from_secs_f64(args.timeout))
        .verify_ssl(!args.insecure)
        .follow_redirects(args.follow_redirects)
}

fn send(args: &RequestArgs) -> Result<keel::Response, Failure> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(Failure(
            "--timeout must be a positive number of seconds".into(),
        ));
    }
    args.scheme.warn_about_command_line_secrets();
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{:?} is not an HTTP method", args.method))?;
    let url = Url::parse(&args.url).map_err(|e| format!("{:?} is not a URL: {e}", args.url))?;
    let base = origin(&url);
    let policy = resilience(args)?;
    let request = match args.scheme.client_builder(&base)? {
        Some(b) => configure_auth(args, b)
            .build()?
            .with_resilience(policy)
            .request(method, url.as_str()),
        None => configure_http(args, keel::HttpClient::builder(&base))
            .build()?
            .with_resilience(policy)
            .request(method, url.as_str()),
    };
    let headers = parse_headers(&args.headers)?;
    let has_content_type = headers.contains_key("content-type");
    let mut request = request;
    if let Some(key) = &args.idempotency_key {
        request = request.idempotency_key(key);
    }
    for (name, value) in &headers {
        let value = value
            .to_str()
            .map_err(|_| format!("header {name} is not visible ASCII"))?;
        request = request.header(name.as_str(), value);
    }
    if let Some(json) = &args.json {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("--json is not valid JSON: {e}"))?;
        request = request.json(&v);
    } else if let Some(data) = &args.data {
        let ct = if has_content_type {
            headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned()
        } else {
            "application/x-www-form-urlencoded".to_owned()
        };
        request = request.body(data.clone().into_bytes(), &ct);
    }
    Ok(request.send_blocking()?)
}

fn print(args: &RequestArgs, resp: &keel::Response) -> std::io::Result<()> {
    if args.verbose {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "HTTP {} {}",
            resp.status.as_u16(),
            resp.status.canonical_reason().unwrap_or("")
        )?;
        for (n, v) in &resp.headers {
            writeln!(err, "{n}: {}", String::from_utf8_lossy(v.as_bytes()))?;
        }
        writeln!(err)?;
    }
    let mut out = std::io::stdout().lock();
    let is_json = resp
        .header("content-type")
        .is_some_and(|ct| ct.contains("json"));
    match serde_json::from_slice::<serde_json::Value>(&resp.content) {
        Ok(v) if is_json || !resp.content.is_empty() => {
            let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
            writeln!(out, "{pretty}")
        }
        _ => {
            out.write_all(&resp.content)?;
            if !resp.content.ends_with(b"\n") && !resp.content.is_empty() {
                out.write_all(b"\n")?;
            }
            Ok(())
        }
    }
}

/// Runs `keel request`.
pub fn run(args: RequestArgs) -> ExitCode {
    match send(&args) {
        Ok(resp) => {
            if let Err(e) = print(&args, &resp) {
                eprintln!("keel request: cannot write the response: {e}");
                return ExitCode::FAILURE;
            }
            let code = resp.status.as_u16();
            match (args.fail, code / 100) {
                (true, 4) => ExitCode::from(4),
                (true, 5) => ExitCode::from(5),
                _ => ExitCode::SUCCESS,
            }
        }
        Err(Failure(reason)) => {
            eprintln!("keel request: {}", reason.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
