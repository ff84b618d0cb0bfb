//! [`HttpClient`]: derived clients, lazy transports, lifecycle.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use http::Method;

use crate::config::{parse_header, HttpClientBuilder, RequestConfig, TransportConfig};
use crate::error::{Error, Result};
use crate::request::RequestBuilder;
use crate::resilience::{Resilience, ResilienceState};
use crate::signing::Auth;

const OPEN: u8 = 0;
const ENTERED: u8 = 1;
const CLOSED: u8 = 2;

/// A client for one HTTP API: a base URL, default headers and cookies, a
/// timeout, TLS and redirect settings, and (optionally) resilience.
///
/// It is the Rust form of the seed's Python `Client`. Cloning is cheap (an
/// `Arc`), and one value serves async callers ([`RequestBuilder::send`]) and
/// blocking callers ([`RequestBuilder::send_blocking`]) alike. The reqwest
/// transports under it are created on first use, or supplied with
/// [`set_async_client`](Self::set_async_client) /
/// [`set_blocking_client`](Self::set_blocking_client).
///
/// `with_headers`, `with_cookies`, `with_timeout` and `with_resilience` return
/// a **new** client that shares the connection pool; the original is left
/// unchanged.
///
/// ```
/// # async fn run() -> keel::Result<()> {
/// let client = keel::HttpClient::builder("https://api.example.com/v1").build()?;
/// let traced = client.with_headers([("X-Trace", "abc")])?; // `client` is unchanged
/// # let _ = traced; Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: RequestConfig,
    pub(crate) shared: Arc<Shared>,
    pub(crate) resilience: Arc<ResilienceState>,
    pub(crate) auth: Option<Arc<Auth>>,
}

/// The transports and lifecycle shared by a client and its derived clients.
pub(crate) struct Shared {
    transport: TransportConfig,
    async_client: RwLock<Option<reqwest::Client>>,
    blocking_client: Mutex<Option<reqwest::blocking::Client>>,
    state: AtomicU8,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("HttpClient")
            .field("base_url", &c.base)
            .field("headers", &c.headers.keys().collect::<Vec<_>>())
            .field(
                "cookies",
                &c.cookies.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("timeout", &c.timeout)
            .field("max_redirects", &c.max_redirects)
            .field("raise_on_unexpected_status", &c.raise_on_unexpected_status)
            .field("authenticated", &self.inner.auth.is_some())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Starts configuring a client whose requests are relative to `base_url`.
    pub fn builder(base_url: impl Into<String>) -> HttpClientBuilder {
        HttpClientBuilder::new(base_url)
    }

    /// A client with default settings (30 s timeout, TLS verified, no
    /// redirects followed).
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        Self::builder(base_url).build()
    }

    pub(crate) fn from_parts(config: RequestConfig, transport: TransportConfig) -> Self {
        HttpClient {
            inner: Arc::new(Inner {
                config,
                shared: Arc::new(Shared {
                    transport,
                    async_client: RwLock::new(None),
                    blocking_client: Mutex::new(None),
                    state: AtomicU8::new(OPEN),
                }),
                resilience: Arc::new(ResilienceState::new(Resilience::none())),
                auth: None,
            }),
        }
    }

    /// A new client sharing this one's pool and state, with its request
    /// configuration changed by `f`.
    pub(crate) fn derive(&self, f: impl FnOnce(&mut RequestConfig)) -> Self {
        let mut config = self.inner.config.clone();
        f(&mut config);
        self.with_config(config)
    }

    /// A new client sharing this one's pool and state, with `config`.
    fn with_config(&self, config: RequestConfig) -> Self {
        HttpClient {
            inner: Arc::new(Inner {
                config,
                shared: self.inner.shared.clone(),
                resilience: self.inner.resilience.clone(),
                auth: self.inner.auth.clone(),
            }),
        }
    }

    /// The same client without credentials (for unsigned helper calls).
    pub(crate) fn without_auth(&self) -> Self {
        HttpClient {
            inner: Arc::new(Inner {
                config: self.inner.config.clone(),
                shared: self.inner.shared.clone(),
                resilience: self.inner.resilience.clone(),
                auth: None,
            }),
        }
    }

    pub(crate) fn with_auth(&self, auth: Arc<Auth>) -> Self {
        HttpClient {
            inner: Arc::new(Inner {
                config: self.inner.config.clone(),
                shared: self.inner.shared.clone(),
                resilience: self.inner.resilience.clone(),
                auth: Some(auth),
            }),
        }
    }

    /// A new client matching this one with additional headers (replacing
    /// headers of the same name). The original is unchanged; the pool is
    /// shared.
    pub fn with_headers<I, K, V>(&self, headers: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for (k, v) in headers {
            parsed.push(parse_header(k.as_ref(), v.as_ref())?);
        }
        Ok(self.derive(|c| {
            for (n, v) in parsed {
                c.headers.insert(n, v);
            }
        }))
    }

    /// A new client matching this one with additional cookies (replacing
    /// cookies of the same name). The original is unchanged; the pool is
    /// shared.
    pub fn with_cookies<I, K, V>(&self, cookies: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut config = self.inner.config.clone();
        config.set_cookies(
            cookies
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )?;
        Ok(self.with_config(config))
    }

    /// A new client matching this one with a new request timeout. The
    /// original is unchanged; the pool is shared. A zero timeout would fail
    /// every request, so requests of such a client fail with
    /// [`Error::InvalidRequest`] before anything is sent.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        self.derive(|c| c.timeout = Some(timeout))
    }

    /// A new client matching this one with this resilience configuration
    /// (retries, deadline, circuit breaker, rate limit, retry budget). The
    /// new client starts with fresh resilience state (its own breaker,
    /// limiter and budget), shared by the clients later derived from it —
    /// unless `resilience` has a
    /// [`state_store`](crate::resilience::ResilienceBuilder::state_store),
    /// whose state it shares with every client using that store. The pool
    /// is shared.
    pub fn with_resilience(&self, resilience: Resilience) -> Self {
        HttpClient {
            inner: Arc::new(Inner {
                config: self.inner.config.clone(),
                shared: self.inner.shared.clone(),
                resilience: Arc::new(ResilienceState::new(resilience)),
                auth: self.inner.auth.clone(),
            }),
        }
    }

    /// A new client matching this one that raises (or not) on statuses the
    /// request did not document.
    pub fn with_raise_on_unexpected_status(&self, raise: bool) -> Self {
        self.derive(|c| c.raise_on_unexpected_status = raise)
    }

    /// The base URL requests are relative to (without a trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.config.base
    }

    /// The request timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.config.timeout
    }

    /// The default headers (names and values; no secret is kept here).
    pub fn headers(&self) -> &http::HeaderMap {
        &self.inner.config.headers
    }

    /// Whether undocumented statuses fail the call.
    pub fn raise_on_unexpected_status(&self) -> bool {
        self.inner.config.raise_on_unexpected_status
    }

    /// The resilience configuration of this client.
    pub fn resilience(&self) -> &Resilience {
        self.inner.resilience.config()
    }

    /// Whether this client and `other` share one connection pool.
    pub fn shares_pool_with(&self, other: &HttpClient) -> bool {
        Arc::ptr_eq(&self.inner.shared, &other.inner.shared)
    }

    /// Starts a request: `path` is relative to the base URL (an absolute
    /// `http(s)://` URL is used as it is).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, path)
    }

    /// Starts a GET request.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }
    /// Starts a POST request.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }
    /// Starts a PUT request.
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }
    /// Starts a PATCH request.
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }
    /// Starts a DELETE request.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }
    /// Starts a HEAD request.
    pub fn head(&self, path: &str) -> RequestBuilder {
        self.request(Method::HEAD, path)
    }

    // ----- transports -------------------------------------------------

    /// Uses `client` for async requests from now on, for this client and
    /// every client sharing its pool.
    ///
    /// A supplied client brings its own connection pool, TLS settings
    /// (verification, CA certificates), connect timeout, proxies and default
    /// headers, so Keel's `verify_ssl`, `ca_pem`/`ca_file`, `connect_timeout`
    /// and `configure_async` no longer apply. Keel still applies per request:
    /// the base URL, headers, cookies, the request timeout, redirects (keep
    /// the supplied client's own redirect policy at `Policy::none()` so Keel
    /// can strip credentials on cross-origin hops), signing and resilience.
    pub fn set_async_client(&self, client: reqwest::Client) -> Result<()> {
        self.ensure_open()?;
        *self
            .inner
            .shared
            .async_client
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(client);
        Ok(())
    }

    /// The reqwest client used for async requests, created from this client's
    /// configuration on first use.
    pub fn get_or_create_async_client(&self) -> Result<reqwest::Client> {
        self.inner.shared.async_client()
    }

    /// Uses `client` for blocking requests from now on; the same rules as
    /// [`set_async_client`](Self::set_async_client) apply.
    pub fn set_blocking_client(&self, client: reqwest::blocking::Client) -> Result<()> {
        self.ensure_open()?;
        let old = self
            .inner
            .shared
            .blocking_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(client);
        drop_blocking(old);
        Ok(())
    }

    /// The reqwest client used for blocking requests, created from this
    /// client's configuration on first use. Fails with
    /// [`Error::BlockingInAsync`] when called inside an async runtime.
    pub fn get_or_create_blocking_client(&self) -> Result<reqwest::blocking::Client> {
        self.inner.shared.blocking_client()
    }

    // ----- lifecycle --------------------------------------------------

    /// Enters the client's scope (the seed's `with client:` / `async with
    /// client:`). When the returned [`ClientScope`] is dropped, the pools are
    /// closed and every request on this client, or on a client sharing its
    /// pool, fails with [`Error::Closed`].
    ///
    /// Entering a scope that is already entered fails with
    /// [`Error::AlreadyEntered`]; entering a closed client fails with
    /// [`Error::Closed`].
    ///
    /// ```
    /// # fn run() -> keel::Result<()> {
    /// let client = keel::HttpClient::new("https://api.example.com")?;
    /// {
    ///     let scope = client.enter()?;
    ///     assert!(matches!(client.enter(), Err(keel::Error::AlreadyEntered)));
    ///     let _request = scope.get("/items");
    /// } // pools closed here
    /// assert!(client.is_closed());
    /// # Ok(()) }
    /// # run().unwrap();
    /// ```
    pub fn enter(&self) -> Result<ClientScope> {
        match self.inner.shared.state.compare_exchange(
            OPEN,
            ENTERED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Ok(ClientScope {
                client: self.clone(),
            }),
            Err(ENTERED) => Err(Error::AlreadyEntered),
            Err(_) => Err(Error::Closed),
        }
    }

    /// Closes the pools now. Idempotent. Requests already in flight finish;
    /// new ones fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.shared.close();
    }

    /// Whether the client (its shared pool) is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.state.load(Ordering::Acquire) == CLOSED
    }

    pub(crate) fn ensure_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }
}

/// The scope of a client entered with [`HttpClient::enter`]: dereferences to
/// the client, and closes its pools when dropped.
#[must_use = "dropping the scope closes the client at once"]
pub struct ClientScope {
    client: HttpClient,
}

impl ClientScope {
    /// Ends the scope now (the same as dropping it).
    pub fn exit(self) {}

    /// The client of this scope.
    pub fn client(&self) -> &HttpClient {
        &self.client
    }
}

impl Deref for ClientScope {
    type Target = HttpClient;
    fn deref(&self) -> &HttpClient {
        &self.client
    }
}

impl Drop for ClientScope {
    fn drop(&mut self) {
        self.client.close();
    }
}

impl fmt::Debug for ClientScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientScope").field(&self.client).finish()
    }
}

impl Shared {
    pub(crate) fn async_client(&self) -> Result<reqwest::Client> {
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Err(Error::Closed);
        }
        if let Some(c) = self
            .async_client
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(c.clone());
        }
        let mut slot = self
            .async_client
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let t = &self.transport;
        let mut b = reqwest::Client::builder()
            .connect_timeout(t.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(!t.verify_tls);
        for cert in &t.ca_certs {
            b = b.add_root_certificate(cert.clone());
        }
        if let Some(f) = &t.customize_async {
            b = f(b);
        }
        let client = b
            .build()
            .map_err(|e| Error::config(format!("could not create the HTTP transport: {e}")))?;
        *slot = Some(client.clone());
        Ok(client)
    }

    pub(crate) fn blocking_client(&self) -> Result<reqwest::blocking::Client> {
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Err(Error::Closed);
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::BlockingInAsync);
        }
        let mut slot = self
            .blocking_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let t = &self.transport;
        let mut b = reqwest::blocking::Client::builder()
            .connect_timeout(t.connect_timeout)
            .timeout(None::<Duration>)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(!t.verify_tls);
        for cert in &t.ca_certs {
            b = b.add_root_certificate(cert.clone());
        }
        if let Some(f) = &t.customize_blocking {
            b = f(b);
        }
        let client = b
            .build()
            .map_err(|e| Error::config(format!("could not create the HTTP transport: {e}")))?;
        *slot = Some(client.clone());
        Ok(client)
    }

    fn close(&self) {
        self.state.store(CLOSED, Ordering::Release);
        self.async_client
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let old = self
            .blocking_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop_blocking(old);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let old = self
            .blocking_client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop_blocking(old);
    }
}

/// Drops a blocking reqwest client. Its drop joins a runtime thread, which
/// panics inside an async context, so there it is dropped on a helper thread.
fn drop_blocking(client: Option<reqwest::blocking::Client>) {
    if let Some(c) = client {
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("keel-close".into())
                .spawn(move || drop(c));
        } else {
            drop(c);
        }
    }
}

/// What both client types offer to generated code: starting a request.
///
/// Operations that need no authentication take `&impl Client`, so either an
/// [`HttpClient`] or an [`HttpAuthenticatedClient`](crate::HttpAuthenticatedClient)
/// can call them; operations with a security requirement take an
/// `&HttpAuthenticatedClient`.
pub trait Client: Clone + Send + Sync + 'static {
    /// Starts a request to `path` (relative to the base URL).
    fn request(&self, method: Method, path: &str) -> RequestBuilder;
}

impl Client for HttpClient {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        HttpClient::request(self, method, path)
    }
}
