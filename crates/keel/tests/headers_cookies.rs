//! Header and cookie merging: client < derived < request, and every cookie
//! in one `Cookie` header.

mod common;

use common::{echo, header, header_values};
use keel::{Error, HttpClient};
use keel_demo::DemoServer;
use serde_json::json;

fn client(server: &DemoServer) -> HttpClient {
    HttpClient::builder(format!("{}/echo", server.url()))
        .header("X-Level", "client")
        .header("X-Client-Only", "c")
        .cookie("a", "1")
        .cookie("b", "2")
        .build()
        .unwrap()
}

#[tokio::test]
async fn request_beats_derived_beats_client_headers() {
    let server = DemoServer::start().await.unwrap();
    let base = client(&server);
    let derived = base
        .with_headers([("X-Level", "derived"), ("X-Derived-Only", "d")])
        .unwrap();

    let e = echo(&base.get("/h").send().await.unwrap());
    assert_eq!(header(&e, "x-level"), "client");
    assert_eq!(header(&e, "x-client-only"), "c");
    assert!(header_values(&e, "x-derived-only").is_empty());

    let e = echo(&derived.get("/h").send().await.unwrap());
    assert_eq!(header(&e, "x-level"), "derived");
    assert_eq!(header(&e, "x-client-only"), "c");
    assert_eq!(header(&e, "x-derived-only"), "d");

    // Case does not matter: one header, the request's value.
    let e = echo(
        &derived
            .get("/h")
            .header("x-LEVEL", "request")
            .header("X-Request-Only", "r")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(header(&e, "x-level"), "request");
    assert_eq!(header(&e, "x-derived-only"), "d");
    assert_eq!(header(&e, "x-request-only"), "r");

    // The request's header did not stick to the client.
    let e = echo(&derived.get("/h").send().await.unwrap());
    assert_eq!(header(&e, "x-level"), "derived");
    assert!(header_values(&e, "x-request-only").is_empty());
}

#[tokio::test]
async fn a_later_builder_header_of_the_same_name_wins() {
    let server = DemoServer::start().await.unwrap();
    let c = HttpClient::builder(format!("{}/echo", server.url()))
        .header("X-Dup", "first")
        .headers([("x-dup", "second")])
        .build()
        .unwrap();
    let e = echo(&c.get("").send().await.unwrap());
    assert_eq!(header_values(&e, "x-dup"), vec!["second"]);
}

#[tokio::test]
async fn cookies_merge_by_name_into_one_cookie_header() {
    let server = DemoServer::start().await.unwrap();
    let base = client(&server);
    let derived = base.with_cookies([("b", "3"), ("c", "4")]).unwrap();

    let e = echo(&base.get("").send().await.unwrap());
    assert_eq!(header(&e, "cookie"), "a=1; b=2");

    let e = echo(&derived.get("").send().await.unwrap());
    assert_eq!(header(&e, "cookie"), "a=1; b=3; c=4");

    let e = echo(
        &derived
            .get("")
            .cookie("c", "5")
            .cookie("d", "6")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(header(&e, "cookie"), "a=1; b=3; c=5; d=6");
    assert_eq!(
        e["cookies"],
        json!({"a": "1", "b": "3", "c": "5", "d": "6"})
    );

    // Neither the original nor the derived client picked up the request's.
    let e = echo(&derived.get("").send().await.unwrap());
    assert_eq!(header(&e, "cookie"), "a=1; b=3; c=4");
    let e = echo(&base.get("").send().await.unwrap());
    assert_eq!(header(&e, "cookie"), "a=1; b=2");
}

#[tokio::test]
async fn request_cookies_alone_make_a_cookie_header() {
    let server = DemoServer::start().await.unwrap();
    let plain = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let e = echo(&plain.get("").send().await.unwrap());
    assert!(header_values(&e, "cookie").is_empty());
    let e = echo(
        &plain
            .get("")
            .cookie("x", "1")
            .cookie("y", "\"quoted\"")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(header(&e, "cookie"), "x=1; y=\"quoted\"");
}

#[tokio::test]
async fn a_cookie_header_is_refused_so_cookies_always_merge() {
    let server = DemoServer::start().await.unwrap();
    let base = client(&server);
    match base.get("").header("Cookie", "z=9").send().await {
        Err(Error::InvalidRequest(msg)) => assert!(msg.contains("cookie("), "{msg}"),
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    match base.with_headers([("cookie", "z=9")]) {
        Err(Error::InvalidConfig(msg)) => assert!(msg.contains("cookie("), "{msg}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    match HttpClient::builder("http://127.0.0.1:1")
        .header("Cookie", "z=9")
        .build()
    {
        Err(Error::InvalidConfig(msg)) => assert!(msg.contains("cookie("), "{msg}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_request_headers_and_cookies_fail_at_send_with_a_clear_error() {
    let server = DemoServer::start().await.unwrap();
    let base = client(&server);
    let cases: Vec<(keel::RequestBuilder, &str)> = vec![
        (base.get("").header("X Bad", "v"), "not a valid header name"),
        (
            base.get("").header("X-Ok", "line\r\nInjected: yes"),
            "not a valid header value",
        ),
        (base.get("").cookie("bad name", "v"), "cookie name"),
        (base.get("").cookie("ok", "a;b"), "cannot carry"),
    ];
    for (req, fragment) in cases {
        match req.send().await {
            Err(e @ (Error::InvalidRequest(_) | Error::InvalidConfig(_))) => {
                let msg = e.to_string();
                assert!(msg.contains(fragment), "{msg:?} lacks {fragment:?}");
                assert!(!msg.contains("Injected"), "the value is not echoed: {msg}");
            }
            other => panic!("expected a clear error, got {other:?}"),
        }
    }
}

#[test]
fn blocking_requests_merge_the_same_way() {
    let server = DemoServer::start_background().unwrap();
    let derived = client(&server)
        .with_headers([("X-Level", "derived")])
        .unwrap()
        .with_cookies([("a", "9")])
        .unwrap();
    let e = echo(
        &derived
            .get("")
            .header("X-Request-Only", "r")
            .cookie("z", "0")
            .send_blocking()
            .unwrap(),
    );
    assert_eq!(header(&e, "x-level"), "derived");
    assert_eq!(header(&e, "x-request-only"), "r");
    assert_eq!(header(&e, "cookie"), "b=2; a=9; z=0");
}
