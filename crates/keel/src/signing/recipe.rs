//! A declarative HMAC scheme: the [`HmacRecipe`].
//!
//! A recipe says, without code, everything the common "HMAC over some parts
//! of the request" schemes differ in:
//!
//! - the ordered [`Part`]s of the string to sign (timestamp, nonce, method,
//!   path, query, path + query, body, the API key, literal text, and a hash
//!   of other parts);
//! - the [`Digest`] (SHA-256/384/512), how the secret is decoded
//!   ([`SecretEncoding`]) and how the signature is written ([`Encoding`]);
//! - where the key, timestamp, nonce, passphrase and signature go
//!   ([`Placement`]: a header, a query parameter or a form field);
//! - the [`TimestampFormat`].
//!
//! The same recipe verifies requests on the server side
//! ([`Verifier`](super::verify::Verifier)).
//!
//! ```
//! use keel::signing::recipe::{Digest, Encoding, HmacRecipe, Part, Placement, TimestampFormat};
//!
//! // "X-Sig: base64(HMAC-SHA512(secret, ts + "\n" + METHOD + "\n" + path))"
//! let recipe = HmacRecipe::new("my-api")
//!     .parts([Part::Timestamp, Part::literal("\n"), Part::Method, Part::literal("\n"), Part::Path])
//!     .digest(Digest::Sha512)
//!     .output(Encoding::Base64)
//!     .key(Placement::header("X-Key")?)
//!     .timestamp(Placement::header("X-Ts")?, TimestampFormat::UnixSeconds)
//!     .signature(Placement::header("X-Sig")?);
//! let scheme = keel::signing::Scheme::hmac(recipe);
//! # let _ = scheme;
//! # Ok::<(), keel::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use std::sync::Arc;

use super::keys::PrivateKey;
use super::{Credentials, Signer, SigningRequest};
use crate::error::{Error, Result};

/// One piece of the string to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The timestamp, as placed on the request (in the recipe's format).
    Timestamp,
    /// The nonce, as placed on the request (decimal).
    Nonce,
    /// The method, upper case (`POST`).
    Method,
    /// The path as sent (`/v1/orders`).
    Path,
    /// The query string as sent, without `?` (empty when there is none); a
    /// signature placed in the query is not part of it.
    Query,
    /// The path, then `?` and the query when there is one.
    PathAndQuery,
    /// The body bytes as sent (a signature placed in the form body is not
    /// part of them).
    Body,
    /// The API key.
    ApiKey,
    /// Literal text (a separator, a fixed value such as a receive window).
    Literal(String),
    /// The raw digest (bytes, not text) of the concatenation of other parts.
    Hash(Digest, Vec<Part>),
    /// The lowercase-hex digest of the concatenation of other parts (Gate.io
    /// signs `hex(SHA-512(body))`).
    HexHash(Digest, Vec<Part>),
}

impl Part {
    /// A literal piece of text.
    pub fn literal(text: impl Into<String>) -> Self {
        Part::Literal(text.into())
    }

    /// The raw SHA-256 digest of the concatenation of `parts`.
    pub fn sha256(parts: impl IntoIterator<Item = Part>) -> Self {
        Part::Hash(Digest::Sha256, parts.into_iter().collect())
    }

    /// The lowercase-hex digest of the concatenation of `parts`.
    pub fn hex_hash(digest: Digest, parts: impl IntoIterator<Item = Part>) -> Self {
        Part::HexHash(digest, parts.into_iter().collect())
    }
}

/// Where an API wants its client order id.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldLocation {
    /// A query parameter.
    Query,
    /// A field of an `application/x-www-form-urlencoded` body.
    Form,
    /// A top-level member of a JSON object body.
    Json,
}

/// What a client order id may look like.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdFormat {
    /// Up to `max_len` of `A-Z a-z 0-9` and the bytes in `extra`.
    Chars {
        /// The longest id accepted.
        max_len: usize,
        /// Allowed bytes besides ASCII letters and digits.
        extra: &'static str,
    },
    /// A UUID (`8-4-4-4-12` hex digits).
    Uuid,
}

impl IdFormat {
    fn fits(&self, id: &str) -> bool {
        match self {
            IdFormat::Chars { max_len, extra } => {
                !id.is_empty()
                    && id.len() <= *max_len
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || extra.as_bytes().contains(&b))
            }
            IdFormat::Uuid => {
                let groups: Vec<&str> = id.split('-').collect();
                groups.len() == 5
                    && groups
                        .iter()
                        .zip([8, 4, 4, 4, 12])
                        .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
            }
        }
    }

    /// The id for idempotency key `key`: the key itself when it fits,
    /// otherwise derived from its SHA-256 (so the same key always maps to
    /// the same id).
    fn derive(&self, key: &str) -> String {
        if self.fits(key) {
            return key.to_owned();
        }
        let h = hex::encode(digest(Digest::Sha256, key.as_bytes()));
        match self {
            IdFormat::Chars { max_len, .. } => h[..(*max_len).min(h.len())].to_owned(),
            IdFormat::Uuid => format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            ),
        }
    }
}

/// Maps Keel's idempotency key (the `Idempotency-Key` header a request
/// carries, from [`RequestBuilder::idempotency_key`](crate::RequestBuilder::idempotency_key)
/// or generated by [`Resilience`](crate::Resilience)) to the API's own
/// client order id field, on order-placement requests. The exchange then
/// refuses a second order with the same id, so an order POST retried after
/// a lost response is never placed twice.
///
/// The field is set only when the request does not carry it already; the
/// same key always gives the same id (a key that does not fit the API's
/// format is replaced by a digest of it that does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOrderId {
    field: String,
    location: FieldLocation,
    paths: Vec<String>,
    prefix: String,
    format: IdFormat,
}

impl ClientOrderId {
    /// `field` at `location`, on POST requests whose path ends with one of
    /// `paths` (`*` matches one path segment: `/api/v4/futures/*/orders`).
    pub fn new(
        field: impl Into<String>,
        location: FieldLocation,
        paths: impl IntoIterator<Item = impl Into<String>>,
        format: IdFormat,
    ) -> Self {
        ClientOrderId {
            field: field.into(),
            location,
            paths: paths.into_iter().map(Into::into).collect(),
            prefix: String::new(),
            format,
        }
    }

    /// A fixed prefix the API requires (Gate.io: `t-`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The field name.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The id sent for idempotency key `key`.
    pub fn id_for(&self, key: &str) -> String {
        format!("{}{}", self.prefix, self.format.derive(key))
    }

    fn applies(&self, method: &http::Method, path: &str) -> bool {
        *method == http::Method::POST && self.paths.iter().any(|p| path_ends_with(path, p))
    }

    /// Puts the id on the request (unless it has the field already).
    fn apply(&self, req: &mut SigningRequest<'_>) -> Result<()> {
        let Some(key) = req
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return Ok(());
        };
        if !self.applies(req.method, req.url.path()) {
            return Ok(());
        }
        let id = self.id_for(&key);
        match self.location {
            FieldLocation::Query => {
                let present = req
                    .url
                    .query()
                    .is_some_and(|q| query_value(q, &self.field).is_some());
                if !present {
                    req.url.query_pairs_mut().append_pair(&self.field, &id);
                }
            }
            FieldLocation::Form => {
                if form_value(req.body(), &self.field).is_none() {
                    let mut body = req.body().to_vec();
                    if !body.is_empty() {
                        body.push(b'&');
                    }
                    body.extend_from_slice(encode_pair(&self.field, &id).as_bytes());
                    ensure_form_content_type(req);
                    req.set_body(body);
                }
            }
            FieldLocation::Json => {
                if let Some(body) = insert_json_field(req.body(), &self.field, &id)? {
                    req.set_body(body);
                }
            }
        }
        Ok(())
    }
}

/// Whether `path` ends with the segments of `pattern` (`*` matches any one
/// segment).
fn path_ends_with(path: &str, pattern: &str) -> bool {
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let q: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    if q.len() > p.len() {
        return false;
    }
    p[p.len() - q.len()..]
        .iter()
        .zip(&q)
        .all(|(a, b)| *b == "*" || a == b)
}

/// `body` (a JSON object) with `"field":"value",` inserted right after its
/// opening brace, every other byte kept; `None` when the object has the
/// field already. A body that is not a JSON object is an error: the id
/// cannot be placed, and the order must not go out without it.
fn insert_json_field(body: &[u8], field: &str, value: &str) -> Result<Option<Vec<u8>>> {
    let not_object = || {
        Error::Signing(format!(
            "this order request carries an idempotency key, which goes into the JSON body's {field:?} field, but the body is not a JSON object"
        ))
    };
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|_| not_object())?;
    if parsed.contains_key(field) {
        return Ok(None);
    }
    let open = body
        .iter()
        .position(|b| *b == b'{')
        .ok_or_else(not_object)?;
    let member =
        serde_json::to_string(&serde_json::json!({ field: value })).map_err(|_| not_object())?;
    // `{"field":"value"}` -> `"field":"value"`
    let member = &member[1..member.len() - 1];
    let mut out = Vec::with_capacity(body.len() + member.len() + 1);
    out.extend_from_slice(&body[..=open]);
    out.extend_from_slice(member.as_bytes());
    if !parsed.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(&body[open + 1..]);
    Ok(Some(out))
}

/// A hash function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// How the API secret is turned into the HMAC key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretEncoding {
    /// The secret's bytes as given.
    Raw,
    /// The secret is standard base64; its decoded bytes are the key.
    Base64,
    /// The secret is hexadecimal; its decoded bytes are the key.
    Hex,
}

/// How the signature bytes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Lowercase hexadecimal (verification accepts either case).
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// How the timestamp is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampFormat {
    /// Whole seconds since the Unix epoch (`1618884473`).
    UnixSeconds,
    /// Milliseconds since the Unix epoch (`1618884473123`).
    UnixMillis,
    /// ISO-8601 UTC with milliseconds (`2021-04-20T02:07:53.123Z`).
    Iso8601Millis,
}

/// Where a value goes on the request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// In this header.
    Header(HeaderName),
    /// In the client's `auth_header_name` header (default `API-Key`); for
    /// the API key.
    AuthHeader,
    /// As this query parameter (appended; a timestamp or nonce the caller
    /// already put in the query or in a form body is used as it is).
    Query(String),
    /// As this field of an `application/x-www-form-urlencoded` body (a
    /// timestamp or nonce the caller already put there is used as it is).
    FormField(String),
    /// Not sent (a value may still be part of the string to sign).
    Omit,
}

impl Placement {
    /// A header placement, with a clear error for an invalid header name.
    pub fn header(name: &str) -> Result<Self> {
        HeaderName::from_bytes(name.as_bytes())
            .map(Placement::Header)
            .map_err(|_| Error::config(format!("{name:?} is not a valid header name")))
    }

    /// A query parameter placement.
    pub fn query(name: impl Into<String>) -> Self {
        Placement::Query(name.into())
    }

    /// A form field placement.
    pub fn form_field(name: impl Into<String>) -> Self {
        Placement::FormField(name.into())
    }

    /// Describes where to look, for a rejection reason ("header API-Key").
    pub(crate) fn describe(&self, auth_header: &str) -> String {
        match self {
            Placement::Header(h) => format!("header {}", canonical_case(h.as_str())),
            Placement::AuthHeader => format!("header {auth_header}"),
            Placement::Query(q) => format!("query parameter {q}"),
            Placement::FormField(f) => format!("form field {f}"),
            Placement::Omit => "value".into(),
        }
    }
}

/// `api-key` -> `API-Key`, `x-mbx-apikey` -> `X-Mbx-Apikey` (for messages).
fn canonical_case(name: &str) -> String {
    name.split('-')
        .map(|w| {
            if w.eq_ignore_ascii_case("api") {
                "API".to_string()
            } else {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A declarative HMAC signing scheme. See the [module docs](self).
#[derive(Clone)]
pub struct HmacRecipe {
    pub(crate) name: String,
    pub(crate) parts: Vec<Part>,
    pub(crate) digest: Digest,
    pub(crate) secret_encoding: SecretEncoding,
    pub(crate) output: Encoding,
    pub(crate) key: Placement,
    pub(crate) signature: Placement,
    pub(crate) timestamp: Placement,
    pub(crate) timestamp_format: TimestampFormat,
    pub(crate) nonce: Placement,
    pub(crate) passphrase: Placement,
    pub(crate) extra_headers: Vec<(HeaderName, HeaderValue)>,
    /// The passphrase is sent as base64(HMAC(secret, passphrase)) (KuCoin v2).
    pub(crate) sign_passphrase: bool,
    /// Fixed parameters added when the request has none of that name.
    pub(crate) params: Vec<(Placement, String)>,
    /// The decoded key's accepted lengths (inclusive), when the API fixes it.
    pub(crate) key_len: Option<(usize, usize)>,
    /// How signatures made with an asymmetric key are written, when the
    /// scheme accepts such keys (Binance: base64).
    pub(crate) asymmetric: Option<Encoding>,
    pub(crate) client_order_id: Option<ClientOrderId>,
}

impl fmt::Debug for HmacRecipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacRecipe")
            .field("name", &self.name)
            .field("parts", &self.parts)
            .field("digest", &self.digest)
            .field("secret_encoding", &self.secret_encoding)
            .field("output", &self.output)
            .field("key", &self.key)
            .field("signature", &self.signature)
            .field("timestamp", &self.timestamp)
            .field("timestamp_format", &self.timestamp_format)
            .field("nonce", &self.nonce)
            .field("passphrase", &self.passphrase)
            .field("sign_passphrase", &self.sign_passphrase)
            .field("params", &self.params)
            .field("key_len", &self.key_len)
            .field("asymmetric", &self.asymmetric)
            .field("client_order_id", &self.client_order_id)
            .finish()
    }
}

impl HmacRecipe {
    /// A recipe named `name` (used in messages) with the defaults of Keel's
    /// default scheme: HMAC-SHA256, raw secret, hex output, key in the
    /// `auth_header_name` header, `API-Timestamp` in unix ms,
    /// `API-Signature`, no nonce, and no parts (set them with
    /// [`parts`](Self::parts)).
    pub fn new(name: impl Into<String>) -> Self {
        HmacRecipe {
            name: name.into(),
            parts: Vec::new(),
            digest: Digest::Sha256,
            secret_encoding: SecretEncoding::Raw,
            output: Encoding::Hex,
            key: Placement::AuthHeader,
            signature: Placement::Header(HeaderName::from_static("api-signature")),
            timestamp: Placement::Header(HeaderName::from_static("api-timestamp")),
            timestamp_format: TimestampFormat::UnixMillis,
            nonce: Placement::Omit,
            passphrase: Placement::Omit,
            extra_headers: Vec::new(),
            sign_passphrase: false,
            params: Vec::new(),
            key_len: None,
            asymmetric: None,
            client_order_id: None,
        }
    }

    /// The ordered parts of the string to sign.
    pub fn parts(mut self, parts: impl IntoIterator<Item = Part>) -> Self {
        self.parts = parts.into_iter().collect();
        self
    }

    /// The HMAC hash.
    pub fn digest(mut self, digest: Digest) -> Self {
        self.digest = digest;
        self
    }

    /// How the secret is decoded into the HMAC key.
    pub fn secret_encoding(mut self, encoding: SecretEncoding) -> Self {
        self.secret_encoding = encoding;
        self
    }

    /// How the signature is written.
    pub fn output(mut self, encoding: Encoding) -> Self {
        self.output = encoding;
        self
    }

    /// Where the API key goes.
    pub fn key(mut self, placement: Placement) -> Self {
        self.key = placement;
        self
    }

    /// Where the signature goes (a header, query parameter or form field).
    pub fn signature(mut self, placement: Placement) -> Self {
        self.signature = placement;
        self
    }

    /// Where the timestamp goes and how it is written.
    pub fn timestamp(mut self, placement: Placement, format: TimestampFormat) -> Self {
        self.timestamp = placement;
        self.timestamp_format = format;
        self
    }

    /// Where the nonce goes ([`Placement::Omit`] keeps it out of the request
    /// unless a [`Part::Nonce`] signs it).
    pub fn nonce(mut self, placement: Placement) -> Self {
        self.nonce = placement;
        self
    }

    /// Where the passphrase goes (Coinbase, OKX); the client then needs one.
    pub fn passphrase(mut self, placement: Placement) -> Self {
        self.passphrase = placement;
        self
    }

    /// A fixed header sent with every signed request (for example a receive
    /// window).
    pub fn header(mut self, name: &str, value: &str) -> Result<Self> {
        let (n, v) = crate::config::parse_header(name, value)?;
        self.extra_headers.push((n, v));
        Ok(self)
    }

    /// A fixed parameter (for example a receive window): placed as
    /// `placement` says (a query parameter, form field or header) with
    /// `value`, unless the request carries it already. Placed before the
    /// signature is computed, so it is signed where the recipe's parts
    /// cover it.
    pub fn param(mut self, placement: Placement, value: impl Into<String>) -> Self {
        self.params.push((placement, value.into()));
        self
    }

    /// The passphrase is sent as base64(HMAC(secret, passphrase)) with the
    /// recipe's digest, not as given (KuCoin API key version 2).
    pub fn sign_passphrase(mut self, sign: bool) -> Self {
        self.sign_passphrase = sign;
        self
    }

    /// The decoded secret must be between `min` and `max` bytes long
    /// (checked when the client is built).
    pub fn key_length(mut self, min: usize, max: usize) -> Self {
        self.key_len = Some((min, max));
        self
    }

    /// Accepts an asymmetric private key instead of an HMAC secret: the
    /// string to sign is then signed with the key's algorithm (Ed25519,
    /// ECDSA P-256, RSA PKCS#1 v1.5 SHA-256) and written as `encoding`.
    pub fn accept_private_keys(mut self, encoding: Encoding) -> Self {
        self.asymmetric = Some(encoding);
        self
    }

    /// Maps the idempotency key to the API's client order id field (see
    /// [`ClientOrderId`]); `None` turns it off.
    pub fn client_order_id(mut self, id: Option<ClientOrderId>) -> Self {
        self.client_order_id = id;
        self
    }

    /// The recipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keel's default scheme, `keel-v2`: `{auth_header_name}: <api_key>`,
    /// `API-Timestamp: <unix ms>`, `API-Nonce: <u64>`, `API-Signature:
    /// hex(HMAC-SHA256(api_secret, timestamp + "\n" + nonce + "\n" + METHOD +
    /// "\n" + path_and_query + "\n" + body))`.
    pub fn keel_default() -> Self {
        HmacRecipe::new("default")
            .parts([
                Part::Timestamp,
                Part::literal("\n"),
                Part::Nonce,
                Part::literal("\n"),
                Part::Method,
                Part::literal("\n"),
                Part::PathAndQuery,
                Part::literal("\n"),
                Part::Body,
            ])
            .nonce(Placement::Header(HeaderName::from_static("api-nonce")))
    }

    /// Keel's first scheme (`keel-v1`), without a nonce:
    /// `API-Signature: hex(HMAC-SHA256(api_secret, timestamp + METHOD +
    /// path_and_query + body))`. Kept for servers that verify it.
    pub fn keel_v1() -> Self {
        HmacRecipe::new("keel-v1").parts([
            Part::Timestamp,
            Part::Method,
            Part::PathAndQuery,
            Part::Body,
        ])
    }

    /// Kraken spot REST: `API-Key: <key>`, a `nonce` form field (added first
    /// unless the body has one), `API-Sign: base64(HMAC-SHA512(base64-decoded
    /// secret, path + SHA256(nonce + POST data)))`. The secret decodes to 64
    /// bytes. The idempotency key goes to `cl_ord_id` on `AddOrder`.
    pub fn kraken() -> Self {
        HmacRecipe::new("kraken")
            .parts([Part::Path, Part::sha256([Part::Nonce, Part::Body])])
            .digest(Digest::Sha512)
            .secret_encoding(SecretEncoding::Base64)
            .key_length(64, 64)
            .output(Encoding::Base64)
            .key(Placement::Header(HeaderName::from_static("api-key")))
            .timestamp(Placement::Omit, TimestampFormat::UnixMillis)
            .nonce(Placement::form_field("nonce"))
            .signature(Placement::Header(HeaderName::from_static("api-sign")))
            .client_order_id(Some(ClientOrderId::new(
                "cl_ord_id",
                FieldLocation::Form,
                ["/0/private/AddOrder"],
                IdFormat::Uuid,
            )))
    }

    /// Binance spot: `X-MBX-APIKEY: <key>`, a `timestamp` query parameter
    /// in unix ms (unless the query or form body has one), and a
    /// `signature` query parameter appended last, over the query string +
    /// body: hex(HMAC-SHA256) with an HMAC secret, base64 Ed25519 or base64
    /// RSASSA-PKCS1-v1_5 SHA-256 with a private key. The idempotency key
    /// goes to `newClientOrderId` on order placement (`/api/v3/order`,
    /// `/api/v3/order/test`, `/api/v3/orderList/*`, futures `/fapi/v1/order`,
    /// `/dapi/v1/order`). Add a receive window with
    /// [`recv_window`](Self::recv_window).
    pub fn binance() -> Self {
        HmacRecipe::new("binance")
            .parts([Part::Query, Part::Body])
            .key(Placement::Header(HeaderName::from_static("x-mbx-apikey")))
            .timestamp(Placement::query("timestamp"), TimestampFormat::UnixMillis)
            .signature(Placement::query("signature"))
            .accept_private_keys(Encoding::Base64)
            .client_order_id(Some(ClientOrderId::new(
                "newClientOrderId",
                FieldLocation::Query,
                [
                    "/api/v3/order",
                    "/api/v3/order/test",
                    "/api/v3/sor/order",
                    "/fapi/v1/order",
                    "/dapi/v1/order",
                ],
                IdFormat::Chars {
                    max_len: 36,
                    extra: ".:/_-",
                },
            )))
    }

    /// Binance's `recvWindow` parameter (ms, at most 60 000), sent with
    /// every signed request that does not carry one.
    pub fn recv_window(self, ms: u64) -> Self {
        self.param(Placement::query("recvWindow"), ms.min(60_000).to_string())
    }

    /// Coinbase Exchange (the legacy HMAC keys with a passphrase; not the
    /// Advanced Trade / App API, which uses CDP keys:
    /// [`jwt::CoinbaseCdp`](super::jwt::CoinbaseCdp)): `CB-ACCESS-KEY`,
    /// `CB-ACCESS-TIMESTAMP` (unix seconds), `CB-ACCESS-PASSPHRASE`, and
    /// `CB-ACCESS-SIGN` = base64(HMAC-SHA256(base64-decoded secret (64
    /// bytes), timestamp + METHOD + requestPath (with query) + body)). The
    /// idempotency key goes to `client_oid` on `POST /orders`.
    pub fn coinbase_exchange() -> Self {
        HmacRecipe::new("coinbase-exchange")
            .parts([
                Part::Timestamp,
                Part::Method,
                Part::PathAndQuery,
                Part::Body,
            ])
            .secret_encoding(SecretEncoding::Base64)
            .key_length(64, 64)
            .output(Encoding::Base64)
            .key(Placement::Header(HeaderName::from_static("cb-access-key")))
            .timestamp(
                Placement::Header(HeaderName::from_static("cb-access-timestamp")),
                TimestampFormat::UnixSeconds,
            )
            .passphrase(Placement::Header(HeaderName::from_static(
                "cb-access-passphrase",
            )))
            .signature(Placement::Header(HeaderName::from_static("cb-access-sign")))
            .client_order_id(Some(ClientOrderId::new(
                "client_oid",
                FieldLocation::Json,
                ["/orders"],
                IdFormat::Uuid,
            )))
    }

    /// Same as [`coinbase_exchange`](Self::coinbase_exchange) (the older name).
    pub fn coinbase() -> Self {
        Self::coinbase_exchange()
    }

    /// OKX v5: `OK-ACCESS-KEY`, `OK-ACCESS-TIMESTAMP` (ISO-8601 UTC with
    /// milliseconds), `OK-ACCESS-PASSPHRASE`, and `OK-ACCESS-SIGN` =
    /// base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath (with
    /// query) + body)). The idempotency key goes to `clOrdId` (up to 32
    /// letters and digits) on order placement.
    pub fn okx() -> Self {
        HmacRecipe::new("okx")
            .parts([
                Part::Timestamp,
                Part::Method,
                Part::PathAndQuery,
                Part::Body,
            ])
            .output(Encoding::Base64)
            .key(Placement::Header(HeaderName::from_static("ok-access-key")))
            .timestamp(
                Placement::Header(HeaderName::from_static("ok-access-timestamp")),
                TimestampFormat::Iso8601Millis,
            )
            .passphrase(Placement::Header(HeaderName::from_static(
                "ok-access-passphrase",
            )))
            .signature(Placement::Header(HeaderName::from_static("ok-access-sign")))
            .client_order_id(Some(ClientOrderId::new(
                "clOrdId",
                FieldLocation::Json,
                ["/api/v5/trade/order"],
                IdFormat::Chars {
                    max_len: 32,
                    extra: "",
                },
            )))
    }

    /// Bybit v5 (HMAC keys): `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP` (unix ms),
    /// `X-BAPI-RECV-WINDOW: <recv_window_ms>`, and `X-BAPI-SIGN` =
    /// hex(HMAC-SHA256(secret, timestamp + api_key + recv_window +
    /// (query string | JSON body))). The idempotency key goes to
    /// `orderLinkId` on `/v5/order/create`.
    pub fn bybit(recv_window_ms: u64) -> Self {
        let window = recv_window_ms.to_string();
        let mut r = HmacRecipe::new("bybit")
            .parts([
                Part::Timestamp,
                Part::ApiKey,
                Part::Literal(window.clone()),
                Part::Query,
                Part::Body,
            ])
            .key(Placement::Header(HeaderName::from_static("x-bapi-api-key")))
            .timestamp(
                Placement::Header(HeaderName::from_static("x-bapi-timestamp")),
                TimestampFormat::UnixMillis,
            )
            .signature(Placement::Header(HeaderName::from_static("x-bapi-sign")))
            .client_order_id(Some(ClientOrderId::new(
                "orderLinkId",
                FieldLocation::Json,
                ["/v5/order/create"],
                IdFormat::Chars {
                    max_len: 36,
                    extra: "_-",
                },
            )));
        if let Ok(v) = HeaderValue::from_str(&window) {
            r.extra_headers
                .push((HeaderName::from_static("x-bapi-recv-window"), v));
        }
        r
    }

    /// KuCoin (API key version 2): `KC-API-KEY`, `KC-API-TIMESTAMP` (unix
    /// ms), `KC-API-SIGN` = base64(HMAC-SHA256(secret, timestamp + METHOD +
    /// path_and_query + body)), `KC-API-PASSPHRASE` = base64(HMAC-SHA256(
    /// secret, passphrase)), `KC-API-KEY-VERSION: 2`. The idempotency key
    /// goes to `clientOid` on order placement (`/api/v1/orders`,
    /// `/api/v1/hf/orders`, futures `/api/v1/orders`).
    pub fn kucoin() -> Self {
        let mut r = HmacRecipe::new("kucoin")
            .parts([
                Part::Timestamp,
                Part::Method,
                Part::PathAndQuery,
                Part::Body,
            ])
            .output(Encoding::Base64)
            .key(Placement::Header(HeaderName::from_static("kc-api-key")))
            .timestamp(
                Placement::Header(HeaderName::from_static("kc-api-timestamp")),
                TimestampFormat::UnixMillis,
            )
            .passphrase(Placement::Header(HeaderName::from_static(
                "kc-api-passphrase",
            )))
            .sign_passphrase(true)
            .signature(Placement::Header(HeaderName::from_static("kc-api-sign")))
            .client_order_id(Some(ClientOrderId::new(
                "clientOid",
                FieldLocation::Json,
                ["/api/v1/orders", "/api/v1/hf/orders"],
                IdFormat::Chars {
                    max_len: 40,
                    extra: "_-",
                },
            )));
        r.extra_headers.push((
            HeaderName::from_static("kc-api-key-version"),
            HeaderValue::from_static("2"),
        ));
        r
    }

    /// Gate.io API v4: `KEY`, `Timestamp` (unix seconds), and `SIGN` =
    /// hex(HMAC-SHA512(secret, METHOD + "\n" + path + "\n" + query + "\n" +
    /// hex(SHA-512(body)) + "\n" + timestamp)). The idempotency key goes to
    /// the order's `text` field (`t-` + up to 28 characters) on
    /// `/api/v4/spot/orders` and `/api/v4/futures/{settle}/orders`.
    pub fn gate() -> Self {
        HmacRecipe::new("gate")
            .parts([
                Part::Method,
                Part::literal("\n"),
                Part::Path,
                Part::literal("\n"),
                Part::Query,
                Part::literal("\n"),
                Part::hex_hash(Digest::Sha512, [Part::Body]),
                Part::literal("\n"),
                Part::Timestamp,
            ])
            .digest(Digest::Sha512)
            .output(Encoding::Hex)
            .key(Placement::Header(HeaderName::from_static("key")))
            .timestamp(
                Placement::Header(HeaderName::from_static("timestamp")),
                TimestampFormat::UnixSeconds,
            )
            .signature(Placement::Header(HeaderName::from_static("sign")))
            .client_order_id(Some(
                ClientOrderId::new(
                    "text",
                    FieldLocation::Json,
                    ["/api/v4/spot/orders", "/api/v4/futures/*/orders"],
                    IdFormat::Chars {
                        max_len: 28,
                        extra: "_-.",
                    },
                )
                .prefix("t-"),
            ))
    }

    /// The HMAC key: the secret decoded as the recipe says, checked after
    /// decoding (not empty, the length the API uses).
    pub(crate) fn key_bytes<'s>(&self, secret: &'s [u8]) -> Result<SecretKey<'s>> {
        let key = decode_secret(self.secret_encoding, secret).map_err(|why| {
            Error::Signing(format!("the API secret for the {} scheme {why}", self.name))
        })?;
        check_key(&self.name, &key, self.secret_encoding, self.key_len)?;
        Ok(key)
    }

    /// Writes the string to sign. `values` supplies the request-dependent
    /// parts.
    pub(crate) fn string_to_sign(&self, v: &Values<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + v.body.len());
        write_parts(&self.parts, v, &mut out);
        out
    }
}

/// The values the parts of a string to sign are taken from.
pub(crate) struct Values<'a> {
    pub(crate) timestamp: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) body: &'a [u8],
    pub(crate) api_key: &'a str,
}

/// Where the bytes of a string to sign go: a buffer (to keep or verify it),
/// an HMAC or a hash being computed.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

fn write_parts<S: Sink>(parts: &[Part], v: &Values<'_>, out: &mut S) {
    for p in parts {
        match p {
            Part::Timestamp => out.put(v.timestamp.as_bytes()),
            Part::Nonce => out.put(v.nonce.as_bytes()),
            Part::Method => out.put(v.method.as_bytes()),
            Part::Path => out.put(v.path.as_bytes()),
            Part::Query => out.put(v.query.as_bytes()),
            Part::PathAndQuery => {
                out.put(v.path.as_bytes());
                if !v.query.is_empty() {
                    out.put(b"?");
                    out.put(v.query.as_bytes());
                }
            }
            Part::Body => out.put(v.body),
            Part::ApiKey => out.put(v.api_key.as_bytes()),
            Part::Literal(s) => out.put(s.as_bytes()),
            Part::Hash(d, inner) => {
                let mut h = Hasher::new(*d);
                write_parts(inner, v, &mut h);
                out.put(h.finish().as_slice());
            }
            Part::HexHash(d, inner) => {
                let mut h = Hasher::new(*d);
                write_parts(inner, v, &mut h);
                let mut buf = [0u8; 128];
                let tag = h.finish();
                let n = tag.as_slice().len() * 2;
                if hex::encode_to_slice(tag.as_slice(), &mut buf[..n]).is_ok() {
                    out.put(&buf[..n]);
                }
            }
        }
    }
}

/// Whether any of `parts` (or of the parts a hash covers) is `wanted`.
pub(crate) fn uses(parts: &[Part], wanted: &Part) -> bool {
    parts.iter().any(|p| match p {
        Part::Hash(_, inner) | Part::HexHash(_, inner) => uses(inner, wanted),
        p => p == wanted,
    })
}

/// A digest or MAC output (at most 64 bytes, SHA-512), on the stack.
struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    fn new(out: &[u8]) -> Self {
        let mut bytes = [0u8; 64];
        let len = out.len().min(64);
        bytes[..len].copy_from_slice(&out[..len]);
        Tag { bytes, len }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A hash being computed, for [`Part::Hash`].
enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    fn new(d: Digest) -> Self {
        use sha2::Digest as _;
        match d {
            Digest::Sha256 => Hasher::Sha256(Sha256::new()),
            Digest::Sha384 => Hasher::Sha384(Sha384::new()),
            Digest::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn finish(self) -> Tag {
        use sha2::Digest as _;
        match self {
            Hasher::Sha256(h) => Tag::new(&h.finalize()),
            Hasher::Sha384(h) => Tag::new(&h.finalize()),
            Hasher::Sha512(h) => Tag::new(&h.finalize()),
        }
    }
}

impl Sink for Hasher {
    fn put(&mut self, bytes: &[u8]) {
        use sha2::Digest as _;
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }
}

/// An HMAC being computed. A bound recipe keeps one keyed state and clones
/// it per request; hmac/sha2 (feature `zeroize`) wipe the state on drop.
#[derive(Clone)]
enum Hmacer {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl Hmacer {
    /// HMAC accepts keys of any length, so `new_from_slice` cannot fail; the
    /// error is mapped anyway rather than unwrapped.
    fn new(d: Digest, key: &[u8]) -> Result<Self> {
        let bad = |_| Error::Signing("the HMAC key was rejected".into());
        Ok(match d {
            Digest::Sha256 => Hmacer::Sha256(Hmac::new_from_slice(key).map_err(bad)?),
            Digest::Sha384 => Hmacer::Sha384(Hmac::new_from_slice(key).map_err(bad)?),
            Digest::Sha512 => Hmacer::Sha512(Hmac::new_from_slice(key).map_err(bad)?),
        })
    }

    fn finish(self) -> Tag {
        match self {
            Hmacer::Sha256(m) => Tag::new(&m.finalize().into_bytes()),
            Hmacer::Sha384(m) => Tag::new(&m.finalize().into_bytes()),
            Hmacer::Sha512(m) => Tag::new(&m.finalize().into_bytes()),
        }
    }
}

impl Sink for Hmacer {
    fn put(&mut self, bytes: &[u8]) {
        match self {
            Hmacer::Sha256(m) => m.update(bytes),
            Hmacer::Sha384(m) => m.update(bytes),
            Hmacer::Sha512(m) => m.update(bytes),
        }
    }
}

/// Short ASCII text on the stack (a formatted number, timestamp or
/// signature). Only ASCII is ever pushed, so it is always valid UTF-8.
pub(crate) struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    /// Appends ASCII bytes (anything else, or overflow, is dropped; callers
    /// size `N` for the longest value).
    fn push_ascii(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if end <= N && bytes.is_ascii() {
            self.buf[self.len..end].copy_from_slice(bytes);
            self.len = end;
        }
    }

    /// Appends `n` in decimal, zero-padded to at least `width` digits.
    /// Values beyond `u64` are written as 19-digit `u64` chunks.
    fn push_u128(&mut self, n: u128, width: usize) {
        const TEN_POW_19: u128 = 10_000_000_000_000_000_000;
        match u64::try_from(n) {
            Ok(v) => self.push_u64(v, width),
            Err(_) => {
                self.push_u128(n / TEN_POW_19, width.saturating_sub(19));
                self.push_u64((n % TEN_POW_19) as u64, 19);
            }
        }
    }

    /// Appends `n` in decimal (fast path for the common case).
    fn push_u64(&mut self, mut n: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let start = i.min(digits.len().saturating_sub(width));
        self.push_ascii(&digits[start..]);
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII is pushed, so this never falls back.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// The HMAC key: the secret's bytes, borrowed when they need no decoding,
/// or a decoded copy that is zeroed when dropped.
pub(crate) enum SecretKey<'a> {
    Borrowed(&'a [u8]),
    Decoded(Zeroizing<Vec<u8>>),
}

impl std::ops::Deref for SecretKey<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SecretKey::Borrowed(b) => b,
            SecretKey::Decoded(v) => v,
        }
    }
}

pub(crate) fn decode_secret(
    enc: SecretEncoding,
    secret: &[u8],
) -> std::result::Result<SecretKey<'_>, &'static str> {
    match enc {
        SecretEncoding::Raw => Ok(SecretKey::Borrowed(secret)),
        SecretEncoding::Base64 => {
            let trimmed = secret.trim_ascii();
            // Decoded into a buffer sized up front, so no unzeroed copy is
            // left behind by a reallocation.
            let mut out = Zeroizing::new(Vec::with_capacity(trimmed.len().div_ceil(4) * 3));
            base64::engine::general_purpose::STANDARD
                .decode_vec(trimmed, &mut out)
                .map_err(|_| "is not valid base64 (the scheme expects a base64-encoded secret)")?;
            Ok(SecretKey::Decoded(out))
        }
        SecretEncoding::Hex => {
            let trimmed = secret.trim_ascii();
            if !trimmed.len().is_multiple_of(2) {
                return Err("is not valid hexadecimal (the scheme expects a hex-encoded secret)");
            }
            let mut out = Zeroizing::new(vec![0u8; trimmed.len() / 2]);
            hex::decode_to_slice(trimmed, &mut out).map_err(|_| {
                "is not valid hexadecimal (the scheme expects a hex-encoded secret)"
            })?;
            Ok(SecretKey::Decoded(out))
        }
    }
}

/// The raw digest of `data`.
pub(crate) fn digest(d: Digest, data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    match d {
        Digest::Sha256 => Sha256::digest(data).to_vec(),
        Digest::Sha384 => Sha384::digest(data).to_vec(),
        Digest::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// Constant-time check of an HMAC.
pub(crate) fn hmac_verify(d: Digest, key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    macro_rules! run {
        ($h:ty) => {
            match Hmac::<$h>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(msg);
                    m.verify_slice(tag).is_ok()
                }
                Err(_) => false,
            }
        };
    }
    match d {
        Digest::Sha256 => run!(Sha256),
        Digest::Sha384 => run!(Sha384),
        Digest::Sha512 => run!(Sha512),
    }
}

/// `bytes` (a MAC: at most 64 bytes) as lowercase hex (up to 128 digits) or
/// padded standard base64 (up to 88 characters), in a stack buffer.
fn encode_stack(enc: Encoding, bytes: &[u8]) -> Result<StackStr<128>> {
    let too_long = || Error::Signing("the signature is longer than 64 bytes".into());
    let mut buf = [0u8; 128];
    let n = match enc {
        Encoding::Hex => {
            let n = bytes.len() * 2;
            let out = buf.get_mut(..n).ok_or_else(too_long)?;
            hex::encode_to_slice(bytes, out).map_err(|_| too_long())?;
            n
        }
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, &mut buf)
            .map_err(|_| too_long())?,
    };
    let mut out = StackStr::new();
    out.push_ascii(&buf[..n]);
    Ok(out)
}

pub(crate) fn decode(enc: Encoding, text: &str) -> Option<Vec<u8>> {
    match enc {
        Encoding::Hex => hex::decode(text.trim()).ok(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok(),
    }
}

/// Formats a time in the given format.
pub fn format_timestamp(t: SystemTime, format: TimestampFormat) -> String {
    format_timestamp_stack(t, format).as_str().to_owned()
}

/// [`format_timestamp`] into a stack buffer (the longest value, ISO-8601 in
/// the year 584 billion, is 32 bytes).
pub(crate) fn format_timestamp_stack(t: SystemTime, format: TimestampFormat) -> StackStr<48> {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = StackStr::new();
    match format {
        TimestampFormat::UnixSeconds => out.push_u64(d.as_secs(), 1),
        TimestampFormat::UnixMillis => match u64::try_from(d.as_millis()) {
            Ok(ms) => out.push_u64(ms, 1),
            Err(_) => out.push_u128(d.as_millis(), 1),
        },
        TimestampFormat::Iso8601Millis => iso8601_millis(d, &mut out),
    }
    out
}

/// Parses a timestamp written in the given format (seconds may carry a
/// fraction).
pub fn parse_timestamp(text: &str, format: TimestampFormat) -> Option<SystemTime> {
    let text = text.trim();
    match format {
        TimestampFormat::UnixSeconds => {
            let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
            let secs: u64 = whole.parse().ok()?;
            let mut nanos = 0u32;
            if !frac.is_empty() {
                if !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let digits: String = frac.chars().chain("000000000".chars()).take(9).collect();
                nanos = digits.parse().ok()?;
            }
            UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
        }
        TimestampFormat::UnixMillis => {
            let ms: u64 = text.parse().ok()?;
            UNIX_EPOCH.checked_add(Duration::from_millis(ms))
        }
        TimestampFormat::Iso8601Millis => parse_iso8601(text),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, through the `time` crate's calendar.
fn iso8601_millis<const N: usize>(d: Duration, out: &mut StackStr<N>) {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let nanos = i128::try_from(d.as_nanos()).unwrap_or(i128::MAX);
    let text = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_default();
    out.push_ascii(text.as_bytes());
}

/// An RFC 3339 UTC time (`2020-12-08T09:08:57.715Z`), validated by the
/// `time` crate (so `2021-02-31T00:00:00Z` is refused).
fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = u64::try_from(t.unix_timestamp_nanos()).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

/// The value of form field `name` in a urlencoded body (the first pair
/// with that name, decoded by `form_urlencoded`).
pub(crate) fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of query parameter `name`.
pub(crate) fn query_value(query: &str, name: &str) -> Option<String> {
    form_value(query.as_bytes(), name)
}

/// `raw` (a query string or form body) without the pairs named `name`,
/// the other pairs kept byte for byte in their order.
pub(crate) fn without_pair(raw: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for pair in raw.split(|b| *b == b'&') {
        let key = pair.split(|b| *b == b'=').next().unwrap_or_default();
        let decoded: String = form_urlencoded::parse(key)
            .next()
            .map(|(k, _)| k.into_owned())
            .unwrap_or_default();
        if decoded == name {
            continue;
        }
        if !out.is_empty() {
            out.push(b'&');
        }
        out.extend_from_slice(pair);
    }
    out
}

fn encode_pair(name: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

/// Places `value` as `placement` says, unless the request already carries it
/// (query/form); returns the value found on the request when that one is in
/// force instead of `value`.
fn place_param(
    req: &mut SigningRequest<'_>,
    placement: &Placement,
    value: &str,
    sensitive: bool,
) -> Result<Option<String>> {
    match placement {
        Placement::Header(h) => {
            if sensitive {
                req.set_secret_header(h.clone(), value)?;
            } else {
                req.set_header(h.clone(), value)?;
            }
            Ok(None)
        }
        Placement::AuthHeader => Err(Error::Signing(
            "only the API key can be placed in the auth header".into(),
        )),
        Placement::Query(name) => {
            let existing = req
                .url
                .query()
                .and_then(|q| query_value(q, name))
                .or_else(|| form_value(req.body(), name));
            if existing.is_some() {
                return Ok(existing);
            }
            req.url.query_pairs_mut().append_pair(name, value);
            Ok(None)
        }
        Placement::FormField(name) => {
            if let Some(existing) = form_value(req.body(), name) {
                return Ok(Some(existing));
            }
            let pair = encode_pair(name, value);
            let mut body = Vec::with_capacity(pair.len() + 1 + req.body().len());
            body.extend_from_slice(pair.as_bytes());
            if !req.body().is_empty() {
                body.push(b'&');
                body.extend_from_slice(req.body());
            }
            ensure_form_content_type(req);
            req.set_body(body);
            Ok(None)
        }
        Placement::Omit => Ok(None),
    }
}

fn ensure_form_content_type(req: &mut SigningRequest<'_>) {
    if !req.headers.contains_key(CONTENT_TYPE) {
        req.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    }
}

/// The key a recipe signs with: a keyed HMAC state, or a private key.
// The HMAC state is kept inline: it is cloned on every request, a box would
// add an allocation to the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum RecipeKey {
    /// The HMAC state after absorbing the key; cloned for every request.
    /// hmac/sha2 (feature `zeroize`) wipe it when it is dropped.
    Hmac(Hmacer),
    /// An asymmetric key, and how its signatures are written.
    Private(PrivateKey, Encoding),
}

/// A recipe bound to one client family's credentials ([`Signer::prepare`]):
/// the HMAC key is absorbed once, the key and passphrase header values are
/// built once.
struct BoundRecipe {
    recipe: HmacRecipe,
    key: RecipeKey,
    key_header: Option<HeaderValue>,
    passphrase: Option<HeaderValue>,
}

impl fmt::Debug for BoundRecipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundRecipe")
            .field("recipe", &self.recipe.name)
            .finish_non_exhaustive()
    }
}

impl HmacRecipe {
    /// The key to sign with, from the credentials.
    fn recipe_key(&self, c: &Credentials) -> Result<RecipeKey> {
        if let Some(enc) = self.asymmetric {
            if let Some(k) = c.signing_key()? {
                return Ok(RecipeKey::Private(k, enc));
            }
        } else if c.private_key().is_some() || c.secret_is_pem() {
            return Err(Error::config(format!(
                "the {} scheme signs with an HMAC secret, but a private key was given (a PEM text as the API secret, or `private_key(...)`); give the HMAC secret the API issued, or use a scheme that signs with keys",
                self.name
            )));
        }
        let key = self.key_bytes(c.api_secret()?)?;
        Ok(RecipeKey::Hmac(Hmacer::new(self.digest, &key)?))
    }

    /// The passphrase as sent (plain, or signed for KuCoin v2).
    fn passphrase_value(&self, key: &RecipeKey, c: &Credentials) -> Result<Zeroizing<String>> {
        let p = c.passphrase()?;
        if !self.sign_passphrase {
            return Ok(Zeroizing::new(p.to_owned()));
        }
        match key {
            RecipeKey::Hmac(mac) => {
                let mut mac = mac.clone();
                mac.put(p.as_bytes());
                let tag = mac.finish();
                Ok(Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(tag.as_slice()),
                ))
            }
            RecipeKey::Private(..) => Err(Error::Signing(format!(
                "the {} scheme signs its passphrase with the HMAC secret; a private key cannot",
                self.name
            ))),
        }
    }

    fn sign_with(
        &self,
        req: &mut SigningRequest<'_>,
        c: &Credentials,
        key: &RecipeKey,
        key_header: Option<&HeaderValue>,
        passphrase: Option<&HeaderValue>,
    ) -> Result<()> {
        // Room for every header this recipe adds, reserved once.
        let added = [
            &self.key,
            &self.timestamp,
            &self.nonce,
            &self.passphrase,
            &self.signature,
        ]
        .into_iter()
        .filter(|p| matches!(p, Placement::Header(_) | Placement::AuthHeader))
        .count();
        req.headers.reserve(added + self.extra_headers.len());

        // The client order id, then fixed parameters (receive window), so
        // both are signed.
        if let Some(id) = &self.client_order_id {
            id.apply(req)?;
        }
        for (placement, value) in &self.params {
            place_param(req, placement, value, false)?;
        }

        // The key.
        match (&self.key, key_header) {
            (Placement::AuthHeader, Some(v)) => {
                req.headers.insert(c.auth_header_name().clone(), v.clone());
            }
            (Placement::Header(h), Some(v)) => {
                req.headers.insert(h.clone(), v.clone());
            }
            (Placement::AuthHeader, None) => {
                req.set_secret_header(c.auth_header_name().clone(), c.api_key())?
            }
            (Placement::Header(h), None) => req.set_secret_header(h.clone(), c.api_key())?,
            (Placement::Query(q), _) => {
                req.url.query_pairs_mut().append_pair(q, c.api_key());
            }
            (Placement::FormField(f), _) => {
                let pair = encode_pair(f, c.api_key());
                let mut body = req.body().to_vec();
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(pair.as_bytes());
                ensure_form_content_type(req);
                req.set_body(body);
            }
            (Placement::Omit, _) => {}
        }
        // Timestamp and nonce, formatted (on the stack) only when they are
        // placed or signed; then passphrase and fixed headers.
        let ts_text =
            if !matches!(self.timestamp, Placement::Omit) || uses(&self.parts, &Part::Timestamp) {
                format_timestamp_stack(req.timestamp, self.timestamp_format)
            } else {
                StackStr::new()
            };
        let ts_str = ts_text.as_str();
        let ts_found = place_param(req, &self.timestamp, ts_str, false)?;
        let mut nonce_text = StackStr::<24>::new();
        if !matches!(self.nonce, Placement::Omit) || uses(&self.parts, &Part::Nonce) {
            nonce_text.push_u64(req.nonce, 1);
        }
        let nonce_str = nonce_text.as_str();
        let nonce_found = place_param(req, &self.nonce, nonce_str, false)?;
        match (&self.passphrase, passphrase) {
            (Placement::Omit, _) => {}
            (Placement::Header(h), Some(v)) => {
                req.headers.insert(h.clone(), v.clone());
            }
            (other, _) => {
                let value = self.passphrase_value(key, c)?;
                match other {
                    Placement::Header(h) => req.set_secret_header(h.clone(), &value)?,
                    other => {
                        place_param(req, other, &value, true)?;
                    }
                }
            }
        }
        for (n, v) in &self.extra_headers {
            req.headers.insert(n.clone(), v.clone());
        }

        // The MAC, fed part by part; the string to sign is only built when
        // it is being captured (or signed with a private key).
        let method = req.method.as_str();
        let method: Cow<'_, str> = if method.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(method.to_ascii_uppercase())
        } else {
            Cow::Borrowed(method)
        };
        let values = Values {
            timestamp: ts_found.as_deref().unwrap_or(ts_str),
            nonce: nonce_found.as_deref().unwrap_or(nonce_str),
            method: &method,
            path: req.url.path(),
            query: req.url.query().unwrap_or(""),
            body: req.body(),
            api_key: c.api_key(),
        };
        let (sig, captured) = match key {
            RecipeKey::Hmac(mac) => {
                let mut mac = mac.clone();
                let captured = if req.capturing() {
                    let mut to_sign = Vec::with_capacity(128 + values.body.len());
                    write_parts(&self.parts, &values, &mut to_sign);
                    mac.put(&to_sign);
                    Some(to_sign)
                } else {
                    write_parts(&self.parts, &values, &mut mac);
                    None
                };
                let tag = mac.finish();
                (
                    Signature::Stack(encode_stack(self.output, tag.as_slice())?),
                    captured,
                )
            }
            RecipeKey::Private(k, enc) => {
                let mut to_sign = Vec::with_capacity(128 + values.body.len());
                write_parts(&self.parts, &values, &mut to_sign);
                let raw = k.sign(&to_sign)?;
                let text = match enc {
                    Encoding::Hex => hex::encode(raw),
                    Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(raw),
                };
                (Signature::Heap(text), Some(to_sign))
            }
        };
        if let Some(to_sign) = captured {
            req.keep_string_to_sign(to_sign);
        }
        match &self.signature {
            Placement::Header(h) => {
                // Hex or base64: always a valid header value; still checked
                // by `from_bytes`, never assumed.
                let mut v = HeaderValue::from_bytes(sig.as_bytes()).map_err(|_| {
                    Error::Signing(format!(
                        "the signature for header {h} is not a valid header value"
                    ))
                })?;
                v.set_sensitive(true);
                req.headers.insert(h.clone(), v);
                Ok(())
            }
            Placement::Query(q) => {
                req.url.query_pairs_mut().append_pair(q, sig.as_str());
                Ok(())
            }
            Placement::FormField(f) => {
                let pair = encode_pair(f, sig.as_str());
                let mut body = req.body().to_vec();
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(pair.as_bytes());
                ensure_form_content_type(req);
                req.set_body(body);
                Ok(())
            }
            Placement::AuthHeader | Placement::Omit => Err(Error::Signing(format!(
                "the {} recipe does not say where the signature goes",
                self.name
            ))),
        }
    }
}

/// A signature as text: on the stack (HMAC) or on the heap (RSA).
enum Signature {
    Stack(StackStr<128>),
    Heap(String),
}

impl Signature {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Signature::Stack(s) => s.as_bytes(),
            Signature::Heap(s) => s.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Signature::Stack(s) => s.as_str(),
            Signature::Heap(s) => s,
        }
    }
}

fn sensitive_value(value: &str, what: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::config(format!(
            "the {what} is not a valid header value (visible ASCII only)"
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

impl Signer for HmacRecipe {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        // Unbound (tools, tests): the key is prepared for this request only.
        let key = self.recipe_key(c)?;
        self.sign_with(req, c, &key, None, None)
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        let mut v = Vec::new();
        for p in [
            &self.key,
            &self.signature,
            &self.passphrase,
            &self.timestamp,
            &self.nonce,
        ] {
            if let Placement::Header(h) = p {
                v.push(h.clone());
            }
        }
        v
    }

    fn signs_body(&self) -> bool {
        contains_body(&self.parts)
    }

    fn requires_secret(&self) -> bool {
        true
    }

    fn check_credentials(&self, c: &Credentials) -> Result<()> {
        self.recipe_key(c)?;
        if self.passphrase != Placement::Omit && !c.has_passphrase() {
            return Err(Error::config(format!(
                "the {} scheme needs an API passphrase; set it with `passphrase(...)`",
                self.name
            )));
        }
        Ok(())
    }

    fn prepare(&self, c: &Credentials) -> Result<Option<Arc<dyn Signer>>> {
        let key = self.recipe_key(c)?;
        let key_header = match &self.key {
            Placement::AuthHeader | Placement::Header(_) => {
                Some(sensitive_value(c.api_key(), "API key")?)
            }
            _ => None,
        };
        let passphrase = match &self.passphrase {
            Placement::Header(_) => Some(sensitive_value(
                &self.passphrase_value(&key, c)?,
                "API passphrase",
            )?),
            _ => None,
        };
        Ok(Some(Arc::new(BoundRecipe {
            recipe: self.clone(),
            key,
            key_header,
            passphrase,
        })))
    }

    /// Binance `-1021` (HTTP 400), Bybit `retCode` `10002` (HTTP 200), OKX
    /// `50102`, and Keel's default scheme's 401 `stale timestamp`.
    fn timestamp_rejection(&self) -> Option<fn(http::StatusCode, &[u8]) -> bool> {
        match self.name.as_str() {
            "binance" => Some(|status, body| {
                status == http::StatusCode::BAD_REQUEST
                    && super::json_code(body, "code") == Some(-1021)
            }),
            "bybit" => Some(|_, body| super::json_code(body, "retCode") == Some(10002)),
            "okx" => Some(|status, body| {
                !status.is_success() && super::json_code(body, "code") == Some(50102)
            }),
            "default" => Some(|status, body| {
                status == http::StatusCode::UNAUTHORIZED
                    && body.len() <= 4096
                    && body
                        .windows(b"stale timestamp".len())
                        .any(|w| w == b"stale timestamp")
            }),
            _ => None,
        }
    }

    /// Bybit and Binance refuse timestamps 1 s ahead of their clock.
    fn refuses_future_timestamps(&self) -> bool {
        matches!(self.name.as_str(), "bybit" | "binance")
    }

    /// Binance's 418 (an IP banned for a while after ignoring 429s, with a
    /// `Retry-After`), Bybit's `retCode` 10006 ("too many visits", HTTP
    /// 200), OKX's `50011`/`50061` (rate limit reached), and Kraken's
    /// `EAPI:Rate limit exceeded`, `EOrder:Rate limit exceeded` and
    /// `EGeneral:Too many requests` (HTTP 200), each as its API documents.
    fn throttle_rejection(&self) -> Option<fn(http::StatusCode, &[u8]) -> bool> {
        match self.name.as_str() {
            "binance" => Some(|status, _| status.as_u16() == 418),
            "bybit" => Some(|_, body| super::json_code(body, "retCode") == Some(10006)),
            "okx" => Some(|_, body| matches!(super::json_code(body, "code"), Some(50011 | 50061))),
            "kraken" => Some(|_, body| kraken_throttled(body)),
            _ => None,
        }
    }
}

/// Whether a Kraken answer's `error` list says the rate limit was hit.
fn kraken_throttled(body: &[u8]) -> bool {
    if body.len() > 4096 || !body.starts_with(b"{") {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    v.get("error")
        .and_then(|e| e.as_array())
        .is_some_and(|errors| {
            errors.iter().filter_map(|e| e.as_str()).any(|e| {
                e.starts_with("EAPI:Rate limit exceeded")
                    || e.starts_with("EOrder:Rate limit exceeded")
                    || e.starts_with("EGeneral:Too many requests")
            })
        })
}

impl Signer for BoundRecipe {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        self.recipe.sign_with(
            req,
            c,
            &self.key,
            self.key_header.as_ref(),
            self.passphrase.as_ref(),
        )
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        self.recipe.sensitive_headers()
    }

    fn signs_body(&self) -> bool {
        self.recipe.signs_body()
    }

    fn requires_secret(&self) -> bool {
        true
    }
}

/// Checks a decoded HMAC key: not empty (nor only whitespace, for a raw
/// secret), and of the length the API issues when it fixes one.
pub(crate) fn check_key(
    scheme: &str,
    key: &[u8],
    encoding: SecretEncoding,
    len: Option<(usize, usize)>,
) -> Result<()> {
    if key.is_empty() || (encoding == SecretEncoding::Raw && key.trim_ascii().is_empty()) {
        return Err(Error::config(format!(
            "the API secret for the {scheme} scheme decodes to nothing (it is empty or only whitespace); set the secret the API issued"
        )));
    }
    if let Some((min, max)) = len {
        if key.len() < min || key.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(Error::config(format!(
                "the API secret for the {scheme} scheme decodes to {} bytes, but the API issues {want}-byte secrets; check that the whole secret was copied",
                key.len()
            )));
        }
    }
    Ok(())
}

fn contains_body(parts: &[Part]) -> bool {
    parts.iter().any(|p| match p {
        Part::Body => true,
        Part::Hash(_, inner) | Part::HexHash(_, inner) => contains_body(inner),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kraken_rate_limit_errors_are_throttling() {
        for body in [
            r#"{"error":["EAPI:Rate limit exceeded"],"result":{}}"#,
            r#"{"error":["EOrder:Rate limit exceeded"]}"#,
            r#"{"error":["EGeneral:Invalid arguments","EGeneral:Too many requests"]}"#,
        ] {
            assert!(kraken_throttled(body.as_bytes()), "{body}");
        }
        for body in [
            r#"{"error":[],"result":{"txid":["O1"]}}"#,
            r#"{"error":["EAPI:Invalid nonce"]}"#,
            r#"{"error":"EAPI:Rate limit exceeded"}"#,
            "EAPI:Rate limit exceeded",
            "",
        ] {
            assert!(!kraken_throttled(body.as_bytes()), "{body}");
        }
        let test = HmacRecipe::kraken().throttle_rejection().unwrap();
        assert!(test(
            http::StatusCode::OK,
            br#"{"error":["EAPI:Rate limit exceeded"]}"#
        ));
        assert!(HmacRecipe::new("custom").throttle_rejection().is_none());
    }

    #[test]
    fn iso8601_refuses_impossible_dates() {
        for bad in [
            "2021-02-31T00:00:00.000Z",
            "2021-13-01T00:00:00.000Z",
            "2021-04-20T24:00:00.000Z",
            "2021-04-20T02:07:53.123",
            "yesterday",
        ] {
            assert_eq!(
                parse_timestamp(bad, TimestampFormat::Iso8601Millis),
                None,
                "{bad}"
            );
        }
        assert!(
            parse_timestamp("2024-02-29T00:00:00.000Z", TimestampFormat::Iso8601Millis).is_some()
        );
        assert!(
            parse_timestamp("2023-02-29T00:00:00.000Z", TimestampFormat::Iso8601Millis).is_none()
        );
    }

    #[test]
    fn iso8601_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_607_418_537_715);
        let s = format_timestamp(t, TimestampFormat::Iso8601Millis);
        assert_eq!(s, "2020-12-08T09:08:57.715Z");
        assert_eq!(parse_timestamp(&s, TimestampFormat::Iso8601Millis), Some(t));
        let leap = UNIX_EPOCH + Duration::from_millis(951_782_400_000); // 2000-02-29
        assert_eq!(
            format_timestamp(leap, TimestampFormat::Iso8601Millis),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn stack_formatting_matches_std() {
        for ms in [0u64, 7, 1_000, 1_700_000_000_123, u64::MAX / 1_000_000] {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
            assert_eq!(
                format_timestamp(t, TimestampFormat::UnixMillis),
                d.as_millis().to_string()
            );
            assert_eq!(
                format_timestamp(t, TimestampFormat::UnixSeconds),
                d.as_secs().to_string()
            );
        }
        let mut n = StackStr::<24>::new();
        n.push_u64(u64::MAX, 1);
        assert_eq!(n.as_str(), u64::MAX.to_string());
        let mut n = StackStr::<48>::new();
        n.push_u128(u128::from(u64::MAX) * 1000, 1);
        assert_eq!(n.as_str(), (u128::from(u64::MAX) * 1000).to_string());
        assert_eq!(
            format_timestamp(UNIX_EPOCH, TimestampFormat::Iso8601Millis),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn form_value_matches_full_parse() {
        let reference = |body: &[u8], name: &str| {
            url::form_urlencoded::parse(body)
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let bodies: [&[u8]; 6] = [
            b"a=1&%74s=2&t+s=3&ts&ts=9",
            b"&&ts=a%20b+c&ts=2",
            b"ts",
            b"x=1&t%FFs=2&ts==3",
            b"",
            b"{\"ts\":1}",
        ];
        for body in bodies {
            for name in ["ts", "t s", "a", "x", "t\u{FFFD}s", "missing"] {
                assert_eq!(
                    form_value(body, name),
                    reference(body, name),
                    "{body:?} {name}"
                );
            }
        }
    }

    #[test]
    fn without_pair_keeps_order() {
        assert_eq!(
            without_pair(b"a=1&signature=x&b=2", "signature"),
            b"a=1&b=2".to_vec()
        );
        assert_eq!(without_pair(b"signature=x", "signature"), b"".to_vec());
    }
}
