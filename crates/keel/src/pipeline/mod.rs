//! The single path every request takes.
//!
//! [`Call`] is the sans-I/O core: plain synchronous code that decides what to
//! send (URL, headers, signature), whether an outcome is final, retried or
//! redirected, and how long to wait. It never performs I/O and never sleeps;
//! it answers with a [`Step`]. The driver ([`driver::run`]) is a short async
//! loop that performs the step the core asks for — an HTTP exchange or a
//! sleep — and hands the result back. Blocking callers run the very same
//! driver on Keel's runtime ([`crate::transport::runtime`]): nothing is
//! written twice for async and blocking.
//!
//! ```text
//! build once:   URL, merged headers, cookies, body bytes          (RequestBuilder::prepare)
//! per attempt:  deadline left? -> admitted (breaker, rate limit)?  (Call::next_attempt)
//!               -> sign afresh -> send with attempt timeout        (driver)
//!               -> redirect? -> classify & record -> finish or wait (Call::on_response / on_error)
//! after:        documented status? parse                           (request::finish)
//! ```

pub(crate) mod driver;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderMap, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION,
};
use http::{Method, StatusCode};
use tokio::time::Instant;
use url::Url;

use crate::client::Inner;
use crate::error::{display_url, Error, Result};
use crate::resilience::{
    Admitted, AttemptInfo, CallState, Decision, Head, Outcome, Pending, Recorded,
};
use crate::signing::{Auth, NextNonce};
use crate::transport::Body;

/// The body of a prepared request.
pub(crate) enum PreparedBody {
    /// Serialized once; every attempt sends these bytes (cheap clones).
    Bytes(Bytes),
    /// A stream: sent once, never replayed. `None` once taken.
    Stream(Option<Body>),
}

impl PreparedBody {
    fn is_stream(&self) -> bool {
        matches!(self, PreparedBody::Stream(_))
    }

    /// The body of the next hop that re-sends this one (a 307/308
    /// redirect): bytes again, or a stream already taken.
    fn resend(&self) -> PreparedBody {
        match self {
            PreparedBody::Bytes(b) => PreparedBody::Bytes(b.clone()),
            PreparedBody::Stream(_) => PreparedBody::Stream(None),
        }
    }
}

/// A request built once: what every attempt starts from.
pub(crate) struct Prepared {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: PreparedBody,
    pub(crate) timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) max_response_size: u64,
    pub(crate) weight: u32,
}

/// One HTTP exchange for the driver to perform.
pub(crate) struct Exchange {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    /// The attempt's time limit: the request timeout, cut to what is left of
    /// the deadline.
    pub(crate) timeout: Option<Duration>,
}

/// A nonce that a store-backed source is fetching (Redis `INCR` …).
pub(crate) type NonceFuture<'a> = Pin<Box<dyn Future<Output = Result<u64>> + Send + 'a>>;

/// What the core asks the driver to do next.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step<'c> {
    Send(Exchange),
    Sleep(Duration),
    /// Await this nonce, then hand it to [`Call::after_nonce`].
    Nonce(NonceFuture<'c>),
    /// Await the shared store's admission, then hand it to
    /// [`Call::after_admit`].
    Admit(Pin<Box<dyn Future<Output = Admitted> + Send + 'c>>),
    /// Await the shared store's part of recording an outcome, then hand it
    /// to [`Call::after_record_response`] (with the response the driver
    /// kept) or [`Call::after_record_error`].
    Record(Pin<Box<dyn Future<Output = Recorded> + Send + 'c>>),
    Fail(Error),
}

/// What the core makes of a response. (It lives for an instant on the
/// driver's stack; boxing the step would cost an allocation per attempt.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Verdict<'c> {
    /// The call's answer: hand this response to the caller.
    Accept,
    /// Not the answer (a redirect to follow, a retry to wait for, or a
    /// failure): do this instead.
    Next(Step<'c>),
}

/// Shows a URL without its query, lazily (only when a span is recorded).
pub(crate) struct Shown<'a>(pub(crate) &'a Url);
impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_url(self.0))
    }
}

/// The state of one call across its attempts and redirect hops.
pub(crate) struct Call<'c> {
    inner: &'c Inner,
    auth: Option<&'c Auth>,
    /// The request as built; every attempt starts from here.
    prepared: &'c mut Prepared,
    /// The current hop (differs from `prepared` after a redirect).
    hop: Option<Box<Hop>>,
    attempts: u32,
    hops: usize,
    started: Instant,
    deadline: Option<Duration>,
    /// Whether re-sending this request is safe (method or idempotency key).
    idempotent: bool,
    /// The error of the last failed attempt, for the deadline error.
    last_error: Option<Box<Error>>,
    /// What the resilience layer keeps between admission and recording.
    resilience: CallState,
    /// An exchange waiting for its nonce before it is signed.
    unsigned: Option<Box<Exchange>>,
    /// The error of an attempt whose recording the driver is awaiting.
    recording: Option<Box<Error>>,
    /// The nonce the current attempt was signed with, until its source
    /// has been told the attempt is over.
    signed_nonce: Option<u64>,
    /// When the current exchange, signed, was handed to the transport
    /// (this machine's clock), for the clock-skew estimate.
    sent_wall: Option<std::time::SystemTime>,
    /// Whether the request was already sent again after the server refused
    /// its timestamp (once per call).
    timestamp_retried: bool,
    /// When the current attempt was signed (for a 401's renewal).
    signed_at: Option<std::time::Instant>,
    /// Whether a 401 was already answered by renewed credentials.
    reauthorized: bool,
    /// How many times the request went again because the server closed a
    /// kept-alive connection under it, unanswered.
    stale_replays: u8,
}

/// How many times one call sends its request again after the server
/// closed a kept-alive connection under it unanswered (each time on
/// another connection; more than one idle connection may have been closed
/// at once).
const STALE_REPLAYS: u8 = 2;

/// A redirect hop: where the request goes instead of `prepared.url`.
struct Hop {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: PreparedBody,
    /// Whether the hop's origin differs from the original request's.
    foreign: bool,
}

impl<'c> Call<'c> {
    pub(crate) fn new(
        inner: &'c Inner,
        auth: Option<&'c Auth>,
        prepared: &'c mut Prepared,
    ) -> Self {
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
            auth,
            prepared,
            hop: None,
            attempts: 0,
            hops: 0,
            started: Instant::now(),
            idempotent,
            last_error: None,
            resilience: CallState::default(),
            unsigned: None,
            recording: None,
            signed_nonce: None,
            sent_wall: None,
            timestamp_retried: false,
            signed_at: None,
            reauthorized: false,
            stale_replays: 0,
        }
    }

    /// How many attempts were started.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The prepared request's read-stall timeout and buffered-size cap.
    pub(crate) fn limits(&self) -> (Option<Duration>, u64) {
        (self.prepared.read_timeout, self.prepared.max_response_size)
    }

    /// Checks that cannot change between attempts.
    fn validate(&self) -> Result<()> {
        if let Some(auth) = self.auth {
            if self.prepared.body.is_stream() && auth.signs_body() {
                return Err(Error::request(
                    "a streaming body cannot be signed by this scheme (its signature covers the body); give the body as bytes (JSON, form, multipart or raw)",
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
    pub(crate) fn start(&mut self) -> Step<'c> {
        if let Err(e) = self.validate() {
            return Step::Fail(e);
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
            last: self.last_error.take(),
        }
    }

    /// Deadline, admission, then the exchange for a new attempt.
    fn next_attempt(&mut self) -> Step<'c> {
        if self.remaining() == Some(Duration::ZERO) {
            return Step::Fail(self.deadline_error());
        }
        let inner: &'c Inner = self.inner;
        match inner.resilience.admit(
            &self.prepared.url,
            self.prepared.weight,
            &mut self.resilience,
        ) {
            Pending::Ready(a) => self.after_admit(a),
            Pending::Wait(f) => Step::Admit(f),
        }
    }

    /// Called with the admission's answer (at once, or by the driver after
    /// it awaited the shared store).
    pub(crate) fn after_admit(&mut self, admitted: Admitted) -> Step<'c> {
        match self
            .inner
            .resilience
            .admitted(admitted, &mut self.resilience)
        {
            Ok(None) => {}
            Ok(Some(wait)) => {
                if self.remaining().is_some_and(|r| wait >= r) {
                    return Step::Fail(self.deadline_error());
                }
                return Step::Sleep(wait);
            }
            // Breaker open or rate limited: fail fast, as is.
            Err(e) => return Step::Fail(e),
        }
        self.attempts += 1;
        self.hops = 0;
        self.hop = None;
        self.exchange()
    }

    /// Whether no later attempt or redirect hop can need the prepared
    /// headers again: then the attempt takes them instead of a copy.
    fn last_use(&self) -> bool {
        self.hop.is_none()
            && !(self.idempotent
                && !self.prepared.body.is_stream()
                && self.stale_replays < STALE_REPLAYS)
            && (self.timestamp_retried || self.auth.is_none_or(|a| a.stale.is_none()))
            && self.inner.last_send_at(self.attempts)
            && self
                .auth
                .is_none_or(|a| self.reauthorized || !a.renews_credentials())
    }

    /// Builds the exchange for the current hop: the prepared parts, signed
    /// afresh.
    fn exchange(&mut self) -> Step<'c> {
        let attempts = self.attempts;
        let last_use = self.last_use();
        let (method, url, headers, body, foreign) = match &mut self.hop {
            None => (
                self.prepared.method.clone(),
                self.prepared.url.clone(),
                if last_use {
                    std::mem::take(&mut self.prepared.headers)
                } else {
                    copy_with_room(&self.prepared.headers, self.auth.is_some())
                },
                &mut self.prepared.body,
                false,
            ),
            Some(h) => (
                h.method.clone(),
                h.url.clone(),
                copy_with_room(&h.headers, self.auth.is_some() && !h.foreign),
                &mut h.body,
                h.foreign,
            ),
        };
        let body = match body {
            PreparedBody::Bytes(b) => Body::bytes(b.clone()),
            PreparedBody::Stream(s) => match s.take() {
                Some(s) => s,
                None => {
                    return Step::Fail(Error::BodyNotReplayable {
                        attempts: attempts.saturating_sub(1).max(1),
                    })
                }
            },
        };
        let exchange = Exchange {
            method,
            url,
            headers,
            body,
            timeout: match (self.prepared.timeout, self.remaining()) {
                (Some(t), Some(r)) => Some(t.min(r)),
                (t, r) => t.or(r),
            },
        };
        let Some(auth) = self.auth.filter(|_| !foreign) else {
            return self.send(exchange);
        };
        if let Some(ready) = auth.prepare_attempt() {
            // The signer needs I/O first (an OAuth2 token): await it, then
            // take the nonce, so nonces keep the order attempts are sent in.
            self.unsigned = Some(Box::new(exchange));
            return Step::Nonce(Box::pin(async move {
                ready.await?;
                match auth.nonce.next_nonce() {
                    NextNonce::Ready(n) => n,
                    NextNonce::Pending(fut) => fut.await,
                }
            }));
        }
        match auth.nonce.next_nonce() {
            NextNonce::Ready(nonce) => self.sign(auth, exchange, nonce),
            NextNonce::Pending(fut) => {
                self.unsigned = Some(Box::new(exchange));
                Step::Nonce(fut)
            }
        }
    }

    /// How long the driver lets the exchange it was just given run before
    /// it asks for a hedge ([`hedge_admit`](Self::hedge_admit)), when the
    /// request may be hedged: idempotent, a byte body, its first hop.
    pub(crate) fn hedge_delay(&self) -> Option<Duration> {
        if !self.idempotent || self.hop.is_some() || self.prepared.body.is_stream() {
            return None;
        }
        self.inner.resilience.hedge_delay()
    }

    /// Whether the hedge may go (rate limit, budget).
    pub(crate) fn hedge_admit(&self, after: Duration) -> Pending<'c, bool> {
        let inner: &'c Inner = self.inner;
        inner.resilience.hedge_admit(self.prepared.weight, after)
    }

    /// The second copy of the current exchange, signed afresh; `None` when
    /// it cannot be made at once (a nonce that comes from a store).
    pub(crate) fn hedge_exchange(&mut self) -> Option<Exchange> {
        let PreparedBody::Bytes(bytes) = &self.prepared.body else {
            return None;
        };
        let mut exchange = Exchange {
            method: self.prepared.method.clone(),
            url: self.prepared.url.clone(),
            headers: copy_with_room(&self.prepared.headers, self.auth.is_some()),
            body: Body::bytes(bytes.clone()),
            timeout: match (self.prepared.timeout, self.remaining()) {
                (Some(t), Some(r)) => Some(t.min(r)),
                (t, r) => t.or(r),
            },
        };
        if let Some(auth) = self.auth {
            let NextNonce::Ready(nonce) = auth.nonce.next_nonce() else {
                return None;
            };
            let nonce = nonce.ok()?;
            let body = exchange.body.as_bytes().unwrap_or_default();
            match auth.sign_with_nonce(
                &exchange.method,
                &mut exchange.url,
                &mut exchange.headers,
                body,
                nonce,
            ) {
                Ok(Some(replaced)) => exchange.body = Body::bytes(replaced),
                Ok(None) => {}
                Err(_) => return None,
            }
        }
        tracing::debug!(attempt = self.attempts, url = %Shown(&exchange.url), "sending a hedge");
        Some(exchange)
    }

    /// Called by the driver with the nonce it awaited.
    pub(crate) fn after_nonce(&mut self, nonce: Result<u64>) -> Step<'c> {
        match (self.auth, self.unsigned.take()) {
            (Some(auth), Some(exchange)) => self.sign(auth, *exchange, nonce),
            _ => Step::Fail(Error::Signing(
                "a nonce arrived for no pending request (a Keel bug)".into(),
            )),
        }
    }

    /// Signs an attempt afresh with its nonce.
    fn sign(&mut self, auth: &Auth, mut exchange: Exchange, nonce: Result<u64>) -> Step<'c> {
        let nonce = match nonce {
            Ok(n) => n,
            Err(e) => return Step::Fail(e),
        };
        self.signed_nonce = Some(nonce);
        let bytes = exchange.body.as_bytes().unwrap_or_default();
        self.signed_at = Some(std::time::Instant::now());
        match auth.sign_with_nonce(
            &exchange.method,
            &mut exchange.url,
            &mut exchange.headers,
            bytes,
            nonce,
        ) {
            Ok(Some(replaced)) => exchange.body = Body::bytes(replaced),
            Ok(None) => {}
            Err(e) => return Step::Fail(e),
        }
        self.sent_wall = Some(std::time::SystemTime::now());
        self.send(exchange)
    }

    fn send(&self, exchange: Exchange) -> Step<'c> {
        tracing::debug!(
            attempt = self.attempts,
            hop = self.hops,
            method = %exchange.method,
            url = %Shown(&exchange.url),
            "sending"
        );
        Step::Send(exchange)
    }

    /// Hands a response to the core. `content` is the body when it was read
    /// (buffered calls), for the excerpt of a final error.
    pub(crate) fn on_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        url: &Url,
        content: &[u8],
    ) -> Verdict<'c> {
        if let Some(sent) = self.sent_wall.take() {
            if let Some(step) = self.clock_check(sent, status, headers, url, content) {
                return Verdict::Next(step);
            }
        }
        if status == StatusCode::UNAUTHORIZED && self.renew_credentials() {
            tracing::debug!(
                attempt = self.attempts,
                "401: credentials renewed; sending once more"
            );
            return Verdict::Next(self.exchange());
        }
        match self.redirect(status, headers, url) {
            Ok(Some(hop)) => {
                self.hops += 1;
                self.hop = Some(Box::new(hop));
                return Verdict::Next(self.exchange());
            }
            Ok(None) => {}
            Err(e) => return Verdict::Next(Step::Fail(e)),
        }
        // The API's own "too many requests" in the body (a signing preset
        // knows it), on the request's origin.
        let throttled = !self.hop.as_ref().is_some_and(|h| h.foreign)
            && self
                .auth
                .and_then(|a| a.throttled)
                .is_some_and(|f| f(status, content));
        match self.record(Outcome::Response(Head {
            status,
            headers,
            throttled,
        })) {
            Pending::Ready(r) => self.after_record_response(r, status, url, content),
            Pending::Wait(f) => Verdict::Next(Step::Record(f)),
        }
    }

    /// What a recorded response leads to.
    pub(crate) fn after_record_response(
        &mut self,
        recorded: Recorded,
        status: StatusCode,
        url: &Url,
        content: &[u8],
    ) -> Verdict<'c> {
        let decision = self
            .inner
            .resilience
            .recorded(recorded, &mut self.resilience);
        match decision {
            Decision::Finish | Decision::NotReplayable => Verdict::Accept,
            Decision::Deadline => {
                self.last_error = Some(Box::new(Error::unexpected_status(status, url, content)));
                Verdict::Next(Step::Fail(self.deadline_error()))
            }
            Decision::Retry(wait) => {
                self.last_error = Some(Box::new(Error::unexpected_status(status, url, content)));
                Verdict::Next(self.wait(wait))
            }
        }
    }

    /// Learns the server's clock from the `Date` of a response to a signed
    /// exchange, and sends the request once more, signed afresh, when the
    /// server refused it for its timestamp.
    fn clock_check(
        &mut self,
        sent: std::time::SystemTime,
        status: StatusCode,
        headers: &HeaderMap,
        url: &Url,
        content: &[u8],
    ) -> Option<Step<'c>> {
        let auth = self.auth?;
        // A cached answer's Date is not the server's clock now.
        if !headers.contains_key(http::header::AGE) {
            if let Some(date) = headers
                .get(http::header::DATE)
                .and_then(|v| auth.date_of(v))
            {
                auth.observe_date(url, sent, std::time::SystemTime::now(), date);
            }
        }
        let stale = auth.stale?;
        if self.timestamp_retried || self.prepared.body.is_stream() || !stale(status, content) {
            return None;
        }
        self.timestamp_retried = true;
        tracing::info!(
            status = status.as_u16(),
            url = %Shown(url),
            "the server refused the request's timestamp; sending it once more with the corrected clock"
        );
        Some(self.exchange())
    }

    /// Whether a 401 is answered by renewed credentials and one more
    /// sending: once per call, when the signer can renew (OAuth2), the
    /// hop is on the request's origin and the body can be sent again.
    fn renew_credentials(&mut self) -> bool {
        let (Some(auth), Some(signed_at)) = (self.auth, self.signed_at) else {
            return false;
        };
        let foreign = self.hop.as_ref().is_some_and(|h| h.foreign);
        if self.reauthorized || foreign || !self.body_replayable() {
            return false;
        }
        if !auth.renew_after_unauthorized(signed_at) {
            return false;
        }
        self.reauthorized = true;
        true
    }

    /// Hands a failed exchange to the core.
    pub(crate) fn on_error(&mut self, error: Error) -> Step<'c> {
        if self.replays_stale(&error) {
            // Not an attempt: the server never answered it (RFC 9112,
            // section 9.3.1). Signed afresh, on another connection.
            self.stale_replays += 1;
            tracing::debug!(
                attempt = self.attempts,
                "the server closed a kept-alive connection before it answered; sending again"
            );
            return self.exchange();
        }
        match self.record(Outcome::Error(&error)) {
            Pending::Ready(r) => self.decided_error(r, error),
            Pending::Wait(f) => {
                self.recording = Some(Box::new(error));
                Step::Record(f)
            }
        }
    }

    /// Whether the current hop's body can be sent again.
    fn body_replayable(&self) -> bool {
        match &self.hop {
            None => !self.prepared.body.is_stream(),
            Some(h) => matches!(h.body, PreparedBody::Bytes(_)),
        }
    }

    /// Whether a failure is a kept-alive connection the server closed
    /// under the request, unanswered, and the request may go again at
    /// once: idempotent, a body that can be sent again, time left.
    fn replays_stale(&self, error: &Error) -> bool {
        let Error::Transport {
            source: Some(source),
            ..
        } = error
        else {
            return false;
        };
        self.stale_replays < STALE_REPLAYS
            && self.idempotent
            && self.body_replayable()
            && self.remaining() != Some(Duration::ZERO)
            && crate::transport::is_stale_connection(&**source)
    }

    /// What a recorded failure leads to (after the driver awaited the
    /// shared store).
    pub(crate) fn after_record_error(&mut self, recorded: Recorded) -> Step<'c> {
        match self.recording.take() {
            Some(error) => self.decided_error(recorded, *error),
            None => Step::Fail(Error::request(
                "an outcome was recorded for no pending failure (a Keel bug)",
            )),
        }
    }

    fn decided_error(&mut self, recorded: Recorded, error: Error) -> Step<'c> {
        let decision = self
            .inner
            .resilience
            .recorded(recorded, &mut self.resilience);
        match decision {
            Decision::Finish => Step::Fail(self.finish_error(error)),
            // A stream body cannot be sent again.
            Decision::NotReplayable => Step::Fail(Error::BodyNotReplayable {
                attempts: self.attempts,
            }),
            Decision::Deadline => {
                self.last_error = Some(Box::new(error));
                Step::Fail(self.deadline_error())
            }
            Decision::Retry(wait) => {
                self.last_error = Some(Box::new(error));
                self.wait(wait)
            }
        }
    }

    /// The nonce source's release of the attempt that just ended (a source
    /// that keeps requests in nonce order holds its key until then).
    pub(crate) fn release_nonce(&mut self) -> Option<crate::signing::ReleaseFuture<'c>> {
        let nonce = self.signed_nonce.take()?;
        self.auth?.nonce.release(nonce)
    }

    fn record(&mut self, outcome: Outcome<'_>) -> Pending<'c, Recorded> {
        let replayable = !self.prepared.body.is_stream();
        let inner: &'c Inner = self.inner;
        inner.resilience.record(
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
        )
    }

    /// A retry after `wait`, unless the wait would pass the deadline.
    fn wait(&mut self, wait: Duration) -> Step<'c> {
        if self.remaining().is_some_and(|r| wait >= r) {
            tracing::debug!(
                attempt = self.attempts,
                ?wait,
                "wait would pass the deadline"
            );
            return Step::Fail(self.deadline_error());
        }
        tracing::debug!(attempt = self.attempts, ?wait, "retrying");
        Step::Sleep(wait)
    }

    /// Called by the driver after it slept as asked.
    pub(crate) fn after_sleep(&mut self) -> Step<'c> {
        self.next_attempt()
    }

    /// The error a call ends with when its last attempt failed with `e`.
    fn finish_error(&mut self, e: Error) -> Error {
        match e {
            e @ Error::DeadlineExceeded { .. } => e,
            e if self.deadline.is_some()
                && self.remaining() == Some(Duration::ZERO)
                && e.is_timeout() =>
            {
                self.last_error = Some(Box::new(e));
                self.deadline_error()
            }
            e if self.attempts > 1 => Error::RetriesExhausted {
                attempts: self.attempts,
                last: Box::new(e),
            },
            e => e,
        }
    }

    /// Where a redirect response sends the request next, if it is followed.
    fn redirect(&self, status: StatusCode, headers: &HeaderMap, from: &Url) -> Result<Option<Hop>> {
        let max = self.inner.config.max_redirects;
        if max == 0 || !status.is_redirection() {
            return Ok(None);
        }
        let keeps_method = match status {
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => false,
            _ => return Ok(None),
        };
        let Some(location) = headers.get(LOCATION).and_then(|l| l.to_str().ok()) else {
            return Ok(None);
        };
        if self.hops >= max {
            return Err(Error::TooManyRedirects {
                url: display_url(from),
                max,
            });
        }
        let url = from.join(location).map_err(|e| {
            Error::transport(
                from,
                format!("redirect to an invalid location: {e}"),
                true,
                None,
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::transport(
                from,
                format!("redirect to unsupported scheme {:?}", url.scheme()),
                true,
                None,
            ));
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
                (prev_method.clone(), prev_body.resend())
            } else {
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_LENGTH);
                (Method::GET, PreparedBody::Bytes(Bytes::new()))
            };
        let foreign = url.origin() != self.prepared.url.origin();
        if foreign {
            headers.remove(AUTHORIZATION);
            headers.remove(PROXY_AUTHORIZATION);
            headers.remove(COOKIE);
            if let Some(auth) = self.auth {
                for name in auth.sensitive_headers() {
                    headers.remove(name);
                }
            }
        }
        tracing::debug!(status = status.as_u16(), to = %Shown(&url), foreign, "following redirect");
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

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A copy of an attempt's headers with room for what the signer and the
/// transport add (signature headers, `Host`): a `HeaderMap` clone has no
/// spare capacity, and growing it on the first insert reallocates its
/// entries (callgrind: ~600 instructions per signed attempt, more than
/// filling a map of the right size).
fn copy_with_room(headers: &HeaderMap, signed: bool) -> HeaderMap {
    let room = if signed { 8 } else { 4 };
    let mut copy = HeaderMap::with_capacity(headers.len() + room);
    for (name, value) in headers {
        copy.append(name.clone(), value.clone());
    }
    copy
}
