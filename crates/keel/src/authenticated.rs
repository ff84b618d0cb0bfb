//! The [`Authenticated`] state: credentials on the builder, and what an
//! [`HttpAuthenticatedClient`] can do beyond a plain client (its key,
//! scheme and clock).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::header::HeaderName;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::client::{Authenticated, Client, HttpAuthenticatedClient, HttpClient, Unauthenticated};
use crate::config::ClientBuilder;
use crate::error::{Error, Result};
use crate::response::Response;
use crate::signing::{Auth, Credentials, NonceSource, PrivateKey, Scheme};

/// The outcome of [`HttpAuthenticatedClient::sync_clock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClockSync {
    /// The offset now applied (`server − local`, ms).
    pub offset_ms: i64,
    /// The round-trip time of the measurement.
    pub rtt: Duration,
}

/// Ready-made readers of a server's time, for
/// [`HttpAuthenticatedClient::sync_clock`].
#[derive(Debug, Clone, Copy)]
pub struct ServerTime;

impl ServerTime {
    /// A top-level JSON field holding milliseconds since the epoch
    /// (`{"serverTime": 1499827319559}` → `json_millis("serverTime")`).
    pub fn json_millis(field: &str) -> impl FnOnce(&Response) -> Option<SystemTime> + '_ {
        move |r| {
            let v: serde_json::Value = serde_json::from_slice(&r.content).ok()?;
            let ms = v.get(field)?;
            let ms = ms.as_u64().or_else(|| ms.as_str()?.parse().ok())?;
            Some(UNIX_EPOCH + Duration::from_millis(ms))
        }
    }

    /// A top-level JSON field holding seconds since the epoch (may be
    /// fractional).
    pub fn json_seconds(field: &str) -> impl FnOnce(&Response) -> Option<SystemTime> + '_ {
        move |r| {
            let v: serde_json::Value = serde_json::from_slice(&r.content).ok()?;
            let s = v.get(field)?;
            let s = s.as_f64().or_else(|| s.as_str()?.parse().ok())?;
            if !s.is_finite() || s < 0.0 {
                return None;
            }
            Some(UNIX_EPOCH + Duration::from_secs_f64(s))
        }
    }

    /// The standard `Date` response header (one-second resolution).
    pub fn date_header(r: &Response) -> Option<SystemTime> {
        httpdate::parse_http_date(r.header("date")?).ok()
    }
}

/// The header that carries the API key when none is configured.
pub const DEFAULT_AUTH_HEADER_NAME: &str = "API-Key";

/// The credentials an authenticated builder collects (never printed).
#[doc(hidden)]
pub struct PendingCredentials {
    api_key: Option<String>,
    api_secret: Option<SecretBox<[u8]>>,
    passphrase: Option<SecretString>,
    auth_header_name: String,
    scheme: Option<Scheme>,
    clock_offset_ms: i64,
    private_key: Option<PrivateKey>,
    nonce_source: Option<Arc<dyn NonceSource>>,
}

impl Default for PendingCredentials {
    fn default() -> Self {
        PendingCredentials {
            api_key: None,
            api_secret: None,
            passphrase: None,
            auth_header_name: DEFAULT_AUTH_HEADER_NAME.to_owned(),
            scheme: None,
            clock_offset_ms: 0,
            private_key: None,
            nonce_source: None,
        }
    }
}

impl fmt::Debug for PendingCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field(
                "api_secret",
                &self.api_secret.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[redacted]"),
            )
            .field("auth_header_name", &self.auth_header_name)
            .field("scheme", &self.scheme)
            .field("clock_offset_ms", &self.clock_offset_ms)
            .field("private_key", &self.private_key)
            .field("nonce_source", &self.nonce_source)
            .finish()
    }
}

impl Client<Authenticated> {
    /// Starts configuring an authenticated client for `base_url` (the same
    /// builder as [`HttpClient::builder`], already in the authenticated
    /// state).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder<Authenticated> {
        ClientBuilder::new(base_url).into_state(PendingCredentials::default())
    }

    fn signing(&self) -> &Auth {
        &self.auth.auth
    }

    /// The same client without credentials: one pool and lifecycle, no
    /// key and no signature (for unauthenticated endpoints such as a
    /// server-time call).
    pub fn unauthenticated(&self) -> HttpClient {
        Client {
            inner: self.inner.clone(),
            auth: Unauthenticated,
        }
    }

    /// The header that carries the API key.
    pub fn auth_header_name(&self) -> &HeaderName {
        self.signing().credentials.auth_header_name()
    }

    /// The API key.
    pub fn api_key(&self) -> &str {
        self.signing().credentials.api_key()
    }

    /// The signing scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.signing().scheme
    }

    /// Sets the difference between the server's clock and this machine's
    /// (`server − local`, in milliseconds), applied to every timestamp this
    /// client family signs. Use it when a server rejects timestamps "outside
    /// the receive window".
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.signing().set_clock_offset_ms(offset_ms);
    }

    /// The current clock offset in milliseconds (`server − local`).
    pub fn clock_offset_ms(&self) -> i64 {
        self.signing()
            .clock_offset_ms
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Measures the server's clock against this machine's with one unsigned
    /// `GET path` and sets the clock offset of this client family (every
    /// clone and derived client) from it: `server time + RTT/2 − local
    /// time`. `server_time` reads the server's time from the response (see
    /// [`ServerTime`]). Use it when a server rejects requests with a
    /// "timestamp outside the receive window".
    ///
    /// ```no_run
    /// # async fn run(client: keel::HttpAuthenticatedClient) -> keel::Result<()> {
    /// let sync = client.sync_clock("/time", keel::ServerTime::json_millis("epoch_ms")).await?;
    /// println!("server is {} ms ahead (RTT {:?})", sync.offset_ms, sync.rtt);
    /// # Ok(()) }
    /// ```
    pub async fn sync_clock<F>(&self, path: &str, server_time: F) -> Result<ClockSync>
    where
        F: FnOnce(&Response) -> Option<SystemTime>,
    {
        let plain = self.unauthenticated();
        let sent = SystemTime::now();
        let started = Instant::now();
        let resp = plain.get(path).send().await?;
        self.apply_sync(sent, started.elapsed(), &resp, server_time)
    }

    /// The blocking form of [`sync_clock`](Self::sync_clock).
    pub fn sync_clock_blocking<F>(&self, path: &str, server_time: F) -> Result<ClockSync>
    where
        F: FnOnce(&Response) -> Option<SystemTime>,
    {
        let plain = self.unauthenticated();
        let sent = SystemTime::now();
        let started = Instant::now();
        let resp = plain.get(path).send_blocking()?;
        self.apply_sync(sent, started.elapsed(), &resp, server_time)
    }

    fn apply_sync<F>(
        &self,
        sent: SystemTime,
        rtt: Duration,
        resp: &Response,
        server_time: F,
    ) -> Result<ClockSync>
    where
        F: FnOnce(&Response) -> Option<SystemTime>,
    {
        let server = server_time(resp).ok_or_else(|| {
            Error::Signing(format!(
                "could not read the server time from the {} response of the clock endpoint",
                resp.status
            ))
        })?;
        let local_mid = sent + rtt / 2;
        let offset_ms = match server.duration_since(local_mid) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
            Err(behind) => -i64::try_from(behind.duration().as_millis()).unwrap_or(i64::MAX),
        };
        self.set_clock_offset_ms(offset_ms);
        tracing::debug!(offset_ms, ?rtt, "clock synchronised");
        Ok(ClockSync { offset_ms, rtt })
    }
}

impl ClientBuilder<Unauthenticated> {
    /// The API key: the builder becomes an authenticated client's builder
    /// (it keeps every setting given so far), and `build()` returns an
    /// [`HttpAuthenticatedClient`].
    pub fn api_key(self, key: impl Into<String>) -> ClientBuilder<Authenticated> {
        let builder: ClientBuilder<Authenticated> = self.into_state(PendingCredentials::default());
        ClientBuilder::<Authenticated>::api_key(builder, key)
    }
}

impl ClientBuilder<Authenticated> {
    /// The API key (sent in `auth_header_name`, or where the scheme puts it).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.credentials.api_key = Some(key.into());
        self
    }

    /// The API secret used to sign requests, as text (its UTF-8 bytes are the
    /// key). Kept in a zeroizing secret type; never printed.
    pub fn api_secret(mut self, secret: impl Into<String>) -> Self {
        let s: String = secret.into();
        self.credentials.api_secret = Some(SecretBox::new(s.into_bytes().into_boxed_slice()));
        self
    }

    /// The API secret as raw bytes (for example already base64-decoded).
    pub fn api_secret_bytes(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.credentials.api_secret = Some(SecretBox::new(secret.into().into_boxed_slice()));
        self
    }

    /// A passphrase, for schemes with a third credential (Coinbase Exchange,
    /// OKX). Kept in a zeroizing secret type; never printed.
    pub fn passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.credentials.passphrase = Some(SecretString::from(passphrase.into()));
        self
    }

    /// An asymmetric private key to sign with (Binance Ed25519/RSA keys,
    /// Coinbase CDP, RFC 9421 with a key pair): the key's type decides the
    /// algorithm. Read it with [`PrivateKey::from_bytes`] /
    /// [`PrivateKey::from_file`] (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1).
    pub fn private_key(mut self, key: PrivateKey) -> Self {
        self.credentials.private_key = Some(key);
        self
    }

    /// Where this client family's nonces come from (default: an in-process
    /// [`NonceCounter`](crate::signing::NonceCounter)). Share one source
    /// between processes that sign with the same key.
    pub fn nonce_source(mut self, source: Arc<dyn NonceSource>) -> Self {
        self.credentials.nonce_source = Some(source);
        self
    }

    /// The name of the header that carries the API key (default `API-Key`).
    pub fn auth_header_name(mut self, name: impl Into<String>) -> Self {
        self.credentials.auth_header_name = name.into();
        self
    }

    /// The signing scheme (default: [`Scheme::default_hmac`]).
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.credentials.scheme = Some(scheme);
        self
    }

    /// The server's clock is `offset` ahead of this machine's: timestamps are
    /// moved forward by it (see
    /// [`HttpAuthenticatedClient::set_clock_offset_ms`]).
    pub fn clock_offset(mut self, offset: Duration, server_ahead: bool) -> Self {
        let ms = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
        self.credentials.clock_offset_ms = if server_ahead { ms } else { -ms };
        self
    }

    /// The clock offset in milliseconds (`server − local`; negative when
    /// the server is behind).
    pub fn clock_offset_ms(mut self, offset_ms: i64) -> Self {
        self.credentials.clock_offset_ms = offset_ms;
        self
    }

    /// Validates everything and builds the client. No connection is made
    /// and no transport is created until the first request.
    pub fn build(self) -> Result<HttpAuthenticatedClient> {
        let (request, transport, supplied, pending) = self.into_parts()?;
        let auth = pending.into_auth()?;
        Ok(Client::from_parts(
            request,
            transport,
            supplied,
            Authenticated {
                auth: Arc::new(auth),
            },
        ))
    }
}

impl PendingCredentials {
    fn into_auth(self) -> Result<Auth> {
        if self.clock_offset_ms.unsigned_abs() > crate::validate::MAX_DURATION.as_millis() as u64 {
            return Err(Error::config(
                "a clock offset of more than a year is not a clock difference; check the value",
            ));
        }
        let header = HeaderName::from_bytes(self.auth_header_name.as_bytes()).map_err(|_| {
            Error::config(format!(
                "auth_header_name {:?} is not a valid header name",
                self.auth_header_name
            ))
        })?;
        let key = self.api_key.ok_or_else(|| {
            Error::config("an authenticated client needs an API key; set it with `api_key(...)`")
        })?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(Error::config(
                "the API key must be non-empty visible ASCII (it is sent in a header or query)",
            ));
        }
        let scheme = self.scheme.unwrap_or_default();
        let secret = self.api_secret.map(|s| s.expose_secret().to_vec());
        if scheme.signer().requires_secret()
            && self.private_key.is_none()
            && secret.as_ref().is_none_or(|s| s.is_empty())
        {
            return Err(Error::config(
                "this signing scheme needs a non-empty API secret (`api_secret(...)`) or a private key (`private_key(...)`)",
            ));
        }
        let mut credentials = Credentials::new(key, secret, header);
        if let Some(p) = self.passphrase {
            credentials = credentials.with_passphrase(p.expose_secret());
        }
        if let Some(k) = self.private_key {
            credentials = credentials.with_private_key(k);
        }
        Auth::new(credentials, scheme, self.clock_offset_ms, self.nonce_source).map_err(|e| match e
        {
            Error::Signing(m) => Error::config(m),
            e => e,
        })
    }
}
