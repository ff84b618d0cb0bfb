//! A request about to be sent: method, path, query, headers, body, and the
//! statuses it documents.

use std::fmt::{self, Display};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, FutureExt};
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use url::Url;

use crate::client::Inner;
use crate::error::{Error, Result};
use crate::multipart::Multipart;
use crate::pipeline::driver::{self, Buffered, Streaming};
use crate::pipeline::{Prepared, PreparedBody};
use crate::response::{Response, StreamingResponse};
use crate::signing::Auth;
use crate::transport::{runtime, Body, BoxError};
use crate::validate::{self, cookie_header, validate_cookie};

/// Characters left as they are in a path segment: RFC 3986 unreserved.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `value` as one path segment (a `/` in it becomes `%2F`).
///
/// ```
/// assert_eq!(keel::encode_path_segment("a b/c"), "a%20b%2Fc");
/// ```
pub fn encode_path_segment(value: &str) -> String {
    utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

/// Which response statuses a request documents (as in an OpenAPI document's
/// `responses`): a status, a class such as `2XX`, or `default` (every
/// status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusMatch {
    /// Exactly this status code.
    Code(u16),
    /// Every status of this class: `2` for `2XX`, `4` for `4XX` …
    Class(u16),
    /// Every status (OpenAPI's `default`).
    Default,
}

impl StatusMatch {
    /// Whether `status` is matched.
    pub fn matches(&self, status: StatusCode) -> bool {
        match *self {
            StatusMatch::Code(c) => status.as_u16() == c,
            StatusMatch::Class(c) => status.as_u16() / 100 == c,
            StatusMatch::Default => true,
        }
    }
}

impl From<u16> for StatusMatch {
    fn from(code: u16) -> Self {
        StatusMatch::Code(code)
    }
}

impl From<StatusCode> for StatusMatch {
    fn from(code: StatusCode) -> Self {
        StatusMatch::Code(code.as_u16())
    }
}

/// A request being described; send it with [`send`](Self::send) (async) or
/// [`send_blocking`](Self::send_blocking).
///
/// Headers, query, cookies, timeout and body given here apply to this request
/// only, over the client's own (a request header replaces a client header of
/// the same name). Errors in what is given (an invalid header name, a body
/// that fails to serialize) are reported by the send methods.
///
/// ```no_run
/// # async fn run() -> keel::Result<()> {
/// let client = keel::HttpClient::new("https://api.example.com/v1")?;
/// let resp = client
///     .get("/items/{id}")
///     .path_param("id", 42)
///     .query("expand", "owner")
///     .header("X-Request-Id", "r-1")
///     .send()
///     .await?;
/// println!("{} {}", resp.status, resp.text()?);
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    inner: Arc<Inner>,
    auth: Option<Arc<Auth>>,
    method: Method,
    path: String,
    path_params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    cookies: Vec<(String, String)>,
    body: PreparedBody,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    max_response_size: Option<u64>,
    documented: Option<Vec<StatusMatch>>,
    weight: u32,
    error: Option<Error>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("path", &shown_path(&self.path))
            .field(
                "query",
                &self.query.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("documented", &self.documented)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(
        inner: Arc<Inner>,
        auth: Option<Arc<Auth>>,
        method: Method,
        path: &str,
    ) -> Self {
        RequestBuilder {
            inner,
            auth,
            method,
            path: path.to_owned(),
            path_params: Vec::new(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            cookies: Vec::new(),
            body: PreparedBody::Bytes(Bytes::new()),
            timeout: None,
            read_timeout: None,
            max_response_size: None,
            documented: None,
            weight: 1,
            error: None,
        }
    }

    fn fail(mut self, e: Error) -> Self {
        if self.error.is_none() {
            self.error = Some(e);
        }
        self
    }

    /// Replaces `{name}` in the path with `value`, percent-encoded as one path
    /// segment.
    pub fn path_param(mut self, name: &str, value: impl Display) -> Self {
        self.path_params
            .push((name.to_owned(), encode_path_segment(&value.to_string())));
        self
    }

    /// Appends one query parameter (call again with the same name for an
    /// array).
    pub fn query(mut self, name: &str, value: impl Display) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Appends a query parameter when `value` is `Some`.
    pub fn query_opt(self, name: &str, value: Option<impl Display>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    /// Appends every pair as a query parameter.
    pub fn query_pairs<I, K, V>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.query
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets a header for this request (replacing the client's header of the
    /// same name).
    pub fn header(self, name: &str, value: impl Display) -> Self {
        let parsed = HeaderName::from_bytes(name.as_bytes());
        let Ok(name_parsed) = parsed else {
            return self.fail(Error::request(format!(
                "{name:?} is not a valid header name"
            )));
        };
        if name_parsed == http::header::COOKIE {
            return self.fail(Error::request(
                "set cookies with `cookie(name, value)` rather than a Cookie header, so they merge with the client's",
            ));
        }
        match HeaderValue::from_str(&value.to_string()) {
            Ok(v) => {
                let mut s = self;
                s.headers.insert(name_parsed, v);
                s
            }
            Err(_) => self.fail(Error::request(format!(
                "the value given for header {name:?} is not a valid header value (visible ASCII, no newlines)"
            ))),
        }
    }

    /// Adds a cookie for this request (replacing the client's cookie of the
    /// same name).
    pub fn cookie(mut self, name: &str, value: impl Display) -> Self {
        let value = value.to_string();
        if let Err(e) = validate_cookie(name, &value) {
            return self.fail(e);
        }
        self.cookies.push((name.to_owned(), value));
        self
    }

    /// The timeout of this request (of each attempt, when retrying),
    /// replacing the client's. Zero and durations over a year are refused
    /// when the request is sent.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The read-stall timeout of this request's streamed body, replacing
    /// the client's ([`ClientBuilder::read_timeout`](crate::ClientBuilder::read_timeout)).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// The largest body this request reads into memory, replacing the
    /// client's ([`ClientBuilder::max_response_size`](crate::ClientBuilder::max_response_size)).
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = Some(bytes);
        self
    }

    /// How many rate-limit permits this request costs (default 1); for APIs
    /// that count some endpoints as heavier.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Sets an `Idempotency-Key` header. With a resilience policy, a POST or
    /// PATCH that carries one may be retried, always with the same key.
    pub fn idempotency_key(self, key: impl Display) -> Self {
        self.header("Idempotency-Key", key)
    }

    /// A JSON body (serialized once, now), with `Content-Type:
    /// application/json`.
    pub fn json<B: Serialize + ?Sized>(self, body: &B) -> Self {
        match serde_json::to_vec(body) {
            Ok(v) => self.body(v, "application/json"),
            Err(e) => self.fail(Error::request(format!(
                "the JSON body could not be serialized: {e}"
            ))),
        }
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form<B: Serialize + ?Sized>(self, body: &B) -> Self {
        match serde_urlencoded::to_string(body) {
            Ok(v) => self.body(v, "application/x-www-form-urlencoded"),
            Err(e) => self.fail(Error::request(format!(
                "the form body could not be serialized: {e}"
            ))),
        }
    }

    /// A `multipart/form-data` body (serialized once, now).
    pub fn multipart(self, form: Multipart) -> Self {
        let (content_type, bytes) = form.finish();
        self.body(bytes, &content_type)
    }

    /// A raw body with its content type, sent exactly as given.
    pub fn body(self, bytes: impl Into<Bytes>, content_type: &str) -> Self {
        self.with_body(PreparedBody::Bytes(bytes.into()), content_type)
    }

    fn with_body(mut self, body: PreparedBody, content_type: &str) -> Self {
        match HeaderValue::from_str(content_type) {
            Ok(ct) => {
                self.headers.insert(CONTENT_TYPE, ct);
                self.body = body;
                self
            }
            Err(_) => self.fail(Error::request(format!(
                "{content_type:?} is not a valid content type"
            ))),
        }
    }

    /// A streaming body: any [`http_body::Body`] of [`Bytes`] (for example
    /// `http_body_util::StreamBody`). It is sent once, in both async and
    /// blocking calls: a request with a stream body is never retried (a
    /// retry that would need it fails with [`Error::BodyNotReplayable`]),
    /// and a scheme whose signature covers the body refuses it.
    pub fn body_stream<B>(self, body: B, content_type: &str) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.with_body(PreparedBody::Stream(Some(Body::stream(body))), content_type)
    }

    /// A body streamed from an [`AsyncRead`](tokio::io::AsyncRead) (sent
    /// once, like [`body_stream`](Self::body_stream)).
    pub fn body_reader<R>(self, reader: R, content_type: &str) -> Self
    where
        R: tokio::io::AsyncRead + Send + 'static,
    {
        let stream = tokio_util::io::ReaderStream::new(reader);
        let body = http_body_util::StreamBody::new(futures_util::StreamExt::map(stream, |r| {
            r.map(http_body::Frame::data)
        }));
        self.body_stream(body, content_type)
    }

    /// A body streamed from the file at `path` (opened now; sent once, like
    /// [`body_stream`](Self::body_stream), with its length as
    /// `Content-Length`). Works for async and blocking calls.
    pub fn body_file(self, path: impl AsRef<Path>, content_type: &str) -> Self {
        let path = path.as_ref();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                return self.fail(Error::request(format!(
                    "cannot open {} for the request body: {e}",
                    path.display()
                )))
            }
        };
        let len = file.metadata().map(|m| m.len()).ok();
        let mut rb = self.body_reader(tokio::fs::File::from_std(file), content_type);
        if let Some(len) = len {
            rb.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        rb
    }

    /// The statuses this request documents. A status outside them is
    /// "unexpected": the call fails with [`Error::UnexpectedStatus`] when the
    /// client raises on unexpected statuses, and otherwise returns the
    /// response with `parsed` empty.
    pub fn documented<I, S>(mut self, statuses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<StatusMatch>,
    {
        self.documented = Some(statuses.into_iter().map(Into::into).collect());
        self
    }

    /// A copy of this request, to send it again (a reconnecting event
    /// stream, the next page of a list): `None` when its body is a stream
    /// (sent once) or the request already holds an error.
    pub fn try_clone(&self) -> Option<RequestBuilder> {
        if self.error.is_some() {
            return None;
        }
        let body = match &self.body {
            PreparedBody::Bytes(b) => PreparedBody::Bytes(b.clone()),
            PreparedBody::Stream(_) => return None,
        };
        Some(RequestBuilder {
            inner: self.inner.clone(),
            auth: self.auth.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            path_params: self.path_params.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            cookies: self.cookies.clone(),
            body,
            timeout: self.timeout,
            read_timeout: self.read_timeout,
            max_response_size: self.max_response_size,
            documented: self.documented.clone(),
            weight: self.weight,
            error: None,
        })
    }

    /// A `GET` of `url` through the same client (a `Link: rel="next"` page).
    pub(crate) fn follow(&self, url: &str) -> RequestBuilder {
        RequestBuilder::new(self.inner.clone(), self.auth.clone(), Method::GET, url)
    }

    /// The resilience state of the client this request goes through (for
    /// streams that reconnect: server-sent events).
    pub(crate) fn resilience_state(&self) -> &Arc<crate::resilience::ResilienceState> {
        &self.inner.resilience
    }

    /// Builds the request once: the URL, the merged headers and the body.
    pub(crate) fn prepare(self) -> Result<Ready> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.inner.shared.ensure_open()?;
        let config = &self.inner.config;
        let url = build_url_in(
            &config.base_url,
            Some(&config.base_room),
            config.base_query.as_deref(),
            &self.path,
            &self.path_params,
            &self.query,
        )?;
        // Client headers, then the request's (a request header replaces
        // every client value of its name), in a map with room for what the
        // pipeline adds (cookie, signature headers, the transport's Host and
        // Accept-Encoding): a clone of the client's map would have none, and
        // regrowing it costs more than filling a new one. When a retry or a
        // redirect may follow, each attempt sends a copy with room of its own
        // (`pipeline::copy_with_room`), and this map needs none: a map with
        // room for a signed attempt is past malloc's small-size cache, and
        // one such allocation per attempt is enough (callgrind: ~1 000
        // instructions each).
        let room = match (self.inner.last_send_at(1), self.auth.is_some()) {
            (false, _) => 1,
            (true, true) => 8,
            (true, false) => 4,
        };
        let mut headers = if config.headers.is_empty() && self.headers.capacity() > 0 {
            self.headers
        } else {
            let mut merged =
                HeaderMap::with_capacity(config.headers.len() + self.headers.len() + room);
            for (name, value) in &config.headers {
                merged.append(name.clone(), value.clone());
            }
            let mut last = None;
            for (name, value) in self.headers {
                match name {
                    Some(name) => {
                        merged.insert(name.clone(), value);
                        last = Some(name);
                    }
                    // Another value of the previous name.
                    None => {
                        if let Some(name) = &last {
                            merged.append(name.clone(), value);
                        }
                    }
                }
            }
            merged
        };
        if self.cookies.is_empty() {
            if let Some(c) = &config.cookie_header {
                headers.insert(http::header::COOKIE, c.clone());
            }
        } else {
            let mut all = config.cookies.clone();
            for (n, v) in self.cookies {
                all.retain(|(m, _)| m != &n);
                all.push((n, v));
            }
            if let Some(c) = cookie_header(&all)? {
                headers.insert(http::header::COOKIE, c);
            }
        }
        let timeout = match self.timeout {
            Some(t) => Some(validate::duration("timeout", t, None).map_err(as_request_error)?),
            None => config.timeout,
        };
        let read_timeout = match self.read_timeout {
            Some(t) => Some(validate::duration("read timeout", t, None).map_err(as_request_error)?),
            None => config.read_timeout,
        };
        let max_response_size = self.max_response_size.unwrap_or(config.max_response_size);
        if max_response_size == 0 {
            return Err(Error::request(
                "a max_response_size of 0 would refuse every body; use a positive size",
            ));
        }
        let prepared = Prepared {
            method: self.method,
            url,
            headers,
            body: self.body,
            timeout,
            read_timeout,
            max_response_size,
            weight: self.weight,
        };
        Ok(Ready {
            inner: self.inner,
            auth: self.auth,
            prepared,
            documented: self.documented,
        })
    }

    /// Sends the request and waits for the whole response (read into
    /// memory, up to the client's `max_response_size`).
    pub fn send(self) -> impl Future<Output = Result<Response>> {
        self.send_with(|_| Ok(()))
    }

    /// Sends the request from a blocking (non-async) caller: the same
    /// pipeline as [`send`](Self::send), run on a runtime Keel owns, over
    /// the same connection pool.
    ///
    /// Fails with [`Error::BlockingInAsync`] when called inside an async
    /// runtime.
    pub fn send_blocking(self) -> Result<Response> {
        self.send_with_blocking(|_| Ok(()))
    }

    /// Sends the request and returns as soon as the response head has
    /// arrived; the body streams ([`StreamingResponse`]). Retries,
    /// redirects and the attempt timeout apply until the head arrives;
    /// the body is then bounded by the read timeout only. The documented
    /// statuses are checked as for [`send`](Self::send): with
    /// `raise_on_unexpected_status`, an undocumented status fails with
    /// [`Error::UnexpectedStatus`] (its body excerpt read from the stream).
    pub async fn send_streaming(self) -> Result<StreamingResponse> {
        let mut ready = self.prepare()?;
        let resp = driver::run(
            &ready.inner,
            ready.auth.as_deref(),
            &mut ready.prepared,
            Streaming,
        )
        .await?;
        check_streaming(&ready.inner, resp, ready.documented.as_deref()).await
    }

    /// [`send_streaming`](Self::send_streaming) for blocking callers; read
    /// the body with the `_blocking` methods of [`StreamingResponse`].
    pub fn send_streaming_blocking(self) -> Result<StreamingResponse> {
        runtime::call(self.send_streaming())?
    }

    /// Sends the request and parses the body as JSON into `T` when the status
    /// is documented (or, with no documented statuses, when it is a success).
    /// An empty body parses as JSON `null`: `()`, `Option<_>` and
    /// `serde_json::Value` accept it, other types fail with
    /// [`Error::Decode`].
    pub fn send_json<T: serde::de::DeserializeOwned>(
        self,
    ) -> impl Future<Output = Result<Response<T>>> {
        let undocumented = self.documented.is_none();
        self.send_with(move |r| parse_json_if(r, undocumented))
            .map(|r| r.map(flatten))
    }

    /// [`send_json`](Self::send_json) for blocking callers.
    pub fn send_json_blocking<T: serde::de::DeserializeOwned>(self) -> Result<Response<T>> {
        let undocumented = self.documented.is_none();
        self.send_with_blocking(move |r| parse_json_if(r, undocumented))
            .map(flatten)
    }

    /// Sends the request; `parse` turns a response with a documented status
    /// (every status, when none are documented) into `T`.
    ///
    /// The request is built (URL, headers, body checks) when this is
    /// called; nothing is sent until the future is polled.
    pub fn send_with<T, F>(self, parse: F) -> impl Future<Output = Result<Response<T>>>
    where
        F: FnOnce(&Response) -> Result<T>,
    {
        // Built here, so the future holds the prepared request once (not
        // the builder as well), and the pipeline borrows it in place.
        match self.prepare() {
            Err(e) => Either::Left(std::future::ready(Err(e))),
            Ok(mut ready) => Either::Right(async move {
                let raw = driver::run(
                    &ready.inner,
                    ready.auth.as_deref(),
                    &mut ready.prepared,
                    Buffered,
                )
                .await?;
                finish(&ready.inner, raw, ready.documented.as_deref(), parse)
            }),
        }
    }

    /// [`send_with`](Self::send_with) for blocking callers.
    pub fn send_with_blocking<T, F>(self, parse: F) -> Result<Response<T>>
    where
        F: FnOnce(&Response) -> Result<T>,
    {
        let Ready {
            inner,
            auth,
            prepared,
            documented,
        } = self.prepare()?;
        let task_inner = inner.clone();
        let raw = runtime::call(async move {
            let mut prepared = prepared;
            driver::run(&task_inner, auth.as_deref(), &mut prepared, Buffered).await
        })??;
        finish(&inner, raw, documented.as_deref(), parse)
    }
}

/// A request built and checked, ready for the driver.
pub(crate) struct Ready {
    inner: Arc<Inner>,
    auth: Option<Arc<Auth>>,
    prepared: Prepared,
    documented: Option<Vec<StatusMatch>>,
}

/// A per-request setting's error is about the request, not the client.
fn as_request_error(e: Error) -> Error {
    match e {
        Error::InvalidConfig(m) => Error::InvalidRequest(m),
        e => e,
    }
}

/// Applies the documented statuses to a streamed response.
async fn check_streaming(
    inner: &Inner,
    mut resp: StreamingResponse,
    documented: Option<&[StatusMatch]>,
) -> Result<StreamingResponse> {
    let expected = documented.is_none_or(|d| d.iter().any(|m| m.matches(resp.status)));
    if expected || !inner.config.raise_on_unexpected_status {
        return Ok(resp);
    }
    // Read a little of the body for the error's excerpt, no more.
    let mut excerpt = Vec::new();
    while excerpt.len() < 512 {
        match resp.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            _ => break,
        }
    }
    Err(Error::unexpected_status(resp.status, resp.url(), &excerpt))
}

fn parse_json_if<T: serde::de::DeserializeOwned>(r: &Response, all: bool) -> Result<Option<T>> {
    if all && !r.status.is_success() {
        return Ok(None);
    }
    if r.content.iter().all(u8::is_ascii_whitespace) {
        // No body (204, or a 200 without content): parse it as JSON `null`,
        // so `()`, `Option<_>` and `serde_json::Value` work, and a type
        // that needs content still fails to decode.
        return serde_json::from_slice(b"null")
            .map(Some)
            .map_err(|e| Error::Decode {
                status: r.status,
                message: format!("the response has no body: {e}"),
            });
    }
    r.json().map(Some)
}

fn flatten<T>(r: Response<Option<T>>) -> Response<T> {
    r.map(|p| p.flatten())
}

/// Applies the documented statuses and the parser to a raw response.
fn finish<T, F>(
    inner: &Inner,
    raw: Response,
    documented: Option<&[StatusMatch]>,
    parse: F,
) -> Result<Response<T>>
where
    F: FnOnce(&Response) -> Result<T>,
{
    let expected = documented.is_none_or(|d| d.iter().any(|m| m.matches(raw.status)));
    if !expected {
        if inner.config.raise_on_unexpected_status {
            return Err(Error::unexpected_status(
                raw.status,
                raw.url(),
                &raw.content,
            ));
        }
        return Ok(raw.map(|_| None));
    }
    let parsed = parse(&raw)?;
    Ok(raw.map(|_| Some(parsed)))
}

/// `path` as it may be shown in an error message: without its query string
/// (which may hold keys or signatures) or fragment.
fn shown_path(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or_default()
}

/// Whether `path` is an absolute `http(s)://` URL (scheme in any case).
fn is_absolute(path: &str) -> bool {
    // Compared in place: this runs on every request.
    path.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
        || path
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
}

/// Joins the base URL and a path (template), then appends the query.
///
/// The base has no trailing slash (see `config::parse_base_url`); the path
/// gets exactly one leading slash, so neither doubled nor lost slashes reach
/// the server. Path parameters are already percent-encoded; a parameter that
/// is a dot segment (`.` or `..`) is refused, since URL normalisation would
/// resolve it and the request would go to another resource.
///
/// `base_url` is the base URL parsed once, when the client was built: the
/// result is the URL a full parse of the joined text gives (fragment
/// dropped), but the base's scheme and host are not parsed again on every
/// request; the path and query are set on a clone of it.
#[doc(hidden)]
pub fn build_url(
    base_url: &Url,
    base_query: Option<&str>,
    path: &str,
    path_params: &[(String, String)],
    query: &[(String, String)],
) -> Result<Url> {
    build_url_in(base_url, None, base_query, path, path_params, query)
}

/// `base` with a placeholder path long enough for most request paths (see
/// [`build_url_in`]).
pub(crate) fn url_with_room(base: &Url) -> Url {
    let mut room = base.clone();
    let mut path = String::with_capacity(base.path().len() + 97);
    path.push_str(base.path().trim_end_matches('/'));
    path.push('/');
    path.extend(std::iter::repeat_n('_', 96));
    room.set_path(&path);
    room
}

/// [`build_url`], starting from `room` when given: the base URL with a
/// long placeholder path, so that its clone has room for the request's
/// path and setting it does not grow the URL's text again.
pub(crate) fn build_url_in(
    base_url: &Url,
    room: Option<&Url>,
    base_query: Option<&str>,
    path: &str,
    path_params: &[(String, String)],
    query: &[(String, String)],
) -> Result<Url> {
    let path = substitute_path_params(path, path_params)?;
    let mut url = if is_absolute(&path) {
        Url::parse(&path).map_err(|e| {
            Error::request(format!("{:?} is not a valid URL: {e}", shown_path(&path)))
        })?
    } else {
        join_base(base_url, room, base_query, &path)
    };
    if url.fragment().is_some() {
        url.set_fragment(None);
    }
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    Ok(url)
}

/// Replaces every `{name}` with its (already encoded) value, and fails on a
/// parameter that is not in the template, is a dot segment, or a placeholder
/// left unfilled.
fn substitute_path_params<'p>(
    path: &'p str,
    path_params: &[(String, String)],
) -> Result<std::borrow::Cow<'p, str>> {
    let mut path = std::borrow::Cow::Borrowed(path);
    for (name, value) in path_params {
        let token = format!("{{{name}}}");
        if !path.contains(&token) {
            return Err(Error::request(format!(
                "path parameter {name:?} does not appear as {token} in the path {:?}",
                shown_path(&path)
            )));
        }
        if value == "." || value == ".." {
            return Err(Error::request(format!(
                "path parameter {name:?} is the dot segment {value:?}, which URL normalisation would resolve to another path; refusing to send it"
            )));
        }
        path = std::borrow::Cow::Owned(path.replace(&token, value));
    }
    if !path.as_bytes().contains(&b'{') {
        return Ok(path);
    }
    let template = shown_path(&path);
    if let Some(open) = template.find('{') {
        let rest = &template[open..];
        if let Some(close) = rest.find('}') {
            return Err(Error::request(format!(
                "path parameter {} was not given; call .path_param(\"{}\", value)",
                &rest[..=close],
                &rest[1..close]
            )));
        }
    }
    Ok(path)
}

/// `base_url` (path without trailing slash) joined with a relative `path`
/// that may carry a query: the same URL a full parse of the joined text
/// gives, fragment dropped. The setters run the same path and query parsers
/// (percent-encoding, dot segments, tab/newline removal) as a full parse.
fn join_base(base_url: &Url, room: Option<&Url>, base_query: Option<&str>, path: &str) -> Url {
    // Exactly one slash between the base and the path (none before a bare
    // query or fragment).
    let original = path;
    let path = path.trim_start_matches('/');
    let sep = !path.is_empty() && !path.starts_with(['?', '#']);
    // A full parse trims C0 controls and spaces from the end of its input.
    let path = path.trim_end_matches(|c: char| c <= ' ');
    // One pass for the first '?' and the first '#' (request paths are short).
    let mut question = None;
    let mut end = path.len();
    for (i, b) in path.bytes().enumerate() {
        match b {
            b'?' if question.is_none() => question = Some(i),
            b'#' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let (path, query) = match question {
        Some(q) => (&path[..q], Some(&path[q + 1..end])),
        None => (&path[..end], None),
    };
    let base_path = base_url.path().trim_end_matches('/');
    let mut url = room.unwrap_or(base_url).clone();
    if base_path.is_empty() && sep && original.len() - original.trim_start_matches('/').len() == 1 {
        // "/path" is the request's own text when it has exactly one leading
        // slash: set without a copy.
        url.set_path(&original[..1 + path.len()]);
    } else if sep || !path.is_empty() {
        let mut full = String::with_capacity(base_path.len() + 1 + path.len());
        full.push_str(base_path);
        if sep {
            full.push('/');
        }
        full.push_str(path);
        url.set_path(&full);
    } else if room.is_some() || base_path.len() != base_url.path().len() {
        url.set_path(base_path);
    }
    // A query that is only tabs and newlines is empty once parsed.
    let has_query = query.is_some_and(|q| q.chars().any(|c| !matches!(c, '\t' | '\n' | '\r')));
    match (base_query, query) {
        (Some(bq), Some(q)) if has_query => {
            let mut merged = String::with_capacity(bq.len() + 1 + q.len());
            merged.push_str(bq);
            merged.push('&');
            merged.push_str(q);
            url.set_query(Some(&merged));
        }
        (Some(bq), _) => url.set_query(Some(bq)),
        (None, Some(q)) => url.set_query(Some(q)),
        (None, None) => {}
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The previous implementation: parse the joined text in full. The fast
    /// path must give the same URL for every input.
    fn build_url_by_parsing(
        base: &str,
        base_query: Option<&str>,
        path: &str,
    ) -> std::result::Result<Url, url::ParseError> {
        let rel = path.trim_start_matches('/');
        let mut s = String::new();
        s.push_str(base);
        if !rel.is_empty() && !rel.starts_with(['?', '#']) {
            s.push('/');
        }
        s.push_str(rel);
        let mut url = Url::parse(&s)?;
        if let Some(bq) = base_query {
            let merged = match url.query() {
                Some(q) if !q.is_empty() => format!("{bq}&{q}"),
                _ => bq.to_owned(),
            };
            url.set_query(Some(&merged));
        }
        url.set_fragment(None);
        Ok(url)
    }

    #[test]
    fn joining_on_the_parsed_base_matches_a_full_parse() {
        let bases = [
            "http://127.0.0.1:8080",
            "https://api.example.com/v1",
            "https://api.example.com/v1/",
            "http://[::1]:9000/a%20b/c",
            "https://EXAMPLE.com/x/y?tenant=7",
            "https://example.com?k=v&w",
        ];
        let paths = [
            "",
            "/",
            "/bench",
            "bench",
            "items/42",
            "/items/42?x=1&y=%20z",
            "?only=query",
            "?",
            "/a?",
            "/a?\t",
            "/a b/c d?e f=g h",
            "/a/../b/./c",
            "/%2e%2E/x",
            "..",
            "/a\\b",
            "//double//slash",
            "///triple",
            "//?q",
            "/#f",
            "/tab\tin\npath",
            "/frag#ment",
            "/q?x=1#frag?y",
            "#only-fragment",
            "/trailing   ",
            "   ",
            "/ünïcödé/€?q=ü",
            "/pct%41%zz?q=%41%zz",
            "/semi;colon:at@excl!dollar$",
            "/q?a=[b]{c|d^e`f'g\"h<i>j",
            "/%",
            "/a%2fb%2F",
            "/a?b?c",
            "/a?b#c#d",
            "./x",
            "\\\\?x",
            "/cr\rlf\n?\r\n",
            "/a?\u{0}\u{1f}",
            "\u{7f}/del",
        ];
        for base in bases {
            let parsed_base = crate::validate::parse_base_url(base).unwrap();
            let base_url = Url::parse(&parsed_base.0).unwrap();
            for path in paths {
                let expected =
                    build_url_by_parsing(&parsed_base.0, parsed_base.1.as_deref(), path).unwrap();
                let got = build_url(&base_url, parsed_base.1.as_deref(), path, &[], &[]).unwrap();
                assert_eq!(
                    got.as_str(),
                    expected.as_str(),
                    "base {base:?} path {path:?}"
                );
                let room = url_with_room(&base_url);
                let got = build_url_in(
                    &base_url,
                    Some(&room),
                    parsed_base.1.as_deref(),
                    path,
                    &[],
                    &[],
                )
                .unwrap();
                assert_eq!(
                    got.as_str(),
                    expected.as_str(),
                    "base {base:?} path {path:?}, from the URL with room"
                );
            }
        }
    }

    #[test]
    fn absolute_urls_params_and_query_pairs() {
        let base = Url::parse("https://api.example.com/v1").unwrap();
        let url = build_url(
            &base,
            None,
            "/items/{id}",
            &[("id".into(), encode_path_segment("a b/c"))],
            &[("q".into(), "x y&z".into())],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v1/items/a%20b%2Fc?q=x+y%26z"
        );
        let abs = build_url(&base, Some("k=v"), "http://other.test/p#f", &[], &[]).unwrap();
        assert_eq!(abs.as_str(), "http://other.test/p");
        let upper = build_url(&base, None, "HTTPS://Other.test/x", &[], &[]).unwrap();
        assert_eq!(upper.as_str(), "https://other.test/x");
        let err = build_url(&base, None, "/items/{id}", &[], &[]).unwrap_err();
        assert!(err.to_string().contains("{id}"), "{err}");
    }
}
