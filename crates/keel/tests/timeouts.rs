//! Request timeouts: a distinct `Error::Timeout`, per client, per derived
//! client and per request; 30 s by default.

use std::time::{Duration, Instant};

use keel::{Error, HttpClient, DEFAULT_TIMEOUT};
use keel_demo::DemoServer;

#[test]
fn the_default_timeout_is_30_seconds() {
    assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(30));
    let client = HttpClient::new("https://api.example.com").unwrap();
    assert_eq!(client.timeout(), Some(DEFAULT_TIMEOUT));
    let client = HttpClient::builder("https://api.example.com")
        .no_timeout()
        .build()
        .unwrap();
    assert_eq!(client.timeout(), None);
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_error_naming_the_limit() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .get("/slow")
        .query("ms", 5_000)
        .query("token", "s3cret")
        .send()
        .await
        .unwrap_err();
    // Generous bound: it did not wait for the server's 5 s.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    match &err {
        Error::Timeout { url, after } => {
            assert_eq!(*after, Duration::from_millis(200));
            assert!(url.ends_with("/slow?…"), "{url}");
        }
        other => panic!("expected Error::Timeout, got {other:?}"),
    }
    assert!(err.is_timeout());
    assert!(!err.is_connect());
    let msg = err.to_string();
    assert!(msg.contains("timed out after 200ms"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[tokio::test]
async fn a_request_timeout_overrides_the_clients_both_ways() {
    let server = DemoServer::start().await.unwrap();
    let short = HttpClient::builder(server.url())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let resp = short
        .get("/slow?ms=400")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the request's longer timeout applies");
    assert_eq!(resp.status, 200);

    let long = HttpClient::new(server.url()).unwrap();
    let err = long
        .get("/slow?ms=5000")
        .timeout(Duration::from_millis(150))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout { after, .. } if after == Duration::from_millis(150)),
        "{err:?}"
    );
}

#[tokio::test]
async fn with_timeout_applies_to_the_derived_client_only() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let hasty = client.with_timeout(Duration::from_millis(100)).unwrap();
    assert!(matches!(
        hasty.get("/slow?ms=3000").send().await,
        Err(Error::Timeout { .. })
    ));
    client
        .get("/slow?ms=300")
        .send()
        .await
        .expect("the original keeps 30 s");
}

#[tokio::test]
async fn no_timeout_waits_for_a_slow_answer() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .no_timeout()
        .build()
        .unwrap();
    let resp = client.get("/slow?ms=200").send().await.unwrap();
    assert_eq!(resp.json::<serde_json::Value>().unwrap()["slept_ms"], 200);
}

#[tokio::test]
async fn a_zero_timeout_is_refused_everywhere() {
    match HttpClient::builder("http://127.0.0.1:1")
        .timeout(Duration::ZERO)
        .build()
    {
        Err(Error::InvalidConfig(msg)) => assert!(msg.contains("zero timeout"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let client = HttpClient::new("http://127.0.0.1:1").unwrap();
    match client.with_timeout(Duration::ZERO) {
        Err(Error::InvalidConfig(msg)) => assert!(msg.contains("zero timeout"), "{msg}"),
        other => panic!("{other:?}"),
    }
    match client.get("/").timeout(Duration::ZERO).send().await {
        Err(Error::InvalidRequest(msg)) => assert!(msg.contains("zero timeout"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocking_requests_time_out_the_same_way() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::builder(server.url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.get("/slow?ms=5000").send_blocking().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        matches!(err, Error::Timeout { after, .. } if after == Duration::from_millis(200)),
        "{err:?}"
    );
    let ok = client
        .get("/slow?ms=300")
        .timeout(Duration::from_secs(10))
        .send_blocking()
        .unwrap();
    assert_eq!(ok.status, 200);
}
