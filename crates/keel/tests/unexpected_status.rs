//! `raise_on_unexpected_status` and documented statuses, against
//! `/status/{code}` and `/undocumented`.

use keel::{Error, HttpClient, StatusCode, StatusMatch};
use keel_demo::DemoServer;
use serde_json::{json, Value};

fn clients(url: &str) -> (HttpClient, HttpClient) {
    let lenient = HttpClient::new(url).unwrap();
    let strict = lenient.with_raise_on_unexpected_status(true);
    (lenient, strict)
}

#[tokio::test]
async fn an_undocumented_status_raises_with_status_and_body_excerpt() {
    let server = DemoServer::start().await.unwrap();
    let (_, strict) = clients(&server.url());
    let err = strict
        .get("/status/404?token=s3cret")
        .documented([200])
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::UnexpectedStatus {
            status,
            url,
            body_excerpt,
        } => {
            assert_eq!(*status, StatusCode::NOT_FOUND);
            assert!(url.ends_with("/status/404?…"), "{url}");
            assert_eq!(body_excerpt, r#"{"status":404}"#);
        }
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    let msg = err.to_string();
    assert!(msg.contains("404"), "{msg}");
    assert!(msg.contains(r#"{"status":404}"#), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");

    let err = strict
        .get("/undocumented")
        .documented([200])
        .send_json::<Value>()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::IM_A_TEAPOT));
    assert!(err.to_string().contains("teapot"), "{err}");
}

#[tokio::test]
async fn without_raising_the_response_comes_back_unparsed() {
    let server = DemoServer::start().await.unwrap();
    let (lenient, _) = clients(&server.url());
    let resp = lenient
        .get("/undocumented")
        .documented([200])
        .send_json::<Value>()
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::IM_A_TEAPOT);
    assert!(resp.parsed.is_none());
    assert!(resp.text().unwrap().contains("teapot"));

    let resp = lenient
        .get("/status/500")
        .documented([200])
        .send_json::<Value>()
        .await
        .unwrap();
    assert_eq!(resp.status, 500);
    assert!(resp.parsed.is_none());
    assert_eq!(resp.json::<Value>().unwrap(), json!({"status": 500}));
}

#[tokio::test]
async fn a_documented_status_is_parsed_either_way() {
    let server = DemoServer::start().await.unwrap();
    let (lenient, strict) = clients(&server.url());
    for client in [&lenient, &strict] {
        let resp = client
            .get("/status/200")
            .documented([200])
            .send_json::<Value>()
            .await
            .unwrap();
        assert_eq!(resp.parsed, Some(json!({"status": 200})));
        // A documented error status is parsed too (its own type is the
        // caller's business).
        let resp = client
            .get("/status/404")
            .documented([200, 404])
            .send_json::<Value>()
            .await
            .unwrap();
        assert_eq!(resp.status, 404);
        assert_eq!(resp.parsed, Some(json!({"status": 404})));
    }
}

#[tokio::test]
async fn statuses_outside_the_iana_list_work() {
    let server = DemoServer::start().await.unwrap();
    let (lenient, strict) = clients(&server.url());
    for code in [520u16, 599, 299, 999] {
        let resp = lenient
            .get(&format!("/status/{code}"))
            .documented([200])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status.as_u16(), code);
        let err = strict
            .get(&format!("/status/{code}"))
            .documented([200])
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(code));
        let ok = strict
            .get(&format!("/status/{code}"))
            .documented([code])
            .send_json::<Value>()
            .await
            .unwrap();
        assert_eq!(ok.parsed, Some(json!({"status": code})));
    }
}

#[tokio::test]
async fn status_classes_and_default_match() {
    let server = DemoServer::start().await.unwrap();
    let (_, strict) = clients(&server.url());
    let ok = strict
        .get("/status/201")
        .documented([StatusMatch::Class(2)])
        .send_json::<Value>()
        .await
        .unwrap();
    assert_eq!(ok.parsed, Some(json!({"status": 201})));
    let err = strict
        .get("/status/404")
        .documented([StatusMatch::Class(2), StatusMatch::Code(500)])
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    let resp = strict
        .get("/status/599")
        .documented([StatusMatch::Code(200), StatusMatch::Default])
        .send_json::<Value>()
        .await
        .unwrap();
    assert_eq!(resp.parsed, Some(json!({"status": 599})));

    assert!(StatusMatch::Class(5).matches(StatusCode::from_u16(599).unwrap()));
    assert!(!StatusMatch::Class(5).matches(StatusCode::from_u16(499).unwrap()));
    assert!(StatusMatch::from(204).matches(StatusCode::NO_CONTENT));
    assert!(StatusMatch::from(StatusCode::OK).matches(StatusCode::OK));
}

#[tokio::test]
async fn without_documented_statuses_nothing_is_unexpected() {
    let server = DemoServer::start().await.unwrap();
    let (_, strict) = clients(&server.url());
    let resp = strict.get("/status/503").send().await.unwrap();
    assert_eq!(resp.status, 503);
    // send_json parses success statuses only when nothing is documented.
    let resp = strict
        .get("/status/503")
        .send_json::<Value>()
        .await
        .unwrap();
    assert!(resp.parsed.is_none());
    let resp = strict
        .get("/status/200")
        .send_json::<Value>()
        .await
        .unwrap();
    assert_eq!(resp.parsed, Some(json!({"status": 200})));
    // error_for_status is the explicit check.
    let err = strict
        .get("/status/503")
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
}

#[tokio::test]
async fn an_empty_documented_success_parses_as_null() {
    let server = DemoServer::start().await.unwrap();
    let (_, strict) = clients(&server.url());
    // DELETE answers 204 without a body.
    let resp = strict
        .delete("/items/{id}")
        .path_param("id", 3)
        .documented([204])
        .send_json::<()>()
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::NO_CONTENT);
    assert_eq!(resp.parsed, Some(()));
    let resp = strict
        .get("/status/204")
        .send_json::<Option<Value>>()
        .await
        .unwrap();
    assert_eq!(resp.parsed, Some(None));
    // A body that does not fit the type is still a decode error.
    let err = strict
        .get("/openapi.json")
        .documented([200])
        .send_json::<u32>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Decode { status, .. } if status == 200),
        "{err:?}"
    );
}

#[test]
fn blocking_requests_raise_the_same_way() {
    let server = DemoServer::start_background().unwrap();
    let (lenient, strict) = clients(&server.url());
    let err = strict
        .get("/status/520")
        .documented([200])
        .send_blocking()
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedStatus { status, body_excerpt, .. }
            if status.as_u16() == 520 && body_excerpt.contains("520")),
        "{err:?}"
    );
    let resp = lenient
        .get("/status/520")
        .documented([200])
        .send_json_blocking::<Value>()
        .unwrap();
    assert_eq!(resp.status.as_u16(), 520);
    assert!(resp.parsed.is_none());
}

#[tokio::test]
async fn a_long_body_is_cut_to_a_short_excerpt() {
    let server = DemoServer::start().await.unwrap();
    let (_, strict) = clients(&server.url());
    let long = "x".repeat(5_000);
    let err = strict
        .post("/echo")
        .body(long, "text/plain")
        .documented([201])
        .send()
        .await
        .unwrap_err();
    match err {
        Error::UnexpectedStatus {
            status,
            body_excerpt,
            ..
        } => {
            assert_eq!(status, 200);
            assert!(body_excerpt.ends_with('…'), "{body_excerpt}");
            assert!(
                body_excerpt.len() <= 512 + '…'.len_utf8(),
                "{}",
                body_excerpt.len()
            );
            assert!(body_excerpt.starts_with('{'), "{body_excerpt}");
        }
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    // An empty body says so.
    let err = strict
        .get("/status/204")
        .documented([200])
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedStatus { body_excerpt, .. } if body_excerpt == "(empty body)"),
        "{err:?}"
    );
}
