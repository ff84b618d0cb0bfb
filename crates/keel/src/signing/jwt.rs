//! Coinbase CDP keys (Coinbase Advanced Trade and the Coinbase App API): a
//! short-lived JWT per request.
//!
//! Not the Coinbase **Exchange** API (`HmacRecipe::coinbase_exchange`, HMAC
//! keys with a passphrase): CDP keys are named
//! `organizations/{org_id}/apiKeys/{key_id}` (or a bare key id) and come
//! with an ECDSA P-256 private key (`-----BEGIN EC PRIVATE KEY-----`, signs
//! `ES256`) or an Ed25519 key (base64 of the 64-byte seed + public key, signs
//! `EdDSA`). Every request carries
//!
//! ```text
//! Authorization: Bearer <JWT>
//! JWT header:  {"alg":"ES256"|"EdDSA","kid":<key name>,"nonce":<32 hex digits, random>,"typ":"JWT"}
//! JWT claims:  {"sub":<key name>,"iss":"cdp","nbf":<now>,"exp":<now + 120>,"uri":"<METHOD> <host><path>"}
//! ```
//!
//! as Coinbase's "JWT Authentication" guide builds it (`uri` is the method,
//! a space, the host and the path without query; the token expires after 2
//! minutes). The JWS is built here: three base64url parts, the signature
//! over the first two by the key (raw `r || s` for ES256), so no second
//! cryptography stack is pulled in by a JWT crate.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use http::header::{HeaderName, AUTHORIZATION};
use std::sync::Arc;

use super::keys::{KeyKind, PrivateKey, SignatureAlgorithm};
use super::{Credentials, Signer, SigningRequest};
use crate::error::{Error, Result};

/// The default lifetime of a CDP JWT (Coinbase: 2 minutes).
pub const CDP_JWT_LIFETIME: Duration = Duration::from_secs(120);

/// The Coinbase CDP signer. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct CoinbaseCdp {
    lifetime: Duration,
}

impl Default for CoinbaseCdp {
    fn default() -> Self {
        Self::new()
    }
}

impl CoinbaseCdp {
    /// A CDP signer with the documented 2-minute expiry.
    pub fn new() -> Self {
        CoinbaseCdp {
            lifetime: CDP_JWT_LIFETIME,
        }
    }

    /// Another lifetime (Coinbase accepts at most 2 minutes).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime.min(CDP_JWT_LIFETIME);
        self
    }

    /// The `uri` claim of a request: `"GET api.coinbase.com/api/v3/brokerage/accounts"`.
    pub fn uri_claim(method: &http::Method, url: &url::Url) -> String {
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(p) => format!("{} {host}:{p}{}", method.as_str(), url.path()),
            None => format!("{} {host}{}", method.as_str(), url.path()),
        }
    }

    /// Builds the JWT for one request (`nonce_hex`: 32 hex digits; `now`:
    /// seconds since the epoch). Public for tools and tests.
    pub fn token(
        &self,
        key_name: &str,
        key: &PrivateKey,
        uri: &str,
        now: u64,
        nonce_hex: &str,
    ) -> Result<String> {
        let alg = match key.kind() {
            KeyKind::EcdsaP256 => ("ES256", SignatureAlgorithm::EcdsaP256Sha256),
            KeyKind::Ed25519 => ("EdDSA", SignatureAlgorithm::Ed25519),
            other => {
                return Err(Error::config(format!(
                    "Coinbase CDP keys are ECDSA P-256 (ES256) or Ed25519 (EdDSA), not {other}"
                )))
            }
        };
        let header = serde_json::json!({
            "alg": alg.0,
            "kid": key_name,
            "nonce": nonce_hex,
            "typ": "JWT",
        });
        let claims = serde_json::json!({
            "sub": key_name,
            "iss": "cdp",
            "nbf": now,
            "exp": now.saturating_add(self.lifetime.as_secs()),
            "uri": uri,
        });
        let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut jws = String::with_capacity(512);
        jws.push_str(&b64.encode(header.to_string()));
        jws.push('.');
        jws.push_str(&b64.encode(claims.to_string()));
        let sig = key.sign_with(alg.1, jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&b64.encode(sig));
        Ok(jws)
    }
}

/// The CDP key from the credentials: a private key given as such, or the
/// API secret as the CDP portal hands it out (an EC PEM, possibly with
/// `\n` escapes, or base64 of an Ed25519 key).
fn cdp_key(c: &Credentials) -> Result<PrivateKey> {
    if let Some(k) = c.signing_key()? {
        return Ok(k);
    }
    let secret = c.api_secret().map_err(|_| {
        Error::config("Coinbase CDP needs the key's private key: `api_secret(...)` with the secret the CDP portal shows (an EC PEM or a base64 Ed25519 key), or `private_key(...)`")
    })?;
    let text = secret.trim_ascii();
    let raw = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                Error::config("the Coinbase CDP secret is neither a PEM private key nor base64 (an Ed25519 CDP secret is base64 of 64 bytes)")
            })?,
    );
    PrivateKey::ed25519_from_bytes(&raw)
}

impl Signer for CoinbaseCdp {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        let key = cdp_key(c)?;
        sign_cdp(self, &key, req, c)
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        vec![AUTHORIZATION]
    }

    fn signs_body(&self) -> bool {
        false
    }

    fn requires_secret(&self) -> bool {
        true
    }

    fn check_credentials(&self, c: &Credentials) -> Result<()> {
        let key = cdp_key(c)?;
        if !matches!(key.kind(), KeyKind::EcdsaP256 | KeyKind::Ed25519) {
            return Err(Error::config(format!(
                "Coinbase CDP keys are ECDSA P-256 (ES256) or Ed25519 (EdDSA), not {}",
                key.kind()
            )));
        }
        Ok(())
    }

    fn prepare(&self, c: &Credentials) -> Result<Option<Arc<dyn Signer>>> {
        Ok(Some(Arc::new(BoundCdp {
            cdp: self.clone(),
            key: cdp_key(c)?,
        })))
    }
}

fn sign_cdp(
    cdp: &CoinbaseCdp,
    key: &PrivateKey,
    req: &mut SigningRequest<'_>,
    c: &Credentials,
) -> Result<()> {
    let now = req
        .timestamp
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // 122 random bits from the operating system's generator (uuid v4).
    let nonce = *uuid::Uuid::new_v4().as_bytes();
    let uri = CoinbaseCdp::uri_claim(req.method, req.url);
    let token = cdp.token(c.api_key(), key, &uri, now, &hex::encode(nonce))?;
    req.record_string_to_sign(uri.as_bytes());
    req.set_secret_header(AUTHORIZATION, &format!("Bearer {token}"))
}

/// A CDP signer bound to one key (parsed once).
#[derive(Debug)]
struct BoundCdp {
    cdp: CoinbaseCdp,
    key: PrivateKey,
}

impl Signer for BoundCdp {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> Result<()> {
        sign_cdp(&self.cdp, &self.key, req, c)
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        vec![AUTHORIZATION]
    }

    fn signs_body(&self) -> bool {
        false
    }

    fn requires_secret(&self) -> bool {
        true
    }
}
