//! Transports: created lazily and once, replaceable by the caller's own
//! reqwest clients, and adjustable through the escape hatches.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{echo, header};
use keel::reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use keel::HttpClient;
use keel_demo::DemoServer;

fn default_header(name: &'static str, value: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    );
    h
}

#[tokio::test]
async fn the_async_transport_is_created_once_on_first_use() {
    let server = DemoServer::start().await.unwrap();
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .configure_async(move |b| {
            counter.fetch_add(1, Ordering::SeqCst);
            b.default_headers(default_header("x-built", "by-keel"))
        })
        .build()
        .unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 0);
    let first = client.get_or_create_async_client().unwrap();
    let second = client.get_or_create_async_client().unwrap();
    client.get("").send().await.unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 1);
    // What was returned is the transport itself, configured by Keel.
    for transport in [first, second] {
        let bytes = transport
            .get(format!("{}/echo", server.url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let e: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(header(&e, "x-built"), "by-keel");
    }
}

#[test]
fn the_blocking_transport_is_created_once_on_first_use() {
    let server = DemoServer::start_background().unwrap();
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .configure_blocking(move |b| {
            counter.fetch_add(1, Ordering::SeqCst);
            b
        })
        .build()
        .unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 0);
    client.get_or_create_blocking_client().unwrap();
    client.get_or_create_blocking_client().unwrap();
    client.get("").send_blocking().unwrap();
    client
        .with_headers([("X-D", "1")])
        .unwrap()
        .get("")
        .send_blocking()
        .unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_supplied_async_client_is_used_for_later_requests() {
    let server = DemoServer::start().await.unwrap();
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .header("X-Keel", "still-applied")
        .configure_async(move |b| {
            counter.fetch_add(1, Ordering::SeqCst);
            b
        })
        .build()
        .unwrap();
    let mine = keel::reqwest::Client::builder()
        .default_headers(default_header("x-mine", "1"))
        .redirect(keel::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client.set_async_client(mine).unwrap();
    let e = echo(&client.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-mine"), "1");
    assert_eq!(header(&e, "x-keel"), "still-applied");
    assert_eq!(
        built.load(Ordering::SeqCst),
        0,
        "Keel built no transport of its own"
    );

    // Replacing it again takes effect at once.
    let yours = keel::reqwest::Client::builder()
        .default_headers(default_header("x-yours", "2"))
        .build()
        .unwrap();
    client.set_async_client(yours).unwrap();
    let e = echo(&client.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-yours"), "2");
    assert!(e["headers"].get("x-mine").is_none());
}

#[test]
fn a_supplied_blocking_client_is_used_for_later_requests() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    // One created by Keel first, then replaced.
    client.get("").send_blocking().unwrap();
    let mine = keel::reqwest::blocking::Client::builder()
        .default_headers(default_header("x-mine", "blocking"))
        .build()
        .unwrap();
    client.set_blocking_client(mine).unwrap();
    let e = echo(&client.get("").send_blocking().unwrap());
    assert_eq!(header(&e, "x-mine"), "blocking");
    // The async side is separate and still Keel's own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(async { echo(&client.get("").send().await.unwrap()) });
    assert!(e["headers"].get("x-mine").is_none());
}

#[tokio::test]
async fn configure_async_is_applied_after_keels_own_settings() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .configure_async(|b| b.user_agent("keel-test-agent/1"))
        .build()
        .unwrap();
    let e = echo(&client.get("").send().await.unwrap());
    assert_eq!(header(&e, "user-agent"), "keel-test-agent/1");
    // A request header still wins over the transport's default.
    let e = echo(
        &client
            .get("")
            .header("User-Agent", "per-request")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(header(&e, "user-agent"), "per-request");
}

#[test]
fn configure_blocking_is_applied() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .configure_blocking(|b| b.user_agent("keel-blocking-agent/1"))
        .build()
        .unwrap();
    let e = echo(&client.get("").send_blocking().unwrap());
    assert_eq!(header(&e, "user-agent"), "keel-blocking-agent/1");
}
