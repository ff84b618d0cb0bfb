//! [`Client`]: one client family for plain and authenticated clients —
//! derived clients, the transport, the lifecycle.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http::Method;

use crate::config::{ClientBuilder, RequestConfig};
use crate::error::{Error, Result};
use crate::request::RequestBuilder;
use crate::resilience::{Resilience, ResilienceState};
use crate::signing::Auth;
use crate::transport::{SharedTransport, TransportConfig};
use crate::validate::{self, parse_header};

const OPEN: u8 = 0;
const ENTERED: u8 = 1;
const CLOSED: u8 = 2;

mod sealed {
    /// Keeps [`AuthState`](super::AuthState) closed to Keel's two states.
    pub trait Sealed {
        /// What the builder collects before the state's client is built.
        type Pending: std::fmt::Debug + Send;
        /// The credentials of an authenticated client.
        fn authenticated(&self) -> Option<&super::Authenticated>;
    }
}

/// The authentication state of a [`Client`]: [`Unauthenticated`] or
/// [`Authenticated`]. Sealed.
pub trait AuthState: sealed::Sealed + Clone + Send + Sync + 'static {}

/// The state of a client without credentials ([`HttpClient`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unauthenticated;

/// The state of a client that sends an API key and signs every request
/// ([`HttpAuthenticatedClient`]). It holds the credentials (never printed).
#[derive(Clone)]
pub struct Authenticated {
    pub(crate) auth: Arc<Auth>,
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.auth, f)
    }
}

impl sealed::Sealed for Unauthenticated {
    type Pending = ();
    fn authenticated(&self) -> Option<&Authenticated> {
        None
    }
}
impl AuthState for Unauthenticated {}

impl sealed::Sealed for Authenticated {
    type Pending = crate::authenticated::PendingCredentials;
    fn authenticated(&self) -> Option<&Authenticated> {
        Some(self)
    }
}
impl AuthState for Authenticated {}

/// A client for one HTTP API: a base URL, default headers and cookies,
/// timeouts, TLS and redirect settings, resilience — and, in the
/// [`Authenticated`] state, credentials that sign every request.
///
/// Use it through its two names: [`HttpClient`] (the seed's `Client`) and
/// [`HttpAuthenticatedClient`] (the seed's `AuthenticatedClient`). Every
/// method on this page serves both; `with_*` on an authenticated client
/// returns an authenticated client.
///
/// Cloning is cheap (an `Arc`), and one value serves async callers
/// ([`RequestBuilder::send`]) and blocking callers
/// ([`RequestBuilder::send_blocking`]) alike, through one transport and one
/// connection pool. The transport is created on first use, or supplied
/// ([`ClientBuilder::transport`], [`set_async_client`](Self::set_async_client)).
///
/// `with_headers`, `with_cookies`, `with_timeout` and `with_resilience`
/// return a **new** client that shares the connection pool; the original is
/// left unchanged.
///
/// ```
/// # fn main() -> keel::Result<()> {
/// let client = keel::HttpClient::builder("https://api.example.com/v1").build()?;
/// let traced = client.with_headers([("X-Trace", "abc")])?; // `client` is unchanged
/// assert!(traced.shares_pool_with(&client));
/// # Ok(()) }
/// ```
pub struct Client<A: AuthState = Unauthenticated> {
    pub(crate) inner: Arc<Inner>,
    pub(crate) auth: A,
}

/// A client without credentials: [`Client`] in the [`Unauthenticated`]
/// state.
pub type HttpClient = Client<Unauthenticated>;

/// A client that sends an API key and signs every request (every attempt,
/// afresh): [`Client`] in the [`Authenticated`] state. Operations that need
/// credentials take this type, so they cannot be called with a plain client.
///
/// ```
/// # fn main() -> keel::Result<()> {
/// let client = keel::HttpAuthenticatedClient::builder("https://api.example.com/v1")
///     .api_key("k-123")
///     .api_secret("s3cr3t")
///     .build()?;
/// assert!(!format!("{client:?}").contains("s3cr3t"));
/// # Ok(()) }
/// ```
pub type HttpAuthenticatedClient = Client<Authenticated>;

impl<A: AuthState> Clone for Client<A> {
    fn clone(&self) -> Self {
        Client {
            inner: self.inner.clone(),
            auth: self.auth.clone(),
        }
    }
}

/// What one client value holds: its request settings, and the family's
/// shared transport and resilience state.
pub(crate) struct Inner {
    pub(crate) config: RequestConfig,
    pub(crate) shared: Arc<Shared>,
    pub(crate) resilience: Arc<ResilienceState>,
}

impl Inner {
    /// Whether the `attempt`-th attempt of a call is the last one that can
    /// send the call's prepared request: no redirect can follow it, no hedge
    /// races it, and the policy allows no further attempt. (Per-call
    /// conditions, such as a credential refresh, come on top.)
    pub(crate) fn last_send_at(&self, attempt: u32) -> bool {
        let resilience = self.resilience.config();
        self.config.max_redirects == 0
            && resilience.hedge().is_none()
            && attempt >= resilience.max_attempts()
    }
}

/// The transport and lifecycle shared by a client and its derived clients.
pub(crate) struct Shared {
    config: TransportConfig,
    transport: RwLock<Option<SharedTransport>>,
    state: AtomicU8,
}

impl<A: AuthState> fmt::Debug for Client<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        let mut d = f.debug_struct(if self.auth().is_some() {
            "HttpAuthenticatedClient"
        } else {
            "HttpClient"
        });
        d.field("base_url", &c.base)
            .field("headers", &c.headers.keys().collect::<Vec<_>>())
            .field(
                "cookies",
                &c.cookies.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("timeout", &c.timeout)
            .field("max_redirects", &c.max_redirects)
            .field("raise_on_unexpected_status", &c.raise_on_unexpected_status);
        if let Some(auth) = self.auth() {
            d.field("auth", auth);
        }
        d.field("closed", &self.is_closed()).finish_non_exhaustive()
    }
}

impl Client<Unauthenticated> {
    /// Starts configuring a client whose requests are relative to
    /// `base_url`. Give it credentials ([`ClientBuilder::api_key`]) and it
    /// builds an [`HttpAuthenticatedClient`].
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder<Unauthenticated> {
        ClientBuilder::new(base_url)
    }

    /// A client with default settings (30 s timeout, TLS verified, no
    /// redirects followed).
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        Self::builder(base_url).build()
    }
}

impl<A: AuthState> Client<A> {
    pub(crate) fn from_parts(
        config: RequestConfig,
        transport: TransportConfig,
        supplied: Option<SharedTransport>,
        auth: A,
    ) -> Self {
        Client {
            inner: Arc::new(Inner {
                config,
                shared: Arc::new(Shared {
                    config: transport,
                    transport: RwLock::new(supplied),
                    state: AtomicU8::new(OPEN),
                }),
                resilience: Arc::new(ResilienceState::new(Resilience::none(), "")),
            }),
            auth,
        }
    }

    /// The credentials, when this is an authenticated client.
    pub(crate) fn auth(&self) -> Option<&Arc<Auth>> {
        sealed::Sealed::authenticated(&self.auth).map(|a| &a.auth)
    }

    /// The one derive path: a new client of the same family (pool,
    /// lifecycle, credentials) with `config` and `resilience`.
    fn derive(&self, config: RequestConfig, resilience: Arc<ResilienceState>) -> Self {
        Client {
            inner: Arc::new(Inner {
                config,
                shared: self.inner.shared.clone(),
                resilience,
            }),
            auth: self.auth.clone(),
        }
    }

    /// A new client like this one with its request settings changed by `f`.
    fn derive_config(&self, f: impl FnOnce(&mut RequestConfig) -> Result<()>) -> Result<Self> {
        let mut config = self.inner.config.clone();
        f(&mut config)?;
        Ok(self.derive(config, self.inner.resilience.clone()))
    }

    /// A new client like this one with additional headers (replacing
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
        self.derive_config(|c| {
            for (n, v) in parsed {
                c.headers.insert(n, v);
            }
            Ok(())
        })
    }

    /// A new client like this one with additional cookies (replacing
    /// cookies of the same name). The original is unchanged; the pool is
    /// shared.
    pub fn with_cookies<I, K, V>(&self, cookies: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let cookies = cookies
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.derive_config(|c| c.set_cookies(cookies))
    }

    /// A new client like this one with a new request timeout (see
    /// [`ClientBuilder::timeout`]). The original is unchanged; the pool is
    /// shared. Zero and durations over a year are refused.
    pub fn with_timeout(&self, timeout: Duration) -> Result<Self> {
        let timeout = validate::duration("timeout", timeout, None)?;
        self.derive_config(|c| {
            c.timeout = Some(timeout);
            Ok(())
        })
    }

    /// A new client like this one with a new read-stall timeout for
    /// streamed bodies (see [`ClientBuilder::read_timeout`]).
    pub fn with_read_timeout(&self, timeout: Duration) -> Result<Self> {
        let timeout = validate::duration("read timeout", timeout, None)?;
        self.derive_config(|c| {
            c.read_timeout = Some(timeout);
            Ok(())
        })
    }

    /// A new client like this one with this resilience configuration
    /// (retries, deadline, circuit breaker, rate limit, retry budget). The
    /// new client starts with fresh resilience state (its own breaker,
    /// limiter and budget), shared by the clients later derived from it —
    /// unless `resilience` has a
    /// [`state_store`](crate::resilience::ResilienceBuilder::state_store),
    /// whose state it shares with every client using that store. The pool
    /// is shared; an authenticated client signs every retry afresh.
    pub fn with_resilience(&self, resilience: Resilience) -> Self {
        let family = self.family_id();
        self.derive(
            self.inner.config.clone(),
            Arc::new(ResilienceState::new(resilience, &family)),
        )
    }

    /// The client family's id in a shared store: the same in every process
    /// that builds this client (same base URL and API key), different for
    /// unrelated clients. A hash, so neither the key nor the URL's
    /// credentials appear in the store.
    fn family_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.inner.config.base_url.as_str().as_bytes());
        if let Some(auth) = self.auth() {
            h.update([0u8]);
            h.update(auth.credentials.api_key().as_bytes());
        }
        let digest = h.finalize();
        let mut id = String::with_capacity(18);
        id.push_str("f-");
        for b in &digest[..8] {
            id.push_str(&format!("{b:02x}"));
        }
        id
    }

    /// A new client like this one that raises (or not) on statuses the
    /// request did not document.
    pub fn with_raise_on_unexpected_status(&self, raise: bool) -> Self {
        let mut config = self.inner.config.clone();
        config.raise_on_unexpected_status = raise;
        self.derive(config, self.inner.resilience.clone())
    }

    /// The base URL requests are relative to (without a trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.config.base
    }

    /// The request timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.config.timeout
    }

    /// The read-stall timeout of streamed bodies, if any.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.inner.config.read_timeout
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

    /// Whether this client and `other` belong to one family: one transport,
    /// one connection pool, for async and blocking callers alike.
    pub fn shares_pool_with<B: AuthState>(&self, other: &Client<B>) -> bool {
        Arc::ptr_eq(&self.inner.shared, &other.inner.shared)
    }

    /// Starts a request: `path` is relative to the base URL (an absolute
    /// `http(s)://` URL is used as it is).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder::new(self.inner.clone(), self.auth().cloned(), method, path)
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

    // ----- the transport ------------------------------------------------

    /// Uses `transport` from now on, for this client and every client of
    /// its family (the seed's `set_async_httpx_client`): a
    /// [`HyperTransport`](crate::transport::HyperTransport) from another
    /// client, a `reqwest::Client` (feature `reqwest`), or any
    /// [`Transport`](crate::transport::Transport).
    ///
    /// A supplied transport brings its own pool, TLS settings, connect
    /// timeout and proxies, so this client's `verify_ssl`, CA, client
    /// certificate, proxy and `configure_transport` settings no longer
    /// apply. Keel still applies per request: the base URL, headers,
    /// cookies, timeouts, redirects, signing and resilience.
    ///
    /// Keel has one transport for async and blocking callers, so this is
    /// the same as [`set_blocking_client`](Self::set_blocking_client).
    pub fn set_async_client(&self, transport: impl Into<SharedTransport>) -> Result<()> {
        self.inner.shared.set(transport.into())
    }

    /// The transport of this client family, created from the client's
    /// configuration on first use (the seed's `get_async_httpx_client`).
    /// The same transport serves blocking callers.
    pub fn get_or_create_async_client(&self) -> Result<SharedTransport> {
        self.inner.shared.transport()
    }

    /// The seed's `set_httpx_client`: the same as
    /// [`set_async_client`](Self::set_async_client) (one transport serves
    /// both kinds of callers).
    pub fn set_blocking_client(&self, transport: impl Into<SharedTransport>) -> Result<()> {
        self.inner.shared.set(transport.into())
    }

    /// The seed's `get_httpx_client`: the same as
    /// [`get_or_create_async_client`](Self::get_or_create_async_client).
    pub fn get_or_create_blocking_client(&self) -> Result<SharedTransport> {
        self.inner.shared.transport()
    }

    // ----- lifecycle ----------------------------------------------------

    /// Enters the client's scope (the seed's `with client:` / `async with
    /// client:`). When the returned [`ClientScope`] is dropped, the pool is
    /// closed and every request on this client, or on a client of its
    /// family, fails with [`Error::Closed`].
    ///
    /// Entering a scope that is already entered fails with
    /// [`Error::AlreadyEntered`]; entering a closed client fails with
    /// [`Error::Closed`].
    ///
    /// ```
    /// # fn main() -> keel::Result<()> {
    /// let client = keel::HttpClient::new("https://api.example.com")?;
    /// {
    ///     let scope = client.enter()?;
    ///     assert!(matches!(client.enter(), Err(keel::Error::AlreadyEntered)));
    ///     let _request = scope.get("/items");
    /// } // pool closed here
    /// assert!(client.is_closed());
    /// # Ok(()) }
    /// ```
    pub fn enter(&self) -> Result<ClientScope<A>> {
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

    /// Closes the pool now. Idempotent. Requests already in flight finish;
    /// new ones fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.shared.close();
    }

    /// Whether the client (its family's pool) is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.is_closed()
    }
}

/// The scope of a client entered with [`Client::enter`]: dereferences to
/// the client, and closes its pool when dropped.
#[must_use = "dropping the scope closes the client at once"]
pub struct ClientScope<A: AuthState = Unauthenticated> {
    client: Client<A>,
}

impl<A: AuthState> ClientScope<A> {
    /// Ends the scope now (the same as dropping it).
    pub fn exit(self) {}

    /// The client of this scope.
    pub fn client(&self) -> &Client<A> {
        &self.client
    }
}

impl<A: AuthState> Deref for ClientScope<A> {
    type Target = Client<A>;
    fn deref(&self) -> &Client<A> {
        &self.client
    }
}

impl<A: AuthState> Drop for ClientScope<A> {
    fn drop(&mut self) {
        self.client.close();
    }
}

impl<A: AuthState> fmt::Debug for ClientScope<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientScope").field(&self.client).finish()
    }
}

impl Shared {
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    pub(crate) fn ensure_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn set(&self, transport: SharedTransport) -> Result<()> {
        self.ensure_open()?;
        *self
            .transport
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(transport);
        Ok(())
    }

    /// The family's transport, created on first use.
    pub(crate) fn transport(&self) -> Result<SharedTransport> {
        self.ensure_open()?;
        if let Some(t) = self
            .transport
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(t.clone());
        }
        let mut slot = self
            .transport
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let created = SharedTransport::from(self.config.create()?);
        *slot = Some(created.clone());
        Ok(created)
    }

    fn close(&self) {
        self.state.store(CLOSED, Ordering::Release);
        // Dropping the transport drops the pool: idle connections close,
        // busy ones close when their request ends.
        self.transport
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}
