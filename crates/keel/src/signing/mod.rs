//! Request signing: the [`Signer`] trait, the [`Scheme`]s Keel ships, and the
//! credentials they use.
//!
//! A signer runs inside the request pipeline at send time, once per attempt,
//! so every attempt carries a fresh timestamp, nonce and signature.
//!
//! - [`recipe::HmacRecipe`]: a declarative HMAC scheme (what to sign, which
//!   hash, how the secret is decoded, where the key, timestamp, nonce and
//!   signature go). Keel's default scheme and the exchange presets
//!   ([`Scheme::kraken`], [`Scheme::binance`], [`Scheme::coinbase`],
//!   [`Scheme::okx`], [`Scheme::bybit`]) are recipes.
//! - [`rfc9421::Rfc9421`]: RFC 9421 HTTP Message Signatures (`hmac-sha256`,
//!   `ed25519`) with RFC 9530 `Content-Digest`.
//! - [`verify::Verifier`]: the server side — checks a recipe's signature,
//!   timestamp window and nonce replay.
//! - `aws::AwsSigV4` (feature `aws-sigv4`): AWS Signature Version 4 through
//!   the official `aws-sigv4` crate.
//!
//! Keel's default scheme, precisely:
//!
//! ```text
//! {auth_header_name}: <api_key>                       (default header name: API-Key)
//! API-Timestamp: <milliseconds since the Unix epoch, decimal>
//! API-Signature: lowercase-hex(HMAC-SHA256(key = api_secret as UTF-8 bytes,
//!                    message = API-Timestamp + METHOD + path_and_query + body))
//! ```
//!
//! where `METHOD` is upper case, `path_and_query` is the path as sent plus
//! `?` and the query string when there is one (`/v1/orders?limit=5`), and
//! `body` is the exact body bytes (empty for none). The parts are joined
//! with nothing in between.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use http::Method;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use url::Url;

use crate::error::{Error, Result};

#[cfg(feature = "aws-sigv4")]
pub mod aws;
pub mod recipe;
pub mod rfc9421;
pub mod verify;

pub use recipe::HmacRecipe;
pub use rfc9421::Rfc9421;

/// The API key, secret and (for some exchanges) passphrase a signer uses.
/// None of them is ever printed: `Debug` shows only whether they are set.
pub struct Credentials {
    api_key: SecretString,
    api_secret: Option<SecretBox<[u8]>>,
    passphrase: Option<SecretString>,
    auth_header_name: HeaderName,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |b: bool| if b { "[redacted]" } else { "(none)" };
        f.debug_struct("Credentials")
            .field("api_key", &"[redacted]")
            .field("api_secret", &set(self.api_secret.is_some()))
            .field("passphrase", &set(self.passphrase.is_some()))
            .field("auth_header_name", &self.auth_header_name)
            .finish()
    }
}

impl Credentials {
    /// Credentials from a key, an optional secret (raw bytes) and the name of
    /// the header that carries the key.
    pub fn new(
        api_key: impl Into<String>,
        api_secret: Option<Vec<u8>>,
        auth_header_name: HeaderName,
    ) -> Self {
        Credentials {
            api_key: SecretString::from(api_key.into()),
            api_secret: api_secret.map(|s| SecretBox::new(s.into_boxed_slice())),
            passphrase: None,
            auth_header_name,
        }
    }

    /// Adds a passphrase (Coinbase Exchange, OKX): a third credential, kept
    /// as secret as the others.
    pub fn with_passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.passphrase = Some(SecretString::from(passphrase.into()));
        self
    }

    /// The API key. Handle with care: it is a credential.
    pub fn api_key(&self) -> &str {
        self.api_key.expose_secret()
    }

    /// The API secret's bytes, or an error saying a secret is needed.
    pub fn api_secret(&self) -> Result<&[u8]> {
        self.api_secret
            .as_ref()
            .map(|s| s.expose_secret())
            .ok_or_else(|| {
                Error::Signing(
                    "this scheme signs requests and needs an API secret; set it with `api_secret(...)`"
                        .into(),
                )
            })
    }

    /// The passphrase, or an error saying the scheme needs one.
    pub fn passphrase(&self) -> Result<&str> {
        self.passphrase
            .as_ref()
            .map(|s| s.expose_secret())
            .ok_or_else(|| {
                Error::Signing(
                    "this scheme needs an API passphrase; set it with `passphrase(...)`".into(),
                )
            })
    }

    /// Whether a passphrase is set.
    pub fn has_passphrase(&self) -> bool {
        self.passphrase.is_some()
    }

    /// The header that carries the API key (default `API-Key`).
    pub fn auth_header_name(&self) -> &HeaderName {
        &self.auth_header_name
    }
}

/// A request being signed: a signer may read everything and add headers,
/// query parameters or form fields.
///
/// The pipeline builds one per attempt, with the clock-corrected time and a
/// fresh nonce; `keel sign` and tests build one with
/// [`SigningRequest::new`] and fixed values, so the output is deterministic.
#[non_exhaustive]
pub struct SigningRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The final URL (base + path + query); a signer may append parameters.
    pub url: &'a mut Url,
    /// The headers about to be sent; a signer may add some.
    pub headers: &'a mut HeaderMap,
    body: std::borrow::Cow<'a, [u8]>,
    body_replaced: bool,
    /// The time of this attempt (already corrected by the clock offset).
    pub timestamp: SystemTime,
    /// A number that strictly increases across every request of a client
    /// family (clones, derived clients, threads, concurrent requests).
    pub nonce: u64,
    capture: bool,
    string_to_sign: Option<Vec<u8>>,
}

impl fmt::Debug for SigningRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningRequest")
            .field("method", self.method)
            .field("url", &crate::error::display_url(self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl<'a> SigningRequest<'a> {
    /// A request to sign with a fixed time and nonce (for tools and tests;
    /// the pipeline builds its own per attempt).
    pub fn new(
        method: &'a Method,
        url: &'a mut Url,
        headers: &'a mut HeaderMap,
        body: &'a [u8],
        timestamp: SystemTime,
        nonce: u64,
    ) -> Self {
        SigningRequest {
            method,
            url,
            headers,
            body: std::borrow::Cow::Borrowed(body),
            body_replaced: false,
            timestamp,
            nonce,
            capture: false,
            string_to_sign: None,
        }
    }

    /// Keep the string to sign, for [`string_to_sign`](Self::string_to_sign)
    /// (`keel sign -v`). Off in the pipeline.
    pub fn capture_string_to_sign(mut self, capture: bool) -> Self {
        self.capture = capture;
        self
    }

    /// The string to sign, when capturing was asked for and the signer
    /// reported it.
    pub fn string_to_sign(&self) -> Option<&[u8]> {
        self.string_to_sign.as_deref()
    }

    /// Signers call this with the exact bytes they sign (kept only when
    /// capturing).
    pub fn record_string_to_sign(&mut self, bytes: &[u8]) {
        if self.capture {
            self.string_to_sign = Some(bytes.to_vec());
        }
    }

    /// Whether the string to sign is being captured.
    pub(crate) fn capturing(&self) -> bool {
        self.capture
    }

    /// Keeps `bytes` as the string to sign (when capturing), without a copy.
    pub(crate) fn keep_string_to_sign(&mut self, bytes: Vec<u8>) {
        if self.capture {
            self.string_to_sign = Some(bytes);
        }
    }

    /// The body bytes exactly as they will be sent.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Replaces the body (for schemes that put a nonce or signature into a
    /// form body). The new body is what is sent.
    pub fn set_body(&mut self, body: Vec<u8>) {
        self.body = std::borrow::Cow::Owned(body);
        self.body_replaced = true;
    }

    /// The body, if a signer replaced it.
    pub fn replaced_body(&self) -> Option<&[u8]> {
        if self.body_replaced {
            Some(&self.body)
        } else {
            None
        }
    }

    /// Milliseconds since the Unix epoch of [`timestamp`](Self::timestamp).
    pub fn unix_millis(&self) -> u128 {
        self.timestamp
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    }

    /// The path and query as sent (`/v1/items?a=1`).
    pub fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{}", self.url.path(), q),
            None => self.url.path().to_owned(),
        }
    }

    /// Inserts a header, with a clear error if the value is not a valid
    /// header value.
    pub fn set_header(&mut self, name: HeaderName, value: &str) -> Result<()> {
        let v = HeaderValue::from_str(value).map_err(|_| {
            Error::Signing(format!(
                "the value for header {name} is not a valid header value"
            ))
        })?;
        self.headers.insert(name, v);
        Ok(())
    }

    /// Inserts a header holding a credential (marked sensitive, so HTTP/2
    /// never indexes it and `Debug` never shows it).
    pub fn set_secret_header(&mut self, name: HeaderName, value: &str) -> Result<()> {
        let mut v = HeaderValue::from_str(value).map_err(|_| {
            Error::Signing(format!(
                "the credential for header {name} is not a valid header value (visible ASCII only)"
            ))
        })?;
        v.set_sensitive(true);
        self.headers.insert(name, v);
        Ok(())
    }
}

/// Signs requests. Implement it for a scheme Keel does not ship.
///
/// ```
/// use keel::signing::{Credentials, Signer, SigningRequest};
///
/// #[derive(Debug)]
/// struct Token;
/// impl Signer for Token {
///     fn sign(&self, req: &mut SigningRequest<'_>, creds: &Credentials) -> keel::Result<()> {
///         let value = format!("Token {}", creds.api_key());
///         req.set_secret_header(http::header::AUTHORIZATION, &value)
///     }
/// }
/// let scheme = keel::signing::Scheme::custom(Token);
/// # let _ = scheme;
/// ```
pub trait Signer: fmt::Debug + Send + Sync + 'static {
    /// Adds the credentials and the signature to the request.
    fn sign(&self, request: &mut SigningRequest<'_>, credentials: &Credentials) -> Result<()>;

    /// The headers this signer adds that carry credentials or signatures;
    /// they are removed on a redirect to another origin. `Authorization`,
    /// `Proxy-Authorization`, `Cookie` and the key header are always removed.
    fn sensitive_headers(&self) -> Vec<HeaderName> {
        Vec::new()
    }

    /// Whether the signature covers the body (a streaming body then cannot
    /// be sent).
    fn signs_body(&self) -> bool {
        true
    }

    /// Whether the scheme needs an API secret (checked when the client is
    /// built).
    fn requires_secret(&self) -> bool {
        false
    }

    /// Checks the credentials when the client is built (a secret that does
    /// not decode, a missing passphrase …), so a bad secret fails in the
    /// builder rather than at the first request.
    fn check_credentials(&self, _credentials: &Credentials) -> Result<()> {
        Ok(())
    }
}

/// How an [`HttpAuthenticatedClient`](crate::HttpAuthenticatedClient) puts its
/// credentials on a request.
#[derive(Clone, Debug)]
pub struct Scheme {
    signer: Arc<dyn Signer>,
}

impl Default for Scheme {
    fn default() -> Self {
        Scheme::default_hmac()
    }
}

impl Scheme {
    /// A scheme from your own [`Signer`].
    pub fn custom(signer: impl Signer) -> Self {
        Scheme {
            signer: Arc::new(signer),
        }
    }

    /// The signer behind this scheme.
    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    /// Keel's default scheme ([`HmacRecipe::keel_default`]):
    ///
    /// ```text
    /// {auth_header_name}: <api_key>
    /// API-Timestamp: <unix milliseconds>
    /// API-Signature: hex(HMAC-SHA256(api_secret, timestamp + METHOD + path_and_query + body))
    /// ```
    pub fn default_hmac() -> Self {
        Scheme::custom(HmacRecipe::keel_default())
    }

    /// A declarative HMAC scheme.
    pub fn hmac(recipe: HmacRecipe) -> Self {
        Scheme::custom(recipe)
    }

    /// Kraken spot REST ([`HmacRecipe::kraken`]).
    pub fn kraken() -> Self {
        Scheme::custom(HmacRecipe::kraken())
    }

    /// Binance spot ([`HmacRecipe::binance`]).
    pub fn binance() -> Self {
        Scheme::custom(HmacRecipe::binance())
    }

    /// Coinbase Exchange ([`HmacRecipe::coinbase`]); needs a passphrase.
    pub fn coinbase() -> Self {
        Scheme::custom(HmacRecipe::coinbase())
    }

    /// OKX v5 ([`HmacRecipe::okx`]); needs a passphrase.
    pub fn okx() -> Self {
        Scheme::custom(HmacRecipe::okx())
    }

    /// Bybit v5 ([`HmacRecipe::bybit`]) with a 5000 ms receive window.
    pub fn bybit() -> Self {
        Scheme::custom(HmacRecipe::bybit(5000))
    }

    /// RFC 9421 HTTP Message Signatures.
    pub fn rfc9421(config: Rfc9421) -> Self {
        Scheme::custom(config)
    }

    /// Only the key, in the `auth_header_name` header; no signature (an
    /// OpenAPI `apiKey` scheme `in: header`).
    pub fn api_key_header() -> Self {
        Scheme::custom(ApiKeyHeader)
    }

    /// Only the key, as the query parameter `param` (an OpenAPI `apiKey`
    /// scheme `in: query`).
    pub fn api_key_query(param: &str) -> Self {
        Scheme::custom(ApiKeyQuery(param.to_owned()))
    }

    /// `Authorization: Bearer <api_key>` (HTTP bearer).
    pub fn bearer() -> Self {
        Scheme::custom(Bearer)
    }

    /// `Authorization: Basic base64(api_key:api_secret)` (HTTP basic; the key
    /// is the user name, the secret the password).
    pub fn basic() -> Self {
        Scheme::custom(Basic)
    }
}

#[derive(Debug)]
struct ApiKeyHeader;
impl Signer for ApiKeyHeader {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        req.set_secret_header(c.auth_header_name().clone(), c.api_key())
    }
    fn signs_body(&self) -> bool {
        false
    }
}

#[derive(Debug)]
struct ApiKeyQuery(String);
impl Signer for ApiKeyQuery {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        req.url.query_pairs_mut().append_pair(&self.0, c.api_key());
        Ok(())
    }
    fn signs_body(&self) -> bool {
        false
    }
}

#[derive(Debug)]
struct Bearer;
impl Signer for Bearer {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        req.set_secret_header(AUTHORIZATION, &format!("Bearer {}", c.api_key()))
    }
    fn signs_body(&self) -> bool {
        false
    }
}

#[derive(Debug)]
struct Basic;
impl Signer for Basic {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        let mut raw = zeroize::Zeroizing::new(Vec::with_capacity(64));
        raw.extend_from_slice(c.api_key().as_bytes());
        raw.push(b':');
        if let Some(s) = &c.api_secret {
            raw.extend_from_slice(s.expose_secret());
        }
        let value = zeroize::Zeroizing::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(&*raw)
        ));
        req.set_secret_header(AUTHORIZATION, &value)
    }
    fn signs_body(&self) -> bool {
        false
    }
}

/// The header carrying the default scheme's timestamp.
pub const TIMESTAMP_HEADER: &str = "API-Timestamp";
/// The header carrying the default scheme's signature.
pub const SIGNATURE_HEADER: &str = "API-Signature";

/// A strictly increasing nonce shared by a client family.
///
/// Seeded from the clock (microseconds since the epoch) so that a restarted
/// process keeps increasing; every call returns a value greater than any
/// returned before, from any thread.
#[derive(Debug)]
pub struct NonceCounter(AtomicU64);

impl Default for NonceCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl NonceCounter {
    /// A counter starting at the current time in microseconds.
    pub fn new() -> Self {
        NonceCounter(AtomicU64::new(now_micros()))
    }

    /// The next nonce: the current time in microseconds, or one more than the
    /// last nonce when the clock has not moved past it.
    pub fn next(&self) -> u64 {
        next_above(&self.0, now_micros())
    }
}

/// Atomically moves `cell` to `max(now, cell + 1)` and returns the new value.
fn next_above(cell: &AtomicU64, now: u64) -> u64 {
    let mut prev = cell.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev.saturating_add(1));
        match cell.compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// How far ahead of the (corrected) clock a timestamp may be moved to keep
/// timestamps unique. Servers reject timestamps far in the future (Binance
/// beyond 1 s), so uniqueness gives way here: a family signing more than
/// 1 000 requests per second for over a second may repeat a timestamp, but
/// its timestamps never run away from the clock.
pub(crate) const MAX_TIMESTAMP_LEAD_MS: u64 = 1_000;

/// The timestamp of a new attempt: `now`, or one more than the last one
/// handed out when the clock has not moved past it — but never more than
/// [`MAX_TIMESTAMP_LEAD_MS`] ahead of `now`.
fn next_timestamp_ms(cell: &AtomicU64, now: u64) -> u64 {
    let mut prev = cell.load(Ordering::Relaxed);
    loop {
        let next = now.max(
            prev.saturating_add(1)
                .min(now.saturating_add(MAX_TIMESTAMP_LEAD_MS)),
        );
        if next == prev {
            return next;
        }
        match cell.compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Everything an authenticated client signs with: credentials, scheme, nonce
/// counter and clock offset. Shared (in an `Arc`) by a client family.
pub(crate) struct Auth {
    pub(crate) credentials: Credentials,
    pub(crate) scheme: Scheme,
    pub(crate) nonce: NonceCounter,
    /// The last timestamp handed out, in ms: timestamps of one family are
    /// unique (strictly increasing) at millisecond resolution up to 1 000
    /// requests per second, and never more than
    /// [`MAX_TIMESTAMP_LEAD_MS`] ahead of the clock.
    last_ms: AtomicU64,
    /// Added to the local clock (server time − local time), in ms.
    pub(crate) clock_offset_ms: AtomicI64,
    sensitive: Vec<HeaderName>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("credentials", &self.credentials)
            .field("scheme", &self.scheme)
            .field("clock_offset_ms", &self.clock_offset_ms)
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub(crate) fn new(credentials: Credentials, scheme: Scheme, clock_offset_ms: i64) -> Self {
        let mut sensitive = scheme.signer.sensitive_headers();
        sensitive.push(credentials.auth_header_name.clone());
        Auth {
            credentials,
            scheme,
            nonce: NonceCounter::new(),
            last_ms: AtomicU64::new(0),
            clock_offset_ms: AtomicI64::new(clock_offset_ms),
            sensitive,
        }
    }

    /// The corrected time of a new attempt: local time plus the clock
    /// offset, moved forward to be after every timestamp handed out before
    /// (at millisecond resolution).
    pub(crate) fn now(&self) -> SystemTime {
        let off = self.clock_offset_ms.load(Ordering::Relaxed);
        let local = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let corrected = local.saturating_add(off).max(0) as u64;
        let ms = next_timestamp_ms(&self.last_ms, corrected);
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    /// Sets the clock offset. The uniqueness floor restarts from the new
    /// clock, so moving the clock back takes effect at once.
    pub(crate) fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.clock_offset_ms.store(offset_ms, Ordering::Relaxed);
        self.last_ms.store(0, Ordering::Relaxed);
    }

    /// Signs one attempt; returns the new body when the signer replaced it.
    pub(crate) fn sign(
        &self,
        method: &Method,
        url: &mut Url,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<Option<bytes::Bytes>> {
        let mut req =
            SigningRequest::new(method, url, headers, body, self.now(), self.nonce.next());
        self.scheme.signer.sign(&mut req, &self.credentials)?;
        Ok(req.replaced_body().map(bytes::Bytes::copy_from_slice))
    }

    pub(crate) fn sensitive_headers(&self) -> &[HeaderName] {
        &self.sensitive
    }

    pub(crate) fn signs_body(&self) -> bool {
        self.scheme.signer.signs_body()
    }
}

#[cfg(test)]
mod timestamp_tests {
    use super::*;

    #[test]
    fn timestamps_are_unique_until_the_lead_cap_and_never_run_ahead() {
        let cell = AtomicU64::new(0);
        let now = 1_700_000_000_000;
        let first: Vec<u64> = (0..1000).map(|_| next_timestamp_ms(&cell, now)).collect();
        assert_eq!(
            first,
            (now..now + 1000).collect::<Vec<_>>(),
            "unique below the cap"
        );
        for _ in 0..10_000 {
            let t = next_timestamp_ms(&cell, now);
            assert!(
                t <= now + MAX_TIMESTAMP_LEAD_MS,
                "{t} ran ahead of the clock"
            );
        }
        // The clock moving on is followed at once.
        assert_eq!(next_timestamp_ms(&cell, now + 5_000), now + 5_000);
    }
}
