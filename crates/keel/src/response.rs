//! [`Response<T>`] (status, headers, content and the parsed value) and
//! [`StreamingResponse`] (a body that streams).

use std::fmt;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use url::Url;

use crate::error::{display_url, Error, Result};
use crate::transport::{runtime, ResponseBody};

/// A complete response: the status, the headers, the body as bytes, and the
/// body parsed into `T` when the status was documented.
///
/// `parsed` is `None` for a status the request did not document (when the
/// client does not raise on those). A plain
/// [`send`](crate::RequestBuilder::send) parses nothing: its `parsed` is
/// `Some(())` for a documented status.
///
/// `Debug` shows header names but not their values (a `Set-Cookie` or an
/// echoed credential is not printed), and the URL without its query.
#[non_exhaustive]
pub struct Response<T = ()> {
    /// The status code (any code, including ones outside the IANA list).
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole response body.
    pub content: Bytes,
    /// The body parsed into `T`, when the status was documented.
    pub parsed: Option<T>,
    pub(crate) url: Url,
    pub(crate) attempts: u32,
}

impl<T: fmt::Debug> fmt::Debug for Response<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &display_url(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("content_len", &self.content.len())
            .field("parsed", &self.parsed)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl<T> Response<T> {
    pub(crate) fn raw(
        status: StatusCode,
        headers: HeaderMap,
        content: Bytes,
        url: Url,
    ) -> Response {
        Response {
            status,
            headers,
            content,
            parsed: None,
            url,
            attempts: 1,
        }
    }

    /// Parses the body as JSON into `U`.
    pub fn json<U: DeserializeOwned>(&self) -> Result<U> {
        serde_json::from_slice(&self.content).map_err(|e| Error::Decode {
            status: self.status,
            message: format!("invalid JSON: {e}"),
        })
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<String> {
        String::from_utf8(self.content.to_vec()).map_err(|e| Error::Decode {
            status: self.status,
            message: format!("the body is not valid UTF-8: {e}"),
        })
    }

    /// The parsed value, if any.
    pub fn into_parsed(self) -> Option<T> {
        self.parsed
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// How many attempts the call took (1 without retries).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// A header value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Maps the parsed value.
    pub fn map<U>(self, f: impl FnOnce(Option<T>) -> Option<U>) -> Response<U> {
        Response {
            status: self.status,
            headers: self.headers,
            content: self.content,
            parsed: f(self.parsed),
            url: self.url,
            attempts: self.attempts,
        }
    }

    /// Fails with [`Error::UnexpectedStatus`] unless the status is 2xx.
    pub fn error_for_status(self) -> Result<Self> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(Error::unexpected_status(
                self.status,
                &self.url,
                &self.content,
            ))
        }
    }
}

/// A response whose body streams: the head has arrived, the body is read
/// chunk by chunk as the caller asks for it, never all at once (see
/// [`RequestBuilder::send_streaming`](crate::RequestBuilder::send_streaming)).
///
/// Each read waits at most the client's read timeout
/// ([`ClientBuilder::read_timeout`](crate::ClientBuilder::read_timeout)) for
/// the next bytes, so a long download that keeps moving is never cut, and a
/// stalled one fails with [`Error::ReadTimeout`]. Every method has an async
/// form and a blocking form (for blocking callers, outside an async
/// runtime).
///
/// ```no_run
/// # async fn run(client: keel::HttpClient) -> keel::Result<()> {
/// let resp = client.get("/exports/big.csv").send_streaming().await?;
/// let mut file = tokio::fs::File::create("big.csv").await.map_err(keel::Error::Io)?;
/// let written = resp.write_to(&mut file).await?;
/// println!("{written} bytes");
/// # Ok(()) }
/// ```
#[non_exhaustive]
pub struct StreamingResponse {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    url: Url,
    pub(crate) attempts: u32,
    body: ResponseBody,
    read_timeout: Option<Duration>,
    max_buffered: u64,
    done: bool,
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("url", &display_url(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl StreamingResponse {
    pub(crate) fn new(
        status: StatusCode,
        headers: HeaderMap,
        url: Url,
        body: ResponseBody,
        read_timeout: Option<Duration>,
        max_buffered: u64,
    ) -> Self {
        StreamingResponse {
            status,
            headers,
            url,
            attempts: 1,
            body,
            read_timeout,
            max_buffered,
            done: false,
        }
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// How many attempts the call took (1 without retries).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// A header value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body length the server announced (`Content-Length`), if any.
    /// (A compressed body is decoded, so its length is not known ahead.)
    pub fn content_length(&self) -> Option<u64> {
        http_body::Body::size_hint(&self.body).exact()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        while !self.done {
            let next = match self.read_timeout {
                Some(t) => match tokio::time::timeout(t, self.body.frame()).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.done = true;
                        return Err(Error::read_timeout(&self.url, t));
                    }
                },
                None => self.body.frame().await,
            };
            match next {
                None => self.done = true,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(crate::pipeline::driver::body_error(e, &self.url));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// [`chunk`](Self::chunk) for blocking callers.
    pub fn chunk_blocking(&mut self) -> Result<Option<Bytes>> {
        runtime::block_on(self.chunk())?
    }

    /// Writes the whole body to `out` as it arrives (constant memory);
    /// returns the number of bytes written. `out` is flushed at the end.
    pub async fn write_to<W: AsyncWrite + Unpin + ?Sized>(mut self, out: &mut W) -> Result<u64> {
        let mut written = 0u64;
        while let Some(chunk) = self.chunk().await? {
            out.write_all(&chunk).await.map_err(Error::Io)?;
            written += chunk.len() as u64;
        }
        out.flush().await.map_err(Error::Io)?;
        Ok(written)
    }

    /// [`write_to`](Self::write_to) for blocking callers, into any
    /// [`std::io::Write`].
    pub fn copy_to<W: std::io::Write + ?Sized>(mut self, out: &mut W) -> Result<u64> {
        let mut written = 0u64;
        while let Some(chunk) = self.chunk_blocking()? {
            out.write_all(&chunk).map_err(Error::Io)?;
            written += chunk.len() as u64;
        }
        out.flush().map_err(Error::Io)?;
        Ok(written)
    }

    /// The whole body in memory, up to the client's
    /// [`max_response_size`](crate::ClientBuilder::max_response_size).
    pub async fn bytes(mut self) -> Result<Bytes> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.chunk().await? {
            if (buf.len() + chunk.len()) as u64 > self.max_buffered {
                return Err(Error::body_too_large(&self.url, self.max_buffered));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// [`bytes`](Self::bytes) for blocking callers.
    pub fn bytes_blocking(self) -> Result<Bytes> {
        runtime::block_on(self.bytes())?
    }

    /// The body as a stream of chunks.
    pub fn into_stream(self) -> impl futures_core::Stream<Item = Result<Bytes>> + Send {
        futures_util::stream::unfold(self, |mut resp| async move {
            match resp.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), resp)),
                Ok(None) => None,
                Err(e) => Some((Err(e), resp)),
            }
        })
    }

    /// The body as a blocking [`std::io::Read`] (for blocking callers; a
    /// read fails with [`std::io::ErrorKind::Other`] wrapping the Keel
    /// error).
    pub fn into_reader(self) -> BodyReader {
        BodyReader {
            response: self,
            pending: Bytes::new(),
        }
    }
}

/// A streamed body as a blocking [`std::io::Read`]; see
/// [`StreamingResponse::into_reader`].
pub struct BodyReader {
    response: StreamingResponse,
    pending: Bytes,
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader")
            .field("response", &self.response)
            .finish_non_exhaustive()
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.pending.is_empty() {
            match self.response.chunk_blocking() {
                Ok(Some(chunk)) => self.pending = chunk,
                Ok(None) => return Ok(0),
                Err(e) => return Err(std::io::Error::other(e)),
            }
        }
        let n = out.len().min(self.pending.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.advance(n);
        Ok(n)
    }
}
