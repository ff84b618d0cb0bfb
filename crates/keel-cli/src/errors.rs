//! Errors as the CLI reports them: one line that names the flag which
//! would change the outcome, and an exit code (see `keel request --help`).

use keel::{ConnectErrorKind, Error};

/// Why a command failed, and its exit code.
#[derive(Debug)]
pub struct Failure {
    /// One line for stderr.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

impl Failure {
    /// A bad argument or item (exit 1).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    /// A local I/O failure (exit 1).
    pub fn io(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    /// The same failure with `hint` appended.
    pub fn with_hint(mut self, hint: &str) -> Self {
        self.message.push_str(hint);
        self
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::usage(message)
    }
}

/// Library advice that names library methods, and what to say instead.
const FLAG_FOR: [(&str, &str); 12] = [
    (
        "raise the timeout with `with_timeout` or `RequestBuilder::timeout` if the server is just slow",
        "raise --timeout SECONDS if the server is just slow to answer (0: no limit)",
    ),
    (
        "raise `read_timeout` if the server is just slow",
        "raise --read-timeout SECONDS if the server is just slow (0: no limit)",
    ),
    (
        "raise `connect_timeout` if the server is just slow to accept",
        "raise --connect-timeout SECONDS if the server is just slow to accept",
    ),
    (
        "trust it with `ca_pem` or `ca_file` (or, for tests only, `verify_ssl(false)`)",
        "trust it with --cacert FILE (or, for tests only, -k / --verify=no)",
    ),
    (
        "raise `max_redirects` if the chain is expected",
        "raise --max-redirects N if the chain is expected",
    ),
    (
        "raise `max_response_size`, or stream it with `send_streaming()`",
        "save it with -o FILE (streamed to disk) or pipe it to a file",
    ),
    (
        "Use a byte body (Bytes/JSON/form/multipart) to make the request retryable",
        "a body file over 8 MiB is streamed and sent once: use --retries 0",
    ),
    ("`verify_ssl(false)`", "-k / --verify=no"),
    ("`max_redirects`", "--max-redirects"),
    ("`read_timeout`", "--read-timeout"),
    ("`connect_timeout`", "--connect-timeout"),
    ("`client_certificate_pem`", "--cert/--cert-key"),
];

/// `text` (library advice) with the CLI flags in place of library methods,
/// on one line.
pub(crate) fn flags_not_methods(text: &str) -> String {
    let mut s = text.to_owned();
    for (from, to) in FLAG_FOR {
        s = s.replace(from, to);
    }
    s.replace('\n', " ")
}

/// The exit code for an error: 2 for timeouts, 6 for too many redirects,
/// else 1.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Timeout { .. } | Error::ReadTimeout { .. } | Error::DeadlineExceeded { .. } => 2,
        Error::Connect {
            kind: ConnectErrorKind::Timeout,
            ..
        } => 2,
        Error::TooManyRedirects { .. } => 6,
        Error::RetriesExhausted { last, .. } => exit_code(last),
        _ => 1,
    }
}

/// The hint for a connection that could not be made.
const NOT_RUNNING: &str = "; is the server running at that address?";

/// Like [`describe`], for the error of a request sent through `--proxy`:
/// the only connection made is then the proxy's, so a refused or
/// unreachable one is reported as the proxy's (without its URL, which may
/// hold credentials).
pub fn describe_via_proxy(e: &Error, proxy: Option<&str>) -> Failure {
    let mut f = describe(e);
    let last = match e {
        Error::RetriesExhausted { last, .. } => &**last,
        e => e,
    };
    if proxy.is_some()
        && matches!(
            last,
            Error::Connect {
                kind: ConnectErrorKind::Other,
                ..
            }
        )
    {
        f.message = f.message.replace(
            NOT_RUNNING,
            "; the connection to the proxy failed: is the --proxy URL right and the proxy running?",
        );
    }
    f
}

/// The CLI's one-line report of a library error.
pub fn describe(e: &Error) -> Failure {
    let code = exit_code(e);
    let message = match e {
        Error::Connect {
            kind: ConnectErrorKind::Dns,
            ..
        } => format!(
            "{}; check the host name (DNS failures are not retried)",
            flags_not_methods(&e.to_string())
        ),
        Error::Connect {
            kind: ConnectErrorKind::Proxy,
            ..
        } => format!(
            "{}; check --proxy URL (or HTTP(S)_PROXY / NO_PROXY in the environment)",
            flags_not_methods(&e.to_string())
        ),
        Error::Connect {
            kind: ConnectErrorKind::Tls,
            message,
            ..
        } if !flags_not_methods(message).contains("--cacert") => format!(
            "{}; --cacert FILE trusts a private CA, --cert/--cert-key send a client certificate, -k skips verification (tests only)",
            flags_not_methods(&e.to_string())
        ),
        Error::Connect {
            kind: ConnectErrorKind::Other,
            ..
        } => format!("{}{NOT_RUNNING}", flags_not_methods(&e.to_string())),
        Error::RetriesExhausted { attempts, last } => format!(
            "{} (gave up after {attempts} attempts; --retries N sets how many retries, 0 for none)",
            describe(last).message
        ),
        Error::DeadlineExceeded { .. } => format!(
            "{}; raise --deadline SECONDS",
            flags_not_methods(&e.to_string())
        ),
        other => flags_not_methods(&other.to_string()),
    };
    Failure { message, code }
}
