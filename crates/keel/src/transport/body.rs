//! Request and response bodies as they cross the transport.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;

/// The error type of a streaming body: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The body of a request on its way to a [`Transport`](super::Transport):
/// nothing, bytes (sent by every attempt as they are), or a stream (sent
/// once).
pub struct Body {
    repr: Repr,
}

enum Repr {
    Empty,
    Bytes(Option<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Empty => f.write_str("Body::Empty"),
            Repr::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.as_ref().map_or(0, Bytes::len)),
            Repr::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

impl Body {
    /// No body.
    pub fn empty() -> Self {
        Body { repr: Repr::Empty }
    }

    /// A body of these bytes.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Self::empty();
        }
        Body {
            repr: Repr::Bytes(Some(bytes)),
        }
    }

    /// A streaming body: any [`http_body::Body`] of `Bytes`.
    pub fn stream<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        Body {
            repr: Repr::Stream(body.map_err(Into::into).boxed_unsync()),
        }
    }

    /// The bytes of a body that is not a stream (`None` for a stream).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.repr {
            Repr::Empty => Some(&[]),
            Repr::Bytes(b) => Some(b.as_deref().unwrap_or_default()),
            Repr::Stream(_) => None,
        }
    }

    /// Whether this body is a stream.
    pub fn is_stream(&self) -> bool {
        matches!(self.repr, Repr::Stream(_))
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::bytes(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::bytes(b)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::bytes(s)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.repr {
            Repr::Empty => Poll::Ready(None),
            Repr::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Repr::Stream(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.repr {
            Repr::Empty => true,
            Repr::Bytes(b) => b.is_none(),
            Repr::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.repr {
            Repr::Empty => SizeHint::with_exact(0),
            Repr::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Repr::Stream(s) => s.size_hint(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The body of a response as a transport hands it over: hyper's own
    /// body, or (boxed) a decoder over it when a decompression feature is on
    /// and the server encoded the body, or any other transport's body.
    pub struct ResponseBody {
        #[pin]
        repr: ResponseRepr,
    }
}

pin_project_lite::pin_project! {
    #[project = ResponseProj]
    enum ResponseRepr {
        Incoming { #[pin] body: hyper::body::Incoming },
        Boxed { #[pin] body: UnsyncBoxBody<Bytes, BoxError> },
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseBody")
    }
}

impl ResponseBody {
    /// Wraps the body of another transport's response.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        ResponseBody {
            repr: ResponseRepr::Boxed {
                body: body.map_err(Into::into).boxed_unsync(),
            },
        }
    }

    pub(crate) fn incoming(body: hyper::body::Incoming) -> Self {
        ResponseBody {
            repr: ResponseRepr::Incoming { body },
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().repr.project() {
            ResponseProj::Incoming { body } => body.poll_frame(cx).map_err(Into::into),
            ResponseProj::Boxed { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.repr {
            ResponseRepr::Incoming { body } => body.is_end_stream(),
            ResponseRepr::Boxed { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.repr {
            ResponseRepr::Incoming { body } => body.size_hint(),
            ResponseRepr::Boxed { body } => body.size_hint(),
        }
    }
}
