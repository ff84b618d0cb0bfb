//! Webhook signature verification: the receiving side of signing.
//!
//! | provider | headers | signed bytes | MAC |
//! |---|---|---|---|
//! | [Standard Webhooks](https://www.standardwebhooks.com) (Svix, Resend, Clerk …) | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …` | `id.timestamp.body` | HMAC-SHA256, key = base64 after `whsec_` |
//! | Stripe | `Stripe-Signature: t=<ts>,v1=<hex>[,v1=…]` | `t.body` | HMAC-SHA256, key = the `whsec_…` text |
//! | GitHub | `X-Hub-Signature-256: sha256=<hex>` | `body` | HMAC-SHA256, key = the secret text |
//! | Slack | `X-Slack-Request-Timestamp`, `X-Slack-Signature: v0=<hex>` | `v0:timestamp:body` | HMAC-SHA256, key = the signing secret |
//!
//! Signatures are compared in constant time; a header may carry several
//! signatures (secret rotation) and any one matching is enough; timestamps
//! must be within the tolerance (default 5 minutes, either side) — GitHub
//! sends none, so a GitHub delivery can only be checked for replay by its
//! `X-GitHub-Delivery` id. Each failure is a [`WebhookRejection`] with a
//! short reason.
//!
//! ```
//! use keel::signing::webhook::WebhookVerifier;
//! let v = WebhookVerifier::github("It's a Secret to Everybody")?;
//! let mut headers = http::HeaderMap::new();
//! headers.insert(
//!     "x-hub-signature-256",
//!     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap(),
//! );
//! assert!(v.verify(&headers, b"Hello, World!").is_ok());
//! assert_eq!(
//!     v.verify(&headers, b"Hello, World?").unwrap_err().reason(),
//!     "no signature matches",
//! );
//! # Ok::<(), keel::Error>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretBox};

use super::recipe::{self, Digest};
use crate::error::{Error, Result};

/// The default tolerance for webhook timestamps (Standard Webhooks, Stripe
/// and Slack all use 5 minutes).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A webhook signature scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookScheme {
    /// The Standard Webhooks specification.
    StandardWebhooks,
    /// Stripe's `Stripe-Signature`.
    Stripe,
    /// GitHub's `X-Hub-Signature-256`.
    GitHub,
    /// Slack's `X-Slack-Signature`.
    Slack,
}

impl WebhookScheme {
    /// The scheme's name in the CLI (`standard`, `stripe`, `github`, `slack`).
    pub fn name(self) -> &'static str {
        match self {
            WebhookScheme::StandardWebhooks => "standard",
            WebhookScheme::Stripe => "stripe",
            WebhookScheme::GitHub => "github",
            WebhookScheme::Slack => "slack",
        }
    }

    /// The scheme of a CLI name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "standard" | "standard-webhooks" | "svix" => Some(WebhookScheme::StandardWebhooks),
            "stripe" => Some(WebhookScheme::Stripe),
            "github" => Some(WebhookScheme::GitHub),
            "slack" => Some(WebhookScheme::Slack),
            _ => None,
        }
    }
}

/// Why a webhook was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// A header the scheme needs is absent.
    MissingHeader(&'static str),
    /// A header is there but cannot be read.
    MalformedHeader {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The timestamp is further from now than the tolerance.
    OutsideTolerance {
        /// How far from now it is, in seconds (positive: in the past).
        age_secs: i64,
    },
    /// The header carries no signature of the version this verifier checks
    /// (`v1` for Standard Webhooks and Stripe, `v0` for Slack).
    NoSignatureOfVersion(&'static str),
    /// No signature matches the body.
    NoMatch,
}

impl WebhookRejection {
    /// A short, stable reason: `missing header webhook-id`, `malformed
    /// header Stripe-Signature: …`, `timestamp outside the tolerance (…)`,
    /// `no v1 signature`, `no signature matches`.
    pub fn reason(&self) -> String {
        match self {
            WebhookRejection::MissingHeader(h) => format!("missing header {h}"),
            WebhookRejection::MalformedHeader { header, why } => {
                format!("malformed header {header}: {why}")
            }
            WebhookRejection::OutsideTolerance { age_secs } => {
                if *age_secs >= 0 {
                    format!("timestamp outside the tolerance ({age_secs} s old)")
                } else {
                    format!(
                        "timestamp outside the tolerance ({} s in the future)",
                        -age_secs
                    )
                }
            }
            WebhookRejection::NoSignatureOfVersion(v) => format!("no {v} signature"),
            WebhookRejection::NoMatch => "no signature matches".into(),
        }
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for WebhookRejection {}

/// A webhook that passed verification.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedWebhook {
    /// The message id (Standard Webhooks `webhook-id`, GitHub
    /// `X-GitHub-Delivery`), for de-duplication.
    pub id: Option<String>,
    /// The signed timestamp (seconds since the epoch), when the scheme has one.
    pub timestamp: Option<i64>,
}

/// Verifies webhook signatures of one [`WebhookScheme`]. The secrets are
/// kept in zeroizing memory and never printed.
pub struct WebhookVerifier {
    scheme: WebhookScheme,
    keys: Vec<SecretBox<[u8]>>,
    tolerance: Duration,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("scheme", &self.scheme)
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl WebhookVerifier {
    /// A verifier for `scheme` with one secret, as the provider shows it
    /// (Standard Webhooks: `whsec_<base64>`; the others: the text).
    pub fn new(scheme: WebhookScheme, secret: &str) -> Result<Self> {
        let key = Self::key(scheme, secret)?;
        Ok(WebhookVerifier {
            scheme,
            keys: vec![key],
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Standard Webhooks, with a `whsec_…` secret.
    pub fn standard_webhooks(secret: &str) -> Result<Self> {
        Self::new(WebhookScheme::StandardWebhooks, secret)
    }

    /// Stripe, with the endpoint's signing secret (`whsec_…`).
    pub fn stripe(secret: &str) -> Result<Self> {
        Self::new(WebhookScheme::Stripe, secret)
    }

    /// GitHub, with the webhook's secret.
    pub fn github(secret: &str) -> Result<Self> {
        Self::new(WebhookScheme::GitHub, secret)
    }

    /// Slack, with the app's signing secret.
    pub fn slack(secret: &str) -> Result<Self> {
        Self::new(WebhookScheme::Slack, secret)
    }

    /// Also accepts signatures made with `secret` (while rotating secrets).
    pub fn also_secret(mut self, secret: &str) -> Result<Self> {
        self.keys.push(Self::key(self.scheme, secret)?);
        Ok(self)
    }

    /// How far a timestamp may be from now, either side (default 5 minutes).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    fn key(scheme: WebhookScheme, secret: &str) -> Result<SecretBox<[u8]>> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(Error::config(format!(
                "the {} webhook secret is empty; give the secret the provider shows for the endpoint",
                scheme.name()
            )));
        }
        let bytes = match scheme {
            WebhookScheme::StandardWebhooks => {
                let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
                let key = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| {
                        Error::config(
                            "a Standard Webhooks secret is `whsec_` followed by base64; this one is not valid base64",
                        )
                    })?;
                if key.is_empty() {
                    return Err(Error::config(
                        "the Standard Webhooks secret decodes to nothing",
                    ));
                }
                key
            }
            _ => secret.as_bytes().to_vec(),
        };
        Ok(SecretBox::new(bytes.into_boxed_slice()))
    }

    /// Verifies a delivery now.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> std::result::Result<VerifiedWebhook, WebhookRejection> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// Verifies a delivery as of `now` (for tests and replays of recorded
    /// deliveries).
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> std::result::Result<VerifiedWebhook, WebhookRejection> {
        match self.scheme {
            WebhookScheme::StandardWebhooks => self.standard(headers, body, now),
            WebhookScheme::Stripe => self.stripe_check(headers, body, now),
            WebhookScheme::GitHub => self.github_check(headers, body),
            WebhookScheme::Slack => self.slack_check(headers, body, now),
        }
    }

    fn check_time(&self, ts: i64, now: SystemTime) -> std::result::Result<(), WebhookRejection> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let age = now.saturating_sub(ts);
        if age.unsigned_abs() > self.tolerance.as_secs() {
            return Err(WebhookRejection::OutsideTolerance { age_secs: age });
        }
        Ok(())
    }

    /// Whether any candidate tag matches HMAC-SHA256(key, parts…) for any key.
    fn matches(&self, parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
        let mut msg = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            msg.extend_from_slice(p);
        }
        let mut ok = false;
        for key in &self.keys {
            for tag in candidates {
                // Constant time per comparison; every pair is checked.
                ok |= recipe::hmac_verify(Digest::Sha256, key.expose_secret(), &msg, tag);
            }
        }
        ok
    }

    fn standard(
        &self,
        h: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> std::result::Result<VerifiedWebhook, WebhookRejection> {
        let id = header(h, "webhook-id")?;
        let ts_text = header(h, "webhook-timestamp")?;
        let sigs = header(h, "webhook-signature")?;
        let ts: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| WebhookRejection::MalformedHeader {
                header: "webhook-timestamp",
                why: "not an integer number of seconds",
            })?;
        self.check_time(ts, now)?;
        let mut candidates = Vec::new();
        for entry in sigs.split(' ').filter(|s| !s.is_empty()) {
            let Some((version, sig)) = entry.split_once(',') else {
                return Err(WebhookRejection::MalformedHeader {
                    header: "webhook-signature",
                    why: "an entry is not `version,signature`",
                });
            };
            if version == "v1" {
                if let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(sig) {
                    candidates.push(tag);
                }
            }
        }
        if candidates.is_empty() {
            return Err(WebhookRejection::NoSignatureOfVersion("v1"));
        }
        if !self.matches(
            &[id.as_bytes(), b".", ts_text.trim().as_bytes(), b".", body],
            &candidates,
        ) {
            return Err(WebhookRejection::NoMatch);
        }
        Ok(VerifiedWebhook {
            id: Some(id),
            timestamp: Some(ts),
        })
    }

    fn stripe_check(
        &self,
        h: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> std::result::Result<VerifiedWebhook, WebhookRejection> {
        let value = header(h, "stripe-signature")?;
        let mut ts_text = None;
        let mut candidates = Vec::new();
        for item in value.split(',') {
            let Some((k, v)) = item.trim().split_once('=') else {
                return Err(WebhookRejection::MalformedHeader {
                    header: "Stripe-Signature",
                    why: "an item is not `key=value`",
                });
            };
            match k {
                "t" => ts_text = Some(v.to_owned()),
                "v1" => {
                    if let Ok(tag) = hex::decode(v) {
                        candidates.push(tag);
                    }
                }
                _ => {}
            }
        }
        let ts_text = ts_text.ok_or(WebhookRejection::MalformedHeader {
            header: "Stripe-Signature",
            why: "no timestamp (t=)",
        })?;
        let ts: i64 = ts_text
            .parse()
            .map_err(|_| WebhookRejection::MalformedHeader {
                header: "Stripe-Signature",
                why: "the timestamp (t=) is not an integer",
            })?;
        if candidates.is_empty() {
            return Err(WebhookRejection::NoSignatureOfVersion("v1"));
        }
        self.check_time(ts, now)?;
        if !self.matches(&[ts_text.as_bytes(), b".", body], &candidates) {
            return Err(WebhookRejection::NoMatch);
        }
        Ok(VerifiedWebhook {
            id: None,
            timestamp: Some(ts),
        })
    }

    fn github_check(
        &self,
        h: &HeaderMap,
        body: &[u8],
    ) -> std::result::Result<VerifiedWebhook, WebhookRejection> {
        let value = header(h, "x-hub-signature-256")?;
        let hex_sig =
            value
                .trim()
                .strip_prefix("sha256=")
                .ok_or(WebhookRejection::MalformedHeader {
                    header: "X-Hub-Signature-256",
                    why: "the value does not start with sha256=",
                })?;
        let tag = hex::decode(hex_sig).map_err(|_| WebhookRejection::MalformedHeader {
            header: "X-Hub-Signature-256",
            why: "the signature is not hexadecimal",
        })?;
        if !self.matches(&[body], &[tag]) {
            return Err(WebhookRejection::NoMatch);
        }
        Ok(VerifiedWebhook {
            id: h
                .get("x-github-delivery")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            timestamp: None,
        })
    }

    fn slack_check(
        &self,
        h: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> std::result::Result<VerifiedWebhook, WebhookRejection> {
        let ts_text = header(h, "x-slack-request-timestamp")?;
        let sig = header(h, "x-slack-signature")?;
        let ts: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| WebhookRejection::MalformedHeader {
                header: "X-Slack-Request-Timestamp",
                why: "not an integer number of seconds",
            })?;
        self.check_time(ts, now)?;
        let hex_sig = sig
            .trim()
            .strip_prefix("v0=")
            .ok_or(WebhookRejection::NoSignatureOfVersion("v0"))?;
        let tag = hex::decode(hex_sig).map_err(|_| WebhookRejection::MalformedHeader {
            header: "X-Slack-Signature",
            why: "the signature is not hexadecimal",
        })?;
        if !self.matches(&[b"v0:", ts_text.trim().as_bytes(), b":", body], &[tag]) {
            return Err(WebhookRejection::NoMatch);
        }
        Ok(VerifiedWebhook {
            id: None,
            timestamp: Some(ts),
        })
    }
}

fn header(h: &HeaderMap, name: &'static str) -> std::result::Result<String, WebhookRejection> {
    let v = h.get(name).ok_or(WebhookRejection::MissingHeader(name))?;
    v.to_str()
        .map(str::to_owned)
        .map_err(|_| WebhookRejection::MalformedHeader {
            header: name,
            why: "not visible ASCII",
        })
}
