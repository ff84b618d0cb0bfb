//! The Rust contenders, and the two shapes they run in.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Everything a contender is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hyper,
    Reqwest,
    ReqwestTimeout,
    ReqwestBlocking,
    Keel,
    KeelBlocking,
    KeelSigned,
    KeelSignedResilient,
    Httpx,
    HttpxAsync,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Hyper,
        Kind::Reqwest,
        Kind::ReqwestTimeout,
        Kind::ReqwestBlocking,
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
            Kind::Keel => "keel::HttpClient, send().await",
            Kind::KeelBlocking => "keel::HttpClient, send_blocking()",
            Kind::KeelSigned => "keel::HttpAuthenticatedClient, default HMAC scheme (async)",
            Kind::KeelSignedResilient => {
                "keel::HttpAuthenticatedClient, default HMAC scheme + resilience (async)"
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

/// The two shapes of load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One request after another on one keep-alive connection.
    Sequential,
    /// `concurrency` requests in flight at all times.
    Concurrent,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Sequential => "sequential",
            Shape::Concurrent => "concurrent",
        }
    }
}

/// One measured run: how long `latencies_ns.len()` requests took.
pub struct Sample {
    pub seconds: f64,
    pub latencies_ns: Vec<u64>,
}

type HyperClient = hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>;

/// The clients under test, all built once and reused across rounds.
pub struct Clients {
    hyper: HyperClient,
    hyper_uri: hyper::Uri,
    reqwest: reqwest::Client,
    reqwest_timeout: reqwest::Client,
    reqwest_blocking: reqwest::blocking::Client,
    url: String,
    keel: keel::HttpClient,
    signed: keel::HttpAuthenticatedClient,
    resilient: keel::HttpAuthenticatedClient,
    /// The body length every answer must have.
    expected_len: usize,
}

/// The resilience the `keel-signed-resilient` contender uses, and its name.
pub fn resilient_policy() -> (keel::Resilience, &'static str) {
    // No faults are injected, so every request succeeds at the first
    // attempt: this measures what the policy costs on the happy path
    // (admission, breaker and budget bookkeeping, signing per attempt).
    (keel::Resilience::standard(), "standard")
}

impl Clients {
    /// Builds every client; must be called outside an async runtime (the
    /// blocking clients own one).
    pub fn new(base: &str, expected_len: usize) -> Result<Self> {
        let url = format!("{base}/bench");
        let hyper = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build::<_, Empty<Bytes>>(HttpConnector::new());
        let keel = keel::HttpClient::builder(base).build()?;
        let signed = keel::HttpAuthenticatedClient::builder(base)
            .api_key("bench-key")
            .api_secret("bench-secret-0123456789")
            .build()?;
        let (policy, _) = resilient_policy();
        let resilient = signed.with_resilience(policy);
        Ok(Clients {
            hyper,
            hyper_uri: url.parse().context("bad bench URL")?,
            reqwest: reqwest::Client::new(),
            reqwest_timeout: reqwest::Client::new(),
            reqwest_blocking: reqwest::blocking::Client::new(),
            url,
            keel,
            signed,
            resilient,
            expected_len,
        })
    }

    fn check(&self, len: usize) -> Result<()> {
        ensure!(
            len == self.expected_len,
            "body of {len} bytes, expected {}",
            self.expected_len
        );
        Ok(())
    }

    /// One async GET of the bench endpoint, reading the whole body.
    async fn one_async(&self, kind: Kind) -> Result<()> {
        let len = match kind {
            Kind::Hyper => {
                let resp = self.hyper.get(self.hyper_uri.clone()).await?;
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.into_body().collect().await?.to_bytes().len()
            }
            Kind::Reqwest => {
                let resp = self.reqwest.get(&self.url).send().await?;
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.bytes().await?.len()
            }
            Kind::ReqwestTimeout => {
                let resp = self
                    .reqwest_timeout
                    .get(&self.url)
                    .timeout(keel::DEFAULT_TIMEOUT)
                    .send()
                    .await?;
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.bytes().await?.len()
            }
            Kind::Keel => self.keel.get("/bench").send().await?.content.len(),
            Kind::KeelSigned => self.signed.get("/bench").send().await?.content.len(),
            Kind::KeelSignedResilient => self.resilient.get("/bench").send().await?.content.len(),
            other => bail!("{} is not an async contender", other.name()),
        };
        self.check(len)
    }

    /// One blocking GET of the bench endpoint, reading the whole body.
    fn one_blocking(&self, kind: Kind) -> Result<()> {
        let len = match kind {
            Kind::ReqwestBlocking => {
                let resp = self.reqwest_blocking.get(&self.url).send()?;
                ensure!(resp.status() == 200, "status {}", resp.status());
                resp.bytes()?.len()
            }
            Kind::KeelBlocking => self.keel.get("/bench").send_blocking()?.content.len(),
            other => bail!("{} is not a blocking contender", other.name()),
        };
        self.check(len)
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
    let c = match shape {
        Shape::Sequential => 1,
        Shape::Concurrent => concurrency.max(1),
    };
    // The warm-up tolerates failures: the server drops keep-alive
    // connections idle for 30 s (hyper's header read timeout), and a pooled
    // connection can be closed just as it is reused after the other
    // contenders' turns. The measured run tolerates none.
    let warm = warmup.max(c);
    let warmed = if kind.is_blocking() {
        blocking(clients, kind, warm, c, true)?
    } else {
        rt.block_on(concurrent_async(clients, kind, warm, c, true))?
    };
    ensure!(
        !warmed.latencies_ns.is_empty(),
        "every warm-up request failed"
    );
    if kind.is_blocking() {
        blocking(clients, kind, n, c, false)
    } else {
        rt.block_on(concurrent_async(clients, kind, n, c, false))
    }
}

async fn concurrent_async(
    clients: &Arc<Clients>,
    kind: Kind,
    n: usize,
    concurrency: usize,
    tolerate: bool,
) -> Result<Sample> {
    if concurrency == 1 {
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let s = Instant::now();
            match clients.one_async(kind).await {
                Ok(()) => lat.push(s.elapsed().as_nanos() as u64),
                Err(_) if tolerate => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Sample {
            seconds: t0.elapsed().as_secs_f64(),
            latencies_ns: lat,
        });
    }
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    let t0 = Instant::now();
    for _ in 0..concurrency {
        let clients = clients.clone();
        let next = next.clone();
        set.spawn(async move {
            let mut lat = Vec::with_capacity(n / concurrency + 1);
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let s = Instant::now();
                match clients.one_async(kind).await {
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
        latencies_ns: all,
    })
}

fn blocking(
    clients: &Arc<Clients>,
    kind: Kind,
    n: usize,
    concurrency: usize,
    tolerate: bool,
) -> Result<Sample> {
    if concurrency == 1 {
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let s = Instant::now();
            match clients.one_blocking(kind) {
                Ok(()) => lat.push(s.elapsed().as_nanos() as u64),
                Err(_) if tolerate => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Sample {
            seconds: t0.elapsed().as_secs_f64(),
            latencies_ns: lat,
        });
    }
    let next = AtomicUsize::new(0);
    let start = Barrier::new(concurrency + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(|| {
                    let mut lat = Vec::with_capacity(n / concurrency + 1);
                    start.wait();
                    while next.fetch_add(1, Ordering::Relaxed) < n {
                        let s = Instant::now();
                        match clients.one_blocking(kind) {
                            Ok(()) => lat.push(s.elapsed().as_nanos() as u64),
                            Err(_) if tolerate => {}
                            Err(e) => return Err(e),
                        }
                    }
                    anyhow::Ok(lat)
                })
            })
            .collect();
        start.wait();
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
        match first_err {
            Some(e) => Err(e),
            None => Ok(Sample {
                seconds,
                latencies_ns: all,
            }),
        }
    })
}
