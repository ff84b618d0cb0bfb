//! `keel request` (alias `keel r`): send one request (signed when an API key
//! is given) and print the response, byte for byte unless it goes to a
//! terminal.

use std::io::{IsTerminal as _, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use keel::transport::{HttpVersion, SharedTransport};
use keel::{AuthState, Method, Url};

use crate::errors::{describe, Failure};
use crate::items::{self, Item};
use crate::pretty::{self, Pretty};
use crate::record::{Recorded, Recorder};
use crate::sign::{parse_headers, SchemeArgs};

/// The exit codes, shown in `--help`.
pub const EXIT_CODES: &str = "\
Exit status:
  0  a response arrived (any status, unless --check-status)
  1  no response: connection refused, DNS, TLS, proxy, bad arguments, I/O
  2  a timeout (--timeout, --read-timeout, --connect-timeout, --deadline);
     command-line usage errors also exit 2
  3  a 3xx response with --check-status (redirects not followed)
  4  a 4xx response with --check-status (or --download)
  5  a 5xx response with --check-status (or --download)
  6  more redirects than --max-redirects";

/// Arguments of `keel request`.
#[derive(Debug, clap::Args)]
#[command(
    disable_help_flag = true,
    after_long_help = EXIT_CODES,
    after_help = "Items: Header:value  name==query  name=string  name:=json  name=@file  name:=@file  field@file[;type=mime]  @file (the body)\n\nRun with --help for the exit codes."
)]
pub struct RequestArgs {
    /// `[METHOD] URL [ITEM]...`: the method (default GET, or POST when
    /// there is a body), the URL (`:8080/path` and `localhost/path` mean
    /// `http://localhost…`; a path `/x` joins the profile's base URL) and
    /// request items.
    #[arg(value_name = "[METHOD] URL [ITEM]")]
    pub args: Vec<String>,
    /// A header, 'Name: value' (repeatable; `Name:value` items do the same).
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,
    /// A JSON body, sent exactly as given after checking that it is JSON
    /// (Content-Type application/json).
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// A raw body sent as is: text, `@FILE` (streamed from the file) or
    /// `@-` (stdin). Content-Type: -H, else JSON when it parses as JSON,
    /// else application/octet-stream (form-urlencoded for text given
    /// inline with `name=value&…`).
    #[arg(long = "raw", visible_alias = "data", value_name = "BODY")]
    pub raw: Option<String>,
    /// Data items (`name=value`) as a form: application/x-www-form-urlencoded,
    /// or multipart/form-data when a `field@file` item is present.
    #[arg(long, short = 'f')]
    pub form: bool,
    /// Always send multipart/form-data.
    #[arg(long)]
    pub multipart: bool,
    /// Do not read a body from stdin even when it is not a terminal.
    #[arg(long, short = 'I')]
    pub ignore_stdin: bool,
    /// Use https:// for a URL without a scheme.
    #[arg(long)]
    pub https: bool,
    /// all (colors and JSON formatting, the default on a terminal), colors,
    /// format, none (the default to a pipe or file, which then gets the
    /// bytes as received). Given explicitly, it applies to a pipe too.
    #[arg(long, value_parser = ["all", "colors", "format", "none"])]
    pub pretty: Option<String>,
    /// What to print: H request headers, B request body, h response
    /// headers, b response body (default: hb on a terminal, b otherwise;
    /// HB with --offline).
    #[arg(long, short = 'p', value_name = "WHAT")]
    pub print: Option<String>,
    /// Print only the response headers (-p h).
    #[arg(long = "headers", short = 'h')]
    pub headers_only: bool,
    /// Print only the response body (-p b).
    #[arg(long = "body", short = 'b')]
    pub body_only: bool,
    /// Print the request and the response (-p HBhb), and one line per
    /// attempt on stderr. Secrets are shown as <redacted>.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print nothing but errors (no progress bar either).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Build the request (signature included) and print it without sending.
    #[arg(long)]
    pub offline: bool,
    /// Exit 3, 4 or 5 for a 3xx, 4xx or 5xx response (see the exit codes).
    #[arg(long, visible_alias = "fail")]
    pub check_status: bool,
    /// Save the response body to FILE (streamed, constant memory).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Download the body to a file (named by -o, Content-Disposition or the
    /// URL) with a progress bar on a terminal.
    #[arg(long, short = 'd')]
    pub download: bool,
    /// Resume a partial download of -o FILE (Range request); the file is
    /// written from the start when the server ignores the range.
    #[arg(long = "continue", short = 'c')]
    pub resume: bool,
    /// Print the body as it arrives, chunk by chunk (automatic for
    /// text/event-stream).
    #[arg(long, short = 'S')]
    pub stream: bool,
    /// Seconds to wait for each attempt's response head (0: no limit);
    /// an attempt that timed out is retried only within --deadline. A
    /// streamed body is then bounded by --read-timeout only.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Seconds a response body may stall without data (0: no limit).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub read_timeout: f64,
    /// Seconds to wait for the TCP (and proxy) connection.
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<f64>,
    /// Do not verify the server's TLS certificate (testing only); same as
    /// --verify=no.
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// yes (default), no, or a CA bundle file (PEM) to trust.
    #[arg(long, value_name = "yes|no|FILE")]
    pub verify: Option<String>,
    /// Trust this CA certificate (PEM) in addition to the system roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// A client certificate chain (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert, when it is not in the same file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub cert_key: Option<PathBuf>,
    /// Follow redirects (credentials never go to another origin).
    #[arg(
        long = "follow",
        short = 'F',
        visible_alias = "follow-redirects",
        visible_short_alias = 'L'
    )]
    pub follow_redirects: bool,
    /// The most redirects to follow with --follow.
    #[arg(long, value_name = "N")]
    pub max_redirects: Option<usize>,
    /// Send every request through this proxy (http://host:port, with
    /// user:pass@ for proxy authentication). Default: HTTP(S)_PROXY and
    /// NO_PROXY from the environment.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// 1.1 or 2 (default: HTTP/2 when a TLS server offers it).
    #[arg(long, value_parser = ["1.1", "2"])]
    pub http_version: Option<String>,
    /// Retries after a failure that can succeed on a retry (connection
    /// refused or reset, 408, 425, 429, 5xx; a timeout only with
    /// --deadline): exponential backoff with jitter, `Retry-After`
    /// honoured. DNS and TLS certificate errors are never retried; POST and
    /// PATCH only with --idempotency-key. 0 disables retries.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub retries: u32,
    /// Total time budget in seconds for all attempts and waits.
    #[arg(long, value_name = "SECONDS")]
    pub deadline: Option<f64>,
    /// Send this `Idempotency-Key` (the same on every attempt), which makes
    /// a POST or PATCH retryable.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// A profile from keel.toml (base URL, scheme, the names of the
    /// environment variables holding credentials, default headers).
    #[arg(long, value_name = "NAME", env = "KEEL_PROFILE")]
    pub profile: Option<String>,
    /// Print help (--help: more, with the exit codes).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

/// A check of the response (status and body) that `keel call` runs
/// against the document; it returns what does not match.
pub type Check = Box<dyn FnOnce(u16, &[u8]) -> Vec<String>>;

/// An optional response check (`keel call`).
#[derive(Default)]
pub struct Validator {
    /// The check; `None` checks nothing.
    pub check: Option<Check>,
}

/// What to print, from `-p` and friends.
#[derive(Debug, Clone, Copy, Default)]
struct PrintSet {
    req_head: bool,
    req_body: bool,
    resp_head: bool,
    resp_body: bool,
}

impl PrintSet {
    fn parse(s: &str) -> Result<Self, Failure> {
        let mut p = PrintSet::default();
        for c in s.chars() {
            match c {
                'H' => p.req_head = true,
                'B' => p.req_body = true,
                'h' => p.resp_head = true,
                'b' => p.resp_body = true,
                other => {
                    return Err(Failure::usage(format!(
                        "--print {s:?}: {other:?} is not one of H (request headers), B (request body), h (response headers), b (response body)"
                    )))
                }
            }
        }
        Ok(p)
    }
}

/// The request the command line describes.
struct Plan {
    method: Method,
    url: Url,
    items: Vec<Item>,
}

/// How the body is sent.
enum BodySource {
    None,
    Bytes(Vec<u8>, String),
    File(PathBuf, String),
    Multipart(keel::Multipart),
    Form(Vec<(String, String)>),
}

/// A body file up to this size is read into memory (so the request can be
/// retried and -v can show it); a larger one is streamed and sent once.
const IN_MEMORY_FILE: u64 = 8 << 20;

fn positive_secs(flag: &str, v: f64) -> Result<Option<Duration>, Failure> {
    if !v.is_finite() || v < 0.0 {
        return Err(Failure::usage(format!(
            "{flag} must be a number of seconds (0 for no limit), got {v}"
        )));
    }
    Ok((v > 0.0).then(|| Duration::from_secs_f64(v)))
}

fn plan(args: &RequestArgs, base: Option<&str>) -> Result<Plan, Failure> {
    let mut pos = args.args.iter();
    let first = pos
        .next()
        .ok_or_else(|| Failure::usage("a URL is needed"))?;
    let (method, raw_url) = if args.args.len() >= 2 && items::looks_like_method(first) {
        (
            Some(first.to_ascii_uppercase()),
            pos.next().cloned().unwrap_or_default(),
        )
    } else {
        (None, first.clone())
    };
    let items = pos
        .map(|a| items::parse_item(a).map_err(Failure::usage))
        .collect::<Result<Vec<_>, _>>()?;
    let url_text = match base {
        Some(b) if raw_url.starts_with('/') || raw_url.is_empty() => {
            format!("{}{}", b.trim_end_matches('/'), raw_url)
        }
        _ => items::expand_url(&raw_url, args.https),
    };
    let url = Url::parse(&url_text).map_err(|e| {
        Failure::usage(format!(
            "{raw_url:?} is not a URL ({e}); try http://host/path, :8080/path or localhost/path"
        ))
    })?;
    let has_body = items.iter().any(Item::is_body) || args.json.is_some() || args.raw.is_some();
    let method = match method {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| Failure::usage(format!("{m:?} is not an HTTP method")))?,
        None if has_body => Method::POST,
        None => Method::GET,
    };
    Ok(Plan { method, url, items })
}

fn content_type_for(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => "application/json",
        Some("txt") | Some("text") | Some("log") => "text/plain",
        Some("html") | Some("htm") => "text/html",
        Some("xml") => "application/xml",
        Some("csv") => "text/csv",
        Some("yaml") | Some("yml") => "application/yaml",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::io(format!("cannot read {what} {}: {e}", path.display())))
}

/// A file body: in memory when small, else streamed.
fn file_body(path: &Path, ct: String) -> Result<BodySource, Failure> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::io(format!("cannot read the body file {}: {e}", path.display())))?;
    if meta.len() <= IN_MEMORY_FILE {
        Ok(BodySource::Bytes(read_file(path, "the body file")?, ct))
    } else {
        Ok(BodySource::File(path.to_owned(), ct))
    }
}

fn read_stdin() -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(|e| Failure::io(format!("cannot read the body from stdin: {e}")))?;
    Ok(buf)
}

fn guessed_type(bytes: &[u8]) -> String {
    if items::check_json_bytes(bytes).is_ok() {
        "application/json".into()
    } else {
        "application/octet-stream".into()
    }
}

/// The body from the items, `--json`, `--raw` or stdin (one of them).
fn body_source(
    args: &RequestArgs,
    plan: &Plan,
    user_ct: Option<&str>,
) -> Result<BodySource, Failure> {
    let data_items: Vec<&Item> = plan
        .items
        .iter()
        .filter(|i| i.is_body() && !matches!(i, Item::BodyFile(_)))
        .collect();
    let body_files: Vec<&PathBuf> = plan
        .items
        .iter()
        .filter_map(|i| match i {
            Item::BodyFile(p) => Some(p),
            _ => None,
        })
        .collect();
    let sources = usize::from(!data_items.is_empty())
        + body_files.len()
        + usize::from(args.json.is_some())
        + usize::from(args.raw.is_some());
    if sources > 1 {
        return Err(Failure::usage(
            "give the body one way: data items (name=value, name:=json, field@file), one @FILE, --json or --raw",
        ));
    }
    let ct = |default: &str| user_ct.unwrap_or(default).to_owned();
    if let Some(json) = &args.json {
        items::check_json(json)
            .map_err(|e| Failure::usage(format!("--json is not valid JSON: {e}")))?;
        return Ok(BodySource::Bytes(
            json.clone().into_bytes(),
            ct("application/json"),
        ));
    }
    if let Some(raw) = &args.raw {
        if raw == "@-" || raw == "-" {
            let bytes = read_stdin()?;
            let t = user_ct
                .map(str::to_owned)
                .unwrap_or_else(|| guessed_type(&bytes));
            return Ok(BodySource::Bytes(bytes, t));
        }
        if let Some(path) = raw.strip_prefix('@') {
            let path = PathBuf::from(path);
            let t = ct(content_type_for(&path));
            return file_body(&path, t);
        }
        let bytes = raw.clone().into_bytes();
        let t = match user_ct {
            Some(t) => t.to_owned(),
            None if items::check_json_bytes(&bytes).is_ok() => "application/json".into(),
            None if raw.contains('=') && !raw.contains(char::is_whitespace) => {
                "application/x-www-form-urlencoded".into()
            }
            None => "text/plain; charset=utf-8".into(),
        };
        return Ok(BodySource::Bytes(bytes, t));
    }
    if let Some(path) = body_files.first() {
        return file_body(path, ct(content_type_for(path)));
    }
    if !data_items.is_empty() {
        let has_files = data_items
            .iter()
            .any(|i| matches!(i, Item::FormFile { .. }));
        if args.multipart || has_files {
            let mut form = keel::Multipart::new();
            for item in data_items {
                form = match item {
                    Item::Data(n, v) => form.text(n, v.clone()),
                    Item::DataFile(n, p) => form.text(
                        n,
                        String::from_utf8_lossy(&read_file(p, "the field file")?).into_owned(),
                    ),
                    Item::FormFile { name, path, mime } => {
                        let data = read_file(path, "the form file")?;
                        let file_name = path.file_name().and_then(|f| f.to_str());
                        let mime = mime
                            .clone()
                            .unwrap_or_else(|| content_type_for(path).into());
                        form.bytes(name, data, file_name, Some(&mime))
                    }
                    Item::RawJson(n, v) => {
                        form.bytes(n, v.clone().into_bytes(), None, Some("application/json"))
                    }
                    Item::RawJsonFile(n, p) => {
                        form.bytes(n, read_json_file(p)?, None, Some("application/json"))
                    }
                    Item::Header(..) | Item::Query(..) | Item::BodyFile(_) => form,
                };
            }
            return Ok(BodySource::Multipart(form));
        }
        if args.form {
            let mut pairs = Vec::new();
            for item in data_items {
                match item {
                    Item::Data(n, v) => pairs.push((n.clone(), v.clone())),
                    Item::DataFile(n, p) => pairs.push((
                        n.clone(),
                        String::from_utf8_lossy(&read_file(p, "the field file")?).into_owned(),
                    )),
                    Item::RawJson(n, _) | Item::RawJsonFile(n, _) => {
                        return Err(Failure::usage(format!(
                            "{n}:= is a JSON field; a form (--form) has only text fields (name=value)"
                        )))
                    }
                    _ => {}
                }
            }
            return Ok(BodySource::Form(pairs));
        }
        // A JSON object, members in the order given, raw values verbatim.
        let mut out = String::from("{");
        for (i, item) in data_items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let (name, value) = match item {
                Item::Data(n, v) => {
                    let mut s = String::new();
                    items::push_json_string(&mut s, v);
                    (n, s)
                }
                Item::DataFile(n, p) => {
                    let text = String::from_utf8(read_file(p, "the field file")?).map_err(|_| {
                        Failure::usage(format!(
                            "{n}=@{}: the file is not UTF-8 text; send it as a file part with --form ({n}@FILE)",
                            p.display()
                        ))
                    })?;
                    let mut s = String::new();
                    items::push_json_string(&mut s, &text);
                    (n, s)
                }
                Item::RawJson(n, v) => (n, v.clone()),
                Item::RawJsonFile(n, p) => {
                    let raw = read_json_file(p)?;
                    (n, String::from_utf8_lossy(&raw).trim().to_owned())
                }
                _ => continue,
            };
            items::push_json_string(&mut out, name);
            out.push_str(": ");
            out.push_str(&value);
        }
        out.push('}');
        return Ok(BodySource::Bytes(out.into_bytes(), ct("application/json")));
    }
    if !args.ignore_stdin && !args.offline && !std::io::stdin().is_terminal() {
        let bytes = read_stdin()?;
        if !bytes.is_empty() {
            let t = user_ct
                .map(str::to_owned)
                .unwrap_or_else(|| guessed_type(&bytes));
            return Ok(BodySource::Bytes(bytes, t));
        }
    }
    Ok(BodySource::None)
}

fn read_json_file(p: &Path) -> Result<Vec<u8>, Failure> {
    let raw = read_file(p, "the JSON file")?;
    items::check_json_bytes(&raw)
        .map_err(|e| Failure::usage(format!("{} is not JSON: {e}", p.display())))?;
    Ok(raw)
}

/// The resilience policy the flags ask for; with `-v`, one line per
/// attempt on stderr.
fn resilience(args: &RequestArgs) -> Result<keel::Resilience, Failure> {
    let mut b = keel::Resilience::builder()
        .max_attempts(args.retries.saturating_add(1))
        .backoff(Duration::from_millis(100), Duration::from_secs(5))
        .no_circuit_breaker()
        .no_retry_budget();
    match args.deadline {
        Some(d) if d.is_finite() && d > 0.0 => b = b.deadline(Duration::from_secs_f64(d)),
        Some(_) => {
            return Err(Failure::usage(
                "--deadline must be a positive number of seconds",
            ))
        }
        None => b = b.no_deadline(),
    }
    // Without --deadline an attempt that timed out is not retried: a slow
    // server stays slow, and `--timeout 1` should end after about 1 s, not
    // after every retry's timeout too.
    b = b.retry_timeouts(args.deadline.is_some());
    if args.verbose {
        b = b.on_event(Arc::new(
            |event: &keel::resilience::ResilienceEvent| match event {
                keel::resilience::ResilienceEvent::GaveUp {
                    attempts,
                    reason: keel::resilience::GiveUpReason::TimeoutNotRetried,
                } => eprintln!(
                    "* not retrying after {attempts} attempt(s): a timeout is retried only within --deadline"
                ),
                other => eprintln!("* {}", crate::errors::flags_not_methods(&other.to_string())),
            },
        ));
    }
    b.build().map_err(|e| describe(&e))
}

/// The client options every flag sets, for either kind of client.
fn configure<A: AuthState>(
    args: &RequestArgs,
    mut b: keel::ClientBuilder<A>,
) -> Result<keel::ClientBuilder<A>, Failure> {
    b = match positive_secs("--timeout", args.timeout)? {
        Some(t) => b.timeout(t),
        None => b.no_timeout(),
    };
    b = match positive_secs("--read-timeout", args.read_timeout)? {
        Some(t) => b.read_timeout(t),
        None => b.no_read_timeout(),
    };
    if let Some(c) = args.connect_timeout {
        if let Some(t) = positive_secs("--connect-timeout", c)? {
            b = b.connect_timeout(t);
        }
    }
    let mut verify = !args.insecure;
    match args.verify.as_deref() {
        None => {}
        Some("yes" | "true") => {}
        Some("no" | "false") => verify = false,
        Some(file) => b = b.ca_file(file),
    }
    b = b.verify_ssl(verify);
    if let Some(ca) = &args.cacert {
        b = b.ca_file(ca.clone());
    }
    if let Some(cert) = &args.cert {
        let chain = read_file(cert, "the --cert file")?;
        let key = match &args.cert_key {
            Some(k) => read_file(k, "the --cert-key file")?,
            None => chain.clone(),
        };
        b = b.client_certificate_pem(chain, key);
    }
    b = b.follow_redirects(args.follow_redirects);
    if let Some(n) = args.max_redirects {
        b = b.max_redirects(n);
    }
    if let Some(p) = &args.proxy {
        let p = p.strip_prefix("all:").unwrap_or(p);
        b = b.proxy(p);
    }
    match args.http_version.as_deref() {
        Some("1.1") => b = b.http_version(HttpVersion::Http1),
        Some("2") => b = b.http_version(HttpVersion::Http2),
        _ => {}
    }
    // Streamed output has no size cap; a buffered read (pretty JSON on a
    // terminal) keeps the library's.
    Ok(b.raise_on_unexpected_status(false))
}

/// The values whose appearance in a printed header means "redact it".
fn secrets(args: &SchemeArgs) -> Vec<String> {
    let mut s: Vec<String> = [
        &args.api_secret,
        &args.passphrase,
        &args.private_key_passphrase,
    ]
    .into_iter()
    .flatten()
    .chain(args.redact.iter())
    .filter(|v| v.len() >= 4)
    .cloned()
    .collect();
    if matches!(args.scheme.as_str(), "bearer" | "basic" | "api-key") {
        if let Some(k) = &args.api_key {
            if k.len() >= 4 {
                s.push(k.clone());
            }
        }
    }
    s
}

fn shown_headers(headers: &keel::HeaderMap, secrets: &[String]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let secret = v.is_sensitive()
                || n == keel::http::header::AUTHORIZATION
                || n == keel::http::header::PROXY_AUTHORIZATION
                || secrets.iter().any(|s| text.contains(s.as_str()));
            (
                n.as_str().to_owned(),
                if secret {
                    "<redacted>".to_owned()
                } else {
                    text
                },
            )
        })
        .collect()
}

/// `text` with every secret (as given, percent-encoded or form-encoded, as
/// it may appear in a query) replaced by `<redacted>`.
fn redact_in(text: &str, secrets: &[String]) -> String {
    let mut shown = text.to_owned();
    for s in secrets {
        let encoded: String = s
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        // application/x-www-form-urlencoded writes a space as `+`.
        let form_encoded = encoded.replace("%20", "+");
        for form in [s.as_str(), encoded.as_str(), form_encoded.as_str()] {
            shown = shown.replace(form, "<redacted>");
        }
    }
    shown
}

/// Where the output goes and how it looks.
struct Output {
    print: PrintSet,
    pretty: Pretty,
    /// Whether the output is processed for reading (pretty JSON, colors,
    /// binary bodies replaced by a note): on a terminal, or wherever an
    /// explicit `--pretty all|colors|format` asks for it (`| less -R`).
    display: bool,
    secrets: Vec<String>,
}

fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<(), Failure> {
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| Failure::io(format!("cannot write the output: {e}")))
}

/// A body for a terminal: pretty JSON, a note for binary, text as is.
fn terminal_body(bytes: &[u8], content_type: Option<&str>, pretty: Pretty) -> Vec<u8> {
    if pretty::looks_binary(bytes) {
        return pretty::BINARY_NOTE.as_bytes().to_vec();
    }
    if (pretty.format || pretty.colors)
        && (pretty::is_json_type(content_type) || bytes.first() == Some(&b'{'))
    {
        let laid = if pretty.format {
            pretty::format_json(bytes, pretty.colors)
        } else {
            pretty::color_json(bytes)
        };
        if let Some(mut f) = laid {
            if !f.ends_with(b"\n") {
                f.push(b'\n');
            }
            return f;
        }
    }
    let mut v = bytes.to_vec();
    if !v.is_empty() && !v.ends_with(b"\n") {
        v.push(b'\n');
    }
    v
}

fn print_request(out: &Output, rec: &Recorded, streamed: Option<&Path>) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    if out.print.req_head {
        let target = match rec.uri.path_and_query() {
            Some(pq) => redact_in(pq.as_str(), &out.secrets),
            None => "/".to_owned(),
        };
        let mut headers = Vec::new();
        if let Some(a) = rec.uri.authority() {
            headers.push(("host".to_owned(), a.as_str().to_owned()));
        }
        headers.extend(shown_headers(&rec.headers, &out.secrets));
        if let Some(b) = &rec.body {
            if !b.is_empty() && !rec.headers.contains_key(keel::http::header::CONTENT_LENGTH) {
                headers.push(("content-length".to_owned(), b.len().to_string()));
            }
        }
        let line = format!("{} {} HTTP/1.1", rec.method, target);
        write_out(
            &mut stdout,
            &pretty::head_block(&line, &headers, out.pretty.colors && out.display),
        )?;
    }
    if out.print.req_body {
        match (&rec.body, streamed) {
            (Some(b), _) if !b.is_empty() => {
                let ct = rec
                    .headers
                    .get(keel::http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                let shown = if out.display {
                    terminal_body(b, ct, out.pretty)
                } else {
                    b.to_vec()
                };
                write_out(&mut stdout, &shown)?;
                write_out(&mut stdout, b"\n")?;
            }
            (None, Some(p)) => {
                write_out(
                    &mut stdout,
                    format!("<the body streamed from {}>\n\n", p.display()).as_bytes(),
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn response_head(resp: &keel::StreamingResponse, version: &str, out: &Output) -> Vec<u8> {
    let line = format!(
        "{version} {} {}",
        resp.status.as_u16(),
        resp.status.canonical_reason().unwrap_or("")
    );
    let headers = shown_headers(&resp.headers, &out.secrets);
    pretty::head_block(line.trim_end(), &headers, out.pretty.colors && out.display)
}

/// Copies the body to stdout as it arrives (byte for byte).
fn stream_raw(resp: &mut keel::StreamingResponse) -> Result<u64, Failure> {
    let mut stdout = std::io::stdout().lock();
    let mut n = 0u64;
    while let Some(chunk) = resp.chunk_blocking().map_err(|e| describe(&e))? {
        write_out(&mut stdout, &chunk)?;
        n += chunk.len() as u64;
    }
    Ok(n)
}

/// The body on a terminal.
fn terminal_response(
    mut resp: keel::StreamingResponse,
    out: &Output,
    stream: bool,
) -> Result<(), Failure> {
    let ct = resp.header("content-type").map(str::to_owned);
    let mut stdout = std::io::stdout().lock();
    let Some(first) = resp.chunk_blocking().map_err(|e| describe(&e))? else {
        return Ok(());
    };
    if pretty::looks_binary(&first) {
        return write_out(&mut stdout, pretty::BINARY_NOTE.as_bytes());
    }
    let json = (out.pretty.format || out.pretty.colors) && pretty::is_json_type(ct.as_deref());
    if stream || !json {
        // Text (or a stream of events): as it arrives.
        let mut last = first.last().copied();
        write_out(&mut stdout, &first)?;
        while let Some(chunk) = resp.chunk_blocking().map_err(|e| describe(&e))? {
            if pretty::looks_binary(&chunk) {
                return write_out(&mut stdout, format!("\n{}", pretty::BINARY_NOTE).as_bytes());
            }
            last = chunk.last().copied().or(last);
            write_out(&mut stdout, &chunk)?;
        }
        if last != Some(b'\n') {
            write_out(&mut stdout, b"\n")?;
        }
        return Ok(());
    }
    let mut body = first.to_vec();
    while let Some(chunk) = resp.chunk_blocking().map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > keel::DEFAULT_MAX_RESPONSE_SIZE as usize {
            // Too large to format: the rest as it arrives.
            write_out(&mut stdout, &body)?;
            write_out(&mut stdout, &chunk)?;
            stream_raw(&mut resp)?;
            return write_out(&mut stdout, b"\n");
        }
        body.extend_from_slice(&chunk);
    }
    write_out(
        &mut stdout,
        &terminal_body(&body, ct.as_deref(), out.pretty),
    )
}

/// A writer that advances a progress bar.
struct ProgressWriter<W> {
    inner: W,
    bar: indicatif::ProgressBar,
}

impl<W: Write> Write for ProgressWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The file name for `-d` without `-o`: Content-Disposition, else the
/// URL's last segment, else `index`; never overwriting (`name-1`, …).
fn download_name(resp: &keel::StreamingResponse) -> PathBuf {
    let from_header = resp.header("content-disposition").and_then(|cd| {
        let (_, rest) = cd.split_once("filename=")?;
        let name = rest.split(';').next()?.trim().trim_matches('"');
        Some(name.to_owned())
    });
    let from_url = resp
        .url()
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_owned));
    let base = from_header
        .or(from_url)
        .map(|n| n.replace(['/', '\\'], "_"))
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| "index".to_owned());
    let mut candidate = PathBuf::from(&base);
    let mut i = 1;
    while candidate.exists() && i < 10_000 {
        candidate = PathBuf::from(format!("{base}-{i}"));
        i += 1;
    }
    candidate
}

/// Streams the body to a file, in constant memory.
fn download(
    resp: keel::StreamingResponse,
    path: PathBuf,
    resume_from: u64,
    quiet: bool,
) -> Result<(), Failure> {
    let appending = resume_from > 0 && resp.status == keel::StatusCode::PARTIAL_CONTENT;
    if resume_from > 0 && !appending {
        eprintln!(
            "keel: the server ignored the range (status {}); downloading {} from the start",
            resp.status.as_u16(),
            path.display()
        );
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(appending)
        .truncate(!appending)
        .open(&path)
        .map_err(|e| Failure::io(format!("cannot write {}: {e}", path.display())))?;
    let total = resp
        .content_length()
        .map(|n| n + if appending { resume_from } else { 0 });
    let bar = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = match total {
            Some(t) => indicatif::ProgressBar::new(t),
            None => indicatif::ProgressBar::no_length(),
        };
        let style = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    };
    if appending {
        bar.set_position(resume_from);
    }
    let mut writer = ProgressWriter {
        inner: std::io::BufWriter::with_capacity(256 << 10, file),
        bar: bar.clone(),
    };
    let written = resp.copy_to(&mut writer).map_err(|e| {
        describe(&e).with_hint(&format!(
            "; {} has what arrived: resume with -c -o {}",
            path.display(),
            path.display()
        ))
    })?;
    bar.finish();
    if !quiet {
        eprintln!(
            "keel: saved {} bytes to {}{}",
            written,
            path.display(),
            if appending {
                format!(" (resumed at byte {resume_from})")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn status_exit(status: keel::StatusCode, check: bool) -> ExitCode {
    match (check, status.as_u16() / 100) {
        (true, 3) => ExitCode::from(3),
        (true, 4) => ExitCode::from(4),
        (true, 5) => ExitCode::from(5),
        _ => ExitCode::SUCCESS,
    }
}

fn execute<A: AuthState>(
    args: &RequestArgs,
    client: keel::Client<A>,
    plan: Plan,
    out: Output,
    extra_headers: &[(String, String)],
    validator: Validator,
) -> Result<ExitCode, Failure> {
    let inner = client
        .get_or_create_async_client()
        .map_err(|e| describe(&e))?
        .as_hyper()
        .cloned();
    let (recorder, recorded) = Recorder::new(if args.offline { None } else { inner });
    let version = recorder.version_slot();
    client
        .set_async_client(SharedTransport::new(recorder))
        .map_err(|e| describe(&e))?;
    let client = client.with_resilience(resilience(args)?);

    let headers = parse_headers(&args.headers).map_err(Failure::usage)?;
    let mut user_ct = headers
        .get(keel::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    for item in &plan.items {
        if let Item::Header(n, v) = item {
            if n.eq_ignore_ascii_case("content-type") {
                user_ct = Some(v.clone());
            }
        }
    }
    let body = body_source(args, &plan, user_ct.as_deref())?;
    let mut rb = client.request(plan.method.clone(), plan.url.as_str());
    let mut streamed = None;
    let json_body = matches!(&body, BodySource::Bytes(_, ct) if pretty::is_json_type(Some(ct)));
    rb = match body {
        BodySource::None => rb,
        BodySource::Bytes(b, ct) => rb.body(b, &ct),
        BodySource::File(p, ct) => {
            streamed = Some(p.clone());
            rb.body_file(p, &ct)
        }
        BodySource::Multipart(m) => rb.multipart(m),
        BodySource::Form(pairs) => rb.form(&pairs),
    };
    if json_body && !headers.contains_key(keel::http::header::ACCEPT) {
        rb = rb.header("Accept", "application/json, */*;q=0.5");
    }
    for (n, v) in extra_headers {
        if !headers.contains_key(n.as_str()) {
            rb = rb.header(n, v);
        }
    }
    for (name, value) in &headers {
        let value = value
            .to_str()
            .map_err(|_| Failure::usage(format!("header {name} is not visible ASCII")))?;
        rb = rb.header(name.as_str(), value);
    }
    for item in &plan.items {
        match item {
            Item::Header(n, v) => rb = rb.header(n, v),
            Item::Query(n, v) => rb = rb.query(n, v),
            _ => {}
        }
    }
    if let Some(key) = &args.idempotency_key {
        rb = rb.idempotency_key(key);
    }
    // -c: resume after the bytes already there.
    let mut resume_from = 0;
    if args.resume {
        let Some(path) = &args.output else {
            return Err(Failure::usage(
                "-c/--continue needs -o FILE (the partial download)",
            ));
        };
        resume_from = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if resume_from > 0 {
            rb = rb.header("Range", format!("bytes={resume_from}-"));
        }
    }

    let result = rb.send_streaming_blocking();
    let take_recorded = || recorded.lock().ok().and_then(|mut r| r.take());
    if args.offline {
        let rec = take_recorded();
        result.map_err(|e| describe(&e))?;
        if let Some(rec) = rec {
            print_request(&out, &rec, streamed.as_deref())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if out.print.req_head || out.print.req_body {
        if let Some(rec) = take_recorded() {
            print_request(&out, &rec, streamed.as_deref())?;
        }
    }
    let mut resp =
        result.map_err(|e| crate::errors::describe_via_proxy(&e, args.proxy.as_deref()))?;
    let version = version
        .lock()
        .ok()
        .and_then(|v| *v)
        .map(|v| match v {
            keel::http::Version::HTTP_09 => "HTTP/0.9",
            keel::http::Version::HTTP_10 => "HTTP/1.0",
            keel::http::Version::HTTP_2 => "HTTP/2.0",
            keel::http::Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        })
        .unwrap_or("HTTP/1.1");
    let downloading = args.download || args.output.is_some();
    if downloading {
        if out.print.resp_head && !args.quiet {
            let head = response_head(&resp, version, &out);
            // In a download the body goes to the file; the head to stderr.
            write_out(&mut std::io::stderr().lock(), &head)?;
        }
        if args.resume && resp.status == keel::StatusCode::RANGE_NOT_SATISFIABLE {
            if !args.quiet {
                eprintln!("keel: the download is already complete");
            }
            return Ok(ExitCode::SUCCESS);
        }
        if !resp.status.is_success() {
            eprintln!(
                "keel: {} {}: nothing saved (a download needs a 2xx response)",
                resp.status.as_u16(),
                resp.status.canonical_reason().unwrap_or("")
            );
            return Ok(match status_exit(resp.status, true) {
                c if c == ExitCode::SUCCESS => ExitCode::FAILURE,
                c => c,
            });
        }
        let path = match &args.output {
            Some(p) => p.clone(),
            None => download_name(&resp),
        };
        download(resp, path, resume_from, args.quiet)?;
        return Ok(ExitCode::SUCCESS);
    }
    let status = resp.status;
    let resp_content_type = resp.header("content-type").map(str::to_owned);
    let mut stdout = std::io::stdout().lock();
    if out.print.resp_head {
        write_out(&mut stdout, &response_head(&resp, version, &out))?;
    }
    drop(stdout);
    let is_head = plan.method == Method::HEAD;
    if let Some(check) = validator.check {
        // Checked against the document: read the body (capped), print it,
        // then say what does not match.
        let body = if is_head {
            keel::Bytes::new()
        } else {
            resp.bytes_blocking().map_err(|e| describe(&e))?
        };
        if out.print.resp_body && !body.is_empty() {
            let ct = resp_content_type.as_deref();
            let shown = if out.display {
                terminal_body(&body, ct, out.pretty)
            } else {
                body.to_vec()
            };
            write_out(&mut std::io::stdout().lock(), &shown)?;
        }
        let problems = check(status.as_u16(), &body);
        if !problems.is_empty() {
            eprintln!("keel: the response does not match the document:");
            for p in &problems {
                eprintln!("  {p}");
            }
        }
        return Ok(status_exit(status, args.check_status));
    }
    if out.print.resp_body && !is_head {
        let events = resp
            .header("content-type")
            .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
        if out.display && out.pretty != Pretty::NONE {
            terminal_response(resp, &out, args.stream || events)?;
        } else if out.display {
            // --pretty=none on a terminal: as is, but never raw binary.
            let plain = Output {
                pretty: Pretty::NONE,
                ..out
            };
            terminal_response(resp, &plain, true)?;
        } else {
            stream_raw(&mut resp)?;
        }
    }
    let code = status_exit(status, args.check_status);
    if code != ExitCode::SUCCESS && !args.quiet {
        eprintln!(
            "keel: {} {} (--check-status)",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
    }
    Ok(code)
}

/// A profile's base URL and default headers.
type ProfileDefaults = (Option<String>, Vec<(String, String)>);

/// Applies `--profile` (or KEEL_PROFILE): credentials from the variables it
/// names (flags and KEEL_* variables win), its scheme and headers.
fn apply_profile(args: &mut RequestArgs) -> Result<ProfileDefaults, Failure> {
    let Some(name) = args.profile.clone() else {
        return Ok((None, Vec::new()));
    };
    let p = crate::profile::resolve(&name)?;
    let s = &mut args.scheme;
    if let (Some(scheme), "default") = (&p.scheme, s.scheme.as_str()) {
        s.scheme = scheme.clone();
    }
    if s.api_key.is_none() {
        if let Some(var) = &p.api_key_env {
            s.api_key = Some(crate::profile::env_value(&name, "api_key_env", var)?);
        }
    }
    if s.api_secret.is_none() {
        if let Some(var) = &p.api_secret_env {
            s.api_secret = Some(crate::profile::env_value(&name, "api_secret_env", var)?);
        }
    }
    if s.passphrase.is_none() {
        if let Some(var) = &p.passphrase_env {
            s.passphrase = Some(crate::profile::env_value(&name, "passphrase_env", var)?);
        }
    }
    if s.private_key.is_none() {
        s.private_key = p.private_key_file.clone();
    }
    if let Some(h) = &p.auth_header_name {
        if s.auth_header_name == keel::DEFAULT_AUTH_HEADER_NAME {
            s.auth_header_name = h.clone();
        }
    }
    Ok((p.base_url, p.headers.into_iter().collect()))
}

fn output_settings(args: &RequestArgs) -> Result<Output, Failure> {
    let tty = std::io::stdout().is_terminal();
    let print = if let Some(p) = &args.print {
        PrintSet::parse(p)?
    } else if args.verbose {
        PrintSet::parse("HBhb")?
    } else if args.offline {
        PrintSet::parse("HB")?
    } else if args.headers_only {
        PrintSet::parse("h")?
    } else if args.body_only {
        PrintSet::parse("b")?
    } else if args.quiet {
        PrintSet::default()
    } else if tty || args.download || args.output.is_some() {
        PrintSet::parse("hb")?
    } else {
        PrintSet::parse("b")?
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let pretty = match args.pretty.as_deref() {
        Some("all") => Pretty {
            format: true,
            colors: true,
        },
        Some("colors") => Pretty {
            format: false,
            colors: true,
        },
        Some("format") => Pretty {
            format: true,
            colors: false,
        },
        Some(_) => Pretty::NONE,
        None if tty => Pretty {
            format: true,
            colors: !no_color,
        },
        None => Pretty::NONE,
    };
    let display = tty || pretty != Pretty::NONE;
    Ok(Output {
        print,
        pretty,
        display,
        secrets: secrets(&args.scheme),
    })
}

fn origin(url: &Url) -> String {
    let mut o = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(p) = url.port() {
        o.push_str(&format!(":{p}"));
    }
    o
}

/// Sends the request the arguments describe, checking the response with
/// `validator` (for `keel call`).
pub fn send_checked(mut args: RequestArgs, validator: Validator) -> Result<ExitCode, Failure> {
    let (base, profile_headers) = apply_profile(&mut args)?;
    args.scheme.warn_about_command_line_secrets();
    let plan = plan(&args, base.as_deref())?;
    let out = output_settings(&args)?;
    let base = origin(&plan.url);
    match args.scheme.client_builder(&base)? {
        Some(b) => {
            let client = configure(&args, b)?.build().map_err(|e| describe(&e))?;
            execute(&args, client, plan, out, &profile_headers, validator)
        }
        None => {
            let client = configure(&args, keel::HttpClient::builder(&base))?
                .build()
                .map_err(|e| describe(&e))?;
            execute(&args, client, plan, out, &profile_headers, validator)
        }
    }
}

/// Runs `keel request`.
pub fn run(args: RequestArgs) -> ExitCode {
    match send_checked(args, Validator::default()) {
        Ok(code) => code,
        Err(Failure { message, code }) => {
            eprintln!("keel request: {}", message.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}
