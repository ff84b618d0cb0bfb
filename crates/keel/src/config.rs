//! What a client is configured with, and its one builder. Authentication
//! is a state of the builder (`ClientBuilder<Authenticated>`), not a second
//! builder that forwards every option.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use http::header::{HeaderMap, HeaderValue, USER_AGENT};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use url::Url;
use zeroize::Zeroizing;

use crate::client::{AuthState, Authenticated, Client, Unauthenticated};
use crate::error::{Error, Result};
use crate::transport::{
    HttpVersion, ProxyConfig, ProxyRules, SharedTransport, TransportConfig, TransportSettings,
};
use crate::validate::{self, parse_base_url, shown_raw_url};
// The signing recipes parse their headers through here.
pub(crate) use crate::validate::parse_header;

/// The request timeout used when none is configured: 30 seconds.
///
/// The Python client Keel mirrors has no timeout by default, so one hung
/// server hangs its caller forever. Keel bounds every request; use
/// [`ClientBuilder::no_timeout`] to opt out explicitly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The connect timeout used when none is configured: 10 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a streamed response body may go without a byte before the read
/// fails, when none is configured: 30 seconds.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How many redirects are followed when following is on and no limit is set.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

/// The largest response body read into memory (`send()`, `json()` …) when
/// none is configured: 64 MiB. Stream larger bodies with
/// [`RequestBuilder::send_streaming`](crate::RequestBuilder::send_streaming).
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 64 * 1024 * 1024;

/// The `User-Agent` sent when none is configured: `keel/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("keel/", env!("CARGO_PKG_VERSION"));

/// Settings applied per request: a derived client changes these and keeps
/// the pool.
#[derive(Clone)]
pub(crate) struct RequestConfig {
    /// Base URL as text, without a trailing slash.
    pub(crate) base: String,
    /// `base` parsed once, when the client is built: a relative request URL
    /// starts from a clone of it.
    pub(crate) base_url: Url,
    /// `base_url` with a long placeholder path: a request's URL starts from
    /// a clone of it, which has room for the request's path.
    pub(crate) base_room: Url,
    /// Query of the base URL, if any (merged before the path's own query).
    pub(crate) base_query: Option<String>,
    /// The base URL's scheme and authority for the transport's URI, made
    /// once (see [`Origin`]).
    pub(crate) origin: Option<Origin>,
    pub(crate) headers: HeaderMap,
    /// Cookies in insertion order; a later one with the same name replaces.
    pub(crate) cookies: Vec<(String, String)>,
    /// The ready `Cookie` header for `cookies`.
    pub(crate) cookie_header: Option<HeaderValue>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) max_redirects: usize,
    pub(crate) max_response_size: u64,
    pub(crate) raise_on_unexpected_status: bool,
    pub(crate) allow_insecure_credentials: bool,
}

/// The scheme and authority of the base URL as the transport's
/// [`http::Uri`] holds them, parsed once: a request to the base URL's
/// origin gets its URI from these and its path and query alone, instead of
/// a parse of the whole URL text.
#[derive(Clone)]
pub(crate) struct Origin {
    /// `scheme://authority` exactly as the base URL serializes it.
    prefix: Box<str>,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Origin {
    /// The origin of `base`, when the `http` crate reads it as it is
    /// written (otherwise every request parses its whole URL).
    pub(crate) fn of(base: &Url) -> Option<Origin> {
        let prefix = &base[..url::Position::BeforePath];
        let uri = http::Uri::try_from(prefix).ok()?;
        let parts = uri.into_parts();
        let (scheme, authority) = (parts.scheme?, parts.authority?);
        // Only when the parts give back the very same text.
        (format!("{scheme}://{authority}") == prefix).then(|| Origin {
            prefix: prefix.into(),
            scheme,
            authority,
        })
    }

    /// The transport's URI for `url`: from the parts made once when `url`
    /// is on this origin, else from its whole text.
    pub(crate) fn uri(
        origin: Option<&Origin>,
        url: &Url,
    ) -> std::result::Result<http::Uri, http::Error> {
        if let Some(o) = origin {
            if url[..url::Position::BeforePath] == *o.prefix {
                let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
                let path = if path.is_empty() { "/" } else { path };
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(o.scheme.clone());
                parts.authority = Some(o.authority.clone());
                parts.path_and_query = Some(http::uri::PathAndQuery::try_from(path)?);
                return Ok(http::Uri::from_parts(parts)?);
            }
        }
        Ok(http::Uri::try_from(url.as_str())?)
    }
}

impl RequestConfig {
    pub(crate) fn set_cookies(&mut self, extra: Vec<(String, String)>) -> Result<()> {
        for (name, value) in extra {
            validate::validate_cookie(&name, &value)?;
            self.cookies.retain(|(n, _)| n != &name);
            self.cookies.push((name, value));
        }
        self.cookie_header = validate::cookie_header(&self.cookies)?;
        Ok(())
    }
}

/// Builds a [`Client`]: an [`HttpClient`](crate::HttpClient) or, once
/// credentials are given, an [`HttpAuthenticatedClient`](crate::HttpAuthenticatedClient).
/// Every setting is validated by [`build`](Self::build); nothing a builder
/// accepts can panic later.
///
/// ```
/// use std::time::Duration;
/// # fn main() -> keel::Result<()> {
/// let client = keel::HttpClient::builder("https://api.example.com/v1")
///     .header("X-Client", "my-app")
///     .cookie("region", "eu")
///     .timeout(Duration::from_secs(10))
///     .follow_redirects(false)
///     .raise_on_unexpected_status(true)
///     .build()?;
///
/// // The same builder, with credentials: an authenticated client.
/// let signed = keel::HttpClient::builder("https://api.example.com/v1")
///     .timeout(Duration::from_secs(10))
///     .api_key("k-123")
///     .api_secret("s3cr3t")
///     .build()?;
/// # let _ = (client, signed); Ok(()) }
/// ```
#[must_use = "a builder does nothing until `build()` is called"]
pub struct ClientBuilder<A: AuthState = Unauthenticated> {
    pub(crate) base_url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) cookies: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) ca_pems: Vec<Vec<u8>>,
    pub(crate) ca_files: Vec<PathBuf>,
    pub(crate) identity_pem: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    pub(crate) max_redirects: usize,
    pub(crate) max_response_size: u64,
    pub(crate) raise_on_unexpected_status: bool,
    pub(crate) allow_insecure_credentials: bool,
    pub(crate) transport: TransportConfig,
    pub(crate) proxy_error: Option<String>,
    pub(crate) supplied: Option<SharedTransport>,
    pub(crate) credentials: A::Pending,
    pub(crate) state: PhantomData<A>,
}

/// [`ClientBuilder`] of a plain client.
pub type HttpClientBuilder = ClientBuilder<Unauthenticated>;
/// [`ClientBuilder`] of an authenticated client.
pub type HttpAuthenticatedClientBuilder = ClientBuilder<Authenticated>;

impl<A: AuthState> fmt::Debug for ClientBuilder<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &shown_raw_url(&self.base_url))
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "cookies",
                &self.cookies.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("verify_tls", &self.transport.verify_tls)
            .field("max_redirects", &self.max_redirects)
            .field("client_certificate", &self.identity_pem.is_some())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder<Unauthenticated> {
    pub(crate) fn new(base_url: impl Into<String>) -> Self {
        ClientBuilder {
            base_url: base_url.into(),
            headers: Vec::new(),
            cookies: Vec::new(),
            timeout: Some(DEFAULT_TIMEOUT),
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ca_pems: Vec::new(),
            ca_files: Vec::new(),
            identity_pem: None,
            max_redirects: 0,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            raise_on_unexpected_status: false,
            allow_insecure_credentials: false,
            transport: TransportConfig::new(DEFAULT_CONNECT_TIMEOUT),
            proxy_error: None,
            supplied: None,
            credentials: (),
            state: PhantomData,
        }
    }

    /// Validates everything and builds the client. No connection is made
    /// and no transport is created until the first request.
    pub fn build(self) -> Result<Client<Unauthenticated>> {
        let (request, transport, supplied, ()) = self.into_parts()?;
        Ok(Client::from_parts(
            request,
            transport,
            supplied,
            Unauthenticated,
        ))
    }
}

impl<A: AuthState> ClientBuilder<A> {
    /// Moves every setting into a builder of another authentication state.
    pub(crate) fn into_state<B: AuthState>(self, credentials: B::Pending) -> ClientBuilder<B> {
        ClientBuilder {
            base_url: self.base_url,
            headers: self.headers,
            cookies: self.cookies,
            timeout: self.timeout,
            read_timeout: self.read_timeout,
            connect_timeout: self.connect_timeout,
            ca_pems: self.ca_pems,
            ca_files: self.ca_files,
            identity_pem: self.identity_pem,
            max_redirects: self.max_redirects,
            max_response_size: self.max_response_size,
            raise_on_unexpected_status: self.raise_on_unexpected_status,
            allow_insecure_credentials: self.allow_insecure_credentials,
            transport: self.transport,
            proxy_error: self.proxy_error,
            supplied: self.supplied,
            credentials,
            state: PhantomData,
        }
    }

    /// A header sent with every request. A request's own header of the same
    /// name replaces it.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Several headers sent with every request.
    pub fn headers<I, K, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.headers
            .extend(headers.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The `User-Agent` header (default [`DEFAULT_USER_AGENT`],
    /// `keel/<version>`).
    pub fn user_agent(self, user_agent: impl Into<String>) -> Self {
        self.header(USER_AGENT.as_str(), user_agent)
    }

    /// A cookie sent with every request (in one `Cookie` header).
    pub fn cookie(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.cookies.push((name.into(), value.into()));
        self
    }

    /// Several cookies sent with every request.
    pub fn cookies<I, K, V>(mut self, cookies: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.cookies
            .extend(cookies.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The most time one attempt may take, from sending to the end of the
    /// body (for a streamed body: until the response head arrives; the body
    /// is then bounded by [`read_timeout`](Self::read_timeout)). Default:
    /// [`DEFAULT_TIMEOUT`] (30 s); at most a year. Exceeding it gives
    /// [`Error::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Removes the request timeout. Requests may then wait forever on a
    /// server that never answers; prefer a generous timeout.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// How long a streamed response body may go without a byte before the
    /// read fails with [`Error::ReadTimeout`] (default
    /// [`DEFAULT_READ_TIMEOUT`], 30 s). A long download that keeps moving
    /// is never cut.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// No read-stall limit for streamed bodies.
    pub fn no_read_timeout(mut self) -> Self {
        self.read_timeout = None;
        self
    }

    /// The most time establishing a connection (TCP, proxy tunnel and TLS
    /// handshake) may take. Default: [`DEFAULT_CONNECT_TIMEOUT`] (10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether to verify the server's TLS certificate (default `true`).
    /// `false` is for testing only: anyone on the path can then read and
    /// change the traffic.
    pub fn verify_ssl(mut self, verify: bool) -> Self {
        self.transport.verify_tls = verify;
        self
    }

    /// Trust the CA certificate(s) in this PEM text as well as the built-in
    /// roots (for a private CA or a self-signed test server).
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.ca_pems.push(pem.as_ref().to_vec());
        self
    }

    /// Trust the CA certificate(s) in this PEM file (read at `build()`).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// A client certificate for mutual TLS: the certificate chain and its
    /// private key (PKCS#8, PKCS#1 or SEC1), both PEM. The key is kept in
    /// zeroizing memory and never printed.
    pub fn client_certificate_pem(
        mut self,
        certificate_chain: impl AsRef<[u8]>,
        private_key: impl AsRef<[u8]>,
    ) -> Self {
        self.identity_pem = Some((
            certificate_chain.as_ref().to_vec(),
            Zeroizing::new(private_key.as_ref().to_vec()),
        ));
        self
    }

    /// Send every request through this proxy (`http://host:port`, with
    /// optional `user:password@`): `https://` destinations through an HTTP
    /// CONNECT tunnel, `http://` ones forwarded. Replaces the proxy
    /// settings of the environment.
    pub fn proxy(self, proxy_url: impl Into<String>) -> Self {
        self.proxy_rules(Some(proxy_url.into()), None)
    }

    /// Like [`proxy`](Self::proxy), except for the hosts in `no_proxy`
    /// (comma-separated, as in `NO_PROXY`: `localhost,.internal,10.0.0.0/8`).
    pub fn proxy_except(self, proxy_url: impl Into<String>, no_proxy: impl Into<String>) -> Self {
        self.proxy_rules(Some(proxy_url.into()), Some(no_proxy.into()))
    }

    fn proxy_rules(mut self, all: Option<String>, no: Option<String>) -> Self {
        if let Some(url) = &all {
            if let Err(e) = check_proxy_url(url) {
                self.proxy_error = Some(e);
            }
        }
        self.transport.proxy = ProxyConfig::Explicit(ProxyRules {
            all,
            no,
            ..ProxyRules::default()
        });
        self
    }

    /// Use no proxy, whatever the environment says. By default the
    /// environment's `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
    /// `NO_PROXY` are honoured (as curl does).
    pub fn no_proxy(mut self) -> Self {
        self.transport.proxy = ProxyConfig::Off;
        self
    }

    /// Which HTTP versions to speak (default: HTTP/2 when the server offers
    /// it over TLS, else HTTP/1.1).
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.transport.http_version = version;
        self
    }

    /// Whether to ask for and decode compressed responses (default `true`,
    /// for the encodings the crate's `gzip`, `brotli` and `zstd` features
    /// enable). With `false`, bodies arrive exactly as the server sent them.
    pub fn decompress(mut self, on: bool) -> Self {
        self.transport.decompress = on;
        self
    }

    /// Whether to follow redirects (default `false`, as in the seed). When
    /// on, up to [`DEFAULT_MAX_REDIRECTS`] hops are followed; credentials
    /// are never carried to another origin.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.max_redirects = if follow { DEFAULT_MAX_REDIRECTS } else { 0 };
        self
    }

    /// Follow up to `max` redirects (0 turns following off).
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// The largest response body read into memory by `send()`, `json()`
    /// and the other buffered reads (default
    /// [`DEFAULT_MAX_RESPONSE_SIZE`], 64 MiB). A larger body fails with
    /// [`Error::BodyTooLarge`]; stream it instead.
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Whether a status the request did not document fails the call with
    /// [`Error::UnexpectedStatus`] (default `false`: the caller gets the
    /// response with `parsed` empty).
    pub fn raise_on_unexpected_status(mut self, raise: bool) -> Self {
        self.raise_on_unexpected_status = raise;
        self
    }

    /// Allow credentials (API key, signatures) to be sent over plain
    /// `http://` to a host that is not loopback. Off by default; only an
    /// authenticated client checks it.
    pub fn allow_insecure_credentials(mut self, allow: bool) -> Self {
        self.allow_insecure_credentials = allow;
        self
    }

    /// The escape hatch (the seed's `httpx_args`): adjust the settings
    /// Keel's transport is created from — hyper-util's pool, the TCP
    /// connector, the rustls configuration, proxy rules. Keel applies its
    /// own settings first, then this closure, so the closure wins. See
    /// [`TransportSettings`].
    pub fn configure_transport<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut TransportSettings) + Send + Sync + 'static,
    {
        self.transport.set_customizer(f);
        self
    }

    /// Use this transport instead of creating one (the seed's
    /// `set_httpx_client`): a [`HyperTransport`](crate::transport::HyperTransport)
    /// taken from another client to share its pool, a `ReqwestTransport`
    /// (feature `reqwest`), or any [`Transport`](crate::transport::Transport).
    /// The transport settings of this builder (TLS, proxy, connect timeout,
    /// `configure_transport`) then do not apply.
    pub fn transport(mut self, transport: impl Into<SharedTransport>) -> Self {
        self.supplied = Some(transport.into());
        self
    }

    /// Validates every setting shared by both states.
    pub(crate) fn into_parts(
        self,
    ) -> Result<(
        RequestConfig,
        TransportConfig,
        Option<SharedTransport>,
        A::Pending,
    )> {
        let (base, base_query) = parse_base_url(&self.base_url)?;
        let base_url = Url::parse(&base).map_err(|e| {
            Error::config(format!(
                "base URL {:?} is not a valid absolute URL ({e})",
                shown_raw_url(&self.base_url)
            ))
        })?;
        // (Each request copies these into a map with room for what it adds;
        // see `RequestBuilder::prepare`.)
        let mut headers = HeaderMap::with_capacity(self.headers.len() + 1);
        headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        for (n, v) in &self.headers {
            let (n, v) = parse_header(n, v)?;
            headers.insert(n, v);
        }
        if let Some(t) = self.timeout {
            validate::duration("timeout", t, Some("no_timeout()"))?;
        }
        if let Some(t) = self.read_timeout {
            validate::duration("read timeout", t, Some("no_read_timeout()"))?;
        }
        validate::duration("connect timeout", self.connect_timeout, None)?;
        if self.max_response_size == 0 {
            return Err(Error::config(
                "a max_response_size of 0 would refuse every body; use a positive size",
            ));
        }
        if let Some(e) = self.proxy_error {
            return Err(Error::config(e));
        }
        let mut transport = self.transport;
        transport.connect_timeout = self.connect_timeout;
        for path in &self.ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                Error::config(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            transport
                .ca_certs
                .extend(parse_ca(&pem, &path.display().to_string())?);
        }
        for pem in &self.ca_pems {
            transport.ca_certs.extend(parse_ca(pem, "the CA PEM text")?);
        }
        if let Some((chain, key)) = &self.identity_pem {
            transport.identity = Some(parse_identity(chain, key)?);
        }
        if self.supplied.is_none() {
            // Build the TLS configuration now (it is cheap and no connection
            // is made), so a bad CA or client certificate fails here, not at
            // the first request.
            TransportSettings::check(&transport)?;
        }
        let mut request = RequestConfig {
            base,
            origin: Origin::of(&base_url),
            base_room: crate::request::url_with_room(&base_url),
            base_url,
            base_query,
            headers,
            cookies: Vec::new(),
            cookie_header: None,
            timeout: self.timeout,
            read_timeout: self.read_timeout,
            max_redirects: self.max_redirects,
            max_response_size: self.max_response_size,
            raise_on_unexpected_status: self.raise_on_unexpected_status,
            allow_insecure_credentials: self.allow_insecure_credentials,
        };
        request.set_cookies(self.cookies)?;
        Ok((request, transport, self.supplied, self.credentials))
    }
}

fn check_proxy_url(url: &str) -> std::result::Result<(), String> {
    let shown = shown_raw_url(url);
    let parsed = Url::parse(url).map_err(|e| {
        format!("proxy URL {shown:?} is not a valid URL ({e}); write it like http://proxy.internal:3128")
    })?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "proxy URL {shown:?} uses {:?}; Keel speaks to proxies over http:// (https:// destinations are tunnelled with CONNECT)",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("proxy URL {shown:?} has no host"));
    }
    Ok(())
}

fn parse_ca(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::config(format!("{what} is not a valid PEM certificate bundle: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{what} holds no certificate (expected -----BEGIN CERTIFICATE-----)"
        )));
    }
    // Decoding the PEM only checks base64; adding each certificate to a
    // root store parses the DER, so a bad certificate fails here.
    let mut store = rustls::RootCertStore::empty();
    for cert in &certs {
        store
            .add(cert.clone())
            .map_err(|e| Error::config(format!("{what} is not a valid CA certificate: {e}")))?;
    }
    Ok(certs)
}

fn parse_identity(chain: &[u8], key: &[u8]) -> Result<crate::transport::Identity> {
    let certs = CertificateDer::pem_slice_iter(chain)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(format!(
                "the client certificate chain is not valid PEM: {e}"
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::config(
            "the client certificate chain holds no certificate (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| {
        Error::config(
            "the client certificate's private key is not a PEM private key (accepted: PKCS#8 `BEGIN PRIVATE KEY`, PKCS#1 `BEGIN RSA PRIVATE KEY`, SEC1 `BEGIN EC PRIVATE KEY`)",
        )
    })?;
    Ok(crate::transport::Identity {
        chain: certs,
        key: std::sync::Arc::new(key),
    })
}
