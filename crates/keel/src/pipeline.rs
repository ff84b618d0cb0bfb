//! The single path every request takes.
//!
//! [`Call`] is the sans-I/O core: plain synchronous code that decides what to
//! send (URL, headers, signature), whether an outcome is final, retried or
//! redirected, and how long to wait. It never performs I/O and never sleeps;
//! it answers with a [`Step`]. The two drivers, [`run_async`] and
//! [`run_blocking`], are short loops that perform the step the core asks for
//! — an HTTP exchange or a sleep — and hand the result back. Nothing is
//! written twice for async and blocking.
//!
//! ```text
//! build once:   URL, merged headers, cookies, body bytes          (RequestBuilder::prepare)
//! per attempt:  deadline left? -> admitted (breaker, rate limit)?  (Call::next_attempt)
//!               -> sign afresh -> send with attempt timeout        (driver)
//!               -> redirect? -> classify & record -> finish or wait (Call::on_result)
//! after:        documented status? parse                           (request::finish)
//! ```

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderMap, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION,
};
use http::{Method, StatusCode};
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use crate::client::{HttpClient, Inner};
use crate::error::{display_url, Error, Result};
use crate::request::Body;
use crate::resilience::{AttemptInfo, CallState, Decision, Outcome};
use crate::response::Response;

/// A request built once: what every attempt starts from.
pub(crate) struct Prepared {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) timeout: Option<Duration>,
    pub(crate) weight: u32,
}

/// One HTTP exchange for a driver to perform.
pub(crate) struct Exchange {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: ExchangeBody,
    pub(crate) timeout: Option<Duration>,
}

pub(crate) enum ExchangeBody {
    Empty,
    Bytes(Bytes),
    Stream(reqwest::Body),
}

/// What the core asks a driver to do next.
pub(crate) enum Step {
    Send(Exchange),
    Sleep(Duration),
    Done(Result<Response>),
}

/// Shows a URL without its query, lazily (only when a span is recorded).
struct Shown<'a>(&'a Url);
impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_url(self.0))
    }
}

/// The state of one call across its attempts and redirect hops.
pub(crate) struct Call<'c> {
    inner: &'c Inner,
    /// The request as built; every attempt starts from here.
    prepared: Prepared,
    /// The current hop (differs from `prepared` after a redirect).
    hop: Option<Box<Hop>>,
    attempts: u32,
    hops: usize,
    started: Instant,
    deadline: Option<Duration>,
    /// Whether re-sending this request is safe (method or idempotency key).
    idempotent: bool,
    /// The error of the last failed attempt, for the deadline error.
    last_error: Option<Error>,
    /// What the resilience layer keeps between admission and recording.
    resilience: CallState,
}

/// A redirect hop: where the request goes instead of `prepared.url`.
struct Hop {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Body,
    /// Whether the hop's origin differs from the original request's.
    foreign: bool,
}

impl<'c> Call<'c> {
    pub(crate) fn new(inner: &'c Inner, mut prepared: Prepared) -> Self {
        let config = inner.resilience.config();
        if config.generates_idempotency_key()
            && matches!(prepared.method, Method::POST | Method::PATCH)
            && !prepared.headers.contains_key(IDEMPOTENCY_KEY)
        {
            // Set once, here: every attempt of this call carries the same key.
            let key = crate::resilience::new_idempotency_key();
            if let Ok(v) = http::HeaderValue::from_str(&key) {
                prepared.headers.insert(IDEMPOTENCY_KEY, v);
            }
        }
        let idempotent = matches!(
            prepared.method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::PUT
                | Method::DELETE
                | Method::TRACE
        ) || prepared.headers.contains_key(IDEMPOTENCY_KEY);
        Call {
            deadline: config.deadline(),
            inner,
            prepared,
            hop: None,
            attempts: 0,
            hops: 0,
            started: Instant::now(),
            idempotent,
            last_error: None,
            resilience: CallState::default(),
        }
    }

    /// How many attempts were started.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Checks that cannot change between attempts.
    fn validate(&self) -> Result<()> {
        if let Some(auth) = &self.inner.auth {
            if matches!(self.prepared.body, Body::Stream(_)) && auth.signs_body() {
                return Err(Error::request(
                    "a streaming body cannot be signed; give the body as bytes (JSON, form, multipart or raw)",
                ));
            }
            let url = &self.prepared.url;
            if url.scheme() == "http"
                && !is_loopback(url)
                && !self.inner.config.allow_insecure_credentials
            {
                return Err(Error::config(format!(
                    "refusing to send credentials over plain http to {}; use https, or allow it explicitly with `allow_insecure_credentials(true)`",
                    display_url(url)
                )));
            }
        }
        Ok(())
    }

    /// The first step of the call.
    pub(crate) fn start(&mut self) -> Step {
        if let Err(e) = self.validate() {
            return Step::Done(Err(e));
        }
        self.next_attempt()
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_sub(self.elapsed()))
    }

    fn deadline_error(&mut self) -> Error {
        Error::DeadlineExceeded {
            deadline: self.deadline.unwrap_or_default(),
            attempts: self.attempts,
            last: self.last_error.take().map(Box::new),
        }
    }

    /// Deadline, admission, then the exchange for a new attempt.
    fn next_attempt(&mut self) -> Step {
        if self.remaining() == Some(Duration::ZERO) {
            return Step::Done(Err(self.deadline_error()));
        }
        match self.inner.resilience.admit(
            &self.prepared.url,
            self.prepared.weight,
            &mut self.resilience,
        ) {
            Ok(None) => {}
            Ok(Some(wait)) => {
                if self.remaining().is_some_and(|r| wait >= r) {
                    return Step::Done(Err(self.deadline_error()));
                }
                return Step::Sleep(wait);
            }
            // Breaker open or rate limited: fail fast, as is.
            Err(e) => return Step::Done(Err(e)),
        }
        self.attempts += 1;
        self.hops = 0;
        self.hop = None;
        self.exchange()
    }

    /// Builds the exchange for the current hop: copies of the prepared parts,
    /// signed afresh.
    fn exchange(&mut self) -> Step {
        let (method, url, headers, body, foreign) = match &self.hop {
            None => (
                self.prepared.method.clone(),
                self.prepared.url.clone(),
                self.prepared.headers.clone(),
                &self.prepared.body,
                false,
            ),
            Some(h) => (
                h.method.clone(),
                h.url.clone(),
                h.headers.clone(),
                &h.body,
                h.foreign,
            ),
        };
        let body = match body {
            Body::Empty => ExchangeBody::Empty,
            Body::Bytes(b) => ExchangeBody::Bytes(b.clone()),
            Body::Stream(s) => match s.lock().ok().and_then(|mut s| s.take()) {
                Some(s) => ExchangeBody::Stream(s),
                None => {
                    return Step::Done(Err(Error::BodyNotReplayable {
                        attempts: self.attempts.saturating_sub(1),
                    }))
                }
            },
        };
        let mut exchange = Exchange {
            method,
            url,
            headers,
            body,
            timeout: match (self.prepared.timeout, self.remaining()) {
                (Some(t), Some(r)) => Some(t.min(r)),
                (t, r) => t.or(r),
            },
        };
        if let (Some(auth), false) = (&self.inner.auth, foreign) {
            let bytes = match &exchange.body {
                ExchangeBody::Bytes(b) => &b[..],
                _ => &[],
            };
            match auth.sign(
                &exchange.method,
                &mut exchange.url,
                &mut exchange.headers,
                bytes,
            ) {
                Ok(Some(replaced)) => exchange.body = ExchangeBody::Bytes(replaced),
                Ok(None) => {}
                Err(e) => return Step::Done(Err(e)),
            }
        }
        tracing::debug!(
            attempt = self.attempts,
            hop = self.hops,
            method = %exchange.method,
            url = %Shown(&exchange.url),
            "sending"
        );
        Step::Send(exchange)
    }

    /// Hands the result of an exchange to the core.
    pub(crate) fn on_result(&mut self, result: Result<Response>) -> Step {
        if let Ok(resp) = &result {
            match self.redirect(resp) {
                Ok(Some(hop)) => {
                    self.hops += 1;
                    self.hop = Some(Box::new(hop));
                    return self.exchange();
                }
                Ok(None) => {}
                Err(e) => return Step::Done(Err(e)),
            }
        }
        let replayable = !matches!(self.prepared.body, Body::Stream(_));
        let outcome = match &result {
            Ok(r) => Outcome::Response(r),
            Err(e) => Outcome::Error(e),
        };
        let decision = self.inner.resilience.record(
            &AttemptInfo {
                attempt: self.attempts,
                method: &self.prepared.method,
                url: &self.prepared.url,
                outcome,
                idempotent: self.idempotent,
                replayable,
                elapsed: self.elapsed(),
                remaining: self.remaining(),
            },
            &mut self.resilience,
        );
        match decision {
            Decision::Finish => Step::Done(self.finish(result)),
            // A stream body cannot be sent again: an error says so; a
            // response is returned as it is.
            Decision::NotReplayable => match result {
                Err(_) => Step::Done(Err(Error::BodyNotReplayable {
                    attempts: self.attempts,
                })),
                Ok(r) => Step::Done(self.finish(Ok(r))),
            },
            Decision::Deadline => {
                self.last_error = Some(match result {
                    Err(e) => e,
                    Ok(r) => status_error(&r),
                });
                Step::Done(Err(self.deadline_error()))
            }
            Decision::Retry(wait) => {
                if self.remaining().is_some_and(|r| wait >= r) {
                    self.last_error = Some(match result {
                        Err(e) => e,
                        Ok(r) => status_error(&r),
                    });
                    tracing::debug!(
                        attempt = self.attempts,
                        ?wait,
                        "wait would pass the deadline"
                    );
                    return Step::Done(Err(self.deadline_error()));
                }
                tracing::debug!(attempt = self.attempts, ?wait, "retrying");
                self.last_error = result.err();
                Step::Sleep(wait)
            }
        }
    }

    /// Called by a driver after it slept as asked.
    pub(crate) fn after_sleep(&mut self) -> Step {
        self.next_attempt()
    }

    fn finish(&mut self, result: Result<Response>) -> Result<Response> {
        match result {
            Ok(mut r) => {
                r.attempts = self.attempts;
                Ok(r)
            }
            Err(e @ Error::DeadlineExceeded { .. }) => Err(e),
            Err(e)
                if self.deadline.is_some()
                    && self.remaining() == Some(Duration::ZERO)
                    && e.is_timeout() =>
            {
                self.last_error = Some(e);
                Err(self.deadline_error())
            }
            Err(e) if self.attempts > 1 => Err(Error::RetriesExhausted {
                attempts: self.attempts,
                last: Box::new(e),
            }),
            Err(e) => Err(e),
        }
    }

    /// Where a redirect response sends the request next, if it is followed.
    fn redirect(&self, resp: &Response) -> Result<Option<Hop>> {
        let max = self.inner.config.max_redirects;
        if max == 0 || !resp.status.is_redirection() {
            return Ok(None);
        }
        let keeps_method = match resp.status {
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => false,
            _ => return Ok(None),
        };
        let Some(location) = resp.headers.get(LOCATION).and_then(|l| l.to_str().ok()) else {
            return Ok(None);
        };
        if self.hops >= max {
            return Err(Error::TooManyRedirects {
                url: display_url(resp.url()),
                max,
            });
        }
        let url = resp.url().join(location).map_err(|e| Error::Transport {
            url: display_url(resp.url()),
            message: format!("redirect to an invalid location: {e}"),
            maybe_sent: true,
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Transport {
                url: display_url(resp.url()),
                message: format!("redirect to unsupported scheme {:?}", url.scheme()),
                maybe_sent: true,
            });
        }
        let (prev_method, prev_headers, prev_body) = match &self.hop {
            None => (
                &self.prepared.method,
                &self.prepared.headers,
                &self.prepared.body,
            ),
            Some(h) => (&h.method, &h.headers, &h.body),
        };
        let mut headers = prev_headers.clone();
        let (method, body) =
            if keeps_method || *prev_method == Method::GET || *prev_method == Method::HEAD {
                (prev_method.clone(), prev_body.clone())
            } else {
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_LENGTH);
                (Method::GET, Body::Empty)
            };
        let foreign = url.origin() != self.prepared.url.origin();
        if foreign {
            headers.remove(AUTHORIZATION);
            headers.remove(PROXY_AUTHORIZATION);
            headers.remove(COOKIE);
            if let Some(auth) = &self.inner.auth {
                for name in auth.sensitive_headers() {
                    headers.remove(name);
                }
            }
        }
        tracing::debug!(status = resp.status.as_u16(), to = %Shown(&url), foreign, "following redirect");
        Ok(Some(Hop {
            method,
            url,
            headers,
            body,
            foreign,
        }))
    }
}

/// The header that makes a non-idempotent request safe to retry.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn status_error(r: &Response) -> Error {
    Error::UnexpectedStatus {
        status: r.status,
        url: display_url(r.url()),
        body_excerpt: crate::error::body_excerpt(&r.content),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Maps a reqwest error to a Keel error, without the URL's query.
fn transport_error(e: reqwest::Error, url: &Url, timeout: Option<Duration>) -> Error {
    let shown = display_url(e.url().unwrap_or(url));
    let message = {
        let mut m = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        let mut first = true;
        while let Some(s) = source {
            let text = s.to_string();
            if first {
                // reqwest's own top-level message names the URL; say it without.
                first = false;
                if text.contains("for url") {
                    source = s.source();
                    continue;
                }
            }
            if !m.is_empty() {
                m.push_str(": ");
            }
            m.push_str(&text);
            source = s.source();
        }
        if m.is_empty() {
            m.push_str("unknown transport error");
        }
        m
    };
    if e.is_timeout() {
        return Error::Timeout {
            url: shown,
            after: timeout.unwrap_or_default(),
        };
    }
    if e.is_connect() {
        let mut message = message;
        if message.contains("certificate") {
            message.push_str(
                "; if the server uses a private CA, trust it with `ca_pem` or `ca_file` (or, for tests only, `verify_ssl(false)`)",
            );
        }
        return Error::Connect {
            url: shown,
            message,
        };
    }
    if e.is_builder() {
        return Error::InvalidRequest(message);
    }
    Error::Transport {
        url: shown,
        message,
        maybe_sent: true,
    }
}

fn raw_response(status: StatusCode, headers: HeaderMap, url: Url, content: Bytes) -> Response {
    Response::<()>::raw(status, headers, content, url)
}

// ----- the async driver -------------------------------------------------

/// Runs a call on the async transport.
pub(crate) async fn run_async(client: &HttpClient, prepared: Prepared) -> Result<Response> {
    let transport = client.inner.shared.async_client()?;
    let span = call_span(&prepared);
    async move {
        let mut call = Call::new(&client.inner, prepared);
        let mut step = call.start();
        loop {
            step = match step {
                Step::Send(exchange) => {
                    let span = attempt_span(call.attempts());
                    let result = send_async(&transport, exchange)
                        .instrument(span.clone())
                        .await;
                    span.in_scope(|| call.on_result(result))
                }
                Step::Sleep(d) => {
                    tokio::time::sleep(d).await;
                    call.after_sleep()
                }
                Step::Done(result) => return result,
            };
        }
    }
    .instrument(span)
    .await
}

/// The span of one call (all its attempts and waits).
fn call_span(prepared: &Prepared) -> tracing::Span {
    tracing::debug_span!(
        "keel.call",
        method = %prepared.method,
        url = %Shown(&prepared.url),
    )
}

/// The span of one attempt; the core's events (outcome, retry reason and
/// wait) are recorded inside it.
fn attempt_span(attempt: u32) -> tracing::Span {
    tracing::debug_span!("keel.attempt", attempt)
}

async fn send_async(transport: &reqwest::Client, ex: Exchange) -> Result<Response> {
    let url = ex.url.clone();
    let mut req = reqwest::Request::new(ex.method, ex.url);
    *req.headers_mut() = ex.headers;
    *req.timeout_mut() = ex.timeout;
    match ex.body {
        ExchangeBody::Empty => {}
        ExchangeBody::Bytes(b) => *req.body_mut() = Some(b.into()),
        ExchangeBody::Stream(s) => *req.body_mut() = Some(s),
    }
    let mut resp = transport
        .execute(req)
        .await
        .map_err(|e| transport_error(e, &url, ex.timeout))?;
    let status = resp.status();
    let headers = std::mem::take(resp.headers_mut());
    let content = resp
        .bytes()
        .await
        .map_err(|e| transport_error(e, &url, ex.timeout))?;
    Ok(raw_response(status, headers, url, content))
}

// ----- the blocking driver ----------------------------------------------

/// Runs a call on the blocking transport.
pub(crate) fn run_blocking(client: &HttpClient, prepared: Prepared) -> Result<Response> {
    if matches!(prepared.body, Body::Stream(_)) {
        return Err(Error::request(
            "a streaming body can only be sent with `send().await`; use a byte body for blocking calls",
        ));
    }
    let transport = client.inner.shared.blocking_client()?;
    let span = call_span(&prepared);
    let _entered = span.enter();
    let mut call = Call::new(&client.inner, prepared);
    let mut step = call.start();
    loop {
        step = match step {
            Step::Send(exchange) => attempt_span(call.attempts()).in_scope(|| {
                let result = send_blocking(&transport, exchange);
                call.on_result(result)
            }),
            Step::Sleep(d) => {
                std::thread::sleep(d);
                call.after_sleep()
            }
            Step::Done(result) => return result,
        };
    }
}

fn send_blocking(transport: &reqwest::blocking::Client, ex: Exchange) -> Result<Response> {
    let url = ex.url.clone();
    let mut req = reqwest::blocking::Request::new(ex.method, ex.url);
    *req.headers_mut() = ex.headers;
    *req.timeout_mut() = ex.timeout;
    if let ExchangeBody::Bytes(b) = ex.body {
        *req.body_mut() = Some(b.into());
    }
    let mut resp = transport
        .execute(req)
        .map_err(|e| transport_error(e, &url, ex.timeout))?;
    let status = resp.status();
    let headers = std::mem::take(resp.headers_mut());
    let content = resp
        .bytes()
        .map_err(|e| transport_error(e, &url, ex.timeout))?;
    Ok(raw_response(status, headers, url, content))
}
