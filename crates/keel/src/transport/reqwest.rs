//! A [`Transport`] over a `reqwest::Client` you already have (feature
//! `reqwest`): the seed's `set_httpx_client`.

use std::fmt;

use http::{Request, Response};
use http_body_util::BodyDataStream;

use super::{Body, ResponseBody, Transport, TransportError, TransportFuture};

/// Sends Keel's requests with a `reqwest::Client`.
///
/// The client brings its own pool, TLS settings, proxies, connect timeout
/// and default headers, so Keel's `verify_ssl`, CA, client-certificate,
/// proxy and `configure_transport` settings do not apply to it. Keel still
/// applies per request the base URL, headers, cookies, timeouts, signing,
/// resilience and redirects: build the client with
/// `redirect(reqwest::redirect::Policy::none())` so that Keel follows
/// redirects itself (and drops credentials on a hop to another origin).
///
/// ```no_run
/// # fn main() -> keel::Result<()> {
/// let mine = reqwest::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()
///     .expect("a reqwest client");
/// let client = keel::HttpClient::builder("https://api.example.com")
///     .transport(keel::transport::ReqwestTransport::new(mine))
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestTransport")
    }
}

impl ReqwestTransport {
    /// Wraps `client`.
    pub fn new(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }

    /// The reqwest client inside.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl From<ReqwestTransport> for super::SharedTransport {
    fn from(t: ReqwestTransport) -> Self {
        super::SharedTransport::new(t)
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: Request<Body>) -> TransportFuture {
        let client = self.client.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match body.as_bytes() {
                Some(b) => reqwest::Body::from(bytes::Bytes::copy_from_slice(b)),
                None => reqwest::Body::wrap_stream(BodyDataStream::new(body)),
            };
            let request = reqwest::Request::try_from(Request::from_parts(parts, body))
                .map_err(TransportError::other)?;
            let resp = client.execute(request).await.map_err(|e| {
                if e.is_connect() {
                    TransportError::connect(e)
                } else {
                    TransportError::other(e)
                }
            })?;
            let resp: Response<reqwest::Body> = resp.into();
            Ok(resp.map(ResponseBody::new))
        })
    }
}
