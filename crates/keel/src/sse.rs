//! Server-sent events (`text/event-stream`): an incremental parser that
//! follows the WHATWG rules, typed events, a terminator (`[DONE]`), and a
//! stream that reconnects with `Last-Event-ID`.
//!
//! [`EventSource`] opens the stream through a client (so headers, signing,
//! TLS, the attempt timeout, retries of the connection, the circuit breaker
//! and the rate limit all apply to every connection) and yields
//! [`Event`]s as they arrive. When the connection drops in the middle of
//! the stream it reconnects, after the server's `retry:` time (or the
//! configured one), sending the id of the last event it saw as
//! `Last-Event-ID`, so a server that honours it resumes after that event:
//! no event is lost or repeated. Reconnections are paid for from the
//! client's retry budget, stop when the resilience deadline would pass, and
//! are bounded in number ([`EventSourceBuilder::max_reconnects`]). A stream
//! the server ends cleanly, an event whose data is the terminator, and a
//! `204 No Content` answer end the stream and are never reconnected.
//!
//! ```no_run
//! # async fn run(client: keel::HttpClient) -> keel::Result<()> {
//! #[derive(serde::Deserialize)]
//! struct Tick { n: u64 }
//!
//! let mut events = keel::sse::EventSource::get(&client, "/sse/ticks").connect();
//! while let Some(event) = events.next().await? {
//!     let tick: Tick = event.json()?;
//!     println!("{} #{:?}: {}", event.event, event.id, tick.n);
//! }
//! # Ok(()) }
//! ```
//!
//! Blocking callers iterate: `for event in source.connect().blocking() { .. }`.
//!
//! The parser ([`EventParser`]) is sans-I/O: feed it bytes in any chunking
//! and it returns the complete events.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::client::{AuthState, Client};
use crate::error::{Error, Result};
use crate::request::RequestBuilder;
use crate::resilience::ResilienceState;
use crate::response::StreamingResponse;
use crate::transport::runtime;

/// The reconnection time used until the server sends `retry:` (3 s, as
/// browsers do).
pub const DEFAULT_RETRY: Duration = Duration::from_secs(3);

/// How many reconnections in a row (without an event in between) a stream
/// makes before it gives up, unless configured.
pub const DEFAULT_MAX_RECONNECTS: u32 = 10;

/// The terminator used unless configured: an event whose data is `[DONE]`
/// ends the stream (the convention of OpenAI-style streaming APIs).
pub const DEFAULT_TERMINATOR: &str = "[DONE]";

/// The longest line the parser buffers (1 MiB): a longer one is an error,
/// not unbounded memory.
pub const MAX_LINE: usize = 1 << 20;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// The event type: the `event:` field, `"message"` when none was sent.
    pub event: String,
    /// The data: the `data:` lines joined with `\n`.
    pub data: String,
    /// The last event id at the time of this event (the `id:` field of this
    /// event or of an earlier one), if any; what a reconnection sends as
    /// `Last-Event-ID`.
    pub id: Option<String>,
}

impl Event {
    /// The data parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.data).map_err(|e| Error::Decode {
            status: http::StatusCode::OK,
            message: format!(
                "server-sent event {:?}{} is not the expected JSON: {e}",
                self.event,
                self.id
                    .as_deref()
                    .map(|id| format!(" (id {id:?})"))
                    .unwrap_or_default()
            ),
        })
    }
}

/// An event whose data was parsed into `T` (see [`EventStream::typed`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TypedEvent<T> {
    /// The event type (`"message"` when none was sent).
    pub event: String,
    /// The data, parsed.
    pub data: T,
    /// The last event id at the time of this event.
    pub id: Option<String>,
}

/// What one `feed` of the parser produced besides events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ParserUpdate {
    /// A `retry:` field with a valid value was seen (the latest one).
    pub retry: Option<Duration>,
}

/// The `text/event-stream` parser of the WHATWG HTML standard
/// (§9.2.6), incremental: bytes in any chunking, events out.
///
/// - lines end with CRLF, LF or CR (a CR at the end of one chunk and an
///   LF at the start of the next are one line end);
/// - a leading UTF-8 byte order mark is skipped; invalid UTF-8 becomes
///   U+FFFD;
/// - `data:` lines accumulate (joined with `\n`), `event:` sets the type,
///   `id:` the last event id (ignored when it contains NUL), `retry:` the
///   reconnection time (digits only), lines starting with `:` are
///   comments, other fields are ignored, one space after the colon is
///   dropped;
/// - a blank line dispatches the event, unless it has no data;
/// - at the end of the stream a partial event (or line) is discarded.
///
/// ```
/// let mut p = keel::sse::EventParser::new();
/// let mut events = Vec::new();
/// p.feed(b"event: greeting\ndata: hel", &mut events);
/// p.feed(b"lo\ndata: world\r\n\r\n", &mut events);
/// assert_eq!(events[0].event, "greeting");
/// assert_eq!(events[0].data, "hello\nworld");
/// ```
#[derive(Debug, Clone)]
pub struct EventParser {
    line: Vec<u8>,
    started: bool,
    after_cr: bool,
    event_type: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    too_long: bool,
}

impl Default for EventParser {
    fn default() -> Self {
        Self::new()
    }
}

impl EventParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        EventParser {
            line: Vec::new(),
            started: false,
            after_cr: false,
            event_type: String::new(),
            data: String::new(),
            has_data: false,
            last_id: None,
            too_long: false,
        }
    }

    /// The last event id seen (kept across [`reset_connection`](Self::reset_connection)).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Sets the last event id (to resume a stream from a known event).
    pub fn set_last_event_id(&mut self, id: Option<String>) {
        self.last_id = id;
    }

    /// Forgets the partial line and event of a connection that ended; the
    /// last event id stays (a new connection starts a new stream, BOM
    /// included).
    pub fn reset_connection(&mut self) {
        self.line.clear();
        self.started = false;
        self.after_cr = false;
        self.event_type.clear();
        self.data.clear();
        self.has_data = false;
        self.too_long = false;
    }

    /// Whether a line longer than [`MAX_LINE`] was refused (the stream is
    /// then broken).
    pub fn overflowed(&self) -> bool {
        self.too_long
    }

    /// Feeds bytes; complete events are appended to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Event>) -> ParserUpdate {
        let mut update = ParserUpdate::default();
        if !self.started {
            // The BOM may itself arrive split across chunks.
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let have = self.line.len();
            let want = BOM.len() - have;
            let n = want.min(bytes.len());
            if BOM[have..have + n] == bytes[..n] {
                if have + n == BOM.len() {
                    self.line.clear();
                    self.started = true;
                    bytes = &bytes[n..];
                } else {
                    self.line.extend_from_slice(&bytes[..n]);
                    return update;
                }
            } else {
                // Not a BOM: what was held back is the start of a line.
                self.started = true;
            }
        }
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.push_line_part(&bytes[..i]);
                    if bytes[i] == b'\r' {
                        self.after_cr = true;
                    }
                    bytes = &bytes[i + 1..];
                    let line = std::mem::take(&mut self.line);
                    if !self.too_long {
                        self.process_line(&line, out, &mut update);
                    }
                    self.line = line;
                    self.line.clear();
                }
                None => {
                    self.push_line_part(bytes);
                    bytes = &[];
                }
            }
        }
        update
    }

    fn push_line_part(&mut self, part: &[u8]) {
        if self.line.len() + part.len() > MAX_LINE {
            self.too_long = true;
            return;
        }
        self.line.extend_from_slice(part);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<Event>, update: &mut ParserUpdate) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.event_type = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"id" if !value.contains(&0) => {
                self.last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Ok(ms) = std::str::from_utf8(value).unwrap_or("").parse::<u64>() {
                    update.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let event_type = std::mem::take(&mut self.event_type);
        if !self.has_data {
            self.data.clear();
            return;
        }
        self.has_data = false;
        out.push(Event {
            event: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone().filter(|id| !id.is_empty()),
        });
    }
}

type MakeRequest = Arc<dyn Fn() -> Result<RequestBuilder> + Send + Sync>;

/// Describes a server-sent event stream to open; [`connect`](Self::connect)
/// returns the [`EventStream`]. See the [module documentation](self).
pub struct EventSource {
    make: MakeRequest,
    terminator: Option<String>,
    retry: Duration,
    max_reconnects: u32,
    reconnect: bool,
    last_event_id: Option<String>,
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("terminator", &self.terminator)
            .field("retry", &self.retry)
            .field("max_reconnects", &self.max_reconnects)
            .field("reconnect", &self.reconnect)
            .finish_non_exhaustive()
    }
}

/// The builder of an [`EventSource`] is the source itself: its methods
/// take and return it.
pub type EventSourceBuilder = EventSource;

impl EventSource {
    /// A source whose every connection is the request `make` builds (called
    /// again for each reconnection; Keel adds `Accept: text/event-stream`
    /// and `Last-Event-ID`).
    ///
    /// ```no_run
    /// # fn run(client: keel::HttpClient) {
    /// let c = client.clone();
    /// let source = keel::sse::EventSource::new(move || c.post("/chat").json(&"hi"));
    /// # let _ = source; }
    /// ```
    pub fn new(make: impl Fn() -> RequestBuilder + Send + Sync + 'static) -> Self {
        Self::with_factory(Arc::new(move || Ok(make())))
    }

    /// A source whose every connection is a copy of `request` (what
    /// generated clients use). Fails when the request cannot be sent again
    /// (a streaming body).
    pub fn from_request(request: RequestBuilder) -> Result<Self> {
        if request.try_clone().is_none() {
            // The request's own error, if any, is reported when it is sent.
            return Err(Error::request(
                "an event stream's request must be re-sendable to reconnect (a streaming body is sent once); give the body as bytes",
            ));
        }
        let template = std::sync::Mutex::new(request);
        Ok(Self::with_factory(Arc::new(move || {
            template
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .try_clone()
                .ok_or_else(|| Error::request("the event stream's request cannot be re-sent"))
        })))
    }

    fn with_factory(make: MakeRequest) -> Self {
        EventSource {
            make,
            terminator: Some(DEFAULT_TERMINATOR.to_owned()),
            retry: DEFAULT_RETRY,
            max_reconnects: DEFAULT_MAX_RECONNECTS,
            reconnect: true,
            last_event_id: None,
        }
    }

    /// A source that GETs `path` through `client`.
    pub fn get<A: AuthState>(client: &Client<A>, path: &str) -> Self {
        let client = client.clone();
        let path = path.to_owned();
        Self::new(move || client.get(&path))
    }

    /// An event whose data is exactly `terminator` ends the stream (default
    /// [`DEFAULT_TERMINATOR`], `[DONE]`); it is not yielded.
    pub fn terminator(mut self, terminator: impl Into<String>) -> Self {
        self.terminator = Some(terminator.into());
        self
    }

    /// No terminator: every event is yielded.
    pub fn no_terminator(mut self) -> Self {
        self.terminator = None;
        self
    }

    /// The reconnection time until the server sends `retry:` (default
    /// [`DEFAULT_RETRY`]).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// How many reconnections in a row, without an event between them, are
    /// made before the stream fails (default [`DEFAULT_MAX_RECONNECTS`]).
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.max_reconnects = n;
        self
    }

    /// Whether a dropped connection is reconnected at all (default yes).
    pub fn reconnect(mut self, on: bool) -> Self {
        self.reconnect = on;
        self
    }

    /// Resumes after the event with this id (sent as `Last-Event-ID` on the
    /// first connection too).
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// The stream with each event's data parsed as JSON into `T`.
    pub fn connect_typed<T: DeserializeOwned>(self) -> TypedEventStream<T> {
        TypedEventStream {
            inner: self.connect(),
            _data: std::marker::PhantomData,
        }
    }

    /// The stream; nothing is sent until the first
    /// [`next`](EventStream::next).
    pub fn connect(self) -> EventStream {
        let mut parser = EventParser::new();
        parser.set_last_event_id(self.last_event_id.clone());
        EventStream {
            source: self,
            parser,
            conn: None,
            resilience: None,
            queue: VecDeque::new(),
            server_retry: None,
            state: State::Start,
            failures: 0,
            reconnects: 0,
            connections: 0,
            last_error: None,
            dropped_at: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No connection made yet.
    Start,
    /// Reading a connection.
    Open,
    /// The connection dropped: reconnect next.
    Dropped,
    /// Ended (cleanly, by the terminator, 204, or an error returned).
    Done,
}

/// A stream of server-sent events, reconnecting as its [`EventSource`]
/// says. Read it with [`next`](Self::next) (async), [`into_stream`](Self::into_stream)
/// (a `futures` stream), or [`blocking`](Self::blocking) (an iterator for
/// blocking callers).
pub struct EventStream {
    source: EventSource,
    parser: EventParser,
    conn: Option<StreamingResponse>,
    resilience: Option<Arc<ResilienceState>>,
    queue: VecDeque<Event>,
    server_retry: Option<Duration>,
    state: State,
    failures: u32,
    reconnects: u32,
    connections: u32,
    last_error: Option<Error>,
    dropped_at: Option<Instant>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("state", &self.state)
            .field("last_event_id", &self.parser.last_event_id())
            .field("retry", &self.retry_time())
            .field("connections", &self.connections)
            .field("reconnects", &self.reconnects)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// The id of the last event seen (what a reconnection sends).
    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.last_event_id()
    }

    /// The current reconnection time: the server's last `retry:`, or the
    /// configured one.
    pub fn retry_time(&self) -> Duration {
        self.server_retry.unwrap_or(self.source.retry)
    }

    /// How many connections were opened (1 without reconnections).
    pub fn connections(&self) -> u32 {
        self.connections
    }

    /// How many times the stream reconnected.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// The next event, or `None` when the stream has ended.
    pub async fn next(&mut self) -> Result<Option<Event>> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            match self.state {
                State::Done => return Ok(None),
                State::Start => self.open(false).await?,
                State::Dropped => self.open(true).await?,
                State::Open => self.read().await?,
            }
        }
    }

    /// Reads one chunk of the open connection into the queue.
    async fn read(&mut self) -> Result<()> {
        let Some(conn) = self.conn.as_mut() else {
            self.state = State::Dropped;
            return Ok(());
        };
        match conn.chunk().await {
            Ok(Some(bytes)) => self.parse(&bytes),
            Ok(None) => {
                // A clean end: the server finished the stream. Not
                // reconnected; a partial event is discarded.
                self.finish();
                Ok(())
            }
            Err(e) => {
                tracing::debug!(error = %e, last_event_id = ?self.parser.last_event_id(), "event stream dropped");
                self.conn = None;
                self.parser.reset_connection();
                self.last_error = Some(e);
                self.dropped_at = Some(Instant::now());
                self.state = State::Dropped;
                Ok(())
            }
        }
    }

    fn finish(&mut self) {
        self.conn = None;
        self.state = State::Done;
    }

    fn parse(&mut self, bytes: &Bytes) -> Result<()> {
        let mut events = Vec::new();
        let update = self.parser.feed(bytes, &mut events);
        if self.parser.overflowed() {
            self.finish();
            return Err(Error::Decode {
                status: http::StatusCode::OK,
                message: format!(
                    "a server-sent event line is longer than {MAX_LINE} bytes; is this an event stream?"
                ),
            });
        }
        if let Some(r) = update.retry {
            self.server_retry = Some(r);
        }
        if !events.is_empty() {
            self.failures = 0;
            self.dropped_at = None;
        }
        for event in events {
            if self
                .source
                .terminator
                .as_deref()
                .is_some_and(|t| event.data == t)
            {
                self.finish();
                return Ok(());
            }
            self.queue.push_back(event);
        }
        Ok(())
    }

    /// Opens a connection; for a reconnection, first checks the bounds and
    /// waits the reconnection time.
    async fn open(&mut self, reconnecting: bool) -> Result<()> {
        if reconnecting {
            let wait = self.reconnect_wait().await?;
            tracing::debug!(?wait, attempt = self.failures, last_event_id = ?self.parser.last_event_id(), "reconnecting event stream");
            tokio::time::sleep(wait).await;
            self.reconnects += 1;
        }
        let mut request = match (self.source.make)() {
            Ok(r) => r.header("Accept", "text/event-stream"),
            Err(e) => {
                self.state = State::Done;
                return Err(e);
            }
        };
        if let Some(id) = self.parser.last_event_id().filter(|id| !id.is_empty()) {
            request = request.header("Last-Event-ID", id);
        }
        if self.resilience.is_none() {
            self.resilience = Some(request.resilience_state().clone());
        }
        self.connections += 1;
        let resp = match request.send_streaming().await {
            Ok(resp) => resp,
            Err(e) if reconnecting && is_connection_failure(&e) => {
                self.last_error = Some(e);
                self.state = State::Dropped;
                return Ok(());
            }
            Err(e) => {
                self.state = State::Done;
                return Err(e);
            }
        };
        if resp.status == http::StatusCode::NO_CONTENT {
            // The server asks the client to stop.
            self.finish();
            return Ok(());
        }
        if !resp.status.is_success() {
            self.state = State::Done;
            let status = resp.status;
            let url = resp.url().clone();
            let mut excerpt = Vec::new();
            let mut resp = resp;
            while excerpt.len() < 512 {
                match resp.chunk().await {
                    Ok(Some(c)) => excerpt.extend_from_slice(&c),
                    _ => break,
                }
            }
            return Err(Error::unexpected_status(status, &url, &excerpt));
        }
        let content_type = resp.header("content-type").unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("text/event-stream") {
            self.state = State::Done;
            return Err(Error::Decode {
                status: resp.status,
                message: format!(
                    "expected an event stream (Content-Type: text/event-stream) from {}, got {:?}",
                    crate::error::display_url(resp.url()),
                    content_type
                ),
            });
        }
        self.parser.reset_connection();
        self.conn = Some(resp);
        self.state = State::Open;
        Ok(())
    }

    /// How long to wait before the next reconnection, or why not to.
    async fn reconnect_wait(&mut self) -> Result<Duration> {
        let last = self.last_error.take();
        let give_up = |last: Option<Error>, attempts: u32| match last {
            Some(e) => Error::RetriesExhausted {
                attempts,
                last: Box::new(e),
            },
            None => Error::request("the event stream ended and may not reconnect"),
        };
        if !self.source.reconnect || self.failures >= self.source.max_reconnects {
            self.state = State::Done;
            return Err(give_up(last, self.failures + 1));
        }
        self.failures += 1;
        let resilience = self.resilience.clone();
        let mut wait = self.retry_time();
        if let Some(r) = &resilience {
            let config = r.config();
            if self.failures > 1 {
                // Failed reconnections back off, never below `retry:`.
                wait = wait.max(config.backoff().delay(self.failures - 1, fastrand::f64()));
            }
            if let (Some(deadline), Some(dropped)) = (config.deadline(), self.dropped_at) {
                if dropped.elapsed() + wait >= deadline {
                    self.state = State::Done;
                    return Err(Error::DeadlineExceeded {
                        deadline,
                        attempts: self.failures,
                        last: last.map(Box::new),
                    });
                }
            }
            if !r.withdraw_reconnect().await {
                self.state = State::Done;
                return Err(give_up(last, self.failures));
            }
        }
        self.last_error = last;
        Ok(wait)
    }

    /// The next event, for blocking callers (outside an async runtime).
    pub fn next_blocking(&mut self) -> Result<Option<Event>> {
        runtime::block_on(self.next())?
    }

    /// The events as an iterator for blocking callers; it ends after the
    /// first error.
    pub fn blocking(self) -> BlockingEvents {
        BlockingEvents {
            stream: self,
            failed: false,
        }
    }

    /// The events as a `futures` stream; it ends after the first error.
    pub fn into_stream(self) -> impl futures_core::Stream<Item = Result<Event>> + Send {
        futures_util::stream::unfold(Some(self), |s| async move {
            let mut s = s?;
            match s.next().await {
                Ok(Some(e)) => Some((Ok(e), Some(s))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// The events with their data parsed as JSON into `T`, as a `futures`
    /// stream; it ends after the first error (a decode error included).
    pub fn typed<T: DeserializeOwned + Send + 'static>(
        self,
    ) -> impl futures_core::Stream<Item = Result<TypedEvent<T>>> + Send {
        futures_util::StreamExt::map(self.into_stream(), |e| e.and_then(typed_event))
    }

    /// The next event with its data parsed as JSON into `T`.
    pub async fn next_typed<T: DeserializeOwned>(&mut self) -> Result<Option<TypedEvent<T>>> {
        match self.next().await? {
            Some(e) => typed_event(e).map(Some),
            None => Ok(None),
        }
    }

    /// [`next_typed`](Self::next_typed) for blocking callers.
    pub fn next_typed_blocking<T: DeserializeOwned>(&mut self) -> Result<Option<TypedEvent<T>>> {
        match self.next_blocking()? {
            Some(e) => typed_event(e).map(Some),
            None => Ok(None),
        }
    }
}

/// An [`EventStream`] whose events' data is parsed as JSON into `T` (see
/// [`EventSource::connect_typed`]; what generated clients return).
pub struct TypedEventStream<T> {
    inner: EventStream,
    _data: std::marker::PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for TypedEventStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TypedEventStream")
            .field(&self.inner)
            .finish()
    }
}

impl<T: DeserializeOwned> TypedEventStream<T> {
    /// The next event, parsed; `None` when the stream has ended.
    pub async fn next(&mut self) -> Result<Option<TypedEvent<T>>> {
        self.inner.next_typed().await
    }

    /// [`next`](Self::next) for blocking callers.
    pub fn next_blocking(&mut self) -> Result<Option<TypedEvent<T>>> {
        self.inner.next_typed_blocking()
    }

    /// The untyped stream underneath (its counters and last event id).
    pub fn inner(&self) -> &EventStream {
        &self.inner
    }

    /// The untyped stream.
    pub fn into_inner(self) -> EventStream {
        self.inner
    }
}

fn typed_event<T: DeserializeOwned>(e: Event) -> Result<TypedEvent<T>> {
    let data = e.json()?;
    Ok(TypedEvent {
        event: e.event,
        data,
        id: e.id,
    })
}

/// A failure to reach the server or a connection lost: worth another
/// reconnection (a status, a TLS or DNS failure, an open breaker is not).
fn is_connection_failure(e: &Error) -> bool {
    match e {
        Error::Connect { kind, .. } => kind.is_retryable(),
        Error::Transport { .. } | Error::Timeout { .. } | Error::ReadTimeout { .. } => true,
        Error::RetriesExhausted { last, .. } => is_connection_failure(last),
        _ => false,
    }
}

/// The events of an [`EventStream`] for blocking callers; see
/// [`EventStream::blocking`].
#[derive(Debug)]
pub struct BlockingEvents {
    stream: EventStream,
    failed: bool,
}

impl BlockingEvents {
    /// The stream (for its counters and last event id).
    pub fn stream(&self) -> &EventStream {
        &self.stream
    }
}

impl Iterator for BlockingEvents {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Result<Event>> {
        if self.failed {
            return None;
        }
        match self.stream.next_blocking() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Event>, ParserUpdate, EventParser) {
        let mut p = EventParser::new();
        let mut out = Vec::new();
        let mut last = ParserUpdate::default();
        for c in chunks {
            let u = p.feed(c, &mut out);
            if u.retry.is_some() {
                last = u;
            }
        }
        (out, last, p)
    }

    /// Every split of `input` into two chunks, and byte by byte, gives the
    /// same events as one chunk.
    fn all_splits(input: &[u8]) -> Vec<Event> {
        let (whole, _, _) = parse_chunks(&[input]);
        for i in 0..=input.len() {
            let (split, _, _) = parse_chunks(&[&input[..i], &input[i..]]);
            assert_eq!(
                split,
                whole,
                "split at {i} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let (single, _, _) = parse_chunks(&bytes);
        assert_eq!(single, whole, "byte by byte");
        whole
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    #[test]
    fn multi_line_data_event_type_and_id() {
        let got = all_splits(b"event: add\ndata: a\ndata:b\ndata\nid: 7\n\ndata: next\n\n");
        assert_eq!(
            got,
            vec![
                ev("add", "a\nb\n", Some("7")),
                ev("message", "next", Some("7"))
            ]
        );
    }

    #[test]
    fn cr_lf_and_crlf_line_ends() {
        for input in [
            &b"data: x\r\n\r\ndata: y\r\n\r\n"[..],
            b"data: x\r\rdata: y\r\r",
            b"data: x\n\ndata: y\n\n",
            b"data: x\r\n\ndata: y\r\r\n",
        ] {
            assert_eq!(
                all_splits(input),
                vec![ev("message", "x", None), ev("message", "y", None)],
                "{input:?}"
            );
        }
    }

    #[test]
    fn comments_unknown_fields_and_spaces() {
        let got = all_splits(
            b": a comment\n:\nfoo: bar\ndata:  two spaces\ndata:no space\n\n:only comment\n\n",
        );
        assert_eq!(got, vec![ev("message", " two spaces\nno space", None)]);
    }

    #[test]
    fn empty_data_is_dispatched_and_no_data_is_not() {
        let got = all_splits(b"event: e\n\ndata\n\ndata:\ndata:\n\n");
        // `event: e` without data is dropped (and its type with it).
        assert_eq!(
            got,
            vec![ev("message", "", None), ev("message", "\n", None)]
        );
    }

    #[test]
    fn retry_needs_digits_only() {
        let (_, u, _) = parse_chunks(&[b"retry: 1500\n\n"]);
        assert_eq!(u.retry, Some(Duration::from_millis(1500)));
        for bad in [
            &b"retry: 15x\n"[..],
            b"retry: -1\n",
            b"retry:\n",
            b"retry: 1.5\n",
        ] {
            let (_, u, _) = parse_chunks(&[bad]);
            assert_eq!(u.retry, None, "{bad:?}");
        }
    }

    #[test]
    fn id_with_nul_is_ignored_and_empty_id_resets() {
        let got = all_splits(b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\nid\ndata: c\n\n");
        assert_eq!(
            got,
            vec![
                ev("message", "a", Some("1")),
                ev("message", "b", Some("1")),
                ev("message", "c", None)
            ]
        );
    }

    #[test]
    fn bom_is_skipped_once_even_when_split() {
        let got = all_splits(b"\xEF\xBB\xBFdata: a\n\n");
        assert_eq!(got, vec![ev("message", "a", None)]);
        // A second BOM is not skipped: it is part of the field name.
        let got = all_splits(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n");
        assert_eq!(got, vec![ev("message", "b", None)]);
    }

    #[test]
    fn a_partial_last_event_is_not_dispatched() {
        let (got, _, p) = parse_chunks(&[b"data: complete\n\ndata: partial\n", b"data: more"]);
        assert_eq!(got, vec![ev("message", "complete", None)]);
        let mut p = p;
        p.reset_connection();
        let mut out = Vec::new();
        p.feed(b"data: fresh\n\n", &mut out);
        assert_eq!(out, vec![ev("message", "fresh", None)]);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let got = all_splits(b"data: caf\xC3\xA9 \xFF\n\n");
        assert_eq!(got, vec![ev("message", "café \u{FFFD}", None)]);
    }

    #[test]
    fn over_long_lines_are_refused() {
        let mut p = EventParser::new();
        let mut out = Vec::new();
        let big = vec![b'a'; MAX_LINE + 1];
        p.feed(b"data: ", &mut out);
        p.feed(&big, &mut out);
        assert!(p.overflowed());
    }

    #[test]
    fn json_data_is_typed() {
        let e = ev("tick", "{\"n\":\n 3}", Some("3"));
        let v: serde_json::Value = e.json().unwrap();
        assert_eq!(v["n"], 3);
        let err = ev("tick", "nope", Some("4")).json::<u32>().unwrap_err();
        assert!(err.to_string().contains("id \"4\""), "{err}");
    }
}
