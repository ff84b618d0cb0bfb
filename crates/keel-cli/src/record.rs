//! A transport that shows what Keel actually sends: it records the first
//! request of a call (after signing, exactly as it leaves the pipeline) and
//! then either hands it to the client's own hyper transport or, with
//! `--offline`, answers it locally without sending anything.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use keel::transport::{
    Body, HyperTransport, ResponseBody, Transport, TransportError, TransportFuture,
};

/// A request as it left Keel's pipeline.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: keel::Method,
    /// The absolute URL.
    pub uri: keel::http::Uri,
    /// The headers Keel set (signature included).
    pub headers: keel::HeaderMap,
    /// The body, when it is in memory (`None` for a streamed body).
    pub body: Option<Bytes>,
}

/// Records the first request; sends it through `inner`, or (offline)
/// answers 204 without sending.
pub struct Recorder {
    inner: Option<HyperTransport>,
    first: Arc<Mutex<Option<Recorded>>>,
    version: Arc<Mutex<Option<keel::http::Version>>>,
}

impl Recorder {
    /// A recorder in front of `inner` (`None`: offline).
    pub fn new(inner: Option<HyperTransport>) -> (Self, Arc<Mutex<Option<Recorded>>>) {
        let first = Arc::new(Mutex::new(None));
        (
            Recorder {
                inner,
                first: first.clone(),
                version: Arc::new(Mutex::new(None)),
            },
            first,
        )
    }
}

impl Recorder {
    /// Where the HTTP version of the last response is kept.
    pub fn version_slot(&self) -> Arc<Mutex<Option<keel::http::Version>>> {
        self.version.clone()
    }
}

impl Transport for Recorder {
    fn send(&self, request: keel::http::Request<Body>) -> TransportFuture {
        if let Ok(mut slot) = self.first.lock() {
            if slot.is_none() {
                *slot = Some(Recorded {
                    method: request.method().clone(),
                    uri: request.uri().clone(),
                    headers: request.headers().clone(),
                    body: request.body().as_bytes().map(Bytes::copy_from_slice),
                });
            }
        }
        match &self.inner {
            Some(inner) => {
                let exchange = inner.send(request);
                let slot = self.version.clone();
                Box::pin(async move {
                    let resp = exchange.await?;
                    if let Ok(mut v) = slot.lock() {
                        *v = Some(resp.version());
                    }
                    Ok(resp)
                })
            }
            None => Box::pin(async {
                let mut resp = keel::http::Response::new(ResponseBody::new(
                    http_body_util::Empty::<Bytes>::new(),
                ));
                *resp.status_mut() = keel::StatusCode::NO_CONTENT;
                Ok::<_, TransportError>(resp)
            }),
        }
    }
}
