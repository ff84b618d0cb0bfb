//! Derived clients: each `with_*` returns a new client, leaves the original
//! as it was, and shares the original's transport and connections.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{echo, header, header_values, CountingProxy};
use keel::{Error, HttpClient, Resilience};
use keel_demo::DemoServer;

fn base(server_url: &str) -> HttpClient {
    HttpClient::builder(format!("{server_url}/echo"))
        .header("X-Level", "client")
        .cookie("a", "1")
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_with_method_leaves_the_original_untouched() {
    let server = DemoServer::start().await.unwrap();
    let original = base(&server.url());

    let h = original.with_headers([("X-Level", "derived")]).unwrap();
    let c = original.with_cookies([("a", "2")]).unwrap();
    let t = original.with_timeout(Duration::from_millis(50)).unwrap();
    let r = original.with_resilience(Resilience::none());
    let u = original.with_raise_on_unexpected_status(true);

    // Accessors of the original are unchanged.
    assert_eq!(
        original.headers().get("x-level").unwrap(),
        "client",
        "with_headers"
    );
    assert_eq!(
        original.timeout(),
        Some(Duration::from_secs(5)),
        "with_timeout"
    );
    assert!(!original.raise_on_unexpected_status(), "with_raise…");
    // … and so is what the original sends.
    let e = echo(&original.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-level"), "client");
    assert_eq!(header(&e, "cookie"), "a=1");
    original
        .get("/x")
        .documented([201])
        .send()
        .await
        .expect("the original still does not raise");
    let slow = format!("{}/slow?ms=300", server.url());
    original
        .get(&slow)
        .send()
        .await
        .expect("the original keeps its 5 s timeout");

    // The derived clients do what they were derived for.
    assert_eq!(
        header(&echo(&h.get("").send().await.unwrap()), "x-level"),
        "derived"
    );
    assert_eq!(
        header(&echo(&c.get("").send().await.unwrap()), "cookie"),
        "a=2"
    );
    assert_eq!(t.timeout(), Some(Duration::from_millis(50)));
    assert!(matches!(
        t.get(&slow).send().await,
        Err(Error::Timeout { .. })
    ));
    assert!(u.raise_on_unexpected_status());
    assert!(matches!(
        u.get("/x").documented([201]).send().await,
        Err(Error::UnexpectedStatus { .. })
    ));
    // with_resilience keeps everything else of the original.
    let e = echo(&r.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-level"), "client");
    assert_eq!(header(&e, "cookie"), "a=1");
    assert_eq!(r.timeout(), Some(Duration::from_secs(5)));

    // Derived clients derive in turn, each from its own parent.
    let hh = h.with_headers([("X-Second", "2")]).unwrap();
    let e = echo(&hh.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-level"), "derived");
    assert_eq!(header(&e, "x-second"), "2");
    assert!(header_values(&echo(&h.get("").send().await.unwrap()), "x-second").is_empty());
}

#[tokio::test]
async fn derived_clients_share_the_pool_and_independent_ones_do_not() {
    let server = DemoServer::start().await.unwrap();
    let original = base(&server.url());
    let derived = [
        original.with_headers([("X-A", "1")]).unwrap(),
        original.with_cookies([("b", "2")]).unwrap(),
        original.with_timeout(Duration::from_secs(1)).unwrap(),
        original.with_resilience(Resilience::none()),
        original.with_raise_on_unexpected_status(true),
    ];
    for d in &derived {
        assert!(original.shares_pool_with(d), "{d:?}");
        assert!(d.shares_pool_with(&original));
    }
    assert!(derived[0]
        .with_timeout(Duration::from_secs(2))
        .unwrap()
        .shares_pool_with(&original));
    assert!(original.shares_pool_with(&original.clone()));
    let other = base(&server.url());
    assert!(!original.shares_pool_with(&other));
}

#[tokio::test]
async fn a_derived_client_uses_the_one_transport_of_its_original() {
    let server = DemoServer::start().await.unwrap();
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let original = HttpClient::builder(format!("{}/echo", server.url()))
        .configure_transport(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let derived = original.with_headers([("X-D", "1")]).unwrap();
    let derived2 = derived.with_timeout(Duration::from_secs(3)).unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 0, "transports are lazy");
    derived.get("").send().await.unwrap();
    original.get("").send().await.unwrap();
    derived2.get("").send().await.unwrap();
    original.get_or_create_async_client().unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 1, "one transport for all");

    // A transport set on the derived client is the original's too.
    let supplied = Tagging(keel::transport::HyperTransport::new().unwrap());
    derived.set_async_client(Arc::new(supplied)).unwrap();
    let e = echo(&original.get("").send().await.unwrap());
    assert_eq!(header(&e, "x-supplied"), "yes");
}

/// A transport that tags every request, over Keel's own.
struct Tagging(keel::transport::HyperTransport);

impl keel::transport::Transport for Tagging {
    fn send(
        &self,
        mut request: keel::http::Request<keel::transport::Body>,
    ) -> keel::transport::TransportFuture {
        request
            .headers_mut()
            .insert("x-supplied", keel::HeaderValue::from_static("yes"));
        keel::transport::Transport::send(&self.0, request)
    }
}

#[test]
fn a_derived_client_reuses_the_originals_connection() {
    let server = DemoServer::start_background().unwrap();
    // hyper-util returns a finished connection to the pool from a task: on
    // a loaded machine the next call can now and then find the pool empty
    // and open a second connection. A derived client with a pool of its
    // own would open one more every run, so one run of up to three with a
    // single connection proves the sharing.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let proxy = CountingProxy::start(server.addr());
        let original = base(&proxy.url());
        let derived = original
            .with_headers([("X-Level", "derived")])
            .unwrap()
            .with_cookies([("z", "1")])
            .unwrap();
        for _ in 0..3 {
            assert_eq!(
                header(&echo(&original.get("").send_blocking().unwrap()), "x-level"),
                "client"
            );
            assert_eq!(
                header(&echo(&derived.get("").send_blocking().unwrap()), "x-level"),
                "derived"
            );
        }
        let shared = proxy.accepted();
        seen.push(shared);
        // An independent client opens its own.
        let other = base(&proxy.url());
        other.get("").send_blocking().unwrap();
        assert_eq!(
            proxy.accepted(),
            shared + 1,
            "an independent client has its own pool"
        );
        if shared == 1 {
            return;
        }
    }
    panic!("six requests of a client and its derived client should use one connection; per run: {seen:?}");
}

#[tokio::test]
async fn a_derived_client_reuses_the_originals_connection_async() {
    let server = DemoServer::start().await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let proxy = CountingProxy::start(server.addr());
        let original = base(&proxy.url());
        let derived = original.with_resilience(Resilience::none());
        for _ in 0..3 {
            original.get("").send().await.unwrap();
            derived.get("").send().await.unwrap();
        }
        seen.push(proxy.accepted());
        if proxy.accepted() == 1 {
            return;
        }
    }
    panic!("six requests of a client and its derived client should use one connection; per run: {seen:?}");
}

#[tokio::test]
async fn bad_input_to_a_with_method_is_an_error_and_changes_nothing() {
    let original = base("http://127.0.0.1:1");
    assert!(matches!(
        original.with_headers([("bad name", "v")]),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        original.with_cookies([("c", "semi;colon")]),
        Err(Error::InvalidConfig(_))
    ));
    // The client's own header and the default User-Agent, nothing else.
    assert_eq!(original.headers().len(), 2);
}
