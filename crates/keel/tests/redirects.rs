//! Redirects: off by default, followed when asked, bounded, with the method
//! rules of RFC 9110 (303 → GET; 307/308 keep method and body).

mod common;

use common::{echo, header, header_values};
use keel::{Error, HttpClient, DEFAULT_MAX_REDIRECTS};
use keel_demo::DemoServer;
use serde_json::json;

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    for status in [301, 302, 303, 307, 308] {
        let resp = client
            .get("/redirect")
            .query("to", "/echo")
            .query("status", status)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status.as_u16(), status);
        assert_eq!(resp.header("location"), Some("/echo"));
        assert_eq!(resp.url().path(), "/redirect");
    }
}

#[tokio::test]
async fn followed_redirects_end_at_the_target() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    let resp = client.get("/redirect/3").send().await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.url().path(), "/echo");
    assert_eq!(echo(&resp)["method"], "GET");
}

#[tokio::test]
async fn too_many_hops_is_a_clear_error() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .max_redirects(2)
        .build()
        .unwrap();
    client
        .get("/redirect/2")
        .send()
        .await
        .expect("two hops are allowed");
    let err = client.get("/redirect/3").send().await.unwrap_err();
    match &err {
        Error::TooManyRedirects { max, url } => {
            assert_eq!(*max, 2);
            assert!(url.contains("/redirect/1"), "{url}");
        }
        other => panic!("expected TooManyRedirects, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("more than 2 redirects"), "{msg}");
    assert!(msg.contains("max_redirects"), "{msg}");

    // The default limit.
    let client = HttpClient::builder(server.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    client
        .get(&format!("/redirect/{DEFAULT_MAX_REDIRECTS}"))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        client
            .get(&format!("/redirect/{}", DEFAULT_MAX_REDIRECTS + 1))
            .send()
            .await,
        Err(Error::TooManyRedirects { .. })
    ));
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get_without_body() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    for status in [301, 302, 303] {
        let resp = client
            .post("/redirect")
            .query("to", "/echo/after")
            .query("status", status)
            .json(&json!({"a": 1}))
            .send()
            .await
            .unwrap();
        let e = echo(&resp);
        assert_eq!(e["method"], "GET", "{status}");
        assert_eq!(e["path"], "/echo/after");
        assert_eq!(e["body_length"], 0);
        assert!(
            header_values(&e, "content-type").is_empty(),
            "{status}: {e}"
        );
    }
}

#[tokio::test]
async fn temporary_and_permanent_redirects_keep_method_and_body() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    for status in [307, 308] {
        let resp = client
            .post("/redirect")
            .query("to", "/echo/after")
            .query("status", status)
            .json(&json!({"a": 1}))
            .send()
            .await
            .unwrap();
        let e = echo(&resp);
        assert_eq!(e["method"], "POST", "{status}");
        assert_eq!(e["body"], r#"{"a":1}"#);
        assert_eq!(header(&e, "content-type"), "application/json");
    }
    let e = echo(
        &client
            .put("/redirect?to=/echo/put&status=307")
            .body("raw", "text/plain")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(e["method"], "PUT");
    assert_eq!(e["body"], "raw");
}

#[tokio::test]
async fn cookies_and_credentials_stay_behind_on_another_origin() {
    let a = DemoServer::start().await.unwrap();
    let b = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(a.url())
        .follow_redirects(true)
        .header("Authorization", "Bearer s3cret")
        .header("X-Plain", "kept")
        .cookie("session", "s3cret")
        .build()
        .unwrap();
    let same = echo(&client.get("/redirect?to=/echo").send().await.unwrap());
    assert_eq!(header(&same, "authorization"), "Bearer s3cret");
    assert_eq!(header(&same, "cookie"), "session=s3cret");

    let other = client
        .get("/redirect")
        .query("to", format!("{}/echo", b.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(other.url().port(), Some(b.addr().port()));
    let e = echo(&other);
    assert!(header_values(&e, "authorization").is_empty(), "{e}");
    assert!(header_values(&e, "cookie").is_empty(), "{e}");
    assert_eq!(header(&e, "x-plain"), "kept");
}

#[test]
fn blocking_requests_follow_the_same_rules() {
    let server = DemoServer::start_background().unwrap();
    let off = HttpClient::new(server.url()).unwrap();
    assert_eq!(off.get("/redirect/1").send_blocking().unwrap().status, 302);
    let on = HttpClient::builder(server.url())
        .max_redirects(1)
        .build()
        .unwrap();
    let e = echo(
        &on.post("/redirect?to=/echo&status=303")
            .body("x", "text/plain")
            .send_blocking()
            .unwrap(),
    );
    assert_eq!(e["method"], "GET");
    assert!(matches!(
        on.get("/redirect/2").send_blocking(),
        Err(Error::TooManyRedirects { max: 1, .. })
    ));
}
