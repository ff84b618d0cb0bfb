//! Keel's default transport: hyper 1, hyper-util's pooled client,
//! rustls (ring) with ALPN, proxies, client certificates, decompression.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tower_service::Service;

use super::{Body, BoxError, ResponseBody, TransportError};
use crate::error::{Error, Result};

/// Which HTTP versions the transport speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1, or HTTP/2 when the server offers it in the TLS handshake
    /// (ALPN). Plain `http://` uses HTTP/1.1. The default.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only: negotiated by ALPN over TLS, with prior knowledge over
    /// plain `http://`.
    Http2,
}

/// A client certificate and its private key, for mutual TLS.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: Arc<PrivateKeyDer<'static>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// How the transport finds a proxy.
#[derive(Clone, Default)]
pub(crate) enum ProxyConfig {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (as curl reads
    /// them), read when the transport is created.
    #[default]
    Env,
    /// No proxy at all.
    Off,
    /// These rules.
    Explicit(ProxyRules),
}

/// Explicit proxy rules, as given to the client builder (proxy URLs and a
/// `NO_PROXY`-style exception list).
#[derive(Clone, Default)]
pub(crate) struct ProxyRules {
    pub(crate) all: Option<String>,
    pub(crate) http: Option<String>,
    pub(crate) https: Option<String>,
    pub(crate) no: Option<String>,
}

impl ProxyRules {
    fn matcher(&self) -> Matcher {
        let mut b = Matcher::builder();
        if let Some(v) = &self.all {
            b = b.all(v);
        }
        if let Some(v) = &self.http {
            b = b.http(v);
        }
        if let Some(v) = &self.https {
            b = b.https(v);
        }
        if let Some(v) = &self.no {
            b = b.no(v);
        }
        b.build()
    }
}

type Customizer = Arc<dyn Fn(&mut TransportSettings) + Send + Sync>;

/// What the client builder says about the transport: shared by a client
/// family, used when the transport is created (on first use).
#[derive(Clone)]
pub(crate) struct TransportConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) verify_tls: bool,
    pub(crate) ca_certs: Vec<CertificateDer<'static>>,
    pub(crate) identity: Option<Identity>,
    pub(crate) proxy: ProxyConfig,
    pub(crate) http_version: HttpVersion,
    pub(crate) decompress: bool,
    pub(crate) customize: Option<Customizer>,
}

impl TransportConfig {
    pub(crate) fn new(connect_timeout: Duration) -> Self {
        TransportConfig {
            connect_timeout,
            verify_tls: true,
            ca_certs: Vec::new(),
            identity: None,
            proxy: ProxyConfig::Env,
            http_version: HttpVersion::Auto,
            decompress: true,
            customize: None,
        }
    }

    pub(crate) fn set_customizer(
        &mut self,
        f: impl Fn(&mut TransportSettings) + Send + Sync + 'static,
    ) {
        self.customize = Some(Arc::new(f));
    }

    /// Creates the transport: settings from this configuration, then the
    /// user's customizer, then the pooled client.
    pub(crate) fn create(&self) -> Result<HyperTransport> {
        let mut settings = TransportSettings::from_config(self)?;
        if let Some(f) = &self.customize {
            f(&mut settings);
        }
        Ok(HyperTransport::from_settings(settings))
    }
}

/// The settings [`HyperTransport`] is created from, for the escape hatch
/// ([`ClientBuilder::configure_transport`](crate::ClientBuilder::configure_transport)):
/// Keel fills them from the client builder first (connect timeout, TLS
/// verification, CA certificates, client certificate, proxy, HTTP version),
/// then the closure may change anything.
///
/// ```no_run
/// use std::time::Duration;
/// # fn main() -> keel::Result<()> {
/// let client = keel::HttpClient::builder("https://api.example.com")
///     .configure_transport(|t| {
///         t.pool()
///             .pool_idle_timeout(Duration::from_secs(30))
///             .pool_max_idle_per_host(8)
///             .http2_keep_alive_interval(Duration::from_secs(20));
///         t.connector().set_keepalive(Some(Duration::from_secs(60)));
///         t.tls().enable_early_data = false;
///     })
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
pub struct TransportSettings {
    pool: hyper_util::client::legacy::Builder,
    connector: HttpConnector,
    tls: rustls::ClientConfig,
    proxy: Option<Matcher>,
    connect_timeout: Option<Duration>,
    http_version: HttpVersion,
    decompress: bool,
    resolve: Vec<(String, std::net::SocketAddr)>,
}

impl fmt::Debug for TransportSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportSettings")
            .field("proxy", &self.proxy)
            .field("connect_timeout", &self.connect_timeout)
            .field("http_version", &self.http_version)
            .field("decompress", &self.decompress)
            .finish_non_exhaustive()
    }
}

impl TransportSettings {
    /// Keel's defaults: TLS verified against the Mozilla roots (webpki),
    /// `HTTP(S)_PROXY`/`NO_PROXY` from the environment, 10 s connect
    /// timeout, TCP_NODELAY, HTTP/2 by ALPN, decompression on.
    pub fn new() -> Result<Self> {
        Self::from_config(&TransportConfig::new(crate::DEFAULT_CONNECT_TIMEOUT))
    }

    /// Builds the settings (and so the TLS configuration) once to find
    /// configuration errors at build time.
    pub(crate) fn check(config: &TransportConfig) -> Result<()> {
        Self::from_config(config).map(drop)
    }

    fn from_config(config: &TransportConfig) -> Result<Self> {
        let mut connector = HttpConnector::new();
        // The scheme is checked by the TLS layer above this connector.
        connector.enforce_http(false);
        connector.set_nodelay(true);
        let mut pool = PooledClient::builder(super::runtime::Executor);
        pool.pool_timer(TokioTimer::new()).timer(TokioTimer::new());
        if config.http_version == HttpVersion::Http2 {
            pool.http2_only(true);
        }
        let proxy = match &config.proxy {
            ProxyConfig::Env => {
                let m = Matcher::from_env();
                // A matcher that intercepts nothing costs a lookup per
                // connection; drop it.
                let probe_http = m.intercept(&Uri::from_static("http://keel.invalid/"));
                let probe_https = m.intercept(&Uri::from_static("https://keel.invalid/"));
                (probe_http.is_some() || probe_https.is_some()).then_some(m)
            }
            ProxyConfig::Off => None,
            ProxyConfig::Explicit(rules) => Some(rules.matcher()),
        };
        Ok(TransportSettings {
            pool,
            connector,
            tls: tls_config(config)?,
            proxy,
            connect_timeout: Some(config.connect_timeout),
            http_version: config.http_version,
            decompress: config.decompress,
            resolve: Vec::new(),
        })
    }

    /// hyper-util's pool builder: idle timeout, idle connections per host,
    /// HTTP/1 and HTTP/2 options (keep-alive pings, window sizes …).
    pub fn pool(&mut self) -> &mut hyper_util::client::legacy::Builder {
        &mut self.pool
    }

    /// The TCP connector: `set_nodelay`, `set_local_address`,
    /// `set_keepalive`, `set_happy_eyeballs_timeout` …
    pub fn connector(&mut self) -> &mut HttpConnector {
        &mut self.connector
    }

    /// The rustls configuration (roots, client certificate, verification).
    /// ALPN protocols are set from the HTTP version when the transport is
    /// created.
    pub fn tls(&mut self) -> &mut rustls::ClientConfig {
        &mut self.tls
    }

    /// Replaces the proxy rules (`None`: no proxy).
    pub fn set_proxy(&mut self, proxy: Option<Matcher>) {
        self.proxy = proxy;
    }

    /// The most time a connection (TCP, proxy tunnel and TLS handshake) may
    /// take; `None` for no limit.
    pub fn set_connect_timeout(&mut self, timeout: Option<Duration>) {
        self.connect_timeout = timeout;
    }

    /// Which HTTP versions to speak.
    pub fn set_http_version(&mut self, version: HttpVersion) {
        self.http_version = version;
        self.pool.http2_only(version == HttpVersion::Http2);
    }

    /// Whether to ask for and decode compressed responses (`gzip`, `br`,
    /// `zstd`, as the crate's features allow). On by default.
    pub fn set_decompress(&mut self, on: bool) {
        self.decompress = on;
    }

    /// Connects to `addr` whenever a request goes to `host` (any port),
    /// instead of resolving the name; TLS still checks the certificate
    /// against `host`. For tests and pinned endpoints, like curl's
    /// `--resolve`. Not used for requests through a proxy.
    pub fn resolve(&mut self, host: &str, addr: std::net::SocketAddr) {
        let host = host.to_ascii_lowercase();
        self.resolve.retain(|(h, _)| h != &host);
        self.resolve.push((host, addr));
    }
}

fn tls_config(config: &TransportConfig) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
    let builder = if config.verify_tls {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in &config.ca_certs {
            roots.add(cert.clone()).map_err(|e| {
                Error::config(format!(
                    "a CA certificate could not be used as a trust anchor: {e}"
                ))
            })?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerifier(provider)))
    };
    match &config.identity {
        None => Ok(builder.with_no_client_auth()),
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| {
                Error::config(format!(
                    "the client certificate and key do not work together: {e}"
                ))
            }),
    }
}

/// Accepts any server certificate (`verify_ssl(false)`: tests only).
#[derive(Debug)]
struct NoVerifier(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Keel's default [`Transport`](super::Transport): hyper-util's pooled
/// client over rustls. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct HyperTransport {
    inner: Arc<HyperInner>,
}

struct HyperInner {
    client: PooledClient<Connector, Body>,
    /// Proxy rules, for the `Proxy-Authorization` of plain-http requests
    /// sent through a forwarding proxy.
    proxy: Option<Arc<Matcher>>,
    decompress: bool,
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("proxy", &self.inner.proxy.is_some())
            .field("decompress", &self.inner.decompress)
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// A transport with Keel's default settings.
    pub fn new() -> Result<Self> {
        Ok(Self::from_settings(TransportSettings::new()?))
    }

    /// A transport from these settings.
    pub fn from_settings(settings: TransportSettings) -> Self {
        let TransportSettings {
            pool,
            connector,
            tls,
            proxy,
            connect_timeout,
            http_version,
            decompress,
            resolve,
        } = settings;
        let proxy = proxy.map(Arc::new);
        let resolve = Arc::new(resolve);
        let stage = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let https = match http_version {
            HttpVersion::Auto => {
                stage
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(ProxyConnector {
                        http: connector,
                        proxy: proxy.clone(),
                        resolve: resolve.clone(),
                    })
            }
            HttpVersion::Http1 => stage.enable_http1().wrap_connector(ProxyConnector {
                http: connector,
                proxy: proxy.clone(),
                resolve: resolve.clone(),
            }),
            HttpVersion::Http2 => stage.enable_http2().wrap_connector(ProxyConnector {
                http: connector,
                proxy: proxy.clone(),
                resolve: resolve.clone(),
            }),
        };
        let client = pool.build(Connector {
            https,
            timeout: connect_timeout,
            h2_only: http_version == HttpVersion::Http2,
        });
        HyperTransport {
            inner: Arc::new(HyperInner {
                client,
                proxy,
                decompress,
            }),
        }
    }

    /// Whether `self` and `other` share one pool.
    pub fn same_as(&self, other: &HyperTransport) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Starts one exchange: a plain function returning a named future (no
    /// `async` layers, so the request is not moved through nested futures).
    pub(crate) fn send_inline(&self, mut request: Request<Body>) -> HyperCall {
        if let Some(m) = &self.inner.proxy {
            if request.uri().scheme_str() == Some("http") {
                if let Some(auth) = m
                    .intercept(request.uri())
                    .and_then(|i| i.basic_auth().cloned())
                {
                    request
                        .headers_mut()
                        .entry(http::header::PROXY_AUTHORIZATION)
                        .or_insert(auth);
                }
            }
        }
        // Decompression: the request asks for the encodings this build can
        // decode (a header value made once); a response is wrapped in a
        // decoder only when the server actually encoded it, so the
        // common case carries hyper's body as is.
        #[cfg(feature = "decompression")]
        if self.inner.decompress && !ACCEPT_ENCODING.is_empty() {
            if let http::header::Entry::Vacant(slot) =
                request.headers_mut().entry(http::header::ACCEPT_ENCODING)
            {
                slot.insert(http::HeaderValue::from_static(ACCEPT_ENCODING));
            }
        }
        HyperCall {
            future: self.inner.client.request(request),
            decompress: self.inner.decompress,
        }
    }
}

pin_project_lite::pin_project! {
    /// One exchange on Keel's hyper transport, up to the response head.
    pub(crate) struct HyperCall {
        #[pin]
        future: hyper_util::client::legacy::ResponseFuture,
        // Whether an encoded response is decoded.
        decompress: bool,
    }
}

impl Future for HyperCall {
    type Output = std::result::Result<Response<ResponseBody>, TransportError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.future.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(map_error(e))),
            Poll::Ready(Ok(response)) => {
                #[cfg(feature = "decompression")]
                if *this.decompress
                    && response
                        .headers()
                        .contains_key(http::header::CONTENT_ENCODING)
                {
                    return Poll::Ready(decoded(response));
                }
                #[cfg(not(feature = "decompression"))]
                let _ = this.decompress;
                Poll::Ready(Ok(response.map(ResponseBody::incoming)))
            }
        }
    }
}

/// What the request's `Accept-Encoding` offers: the encodings this build
/// decodes, in tower-http's order of preference.
#[cfg(feature = "decompression")]
const ACCEPT_ENCODING: &str = {
    const GZIP: bool = cfg!(feature = "gzip");
    const BR: bool = cfg!(feature = "brotli");
    const ZSTD: bool = cfg!(feature = "zstd");
    match (ZSTD, GZIP, BR) {
        (true, true, true) => "zstd,gzip,deflate,br",
        (true, true, false) => "zstd,gzip,deflate",
        (true, false, true) => "zstd,br",
        (true, false, false) => "zstd",
        (false, true, true) => "gzip,deflate,br",
        (false, true, false) => "gzip,deflate",
        (false, false, true) => "br",
        // The `decompression` feature alone enables no decoder: nothing
        // is offered.
        (false, false, false) => "",
    }
};

/// A response whose body the server encoded, with a decoder over its body:
/// tower-http's decompression, run on the response that has arrived (it
/// drops `Content-Encoding` and `Content-Length` when it decodes, and
/// leaves an encoding it does not know as is).
#[cfg(feature = "decompression")]
fn decoded(
    response: Response<hyper::body::Incoming>,
) -> std::result::Result<Response<ResponseBody>, TransportError> {
    let mut svc = tower_http::decompression::Decompression::new(Arrived(Some(response)));
    let mut future = std::pin::pin!(svc.call(Request::new(())));
    // `Arrived` answers at once: the future is ready at its first poll.
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(r)) => Ok(r.map(ResponseBody::new)),
        Poll::Ready(Err(e)) => Err(e),
        Poll::Pending => Err(TransportError::other(
            "the decoder was not ready at once (a Keel bug)",
        )),
    }
}

/// The service tower-http's decompression wraps in [`decoded`]: it answers
/// the one call with the response that has already arrived.
#[cfg(feature = "decompression")]
struct Arrived(Option<Response<hyper::body::Incoming>>);

#[cfg(feature = "decompression")]
impl Service<Request<()>> for Arrived {
    type Response = Response<hyper::body::Incoming>;
    type Error = TransportError;
    type Future = std::future::Ready<std::result::Result<Self::Response, TransportError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(
            self.0
                .take()
                .ok_or_else(|| TransportError::other("a response was decoded twice (a Keel bug)")),
        )
    }
}

impl super::Transport for HyperTransport {
    fn send(&self, request: Request<Body>) -> super::TransportFuture {
        Box::pin(self.send_inline(request))
    }
}

fn map_error(e: hyper_util::client::legacy::Error) -> TransportError {
    if e.is_connect() {
        TransportError::connect(e)
    } else {
        TransportError::other(e)
    }
}

/// The connect timed out (TCP, proxy tunnel and TLS handshake together).
#[derive(Debug)]
pub(crate) struct ConnectTimedOut(pub(crate) Duration);

impl fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connecting took longer than {:?}", self.0)
    }
}

impl std::error::Error for ConnectTimedOut {}

/// TLS over the proxy-aware TCP connector, bounded by the connect timeout.
#[derive(Clone)]
struct Connector {
    https: HttpsConnector<ProxyConnector>,
    timeout: Option<Duration>,
    /// HTTP/2 with prior knowledge: no connection speaks HTTP/1.
    h2_only: bool,
}

type ConnectFuture<T> = Pin<Box<dyn Future<Output = std::result::Result<T, BoxError>> + Send>>;

impl Service<Uri> for Connector {
    type Response = TokioIo<KeptAlive>;
    type Error = BoxError;
    type Future = ConnectFuture<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let fut = self.https.call(dst);
        let timeout = self.timeout;
        let h2_only = self.h2_only;
        let connect = async move {
            let io = match timeout {
                Some(t) => match tokio::time::timeout(t, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(Box::new(ConnectTimedOut(t)) as BoxError),
                },
                None => fut.await,
            }?;
            Ok(TokioIo::new(KeptAlive::new(io, h2_only)))
        };
        // The socket belongs to the runtime that makes it: make it where the
        // connection will live (see `runtime::connection_home`).
        match super::runtime::connection_home() {
            None => Box::pin(connect),
            Some(home) => {
                let task = home.spawn(connect);
                Box::pin(async move {
                    task.await.map_err(|e| {
                        Box::new(std::io::Error::other(format!(
                            "the connect task failed: {e}"
                        ))) as BoxError
                    })?
                })
            }
        }
    }
}

/// Connects directly, through an HTTP CONNECT tunnel (https destinations
/// behind a proxy), or to a forwarding proxy (http destinations).
#[derive(Clone)]
struct ProxyConnector {
    http: HttpConnector,
    proxy: Option<Arc<Matcher>>,
    /// Host names connected to a fixed address.
    resolve: Arc<Vec<(String, std::net::SocketAddr)>>,
}

impl Service<Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = ConnectFuture<ProxyStream>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.proxy.as_ref().and_then(|m| m.intercept(&dst));
        let pinned = dst.host().and_then(|h| {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            self.resolve
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(h))
                .map(|(_, addr)| {
                    let mut addr = *addr;
                    if let Some(port) = dst.port_u16() {
                        addr.set_port(port);
                    } else {
                        addr.set_port(if dst.scheme_str() == Some("https") {
                            443
                        } else {
                            80
                        });
                    }
                    addr
                })
        });
        let mut http = self.http.clone();
        Box::pin(async move {
            let Some(intercept) = intercept else {
                let target = match pinned {
                    Some(addr) => Uri::try_from(format!("http://{addr}/"))?,
                    None => dst,
                };
                let io = http.call(target).await?;
                return Ok(ProxyStream { io, proxied: false });
            };
            let proxy_uri = intercept.uri().clone();
            if dst.scheme_str() == Some("https") {
                let mut tunnel =
                    hyper_util::client::legacy::connect::proxy::Tunnel::new(proxy_uri, http);
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                let io = tunnel.call(dst).await?;
                Ok(ProxyStream { io, proxied: false })
            } else {
                let io = http.call(proxy_uri).await?;
                Ok(ProxyStream { io, proxied: true })
            }
        })
    }
}

/// A TCP stream that knows whether it goes to a forwarding proxy (then
/// requests are sent in absolute form).
struct ProxyStream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// Reads and writes of either kind of connection.
trait Duplex: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Duplex for T {}

/// A connection that knows when the server closed it under a request after
/// it had served an earlier one (HTTP/1): then the failure carries
/// [`StaleConnection`](super::StaleConnection), and the pipeline may send
/// an idempotent request once more on another connection.
///
/// HTTP/1 exchanges on one connection take turns: a request is written,
/// then its response read. A write after a read starts a new request; the
/// connection is reused when a response had arrived before it. When the
/// connection ends (end of stream, reset, broken pipe) while a request on a
/// reused connection has had no byte of its response, the server dropped it
/// unanswered: the kept-alive race, its idle timeout firing as the request
/// went out. Any other failure is passed on as is. HTTP/2 connections are
/// not watched (a server refuses HTTP/2 streams explicitly).
///
/// It counts the bytes above TLS (the HTTP bytes), and it is the one place
/// the pool's connection metadata comes from: whether the connection goes
/// to a forwarding proxy and whether it speaks HTTP/2.
struct KeptAlive {
    io: Box<dyn Duplex>,
    /// Whether this connection speaks HTTP/2 (and is not watched).
    h2: bool,
    /// Whether requests go to a forwarding proxy (absolute form).
    proxied: bool,
    /// Whether any byte was ever read.
    read_any: bool,
    /// A request is out and no byte of its response has arrived.
    awaiting: bool,
    /// A response had arrived before the request that is out.
    reused: bool,
}

impl KeptAlive {
    fn new(stream: MaybeHttpsStream<ProxyStream>, h2_only: bool) -> Self {
        let (io, h2, proxied): (Box<dyn Duplex>, bool, bool) = match stream {
            MaybeHttpsStream::Http(s) => (Box::new(s.io.into_inner()), h2_only, s.proxied),
            MaybeHttpsStream::Https(s) => {
                let tls = s.into_inner();
                let (tcp, session) = tls.get_ref();
                let h2 = h2_only || session.alpn_protocol() == Some(b"h2");
                let proxied = tcp.inner().proxied;
                (Box::new(tls), h2, proxied)
            }
        };
        KeptAlive {
            io,
            h2,
            proxied,
            read_any: false,
            awaiting: false,
            reused: false,
        }
    }

    /// Whether a failure now means the server dropped, unanswered, a
    /// request sent on a reused connection. `writing`: the failure is a
    /// write's (which may start a request).
    fn dropped_unanswered(&self, writing: bool) -> bool {
        !self.h2
            && if self.awaiting {
                self.reused
            } else {
                writing && self.read_any
            }
    }

    /// The error a failed read or write is reported with.
    fn failed(&self, e: std::io::Error, writing: bool) -> std::io::Error {
        use std::io::ErrorKind::*;
        let closed = matches!(
            e.kind(),
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
        );
        if closed && self.dropped_unanswered(writing) {
            std::io::Error::new(
                e.kind(),
                super::StaleConnection {
                    source: Box::new(e),
                },
            )
        } else {
            e
        }
    }

    fn wrote(&mut self, n: usize) {
        if n > 0 && !self.awaiting {
            self.reused = self.read_any;
            self.awaiting = true;
        }
    }
}

/// What a stale connection's clean end of stream is reported with.
#[derive(Debug)]
struct EndOfStream;

impl fmt::Display for EndOfStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("end of stream before any byte of the response")
    }
}

impl std::error::Error for EndOfStream {}

impl Connection for KeptAlive {
    fn connected(&self) -> Connected {
        let c = Connected::new().proxy(self.proxied);
        if self.h2 {
            c.negotiated_h2()
        } else {
            c
        }
    }
}

impl tokio::io::AsyncRead for KeptAlive {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(this.failed(e, false))),
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.read_any = true;
                    this.awaiting = false;
                } else if buf.remaining() > 0 && this.dropped_unanswered(false) {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        super::StaleConnection {
                            source: Box::new(EndOfStream),
                        },
                    )));
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl tokio::io::AsyncWrite for KeptAlive {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.wrote(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(this.failed(e, true))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                this.wrote(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(this.failed(e, true))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(this.failed(e, true))),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
