//! What a client is configured with, and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, COOKIE};
use url::Url;

use crate::client::HttpClient;
use crate::error::{Error, Result};

/// The request timeout used when none is configured: 30 seconds.
///
/// The Python client Keel mirrors has no timeout by default, so one hung
/// server hangs its caller forever. Keel bounds every request; use
/// [`HttpClientBuilder::no_timeout`] to opt out explicitly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The connect timeout used when none is configured: 10 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many redirects are followed when following is on and no limit is set.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

pub(crate) type AsyncCustomizer =
    Arc<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync>;
pub(crate) type BlockingCustomizer =
    Arc<dyn Fn(reqwest::blocking::ClientBuilder) -> reqwest::blocking::ClientBuilder + Send + Sync>;

/// Settings that belong to the transport (the connection pool): shared by a
/// client and every client derived from it.
#[derive(Clone)]
pub(crate) struct TransportConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) verify_tls: bool,
    pub(crate) ca_certs: Vec<reqwest::Certificate>,
    pub(crate) customize_async: Option<AsyncCustomizer>,
    pub(crate) customize_blocking: Option<BlockingCustomizer>,
}

/// Settings applied per request: a derived client changes these and keeps the
/// pool.
#[derive(Clone)]
pub(crate) struct RequestConfig {
    /// Base URL as text, without a trailing slash.
    pub(crate) base: String,
    /// `base` parsed once, when the client is built: a relative request URL
    /// starts from a clone of it, so its scheme and host are not parsed
    /// again on every request.
    pub(crate) base_url: Url,
    /// Query of the base URL, if any (merged before the path's own query).
    pub(crate) base_query: Option<String>,
    pub(crate) headers: HeaderMap,
    /// Cookies in insertion order; a later one with the same name replaces.
    pub(crate) cookies: Vec<(String, String)>,
    /// The ready `Cookie` header for `cookies`.
    pub(crate) cookie_header: Option<HeaderValue>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_redirects: usize,
    pub(crate) raise_on_unexpected_status: bool,
    pub(crate) allow_insecure_credentials: bool,
}

impl RequestConfig {
    pub(crate) fn set_cookies(&mut self, extra: Vec<(String, String)>) -> Result<()> {
        for (name, value) in extra {
            validate_cookie(&name, &value)?;
            self.cookies.retain(|(n, _)| n != &name);
            self.cookies.push((name, value));
        }
        self.cookie_header = cookie_header(&self.cookies)?;
        Ok(())
    }
}

pub(crate) fn cookie_header(cookies: &[(String, String)]) -> Result<Option<HeaderValue>> {
    if cookies.is_empty() {
        return Ok(None);
    }
    let joined = cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    HeaderValue::from_str(&joined)
        .map(Some)
        .map_err(|_| Error::config("cookie header is not a valid header value"))
}

/// Checks a cookie against RFC 6265's grammar for names and values.
pub(crate) fn validate_cookie(name: &str, value: &str) -> Result<()> {
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if !name_ok {
        return Err(Error::config(format!(
            "cookie name {name:?} is not a valid token (letters, digits and !#$%&'*+-.^_`|~ only)"
        )));
    }
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if !value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
    {
        return Err(Error::config(format!(
            "the value of cookie {name:?} has characters a cookie cannot carry (space, quote, comma, semicolon, backslash or non-ASCII); percent-encode it first"
        )));
    }
    Ok(())
}

pub(crate) fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Error::config(format!(
            "{name:?} is not a valid header name (ASCII letters, digits and !#$%&'*+-.^_`|~ only)"
        ))
    })?;
    let v = HeaderValue::from_str(value).map_err(|_| {
        Error::config(format!(
            "the value given for header {name:?} is not a valid header value (visible ASCII, no newlines)"
        ))
    })?;
    if n == COOKIE {
        return Err(Error::config(
            "set cookies with `cookie(name, value)` rather than a Cookie header, so they merge",
        ));
    }
    Ok((n, v))
}

/// A URL as the caller wrote it, fit for a message or `Debug`: without the
/// query string or fragment, and with any `user:password@` replaced by `…@`.
/// Works on text that does not parse as a URL too.
pub(crate) fn shown_raw_url(raw: &str) -> String {
    let raw = raw.trim();
    let cut = raw.split(['?', '#']).next().unwrap_or_default();
    let mut shown = cut.to_owned();
    if let Some(scheme_end) = cut.find("://") {
        let rest = &cut[scheme_end + 3..];
        let authority = rest.split('/').next().unwrap_or_default();
        if let Some(at) = authority.rfind('@') {
            shown = format!("{}…{}", &cut[..scheme_end + 3], &rest[at..]);
        }
    }
    if cut.len() < raw.len() {
        shown.push_str("?…");
    }
    shown
}

/// Parses and normalises a base URL.
pub(crate) fn parse_base_url(raw: &str) -> Result<(String, Option<String>)> {
    let shown = shown_raw_url(raw);
    let url = Url::parse(raw.trim()).map_err(|e| {
        Error::config(format!(
            "base URL {shown:?} is not a valid absolute URL ({e}); write it like https://api.example.com/v1"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "base URL {shown:?} must use http or https, not {:?}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!("base URL {shown:?} has no host")));
    }
    if url.fragment().is_some() {
        return Err(Error::config(format!(
            "base URL {shown:?} has a #fragment, which is never sent; remove it"
        )));
    }
    let mut base = String::with_capacity(raw.len());
    base.push_str(url.scheme());
    base.push_str("://");
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "base URL must not carry user:password; use HttpAuthenticatedClient with Scheme::basic()",
        ));
    }
    base.push_str(&url[url::Position::BeforeHost..url::Position::AfterPort]);
    base.push_str(url.path().trim_end_matches('/'));
    Ok((base, url.query().map(str::to_owned)))
}

/// Builds an [`HttpClient`]. Every setting is validated by [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// let client = keel::HttpClient::builder("https://api.example.com/v1")
///     .header("User-Agent", "my-app/1.0")
///     .cookie("region", "eu")
///     .timeout(Duration::from_secs(10))
///     .follow_redirects(false)
///     .raise_on_unexpected_status(true)
///     .build()?;
/// # Ok::<(), keel::Error>(())
/// ```
#[must_use = "a builder does nothing until `build()` is called"]
pub struct HttpClientBuilder {
    pub(crate) base_url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) cookies: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) verify_tls: bool,
    pub(crate) ca_pems: Vec<Vec<u8>>,
    pub(crate) ca_files: Vec<std::path::PathBuf>,
    pub(crate) max_redirects: usize,
    pub(crate) raise_on_unexpected_status: bool,
    pub(crate) allow_insecure_credentials: bool,
    pub(crate) customize_async: Option<AsyncCustomizer>,
    pub(crate) customize_blocking: Option<BlockingCustomizer>,
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
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
            .field("verify_tls", &self.verify_tls)
            .field("max_redirects", &self.max_redirects)
            .finish_non_exhaustive()
    }
}

impl HttpClientBuilder {
    pub(crate) fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            headers: Vec::new(),
            cookies: Vec::new(),
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            verify_tls: true,
            ca_pems: Vec::new(),
            ca_files: Vec::new(),
            max_redirects: 0,
            raise_on_unexpected_status: false,
            allow_insecure_credentials: false,
            customize_async: None,
            customize_blocking: None,
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

    /// The most time one request may take, from sending to the end of the
    /// body. Default: [`DEFAULT_TIMEOUT`] (30 s). Exceeding it gives
    /// [`Error::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Removes the request timeout. Requests may then wait forever on a server
    /// that never answers; prefer a generous timeout.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The most time establishing a connection may take. Default:
    /// [`DEFAULT_CONNECT_TIMEOUT`] (10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether to verify the server's TLS certificate (default `true`).
    /// `false` is for testing only: anyone on the path can then read and
    /// change the traffic.
    pub fn verify_ssl(mut self, verify: bool) -> Self {
        self.verify_tls = verify;
        self
    }

    /// Trust the CA certificate(s) in this PEM text as well as the built-in
    /// roots (for a private CA or a self-signed test server).
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.ca_pems.push(pem.as_ref().to_vec());
        self
    }

    /// Trust the CA certificate(s) in this PEM file (read at `build()`).
    pub fn ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Whether to follow redirects (default `false`, as in the seed). When on,
    /// up to [`DEFAULT_MAX_REDIRECTS`] hops are followed; credentials are
    /// never carried to another origin.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.max_redirects = if follow { DEFAULT_MAX_REDIRECTS } else { 0 };
        self
    }

    /// Follow up to `max` redirects (0 turns following off).
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// Whether a status the request did not document fails the call with
    /// [`Error::UnexpectedStatus`] (default `false`: the caller gets the
    /// response with `parsed` empty).
    pub fn raise_on_unexpected_status(mut self, raise: bool) -> Self {
        self.raise_on_unexpected_status = raise;
        self
    }

    /// Allow credentials (API key, signatures) to be sent over plain `http://`
    /// to a host that is not loopback. Off by default; only an authenticated
    /// client checks it.
    pub fn allow_insecure_credentials(mut self, allow: bool) -> Self {
        self.allow_insecure_credentials = allow;
        self
    }

    /// The escape hatch (the seed's `httpx_args`): adjust the
    /// `reqwest::ClientBuilder` Keel creates for async calls — proxies, pool
    /// sizes, HTTP/2, compression, local address … Keel applies its own
    /// settings first (connect timeout, TLS, redirects off — Keel follows
    /// redirects itself), then this closure, so the closure wins.
    pub fn configure_async<F>(mut self, f: F) -> Self
    where
        F: Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    {
        self.customize_async = Some(Arc::new(f));
        self
    }

    /// The same escape hatch for the blocking transport.
    pub fn configure_blocking<F>(mut self, f: F) -> Self
    where
        F: Fn(reqwest::blocking::ClientBuilder) -> reqwest::blocking::ClientBuilder
            + Send
            + Sync
            + 'static,
    {
        self.customize_blocking = Some(Arc::new(f));
        self
    }

    /// Validates everything and builds the client. No connection is made and
    /// no transport is created until the first request.
    pub fn build(self) -> Result<HttpClient> {
        let (request, transport) = self.into_parts()?;
        Ok(HttpClient::from_parts(request, transport))
    }

    pub(crate) fn into_parts(self) -> Result<(RequestConfig, TransportConfig)> {
        let (base, base_query) = parse_base_url(&self.base_url)?;
        let base_url = Url::parse(&base).map_err(|e| {
            Error::config(format!(
                "base URL {:?} is not a valid absolute URL ({e})",
                self.base_url
            ))
        })?;
        let mut headers = HeaderMap::new();
        for (n, v) in &self.headers {
            let (n, v) = parse_header(n, v)?;
            headers.insert(n, v);
        }
        let mut ca_certs = Vec::new();
        for path in &self.ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                Error::config(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            ca_certs.extend(parse_ca(&pem, &path.display().to_string())?);
        }
        for pem in &self.ca_pems {
            ca_certs.extend(parse_ca(pem, "PEM text")?);
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::config(
                "a zero timeout would fail every request; use a positive duration or no_timeout()",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::config(
                "a zero connect timeout would fail every connection; use a positive duration",
            ));
        }
        let mut request = RequestConfig {
            base,
            base_url,
            base_query,
            headers,
            cookies: Vec::new(),
            cookie_header: None,
            timeout: self.timeout,
            max_redirects: self.max_redirects,
            raise_on_unexpected_status: self.raise_on_unexpected_status,
            allow_insecure_credentials: self.allow_insecure_credentials,
        };
        request.set_cookies(self.cookies)?;
        let transport = TransportConfig {
            connect_timeout: self.connect_timeout,
            verify_tls: self.verify_tls,
            ca_certs,
            customize_async: self.customize_async,
            customize_blocking: self.customize_blocking,
        };
        Ok((request, transport))
    }
}

fn parse_ca(pem: &[u8], what: &str) -> Result<Vec<reqwest::Certificate>> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| Error::config(format!("{what} is not a valid PEM certificate bundle: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{what} holds no certificate (expected -----BEGIN CERTIFICATE-----)"
        )));
    }
    // Reading the PEM only decodes base64; the DER inside is parsed when a
    // transport is built. Build a throw-away one (no built-in roots, no
    // connection) so a bad certificate fails here, not at the first request.
    let probe = certs.iter().fold(
        reqwest::Client::builder().tls_built_in_root_certs(false),
        |b, c| b.add_root_certificate(c.clone()),
    );
    probe.build().map_err(|e| {
        let mut m = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            m.push_str(": ");
            m.push_str(&s.to_string());
            source = s.source();
        }
        Error::config(format!("{what} is not a valid CA certificate: {m}"))
    })?;
    Ok(certs)
}
