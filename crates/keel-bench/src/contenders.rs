//! The Rust contenders, and the three shapes they run in.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cpu::CpuClock;
use crate::peer;

/// Everything a contender is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hyper,
    Reqwest,
    ReqwestTimeout,
    ReqwestBlocking,
    /// The peer stack: reqwest-middleware + reqwest-retry + HMAC signing.
    Peer,
    Keel,
    KeelBlocking,
    KeelSigned,
    KeelSignedResilient,
    Httpx,
    HttpxAsync,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Hyper,
        Kind::Reqwest,
        Kind::ReqwestTimeout,
        Kind::ReqwestBlocking,
        Kind::Peer,
        Kind::Keel,
        Kind::KeelBlocking,
        Kind::KeelSigned,
        Kind::KeelSignedResilient,
        Kind::Httpx,
        Kind::HttpxAsync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hyper => "hyper",
            Kind::Reqwest => "reqwest",
            Kind::ReqwestTimeout => "reqwest-timeout",
            Kind::ReqwestBlocking => "reqwest-blocking",
            Kind::Peer => "reqwest-middleware",
            Kind::Keel => "keel",
            Kind::KeelBlocking => "keel-blocking",
            Kind::KeelSigned => "keel-signed",
            Kind::KeelSignedResilient => "keel-signed-resilient",
            Kind::Httpx => "httpx",
            Kind::HttpxAsync => "httpx-async",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Hyper => "raw hyper-util legacy client, HTTP/1 (async)",
            Kind::Reqwest => "raw reqwest::Client (async)",
            Kind::ReqwestTimeout => {
                "raw reqwest::Client (async) with a 30 s per-request timeout, Keel's default"
            }
            Kind::ReqwestBlocking => "raw reqwest::blocking::Client",
            Kind::Peer => {
                "reqwest-middleware 0.4 + reqwest-retry 0.8 (3 retries, default exponential \
                 backoff) + an HMAC-SHA256 signing middleware (Keel's default scheme) inside \
                 the retry layer (async)"
            }
            Kind::Keel => "keel::HttpClient, send().await",
            Kind::KeelBlocking => "keel::HttpClient, send_blocking()",
            Kind::KeelSigned => "keel::HttpAuthenticatedClient, default HMAC scheme (async)",
            Kind::KeelSignedResilient => {
                "keel::HttpAuthenticatedClient, default HMAC scheme + Resilience::standard() (async)"
            }
            Kind::Httpx => "Python httpx.Client (threads for concurrency)",
            Kind::HttpxAsync => "Python httpx.AsyncClient (asyncio)",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn is_python(self) -> bool {
        matches!(self, Kind::Httpx | Kind::HttpxAsync)
    }

    pub fn is_blocking(self) -> bool {
        matches!(self, Kind::ReqwestBlocking | Kind::KeelBlocking)
    }
}

/// The shapes of load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One GET after another on one keep-alive connection.
    Sequential,
    /// `concurrency` GETs in flight at all times.
    Concurrent,
    /// One POST with [`POST_BODY`] after another on one keep-alive
    /// connection.
    Post,
}

impl Shape {
    pub const ALL: [Shape; 3] = [Shape::Sequential, Shape::Concurrent, Shape::Post];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Sequential => "sequential",
            Shape::Concurrent => "concurrent",
            Shape::Post => "post",
        }
    }

    pub fn from_name(name: &str) -> Option<Shape> {
        match name {
            "sequential" | "seq" => Some(Shape::Sequential),
            "concurrent" | "conc" => Some(Shape::Concurrent),
            "post" => Some(Shape::Post),
            _ => None,
        }
    }

    /// Requests in flight in this shape.
    pub fn in_flight(self, concurrency: usize) -> usize {
        match self {
            Shape::Sequential | Shape::Post => 1,
            Shape::Concurrent => concurrency.max(1),
        }
    }
}

/// The JSON body of the `post` shape: exactly 300 bytes, sent as is
/// (already serialized) by every contender, so the shape measures the
/// clients and not a serializer.
pub const POST_BODY: &str = concat!(
    r#"{"order_id":"ord-0000000042","account":"acct-bench-0001","symbol":"KEEL-USD","#,
    r#""side":"buy","type":"limit","quantity":12.5,"price":1234.5678,"time_in_force":"gtc","#,
    r#""flags":["post_only"],"metadata":{"source":"keel-bench","#,
    r#""note":"a 300-byte JSON body for the sequential POST shape, sent pre-serialized."}}"#
);

/// One measured run: how long `latencies_ns.len()` requests took, and
/// how much CPU the client process used meanwhile.
pub struct Sample {
    pub seconds: f64,
    pub cpu_seconds: Option<f64>,
    pub latencies_ns: Vec<u64>,
}

type HyperClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

/// The clients under test, all built once and reused across rounds.
pub struct Clients {
    hyper: HyperClient,
    hyper_uri: hyper::Uri,
    reqwest: reqwest::Client,
    reqwest_timeout: reqwest::Client,
    reqwest_blocking: reqwest::blocking::Client,
    peer: reqwest_middleware::ClientWithMiddleware,
    url: String,
    /// Shared by `keel` and `keel-blocking`: one client family serves both
    /// kinds of callers from one pool.
    keel: keel::HttpClient,
    signed: keel::HttpAuthenticatedClient,
    resilient: keel::HttpAuthenticatedClient,
    post_body: Bytes,
    /// The body length every GET answer must have.
    expected_len: usize,
    /// The body length every POST answer must have.
    expected_post_len: usize,
}

/// The resilience the `keel-signed-resilient` contender uses, and its name.
pub fn resilient_policy() -> (keel::Resilience, &'static str) {
    // No faults are injected, so every request succeeds at the first
    // attempt: this measures what the policy costs on the happy path
    // (admission, breaker and budget bookkeeping, signing per attempt).
    (keel::Resilience::standard(), "standard")
}

const JSON: &str = "application/json";

impl Clients {
    /// Builds every client; must be called outside an async runtime (the
    /// blocking clients own one). Every signed contender uses the demo key
    /// pair, so [`verify_signatures`](Self::verify_signatures) can check
    /// what they send against the demo server's verifier.
    pub fn new(base: &str, expected_len: usize, expected_post_len: usize) -> Result<Self> {
        let url = format!("{base}/bench");
        let hyper = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build::<_, Full<Bytes>>(HttpConnector::new());
        let keel = keel::HttpClient::builder(base).build()?;
        let signed = keel::HttpAuthenticatedClient::builder(base)
            .api_key(keel_demo::DEMO_API_KEY)
            .api_secret(keel_demo::DEMO_API_SECRET)
            .build()?;
        let (policy, _) = resilient_policy();
        let resilient = signed.with_resilience(policy);
        Ok(Clients {
            hyper,
            hyper_uri: url.parse().context("bad bench URL")?,
            reqwest: reqwest::Client::new(),
            reqwest_timeout: reqwest::Client::new(),
            reqwest_blocking: reqwest::blocking::Client::new(),
            peer: peer::client(
                reqwest::Client::new(),
                keel_demo::DEMO_API_KEY,
                keel_demo::DEMO_API_SECRET,
            )?,
            url,
            keel,
            signed,
            resilient,
            post_body: Bytes::from_static(POST_BODY.as_bytes()),
            expected_len,
            expected_post_len,
        })
    }

    /// Sends one signed GET and one signed POST with every signed
    /// contender to the demo server's verifying endpoints: a contender
    /// whose signatures the server rejects must not be measured.
    pub async fn verify_signatures(&self) -> Result<()> {
        for kind in [Kind::Peer, Kind::KeelSigned, Kind::KeelSignedResilient] {
            // A query unique to the contender keeps two contenders that
            // sign in the same millisecond from sending the same signature
            // (the server rejects replays).
            let whoami = format!("/signed/whoami?contender={}", kind.name());
            let (status, body) = match kind {
                Kind::Peer => {
                    let base = self.url.trim_end_matches("/bench");
                    let r = self.peer.get(format!("{base}{whoami}")).send().await?;
                    (r.status().as_u16(), r.bytes().await?)
                }
                _ => {
                    let c = if kind == Kind::KeelSigned {
                        &self.signed
                    } else {
                        &self.resilient
                    };
                    let r = c.get(&whoami).send().await?;
                    (r.status.as_u16(), r.content)
                }
            };
            ensure!(
                status == 200,
                "{}: the demo server rejected a signed GET ({status}): {}",
                kind.name(),
                String::from_utf8_lossy(&body)
            );
            let orders = format!("/signed/orders?contender={}", kind.name());
            let (status, body) = match kind {
                Kind::Peer => {
                    let base = self.url.trim_end_matches("/bench");
                    let r = self
                        .peer
                        .post(format!("{base}{orders}"))
                        .header(reqwest::header::CONTENT_TYPE, JSON)
                        .body(self.post_body.clone())
                        .send()
                        .await?;
                    (r.status().as_u16(), r.bytes().await?)
                }
                _ => {
                    let c = if kind == Kind::KeelSigned {
                        &self.signed
                    } else {
                        &self.resilient
                    };
                    let r = c
                        .post(&orders)
                        .body(self.post_body.clone(), JSON)
                        .send()
                        .await?;
                    (r.status.as_u16(), r.content)
                }
            };
            ensure!(
                status == 201,
                "{}: the demo server rejected a signed POST ({status}): {}",
                kind.name(),
                String::from_utf8_lossy(&body)
            );
            let sent: serde_json::Value = serde_json::from_str(POST_BODY)?;
            let echoed: serde_json::Value = serde_json::from_slice(&body)?;
            ensure!(
                sent == echoed,
                "{}: the signed POST body came back changed",
                kind.name()
            );
        }
        Ok(())
    }

    fn check(&self, shape: Shape, len: usize) -> Result<()> {
        let expected = match shape {
            Shape::Post => self.expected_post_len,
            Shape::Sequential | Shape::Concurrent => self.expected_len,
        };
        ensure!(len == expected, "body of {len} bytes, expected {expected}");
        Ok(())
    }

    /// One async request of `shape`, reading the whole body.
    async fn one_async(&self, kind: Kind, shape: Shape) -> Result<()> {
        let post = shape == Shape::Post;
        let len = match kind {
            Kind::Hyper => {
                let resp = if post {
                    let req = hyper::Request::post(self.hyper_uri.clone())
                        .header(hyper::header::CONTENT_TYPE, JSON)
                        .body(Full::new(self.post_body.clone()))?;
                    self.hyper.request(req).await?
                } else {
                    self.hyper.get(self.hyper_uri.clone()).await?
                };
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.into_body().collect().await?.to_bytes().len()
            }
            Kind::Reqwest | Kind::ReqwestTimeout => {
                let c = if kind == Kind::Reqwest {
                    &self.reqwest
                } else {
                    &self.reqwest_timeout
                };
                let mut req = if post {
                    c.post(&self.url)
                        .header(reqwest::header::CONTENT_TYPE, JSON)
                        .body(self.post_body.clone())
                } else {
                    c.get(&self.url)
                };
                if kind == Kind::ReqwestTimeout {
                    req = req.timeout(keel::DEFAULT_TIMEOUT);
                }
                let resp = req.send().await?;
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.bytes().await?.len()
            }
            Kind::Peer => {
                let req = if post {
                    self.peer
                        .post(&self.url)
                        .header(reqwest::header::CONTENT_TYPE, JSON)
                        .body(self.post_body.clone())
                } else {
                    self.peer.get(&self.url)
                };
                let resp = req.send().await?;
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.bytes().await?.len()
            }
            Kind::Keel | Kind::KeelSigned | Kind::KeelSignedResilient => {
                let resp = match (kind, post) {
                    (Kind::Keel, false) => self.keel.get("/bench").send().await?,
                    (Kind::Keel, true) => {
                        self.keel
                            .post("/bench")
                            .body(self.post_body.clone(), JSON)
                            .send()
                            .await?
                    }
                    (_, false) => self.signer(kind).get("/bench").send().await?,
                    (_, true) => {
                        self.signer(kind)
                            .post("/bench")
                            .body(self.post_body.clone(), JSON)
                            .send()
                            .await?
                    }
                };
                ensure!(resp.status == 200, "status {}", resp.status);
                resp.content.len()
            }
            other => bail!("{} is not an async contender", other.name()),
        };
        self.check(shape, len)
    }

    fn signer(&self, kind: Kind) -> &keel::HttpAuthenticatedClient {
        if kind == Kind::KeelSignedResilient {
            &self.resilient
        } else {
            &self.signed
        }
    }

    /// One blocking request of `shape`, reading the whole body.
    fn one_blocking(&self, kind: Kind, shape: Shape) -> Result<()> {
        let post = shape == Shape::Post;
        let len = match kind {
            Kind::ReqwestBlocking => {
                let req = if post {
                    self.reqwest_blocking
                        .post(&self.url)
                        .header(reqwest::header::CONTENT_TYPE, JSON)
                        .body(self.post_body.clone())
                } else {
                    self.reqwest_blocking.get(&self.url)
                };
                let resp = req.send()?;
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.bytes()?.len()
            }
            Kind::KeelBlocking => {
                let resp = if post {
                    self.keel
                        .post("/bench")
                        .body(self.post_body.clone(), JSON)
                        .send_blocking()?
                } else {
                    self.keel.get("/bench").send_blocking()?
                };
                ensure!(resp.status == 200, "status {}", resp.status);
                resp.content.len()
            }
            other => bail!("{} is not a blocking contender", other.name()),
        };
        self.check(shape, len)
    }
}

/// Runs `n` requests of `kind` in `shape` (after a warm-up) and times them.
pub fn run(
    rt: &tokio::runtime::Runtime,
    clients: &Arc<Clients>,
    kind: Kind,
    shape: Shape,
    n: usize,
    concurrency: usize,
    warmup: usize,
) -> Result<Sample> {
    let c = shape.in_flight(concurrency);
    // The warm-up tolerates failures: the server drops keep-alive
    // connections idle for 30 s (hyper's header read timeout), and a pooled
    // connection can be closed just as it is reused after the other
    // contenders' turns. The measured run tolerates none.
    let warm = warmup.max(c);
    let job = Job { kind, shape, c };
    let warmed = if kind.is_blocking() {
        blocking(clients, job, warm, true)?
    } else {
        on_worker(rt, clients, job, warm, true)?
    };
    ensure!(
        !warmed.latencies_ns.is_empty(),
        "every warm-up request failed"
    );
    if kind.is_blocking() {
        blocking(clients, job, n, false)
    } else {
        on_worker(rt, clients, job, n, false)
    }
}

/// Runs an async measurement as a task on `rt` (a multi-thread runtime with
/// one worker): the request loop, the 64 tasks of the concurrent shape and
/// the connection tasks of every client then share that worker, as in a
/// server with one tokio worker, instead of the loop running on the thread
/// that blocks on the runtime and waking the worker for every request.
fn on_worker(
    rt: &tokio::runtime::Runtime,
    clients: &Arc<Clients>,
    job: Job,
    n: usize,
    tolerate: bool,
) -> Result<Sample> {
    let clients = clients.clone();
    rt.block_on(rt.spawn(async move { concurrent_async(&clients, job, n, tolerate).await }))
        .context("the measurement task failed")?
}

/// What one measurement runs.
#[derive(Clone, Copy)]
struct Job {
    kind: Kind,
    shape: Shape,
    /// Requests in flight.
    c: usize,
}

async fn concurrent_async(
    clients: &Arc<Clients>,
    job: Job,
    n: usize,
    tolerate: bool,
) -> Result<Sample> {
    let Job { kind, shape, c } = job;
    let cpu = CpuClock::start();
    if c == 1 {
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let s = Instant::now();
            match clients.one_async(kind, shape).await {
                Ok(()) => lat.push(s.elapsed().as_nanos() as u64),
                Err(_) if tolerate => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Sample {
            seconds: t0.elapsed().as_secs_f64(),
            cpu_seconds: cpu.seconds(),
            latencies_ns: lat,
        });
    }
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    let t0 = Instant::now();
    for _ in 0..c {
        let clients = clients.clone();
        let next = next.clone();
        set.spawn(async move {
            let mut lat = Vec::with_capacity(n / c + 1);
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let s = Instant::now();
                match clients.one_async(kind, shape).await {
                    Ok(()) => lat.push(s.elapsed().as_nanos() as u64),
                    Err(_) if tolerate => {}
                    Err(e) => return Err(e),
                }
            }
            anyhow::Ok(lat)
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        all.extend(r.context("a worker task failed")??);
    }
    Ok(Sample {
        seconds: t0.elapsed().as_secs_f64(),
        cpu_seconds: cpu.seconds(),
        latencies_ns: all,
    })
}

fn blocking(clients: &Arc<Clients>, job: Job, n: usize, tolerate: bool) -> Result<Sample> {
    let Job { kind, shape, c } = job;
    if c == 1 {
        let cpu = CpuClock::start();
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let s = Instant::now();
            match clients.one_blocking(kind, shape) {
                Ok(()) => lat.push(s.elapsed().as_nanos() as u64),
                Err(_) if tolerate => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Sample {
            seconds: t0.elapsed().as_secs_f64(),
            cpu_seconds: cpu.seconds(),
            latencies_ns: lat,
        });
    }
    let next = AtomicUsize::new(0);
    let start = Barrier::new(c + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..c)
            .map(|_| {
                scope.spawn(|| {
                    let mut lat = Vec::with_capacity(n / c + 1);
                    start.wait();
                    while next.fetch_add(1, Ordering::Relaxed) < n {
                        let s = Instant::now();
                        match clients.one_blocking(kind, shape) {
                            Ok(()) => lat.push(s.elapsed().as_nanos() as u64),
                            Err(_) if tolerate => {}
                            Err(e) => return Err(e),
                        }
                    }
                    anyhow::Ok(lat)
                })
            })
            .collect();
        // Thread start-up is outside the clock: it starts when every
        // worker is ready.
        start.wait();
        let cpu = CpuClock::start();
        let t0 = Instant::now();
        let mut all = Vec::with_capacity(n);
        let mut first_err = None;
        for w in workers {
            match w.join() {
                Ok(Ok(lat)) => all.extend(lat),
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(_) => first_err = first_err.or(Some(anyhow::anyhow!("a worker panicked"))),
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let cpu_seconds = cpu.seconds();
        match first_err {
            Some(e) => Err(e),
            None => Ok(Sample {
                seconds,
                cpu_seconds,
                latencies_ns: all,
            }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_post_body_is_300_bytes_of_json_object() {
        assert_eq!(POST_BODY.len(), 300);
        let v: serde_json::Value = serde_json::from_str(POST_BODY).expect("valid JSON");
        assert!(v.is_object());
    }

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        for s in Shape::ALL {
            assert_eq!(Shape::from_name(s.name()), Some(s));
        }
        assert_eq!(Kind::from_name("nope"), None);
        assert_eq!(Shape::from_name("nope"), None);
    }
}
