//! OAuth2: a [`TokenProvider`] that obtains access tokens (client
//! credentials, refresh tokens) and a signing scheme that puts them on
//! every request.
//!
//! - The token request goes through a Keel client ([`TokenProviderBuilder::client`]):
//!   its TLS settings, timeouts, proxy and resilience apply.
//! - One refresh at a time: however many tasks need a token, one token
//!   request is made; the others wait for it (single-flight).
//! - Refresh ahead of expiry: a token within
//!   [`refresh_ahead`](TokenProviderBuilder::refresh_ahead) of its expiry
//!   is renewed by the first request that notices, while the others keep
//!   using it.
//! - A `401` to a request signed with a token drops that token; the
//!   request is sent once more with a fresh one (once).
//! - Tokens and secrets live in zeroizing secret types and never appear in
//!   `Debug`, `Display`, logs or errors.
//!
//! ```no_run
//! # async fn run() -> keel::Result<()> {
//! use keel::oauth2::TokenProvider;
//!
//! let provider = TokenProvider::client_credentials(
//!     "https://auth.example.com/oauth/token",
//!     "my-client-id",
//!     "my-client-secret",
//! )
//! .scopes(["orders:read"])
//! .build()?;
//! let client = keel::HttpClient::builder("https://api.example.com")
//!     .oauth2(provider)
//!     .build()?;
//! let orders = client.get("/orders").send().await?;
//! # let _ = orders; Ok(()) }
//! ```
//!
//! Keel does not use the `oauth2` crate: it brings its own HTTP client
//! abstraction and token types for the interactive flows (authorization
//! code, PKCE, device code), while a machine client needs the two token
//! requests of RFC 6749 §4.4 and §6 sent through Keel's own pipeline, and
//! a token cache with single-flight refresh, which that crate leaves to its
//! users.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::header::{HeaderName, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::client::{Authenticated, HttpClient, Unauthenticated};
use crate::config::ClientBuilder;
use crate::error::{display_url, Error, Result};
use crate::signing::{Credentials, Scheme, Signer, SignerFuture, SigningRequest};
use crate::transport::runtime;

/// How long before its expiry a token is renewed, unless configured (at
/// most half its lifetime).
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(30);

/// How the client authenticates itself to the token endpoint (RFC 6749
/// §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (`client_secret_basic`,
    /// the default).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body
    /// (`client_secret_post`).
    RequestBody,
}

/// An access token (never printed: `Debug` shows only its lifetime).
#[derive(Clone)]
pub struct AccessToken {
    secret: SecretString,
    expires_at: Option<Instant>,
    scope: Option<String>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field(
                "expires_in",
                &self
                    .expires_at
                    .map(|e| e.saturating_duration_since(Instant::now())),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

impl AccessToken {
    /// The token itself. Handle with care: it is a credential.
    pub fn secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// When it expires, if the token endpoint said (`expires_in`).
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// The scope the token endpoint granted, if it said.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    refresh: Option<SecretString>,
    obtained: Instant,
    /// When to renew it (before `expires_at`).
    renew_at: Option<Instant>,
    /// Dropped after a 401: renew before the next use.
    invalid: bool,
}

impl Cached {
    fn usable(&self, now: Instant) -> bool {
        !self.invalid && self.token.expires_at.is_none_or(|e| now < e)
    }
    fn due(&self, now: Instant) -> bool {
        !self.usable(now) || self.renew_at.is_some_and(|r| now >= r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    ClientCredentials,
    RefreshToken,
}

struct Inner {
    token_url: Url,
    client: HttpClient,
    client_id: String,
    client_secret: Option<SecretString>,
    client_auth: ClientAuth,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    refresh_ahead: Duration,
    grant: Grant,
    cache: RwLock<Option<Cached>>,
    refresh_lock: tokio::sync::Mutex<()>,
    initial_refresh: RwLock<Option<SecretString>>,
    requests: AtomicU64,
}

/// Obtains and caches OAuth2 access tokens; cheap to clone (clones share
/// the cache). Give it to a client with [`ClientBuilder::oauth2`] or
/// [`Scheme::oauth2`]; see the [module documentation](self).
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("TokenProvider")
            .field("token_url", &display_url(&i.token_url))
            .field("client_id", &i.client_id)
            .field(
                "client_secret",
                &i.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("grant", &i.grant)
            .field("scopes", &i.scopes)
            .field("token_requests", &i.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenProvider`].
#[must_use = "a builder does nothing until `build()` is called"]
pub struct TokenProviderBuilder {
    token_url: String,
    client: Option<HttpClient>,
    client_id: String,
    client_secret: Option<SecretString>,
    client_auth: ClientAuth,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    refresh_ahead: Duration,
    grant: Grant,
    refresh_token: Option<SecretString>,
    allow_insecure: bool,
}

impl fmt::Debug for TokenProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProviderBuilder")
            .field(
                "token_url",
                &crate::validate::shown_raw_url(&self.token_url),
            )
            .field("client_id", &self.client_id)
            .field("grant", &self.grant)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// The client-credentials grant (RFC 6749 §4.4): the client's own id
    /// and secret buy a token. When the token endpoint also hands out a
    /// refresh token, renewals use it (and fall back to the client
    /// credentials if it is refused).
    pub fn client_credentials(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> TokenProviderBuilder {
        TokenProviderBuilder::new(
            token_url.into(),
            client_id.into(),
            Some(client_secret.into()),
            Grant::ClientCredentials,
        )
    }

    /// Tokens from a refresh token the user already has (from an
    /// authorization-code login, say; RFC 6749 §6). A public client has no
    /// secret: leave it out with [`TokenProviderBuilder::no_client_secret`].
    /// A rotated refresh token replaces the old one.
    pub fn refresh_token(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        refresh_token: impl Into<String>,
    ) -> TokenProviderBuilder {
        let mut b = TokenProviderBuilder::new(
            token_url.into(),
            client_id.into(),
            Some(client_secret.into()),
            Grant::RefreshToken,
        );
        b.refresh_token = Some(SecretString::from(refresh_token.into()));
        b
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.inner.token_url
    }

    /// How many token requests this provider has made.
    pub fn token_requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// A valid access token: the cached one, or a new one (one request for
    /// every task that asks at the same time).
    pub async fn token(&self) -> Result<AccessToken> {
        self.ensure().await?;
        self.cached()
            .filter(|c| c.usable(Instant::now()))
            .map(|c| c.token)
            .ok_or_else(|| Error::Signing("the OAuth2 token expired as soon as it was issued; check the token endpoint's expires_in and this machine's clock".into()))
    }

    /// [`token`](Self::token) for blocking callers.
    pub fn token_blocking(&self) -> Result<AccessToken> {
        let this = self.clone();
        runtime::call(async move { this.token().await })?
    }

    /// Drops the cached token: the next request gets a new one.
    pub fn invalidate(&self) {
        if let Some(c) = self.write().as_mut() {
            c.invalid = true;
        }
    }

    fn cached(&self) -> Option<Cached> {
        self.inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Cached>> {
        self.inner
            .cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a request now needs to wait for (or may start) a renewal.
    fn needs_work(&self) -> bool {
        let now = Instant::now();
        self.inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(|c| c.due(now))
    }

    /// Makes sure a usable token is cached, renewing it when due.
    async fn ensure(&self) -> Result<()> {
        let now = Instant::now();
        let current = self.cached();
        match &current {
            Some(c) if !c.due(now) => return Ok(()),
            Some(c) if c.usable(now) => {
                // Due for renewal but still valid: one task renews, the
                // others go on with the current token.
                let Ok(_guard) = self.inner.refresh_lock.try_lock() else {
                    return Ok(());
                };
                if self.cached().is_some_and(|c| !c.due(Instant::now())) {
                    return Ok(());
                }
                if let Err(e) = self.renew().await {
                    tracing::warn!(error = %e, "renewing the OAuth2 token ahead of expiry failed; using the current token until it expires");
                }
                return Ok(());
            }
            _ => {}
        }
        let _guard = self.inner.refresh_lock.lock().await;
        // Someone else may have renewed it while this task waited.
        if self.cached().is_some_and(|c| !c.due(Instant::now())) {
            return Ok(());
        }
        self.renew().await
    }

    /// One renewal: the refresh token when there is one, else the client
    /// credentials. Called with the refresh lock held.
    async fn renew(&self) -> Result<()> {
        let refresh = self.cached().and_then(|c| c.refresh).or_else(|| {
            self.inner
                .initial_refresh
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        });
        let result = match (&refresh, self.inner.grant) {
            (Some(rt), _) => {
                match self
                    .request(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt.expose_secret()),
                    ])
                    .await
                {
                    Err(e) if self.inner.grant == Grant::ClientCredentials => {
                        tracing::debug!(error = %e, "the refresh token was refused; using the client credentials");
                        self.client_credentials_grant().await
                    }
                    r => r,
                }
            }
            (None, Grant::ClientCredentials) => self.client_credentials_grant().await,
            (None, Grant::RefreshToken) => Err(Error::Signing(
                "no OAuth2 refresh token to renew the access token with".into(),
            )),
        };
        let (token, new_refresh) = result?;
        let now = Instant::now();
        let renew_at = token.expires_at.map(|e| {
            let life = e.saturating_duration_since(now);
            e - self.inner.refresh_ahead.min(life / 2)
        });
        *self.write() = Some(Cached {
            token,
            refresh: new_refresh.or(refresh),
            obtained: now,
            renew_at,
            invalid: false,
        });
        Ok(())
    }

    async fn client_credentials_grant(&self) -> Result<(AccessToken, Option<SecretString>)> {
        let scope = self.inner.scopes.join(" ");
        let mut form = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        self.request(&form).await
    }

    /// Sends one token request and reads the answer.
    async fn request(&self, grant: &[(&str, &str)]) -> Result<(AccessToken, Option<SecretString>)> {
        let i = &self.inner;
        let grant_name = grant
            .iter()
            .find(|(k, _)| *k == "grant_type")
            .map(|(_, v)| *v)
            .unwrap_or("?");
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        for (k, v) in &i.params {
            form.push((k.as_str(), v.as_str()));
        }
        let secret = i.client_secret.as_ref().map(|s| s.expose_secret());
        let mut request = i
            .client
            .post(i.token_url.as_str())
            .header("Accept", "application/json")
            // Token requests are safe to repeat; this lets a resilience
            // policy on the token client retry them.
            .idempotency_key(crate::resilience::new_idempotency_key());
        match (i.client_auth, secret) {
            (ClientAuth::Basic, Some(secret)) => {
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let raw = zeroize::Zeroizing::new(format!("{}:{}", enc(&i.client_id), enc(secret)));
                let value = zeroize::Zeroizing::new(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
                ));
                request = request.header(AUTHORIZATION.as_str(), &*value);
            }
            (ClientAuth::RequestBody, Some(secret)) => {
                form.push(("client_id", i.client_id.as_str()));
                form.push(("client_secret", secret));
            }
            (_, None) => form.push(("client_id", i.client_id.as_str())),
        }
        let body = zeroize::Zeroizing::new(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.iter())
                .finish(),
        );
        i.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(token_url = %display_url(&i.token_url), grant = grant_name, "requesting an OAuth2 token");
        let started = Instant::now();
        let resp = request
            .body(
                body.as_bytes().to_vec(),
                "application/x-www-form-urlencoded",
            )
            .send()
            .await
            .map_err(|e| {
                Error::Signing(format!(
                    "the OAuth2 token request ({grant_name}) to {} failed: {e}",
                    display_url(&i.token_url)
                ))
            })?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&resp.content).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        if !resp.status.is_success() {
            let error = field("error").unwrap_or_else(|| "no error code".into());
            let description = field("error_description")
                .map(|d| format!(": {}", crate::error::body_excerpt(d.as_bytes())))
                .unwrap_or_default();
            let hint = match error.as_str() {
                "invalid_client" => "; check the client id and secret (and `client_auth`)",
                "invalid_scope" => "; check the scopes",
                "invalid_grant" => "; the refresh token was refused",
                _ => "",
            };
            return Err(Error::Signing(format!(
                "the OAuth2 token endpoint {} refused the {grant_name} grant with {} ({error}{description}){hint}",
                display_url(&i.token_url),
                resp.status,
            )));
        }
        let bad = |what: &str| {
            Error::Signing(format!(
                "the OAuth2 token endpoint {} answered {} without {what}",
                display_url(&i.token_url),
                resp.status
            ))
        };
        let json = json.ok_or_else(|| bad("a JSON body"))?;
        let access = json
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("an access_token"))?;
        if access.bytes().any(|b| !(b.is_ascii_graphic() || b == b' ')) {
            return Err(bad("a token that fits in a header (visible ASCII)"));
        }
        let token_type = json
            .get("token_type")
            .and_then(|v| v.as_str())
            .unwrap_or("Bearer");
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(Error::Signing(format!(
                "the OAuth2 token endpoint {} issued a {token_type:?} token; Keel sends Bearer tokens only",
                display_url(&i.token_url)
            )));
        }
        let expires_in = json.get("expires_in").and_then(|v| {
            v.as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.is_finite() && *f >= 0.0)
                        .map(|f| f as u64)
                })
                .or_else(|| v.as_str()?.trim().parse().ok())
        });
        let expires_at = expires_in
            .map(|s| started + Duration::from_secs(s.min(crate::validate::MAX_DURATION.as_secs())));
        let refresh = json
            .get("refresh_token")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()));
        Ok((
            AccessToken {
                secret: SecretString::from(access.to_owned()),
                expires_at,
                scope: json
                    .get("scope")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            },
            refresh,
        ))
    }

    /// After a 401 to a request signed at `signed_at`: drops the token it
    /// was signed with (unless a newer one replaced it since).
    fn unauthorized(&self, signed_at: Instant) -> bool {
        let mut cache = self.write();
        if let Some(c) = cache.as_mut() {
            if c.obtained <= signed_at {
                c.invalid = true;
            }
        }
        true
    }
}

impl TokenProviderBuilder {
    fn new(
        token_url: String,
        client_id: String,
        client_secret: Option<String>,
        grant: Grant,
    ) -> Self {
        TokenProviderBuilder {
            token_url,
            client: None,
            client_id,
            client_secret: client_secret.map(SecretString::from),
            client_auth: ClientAuth::default(),
            scopes: Vec::new(),
            params: Vec::new(),
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            grant,
            refresh_token: None,
            allow_insecure: false,
        }
    }

    /// The scopes to ask for (sent space-separated as `scope`).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// An extra form parameter of every token request (`audience`, `resource` …).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// How the client authenticates to the token endpoint (default HTTP
    /// Basic).
    pub fn client_auth(mut self, how: ClientAuth) -> Self {
        self.client_auth = how;
        self
    }

    /// A public client: no secret, only `client_id` in the form.
    pub fn no_client_secret(mut self) -> Self {
        self.client_secret = None;
        self
    }

    /// The client the token requests go through (its TLS settings,
    /// timeouts, proxy and resilience). Default: a new [`HttpClient`] with
    /// default settings.
    pub fn client(mut self, client: HttpClient) -> Self {
        self.client = Some(client);
        self
    }

    /// Renew a token this long before it expires (default
    /// [`DEFAULT_REFRESH_AHEAD`]; never more than half its lifetime).
    pub fn refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = ahead;
        self
    }

    /// Allow a token endpoint on plain `http` to a host other than
    /// loopback (the client secret would cross the network unencrypted).
    pub fn allow_insecure(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// Checks everything and builds the provider. No token is requested
    /// until the first request needs one.
    pub fn build(self) -> Result<TokenProvider> {
        let url = Url::parse(&self.token_url).map_err(|e| {
            Error::config(format!(
                "the OAuth2 token URL {:?} is not a valid URL: {e}",
                crate::validate::shown_raw_url(&self.token_url)
            ))
        })?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure || crate::pipeline::is_loopback(&url) => {}
            "http" => {
                return Err(Error::config(format!(
                    "refusing to send OAuth2 client credentials over plain http to {}; use https, or allow it with `allow_insecure(true)`",
                    display_url(&url)
                )))
            }
            other => {
                return Err(Error::config(format!(
                    "the OAuth2 token URL must be http(s), not {other:?}"
                )))
            }
        }
        if self.client_id.is_empty() {
            return Err(Error::config("the OAuth2 client id is empty"));
        }
        if self
            .client_secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().is_empty())
        {
            return Err(Error::config(
                "the OAuth2 client secret is empty; for a public client use `no_client_secret()`",
            ));
        }
        if self.refresh_ahead > crate::validate::MAX_DURATION {
            return Err(Error::config(
                "refresh_ahead of more than a year is not a renewal margin; check the value",
            ));
        }
        let client = match self.client {
            Some(c) => c,
            None => HttpClient::new(url.origin().ascii_serialization())?,
        };
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                token_url: url,
                client,
                client_id: self.client_id,
                client_secret: self.client_secret,
                client_auth: self.client_auth,
                scopes: self.scopes,
                params: self.params,
                refresh_ahead: self.refresh_ahead,
                grant: self.grant,
                cache: RwLock::new(None),
                refresh_lock: tokio::sync::Mutex::new(()),
                initial_refresh: RwLock::new(self.refresh_token),
                requests: AtomicU64::new(0),
            }),
        })
    }
}

/// The signer of [`Scheme::oauth2`]: `Authorization: Bearer <token>` with
/// the provider's current token.
#[derive(Debug)]
struct OAuth2Signer {
    provider: TokenProvider,
}

impl Signer for OAuth2Signer {
    fn sign(&self, req: &mut SigningRequest<'_>, _credentials: &Credentials) -> Result<()> {
        let cached = self.provider.cached().ok_or_else(|| {
            Error::Signing(
                "no OAuth2 access token is available (the token request did not run)".into(),
            )
        })?;
        let value = zeroize::Zeroizing::new(format!("Bearer {}", cached.token.secret()));
        req.set_secret_header(AUTHORIZATION, &value)
    }

    fn signs_body(&self) -> bool {
        false
    }

    fn sensitive_headers(&self) -> Vec<HeaderName> {
        vec![AUTHORIZATION]
    }

    fn prepare_attempt(&self) -> Option<SignerFuture<'_>> {
        if !self.provider.needs_work() {
            return None;
        }
        Some(Box::pin(self.provider.ensure()))
    }

    fn renew_after_unauthorized(&self, signed_at: Instant) -> bool {
        self.provider.unauthorized(signed_at)
    }

    fn renews_credentials(&self) -> bool {
        true
    }
}

impl Scheme {
    /// OAuth2 bearer tokens from `provider`: every attempt carries the
    /// current token (fetched or renewed first when needed), and a 401 is
    /// answered by one renewal and one retry. Usually set through
    /// [`ClientBuilder::oauth2`].
    pub fn oauth2(provider: TokenProvider) -> Self {
        Scheme::custom(OAuth2Signer { provider })
    }
}

/// The key of an OAuth2 client's credentials: the client id when it fits
/// the key rules, else a placeholder (the scheme never sends it).
fn key_for(provider: &TokenProvider) -> String {
    let id = provider.client_id();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()) {
        id.to_owned()
    } else {
        "oauth2".to_owned()
    }
}

impl ClientBuilder<Unauthenticated> {
    /// Authenticates every request with OAuth2 tokens from `provider`
    /// ([`Scheme::oauth2`]); `build()` returns an
    /// [`HttpAuthenticatedClient`](crate::HttpAuthenticatedClient).
    pub fn oauth2(self, provider: TokenProvider) -> ClientBuilder<Authenticated> {
        let key = key_for(&provider);
        self.api_key(key).scheme(Scheme::oauth2(provider))
    }
}

impl ClientBuilder<Authenticated> {
    /// Authenticates every request with OAuth2 tokens from `provider`
    /// ([`Scheme::oauth2`]).
    pub fn oauth2(self, provider: TokenProvider) -> Self {
        let key = key_for(&provider);
        self.api_key(key).scheme(Scheme::oauth2(provider))
    }
}
