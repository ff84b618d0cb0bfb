//! [`Response<T>`]: status, headers, content and the parsed value.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{display_url, Error, Result};

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
            Err(Error::UnexpectedStatus {
                status: self.status,
                url: display_url(&self.url),
                body_excerpt: crate::error::body_excerpt(&self.content),
            })
        }
    }
}
