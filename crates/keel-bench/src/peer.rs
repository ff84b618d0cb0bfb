//! The peer stack: what a Rust user builds today for a signed, resilient
//! client without Keel. reqwest-middleware with reqwest-retry's
//! `RetryTransientMiddleware` (3 retries, the crate's default exponential
//! backoff) outside an HMAC-SHA256 signing middleware, so every retry is
//! signed afresh. The signing middleware implements Keel's default scheme,
//! `keel-v2` (see the workspace README, "The default scheme"):
//!
//! ```text
//! API-Key: <api_key>
//! API-Timestamp: <milliseconds since the Unix epoch>
//! API-Nonce: <decimal u64, strictly increasing; seeded from the clock in µs>
//! API-Signature: hex(HMAC-SHA256(api_secret,
//!     timestamp + "\n" + nonce + "\n" + METHOD + "\n" + path_and_query + "\n" + body))
//! ```
//!
//! It is written as a careful user would write it: the HMAC is keyed once
//! (the keyed state is cloned per request), the nonce is one atomic
//! increment, the signature is hex-encoded on the stack, and the secret
//! headers are marked sensitive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::policies::ExponentialBackoff;
use reqwest_retry::RetryTransientMiddleware;
use sha2::Sha256;

/// `client` wrapped in the retry and signing middlewares, signing with
/// `api_key` / `api_secret`.
pub fn client(
    client: reqwest::Client,
    api_key: &str,
    api_secret: &str,
) -> anyhow::Result<ClientWithMiddleware> {
    let policy = ExponentialBackoff::builder().build_with_max_retries(3);
    Ok(ClientBuilder::new(client)
        // Added first, so it runs first: the retry loop wraps the signer.
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .with(HmacSigner::new(api_key, api_secret)?)
        .build())
}

/// Signs every request it sees with Keel's default HMAC scheme.
pub struct HmacSigner {
    key: HeaderValue,
    /// The HMAC keyed with the secret once; cloned for each signature.
    mac: Hmac<Sha256>,
    /// The last nonce sent.
    nonce: AtomicU64,
}

static API_KEY: HeaderName = HeaderName::from_static("api-key");
static API_TIMESTAMP: HeaderName = HeaderName::from_static("api-timestamp");
static API_NONCE: HeaderName = HeaderName::from_static("api-nonce");
static API_SIGNATURE: HeaderName = HeaderName::from_static("api-signature");

impl HmacSigner {
    /// A signer for `api_key` / `api_secret`; fails when the key is not a
    /// valid header value.
    pub fn new(api_key: &str, api_secret: &str) -> anyhow::Result<Self> {
        let mut key = HeaderValue::from_str(api_key)
            .map_err(|_| anyhow::anyhow!("the API key is not a valid header value"))?;
        key.set_sensitive(true);
        // HMAC accepts a key of any length; this cannot fail.
        let mac = Hmac::<Sha256>::new_from_slice(api_secret.as_bytes())
            .map_err(|_| anyhow::anyhow!("the HMAC rejected the secret"))?;
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
            .unwrap_or(0);
        Ok(HmacSigner {
            key,
            mac,
            nonce: AtomicU64::new(micros),
        })
    }

    /// The next nonce: one more than the last.
    fn next_nonce(&self) -> u64 {
        self.nonce.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The signature of one request, as lowercase hex.
    fn signature(
        &self,
        timestamp: &str,
        nonce: &str,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> [u8; 64] {
        let mut mac = self.mac.clone();
        mac.update(timestamp.as_bytes());
        mac.update(b"\n");
        mac.update(nonce.as_bytes());
        mac.update(b"\n");
        mac.update(method.as_bytes());
        mac.update(b"\n");
        mac.update(path.as_bytes());
        if let Some(q) = query {
            mac.update(b"?");
            mac.update(q.as_bytes());
        }
        mac.update(b"\n");
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        let mut hex = [0u8; 64];
        // 32 bytes always fit in 64 hex digits.
        let _ = hex::encode_to_slice(tag, &mut hex);
        hex
    }
}

#[async_trait::async_trait]
impl Middleware for HmacSigner {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let timestamp = ms.to_string();
        let nonce = self.next_nonce().to_string();
        // A streaming body cannot be signed; this stack only sends buffered
        // ones.
        let body = req.body().and_then(|b| b.as_bytes()).unwrap_or_default();
        let sig = self.signature(
            &timestamp,
            &nonce,
            req.method().as_str(),
            req.url().path(),
            req.url().query(),
            body,
        );
        let mut sig = HeaderValue::from_bytes(&sig)
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
        sig.set_sensitive(true);
        let ts = HeaderValue::from_str(&timestamp)
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
        let nonce = HeaderValue::from_str(&nonce)
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
        let headers = req.headers_mut();
        headers.insert(API_KEY.clone(), self.key.clone());
        headers.insert(API_TIMESTAMP.clone(), ts);
        headers.insert(API_NONCE.clone(), nonce);
        headers.insert(API_SIGNATURE.clone(), sig);
        next.run(req, extensions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's worked example of the default scheme.
    #[test]
    fn signs_the_readme_example() {
        let s = HmacSigner::new("k-123", "s3cr3t").unwrap();
        let sig = s.signature(
            "1700000000123",
            "1",
            "POST",
            "/v1/orders",
            Some("limit=5"),
            br#"{"qty":1}"#,
        );
        assert_eq!(
            std::str::from_utf8(&sig).unwrap(),
            "83ad16baa62a7ff9d6156b1fd5b734bdc26a56275583d93f6e608ebecbb2f784"
        );
    }
}
