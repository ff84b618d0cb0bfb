//! The transport: created lazily and once per client family, one pool for
//! async and blocking callers, replaceable by the caller's own, adjustable
//! through the escape hatch.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{echo, header, CountingProxy};
use keel::transport::{Body, HyperTransport, Transport, TransportFuture};
use keel::HttpClient;
use keel_demo::DemoServer;

#[test]
fn the_transport_is_created_once_for_async_and_blocking_callers() {
    let server = DemoServer::start_background().unwrap();
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .configure_transport(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 0, "created lazily");
    client.get("").send_blocking().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { client.get("").send().await.unwrap() });
    client.get("").send_blocking().unwrap();
    let first = client.get_or_create_async_client().unwrap();
    let second = client.get_or_create_blocking_client().unwrap();
    assert!(first.same_as(&second));
    assert_eq!(built.load(Ordering::SeqCst), 1, "one transport for both");
}

#[test]
fn async_and_blocking_callers_share_one_connection() {
    let server = DemoServer::start_background().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // hyper-util hands a finished connection back to the pool from a task,
    // so on a loaded machine the next call can occasionally find the pool
    // empty and open a second connection. Separate pools for the two kinds
    // of caller would open at least two every time; so the scenario runs
    // up to three times and one run with a single connection proves it.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let proxy = CountingProxy::start(server.addr());
        let client = HttpClient::new(format!("{}/echo", proxy.url())).unwrap();
        // Blocking first: the connection is made on Keel's runtime …
        echo(&client.get("").send_blocking().unwrap());
        // … reused by an async caller on the caller's runtime …
        rt.block_on(async {
            for _ in 0..3 {
                echo(&client.get("").send().await.unwrap());
            }
        });
        // … and by blocking callers on other threads.
        std::thread::scope(|s| {
            s.spawn(|| echo(&client.get("").send_blocking().unwrap()));
        });
        echo(&client.get("").send_blocking().unwrap());
        seen.push(proxy.accepted());
        if proxy.accepted() == 1 {
            return;
        }
    }
    panic!(
        "sequential async and blocking calls should share one pooled connection; connections per run: {seen:?}"
    );
}

#[test]
fn an_idle_current_thread_runtime_does_not_hold_connections_hostage() {
    // A current_thread runtime runs only while something blocks on it: had
    // its connections stayed on it, a blocking caller taking one from the
    // shared pool would wait for a runtime that nobody drives.
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let calls = (0..8).map(|_| client.get("").send());
        for r in futures_util::future::join_all(calls).await {
            echo(&r.unwrap());
        }
    });
    // `rt` is alive but idle from here on.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| echo(&client.get("").send_blocking().unwrap()));
        }
    });
    drop(rt);
}

#[test]
fn connections_of_a_runtime_that_ended_are_not_reused() {
    let server = DemoServer::start_background().unwrap();
    let proxy = CountingProxy::start(server.addr());
    let client = HttpClient::new(format!("{}/echo", proxy.url())).unwrap();
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async { echo(&client.get("").send().await.unwrap()) });
    } // the runtime, and the connection task it ran, end here
    echo(&client.get("").send_blocking().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { echo(&client.get("").send().await.unwrap()) });
    assert!(
        proxy.accepted() >= 2,
        "a new connection replaced the dead one"
    );
}

/// A transport that tags every request, over Keel's own.
struct Tagging {
    inner: HyperTransport,
    calls: Arc<AtomicUsize>,
}

impl Transport for Tagging {
    fn send(&self, mut request: keel::http::Request<Body>) -> TransportFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        request
            .headers_mut()
            .insert("x-transport", keel::HeaderValue::from_static("tagging"));
        self.inner.send(request)
    }
}

#[tokio::test]
async fn a_supplied_transport_serves_the_whole_family() {
    let server = DemoServer::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .transport(Arc::new(Tagging {
            inner: HyperTransport::new().unwrap(),
            calls: calls.clone(),
        }))
        .build()
        .unwrap();
    let derived = client.with_headers([("X-D", "1")]).unwrap();
    let e = echo(&derived.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-transport"), "tagging");
    assert_eq!(header(&e, "x-d"), "1");
    let e = echo(&client.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-transport"), "tagging");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // set_async_client replaces it for the family.
    derived
        .set_async_client(HyperTransport::new().unwrap())
        .unwrap();
    let e = echo(&client.get("").send().await.unwrap());
    assert!(common::header_values(&e, "x-transport").is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_transport_taken_from_one_client_can_serve_another() {
    let server = DemoServer::start().await.unwrap();
    let a = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let b = HttpClient::builder(format!("{}/echo/b", server.url()))
        .transport(
            a.get_or_create_async_client()
                .unwrap()
                .as_hyper()
                .unwrap()
                .clone(),
        )
        .build()
        .unwrap();
    assert!(!a.shares_pool_with(&b), "two families …");
    assert!(a
        .get_or_create_async_client()
        .unwrap()
        .same_as(&b.get_or_create_async_client().unwrap()));
    let e = echo(&b.get("").send().await.unwrap());
    assert_eq!(e["path"], "/echo/b");
}

#[tokio::test]
async fn configure_transport_runs_after_keels_own_settings() {
    let server = DemoServer::start().await.unwrap();
    let addr = server.addr();
    // Only the closure knows where this name goes.
    let client = HttpClient::builder(format!("http://keel-pinned.invalid:{}/echo", addr.port()))
        .configure_transport(move |t| t.resolve("keel-pinned.invalid", addr))
        .build()
        .unwrap();
    let e = echo(&client.get("").send().await.unwrap());
    assert_eq!(
        header(&e, "host"),
        format!("keel-pinned.invalid:{}", addr.port())
    );
}

#[tokio::test]
async fn a_default_user_agent_is_sent_and_can_be_replaced() {
    let server = DemoServer::start().await.unwrap();
    let plain = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let e = echo(&plain.get("").send().await.unwrap());
    assert_eq!(header(&e, "user-agent"), keel::DEFAULT_USER_AGENT);
    assert!(keel::DEFAULT_USER_AGENT.starts_with("keel/"));
    let mine = HttpClient::builder(format!("{}/echo", server.url()))
        .user_agent("my-app/2.0")
        .build()
        .unwrap();
    let e = echo(&mine.get("").send().await.unwrap());
    assert_eq!(header(&e, "user-agent"), "my-app/2.0");
    let e = echo(
        &plain
            .get("")
            .header("User-Agent", "per-request/1")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(header(&e, "user-agent"), "per-request/1");
}

#[cfg(feature = "reqwest")]
mod reqwest_transport {
    use super::*;

    #[tokio::test]
    async fn a_users_reqwest_client_still_works() {
        let server = DemoServer::start().await.unwrap();
        let mine = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(
                [(
                    keel::http::header::HeaderName::from_static("x-reqwest"),
                    keel::HeaderValue::from_static("yes"),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap();
        let client = HttpClient::builder(format!("{}/echo", server.url()))
            .transport(keel::transport::ReqwestTransport::new(mine))
            .build()
            .unwrap();
        let e = echo(
            &client
                .post("")
                .json(&serde_json::json!({"a": 1}))
                .send()
                .await
                .unwrap(),
        );
        assert_eq!(header(&e, "x-reqwest"), "yes");
        assert_eq!(e["body"], r#"{"a":1}"#);
        // Streaming bodies and responses go through it too.
        let resp = client.get("").send_streaming().await.unwrap();
        assert_eq!(resp.status, 200);
        let bytes = resp.bytes().await.unwrap();
        assert!(!bytes.is_empty());
    }

    #[test]
    fn a_users_reqwest_client_serves_blocking_callers() {
        let server = DemoServer::start_background().unwrap();
        let client = HttpClient::builder(format!("{}/echo", server.url()))
            .transport(reqwest::Client::new())
            .build()
            .unwrap();
        echo(&client.get("").send_blocking().unwrap());
    }
}
