//! RFC 9421 HTTP Message Signatures, with RFC 9530 `Content-Digest`.
//!
//! **Algorithms** (RFC 9421 §3.3): `hmac-sha256` (the API secret is the
//! shared key), `ed25519`, `ecdsa-p256-sha256`, `rsa-v1_5-sha256` and
//! `rsa-pss-sha512` (a private key: [`PrivateKey`], or a PEM given as the
//! API secret). Unless one is named ([`Rfc9421::with_algorithm`]), **the key
//! decides**: an Ed25519 key signs `ed25519`, a P-256 key
//! `ecdsa-p256-sha256`, an RSA key `rsa-v1_5-sha256`, an RSA-PSS key
//! `rsa-pss-sha512`, and a plain secret `hmac-sha256`. A PEM private key
//! where an `hmac-sha256` secret is named is an error, never a silent HMAC
//! keyed by the PEM text. The `alg` parameter is sent only when asked
//! ([`Rfc9421::include_alg`]), as in the RFC's own examples.
//!
//! **Components**: `@method`, `@authority`, `@scheme`, `@target-uri`,
//! `@request-target`, `@path`, `@query`, `@query-param;name="…"` and header
//! fields, with the `sf`, `key="…"` and `bs` parameters. Component lists,
//! `Signature-Input` and `Signature` are parsed and serialized as
//! structured fields (RFC 9651) by the `sfv` crate.
//!
//! **Verification** ([`verify_with`]) rebuilds the signature base from the
//! received `Signature-Input` and checks the signature (constant-time for
//! HMAC), then, as configured in [`VerifyOptions`]: a maximum age from
//! `created`, `expires`, required components, and nonce replay.
//!
//! ```
//! use keel::signing::{rfc9421::Rfc9421, Scheme};
//! let scheme = Scheme::rfc9421(
//!     Rfc9421::new() // the key decides the algorithm
//!         .components(["@method", "@authority", "@path", "content-type"])
//!         .key_id("my-key")
//!         .label("sig1"),
//! );
//! # let _ = scheme;
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::header::{HeaderMap, HeaderName, CONTENT_LENGTH};
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use sfv::{FieldType as _, Parser};
use url::Url;

use super::keys::{KeyKind, PrivateKey, PublicKey, SignatureAlgorithm};
use super::recipe::{self, Digest, SecretEncoding};
use super::verify::ReplayStore;
use super::{Credentials, Signer, SigningRequest};
use crate::error::{Error, Result};

/// The signature algorithm (RFC 9421 §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// `hmac-sha256`: a shared secret.
    HmacSha256,
    /// `ed25519`.
    Ed25519,
    /// `ecdsa-p256-sha256` (the signature is `r || s`).
    EcdsaP256Sha256,
    /// `rsa-v1_5-sha256`.
    RsaV15Sha256,
    /// `rsa-pss-sha512`.
    RsaPssSha512,
}

impl Algorithm {
    /// The registered name (`hmac-sha256`, `ed25519` …).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::RsaV15Sha256 => "rsa-v1_5-sha256",
            Algorithm::RsaPssSha512 => "rsa-pss-sha512",
        }
    }

    /// The algorithm of a registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "hmac-sha256" => Algorithm::HmacSha256,
            "ed25519" => Algorithm::Ed25519,
            "ecdsa-p256-sha256" => Algorithm::EcdsaP256Sha256,
            "rsa-v1_5-sha256" => Algorithm::RsaV15Sha256,
            "rsa-pss-sha512" => Algorithm::RsaPssSha512,
            _ => return None,
        })
    }

    /// Every registered name, for messages.
    pub const NAMES: &'static str =
        "hmac-sha256, ed25519, ecdsa-p256-sha256, rsa-v1_5-sha256, rsa-pss-sha512";

    /// The algorithm a key's type decides.
    pub fn for_key(kind: KeyKind) -> Self {
        match kind {
            KeyKind::Ed25519 => Algorithm::Ed25519,
            KeyKind::EcdsaP256 => Algorithm::EcdsaP256Sha256,
            KeyKind::Rsa => Algorithm::RsaV15Sha256,
            KeyKind::RsaPss => Algorithm::RsaPssSha512,
        }
    }

    fn key_algorithm(self) -> Option<SignatureAlgorithm> {
        match self {
            Algorithm::HmacSha256 => None,
            Algorithm::Ed25519 => Some(SignatureAlgorithm::Ed25519),
            Algorithm::EcdsaP256Sha256 => Some(SignatureAlgorithm::EcdsaP256Sha256),
            Algorithm::RsaV15Sha256 => Some(SignatureAlgorithm::RsaPkcs1v15Sha256),
            Algorithm::RsaPssSha512 => Some(SignatureAlgorithm::RsaPssSha512),
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

/// A covered component: a name (`@method`, `content-type`) and its
/// parameters (`sf`, `key="a"`, `bs`, `name="Pet"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    name: String,
    params: sfv::Parameters,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.identifier().unwrap_or_else(|_| self.name.clone()))
    }
}

impl Component {
    /// Parses one component identifier: `@method`, `"@method"`,
    /// `"content-type";sf`, `content-type;sf`, `"example-dict";key="a"`,
    /// `"@query-param";name="Pet"`. Field names are lower-cased.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let quoted = if text.starts_with('"') {
            text.to_owned()
        } else {
            let (name, params) = text.split_once(';').unwrap_or((text, ""));
            let mut q = String::with_capacity(text.len() + 2);
            q.push('"');
            q.push_str(&name.trim().to_ascii_lowercase());
            q.push('"');
            if !params.is_empty() {
                q.push(';');
                q.push_str(params);
            }
            q
        };
        let bad = |why: &str| {
            Error::config(format!(
                "{text:?} is not an RFC 9421 component identifier ({why}); write it as \"name\" or \"name\";param, e.g. \"content-type\";sf"
            ))
        };
        let item: sfv::Item = Parser::new(&quoted)
            .parse()
            .map_err(|e| bad(&e.to_string()))?;
        let name = match &item.bare_item {
            sfv::BareItem::String(s) => s.as_str().to_owned(),
            _ => return Err(bad("the name must be a string")),
        };
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        if name != name.to_ascii_lowercase() {
            return Err(bad("component names are lower case"));
        }
        Ok(Component {
            name,
            params: item.params,
        })
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn param(&self, key: &str) -> Option<&sfv::BareItem> {
        self.params
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    fn flag(&self, key: &str) -> bool {
        self.param(key).is_some()
    }

    /// The serialized identifier, as in the signature base: `"content-type";sf`.
    pub fn identifier(&self) -> Result<String> {
        let name = sfv::StringRef::from_str(&self.name).map_err(|_| {
            Error::Signing(format!(
                "{:?} cannot be an RFC 9421 component name (visible ASCII only)",
                self.name
            ))
        })?;
        Ok(sfv::ItemSerializer::new()
            .bare_item(name)
            .parameters(&self.params)
            .finish())
    }
}

/// Parses a component list as written in a `Signature-Input` or on the
/// command line: `"@method" "@authority" "content-type";sf` (quotes
/// optional for names without parameters).
pub fn parse_components(list: &str) -> Result<Vec<Component>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_str = false;
    let mut escaped = false;
    for ch in list.chars() {
        if in_str {
            cur.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_str = false;
            }
            continue;
        }
        match ch {
            '"' => {
                in_str = true;
                cur.push(ch);
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(Component::parse(&cur)?);
                    cur.clear();
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(Component::parse(&cur)?);
    }
    Ok(out)
}

/// An RFC 9421 signer. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Rfc9421 {
    alg: Option<Algorithm>,
    components: std::result::Result<Vec<Component>, String>,
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

impl Default for Rfc9421 {
    fn default() -> Self {
        Self::new()
    }
}

impl Rfc9421 {
    /// A signer whose algorithm the key decides (see the [module docs](self)).
    /// Default components: `@method @authority @path`; label `sig1`;
    /// `created` now; no `alg` parameter.
    pub fn new() -> Self {
        Rfc9421 {
            alg: None,
            components: Ok(["@method", "@authority", "@path"]
                .iter()
                .map(|n| Component {
                    name: (*n).to_owned(),
                    params: sfv::Parameters::new(),
                })
                .collect()),
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
        Self::with_algorithm(Algorithm::HmacSha256)
    }

    /// `ed25519` (the key must be an Ed25519 key).
    pub fn ed25519() -> Self {
        Self::with_algorithm(Algorithm::Ed25519)
    }

    /// A signer for the named algorithm (the key must fit it).
    pub fn with_algorithm(alg: Algorithm) -> Self {
        Rfc9421 {
            alg: Some(alg),
            ..Self::new()
        }
    }

    /// The covered components, in order (`"@method"`, `"content-type";sf`
    /// …; quotes are optional for a name without parameters). Default:
    /// `@method @authority @path`. An unparseable one fails when the client
    /// is built.
    pub fn components<I, S>(mut self, components: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.components = components
            .into_iter()
            .map(|c| Component::parse(c.as_ref()))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.to_string());
        self
    }

    /// The covered components, already parsed.
    pub fn component_list(mut self, components: Vec<Component>) -> Self {
        self.components = Ok(components);
        self
    }

    /// Parses a component list (see [`parse_components`]); invalid entries
    /// are an error.
    pub fn parse_components(list: &str) -> Result<Vec<Component>> {
        parse_components(list)
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

    fn components_checked(&self) -> Result<&[Component]> {
        self.components
            .as_deref()
            .map_err(|e| Error::config(e.clone()))
    }

    fn check_label(&self) -> Result<()> {
        sfv::KeyRef::from_str(&self.label).map(|_| ()).map_err(|_| {
            Error::config(format!(
                "the RFC 9421 label {:?} must be a structured-field key (lowercase a-z first, then a-z, 0-9, _ - . *)",
                self.label
            ))
        })
    }

    /// The key to sign with, and the algorithm.
    fn resolve(&self, c: &Credentials) -> Result<(Algorithm, RfcKey)> {
        let asym = c.signing_key()?;
        match (self.alg, asym) {
            (Some(Algorithm::HmacSha256), Some(_)) => Err(Error::config(
                "a PEM private key was given where an hmac-sha256 secret is expected; an asymmetric key signs with its own algorithm (leave the algorithm to the key, or name ed25519, ecdsa-p256-sha256, rsa-v1_5-sha256 or rsa-pss-sha512)",
            )),
            (Some(Algorithm::HmacSha256) | None, None) => {
                let secret = c.api_secret()?;
                let key = recipe::decode_secret(self.secret_encoding, secret)
                    .map_err(|why| Error::config(format!("the hmac-sha256 secret {why}")))?;
                recipe::check_key("RFC 9421 hmac-sha256", &key, self.secret_encoding, None)?;
                let mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key)
                    .map_err(|_| Error::config("the hmac-sha256 key was rejected"))?;
                Ok((Algorithm::HmacSha256, RfcKey::Hmac(mac)))
            }
            (Some(alg), None) => Err(Error::config(format!(
                "RFC 9421 {} needs a private key (`private_key(...)`, or a PEM as the API secret; formats: {})",
                alg.name(),
                super::keys::ACCEPTED_PRIVATE_KEY_FORMATS
            ))),
            (alg, Some(key)) => {
                let alg = alg.unwrap_or_else(|| Algorithm::for_key(key.kind()));
                let fits = alg.key_algorithm().is_some_and(|a| a.fits(key.kind()));
                if !fits {
                    return Err(Error::config(format!(
                        "RFC 9421 {} does not fit the {} key; leave the algorithm to the key ({}) or give a matching key",
                        alg.name(),
                        key.kind(),
                        Algorithm::for_key(key.kind()).name()
                    )));
                }
                Ok((alg, RfcKey::Private(key)))
            }
        }
    }

    fn params(
        &self,
        components: &[Component],
        alg: Algorithm,
        now: SystemTime,
        nonce: u64,
    ) -> Result<String> {
        let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let int = |v: u64| {
            sfv::Integer::try_from(v)
                .map_err(|_| Error::Signing(format!("{v} is too large for an RFC 9421 parameter")))
        };
        let string = |s: &str| -> Result<sfv::String> {
            sfv::String::from_string(s.to_owned()).map_err(|_| {
                Error::Signing(format!(
                    "{s:?} cannot be an RFC 9421 parameter (visible ASCII only)"
                ))
            })
        };
        let mut params: Vec<(&'static str, sfv::BareItem)> = Vec::new();
        match self.created {
            Created::Now => params.push(("created", int(now_s)?.into())),
            Created::At(t) => params.push(("created", int(t)?.into())),
            Created::Omit => {}
        }
        match self.expires {
            Some(Expires::After(d)) => {
                params.push(("expires", int(now_s.saturating_add(d.as_secs()))?.into()))
            }
            Some(Expires::At(t)) => params.push(("expires", int(t)?.into())),
            None => {}
        }
        if let Some(k) = &self.key_id {
            params.push(("keyid", string(k)?.into()));
        }
        match &self.nonce {
            NonceParam::Omit => {}
            NonceParam::Counter => params.push(("nonce", string(&nonce.to_string())?.into())),
            NonceParam::Fixed(n) => params.push(("nonce", string(n)?.into())),
        }
        if self.include_alg {
            params.push(("alg", string(alg.name())?.into()));
        }
        if let Some(t) = &self.tag {
            params.push(("tag", string(t)?.into()));
        }
        serialize_inner_list(&self.label, components, &params)
    }
}

/// `(components…);params` — the `@signature-params` value — serialized by
/// sfv (as the member of a dictionary, whose `label=` prefix is dropped).
fn serialize_inner_list(
    label: &str,
    components: &[Component],
    params: &[(&str, sfv::BareItem)],
) -> Result<String> {
    let bad_label = || Error::config(format!("the RFC 9421 label {label:?} is not a valid key"));
    let key = sfv::KeyRef::from_str(label).map_err(|_| bad_label())?;
    let mut dict = sfv::DictSerializer::new();
    {
        let mut list = dict.inner_list(key);
        for c in components {
            let name = sfv::StringRef::from_str(&c.name).map_err(|_| {
                Error::Signing(format!(
                    "{:?} cannot be an RFC 9421 component name (visible ASCII only)",
                    c.name
                ))
            })?;
            let _ = list.bare_item(name).parameters(&c.params);
        }
        let mut p = list.finish();
        for (k, v) in params {
            let k = sfv::KeyRef::from_str(k).map_err(|_| bad_label())?;
            p = p.parameter(k, v);
        }
    }
    let text = dict.finish().unwrap_or_default();
    text.strip_prefix(label)
        .and_then(|t| t.strip_prefix('='))
        .map(str::to_owned)
        .ok_or_else(bad_label)
}

/// The form-urlencoded percent-encode set (RFC 9421 §2.2.8 re-encodes
/// `@query-param` names and values with it; space becomes `%20`).
const QUERY_PARAM_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// Fields whose structured type is known, for the `sf` parameter.
fn field_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "signature"
        | "signature-input"
        | "content-digest"
        | "repr-digest"
        | "want-content-digest"
        | "want-repr-digest"
        | "accept-signature"
        | "priority"
        | "example-dict" => "dict",
        "cache-status" | "proxy-status" | "accept-ch" => "list",
        _ => return None,
    })
}

fn reserialize_sf(name: &str, value: &str) -> std::result::Result<String, String> {
    let bad = |e: sfv::Error| format!("the {name} field is not a valid structured field ({e})");
    let as_dict = || -> std::result::Result<String, String> {
        let d: sfv::Dictionary = Parser::new(value).parse().map_err(bad)?;
        Ok(d.serialize().unwrap_or_default())
    };
    let as_list = || -> std::result::Result<String, String> {
        let l: sfv::List = Parser::new(value).parse().map_err(bad)?;
        Ok(l.serialize().unwrap_or_default())
    };
    let as_item = || -> std::result::Result<String, String> {
        let i: sfv::Item = Parser::new(value).parse().map_err(bad)?;
        Ok(i.serialize())
    };
    match field_type(name) {
        Some("dict") => as_dict(),
        Some("list") => as_list(),
        _ => as_dict().or_else(|_| as_list()).or_else(|_| as_item()),
    }
}

/// The signature-base lines of one covered component (several for a query
/// parameter that occurs more than once).
fn component_lines(
    c: &Component,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
) -> std::result::Result<Vec<String>, ComponentError> {
    let one = |v: String| Ok(vec![v]);
    match c.name.as_str() {
        "@method" => one(method.as_str().to_owned()),
        "@authority" => {
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            one(match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        }
        "@scheme" => one(url.scheme().to_owned()),
        "@target-uri" => one(url.as_str().to_owned()),
        "@request-target" => one(match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }),
        "@path" => one(url.path().to_owned()),
        "@query" => one(format!("?{}", url.query().unwrap_or(""))),
        "@query-param" => {
            let Some(sfv::BareItem::String(want)) = c.param("name") else {
                return Err(ComponentError::Unsupported(
                    "@query-param needs a name parameter: \"@query-param\";name=\"Pet\"".into(),
                ));
            };
            // The `name` parameter holds the re-encoded name (§2.2.8).
            let values: Vec<String> = form_urlencoded::parse(url.query().unwrap_or("").as_bytes())
                .filter(|(k, _)| {
                    percent_encoding::utf8_percent_encode(k, QUERY_PARAM_SET).to_string()
                        == want.as_str()
                })
                .map(|(_, v)| percent_encoding::utf8_percent_encode(&v, QUERY_PARAM_SET).to_string())
                .collect();
            if values.is_empty() {
                return Err(ComponentError::Absent(format!(
                    "@query-param {:?}",
                    want.as_str()
                )));
            }
            Ok(values)
        }
        n if n.starts_with('@') => Err(ComponentError::Unsupported(format!(
            "RFC 9421 component {n:?} is not supported for requests (supported: @method, @authority, @scheme, @target-uri, @request-target, @path, @query, @query-param and header fields)"
        ))),
        n => {
            if c.flag("req") || c.flag("tr") {
                return Err(ComponentError::Unsupported(format!(
                    "the req and tr parameters (of {n:?}) apply to responses and trailers, which Keel does not sign"
                )));
            }
            let lines: Vec<&[u8]> = headers.get_all(n).iter().map(|v| v.as_bytes()).collect();
            if lines.is_empty() {
                return Err(ComponentError::Absent(n.to_owned()));
            }
            if c.flag("bs") {
                let parts: Vec<String> = lines
                    .iter()
                    .map(|l| {
                        format!(
                            ":{}:",
                            base64::engine::general_purpose::STANDARD.encode(l.trim_ascii())
                        )
                    })
                    .collect();
                return one(parts.join(", "));
            }
            let joined = lines
                .iter()
                .map(|l| String::from_utf8_lossy(l.trim_ascii()).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            if let Some(key) = c.param("key") {
                let sfv::BareItem::String(key) = key else {
                    return Err(ComponentError::Unsupported(format!(
                        "the key parameter of {n:?} must be a string"
                    )));
                };
                let dict: sfv::Dictionary = Parser::new(&joined).parse().map_err(|e| {
                    ComponentError::Unsupported(format!(
                        "the {n} field is not a structured dictionary ({e})"
                    ))
                })?;
                let member = dict
                    .iter()
                    .find(|(k, _)| k.as_str() == key.as_str())
                    .map(|(_, v)| v)
                    .ok_or_else(|| {
                        ComponentError::Absent(format!("{n} member {:?}", key.as_str()))
                    })?;
                let mut one_member = sfv::Dictionary::new();
                let Ok(k) = sfv::Key::from_string(key.as_str().to_owned()) else {
                    return Err(ComponentError::Absent(format!("{n} member {:?}", key.as_str())));
                };
                one_member.insert(k, member.clone());
                let text = one_member.serialize().unwrap_or_default();
                let value = text
                    .split_once('=')
                    .map(|(_, v)| v.to_owned())
                    .unwrap_or_else(|| "?1".into());
                return one(value);
            }
            if c.flag("sf") {
                return reserialize_sf(n, &joined)
                    .map(|v| vec![v])
                    .map_err(ComponentError::Unsupported);
            }
            one(joined)
        }
    }
}

enum ComponentError {
    /// The message does not have it.
    Absent(String),
    /// Keel cannot compute it.
    Unsupported(String),
}

fn signature_base_of(
    components: &[Component],
    params: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
) -> std::result::Result<String, SignatureRejection> {
    let mut base = String::with_capacity(256);
    for c in components {
        let id = c
            .identifier()
            .map_err(|e| SignatureRejection::Malformed(e.to_string()))?;
        let lines = component_lines(c, method, url, headers).map_err(|e| match e {
            ComponentError::Absent(what) => SignatureRejection::ComponentAbsent(what),
            ComponentError::Unsupported(why) => SignatureRejection::Unsupported(why),
        })?;
        for v in lines {
            base.push_str(&id);
            base.push_str(": ");
            base.push_str(&v);
            base.push('\n');
        }
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    Ok(base)
}

/// Builds the signature base from the components and the serialized
/// signature parameters (`@signature-params` value).
pub fn signature_base(
    components: &[Component],
    params: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
) -> Result<String> {
    signature_base_of(components, params, method, url, headers).map_err(|r| match r {
        SignatureRejection::ComponentAbsent(what) => Error::Signing(format!(
            "the covered component {what:?} is not part of this request; add it or remove it from the components"
        )),
        other => Error::Signing(other.reason()),
    })
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

/// The key an RFC 9421 signer signs with.
#[derive(Clone)]
enum RfcKey {
    /// The keyed HMAC-SHA256 state (wiped on drop).
    Hmac(Hmac<sha2::Sha256>),
    Private(PrivateKey),
}

impl Rfc9421 {
    fn sign_with(&self, req: &mut SigningRequest<'_>, alg: Algorithm, key: &RfcKey) -> Result<()> {
        self.check_label()?;
        let mut components = self.components_checked()?.to_vec();
        if let Some(d) = self.content_digest {
            // An empty body gets no digest unless the components name it
            // (then the digest of the empty body is what is covered).
            let listed = components.iter().any(|c| c.name == "content-digest");
            if listed || !req.body().is_empty() {
                let v = content_digest(d, req.body());
                req.set_header(HeaderName::from_static("content-digest"), &v)?;
                if !components.iter().any(|c| c.name == "content-digest") {
                    components.push(Component {
                        name: "content-digest".into(),
                        params: sfv::Parameters::new(),
                    });
                }
            }
        }
        if components.iter().any(|c| c.name == "content-length")
            && !req.headers.contains_key(CONTENT_LENGTH)
        {
            let len = req.body().len().to_string();
            req.set_header(CONTENT_LENGTH, &len)?;
        }
        let params = self.params(&components, alg, req.timestamp, req.nonce)?;
        let base = signature_base(&components, &params, req.method, req.url, req.headers)?;
        req.record_string_to_sign(base.as_bytes());
        let sig = match (key, alg.key_algorithm()) {
            (RfcKey::Hmac(mac), None) => {
                let mut mac = mac.clone();
                mac.update(base.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            (RfcKey::Private(k), Some(a)) => k.sign_with(a, base.as_bytes())?,
            _ => {
                return Err(Error::Signing(format!(
                    "RFC 9421 {} does not fit this key",
                    alg.name()
                )))
            }
        };
        req.set_header(
            HeaderName::from_static("signature-input"),
            &format!("{}={params}", self.label),
        )?;
        req.set_secret_header(
            HeaderName::from_static("signature"),
            &format!(
                "{}=:{}:",
                self.label,
                base64::engine::general_purpose::STANDARD.encode(sig)
            ),
        )
    }

    fn signs_body_inner(&self) -> bool {
        self.content_digest.is_some()
            || self.components.as_ref().is_ok_and(|cs| {
                cs.iter()
                    .any(|c| c.name == "content-digest" || c.name == "content-length")
            })
    }
}

impl Signer for Rfc9421 {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        let (alg, key) = self.resolve(c).map_err(|e| match e {
            Error::InvalidConfig(m) => Error::Signing(m),
            e => e,
        })?;
        self.sign_with(req, alg, &key)
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        vec![
            HeaderName::from_static("signature"),
            HeaderName::from_static("signature-input"),
        ]
    }

    fn signs_body(&self) -> bool {
        self.signs_body_inner()
    }

    fn requires_secret(&self) -> bool {
        true
    }

    fn check_credentials(&self, c: &Credentials) -> Result<()> {
        self.components_checked()?;
        self.check_label()?;
        self.resolve(c).map(|_| ())
    }

    fn prepare(&self, c: &Credentials) -> Result<Option<Arc<dyn Signer>>> {
        let (alg, key) = self.resolve(c)?;
        Ok(Some(Arc::new(BoundRfc9421 {
            cfg: self.clone(),
            alg,
            key,
        })))
    }
}

/// An RFC 9421 signer bound to one key (decoded, keyed or parsed once).
struct BoundRfc9421 {
    cfg: Rfc9421,
    alg: Algorithm,
    key: RfcKey,
}

impl fmt::Debug for BoundRfc9421 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundRfc9421")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Signer for BoundRfc9421 {
    fn sign(&self, req: &mut SigningRequest<'_>, _c: &Credentials) -> Result<()> {
        self.cfg.sign_with(req, self.alg, &self.key)
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        self.cfg.sensitive_headers()
    }

    fn signs_body(&self) -> bool {
        self.cfg.signs_body_inner()
    }

    fn requires_secret(&self) -> bool {
        true
    }
}

/// The key a received RFC 9421 signature is checked with.
#[non_exhaustive]
pub enum VerifyKey<'a> {
    /// An `hmac-sha256` shared key (raw bytes).
    HmacSha256(&'a [u8]),
    /// An `ed25519` public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    Ed25519PublicPem(&'a str),
    /// A public key (Ed25519, P-256 or RSA): its type decides the algorithm
    /// unless the signature's `alg` names another that fits it.
    Public(&'a PublicKey),
    /// A public key and the algorithm agreed for it out of band (RFC 9421,
    /// section 3.2: the verifier may know it from the key's context), for a
    /// key whose type alone does not say it — an RSA key that signs
    /// `rsa-pss-sha512`. A signature whose `alg` names another algorithm is
    /// refused.
    PublicWith(&'a PublicKey, Algorithm),
}

/// Why a received RFC 9421 signature was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureRejection {
    /// `Signature` or `Signature-Input` is absent.
    MissingHeader(&'static str),
    /// A header is not a valid structured field, or a member is malformed.
    Malformed(String),
    /// No signature has this label.
    NoSuchLabel(String),
    /// The `alg` parameter does not match the key.
    AlgorithmMismatch {
        /// The `alg` received.
        alg: String,
        /// What the key signs.
        key: &'static str,
    },
    /// A covered component is not part of the message.
    ComponentAbsent(String),
    /// A covered component or parameter cannot be computed.
    Unsupported(String),
    /// The signature does not verify.
    BadSignature,
    /// `created` is required and absent.
    MissingCreated,
    /// `created` is older than the maximum age.
    TooOld {
        /// Its age in seconds.
        age_secs: u64,
    },
    /// `created` is in the future (beyond the allowed clock skew).
    CreatedInFuture,
    /// `expires` has passed.
    Expired,
    /// A required component is not covered.
    MissingComponent(String),
    /// A nonce is required and absent.
    MissingNonce,
    /// The nonce was seen before.
    ReplayedNonce,
    /// The replay store is full.
    ReplayStoreFull,
}

impl SignatureRejection {
    /// A short, stable reason for an error body.
    pub fn reason(&self) -> String {
        match self {
            SignatureRejection::MissingHeader(h) => format!("missing header {h}"),
            SignatureRejection::Malformed(why) => format!("malformed signature: {why}"),
            SignatureRejection::NoSuchLabel(l) => format!("no signature labelled {l:?}"),
            SignatureRejection::AlgorithmMismatch { alg, key } => {
                format!("alg {alg:?} does not match the key ({key})")
            }
            SignatureRejection::ComponentAbsent(c) => {
                format!("covered component {c} is not in the message")
            }
            SignatureRejection::Unsupported(why) => format!("unsupported: {why}"),
            SignatureRejection::BadSignature => "bad signature".into(),
            SignatureRejection::MissingCreated => "missing created".into(),
            SignatureRejection::TooOld { age_secs } => {
                format!("signature too old ({age_secs} s)")
            }
            SignatureRejection::CreatedInFuture => "created is in the future".into(),
            SignatureRejection::Expired => "signature expired".into(),
            SignatureRejection::MissingComponent(c) => {
                format!("required component {c} is not covered")
            }
            SignatureRejection::MissingNonce => "missing nonce".into(),
            SignatureRejection::ReplayedNonce => "replayed nonce".into(),
            SignatureRejection::ReplayStoreFull => "replay store full".into(),
        }
    }
}

impl fmt::Display for SignatureRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for SignatureRejection {}

/// What a verifier enforces besides the signature itself. The default
/// checks `expires` when present and nothing else.
#[derive(Clone, Default)]
pub struct VerifyOptions {
    max_age: Option<Duration>,
    require_created: bool,
    allowed_skew: Duration,
    ignore_expires: bool,
    required: Vec<Component>,
    replay: Option<Arc<dyn ReplayStore>>,
    require_nonce: bool,
    now: Option<SystemTime>,
}

impl fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("max_age", &self.max_age)
            .field("require_created", &self.require_created)
            .field("required", &self.required)
            .field("replay", &self.replay.is_some())
            .field("require_nonce", &self.require_nonce)
            .finish_non_exhaustive()
    }
}

impl VerifyOptions {
    /// Nothing but the signature and `expires`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rejects signatures whose `created` is older than `max_age` (and
    /// requires `created`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self.require_created = true;
        self
    }

    /// How far in the future `created` may be (clock skew; default 0).
    pub fn allowed_skew(mut self, skew: Duration) -> Self {
        self.allowed_skew = skew;
        self
    }

    /// Accepts a signature whose `expires` has passed (default: rejected).
    pub fn ignore_expires(mut self, ignore: bool) -> Self {
        self.ignore_expires = ignore;
        self
    }

    /// These components must be covered (`"@method"`, `"content-digest"` …).
    pub fn require_components<I, S>(mut self, components: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for c in components {
            self.required.push(Component::parse(c.as_ref())?);
        }
        Ok(self)
    }

    /// Requires a `nonce` and rejects one seen before (per key id), kept in
    /// `store` (for example a [`MemoryReplayStore`](super::verify::MemoryReplayStore))
    /// until the signature expires or is older than the maximum age.
    pub fn reject_replays(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = Some(store);
        self.require_nonce = true;
        self
    }

    /// Verifies as of `now` (tests; recorded messages).
    pub fn at(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }
}

/// What a verified RFC 9421 signature said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedSignature {
    /// The signature base that was verified.
    pub base: String,
    /// The algorithm it was checked with.
    pub alg: Algorithm,
    /// The `keyid` parameter, if any.
    pub key_id: Option<String>,
    /// The `created` parameter, if any.
    pub created: Option<u64>,
    /// The `expires` parameter, if any.
    pub expires: Option<u64>,
    /// The `nonce` parameter, if any.
    pub nonce: Option<String>,
    /// The `tag` parameter, if any.
    pub tag: Option<String>,
}

/// Verifies the signature labelled `label` with the default options (the
/// signature and `expires`).
pub fn verify(
    label: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    key: VerifyKey<'_>,
) -> std::result::Result<VerifiedSignature, SignatureRejection> {
    verify_with(label, method, url, headers, key, &VerifyOptions::default())
}

fn joined(
    headers: &HeaderMap,
    name: &'static str,
) -> std::result::Result<String, SignatureRejection> {
    let all: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    if all.is_empty() {
        return Err(SignatureRejection::MissingHeader(name));
    }
    Ok(all.join(", "))
}

/// Verifies the signature labelled `label` on a received request: parses
/// `Signature-Input` and `Signature` (structured dictionaries), rebuilds the
/// signature base, checks the signature, then what `options` asks for.
pub fn verify_with(
    label: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    key: VerifyKey<'_>,
    options: &VerifyOptions,
) -> std::result::Result<VerifiedSignature, SignatureRejection> {
    let malformed = |what: &str, e: sfv::Error| {
        SignatureRejection::Malformed(format!("{what} is not a structured dictionary ({e})"))
    };
    let input: sfv::Dictionary = Parser::new(&joined(headers, "signature-input")?)
        .parse()
        .map_err(|e| malformed("Signature-Input", e))?;
    let sigs: sfv::Dictionary = Parser::new(&joined(headers, "signature")?)
        .parse()
        .map_err(|e| malformed("Signature", e))?;
    let inner = match input.iter().find(|(k, _)| k.as_str() == label) {
        Some((_, sfv::ListEntry::InnerList(l))) => l.clone(),
        Some(_) => {
            return Err(SignatureRejection::Malformed(format!(
                "the Signature-Input member {label:?} is not an inner list"
            )))
        }
        None => return Err(SignatureRejection::NoSuchLabel(label.to_owned())),
    };
    let sig = match sigs.iter().find(|(k, _)| k.as_str() == label) {
        Some((_, sfv::ListEntry::Item(i))) => match &i.bare_item {
            sfv::BareItem::ByteSequence(b) => b.clone(),
            _ => {
                return Err(SignatureRejection::Malformed(
                    "the Signature value is not a byte sequence (:base64:)".into(),
                ))
            }
        },
        // The label is there, but as an inner list: malformed, not absent.
        Some((_, sfv::ListEntry::InnerList(_))) => {
            return Err(SignatureRejection::Malformed(
                "the Signature value is not a byte sequence (:base64:)".into(),
            ))
        }
        None => return Err(SignatureRejection::NoSuchLabel(label.to_owned())),
    };
    let mut components = Vec::with_capacity(inner.items.len());
    for item in &inner.items {
        let sfv::BareItem::String(name) = &item.bare_item else {
            return Err(SignatureRejection::Malformed(
                "a covered component is not a string".into(),
            ));
        };
        components.push(Component {
            name: name.as_str().to_owned(),
            params: item.params.clone(),
        });
    }
    let mut v = VerifiedSignature {
        base: String::new(),
        alg: Algorithm::HmacSha256,
        key_id: None,
        created: None,
        expires: None,
        nonce: None,
        tag: None,
    };
    let mut alg_param = None;
    for (k, val) in &inner.params {
        let text = match val {
            sfv::BareItem::String(s) => Some(s.as_str().to_owned()),
            _ => None,
        };
        let int = match val {
            sfv::BareItem::Integer(i) => u64::try_from(i64::from(*i)).ok(),
            _ => None,
        };
        match k.as_str() {
            "created" => v.created = int,
            "expires" => v.expires = int,
            "keyid" => v.key_id = text,
            "nonce" => v.nonce = text,
            "tag" => v.tag = text,
            "alg" => alg_param = text,
            _ => {}
        }
    }
    // The algorithm: from the key, checked against `alg` when present.
    let pem_key;
    let public = match key {
        VerifyKey::HmacSha256(_) => None,
        VerifyKey::Ed25519PublicPem(pem) => {
            pem_key = PublicKey::from_pem(pem).map_err(|e| {
                SignatureRejection::Unsupported(format!("the verification key: {e}"))
            })?;
            Some(&pem_key)
        }
        VerifyKey::Public(k) | VerifyKey::PublicWith(k, _) => Some(k),
    };
    let agreed = match key {
        VerifyKey::PublicWith(k, a) => {
            if !a.key_algorithm().is_some_and(|x| x.fits(k.kind())) {
                return Err(SignatureRejection::Unsupported(format!(
                    "the verification key is {:?} and cannot verify {}",
                    k.kind(),
                    a.name()
                )));
            }
            Some(a)
        }
        _ => None,
    };
    let key_default = match (agreed, public) {
        (Some(a), _) => a,
        (None, None) => Algorithm::HmacSha256,
        (None, Some(k)) => Algorithm::for_key(k.kind()),
    };
    v.alg = match &alg_param {
        None => key_default,
        Some(a) if agreed.is_some_and(|x| x.name() != a) => {
            return Err(SignatureRejection::AlgorithmMismatch {
                alg: a.clone(),
                key: key_default.name(),
            })
        }
        Some(a) => {
            let named = Algorithm::from_name(a);
            let fits = match (named, public) {
                (Some(Algorithm::HmacSha256), None) => true,
                (Some(n), Some(k)) => n.key_algorithm().is_some_and(|x| x.fits(k.kind())),
                _ => false,
            };
            match named {
                Some(n) if fits => n,
                _ => {
                    return Err(SignatureRejection::AlgorithmMismatch {
                        alg: a.clone(),
                        key: key_default.name(),
                    })
                }
            }
        }
    };
    // Every parameter as received goes into the base (RFC 9421 §2.3).
    let received: Vec<(&str, sfv::BareItem)> = inner
        .params
        .iter()
        .map(|(k, val)| (k.as_str(), val.clone()))
        .collect();
    let params = serialize_inner_list(label, &components, &received)
        .map_err(|e| SignatureRejection::Malformed(e.to_string()))?;
    let base = signature_base_of(&components, &params, method, url, headers)?;
    let ok = match (public, v.alg.key_algorithm()) {
        (None, None) => match key {
            VerifyKey::HmacSha256(k) => {
                recipe::hmac_verify(Digest::Sha256, k, base.as_bytes(), &sig)
            }
            _ => false,
        },
        (Some(k), Some(a)) => k.verify(a, base.as_bytes(), &sig),
        _ => false,
    };
    if !ok {
        return Err(SignatureRejection::BadSignature);
    }
    // Policy, after the signature (so nothing unauthenticated is trusted).
    let now = options
        .now
        .unwrap_or_else(SystemTime::now)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if let Some(exp) = v.expires {
        if !options.ignore_expires && now > exp {
            return Err(SignatureRejection::Expired);
        }
    }
    match v.created {
        None if options.require_created => return Err(SignatureRejection::MissingCreated),
        Some(c) if c > now.saturating_add(options.allowed_skew.as_secs()) => {
            return Err(SignatureRejection::CreatedInFuture)
        }
        Some(c) => {
            if let Some(max) = options.max_age {
                let age = now.saturating_sub(c);
                if age > max.as_secs() {
                    return Err(SignatureRejection::TooOld { age_secs: age });
                }
            }
        }
        None => {}
    }
    for r in &options.required {
        if !components.contains(r) {
            return Err(SignatureRejection::MissingComponent(r.to_string()));
        }
    }
    if let Some(store) = &options.replay {
        let nonce = v.nonce.as_deref().ok_or(SignatureRejection::MissingNonce)?;
        // Remember the nonce for as long as the signature could be accepted.
        let horizon = match (v.expires, v.created, options.max_age) {
            (Some(exp), _, _) => exp.saturating_sub(now),
            (None, Some(c), Some(max)) => (c + max.as_secs()).saturating_sub(now),
            _ => 24 * 3600,
        };
        let token = format!(
            "rfc9421\u{0}{}\u{0}{nonce}",
            v.key_id.as_deref().unwrap_or_default()
        );
        match store.check_and_insert(&token, Duration::from_secs(horizon.max(1))) {
            Ok(true) => {}
            Ok(false) => return Err(SignatureRejection::ReplayedNonce),
            Err(_) => return Err(SignatureRejection::ReplayStoreFull),
        }
    } else if options.require_nonce && v.nonce.is_none() {
        return Err(SignatureRejection::MissingNonce);
    }
    v.base = base;
    Ok(v)
}
