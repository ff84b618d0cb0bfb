//! Server-side verification of requests signed with an [`HmacRecipe`].
//!
//! A [`Verifier`] checks, in this order: the key is present and known, the
//! timestamp is inside the window, the signature matches (compared in
//! constant time), and the nonce — or, for schemes without one, the
//! signature itself — has not been seen within the window (a bounded replay
//! store). Each failure is a [`Rejection`] whose [`reason`](Rejection::reason)
//! is a short, stable text for a 401 body.
//!
//! ```
//! use keel::signing::{verify::{Verifier, VerifyRequest}, HmacRecipe};
//! use std::time::Duration;
//!
//! let verifier = Verifier::builder(HmacRecipe::keel_default())
//!     .key("k-123", "s3cr3t")
//!     .window(Duration::from_secs(30))
//!     .build();
//! let headers = http::HeaderMap::new();
//! let req = VerifyRequest::new(&http::Method::GET, "/orders", &headers, b"");
//! assert_eq!(verifier.verify(&req).unwrap_err().reason(), "missing header API-Key");
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http::header::HeaderMap;
use http::Method;
use secrecy::{ExposeSecret, SecretBox};

use super::recipe::{self, uses, HmacRecipe, Part, Placement, Values};
use crate::authenticated::DEFAULT_AUTH_HEADER_NAME as DEFAULT_KEY_HEADER;

/// Why a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// A credential or signature value is missing (`"header API-Key"`).
    Missing(String),
    /// The API key is not known.
    UnknownKey,
    /// The timestamp is outside the window (or unreadable).
    StaleTimestamp,
    /// The signature does not match.
    BadSignature,
    /// The nonce (or signature) was already used within the window.
    ReplayedNonce,
    /// The replay store is full of unexpired entries: the request is refused
    /// rather than let through unchecked.
    ReplayStoreFull,
}

impl Rejection {
    /// A short, stable reason for an error body: `"bad signature"`,
    /// `"stale timestamp"`, `"replayed nonce"`, `"unknown key"`,
    /// `"missing header API-Key"`, `"replay store full"`.
    pub fn reason(&self) -> String {
        match self {
            Rejection::Missing(what) => format!("missing {what}"),
            Rejection::UnknownKey => "unknown key".into(),
            Rejection::StaleTimestamp => "stale timestamp".into(),
            Rejection::BadSignature => "bad signature".into(),
            Rejection::ReplayedNonce => "replayed nonce".into(),
            Rejection::ReplayStoreFull => "replay store full".into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for Rejection {}

/// A received request, as the server saw it.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    method: &'a Method,
    path_and_query: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl<'a> VerifyRequest<'a> {
    /// The method, the raw path and query (`/v1/orders?limit=5`), the
    /// headers and the body bytes of a received request.
    pub fn new(
        method: &'a Method,
        path_and_query: &'a str,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        VerifyRequest {
            method,
            path_and_query,
            headers,
            body,
        }
    }
}

/// A request that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The API key that signed it.
    pub api_key: String,
}

/// Remembers recently used nonces. Implement it to share replay state
/// between processes (a Redis `SET NX PX`, for example).
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `token` for `ttl`; `Ok(false)` when it was already recorded
    /// and has not expired, `Err(Rejection::ReplayStoreFull)` when it cannot
    /// record it.
    fn check_and_insert(&self, token: &str, ttl: Duration) -> Result<bool, Rejection>;
}

/// An in-process [`ReplayStore`] holding at most `capacity` unexpired
/// tokens; when full, new requests are refused ([`Rejection::ReplayStoreFull`])
/// rather than let through unchecked.
///
/// Tokens are kept as 64-bit keyed fingerprints (SipHash with a random key
/// per store), about 40 bytes each: a million tokens — 20 000 requests per
/// second for the default 30-second window, and more — take about 40 MB.
/// Two different tokens share a fingerprint with probability about
/// `tokens / 2^64` per request: a false "replayed nonce" is practically
/// impossible.
pub struct MemoryReplayStore {
    capacity: usize,
    hasher: std::collections::hash_map::RandomState,
    inner: Mutex<StoreInner>,
}

#[derive(Default)]
struct StoreInner {
    seen: HashMap<u64, Instant>,
    order: VecDeque<(Instant, u64)>,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryReplayStore {
    /// A store for at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        MemoryReplayStore {
            capacity: capacity.max(1),
            hasher: std::collections::hash_map::RandomState::new(),
            inner: Mutex::new(StoreInner::default()),
        }
    }

    /// How many unexpired tokens are held.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .len()
    }

    /// Whether the store holds no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(&self, token: &str, ttl: Duration) -> Result<bool, Rejection> {
        use std::hash::BuildHasher as _;
        let token = self.hasher.hash_one(token);
        let now = Instant::now();
        let mut s = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // Drop expired entries (oldest first; bounded by the store's size).
        while let Some((exp, _)) = s.order.front() {
            if *exp > now {
                break;
            }
            if let Some((_, tok)) = s.order.pop_front() {
                if s.seen.get(&tok).is_some_and(|e| *e <= now) {
                    s.seen.remove(&tok);
                }
            }
        }
        if let Some(exp) = s.seen.get(&token) {
            if *exp > now {
                return Ok(false);
            }
        }
        if s.seen.len() >= self.capacity {
            return Err(Rejection::ReplayStoreFull);
        }
        let exp = now + ttl;
        s.seen.insert(token, exp);
        // Entries leave in insertion order; an entry with a shorter TTL
        // behind a longer one leaves a little late (never early).
        s.order.push_back((exp, token));
        Ok(true)
    }
}

/// Verifies requests signed with an [`HmacRecipe`]. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

struct VerifierInner {
    recipe: HmacRecipe,
    keys: HashMap<String, SecretBox<[u8]>>,
    auth_header: String,
    window: Duration,
    replay_ttl: Option<Duration>,
    store: Arc<dyn ReplayStore>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("recipe", &self.inner.recipe.name)
            .field("keys", &self.inner.keys.len())
            .field("window", &self.inner.window)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Verifier`].
#[must_use = "a builder does nothing until `build()` is called"]
pub struct VerifierBuilder {
    recipe: HmacRecipe,
    keys: HashMap<String, SecretBox<[u8]>>,
    auth_header: String,
    window: Duration,
    replay_ttl: Option<Duration>,
    store: Option<Arc<dyn ReplayStore>>,
    capacity: usize,
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("recipe", &self.recipe.name)
            .field("keys", &self.keys.len())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts a verifier for requests signed with `recipe`. Defaults: a
    /// 30-second window either side, each nonce remembered until its
    /// timestamp leaves the window, an in-memory store of 1 000 000 tokens
    /// (enough for 30 000 requests per second with the default window).
    pub fn builder(recipe: HmacRecipe) -> VerifierBuilder {
        VerifierBuilder {
            recipe,
            keys: HashMap::new(),
            auth_header: DEFAULT_KEY_HEADER.into(),
            window: Duration::from_secs(30),
            replay_ttl: None,
            store: None,
            capacity: 1_000_000,
        }
    }

    /// Verifies one request.
    pub fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        self.verify_at(req, SystemTime::now())
    }

    /// Verifies one request as of `now` (for tests).
    pub fn verify_at(
        &self,
        req: &VerifyRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let v = &self.inner;
        let r = &v.recipe;
        let (path, query) = req
            .path_and_query
            .split_once('?')
            .unwrap_or((req.path_and_query, ""));

        let key = read(&r.key, req, query, &v.auth_header)?;
        let secret = v.keys.get(&key).ok_or(Rejection::UnknownKey)?;

        let needs_ts = uses(&r.parts, &Part::Timestamp) || r.timestamp != Placement::Omit;
        // How long this request's nonce must be remembered: until its
        // timestamp leaves the window (at most twice the window).
        let mut remember = v.window.saturating_mul(2);
        let ts = if needs_ts {
            let ts = read(&r.timestamp, req, query, &v.auth_header)?;
            let t = recipe::parse_timestamp(&ts, r.timestamp_format)
                .ok_or(Rejection::StaleTimestamp)?;
            let (skew, ahead) = match t.duration_since(now) {
                Ok(d) => (d, true),
                Err(e) => (e.duration(), false),
            };
            if skew > v.window {
                return Err(Rejection::StaleTimestamp);
            }
            remember = if ahead {
                v.window + skew
            } else {
                v.window - skew
            };
            ts
        } else {
            String::new()
        };
        let nonce = if r.nonce != Placement::Omit {
            read(&r.nonce, req, query, &v.auth_header)?
        } else {
            String::new()
        };
        if let Placement::Header(h) = &r.passphrase {
            if !req.headers.contains_key(h) {
                return Err(Rejection::Missing(r.passphrase.describe(&v.auth_header)));
            }
        }
        let sig_text = read(&r.signature, req, query, &v.auth_header)?;
        let (query_signed, body_signed): (Vec<u8>, Vec<u8>) = match &r.signature {
            Placement::Query(q) => (recipe::without_pair(query.as_bytes(), q), req.body.to_vec()),
            Placement::FormField(f) => {
                (query.as_bytes().to_vec(), recipe::without_pair(req.body, f))
            }
            _ => (query.as_bytes().to_vec(), req.body.to_vec()),
        };
        let query_signed = String::from_utf8_lossy(&query_signed);
        let method = req.method.as_str().to_ascii_uppercase();
        let to_sign = r.string_to_sign(&Values {
            timestamp: &ts,
            nonce: &nonce,
            method: &method,
            path,
            query: &query_signed,
            body: &body_signed,
            api_key: &key,
        });
        let hmac_key = r
            .key_bytes(secret.expose_secret())
            .map_err(|_| Rejection::UnknownKey)?;
        let tag = recipe::decode(r.output, &sig_text).ok_or(Rejection::BadSignature)?;
        if !recipe::hmac_verify(r.digest, &hmac_key, &to_sign, &tag) {
            return Err(Rejection::BadSignature);
        }
        let token = if nonce.is_empty() {
            format!("{key}\u{0}s\u{0}{sig_text}")
        } else {
            format!("{key}\u{0}n\u{0}{nonce}")
        };
        let ttl = v.replay_ttl.unwrap_or(remember).max(Duration::from_secs(1));
        if !v.store.check_and_insert(&token, ttl)? {
            return Err(Rejection::ReplayedNonce);
        }
        Ok(Verified { api_key: key })
    }
}

fn read(
    placement: &Placement,
    req: &VerifyRequest<'_>,
    query: &str,
    auth_header: &str,
) -> Result<String, Rejection> {
    let missing = || Rejection::Missing(placement.describe(auth_header));
    let value = match placement {
        Placement::Header(h) => req
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        Placement::AuthHeader => req
            .headers
            .get(auth_header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        Placement::Query(q) => recipe::query_value(query, q),
        Placement::FormField(f) => recipe::form_value(req.body, f),
        Placement::Omit => None,
    };
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(missing()),
    }
}

impl VerifierBuilder {
    /// Accepts `api_key`, whose requests are signed with `secret` (as the
    /// client was given it: the recipe's secret encoding applies).
    pub fn key(mut self, api_key: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.keys.insert(
            api_key.into(),
            SecretBox::new(secret.as_ref().to_vec().into_boxed_slice()),
        );
        self
    }

    /// The header the key arrives in when the recipe says
    /// [`Placement::AuthHeader`] (default `API-Key`).
    pub fn auth_header_name(mut self, name: impl Into<String>) -> Self {
        self.auth_header = name.into();
        self
    }

    /// How far a timestamp may be from the server's clock, either side.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How long a nonce (or signature) is remembered (default: until the
    /// request's timestamp leaves the window, so a replay is caught for as
    /// long as its timestamp is accepted).
    pub fn replay_ttl(mut self, ttl: Duration) -> Self {
        self.replay_ttl = Some(ttl);
        self
    }

    /// The capacity of the default in-memory replay store.
    pub fn replay_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Uses another replay store (shared between processes).
    pub fn replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The verifier.
    pub fn build(self) -> Verifier {
        let window = self.window;
        Verifier {
            inner: Arc::new(VerifierInner {
                recipe: self.recipe,
                keys: self.keys,
                auth_header: self.auth_header,
                window,
                replay_ttl: self.replay_ttl,
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(MemoryReplayStore::new(self.capacity))),
            }),
        }
    }
}
