//! Request bodies (JSON, form, multipart, raw bytes), per-request overrides
//! and the parsing send methods, checked against what `/echo` received.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{echo, header, header_values};
use keel::{Error, HttpClient, Multipart, Response};
use keel_demo::DemoServer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

fn received_bytes(e: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(e["body_base64"].as_str().unwrap())
        .unwrap()
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct NewItem {
    name: String,
    price: f64,
    tags: Vec<String>,
}

#[tokio::test]
async fn a_json_body_is_sent_with_its_content_type() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let item = NewItem {
        name: "ünïcode \"quoted\"".into(),
        price: 1.5,
        tags: vec!["a".into()],
    };
    let e = echo(&client.post("/echo").json(&item).send().await.unwrap());
    assert_eq!(e["method"], "POST");
    assert_eq!(e["content_type"], "application/json");
    let sent: NewItem = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, item);
    assert_eq!(e["content_length"], e["body_length"]);

    // Against a real endpoint: the typed round trip.
    let created = client
        .post("/items")
        .json(&item)
        .documented([201])
        .send_json::<Value>()
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.parsed.as_ref().unwrap()["name"], item.name.as_str());
    assert!(created.header("location").unwrap().starts_with("/items/"));
}

#[tokio::test]
async fn a_form_body_is_url_encoded() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let e = echo(
        &client
            .post("/echo")
            .form(&[("a", "1"), ("b", "two words&more=")])
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(e["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(e["body"], "a=1&b=two+words%26more%3D");
}

#[tokio::test]
async fn a_multipart_body_has_its_boundary_and_every_part() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let binary: Vec<u8> = (0u8..=255).collect();
    let form = Multipart::new()
        .text("title", "the \"report\"")
        .bytes(
            "file",
            binary.clone(),
            Some("data.bin"),
            Some("application/octet-stream"),
        )
        .json("meta", &json!({"k": [1, 2]}))
        .unwrap();
    let e = echo(&client.post("/echo").multipart(form).send().await.unwrap());

    let ct = e["content_type"].as_str().unwrap();
    let boundary = ct
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("content type {ct}"));
    assert!(!boundary.is_empty());
    let body = received_bytes(&e);
    let parts = split_multipart(&body, boundary);
    assert_eq!(parts.len(), 3, "{parts:?}");

    assert_eq!(
        parts[0].0,
        vec!["Content-Disposition: form-data; name=\"title\""]
    );
    assert_eq!(parts[0].1, b"the \"report\"");
    assert_eq!(
        parts[1].0,
        vec![
            "Content-Disposition: form-data; name=\"file\"; filename=\"data.bin\"",
            "Content-Type: application/octet-stream"
        ]
    );
    assert_eq!(parts[1].1, binary, "binary data arrives byte for byte");
    assert_eq!(
        parts[2].0,
        vec![
            "Content-Disposition: form-data; name=\"meta\"",
            "Content-Type: application/json"
        ]
    );
    assert_eq!(parts[2].1, br#"{"k":[1,2]}"#);
}

#[tokio::test]
async fn multipart_names_cannot_break_out_of_their_header() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let form = Multipart::new().bytes(
        "na\"me\r\nX-Injected: 1",
        b"v".to_vec(),
        Some("a\"b.txt"),
        Some("text/plain\r\nX-Injected: 2"),
    );
    let e = echo(&client.post("/echo").multipart(form).send().await.unwrap());
    let boundary = e["content_type"]
        .as_str()
        .unwrap()
        .split("boundary=")
        .nth(1)
        .unwrap()
        .to_owned();
    let parts = split_multipart(&received_bytes(&e), &boundary);
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0].0,
        vec![
            "Content-Disposition: form-data; name=\"na%22me%0D%0AX-Injected: 1\"; filename=\"a%22b.txt\"",
            "Content-Type: text/plainX-Injected: 2"
        ]
    );
}

/// Splits a multipart body into (header lines, data) per part.
fn split_multipart(body: &[u8], boundary: &str) -> Vec<(Vec<String>, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let text_positions: Vec<usize> = body
        .windows(delimiter.len())
        .enumerate()
        .filter(|(_, w)| *w == delimiter.as_bytes())
        .map(|(i, _)| i)
        .collect();
    assert!(text_positions.len() >= 2, "no delimiters");
    assert_eq!(text_positions[0], 0, "the body starts with a delimiter");
    let last = *text_positions.last().unwrap();
    assert_eq!(
        &body[last..],
        format!("--{boundary}--\r\n").as_bytes(),
        "the body ends with the close delimiter"
    );
    let mut parts = Vec::new();
    for pair in text_positions.windows(2) {
        let start = pair[0] + delimiter.len() + 2; // past "\r\n"
        let end = pair[1] - 2; // before "\r\n"
        let part = &body[start..end];
        let split = part
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("headers end");
        let headers = String::from_utf8(part[..split].to_vec()).unwrap();
        parts.push((
            headers.split("\r\n").map(str::to_owned).collect(),
            part[split + 4..].to_vec(),
        ));
    }
    parts
}

#[tokio::test]
async fn raw_bytes_are_sent_as_they_are_with_their_content_type() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let bytes = vec![0u8, 159, 146, 150, 255, b'\n', b'\r'];
    let e = echo(
        &client
            .put("/echo/raw")
            .body(bytes.clone(), "application/x-custom; v=1")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(e["method"], "PUT");
    assert_eq!(e["content_type"], "application/x-custom; v=1");
    assert_eq!(received_bytes(&e), bytes);
    assert_eq!(e["body_length"], 7);

    // A request-level Content-Type replaces the body's.
    let e = echo(
        &client
            .post("/echo")
            .body("x", "text/plain")
            .header("Content-Type", "text/csv")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(header_values(&e, "content-type"), vec!["text/csv"]);
    match client.post("/echo").body("x", "bad\ntype").send().await {
        Err(Error::InvalidRequest(msg)) => assert!(msg.contains("content type"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn headers_query_and_timeout_are_per_request_without_a_new_client() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let resp = client
        .get("/echo")
        .header("X-Once", "1")
        .query("a", 1)
        .query("a", 2)
        .query_opt("skip", None::<&str>)
        .query_opt("b", Some("x"))
        .query_pairs([("c", "3")])
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    let e = echo(&resp);
    assert_eq!(header(&e, "x-once"), "1");
    assert_eq!(e["query"], "a=1&a=2&b=x&c=3");
    assert!(client
        .get("/slow?ms=400")
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .is_ok());
    // Nothing stuck to the client.
    let e = echo(&client.get("/echo").send().await.unwrap());
    assert!(header_values(&e, "x-once").is_empty());
    assert!(e.get("query").is_none());
    assert!(client
        .get("/slow?ms=400")
        .send()
        .await
        .unwrap_err()
        .is_timeout());
}

#[tokio::test]
async fn send_json_and_send_with_parse_the_body() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();

    #[derive(Deserialize, Debug, PartialEq)]
    struct Item {
        id: u64,
        name: String,
    }
    let resp: Response<Item> = client
        .get("/items/{id}")
        .path_param("id", 1)
        .documented([200])
        .send_json()
        .await
        .unwrap();
    assert_eq!(resp.parsed.as_ref().map(|i| i.id), Some(1));
    assert!(resp.is_success());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.attempts(), 1);
    let parsed_again: Item = resp.json().unwrap();
    assert_eq!(Some(&parsed_again), resp.parsed.as_ref());

    let resp = client
        .post("/echo")
        .body("hello", "text/plain")
        .send_with(|r| {
            Ok(r.json::<Value>()?["body"]
                .as_str()
                .unwrap_or_default()
                .len())
        })
        .await
        .unwrap();
    assert_eq!(resp.parsed, Some(5));
    assert_eq!(resp.into_parsed(), Some(5));

    // A parser's error is the call's error.
    let err = client
        .get("/health")
        .send_with(|r| r.json::<Vec<u8>>())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    // A plain send documents everything: parsed is Some(()).
    let resp = client.get("/health").send().await.unwrap();
    assert_eq!(resp.parsed, Some(()));
    assert_eq!(resp.text().unwrap(), r#"{"status":"ok"}"#);
    assert_eq!(resp.content.as_ref(), br#"{"status":"ok"}"#);
}

#[test]
fn blocking_bodies_and_parsers_work_the_same() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let resp = client
        .post("/echo")
        .json(&json!({"n": 1}))
        .send_json_blocking::<Value>()
        .unwrap();
    assert_eq!(resp.parsed.unwrap()["body"], r#"{"n":1}"#);
    let resp = client
        .post("/echo")
        .multipart(Multipart::new().text("a", "b"))
        .send_with_blocking(|r| Ok(r.json::<Value>()?["content_type"].to_string()))
        .unwrap();
    assert!(resp
        .parsed
        .unwrap()
        .contains("multipart/form-data; boundary="));
}
