//! The one error type of Keel.
//!
//! Every fallible Keel call returns [`Error`]. Its variants are the cases a
//! caller can act on; each message says what happened and, where it helps,
//! what to do about it. No variant ever carries a secret: URLs are shown
//! without their query string, and header values are never included.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

/// `Result<T, keel::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when configuring a client or sending a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder was given something it cannot use (a bad URL, header name,
    /// secret, CA bundle …). Raised when the client is built, not at the first
    /// request.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A request could not be built (bad header value, body that fails to
    /// serialize, missing path parameter …).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The connection to the server could not be made (nothing of the
    /// request was sent).
    #[error("could not connect to {url}: {message}")]
    Connect {
        /// The URL, without its query string.
        url: String,
        /// What failed: name resolution, TLS, a timeout …
        kind: ConnectErrorKind,
        /// What the transport said, in one line.
        message: String,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },

    /// The request took longer than its timeout (or the remaining deadline).
    #[error("request to {url} timed out after {after:?}; raise the timeout with `with_timeout` or `RequestBuilder::timeout` if the server is just slow")]
    Timeout {
        /// The URL, without its query string.
        url: String,
        /// The timeout that was exceeded.
        after: Duration,
    },

    /// The connection failed after it was made: reset, closed before a
    /// complete response, protocol error.
    #[error("transport error talking to {url}: {message}")]
    Transport {
        /// The URL, without its query string.
        url: String,
        /// What the transport said, in one line.
        message: String,
        /// Whether any byte of the request may have reached the server.
        /// When true, a non-idempotent request is never re-sent.
        maybe_sent: bool,
        /// The transport's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// A streamed response body sent nothing for longer than the read
    /// timeout.
    #[error("the body from {url} stalled: no data for {after:?}; raise `read_timeout` if the server is just slow")]
    ReadTimeout {
        /// The URL, without its query string.
        url: String,
        /// The read timeout that passed.
        after: Duration,
    },

    /// A response body was larger than the limit for reading it into
    /// memory.
    #[error("the response body from {url} is larger than the {limit}-byte limit for buffered reads; raise `max_response_size`, or stream it with `send_streaming()`")]
    BodyTooLarge {
        /// The URL, without its query string.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// Redirects are followed and the server sent more of them in a row than
    /// the client allows (`max_redirects`). Never retried: the chain would be
    /// the same again.
    #[error("stopped at {url} after more than {max} redirects; raise `max_redirects` if the chain is expected, or look for a redirect loop")]
    TooManyRedirects {
        /// The URL that answered with one redirect too many, without its
        /// query string.
        url: String,
        /// The configured limit.
        max: usize,
    },

    /// The server answered with a status the request did not document, and
    /// the client was built with `raise_on_unexpected_status(true)`.
    #[error("unexpected status {status} from {url}: {body_excerpt}")]
    UnexpectedStatus {
        /// The status the server sent.
        status: StatusCode,
        /// The URL, without its query string.
        url: String,
        /// The start of the response body (at most 512 bytes, lossy UTF-8).
        body_excerpt: String,
    },

    /// The response body could not be decoded into the expected type.
    #[error("could not decode the {status} response body: {message}")]
    Decode {
        /// The status of the response whose body failed to decode.
        status: StatusCode,
        /// What the decoder said.
        message: String,
    },

    /// The circuit breaker for this origin is open: the call was not sent.
    #[error(
        "circuit breaker open for {origin}: not sending; it lets a probe through in {retry_in:?}"
    )]
    CircuitOpen {
        /// The origin (scheme://host:port) whose breaker is open.
        origin: String,
        /// How long until the breaker lets a probe through.
        retry_in: Duration,
    },

    /// The client-side rate limiter has no permit and the policy says fail
    /// rather than wait.
    #[error("client-side rate limit reached; a permit is available in {retry_in:?}")]
    RateLimited {
        /// How long until a permit is available.
        retry_in: Duration,
    },

    /// The shared resilience store (Redis) could not answer, and its
    /// policy is to fail closed: the call was not sent.
    #[error("the shared resilience store could not answer ({source}); the request was not sent. Bring the store back, or let it fail open (`OnUnavailable::FailOpen`)")]
    StoreUnavailable {
        /// What the store said.
        #[source]
        source: crate::resilience::StoreError,
    },

    /// Every allowed attempt failed.
    #[error("gave up after {attempts} attempt(s); last error: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<Error>,
    },

    /// The total deadline of the call passed (or a wait would have passed it).
    #[error("deadline of {deadline:?} exceeded after {attempts} attempt(s){}", last.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    DeadlineExceeded {
        /// The configured deadline.
        deadline: Duration,
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt, if any attempt was made.
        last: Option<Box<Error>>,
    },

    /// The request had a streaming body that was already consumed by an
    /// earlier attempt, so it could not be retried.
    #[error("the request body is a stream that was consumed by attempt {attempts}; it cannot be re-sent. Use a byte body (Bytes/JSON/form/multipart) to make the request retryable")]
    BodyNotReplayable {
        /// How many attempts were made.
        attempts: u32,
    },

    /// The client was closed (its scope ended, or `close()` was called).
    #[error("the client is closed; build a new client (derived clients share the closed pool)")]
    Closed,

    /// `enter()` was called on a client whose scope is already entered.
    #[error("the client's scope is already entered; a client can be entered once (use the scope you have, or a new client)")]
    AlreadyEntered,

    /// A blocking call was made from inside an async runtime, where it would
    /// block a runtime thread (reqwest would panic). Any thread that has
    /// entered a tokio runtime counts, `spawn_blocking`'s threads included:
    /// tokio offers no way to tell them apart from its workers.
    #[error("blocking call made from inside an async runtime; use `.send().await` there, or make the blocking call from a thread the runtime does not own (e.g. `std::thread::spawn`)")]
    BlockingInAsync,

    /// Reading a file or writing a body out failed.
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),

    /// A request could not be signed, or a signature could not be verified.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl Error {
    /// The HTTP status attached to this error, if any.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::UnexpectedStatus { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::RetriesExhausted { last, .. } => last.status(),
            Error::DeadlineExceeded { last, .. } => last.as_ref().and_then(|e| e.status()),
            _ => None,
        }
    }

    /// True for a timeout, whether of one attempt or of the whole deadline.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::DeadlineExceeded { .. } => true,
            Error::RetriesExhausted { last, .. } => last.is_timeout(),
            _ => false,
        }
    }

    /// True for a timeout while reading a streamed body.
    pub fn is_read_timeout(&self) -> bool {
        matches!(self, Error::ReadTimeout { .. })
    }

    /// True when the connection could not be made.
    pub fn is_connect(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::RetriesExhausted { last, .. } => last.is_connect(),
            _ => false,
        }
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Error::InvalidConfig(msg.into())
    }

    pub(crate) fn request(msg: impl Into<String>) -> Self {
        Error::InvalidRequest(msg.into())
    }
}

/// The error type of a transport's failure (any error, boxed).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What failed when a connection could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// The host name did not resolve. Not retried: the name will not
    /// resolve a moment later either.
    Dns,
    /// The TLS handshake failed (an untrusted or invalid certificate, no
    /// common protocol). Not retried.
    Tls,
    /// Connecting took longer than the connect timeout.
    Timeout,
    /// The proxy refused or failed the tunnel.
    Proxy,
    /// Refused, unreachable, reset during the handshake …
    Other,
}

impl ConnectErrorKind {
    /// Whether trying again may succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, ConnectErrorKind::Dns | ConnectErrorKind::Tls)
    }
}

/// The error of a generated operation: a documented error status with its
/// parsed body, a status the document did not describe, or a Keel error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError<E> {
    /// The server answered with a documented error status; `parsed` is its
    /// body decoded into the documented type.
    #[error("the API answered {status}")]
    Status {
        /// The status the server sent.
        status: StatusCode,
        /// The response headers.
        headers: HeaderMap,
        /// The raw response body.
        content: Bytes,
        /// The body, parsed into the type the document gives for this status.
        parsed: E,
    },
    /// The server answered with a status the document does not describe
    /// (only when the client does not raise on unexpected statuses), or a
    /// success status without a documented body.
    #[error("the API answered {status}, which the API document does not describe")]
    UnexpectedStatus {
        /// The status the server sent.
        status: StatusCode,
        /// The raw response body.
        content: Bytes,
    },
    /// Configuration, transport, decoding or resilience failure.
    #[error(transparent)]
    Client(#[from] Error),
}

impl Error {
    /// [`Error::UnexpectedStatus`] for a response from `url` (shown without
    /// its query).
    pub(crate) fn unexpected_status(status: StatusCode, url: &url::Url, body: &[u8]) -> Error {
        Error::UnexpectedStatus {
            status,
            url: display_url(url),
            body_excerpt: body_excerpt(body),
        }
    }

    /// [`Error::Timeout`] for an attempt to `url`.
    pub(crate) fn timeout(url: &url::Url, after: Duration) -> Error {
        Error::Timeout {
            url: display_url(url),
            after,
        }
    }

    /// [`Error::ReadTimeout`] for a body from `url`.
    pub(crate) fn read_timeout(url: &url::Url, after: Duration) -> Error {
        Error::ReadTimeout {
            url: display_url(url),
            after,
        }
    }

    /// [`Error::BodyTooLarge`] for a body from `url`.
    pub(crate) fn body_too_large(url: &url::Url, limit: u64) -> Error {
        Error::BodyTooLarge {
            url: display_url(url),
            limit,
        }
    }

    /// [`Error::Transport`] for a failure talking to `url`.
    pub(crate) fn transport(
        url: &url::Url,
        message: impl Into<String>,
        maybe_sent: bool,
        source: Option<BoxError>,
    ) -> Error {
        Error::Transport {
            url: display_url(url),
            message: message.into(),
            maybe_sent,
            source,
        }
    }
}

/// The first answer `f` gives for `e` or one of its causes, at most 16
/// deep, looking inside `io::Error`s too (which hide their payload from
/// `source()`, and may wrap another `io::Error`).
pub(crate) fn chain_find<T>(
    e: &(dyn std::error::Error + 'static),
    mut f: impl FnMut(&(dyn std::error::Error + 'static)) -> Option<T>,
) -> Option<T> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    for _ in 0..16 {
        let err = cur?;
        if let Some(t) = f(err) {
            return Some(t);
        }
        let mut io = err.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(std::io::Error::get_ref) {
            if let Some(t) = f(inner) {
                return Some(t);
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        cur = err.source();
    }
    None
}

/// One readable line from an error and its causes: each cause once, and
/// without the transport's generic wrappers.
pub(crate) fn error_chain_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let generic = text.starts_with("client error (")
            || text.is_empty()
            || parts.last().is_some_and(|p| p.contains(&text));
        if !generic {
            parts.push(text);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        parts.push("unknown transport error".to_owned());
    }
    parts.join(": ")
}

/// A URL as it may be shown in messages: scheme, authority and path, never
/// the query string (which may hold keys or signatures) or userinfo.
pub(crate) fn display_url(url: &url::Url) -> String {
    let mut s = String::with_capacity(64);
    s.push_str(url.scheme());
    s.push_str("://");
    if let Some(host) = url.host_str() {
        s.push_str(host);
    }
    if let Some(port) = url.port() {
        s.push(':');
        s.push_str(&port.to_string());
    }
    s.push_str(url.path());
    if url.query().is_some() {
        s.push_str("?…");
    }
    s
}

/// Lossy UTF-8 excerpt of a body for error messages.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    const MAX: usize = 512;
    let cut = body.len().min(MAX);
    let mut s = String::from_utf8_lossy(&body[..cut]).into_owned();
    if body.len() > MAX {
        s.push('…');
    }
    if s.is_empty() {
        s.push_str("(empty body)");
    }
    s
}
