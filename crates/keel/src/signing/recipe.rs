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
use hmac::{Hmac, Mac};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

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

    /// The recipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keel's default scheme:
    /// `{auth_header_name}: <api_key>`, `API-Timestamp: <unix ms>`,
    /// `API-Signature: hex(HMAC-SHA256(api_secret, timestamp + METHOD +
    /// path_and_query + body))`.
    pub fn keel_default() -> Self {
        HmacRecipe::new("default").parts([
            Part::Timestamp,
            Part::Method,
            Part::PathAndQuery,
            Part::Body,
        ])
    }

    /// Kraken spot REST: `API-Key: <key>`, a `nonce` form field (added first
    /// unless the body has one), `API-Sign: base64(HMAC-SHA512(base64-decoded
    /// secret, path + SHA256(nonce + POST data)))`.
    pub fn kraken() -> Self {
        HmacRecipe::new("kraken")
            .parts([Part::Path, Part::sha256([Part::Nonce, Part::Body])])
            .digest(Digest::Sha512)
            .secret_encoding(SecretEncoding::Base64)
            .output(Encoding::Base64)
            .key(Placement::Header(HeaderName::from_static("api-key")))
            .timestamp(Placement::Omit, TimestampFormat::UnixMillis)
            .nonce(Placement::form_field("nonce"))
            .signature(Placement::Header(HeaderName::from_static("api-sign")))
    }

    /// Binance spot (HMAC keys): `X-MBX-APIKEY: <key>`, a `timestamp` query
    /// parameter in unix ms (unless the query or form body has one), and a
    /// `signature` query parameter = hex(HMAC-SHA256(secret, query string +
    /// body)), appended last.
    pub fn binance() -> Self {
        HmacRecipe::new("binance")
            .parts([Part::Query, Part::Body])
            .key(Placement::Header(HeaderName::from_static("x-mbx-apikey")))
            .timestamp(Placement::query("timestamp"), TimestampFormat::UnixMillis)
            .signature(Placement::query("signature"))
    }

    /// Coinbase Exchange: `CB-ACCESS-KEY`, `CB-ACCESS-TIMESTAMP` (unix
    /// seconds), `CB-ACCESS-PASSPHRASE`, and `CB-ACCESS-SIGN` =
    /// base64(HMAC-SHA256(base64-decoded secret, timestamp + METHOD +
    /// requestPath (with query) + body)).
    pub fn coinbase() -> Self {
        HmacRecipe::new("coinbase")
            .parts([
                Part::Timestamp,
                Part::Method,
                Part::PathAndQuery,
                Part::Body,
            ])
            .secret_encoding(SecretEncoding::Base64)
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
    }

    /// OKX v5: `OK-ACCESS-KEY`, `OK-ACCESS-TIMESTAMP` (ISO-8601 UTC with
    /// milliseconds), `OK-ACCESS-PASSPHRASE`, and `OK-ACCESS-SIGN` =
    /// base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath (with
    /// query) + body)).
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
    }

    /// Bybit v5 (HMAC keys): `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP` (unix ms),
    /// `X-BAPI-RECV-WINDOW: <recv_window_ms>`, and `X-BAPI-SIGN` =
    /// hex(HMAC-SHA256(secret, timestamp + api_key + recv_window +
    /// (query string | JSON body))).
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
            .signature(Placement::Header(HeaderName::from_static("x-bapi-sign")));
        if let Ok(v) = HeaderValue::from_str(&window) {
            r.extra_headers
                .push((HeaderName::from_static("x-bapi-recv-window"), v));
        }
        r
    }

    /// The HMAC key: the secret decoded as the recipe says.
    pub(crate) fn key_bytes<'s>(&self, secret: &'s [u8]) -> Result<Cow<'s, [u8]>> {
        decode_secret(self.secret_encoding, secret).map_err(|why| {
            Error::Signing(format!("the API secret for the {} scheme {why}", self.name))
        })
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

fn write_parts(parts: &[Part], v: &Values<'_>, out: &mut Vec<u8>) {
    for p in parts {
        match p {
            Part::Timestamp => out.extend_from_slice(v.timestamp.as_bytes()),
            Part::Nonce => out.extend_from_slice(v.nonce.as_bytes()),
            Part::Method => out.extend_from_slice(v.method.as_bytes()),
            Part::Path => out.extend_from_slice(v.path.as_bytes()),
            Part::Query => out.extend_from_slice(v.query.as_bytes()),
            Part::PathAndQuery => {
                out.extend_from_slice(v.path.as_bytes());
                if !v.query.is_empty() {
                    out.push(b'?');
                    out.extend_from_slice(v.query.as_bytes());
                }
            }
            Part::Body => out.extend_from_slice(v.body),
            Part::ApiKey => out.extend_from_slice(v.api_key.as_bytes()),
            Part::Literal(s) => out.extend_from_slice(s.as_bytes()),
            Part::Hash(d, inner) => {
                let mut buf = Vec::with_capacity(64 + v.body.len());
                write_parts(inner, v, &mut buf);
                out.extend_from_slice(&digest(*d, &buf));
            }
        }
    }
}

pub(crate) fn decode_secret(
    enc: SecretEncoding,
    secret: &[u8],
) -> std::result::Result<Cow<'_, [u8]>, &'static str> {
    match enc {
        SecretEncoding::Raw => Ok(Cow::Borrowed(secret)),
        SecretEncoding::Base64 => {
            let trimmed = secret.trim_ascii();
            base64::engine::general_purpose::STANDARD
                .decode(trimmed)
                .map(Cow::Owned)
                .map_err(|_| "is not valid base64 (the scheme expects a base64-encoded secret)")
        }
        SecretEncoding::Hex => hex::decode(secret.trim_ascii())
            .map(Cow::Owned)
            .map_err(|_| "is not valid hexadecimal (the scheme expects a hex-encoded secret)"),
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

/// HMAC of `msg` under `key`.
pub(crate) fn hmac(d: Digest, key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    macro_rules! run {
        ($h:ty) => {
            match Hmac::<$h>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(msg);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        };
    }
    match d {
        Digest::Sha256 => run!(Sha256),
        Digest::Sha384 => run!(Sha384),
        Digest::Sha512 => run!(Sha512),
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

pub(crate) fn encode(enc: Encoding, bytes: &[u8]) -> String {
    match enc {
        Encoding::Hex => hex::encode(bytes),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    }
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
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    match format {
        TimestampFormat::UnixSeconds => d.as_secs().to_string(),
        TimestampFormat::UnixMillis => d.as_millis().to_string(),
        TimestampFormat::Iso8601Millis => iso8601_millis(d),
    }
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

fn iso8601_millis(d: Duration) -> String {
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 -> (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_iso8601(s: &str) -> Option<SystemTime> {
    // YYYY-MM-DDTHH:MM:SS[.fff]Z
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let mo: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut tp = hms.split(':');
    let h: u64 = tp.next()?.parse().ok()?;
    let mi: u64 = tp.next()?.parse().ok()?;
    let se: u64 = tp.next()?.parse().ok()?;
    if tp.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut nanos = 0u32;
    if !frac.is_empty() {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: String = frac.chars().chain("000000000".chars()).take(9).collect();
        nanos = digits.parse().ok()?;
    }
    let days = days_from_civil(y, mo, d);
    if days < 0 {
        return None;
    }
    let secs = days as u64 * 86_400 + h * 3600 + mi * 60 + se;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// The value of form field `name` in a urlencoded body.
pub(crate) fn form_value(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
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
        let decoded: String = url::form_urlencoded::parse(key)
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
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

/// Places `value` as `placement` says, unless the request already carries it
/// (query/form); returns the value in force.
fn place_param(
    req: &mut SigningRequest<'_>,
    placement: &Placement,
    value: String,
    sensitive: bool,
) -> Result<String> {
    match placement {
        Placement::Header(h) => {
            if sensitive {
                req.set_secret_header(h.clone(), &value)?;
            } else {
                req.set_header(h.clone(), &value)?;
            }
            Ok(value)
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
            if let Some(existing) = existing {
                return Ok(existing);
            }
            req.url.query_pairs_mut().append_pair(name, &value);
            Ok(value)
        }
        Placement::FormField(name) => {
            if let Some(existing) = form_value(req.body(), name) {
                return Ok(existing);
            }
            let pair = encode_pair(name, &value);
            let mut body = Vec::with_capacity(pair.len() + 1 + req.body().len());
            body.extend_from_slice(pair.as_bytes());
            if !req.body().is_empty() {
                body.push(b'&');
                body.extend_from_slice(req.body());
            }
            ensure_form_content_type(req);
            req.set_body(body);
            Ok(value)
        }
        Placement::Omit => Ok(value),
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

impl Signer for HmacRecipe {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        let secret = c.api_secret()?;
        let key = self.key_bytes(secret)?;
        let key = Zeroizing::new(key.into_owned());

        // The key.
        match &self.key {
            Placement::AuthHeader => {
                req.set_secret_header(c.auth_header_name().clone(), c.api_key())?
            }
            Placement::Header(h) => req.set_secret_header(h.clone(), c.api_key())?,
            Placement::Query(q) => {
                req.url.query_pairs_mut().append_pair(q, c.api_key());
            }
            Placement::FormField(f) => {
                let pair = encode_pair(f, c.api_key());
                let mut body = req.body().to_vec();
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(pair.as_bytes());
                ensure_form_content_type(req);
                req.set_body(body);
            }
            Placement::Omit => {}
        }
        // Timestamp, nonce, passphrase, fixed headers.
        let ts = place_param(
            req,
            &self.timestamp,
            format_timestamp(req.timestamp, self.timestamp_format),
            false,
        )?;
        let nonce = place_param(req, &self.nonce, req.nonce.to_string(), false)?;
        match &self.passphrase {
            Placement::Omit => {}
            Placement::Header(h) => req.set_secret_header(h.clone(), c.passphrase()?)?,
            other => {
                place_param(req, other, c.passphrase()?.to_owned(), true)?;
            }
        }
        for (n, v) in &self.extra_headers {
            req.headers.insert(n.clone(), v.clone());
        }

        let path = req.url.path().to_owned();
        let query = req.url.query().unwrap_or("").to_owned();
        let method = req.method.as_str().to_ascii_uppercase();
        let to_sign = self.string_to_sign(&Values {
            timestamp: &ts,
            nonce: &nonce,
            method: &method,
            path: &path,
            query: &query,
            body: req.body(),
            api_key: c.api_key(),
        });
        req.record_string_to_sign(&to_sign);
        let sig = encode(self.output, &hmac(self.digest, &key, &to_sign));

        match &self.signature {
            Placement::Header(h) => req.set_secret_header(h.clone(), &sig),
            Placement::Query(q) => {
                req.url.query_pairs_mut().append_pair(q, &sig);
                Ok(())
            }
            Placement::FormField(f) => {
                let pair = encode_pair(f, &sig);
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

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        let mut v = Vec::new();
        for p in [
            &self.key,
            &self.signature,
            &self.passphrase,
            &self.timestamp,
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
        let secret = c.api_secret()?;
        self.key_bytes(secret)?;
        if self.passphrase != Placement::Omit && !c.has_passphrase() {
            return Err(Error::config(format!(
                "the {} scheme needs an API passphrase; set it with `passphrase(...)`",
                self.name
            )));
        }
        Ok(())
    }
}

fn contains_body(parts: &[Part]) -> bool {
    parts.iter().any(|p| match p {
        Part::Body => true,
        Part::Hash(_, inner) => contains_body(inner),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn without_pair_keeps_order() {
        assert_eq!(
            without_pair(b"a=1&signature=x&b=2", "signature"),
            b"a=1&b=2".to_vec()
        );
        assert_eq!(without_pair(b"signature=x", "signature"), b"".to_vec());
    }
}
