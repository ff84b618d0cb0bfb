//! Request signing: the [`Signer`] trait, the [`Scheme`]s Keel ships, and the
//! credentials they use.
//!
//! A signer runs inside the request pipeline at send time, once per attempt,
//! so every attempt carries a fresh timestamp, nonce and signature.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use http::Method;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;
use url::Url;

use crate::error::{Error, Result};

/// The API key and secret a signer uses. Neither is ever printed: `Debug`
/// shows only that they are set.
pub struct Credentials {
    api_key: SecretString,
    api_secret: Option<SecretBox<[u8]>>,
    auth_header_name: HeaderName,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &"[redacted]")
            .field(
                "api_secret",
                &if self.api_secret.is_some() {
                    "[redacted]"
                } else {
                    "(none)"
                },
            )
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
            auth_header_name,
        }
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

    /// The header that carries the API key (default `API-Key`).
    pub fn auth_header_name(&self) -> &HeaderName {
        &self.auth_header_name
    }
}

/// A request being signed: a signer may read everything and add headers or
/// query parameters.
#[non_exhaustive]
pub struct SigningRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The final URL (base + path + query); a signer may append parameters.
    pub url: &'a mut Url,
    /// The headers about to be sent; a signer may add some.
    pub headers: &'a mut HeaderMap,
    /// The body bytes exactly as they will be sent.
    pub body: &'a [u8],
    /// The time of this attempt (already corrected by the clock offset).
    pub timestamp: SystemTime,
    /// A number that strictly increases across every request of a client
    /// family (clones, derived clients, threads, concurrent requests).
    pub nonce: u64,
}

impl SigningRequest<'_> {
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
    /// never indexes it).
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

    /// Keel's default scheme:
    ///
    /// ```text
    /// {auth_header_name}: <api_key>
    /// API-Timestamp: <unix milliseconds>
    /// API-Signature: hex(HMAC-SHA256(api_secret, timestamp + METHOD + path_and_query + body))
    /// ```
    pub fn default_hmac() -> Self {
        Scheme::custom(DefaultHmac)
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
        let mut raw = Vec::with_capacity(64);
        raw.extend_from_slice(c.api_key().as_bytes());
        raw.push(b':');
        if let Some(s) = &c.api_secret {
            raw.extend_from_slice(s.expose_secret());
        }
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(&raw)
        );
        zeroize::Zeroize::zeroize(&mut raw);
        req.set_secret_header(AUTHORIZATION, &value)
    }
    fn signs_body(&self) -> bool {
        false
    }
}

/// The names of the default scheme's headers.
pub const TIMESTAMP_HEADER: &str = "API-Timestamp";
/// The header carrying the default scheme's signature.
pub const SIGNATURE_HEADER: &str = "API-Signature";

#[derive(Debug)]
struct DefaultHmac;
impl Signer for DefaultHmac {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        // Formatted into stack buffers: no String per request.
        let mut ts_buf = [0u8; 20];
        let ts = decimal(
            u64::try_from(req.unix_millis()).unwrap_or(u64::MAX),
            &mut ts_buf,
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(c.api_secret()?)
            .map_err(|_| Error::Signing("the API secret cannot key HMAC-SHA256".into()))?;
        mac.update(ts.as_bytes());
        mac.update(req.method.as_str().as_bytes());
        mac.update(req.url.path().as_bytes());
        if let Some(q) = req.url.query() {
            mac.update(b"?");
            mac.update(q.as_bytes());
        }
        mac.update(req.body);
        let mut sig_buf = [0u8; 64];
        let sig = hex_lower(&mac.finalize().into_bytes(), &mut sig_buf);
        req.set_secret_header(c.auth_header_name().clone(), c.api_key())?;
        req.set_header(HeaderName::from_static("api-timestamp"), ts)?;
        req.set_header(HeaderName::from_static("api-signature"), sig)
    }
    fn requires_secret(&self) -> bool {
        true
    }
    fn sensitive_headers(&self) -> Vec<HeaderName> {
        vec![
            HeaderName::from_static("api-timestamp"),
            HeaderName::from_static("api-signature"),
        ]
    }
}

/// `n` in decimal, written into the end of `buf` (20 digits hold any u64).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[start..]).unwrap_or("0")
}

/// Lowercase hex of up to 32 bytes (an HMAC-SHA256), into `buf`.
fn hex_lower<'b>(bytes: &[u8], buf: &'b mut [u8; 64]) -> &'b str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut len = 0;
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
        len += 2;
    }
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

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
        let now = now_micros();
        let mut prev = self.0.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev + 1);
            match self
                .0
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
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
    /// Added to the local clock (server time − local time), in ms.
    pub(crate) clock_offset_ms: std::sync::atomic::AtomicI64,
    sensitive: Vec<HeaderName>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("credentials", &self.credentials)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub(crate) fn new(
        credentials: Credentials,
        scheme: Scheme,
        clock_offset: Duration,
        ahead: bool,
    ) -> Self {
        let mut sensitive = scheme.signer.sensitive_headers();
        sensitive.push(credentials.auth_header_name.clone());
        let offset = clock_offset.as_millis() as i64;
        Auth {
            credentials,
            scheme,
            nonce: NonceCounter::new(),
            clock_offset_ms: std::sync::atomic::AtomicI64::new(if ahead {
                offset
            } else {
                -offset
            }),
            sensitive,
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        let off = self.clock_offset_ms.load(Ordering::Relaxed);
        let now = SystemTime::now();
        if off >= 0 {
            now + Duration::from_millis(off as u64)
        } else {
            now - Duration::from_millis(off.unsigned_abs())
        }
    }

    pub(crate) fn sign(
        &self,
        method: &Method,
        url: &mut Url,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<()> {
        let mut req = SigningRequest {
            method,
            url,
            headers,
            body,
            timestamp: self.now(),
            nonce: self.nonce.next(),
        };
        self.scheme.signer.sign(&mut req, &self.credentials)
    }

    pub(crate) fn sensitive_headers(&self) -> &[HeaderName] {
        &self.sensitive
    }

    pub(crate) fn signs_body(&self) -> bool {
        self.scheme.signer.signs_body()
    }
}

#[cfg(test)]
mod format_tests {
    use super::{decimal, hex_lower};

    #[test]
    fn decimal_matches_to_string() {
        for n in [0u64, 7, 10, 99, 1_700_000_000_123, u64::MAX] {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
    }

    #[test]
    fn hex_lower_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(37).wrapping_add(3))
            .collect();
        let mut buf = [0u8; 64];
        assert_eq!(hex_lower(&bytes, &mut buf), hex::encode(&bytes));
        let mut buf = [0u8; 64];
        assert_eq!(hex_lower(&[0x00, 0xff, 0x0a], &mut buf), "00ff0a");
    }
}
