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
//! - [`keys`]: Ed25519, ECDSA P-256 and RSA private and public keys
//!   (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1; PEM or DER).
//! - [`jwt::CoinbaseCdp`]: Coinbase CDP (Advanced Trade / App API) — a
//!   short-lived JWT per request, signed with an ES256 or Ed25519 key.
//! - [`webhook`]: the receiving side — Standard Webhooks, Stripe, GitHub and
//!   Slack webhook signatures.
//!
//! Keel's default scheme (`keel-v2`), precisely:
//!
//! ```text
//! {auth_header_name}: <api_key>                       (default header name: API-Key)
//! API-Timestamp: <milliseconds since the Unix epoch, decimal>
//! API-Nonce: <the client family's nonce, decimal u64, strictly increasing>
//! API-Signature: lowercase-hex(HMAC-SHA256(key = api_secret as UTF-8 bytes,
//!                    message = string_to_sign))
//! string_to_sign = API-Timestamp + "\n" + API-Nonce + "\n" + METHOD + "\n"
//!                  + path_and_query + "\n" + body
//! ```
//!
//! where `METHOD` is upper case, `path_and_query` is the path as sent plus
//! `?` and the query string when there is one (`/v1/orders?limit=5`), and
//! `body` is the exact body bytes (empty for none). The nonce makes every
//! signature of a client family unique at any rate; a verifier keys its
//! replay check on (key, nonce). The scheme before it, without a nonce
//! (`timestamp + METHOD + path_and_query + body`, no separators), is kept as
//! [`HmacRecipe::keel_v1`] / [`Scheme::keel_v1`] for servers that use it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
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
pub mod jwt;
pub mod keys;
pub mod recipe;
pub mod rfc9421;
pub mod verify;
pub mod webhook;

pub use keys::{KeyKind, PrivateKey, PublicKey, SignatureAlgorithm};
pub use recipe::HmacRecipe;
pub use rfc9421::Rfc9421;

/// The API key, secret and (for some exchanges) passphrase a signer uses.
/// None of them is ever printed: `Debug` shows only whether they are set.
pub struct Credentials {
    api_key: SecretString,
    api_secret: Option<SecretBox<[u8]>>,
    passphrase: Option<SecretString>,
    private_key: Option<PrivateKey>,
    auth_header_name: HeaderName,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |b: bool| if b { "[redacted]" } else { "(none)" };
        f.debug_struct("Credentials")
            .field("api_key", &"[redacted]")
            .field("api_secret", &set(self.api_secret.is_some()))
            .field("passphrase", &set(self.passphrase.is_some()))
            .field("private_key", &self.private_key)
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
            private_key: None,
            auth_header_name,
        }
    }

    /// Credentials made of a key id and an asymmetric private key (Binance
    /// Ed25519/RSA keys, Coinbase CDP, RFC 9421 with a key pair): the key's
    /// type decides the algorithm.
    pub fn with_key_pair(
        api_key: impl Into<String>,
        private_key: PrivateKey,
        auth_header_name: HeaderName,
    ) -> Self {
        Credentials::new(api_key, None, auth_header_name).with_private_key(private_key)
    }

    /// Adds an asymmetric private key.
    pub fn with_private_key(mut self, key: PrivateKey) -> Self {
        self.private_key = Some(key);
        self
    }

    /// The private key, if one was given.
    pub fn private_key(&self) -> Option<&PrivateKey> {
        self.private_key.as_ref()
    }

    /// The asymmetric key to sign with: the private key given, or the API
    /// secret when it is a PEM/DER private key. `Ok(None)` when there is
    /// neither (the secret is then an HMAC secret).
    pub fn signing_key(&self) -> Result<Option<PrivateKey>> {
        if let Some(k) = &self.private_key {
            return Ok(Some(k.clone()));
        }
        match &self.api_secret {
            Some(s) if keys::looks_like_pem(s.expose_secret()) => {
                let text = unescape_newlines(s.expose_secret());
                let key = match &self.passphrase {
                    Some(p) => PrivateKey::from_bytes_with_passphrase(&text, p.expose_secret()),
                    None => PrivateKey::from_bytes(&text),
                }?;
                Ok(Some(key))
            }
            _ => Ok(None),
        }
    }

    /// Whether the API secret is a PEM text (a private key given where an
    /// HMAC secret may be expected).
    pub fn secret_is_pem(&self) -> bool {
        self.api_secret
            .as_ref()
            .is_some_and(|s| keys::looks_like_pem(s.expose_secret()))
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

/// A PEM copied out of a JSON key file often carries `\n` escapes instead of
/// line breaks (Coinbase CDP's `cdp_api_key.json`); those become newlines.
pub(crate) fn unescape_newlines(text: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(text.len()));
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' && text.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
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

    /// Called once when a client is built, after
    /// [`check_credentials`](Self::check_credentials): returns a signer bound
    /// to these credentials that does per-client work once (a pre-keyed
    /// HMAC state, a parsed private key, cached header values), or `None`
    /// to sign with `self`. The bound signer is kept by the client family
    /// and dropped with it; it is still handed the credentials on every
    /// [`sign`](Self::sign).
    fn prepare(&self, _credentials: &Credentials) -> Result<Option<Arc<dyn Signer>>> {
        Ok(None)
    }

    /// Work to finish before an attempt can be signed — an OAuth2 token to
    /// fetch or renew — or `None` (the default) when there is none. The
    /// pipeline awaits it before every attempt that it returns one for,
    /// then takes the nonce and calls [`sign`](Self::sign).
    fn prepare_attempt(&self) -> Option<SignerFuture<'_>> {
        None
    }

    /// The server answered `401 Unauthorized` to an attempt signed at
    /// `signed_at`. Return `true` to have the request sent once more,
    /// signed afresh (after [`prepare_attempt`](Self::prepare_attempt)),
    /// having dropped credentials that may have been revoked; `false` (the
    /// default) hands the 401 to the caller.
    fn renew_after_unauthorized(&self, _signed_at: std::time::Instant) -> bool {
        false
    }

    /// Whether [`renew_after_unauthorized`](Self::renew_after_unauthorized)
    /// may return `true` (the pipeline then keeps what it needs to send a
    /// request again). Default `false`.
    fn renews_credentials(&self) -> bool {
        false
    }

    /// How this scheme's servers say a request was refused for its
    /// timestamp (outside their window): a test on the status and the
    /// (buffered) body. The client then corrects its clock from the
    /// response's `Date` and sends the request once more, signed afresh.
    /// `None` (the default): the scheme has no such answer.
    fn timestamp_rejection(&self) -> Option<fn(http::StatusCode, &[u8]) -> bool> {
        None
    }

    /// How this scheme's servers say "too many requests" where the status
    /// does not (a code in the buffered body): a test on the status and the
    /// body. Such a response is throttling for the resilience policy
    /// (throttle backoff, `Retry-After`, the throttling budget cost) and
    /// not a failure for the breaker. `None` (the default): the status says
    /// it (429), or the scheme has no such answer.
    fn throttle_rejection(&self) -> Option<fn(http::StatusCode, &[u8]) -> bool> {
        None
    }

    /// Whether this scheme's servers refuse timestamps ahead of their
    /// clock (Bybit and Binance refuse 1 s ahead whatever the receive
    /// window): the clock estimated from `Date` headers then stays behind
    /// the server's instead of at its best guess.
    fn refuses_future_timestamps(&self) -> bool {
        false
    }
}

/// The numeric code in a small JSON error body (`{"code": -1021}` or
/// `{"code": "50102"}`), for the schemes' timestamp-rejection tests.
pub(crate) fn json_code(body: &[u8], field: &str) -> Option<i64> {
    if body.len() > 4096 || !body.starts_with(b"{") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match v.get(field)? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What [`Signer::prepare_attempt`] returns: work the pipeline awaits
/// before signing.
pub type SignerFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

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

    /// The signer a client family built with `credentials` signs with:
    /// the credentials checked ([`Signer::check_credentials`]) and the
    /// signer bound to them ([`Signer::prepare`]: pre-keyed HMAC, parsed
    /// key, cached header values). For tools that sign without a client
    /// (`keel sign`, benchmarks).
    pub fn prepare(&self, credentials: &Credentials) -> Result<Arc<dyn Signer>> {
        self.signer.check_credentials(credentials)?;
        Ok(self
            .signer
            .prepare(credentials)?
            .unwrap_or_else(|| self.signer.clone()))
    }

    /// Keel's default scheme, `keel-v2` ([`HmacRecipe::keel_default`]):
    ///
    /// ```text
    /// {auth_header_name}: <api_key>
    /// API-Timestamp: <unix milliseconds>
    /// API-Nonce: <strictly increasing u64>
    /// API-Signature: hex(HMAC-SHA256(api_secret,
    ///     timestamp \n nonce \n METHOD \n path_and_query \n body))
    /// ```
    pub fn default_hmac() -> Self {
        Scheme::custom(HmacRecipe::keel_default())
    }

    /// Keel's first scheme, without a nonce ([`HmacRecipe::keel_v1`]), for
    /// servers that verify it: `hex(HMAC-SHA256(api_secret, timestamp +
    /// METHOD + path_and_query + body))`. Two requests signed in the same
    /// millisecond may carry the same signature.
    pub fn keel_v1() -> Self {
        Scheme::custom(HmacRecipe::keel_v1())
    }

    /// A declarative HMAC scheme.
    pub fn hmac(recipe: HmacRecipe) -> Self {
        Scheme::custom(recipe)
    }

    /// Kraken spot REST ([`HmacRecipe::kraken`]).
    pub fn kraken() -> Self {
        Scheme::custom(HmacRecipe::kraken())
    }

    /// Binance spot ([`HmacRecipe::binance`]): the key decides the
    /// signature — an HMAC secret signs hex HMAC-SHA256, an Ed25519 private
    /// key base64 Ed25519, an RSA private key base64 RSASSA-PKCS1-v1_5
    /// SHA-256. `newClientOrderId` carries the idempotency key on order
    /// placement.
    pub fn binance() -> Self {
        Scheme::custom(HmacRecipe::binance())
    }

    /// Coinbase **Exchange** (the institutional exchange API, legacy HMAC
    /// keys with a passphrase; [`HmacRecipe::coinbase_exchange`]). For
    /// Coinbase Advanced Trade and the App API use [`Scheme::coinbase_cdp`].
    pub fn coinbase_exchange() -> Self {
        Scheme::custom(HmacRecipe::coinbase_exchange())
    }

    /// Same as [`Scheme::coinbase_exchange`] (the older name).
    pub fn coinbase() -> Self {
        Scheme::coinbase_exchange()
    }

    /// Coinbase **CDP** keys (Advanced Trade and App APIs): a JWT per
    /// request, signed with the key's ES256 or Ed25519 private key, with the
    /// `uri` claim and a 2-minute expiry ([`jwt::CoinbaseCdp`]).
    pub fn coinbase_cdp() -> Self {
        Scheme::custom(jwt::CoinbaseCdp::new())
    }

    /// KuCoin spot/futures v2 keys ([`HmacRecipe::kucoin`]); needs a
    /// passphrase.
    pub fn kucoin() -> Self {
        Scheme::custom(HmacRecipe::kucoin())
    }

    /// Gate.io API v4 ([`HmacRecipe::gate`]).
    pub fn gate() -> Self {
        Scheme::custom(HmacRecipe::gate())
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

/// The next nonce of a [`NonceSource`]: ready now, or after some I/O.
pub enum NextNonce<'a> {
    /// The nonce (or why there is none).
    Ready(Result<u64>),
    /// The nonce comes from a store (Redis `INCR` …): await it.
    Pending(Pin<Box<dyn Future<Output = Result<u64>> + Send + 'a>>),
}

impl fmt::Debug for NextNonce<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextNonce::Ready(r) => f.debug_tuple("Ready").field(r).finish(),
            NextNonce::Pending(_) => f.write_str("Pending(..)"),
        }
    }
}

/// Where a client family's nonces come from: every value is greater than
/// every value handed out before, by this source, to any thread, clone or
/// derived client — and, for a store-backed source, to any process sharing
/// the store (so several processes can sign with one key: Kraken's
/// "Invalid nonce" is exactly this going wrong).
///
/// [`NonceCounter`] is the in-process source (the default). A store-backed
/// source implements [`next_nonce`](Self::next_nonce) with I/O and returns
/// [`NextNonce::Pending`]; one that must not wait per request can reserve a
/// block of values at once (`INCRBY n`) and hand them out as
/// [`NextNonce::Ready`] until the block is used up. Values must fit the
/// schemes that use them (Kraken wants them to keep increasing across
/// restarts: seed from the clock, as [`NonceCounter`] does).
pub trait NonceSource: fmt::Debug + Send + Sync + 'static {
    /// The next nonce.
    fn next_nonce(&self) -> NextNonce<'_>;

    /// The attempt signed with `nonce` is over: its response head arrived
    /// (or it failed, or it was never sent). A source that keeps requests
    /// in nonce order holds its key from `next_nonce` until here and
    /// releases it in the future it returns, which the pipeline awaits
    /// before it goes on. The default holds nothing.
    fn release(&self, nonce: u64) -> Option<ReleaseFuture<'_>> {
        let _ = nonce;
        None
    }
}

/// What [`NonceSource::release`] returns: the release, awaited by the
/// pipeline.
pub type ReleaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A strictly increasing nonce shared by a client family (the in-process
/// [`NonceSource`]).
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

impl NonceSource for NonceCounter {
    fn next_nonce(&self) -> NextNonce<'_> {
        NextNonce::Ready(Ok(self.next()))
    }
}

/// A [`NonceSource`] backed by a shared
/// [`NonceStore`](crate::resilience::NonceStore) (Redis, or the in-memory
/// store): every process that signs with the same key and `key` name gets
/// strictly increasing nonces, seeded from the clock (microseconds) so they
/// keep increasing when the store forgets the key. Answers
/// [`NextNonce::Pending`]: the request pipeline awaits the store before it
/// signs.
pub struct StoreNonceSource {
    store: Arc<dyn crate::resilience::NonceStore>,
    key: String,
    /// For an ordered source: how long a lease holds the key at most, and
    /// how long a request waits for it.
    ordered: Option<(Duration, Duration)>,
    /// The lease of the request in flight (an ordered source lets one
    /// request per key be in flight across the fleet).
    held: std::sync::Mutex<Option<crate::resilience::NonceLease>>,
}

impl fmt::Debug for StoreNonceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreNonceSource")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl StoreNonceSource {
    /// Nonces for `key` (name it after the API key, without the key itself:
    /// `"kraken:main-account"`) from `store`.
    pub fn new(store: Arc<dyn crate::resilience::NonceStore>, key: impl Into<String>) -> Self {
        StoreNonceSource {
            store,
            key: key.into(),
            ordered: None,
            held: std::sync::Mutex::new(None),
        }
    }

    /// Like [`new`](Self::new), and the requests reach the server in nonce
    /// order: each takes a lease on the key with its nonce
    /// ([`NonceStore::nonce_lease`](crate::resilience::NonceStore::nonce_lease))
    /// and holds it until its response head arrived (or it failed), so one
    /// request per key is in flight across every process sharing the
    /// store. For servers that reject a nonce below the last one they saw
    /// (Kraken), where requests racing each other would be refused. A
    /// request waits up to `max_wait` for the key (then it fails, unsent);
    /// a lease expires after `hold`, so a crashed holder blocks the key
    /// that long at most. `hold` should exceed the request timeout.
    pub fn ordered(
        store: Arc<dyn crate::resilience::NonceStore>,
        key: impl Into<String>,
        hold: Duration,
        max_wait: Duration,
    ) -> Self {
        StoreNonceSource {
            ordered: Some((hold, max_wait)),
            ..Self::new(store, key)
        }
    }
}

impl NonceSource for StoreNonceSource {
    fn next_nonce(&self) -> NextNonce<'_> {
        if let Some((hold, max_wait)) = self.ordered {
            return NextNonce::Pending(Box::pin(async move {
                let lease = crate::resilience::lease_nonce(
                    &*self.store,
                    &self.key,
                    now_micros,
                    hold,
                    max_wait,
                )
                .await
                .map_err(|e| {
                    Error::Signing(format!(
                        "no nonce from the shared nonce store ({e}); the request was not sent"
                    ))
                })?;
                let nonce = lease.nonce;
                let stale = self
                    .held
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .replace(lease);
                if let Some(stale) = stale {
                    // A lease whose request never reported back (its call
                    // was dropped): it has expired, since this one was
                    // granted.
                    let _ = self.store.nonce_release(&self.key, &stale).await;
                }
                Ok(nonce)
            }));
        }
        let next = self.store.nonce_next(&self.key, now_micros());
        NextNonce::Pending(Box::pin(async move {
            next.await.map_err(|e| {
                Error::Signing(format!(
                    "the shared nonce store did not answer ({e}); no nonce, so the request was not sent"
                ))
            })
        }))
    }
    fn release(&self, nonce: u64) -> Option<ReleaseFuture<'_>> {
        let lease = self.take_lease(nonce)?;
        Some(Box::pin(async move {
            if let Err(e) = self.store.nonce_release(&self.key, &lease).await {
                // The lease expires on its own after `hold`.
                tracing::warn!(error = %e, "the shared nonce store did not take the lease back");
            }
        }))
    }
}

impl StoreNonceSource {
    fn take_lease(&self, nonce: u64) -> Option<crate::resilience::NonceLease> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*held {
            Some(l) if l.nonce == nonce => held.take(),
            _ => None,
        }
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
    /// The scheme's signer bound to the credentials ([`Signer::prepare`]),
    /// or the scheme's own signer.
    signer: Arc<dyn Signer>,
    pub(crate) nonce: Arc<dyn NonceSource>,
    /// The last timestamp handed out, in ms: timestamps of one family are
    /// unique (strictly increasing) at millisecond resolution up to 1 000
    /// requests per second, and never more than
    /// [`MAX_TIMESTAMP_LEAD_MS`] ahead of the clock.
    last_ms: AtomicU64,
    /// Added to the local clock (server time − local time), in ms.
    pub(crate) clock_offset_ms: AtomicI64,
    /// Clock offsets estimated from servers' `Date` headers, per origin
    /// (host and port); they take the place of `clock_offset_ms` for their
    /// origin.
    skews: std::sync::RwLock<Vec<Skew>>,
    /// The last `Date` header read, and its time: responses within one
    /// second carry the same text, so most are not parsed again.
    last_date: std::sync::Mutex<Option<(HeaderValue, SystemTime)>>,
    /// The scheme's test for "refused for its timestamp", if it has one.
    pub(crate) stale: Option<fn(http::StatusCode, &[u8]) -> bool>,
    /// The scheme's test for "too many requests" in a body, if it has one.
    pub(crate) throttled: Option<fn(http::StatusCode, &[u8]) -> bool>,
    /// The scheme's servers refuse timestamps ahead of their clock.
    behind: bool,
    sensitive: Vec<HeaderName>,
}

/// A clock offset learnt from an origin's `Date` headers.
#[derive(Debug, Clone)]
struct Skew {
    host: String,
    port: u16,
    offset_ms: i64,
}

/// The most origins whose clock offsets a family remembers.
const MAX_SKEWS: usize = 64;

/// A `Date`-based estimate replaces the offset in force only when they
/// differ by at least this much: `Date` has a resolution of one second, so
/// a smaller difference is the header's rounding, not the clocks.
const SKEW_RESOLUTION_MS: i64 = 1_000;

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
    /// The signing state of a client family. Checks the credentials against
    /// the scheme and binds the signer ([`Signer::prepare`]).
    pub(crate) fn new(
        credentials: Credentials,
        scheme: Scheme,
        clock_offset_ms: i64,
        nonce: Option<Arc<dyn NonceSource>>,
    ) -> Result<Self> {
        scheme.signer.check_credentials(&credentials)?;
        let signer = scheme
            .signer
            .prepare(&credentials)?
            .unwrap_or_else(|| scheme.signer.clone());
        Ok(Self::with_signer(
            credentials,
            scheme,
            signer,
            clock_offset_ms,
            nonce,
        ))
    }

    fn with_signer(
        credentials: Credentials,
        scheme: Scheme,
        signer: Arc<dyn Signer>,
        clock_offset_ms: i64,
        nonce: Option<Arc<dyn NonceSource>>,
    ) -> Self {
        let mut sensitive = scheme.signer.sensitive_headers();
        sensitive.push(credentials.auth_header_name.clone());
        let stale = scheme.signer.timestamp_rejection();
        let throttled = scheme.signer.throttle_rejection();
        let behind = scheme.signer.refuses_future_timestamps();
        Auth {
            credentials,
            scheme,
            signer,
            nonce: nonce.unwrap_or_else(|| Arc::new(NonceCounter::new())),
            last_ms: AtomicU64::new(0),
            clock_offset_ms: AtomicI64::new(clock_offset_ms),
            skews: std::sync::RwLock::new(Vec::new()),
            last_date: std::sync::Mutex::new(None),
            stale,
            throttled,
            behind,
            sensitive,
        }
    }

    /// The clock offset for requests to `url`: the one learnt from its
    /// origin's `Date` headers, or the family's.
    pub(crate) fn offset_for(&self, url: &Url) -> i64 {
        let skews = self
            .skews
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !skews.is_empty() {
            let (host, port) = (url.host_str(), url.port_or_known_default());
            if let Some(s) = skews
                .iter()
                .find(|s| Some(s.host.as_str()) == host && Some(s.port) == port)
            {
                return s.offset_ms;
            }
        }
        self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// The time a response's `Date` header says (`None` when it is not an
    /// HTTP date), from the last one read when the text is the same.
    pub(crate) fn date_of(&self, value: &HeaderValue) -> Option<SystemTime> {
        let mut last = self
            .last_date
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((text, time)) = last.as_ref() {
            if text == value {
                return Some(*time);
            }
        }
        let time = httpdate::parse_http_date(value.to_str().ok()?).ok()?;
        *last = Some((value.clone(), time));
        Some(time)
    }

    /// Learns the server's clock from a response's `Date` (as the AWS SDKs
    /// do: server time minus the midpoint of sending and receiving), for
    /// `url`'s origin. `sent` and `received` are this machine's clock.
    /// For a scheme whose servers refuse future timestamps the estimate is
    /// the `Date` itself at receipt, which is never ahead of the server.
    /// Returns the new offset when it changed.
    pub(crate) fn observe_date(
        &self,
        url: &Url,
        sent: SystemTime,
        received: SystemTime,
        date: SystemTime,
    ) -> Option<i64> {
        let ms = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        };
        let (sent, received, date) = (ms(sent), ms(received), ms(date));
        if received < sent {
            return None;
        }
        let estimate = if self.behind {
            date - received
        } else {
            // `Date` truncates to the second: the server's clock read
            // somewhere in [date, date + 1 s).
            date + SKEW_RESOLUTION_MS / 2 - (sent + (received - sent) / 2)
        };
        if estimate.unsigned_abs() > crate::validate::MAX_DURATION.as_millis() as u64 {
            return None;
        }
        let current = self.offset_for(url);
        let change = if self.behind {
            // The server's clock is at least `estimate` ahead of this
            // machine's, and at most `date + 1 s - sent`: move when the
            // offset in force is surely ahead of the server, or more than
            // the Date's resolution behind the estimate.
            let most = date + SKEW_RESOLUTION_MS - sent;
            current > most || estimate - current >= SKEW_RESOLUTION_MS
        } else {
            (estimate - current).abs() >= SKEW_RESOLUTION_MS
        };
        if !change {
            return None;
        }
        let (host, port) = (url.host_str()?, url.port_or_known_default()?);
        {
            let mut skews = self
                .skews
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match skews.iter_mut().find(|s| s.host == host && s.port == port) {
                Some(s) => s.offset_ms = estimate,
                None => {
                    if skews.len() >= MAX_SKEWS {
                        skews.remove(0);
                    }
                    skews.push(Skew {
                        host: host.to_owned(),
                        port,
                        offset_ms: estimate,
                    });
                }
            }
        }
        // The uniqueness floor restarts from the corrected clock.
        self.last_ms.store(0, Ordering::Relaxed);
        tracing::info!(
            host,
            port,
            offset_ms = estimate,
            "clock offset learnt from the server's Date header"
        );
        Some(estimate)
    }

    /// The corrected time of a new attempt: local time plus the clock
    /// offset `off` (ms), moved forward to be after every timestamp handed
    /// out before (at millisecond resolution).
    fn now_with(&self, off: i64) -> SystemTime {
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
        // A measured offset replaces what `Date` headers suggested.
        self.skews
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.last_ms.store(0, Ordering::Relaxed);
    }

    /// Signs one attempt with the next nonce of a source that answers at
    /// once (the unit tests' shortcut; the pipeline awaits any source, then
    /// calls [`sign_with_nonce`](Self::sign_with_nonce)).
    #[cfg(test)]
    pub(crate) fn sign(
        &self,
        method: &Method,
        url: &mut Url,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<Option<bytes::Bytes>> {
        let nonce = match self.nonce.next_nonce() {
            NextNonce::Ready(n) => n?,
            NextNonce::Pending(_) => {
                return Err(Error::Signing(
                    "this nonce source answers asynchronously".into(),
                ))
            }
        };
        self.sign_with_nonce(method, url, headers, body, nonce)
    }

    /// Signs one attempt with a nonce obtained before.
    pub(crate) fn sign_with_nonce(
        &self,
        method: &Method,
        url: &mut Url,
        headers: &mut HeaderMap,
        body: &[u8],
        nonce: u64,
    ) -> Result<Option<bytes::Bytes>> {
        let now = self.now_with(self.offset_for(url));
        let mut req = SigningRequest::new(method, url, headers, body, now, nonce);
        self.signer.sign(&mut req, &self.credentials)?;
        Ok(req.replaced_body().map(bytes::Bytes::copy_from_slice))
    }

    pub(crate) fn sensitive_headers(&self) -> &[HeaderName] {
        &self.sensitive
    }

    pub(crate) fn signs_body(&self) -> bool {
        self.signer.signs_body()
    }

    /// Work the signer needs done before it signs an attempt.
    pub(crate) fn prepare_attempt(&self) -> Option<SignerFuture<'_>> {
        self.signer.prepare_attempt()
    }

    /// See [`Signer::renews_credentials`].
    pub(crate) fn renews_credentials(&self) -> bool {
        self.signer.renews_credentials()
    }

    /// See [`Signer::renew_after_unauthorized`].
    pub(crate) fn renew_after_unauthorized(&self, signed_at: std::time::Instant) -> bool {
        self.signer.renew_after_unauthorized(signed_at)
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

#[cfg(test)]
mod uniqueness_tests {
    use super::verify::{Rejection, Verifier, VerifyRequest};
    use super::*;
    use std::collections::HashSet;

    /// One client family signing from 4 threads as fast as it can: the
    /// timestamps repeat (many requests per millisecond), yet the default
    /// scheme's verifier accepts every request, and still refuses a true
    /// replay. The rate is printed, not asserted (machines are noisy): about
    /// 20 000 requests/s in a debug build on 2 cores, far more optimised.
    #[test]
    fn the_default_verifier_accepts_every_request_at_any_rate_and_rejects_replays() {
        const THREADS: usize = 4;
        const PER_THREAD: usize = 5_000;
        let auth = Arc::new(
            Auth::new(
                Credentials::new(
                    "k-1",
                    Some(b"s3cr3t".to_vec()),
                    HeaderName::from_static("api-key"),
                ),
                Scheme::default_hmac(),
                0,
                None,
            )
            .unwrap_or_else(|e| panic!("{e}")),
        );
        let started = std::time::Instant::now();
        let signed: Vec<Vec<HeaderMap>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    let auth = auth.clone();
                    s.spawn(move || {
                        (0..PER_THREAD)
                            .map(|_| {
                                let mut url = Url::parse("https://api.test/v1/orders?x=1")
                                    .unwrap_or_else(|e| panic!("{e}"));
                                let mut h = HeaderMap::new();
                                auth.sign(&Method::POST, &mut url, &mut h, b"{}")
                                    .unwrap_or_else(|e| panic!("{e}"));
                                h
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| panic!("a signing thread failed"))
                })
                .collect()
        });
        let elapsed = started.elapsed();
        let all: Vec<HeaderMap> = signed.into_iter().flatten().collect();
        let rate = all.len() as f64 / elapsed.as_secs_f64();
        let timestamps: HashSet<&[u8]> =
            all.iter().map(|h| h["api-timestamp"].as_bytes()).collect();
        println!(
            "{} requests signed in {elapsed:?} ({rate:.0} requests/s), {} distinct timestamps",
            all.len(),
            timestamps.len()
        );
        let verifier = Verifier::builder(HmacRecipe::keel_default())
            .key("k-1", "s3cr3t")
            .build();
        let now = SystemTime::now();
        for h in &all {
            let req = VerifyRequest::new(&Method::POST, "/v1/orders?x=1", h, b"{}");
            if let Err(e) = verifier.verify_at(&req, now) {
                panic!("a request of the family was rejected: {e}");
            }
        }
        // A true replay (the same signed request again) is still refused.
        let req = VerifyRequest::new(&Method::POST, "/v1/orders?x=1", &all[17], b"{}");
        assert_eq!(verifier.verify_at(&req, now), Err(Rejection::ReplayedNonce));
    }
}

#[cfg(test)]
mod nonce_source_tests {
    use super::*;

    #[test]
    fn a_store_backed_source_hands_out_increasing_nonces_and_the_sync_path_says_so() {
        let store: Arc<dyn crate::resilience::NonceStore> =
            Arc::new(crate::resilience::InMemoryStore::new());
        let a = StoreNonceSource::new(store.clone(), "acct");
        let b = StoreNonceSource::new(store, "acct");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut last = 0;
        for i in 0..100 {
            let src = if i % 2 == 0 { &a } else { &b };
            let n = match src.next_nonce() {
                NextNonce::Pending(f) => rt.block_on(f).unwrap_or_else(|e| panic!("{e}")),
                NextNonce::Ready(_) => panic!("a store-backed source is asynchronous"),
            };
            assert!(n > last, "{n} after {last}");
            last = n;
        }
        // Today's synchronous signing step cannot wait for it: a clear error,
        // never an unsigned or un-nonced request.
        let auth = Auth::new(
            Credentials::new("k", Some(b"s".to_vec()), HeaderName::from_static("api-key")),
            Scheme::default_hmac(),
            0,
            Some(Arc::new(a)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut url = Url::parse("https://api.test/x").unwrap_or_else(|e| panic!("{e}"));
        let err = auth
            .sign(&Method::GET, &mut url, &mut HeaderMap::new(), b"")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("nonce source answers asynchronously"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod skew_tests {
    use super::*;

    fn auth(scheme: Scheme) -> Auth {
        Auth::new(
            Credentials::new(
                "k-1",
                Some(b"s3cr3t-s3cr3t-s3cr3t-s3cr3t".to_vec()),
                HeaderName::from_static("api-key"),
            ),
            scheme,
            0,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn the_offset_is_the_date_minus_the_midpoint_per_origin() {
        let a = auth(Scheme::default_hmac());
        let url = Url::parse("https://api.example.com/x").unwrap();
        let other = Url::parse("https://other.example.com/x").unwrap();
        // Sent at 1 000 000, received 200 ms later; the server's Date says
        // 1 060 000 (truncated to the second): offset 60 000 + 500 - 100.
        let got = a.observe_date(&url, at(1_000_000), at(1_000_200), at(1_060_000));
        assert_eq!(got, Some(60_400));
        assert_eq!(a.offset_for(&url), 60_400);
        assert_eq!(a.offset_for(&other), 0, "another origin keeps the family's");
        // Within the Date's resolution: no change.
        assert_eq!(
            a.observe_date(&url, at(2_000_000), at(2_000_100), at(2_060_000)),
            None
        );
        // A clock measured by hand replaces what Dates suggested.
        a.set_clock_offset_ms(-5);
        assert_eq!(a.offset_for(&url), -5);
        // Nonsense is ignored: received before sent.
        assert_eq!(
            a.observe_date(&url, at(3_000_000), at(2_000_000), at(9_000_000)),
            None
        );
    }

    #[test]
    fn schemes_whose_servers_refuse_future_timestamps_stay_behind() {
        for scheme in [Scheme::bybit(), Scheme::binance()] {
            let a = auth(scheme);
            let url = Url::parse("https://api.bybit.com/v5").unwrap();
            // The server's clock read somewhere in [Date, Date + 1 s) when
            // it answered; received at 1 000 400 local: the estimate is
            // Date − received, never ahead of the server.
            let got = a.observe_date(&url, at(1_000_000), at(1_000_400), at(1_003_000));
            assert_eq!(got, Some(2_600));
            // A later, closer answer that would put the clock ahead is not
            // taken while the one in force is behind …
            assert_eq!(
                a.observe_date(&url, at(2_000_000), at(2_000_100), at(2_002_000)),
                None
            );
            // … but one that shows the clock ahead of the server is.
            assert_eq!(
                a.observe_date(&url, at(3_000_000), at(3_000_100), at(3_002_000)),
                None
            );
            assert_eq!(
                a.observe_date(&url, at(4_000_000), at(4_000_100), at(4_001_000)),
                Some(900)
            );
        }
    }

    #[test]
    fn each_preset_recognises_its_timestamp_refusal_and_nothing_else() {
        let t = |s: Scheme| s.signer().timestamp_rejection().expect("a preset test");
        let binance = t(Scheme::binance());
        assert!(binance(
            http::StatusCode::BAD_REQUEST,
            br#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#
        ));
        assert!(!binance(
            http::StatusCode::BAD_REQUEST,
            br#"{"code":-1022}"#
        ));
        assert!(!binance(http::StatusCode::OK, br#"{"code":-1021}"#));
        let bybit = t(Scheme::bybit());
        assert!(bybit(
            http::StatusCode::OK,
            br#"{"retCode":10002,"retMsg":"invalid request, please check your server timestamp or recv_window param"}"#
        ));
        assert!(!bybit(
            http::StatusCode::OK,
            br#"{"retCode":0,"retMsg":"OK"}"#
        ));
        let okx = t(Scheme::okx());
        assert!(okx(
            http::StatusCode::UNAUTHORIZED,
            br#"{"msg":"Timestamp request expired","code":"50102"}"#
        ));
        assert!(!okx(http::StatusCode::UNAUTHORIZED, br#"{"code":"50113"}"#));
        let default = t(Scheme::default_hmac());
        assert!(default(
            http::StatusCode::UNAUTHORIZED,
            br#"{"error":"stale timestamp"}"#
        ));
        assert!(!default(
            http::StatusCode::UNAUTHORIZED,
            br#"{"error":"bad signature"}"#
        ));
        assert!(!default(
            http::StatusCode::FORBIDDEN,
            br#"{"error":"stale timestamp"}"#
        ));
        assert!(Scheme::api_key_header()
            .signer()
            .timestamp_rejection()
            .is_none());
        assert!(Scheme::bybit().signer().refuses_future_timestamps());
        assert!(!Scheme::okx().signer().refuses_future_timestamps());
    }
}
