//! The accept loop, the per-connection control used by the connection faults,
//! and the [`DemoServer`] handle.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;

use crate::state::DemoState;
use crate::tls::DemoTls;

/// How long a graceful shutdown waits for in-flight requests before it
/// drops the remaining connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A per-connection handle, put into every request's extensions, with which
/// a handler can make the connection task drop the connection without
/// answering.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnControl {
    kill: Arc<Notify>,
}

impl ConnControl {
    pub(crate) fn kill(&self) {
        // `notify_one` stores a permit, so the signal is not lost if the
        // connection task is not waiting at this instant.
        self.kill.notify_one();
    }

    async fn killed(&self) {
        self.kill.notified().await;
    }
}

/// Serve the demo API (fresh [`DemoState`]) on `listener` until `shutdown`
/// completes, then shut down gracefully.
///
/// This is what `keel serve` runs:
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
/// # drop(stop_tx);
/// keel_demo::serve(listener, async {
///     let _ = stop_rx.await; // e.g. fired by a Ctrl-C handler
/// })
/// .await
/// # }
/// ```
pub async fn serve<F>(listener: TcpListener, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    serve_router(listener, crate::router(DemoState::new()), shutdown).await
}

/// Serve any axum router (typically [`crate::router`] merged with extra
/// routes) with the demo server's accept loop, which supports the
/// connection-level faults (`/fault/close`, `/fault/reset-mid-body`).
///
/// Returns once `shutdown` has completed and open connections have finished
/// (or after a 2-second grace period, when the rest are dropped).
pub async fn serve_router<F>(listener: TcpListener, router: Router, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    run(listener, router, None, shutdown).await
}

/// Like [`serve_router`], over TLS with the given rustls configuration.
pub async fn serve_router_tls<F>(
    listener: TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    run(listener, router, Some(TlsAcceptor::from(tls)), shutdown).await
}

async fn run<F>(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_conn(stream, router.clone(), tls.clone(), stop_rx.clone()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    // Out of file descriptors and the like: back off a bit.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    Ok(())
}

async fn serve_conn(
    stream: TcpStream,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    match tls {
        None => drive(TokioIo::new(stream), router, stop).await,
        Some(acceptor) => {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => drive(TokioIo::new(tls_stream), router, stop).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

async fn drive<I>(io: I, router: Router, mut stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let ctl = ConnControl::default();
    let svc_ctl = ctl.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(svc_ctl.clone());
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = ctl.killed() => {
                tracing::debug!("fault injection: dropping the connection");
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Options for a [`DemoServer`]: extra routes, an OpenAPI extension, TLS and
/// the address. Made by [`DemoServer::builder`].
///
/// ```
/// use axum::routing::get;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let extra = axum::Router::new().route("/extra", get(|| async { "hi" }));
/// let server = keel_demo::DemoServer::builder().routes(extra).start().await?;
/// let url = format!("{}/extra", server.url());
/// # let _ = url;
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct DemoServerBuilder {
    addr: Option<SocketAddr>,
    routes: Option<Router>,
    openapi_extension: Option<serde_json::Value>,
    tls: bool,
    client_auth: bool,
}

impl DemoServerBuilder {
    /// Bind this address instead of `127.0.0.1:0`.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Merge extra routes into the demo router (call it again to add more).
    ///
    /// # Panics
    /// When starting the server, if a merged route overlaps one the demo
    /// router already has, or if `extra` has its own fallback (axum's
    /// `Router::merge` rules).
    pub fn routes(mut self, extra: Router) -> Self {
        self.routes = Some(match self.routes.take() {
            Some(existing) => existing.merge(extra),
            None => extra,
        });
        self
    }

    /// Merge a partial OpenAPI document into the one served at
    /// `/openapi.json` (see [`crate::openapi::merge`]): typically the `paths`
    /// and `components.schemas` of the extra routes.
    pub fn openapi_extension(mut self, extension: serde_json::Value) -> Self {
        match &mut self.openapi_extension {
            Some(existing) => crate::openapi::merge(existing, &extension),
            None => self.openapi_extension = Some(extension),
        }
        self
    }

    /// Serve HTTPS with a freshly generated certificate (see
    /// [`DemoServer::ca_pem`]).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Serve HTTPS and require a client certificate signed by the demo CA
    /// (mutual TLS); see [`DemoServer::client_identity_pem`].
    pub fn client_auth(mut self, on: bool) -> Self {
        self.client_auth = on;
        if on {
            self.tls = true;
        }
        self
    }

    fn prepare(self) -> io::Result<Prepared> {
        let state = DemoState::build(self.openapi_extension, self.tls);
        let mut router = crate::router(state.clone());
        if let Some(extra) = self.routes {
            router = router.merge(extra);
        }
        let tls = if self.tls {
            Some(DemoTls::generate_with(self.client_auth)?)
        } else {
            None
        };
        let addr = self
            .addr
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        Ok(Prepared {
            state,
            router,
            tls,
            addr,
        })
    }

    /// Start the server on the current tokio runtime.
    pub async fn start(self) -> io::Result<DemoServer> {
        let prepared = self.prepare()?;
        let listener = TcpListener::bind(prepared.addr).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let config = prepared.tls.as_ref().map(DemoTls::server_config);
        let task = tokio::spawn(run(
            listener,
            prepared.router,
            config.map(TlsAcceptor::from),
            async move {
                let _ = stop_rx.await;
            },
        ));
        Ok(DemoServer {
            addr,
            tls: prepared.tls,
            state: prepared.state,
            stop: Some(stop_tx),
            runner: Runner::Task(Some(task)),
        })
    }

    /// Start the server on its own thread with its own tokio runtime (two
    /// worker threads). Usable from anywhere, including code that must not
    /// run inside a tokio runtime. Dropping the handle stops the server and
    /// joins the thread.
    pub fn start_background(self) -> io::Result<DemoServer> {
        let prepared = self.prepare()?;
        let std_listener = std::net::TcpListener::bind(prepared.addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("keel-demo")
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let router = prepared.router;
        let config = prepared.tls.as_ref().map(DemoTls::server_config);
        let thread = std::thread::Builder::new()
            .name("keel-demo-server".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => {
                            let _ = ready_tx.send(Ok(()));
                            l
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let shutdown = async move {
                        let _ = stop_rx.await;
                    };
                    if let Err(e) =
                        run(listener, router, config.map(TlsAcceptor::from), shutdown).await
                    {
                        tracing::debug!(error = %e, "demo server stopped with an error");
                    }
                });
                drop(runtime);
                let _ = done_tx.send(());
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(io::Error::other(
                    "demo server thread exited before starting",
                ));
            }
        }
        Ok(DemoServer {
            addr,
            tls: prepared.tls,
            state: prepared.state,
            stop: Some(stop_tx),
            runner: Runner::Thread {
                thread: Some(thread),
                done: Some(done_rx),
            },
        })
    }
}

struct Prepared {
    state: DemoState,
    router: Router,
    tls: Option<DemoTls>,
    addr: SocketAddr,
}

#[derive(Debug)]
enum Runner {
    Task(Option<tokio::task::JoinHandle<io::Result<()>>>),
    Thread {
        thread: Option<std::thread::JoinHandle<()>>,
        done: Option<oneshot::Receiver<()>>,
    },
}

/// A running demo server. Dropping it stops the server (gracefully; a
/// background server's thread is joined).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = keel_demo::DemoServer::start().await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DemoServer {
    addr: SocketAddr,
    tls: Option<DemoTls>,
    state: DemoState,
    stop: Option<oneshot::Sender<()>>,
    runner: Runner,
}

impl DemoServer {
    /// Options: extra routes, OpenAPI extension, TLS, address.
    pub fn builder() -> DemoServerBuilder {
        DemoServerBuilder::default()
    }

    /// Start on `127.0.0.1:0` on the current tokio runtime.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// Start on `addr` on the current tokio runtime.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Self::builder().addr(addr).start().await
    }

    /// Start on `127.0.0.1:0` on a thread of its own with its own runtime.
    ///
    /// ```
    /// let server = keel_demo::DemoServer::start_background()?;
    /// let url = format!("{}/health", server.url());
    /// # let _ = url;
    /// drop(server); // stops the server and joins its thread
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_background() -> io::Result<Self> {
        Self::builder().start_background()
    }

    /// Start over HTTPS on `127.0.0.1:0`, on the current tokio runtime, with
    /// a certificate for `localhost` and `127.0.0.1` signed by a CA
    /// generated for this server ([`DemoServer::ca_pem`]).
    pub async fn start_tls() -> io::Result<Self> {
        Self::builder().tls(true).start().await
    }

    /// [`DemoServer::start_tls`] on a thread of its own.
    pub fn start_tls_background() -> io::Result<Self> {
        Self::builder().tls(true).start_background()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, without a trailing slash: `http://127.0.0.1:PORT` (or
    /// `https://` with TLS). An unspecified bind address (`0.0.0.0`) is
    /// reported as the loopback address.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("{scheme}://{addr}")
    }

    /// The base URL with the host name `localhost`
    /// (`https://localhost:PORT` with TLS), to test host-name verification.
    pub fn localhost_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://localhost:{}", self.addr.port())
    }

    /// The client certificate and key (PEM) a client presents to a server
    /// started with [`DemoServerBuilder::client_auth`] (any TLS server has
    /// one; only client-auth servers require it).
    pub fn client_identity_pem(&self) -> Option<(String, String)> {
        self.tls.as_ref().map(|t| {
            let (c, k) = t.client_identity_pem();
            (c.to_owned(), k.to_owned())
        })
    }

    /// Whether the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The PEM of the CA certificate to trust for an HTTPS server (an empty
    /// string for plain HTTP; see [`DemoServer::is_tls`]).
    pub fn ca_pem(&self) -> String {
        self.tls
            .as_ref()
            .map(|t| t.ca_pem().to_owned())
            .unwrap_or_default()
    }

    /// The server's state (items, fault arrival counters).
    pub fn state(&self) -> &DemoState {
        &self.state
    }

    /// Stop accepting, let in-flight requests finish (at most 2 seconds),
    /// and wait until the server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match &mut self.runner {
            Runner::Task(task) => {
                if let Some(task) = task.take() {
                    let _ = task.await;
                }
            }
            Runner::Thread { thread, done } => {
                if let Some(done) = done.take() {
                    let _ = done.await;
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Runner::Thread { thread, .. } = &mut self.runner {
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}
