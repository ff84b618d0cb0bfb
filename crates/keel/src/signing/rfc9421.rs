//! RFC 9421 HTTP Message Signatures, with RFC 9530 `Content-Digest`.
//!
//! Algorithms: `hmac-sha256` (the API secret is the shared key, decoded as
//! [`secret_encoding`](Rfc9421::secret_encoding) says) and `ed25519` (the
//! API secret is a PKCS#8 PEM private key). Covered components: `@method`,
//! `@authority`, `@scheme`, `@target-uri`, `@request-target`, `@path`,
//! `@query` and header fields (lowercase names). Signature parameters:
//! `created`, `expires`, `keyid`, `nonce`, `alg`, `tag`.
//!
//! ```
//! use keel::signing::{rfc9421::Rfc9421, Scheme};
//! let scheme = Scheme::rfc9421(
//!     Rfc9421::ed25519()
//!         .components(["@method", "@authority", "@path", "content-type"])
//!         .key_id("my-key")
//!         .label("sig1"),
//! );
//! # let _ = scheme;
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::Signer as _;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH};
use http::Method;
use url::Url;

use super::recipe::{self, Digest, SecretEncoding};
use super::{Credentials, Signer, SigningRequest};
use crate::error::{Error, Result};

/// The signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `hmac-sha256`: a shared secret.
    HmacSha256,
    /// `ed25519`: a PKCS#8 PEM private key (the API secret).
    Ed25519,
}

impl Algorithm {
    /// The registered name (`hmac-sha256`, `ed25519`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// The algorithm of a registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "hmac-sha256" => Some(Algorithm::HmacSha256),
            "ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

/// The `created` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// The attempt's (clock-corrected) time.
    Now,
    /// A fixed value (seconds since the epoch).
    At(u64),
    /// Not sent.
    Omit,
}

/// The `expires` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expires {
    /// The attempt's time plus this duration.
    After(Duration),
    /// A fixed value (seconds since the epoch).
    At(u64),
}

/// The `nonce` parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NonceParam {
    /// Not sent.
    Omit,
    /// The client family's strictly increasing nonce.
    Counter,
    /// A fixed value (for tools and tests).
    Fixed(String),
}

/// An RFC 9421 signer. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Rfc9421 {
    alg: Algorithm,
    components: Vec<String>,
    label: String,
    key_id: Option<String>,
    created: Created,
    expires: Option<Expires>,
    nonce: NonceParam,
    include_alg: bool,
    tag: Option<String>,
    content_digest: Option<Digest>,
    secret_encoding: SecretEncoding,
}

impl Rfc9421 {
    fn new(alg: Algorithm) -> Self {
        Rfc9421 {
            alg,
            components: vec!["@method".into(), "@authority".into(), "@path".into()],
            label: "sig1".into(),
            key_id: None,
            created: Created::Now,
            expires: None,
            nonce: NonceParam::Omit,
            include_alg: false,
            tag: None,
            content_digest: None,
            secret_encoding: SecretEncoding::Raw,
        }
    }

    /// `hmac-sha256` with the API secret as the shared key.
    pub fn hmac_sha256() -> Self {
        Self::new(Algorithm::HmacSha256)
    }

    /// `ed25519` with the API secret as a PKCS#8 PEM private key.
    pub fn ed25519() -> Self {
        Self::new(Algorithm::Ed25519)
    }

    /// A signer for the named algorithm.
    pub fn with_algorithm(alg: Algorithm) -> Self {
        Self::new(alg)
    }

    /// The covered components, in order (`"@method"`, `"content-type"` …;
    /// quotes are optional). Default: `@method @authority @path`.
    pub fn components<I, S>(mut self, components: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.components = components
            .into_iter()
            .map(|c| c.as_ref().trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        self
    }

    /// Parses a component list as written in a `Signature-Input`:
    /// `"@method" "@authority" "content-type"`.
    pub fn parse_components(list: &str) -> Vec<String> {
        list.split_whitespace()
            .map(|c| c.trim_matches('"').to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect()
    }

    /// The signature label (default `sig1`).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The `keyid` parameter.
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// The `created` parameter (default: the attempt's time).
    pub fn created(mut self, created: Created) -> Self {
        self.created = created;
        self
    }

    /// The `expires` parameter (default: none).
    pub fn expires(mut self, expires: Option<Expires>) -> Self {
        self.expires = expires;
        self
    }

    /// The `nonce` parameter (default: none).
    pub fn nonce(mut self, nonce: NonceParam) -> Self {
        self.nonce = nonce;
        self
    }

    /// Whether to send the `alg` parameter (default: no, as in the RFC's
    /// examples).
    pub fn include_alg(mut self, include: bool) -> Self {
        self.include_alg = include;
        self
    }

    /// The `tag` parameter.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Adds a `Content-Digest` header (RFC 9530) for requests with a body,
    /// and covers it.
    pub fn content_digest(mut self, digest: Digest) -> Self {
        self.content_digest = Some(digest);
        self
    }

    /// How an `hmac-sha256` secret is decoded (default: raw bytes).
    pub fn secret_encoding(mut self, encoding: SecretEncoding) -> Self {
        self.secret_encoding = encoding;
        self
    }

    fn params(&self, now: SystemTime, nonce: u64) -> Result<String> {
        let mut out = String::from("(");
        for (i, c) in self.covered_iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&sf_string(c)?);
        }
        out.push(')');
        let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        match self.created {
            Created::Now => out.push_str(&format!(";created={now_s}")),
            Created::At(t) => out.push_str(&format!(";created={t}")),
            Created::Omit => {}
        }
        match self.expires {
            Some(Expires::After(d)) => {
                out.push_str(&format!(";expires={}", now_s.saturating_add(d.as_secs())))
            }
            Some(Expires::At(t)) => out.push_str(&format!(";expires={t}")),
            None => {}
        }
        if let Some(k) = &self.key_id {
            out.push_str(&format!(";keyid={}", sf_string(k)?));
        }
        match &self.nonce {
            NonceParam::Omit => {}
            NonceParam::Counter => out.push_str(&format!(";nonce=\"{nonce}\"")),
            NonceParam::Fixed(n) => out.push_str(&format!(";nonce={}", sf_string(n)?)),
        }
        if self.include_alg {
            out.push_str(&format!(";alg=\"{}\"", self.alg.name()));
        }
        if let Some(t) = &self.tag {
            out.push_str(&format!(";tag={}", sf_string(t)?));
        }
        Ok(out)
    }

    fn covered_iter(&self) -> impl Iterator<Item = &str> {
        self.components.iter().map(String::as_str)
    }
}

/// An sf-string (RFC 8941): quoted, with `\` and `"` escaped; visible ASCII
/// and space only.
fn sf_string(s: &str) -> Result<String> {
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::Signing(format!(
            "{s:?} cannot be an RFC 9421 parameter or component name (visible ASCII only)"
        )));
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// The value of one covered component.
fn component_value(name: &str, method: &Method, url: &Url, headers: &HeaderMap) -> Result<String> {
    Ok(match name {
        "@method" => method.as_str().to_owned(),
        "@authority" => {
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        }
        "@scheme" => url.scheme().to_owned(),
        "@target-uri" => url.as_str().to_owned(),
        "@request-target" => match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        },
        "@path" => url.path().to_owned(),
        "@query" => format!("?{}", url.query().unwrap_or("")),
        n if n.starts_with('@') => {
            return Err(Error::Signing(format!(
                "RFC 9421 component {n:?} is not supported (supported: @method, @authority, @scheme, @target-uri, @request-target, @path, @query and header fields)"
            )))
        }
        n => {
            let values: Vec<String> = headers
                .get_all(n)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
                .collect();
            if values.is_empty() {
                return Err(Error::Signing(format!(
                    "the covered component {n:?} is not a header of this request; add the header or remove it from the components"
                )));
            }
            values.join(", ")
        }
    })
}

/// Builds the signature base from the components and the serialized
/// signature parameters (`@signature-params` value).
pub fn signature_base(
    components: &[String],
    params: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
) -> Result<String> {
    let mut base = String::with_capacity(256);
    for c in components {
        base.push_str(&sf_string(c)?);
        base.push_str(": ");
        base.push_str(&component_value(c, method, url, headers)?);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    Ok(base)
}

/// The `Content-Digest` header value (RFC 9530) of `body`.
pub fn content_digest(digest: Digest, body: &[u8]) -> String {
    let name = match digest {
        Digest::Sha256 => "sha-256",
        Digest::Sha384 => "sha-384",
        Digest::Sha512 => "sha-512",
    };
    format!(
        "{name}=:{}:",
        base64::engine::general_purpose::STANDARD.encode(recipe::digest(digest, body))
    )
}

fn ed25519_key(pem: &[u8]) -> Result<ed25519_dalek::SigningKey> {
    let text = std::str::from_utf8(pem).map_err(|_| {
        Error::Signing(
            "the ed25519 key must be a PKCS#8 PEM text (-----BEGIN PRIVATE KEY-----)".into(),
        )
    })?;
    ed25519_dalek::SigningKey::from_pkcs8_pem(text.trim()).map_err(|_| {
        Error::Signing(
            "the API secret is not a PKCS#8 PEM ed25519 private key (-----BEGIN PRIVATE KEY-----)"
                .into(),
        )
    })
}

impl Signer for Rfc9421 {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        let mut components = self.components.clone();
        if let Some(d) = self.content_digest {
            if !req.body().is_empty() {
                let v = content_digest(d, req.body());
                req.set_header(HeaderName::from_static("content-digest"), &v)?;
                if !components.iter().any(|c| c == "content-digest") {
                    components.push("content-digest".into());
                }
            }
        }
        if components.iter().any(|c| c == "content-length")
            && !req.headers.contains_key(CONTENT_LENGTH)
        {
            let len = req.body().len().to_string();
            req.set_header(CONTENT_LENGTH, &len)?;
        }
        let cfg = Rfc9421 {
            components,
            ..self.clone()
        };
        let params = cfg.params(req.timestamp, req.nonce)?;
        let base = signature_base(&cfg.components, &params, req.method, req.url, req.headers)?;
        req.record_string_to_sign(base.as_bytes());
        let sig = match self.alg {
            Algorithm::HmacSha256 => {
                let key = recipe::decode_secret(self.secret_encoding, c.api_secret()?)
                    .map_err(|why| Error::Signing(format!("the hmac-sha256 secret {why}")))?;
                recipe::hmac(Digest::Sha256, &key, base.as_bytes())
            }
            Algorithm::Ed25519 => {
                let key = ed25519_key(c.api_secret()?)?;
                key.sign(base.as_bytes()).to_bytes().to_vec()
            }
        };
        let label = &self.label;
        if label.is_empty()
            || !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b))
        {
            return Err(Error::Signing(format!(
                "the RFC 9421 label {label:?} must be a lowercase key (a-z, 0-9, _ - . *)"
            )));
        }
        req.set_header(
            HeaderName::from_static("signature-input"),
            &format!("{label}={params}"),
        )?;
        req.set_secret_header(
            HeaderName::from_static("signature"),
            &format!(
                "{label}=:{}:",
                base64::engine::general_purpose::STANDARD.encode(sig)
            ),
        )
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        vec![
            HeaderName::from_static("signature"),
            HeaderName::from_static("signature-input"),
        ]
    }

    fn signs_body(&self) -> bool {
        self.content_digest.is_some()
            || self
                .components
                .iter()
                .any(|c| c == "content-digest" || c == "content-length")
    }

    fn requires_secret(&self) -> bool {
        true
    }

    fn check_credentials(&self, c: &Credentials) -> Result<()> {
        match self.alg {
            Algorithm::HmacSha256 => {
                recipe::decode_secret(self.secret_encoding, c.api_secret()?)
                    .map_err(|why| Error::config(format!("the hmac-sha256 secret {why}")))?;
            }
            Algorithm::Ed25519 => {
                ed25519_key(c.api_secret()?).map_err(|e| Error::config(e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// The key a received RFC 9421 signature is checked with.
pub enum VerifyKey<'a> {
    /// An `hmac-sha256` shared key (raw bytes).
    HmacSha256(&'a [u8]),
    /// An `ed25519` public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    Ed25519PublicPem(&'a str),
}

/// What a verified RFC 9421 signature said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The signature base that was verified.
    pub base: String,
    /// The `keyid` parameter, if any.
    pub key_id: Option<String>,
    /// The `created` parameter, if any.
    pub created: Option<u64>,
    /// The `expires` parameter, if any.
    pub expires: Option<u64>,
    /// The `nonce` parameter, if any.
    pub nonce: Option<String>,
}

/// Verifies the signature labelled `label` on a received request: rebuilds
/// the signature base from its `Signature-Input` and checks `Signature`
/// (constant-time for HMAC). Checking `created`/`expires` against a window
/// and `nonce` against replays is the caller's (the values are returned).
pub fn verify(
    label: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    key: VerifyKey<'_>,
) -> std::result::Result<VerifiedSignature, String> {
    let input = header_str(headers, "signature-input")?;
    let sig_header = header_str(headers, "signature")?;
    let params = dict_member(&input, label)
        .ok_or_else(|| format!("no signature labelled {label:?} in Signature-Input"))?;
    let sig_value = dict_member(&sig_header, label)
        .ok_or_else(|| format!("no signature labelled {label:?} in Signature"))?;
    let sig_b64 = sig_value
        .strip_prefix(':')
        .and_then(|s| s.strip_suffix(':'))
        .ok_or("the Signature value is not a byte sequence (:base64:)")?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64)
        .map_err(|_| "the Signature value is not valid base64".to_string())?;
    let close = params.find(')').ok_or("malformed Signature-Input")?;
    let inner = params
        .strip_prefix('(')
        .ok_or("malformed Signature-Input")?;
    let components: Vec<String> = inner[..close - 1]
        .split_whitespace()
        .map(|c| {
            c.strip_prefix('"')
                .and_then(|c| c.strip_suffix('"'))
                .map(str::to_owned)
                .ok_or_else(|| format!("unsupported component {c:?}"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let mut v = VerifiedSignature {
        base: String::new(),
        key_id: None,
        created: None,
        expires: None,
        nonce: None,
    };
    for (k, val, unq) in sf_params(&params[close + 1..])? {
        let (val, unq) = (val.as_str(), unq);
        match k.as_str() {
            "created" => v.created = val.parse().ok(),
            "expires" => v.expires = val.parse().ok(),
            "keyid" => v.key_id = Some(unq),
            "nonce" => v.nonce = Some(unq),
            "alg" => {
                let expected = match key {
                    VerifyKey::HmacSha256(_) => "hmac-sha256",
                    VerifyKey::Ed25519PublicPem(_) => "ed25519",
                };
                if unq != expected {
                    return Err(format!("alg {unq:?} does not match the key ({expected})"));
                }
            }
            _ => {}
        }
    }
    let base =
        signature_base(&components, params, method, url, headers).map_err(|e| e.to_string())?;
    let ok = match key {
        VerifyKey::HmacSha256(k) => recipe::hmac_verify(Digest::Sha256, k, base.as_bytes(), &sig),
        VerifyKey::Ed25519PublicPem(pem) => {
            let vk = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
                .map_err(|_| "the ed25519 public key is not an SPKI PEM".to_string())?;
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig) else {
                return Err("bad signature".into());
            };
            vk.verify_strict(base.as_bytes(), &sig).is_ok()
        }
    };
    if !ok {
        return Err("bad signature".into());
    }
    v.base = base;
    Ok(v)
}

fn header_str(headers: &HeaderMap, name: &str) -> std::result::Result<String, String> {
    let all: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
    if all.is_empty() {
        return Err(format!("missing header {name}"));
    }
    Ok(all
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", "))
}

/// The parameters after an inner list (`;created=1;keyid="a\\"b"`): each
/// key, its raw value and its value with an sf-string unquoted and
/// unescaped (RFC 8941 3.3.3). A `;` inside a string does not split.
fn sf_params(s: &str) -> std::result::Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(after) = rest.strip_prefix(';') {
        let after = after.trim_start();
        let key_len = after.find(['=', ';']).unwrap_or(after.len());
        let key = after[..key_len].trim().to_owned();
        rest = &after[key_len..];
        let Some(value) = rest.strip_prefix('=') else {
            out.push((key, String::new(), String::new()));
            continue;
        };
        if let Some(quoted) = value.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c @ ('"' | '\\'))) => text.push(c),
                        _ => return Err("malformed string in Signature-Input".into()),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => text.push(c),
                    None => return Err("unterminated string in Signature-Input".into()),
                }
            };
            let raw = format!("\"{}\"", &quoted[..end]);
            rest = &quoted[end + 1..];
            out.push((key, raw, text));
        } else {
            let len = value.find(';').unwrap_or(value.len());
            let raw = value[..len].trim().to_owned();
            rest = &value[len..];
            out.push((key, raw.clone(), raw));
        }
    }
    if !rest.trim().is_empty() {
        return Err("malformed parameters in Signature-Input".into());
    }
    Ok(out)
}

/// The value of member `key` of a structured-field dictionary, verbatim.
fn dict_member<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut escaped = false;
    let mut start = 0;
    let bytes = dict.as_bytes();
    let mut members = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 => {
                members.push(&dict[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(&dict[start..]);
    members.into_iter().find_map(|m| {
        let m = m.trim();
        let (k, v) = m.split_once('=')?;
        (k == key).then_some(v)
    })
}
