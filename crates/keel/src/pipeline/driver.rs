//! The driver: the short async loop that performs what the core asks for.
//! Blocking callers run it on Keel's runtime; there is no second driver.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http_body::Body as _;
use tracing::Instrument;
use url::Url;

use super::{Call, Exchange, Prepared, Shown, Step, Verdict};
use crate::client::Inner;
use crate::config::Origin;
use crate::error::{display_url, error_chain_message, ConnectErrorKind, Error, Result};
use crate::resilience::Pending;
use crate::response::{Response, StreamingResponse};
use crate::signing::Auth;
use crate::transport::{ResponseBody, SendFuture, SharedTransport, TransportError};

/// How a call reads the body of its responses.
pub(crate) trait Mode: Send {
    /// What a finished exchange yields.
    type Exchanged: Send;
    /// What the call returns.
    type Output;

    /// Performs one exchange within its attempt timeout.
    fn exchange(
        &self,
        link: Link<'_>,
        exchange: Exchange,
        limits: (Option<Duration>, u64),
    ) -> impl Future<Output = Result<Self::Exchanged>> + Send;

    /// The head of an exchanged response (status, headers, URL, and the
    /// body when it was read).
    fn head(exchanged: &Self::Exchanged) -> (http::StatusCode, &http::HeaderMap, &Url, &[u8]);

    /// The call's answer.
    fn finish(exchanged: Self::Exchanged, attempts: u32) -> Self::Output;
}

/// Where an exchange goes: the family's transport, and the base URL's
/// origin made once (for the request's URI).
#[derive(Clone, Copy)]
pub(crate) struct Link<'a> {
    transport: &'a SharedTransport,
    origin: Option<&'a Origin>,
}

/// Reads the whole body (up to the size cap) inside the attempt timeout.
pub(crate) struct Buffered;

/// Returns as soon as the head has arrived; the body streams.
pub(crate) struct Streaming;

impl Mode for Buffered {
    type Exchanged = Response;
    type Output = Response;

    fn exchange(
        &self,
        link: Link<'_>,
        exchange: Exchange,
        (_, max): (Option<Duration>, u64),
    ) -> impl Future<Output = Result<Response>> + Send {
        BufferedExchange::new(link, exchange, max)
    }

    fn head(r: &Response) -> (http::StatusCode, &http::HeaderMap, &Url, &[u8]) {
        (r.status, &r.headers, &r.url, &r.content)
    }

    fn finish(mut r: Response, attempts: u32) -> Response {
        r.attempts = attempts;
        r
    }
}

pin_project_lite::pin_project! {
    /// One buffered exchange: the head, then the whole body (up to the size
    /// cap), both within the attempt's time limit. Written as one state
    /// machine rather than nested `async` blocks (a timeout around a send
    /// and a collect): each nesting moved the request and the response body
    /// from future to future, and this is every call's hot path.
    struct BufferedExchange {
        max: u64,
        limit: Duration,
        #[pin]
        deadline: Option<tokio::time::Sleep>,
        #[pin]
        state: BufferedState,
    }
}

pin_project_lite::pin_project! {
    #[project = BufferedProj]
    #[project_replace = BufferedOwned]
    enum BufferedState {
        Head { url: Url, #[pin] call: SendFuture },
        Body {
            url: Url,
            status: http::StatusCode,
            headers: http::HeaderMap,
            #[pin]
            body: ResponseBody,
            declared: Option<u64>,
            first: Option<Bytes>,
            rest: Option<BytesMut>,
            total: u64,
        },
        Failed { error: Option<Error> },
        Done,
    }
}

impl BufferedExchange {
    fn new(link: Link<'_>, exchange: Exchange, max: u64) -> Self {
        let Exchange {
            method,
            url,
            headers,
            body,
            timeout,
        } = exchange;
        // As `tokio::time::timeout`: a limit too far off to be an instant
        // is no limit.
        let deadline = timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t))
            .map(tokio::time::sleep_until);
        let state = match into_request(link.origin, method, &url, headers, body) {
            Ok(request) => BufferedState::Head {
                call: link.transport.send(request),
                url,
            },
            Err(e) => BufferedState::Failed { error: Some(e) },
        };
        BufferedExchange {
            max,
            limit: timeout.unwrap_or_default(),
            deadline,
            state,
        }
    }
}

/// Why a finished exchange has no answer left (a Keel bug if ever seen).
fn finished() -> Error {
    Error::request("an exchange was polled after it finished (a Keel bug)")
}

impl Future for BufferedExchange {
    type Output = Result<Response>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Response>> {
        let mut this = self.project();
        let max = *this.max;
        loop {
            let failed = match this.state.as_mut().project() {
                BufferedProj::Head { url, call } => match call.poll(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Err(e)) => transport_error(e, url),
                    Poll::Ready(Ok(response)) => {
                        let (parts, body) = response.into_parts();
                        let declared = parts
                            .headers
                            .get(CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok());
                        if declared.is_some_and(|n| n > max) || body.size_hint().lower() > max {
                            Error::body_too_large(url, max)
                        } else {
                            let BufferedOwned::Head { url, .. } =
                                this.state.as_mut().project_replace(BufferedState::Done)
                            else {
                                return Poll::Ready(Err(finished()));
                            };
                            this.state.set(BufferedState::Body {
                                url,
                                status: parts.status,
                                headers: parts.headers,
                                body,
                                declared,
                                first: None,
                                rest: None,
                                total: 0,
                            });
                            continue;
                        }
                    }
                },
                BufferedProj::Body {
                    url,
                    body,
                    declared,
                    first,
                    rest,
                    total,
                    ..
                } => match body.poll_frame(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Some(Err(e))) => body_error(e, url),
                    Poll::Ready(Some(Ok(frame))) => {
                        let Ok(data) = frame.into_data() else {
                            continue;
                        };
                        *total += data.len() as u64;
                        if *total > max {
                            Error::body_too_large(url, max)
                        } else {
                            // Most bodies arrive in one frame: kept without copying.
                            match (first.as_ref(), rest.as_mut()) {
                                (None, _) => *first = Some(data),
                                (Some(f), None) => {
                                    let hint = declared.unwrap_or(0).min(max) as usize;
                                    let mut buf =
                                        BytesMut::with_capacity(hint.max(f.len() + data.len()));
                                    buf.extend_from_slice(f);
                                    buf.extend_from_slice(&data);
                                    *rest = Some(buf);
                                }
                                (Some(_), Some(buf)) => buf.extend_from_slice(&data),
                            }
                            continue;
                        }
                    }
                    Poll::Ready(None) => {
                        return Poll::Ready(
                            match this.state.as_mut().project_replace(BufferedState::Done) {
                                BufferedOwned::Body {
                                    url,
                                    status,
                                    headers,
                                    first,
                                    rest,
                                    ..
                                } => {
                                    let content = match (first, rest) {
                                        (_, Some(buf)) => buf.freeze(),
                                        (Some(f), None) => f,
                                        (None, None) => Bytes::new(),
                                    };
                                    Ok(Response::<()>::raw(status, headers, content, url))
                                }
                                _ => Err(finished()),
                            },
                        );
                    }
                },
                BufferedProj::Failed { error } => error.take().unwrap_or_else(finished),
                BufferedProj::Done => finished(),
            };
            this.state.set(BufferedState::Done);
            return Poll::Ready(Err(failed));
        }
        // Waiting for the head or the body: within the time limit?
        if let Some(deadline) = this.deadline.as_pin_mut() {
            if deadline.poll(cx).is_ready() {
                let e = match this.state.as_mut().project() {
                    BufferedProj::Head { url, .. } | BufferedProj::Body { url, .. } => {
                        Error::timeout(url, *this.limit)
                    }
                    _ => finished(),
                };
                this.state.set(BufferedState::Done);
                return Poll::Ready(Err(e));
            }
        }
        Poll::Pending
    }
}

impl Mode for Streaming {
    type Exchanged = StreamingResponse;
    type Output = StreamingResponse;

    async fn exchange(
        &self,
        link: Link<'_>,
        exchange: Exchange,
        (read_timeout, max): (Option<Duration>, u64),
    ) -> Result<StreamingResponse> {
        let Exchange {
            method,
            url,
            headers,
            body,
            timeout,
        } = exchange;
        let request = into_request(link.origin, method, &url, headers, body)?;
        let (status, headers, body) =
            within(timeout, &url, send(link.transport, request, &url)).await?;
        Ok(StreamingResponse::new(
            status,
            headers,
            url,
            body,
            read_timeout,
            max,
        ))
    }

    fn head(r: &StreamingResponse) -> (http::StatusCode, &http::HeaderMap, &Url, &[u8]) {
        (r.status, &r.headers, r.url(), &[])
    }

    fn finish(mut r: StreamingResponse, attempts: u32) -> StreamingResponse {
        r.attempts = attempts;
        r
    }
}

/// Runs one call: the core's steps, performed. The call borrows the
/// prepared request where it lies (in the caller's future): nothing of it
/// is moved from future to future.
pub(crate) fn run<'a, M: Mode + 'a>(
    inner: &'a Inner,
    auth: Option<&'a Auth>,
    prepared: &'a mut Prepared,
    mode: M,
) -> impl Future<Output = Result<M::Output>> + 'a {
    let span = tracing::debug_span!(
        "keel.call",
        method = %prepared.method,
        url = %Shown(&prepared.url),
    );
    async move {
        let transport = inner.shared.transport()?;
        let link = Link {
            transport: &transport,
            origin: inner.config.origin.as_ref(),
        };
        let mut call = Call::new(inner, auth, prepared);
        let limits = call.limits();
        let mut step = call.start();
        // A response whose recording the shared store is answering.
        let mut held: Option<M::Exchanged> = None;
        loop {
            step = match step {
                Step::Send(exchange) => {
                    held = None;
                    let attempt = tracing::debug_span!("keel.attempt", attempt = call.attempts());
                    let started = inner
                        .resilience
                        .observes_latency()
                        .then(tokio::time::Instant::now);
                    let result = match call.hedge_delay() {
                        None => {
                            mode.exchange(link, exchange, limits)
                                .instrument(attempt.clone())
                                .await
                        }
                        // Boxed: a hedged attempt holds two exchanges at once;
                        // inline, that would grow every call's future (and the
                        // copies of it) for an option most calls never use.
                        Some(delay) => {
                            Box::pin(hedged(&mode, link, exchange, limits, delay, &mut call))
                                .instrument(attempt.clone())
                                .await
                        }
                    };
                    if let (Ok(_), Some(started)) = (&result, started) {
                        inner.resilience.observe_latency(started.elapsed());
                    }
                    if let Some(release) = call.release_nonce() {
                        release.await;
                    }
                    let _entered = attempt.enter();
                    match result {
                        Ok(exchanged) => {
                            let (status, headers, url, content) = M::head(&exchanged);
                            match call.on_response(status, headers, url, content) {
                                Verdict::Accept => {
                                    return Ok(M::finish(exchanged, call.attempts()))
                                }
                                Verdict::Next(step) => {
                                    if matches!(step, Step::Record(_)) {
                                        held = Some(exchanged);
                                    }
                                    step
                                }
                            }
                        }
                        Err(e) => call.on_error(e),
                    }
                }
                Step::Admit(admission) => {
                    let admitted = admission.await;
                    call.after_admit(admitted)
                }
                Step::Record(recording) => {
                    let recorded = recording.await;
                    match held.take() {
                        Some(exchanged) => {
                            let (status, _, url, content) = M::head(&exchanged);
                            match call.after_record_response(recorded, status, url, content) {
                                Verdict::Accept => {
                                    return Ok(M::finish(exchanged, call.attempts()))
                                }
                                Verdict::Next(step) => step,
                            }
                        }
                        None => call.after_record_error(recorded),
                    }
                }
                Step::Sleep(d) => {
                    tokio::time::sleep(d).await;
                    call.after_sleep()
                }
                Step::Nonce(nonce) => {
                    let nonce = nonce.await;
                    call.after_nonce(nonce)
                }
                Step::Fail(e) => {
                    if let Some(release) = call.release_nonce() {
                        release.await;
                    }
                    return Err(e);
                }
            };
        }
    }
    .instrument(span)
}

/// One exchange, hedged: when it has not answered after `delay`, a second
/// copy goes (if the call admits it); the first response wins and the other
/// copy is dropped (cancelled). When one copy fails, the other's outcome is
/// the answer.
async fn hedged<M: Mode>(
    mode: &M,
    link: Link<'_>,
    exchange: Exchange,
    limits: (Option<Duration>, u64),
    delay: Duration,
    call: &mut Call<'_>,
) -> Result<M::Exchanged> {
    let first = mode.exchange(link, exchange, limits);
    tokio::pin!(first);
    tokio::select! {
        biased;
        r = &mut first => return r,
        _ = tokio::time::sleep(delay) => {}
    }
    let Some(copy) = call.hedge_exchange() else {
        return first.await;
    };
    let admitted = match call.hedge_admit(delay) {
        Pending::Ready(ok) => ok,
        Pending::Wait(admission) => {
            tokio::select! {
                r = &mut first => return r,
                ok = admission => ok,
            }
        }
    };
    if !admitted {
        return first.await;
    }
    let second = mode.exchange(link, copy, limits);
    tokio::pin!(second);
    tokio::select! {
        r = &mut first => match r {
            Ok(r) => Ok(r),
            Err(_) => second.await,
        },
        r = &mut second => match r {
            Ok(r) => Ok(r),
            Err(_) => first.await,
        },
    }
}

/// Runs `fut` within the attempt's time limit, if any.
async fn within<T>(
    timeout: Option<Duration>,
    url: &Url,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match timeout {
        Some(t) => match tokio::time::timeout(t, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::timeout(url, t)),
        },
        None => fut.await,
    }
}

/// The request for one exchange (the URL stays with the caller, for the
/// response and for messages).
fn into_request(
    origin: Option<&Origin>,
    method: http::Method,
    url: &Url,
    headers: http::HeaderMap,
    body: crate::transport::Body,
) -> Result<http::Request<crate::transport::Body>> {
    let uri = Origin::uri(origin, url)
        .map_err(|e| Error::request(format!("{} cannot be sent: {e}", display_url(url))))?;
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

/// One exchange on the transport, up to the response head.
async fn send(
    transport: &SharedTransport,
    request: http::Request<crate::transport::Body>,
    url: &Url,
) -> Result<(http::StatusCode, http::HeaderMap, ResponseBody)> {
    let response = transport
        .send(request)
        .await
        .map_err(|e| transport_error(e, url))?;
    let (parts, body) = response.into_parts();
    Ok((parts.status, parts.headers, body))
}

/// A failure while reading a body: the request was sent.
pub(crate) fn body_error(e: crate::transport::BoxError, url: &Url) -> Error {
    let message = format!("reading the body failed: {}", error_chain_message(&*e));
    Error::transport(url, message, true, Some(e))
}

/// Maps a transport failure to a Keel error, without the URL's query.
pub(crate) fn transport_error(e: TransportError, url: &Url) -> Error {
    let connect = e.is_connect();
    let source = e.into_source();
    let mut message = error_chain_message(&*source);
    if !connect {
        if let Some(alert) = certificate_refusal(&*source) {
            // TLS 1.3 ends the handshake before the server checks the
            // client's certificate: its refusal comes as an alert on the
            // first read. The server never took the request: a connection
            // that could not be made, and no retry can change it.
            message.push_str(&format!(
                "; the server refused the TLS connection ({alert:?}): it may require a client \
                 certificate (give one with `client_certificate_pem`) or refuse the one given"
            ));
            return Error::Connect {
                url: display_url(url),
                kind: ConnectErrorKind::Tls,
                message,
                source: Some(source),
            };
        }
        if crate::transport::is_stale_connection(&*source) {
            message.push_str(
                "; only an idempotent request (or one with an `Idempotency-Key`) is sent again after \
                 this; if the server's keep-alive timeout is short, keep idle connections for less \
                 with `configure_transport(|t| { t.pool().pool_idle_timeout(..); })`",
            );
        }
        return Error::transport(url, message, true, Some(source));
    }
    let kind = connect_kind(&*source);
    match kind {
        ConnectErrorKind::Tls
            if message.contains("certificate") || message.contains("Certificate") =>
        {
            message.push_str(
                "; if the server uses a private CA, trust it with `ca_pem` or `ca_file` (or, for tests only, `verify_ssl(false)`)",
            );
        }
        ConnectErrorKind::Timeout => {
            message.push_str("; raise `connect_timeout` if the server is just slow to accept");
        }
        _ => {}
    }
    Error::Connect {
        url: display_url(url),
        kind,
        message,
        source: Some(source),
    }
}

/// The alert of a server that refused the client's certificate (or its
/// absence) at the end of the TLS handshake, from a failure's chain of
/// causes.
fn certificate_refusal(e: &(dyn std::error::Error + 'static)) -> Option<rustls::AlertDescription> {
    use rustls::AlertDescription as A;
    let refusal =
        |err: &(dyn std::error::Error + 'static)| match err.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::AlertReceived(
                a @ (A::CertificateRequired
                | A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::AccessDenied),
            )) => Some(*a),
            _ => None,
        };
    crate::error::chain_find(e, refusal)
}

/// What a connect failure was, from its chain of causes.
fn connect_kind(e: &(dyn std::error::Error + 'static)) -> ConnectErrorKind {
    crate::error::chain_find(e, |err| {
        if err.is::<crate::transport::ConnectTimedOut>() {
            return Some(ConnectErrorKind::Timeout);
        }
        if err.is::<rustls::Error>() {
            return Some(ConnectErrorKind::Tls);
        }
        // hyper-util's connector names its failures in text only.
        let text = err.to_string();
        if text == "dns error" {
            Some(ConnectErrorKind::Dns)
        } else if text.starts_with("tunnel error") {
            Some(ConnectErrorKind::Proxy)
        } else {
            None
        }
    })
    .unwrap_or(ConnectErrorKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConnectErrorKind;

    /// What an error looks like when the server's alert reached the
    /// request: rustls's error inside the I/O error, under a wrapper.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection error")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn alert(a: rustls::AlertDescription) -> TransportError {
        TransportError::other(Wrapped(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(a),
        )))
    }

    #[test]
    fn a_refused_client_certificate_is_a_tls_connect_error() {
        let url = Url::parse("https://api.test/x?secret=1").unwrap();
        for a in [
            rustls::AlertDescription::CertificateRequired,
            rustls::AlertDescription::BadCertificate,
            rustls::AlertDescription::UnknownCA,
        ] {
            match transport_error(alert(a), &url) {
                Error::Connect {
                    kind: ConnectErrorKind::Tls,
                    message,
                    url,
                    ..
                } => {
                    assert!(message.contains("client_certificate_pem"), "{message}");
                    assert!(!url.contains("secret"), "{url}");
                }
                other => panic!("{a:?}: {other:?}"),
            }
        }
        // Another alert mid-exchange stays a transport error.
        assert!(matches!(
            transport_error(alert(rustls::AlertDescription::DecodeError), &url),
            Error::Transport { .. }
        ));
    }
}
