//! The transport: what performs one HTTP exchange for Keel's pipeline.
//!
//! Everything above the transport — URL joining, headers and cookies,
//! signing, retries, redirects, timeouts, the documented-status check — is
//! Keel's pipeline and is the same whatever the transport. The transport only
//! turns an [`http::Request`] into an [`http::Response`] whose body streams.
//!
//! - [`HyperTransport`] is the default: hyper 1 with hyper-util's pooled
//!   client, rustls (ring) with ALPN for HTTP/2, proxies, client
//!   certificates and (features `gzip`, `brotli`, `zstd`) response
//!   decompression. Its settings come from the client builder; the escape
//!   hatch [`ClientBuilder::configure_transport`](crate::ClientBuilder::configure_transport)
//!   reaches hyper-util's pool builder, the TCP connector and the rustls
//!   configuration.
//! - `ReqwestTransport` (feature `reqwest`) runs the exchange on a
//!   `reqwest::Client` you already have.
//! - Anything else implements [`Transport`].
//!
//! A client family (a client, its clones and derived clients) has one
//! transport, shared by async callers and blocking callers (which run the
//! same pipeline on a runtime thread Keel owns): one connection pool.
//!
//! ```
//! use keel::transport::{Body, ResponseBody, Transport, TransportError, TransportFuture};
//!
//! /// A transport that answers every request with 204 and sends nothing.
//! struct NoContent;
//!
//! impl Transport for NoContent {
//!     fn send(&self, _request: http::Request<Body>) -> TransportFuture {
//!         Box::pin(async {
//!             let mut resp = http::Response::new(ResponseBody::new(http_body_util::Empty::new()));
//!             *resp.status_mut() = http::StatusCode::NO_CONTENT;
//!             Ok::<_, TransportError>(resp)
//!         })
//!     }
//! }
//!
//! # fn main() -> keel::Result<()> {
//! let client = keel::HttpClient::builder("http://api.test")
//!     .transport(keel::transport::SharedTransport::new(NoContent))
//!     .build()?;
//! let resp = client.get("/anything").send_blocking()?;
//! assert_eq!(resp.status, 204);
//! # Ok(()) }
//! ```

mod body;
mod hyper;
#[cfg(feature = "reqwest")]
mod reqwest;
pub(crate) mod runtime;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use self::body::{Body, BoxError, ResponseBody};
pub use self::hyper::{HttpVersion, HyperTransport, TransportSettings};
#[cfg(feature = "reqwest")]
pub use self::reqwest::ReqwestTransport;

pub(crate) use self::hyper::{ConnectTimedOut, Identity, ProxyConfig, ProxyRules, TransportConfig};

/// The future a [`Transport`] returns.
pub type TransportFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, TransportError>> + Send>>;

/// Performs one HTTP exchange: sends the request and returns the response
/// as soon as its head has arrived (the body streams).
///
/// The request's URI is absolute (`https://host/path?query`). Keel has
/// already set every header (signature included) and follows redirects
/// itself, so a transport must not follow redirects, retry, or add
/// credentials. It may add transport-level headers (`Host`,
/// `Accept-Encoding`).
pub trait Transport: Send + Sync + 'static {
    /// Sends `request`.
    fn send(&self, request: http::Request<Body>) -> TransportFuture;
}

/// Why an exchange failed, as a transport reports it.
pub struct TransportError {
    connect: bool,
    source: BoxError,
}

impl TransportError {
    /// The connection could not be made: nothing of the request was sent
    /// (so even a POST may be retried).
    pub fn connect(source: impl Into<BoxError>) -> Self {
        TransportError {
            connect: true,
            source: source.into(),
        }
    }

    /// The exchange failed after the connection was made: the request may
    /// have reached the server.
    pub fn other(source: impl Into<BoxError>) -> Self {
        TransportError {
            connect: false,
            source: source.into(),
        }
    }

    /// The server closed a connection that had already served a response
    /// before any byte of this request's response arrived: the usual sign
    /// of a kept-alive connection the server timed out as the request went
    /// out (RFC 9112, section 9.3.1). Keel sends an idempotent request with
    /// a replayable body once more, on another connection, without counting
    /// an attempt; any other request fails with this error.
    pub fn stale_connection(source: impl Into<BoxError>) -> Self {
        TransportError {
            connect: false,
            source: Box::new(StaleConnection {
                source: source.into(),
            }),
        }
    }

    /// Whether nothing of the request was sent.
    pub fn is_connect(&self) -> bool {
        self.connect
    }

    /// The underlying error.
    pub fn into_source(self) -> BoxError {
        self.source
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("connect", &self.connect)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.connect {
            f.write_str("connect error: ")?;
        }
        fmt::Display::fmt(&self.source, f)
    }
}

/// The marker a stale kept-alive connection's failure carries in its chain
/// of causes (see [`TransportError::stale_connection`]).
#[derive(Debug)]
pub(crate) struct StaleConnection {
    pub(crate) source: BoxError,
}

impl fmt::Display for StaleConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server closed a kept-alive connection before it answered")
    }
}

impl std::error::Error for StaleConnection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Whether `e`, or one of its causes, is a [`StaleConnection`].
pub(crate) fn is_stale_connection(e: &(dyn std::error::Error + 'static)) -> bool {
    crate::error::chain_find(e, |err| err.is::<StaleConnection>().then_some(())).is_some()
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The transport of a client family: Keel's [`HyperTransport`], or any
/// [`Transport`]. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct SharedTransport {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Hyper(HyperTransport),
    Dyn(Arc<dyn Transport>),
}

impl fmt::Debug for SharedTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Hyper(h) => f.debug_tuple("SharedTransport").field(h).finish(),
            Repr::Dyn(_) => f.write_str("SharedTransport(custom)"),
        }
    }
}

impl SharedTransport {
    /// Wraps any transport.
    pub fn new(transport: impl Transport) -> Self {
        SharedTransport {
            repr: Repr::Dyn(Arc::new(transport)),
        }
    }

    /// The hyper transport inside, when it is one.
    pub fn as_hyper(&self) -> Option<&HyperTransport> {
        match &self.repr {
            Repr::Hyper(h) => Some(h),
            Repr::Dyn(_) => None,
        }
    }

    /// Whether `self` and `other` are the same transport (one pool).
    pub fn same_as(&self, other: &SharedTransport) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Hyper(a), Repr::Hyper(b)) => a.same_as(b),
            (Repr::Dyn(a), Repr::Dyn(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Sends one request. Keel's own transport is called without boxing
    /// its future.
    pub(crate) fn send(&self, request: http::Request<Body>) -> SendFuture {
        match &self.repr {
            Repr::Hyper(h) => SendFuture::Hyper {
                call: h.send_inline(request),
            },
            Repr::Dyn(t) => SendFuture::Dyn {
                call: t.send(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// One exchange on a [`SharedTransport`], up to the response head.
    #[project = SendProj]
    pub(crate) enum SendFuture {
        Hyper { #[pin] call: hyper::HyperCall },
        Dyn { call: TransportFuture },
    }
}

impl Future for SendFuture {
    type Output = Result<http::Response<ResponseBody>, TransportError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            SendProj::Hyper { call } => call.poll(cx),
            SendProj::Dyn { call } => call.as_mut().poll(cx),
        }
    }
}

impl From<HyperTransport> for SharedTransport {
    fn from(h: HyperTransport) -> Self {
        SharedTransport {
            repr: Repr::Hyper(h),
        }
    }
}

impl<T: Transport> From<Arc<T>> for SharedTransport {
    fn from(t: Arc<T>) -> Self {
        SharedTransport { repr: Repr::Dyn(t) }
    }
}

#[cfg(feature = "reqwest")]
impl From<::reqwest::Client> for SharedTransport {
    fn from(c: ::reqwest::Client) -> Self {
        SharedTransport::new(ReqwestTransport::new(c))
    }
}
