//! Fault injection, over real HTTP on 127.0.0.1.

mod common;
use common::RespJson as _;

use std::time::{Duration, Instant, SystemTime};

use keel_demo::DemoServer;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn arrivals(c: &reqwest::Client, server: &DemoServer, key: &str) -> Value {
    c.get(format!("{}/fault/arrivals?key={key}", server.url()))
        .send()
        .await
        .unwrap()
        .json_value()
        .await
}

#[tokio::test]
async fn fail_then_succeed_and_count() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let url = format!("{}/fault/fail?times=2", server.url());
    let mut statuses = Vec::new();
    for i in 0..4 {
        let resp = c
            .post(&url)
            .header("X-Fault-Key", "fail-1")
            .header("Idempotency-Key", if i < 3 { "op-a" } else { "op-b" })
            .body("payload")
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        let body: Value = resp.json_value().await;
        assert_eq!(body["arrival"], i + 1);
    }
    assert_eq!(statuses, vec![503, 503, 200, 200]);

    let a = arrivals(&c, &server, "fail-1").await;
    assert_eq!(
        a,
        json!({
            "key": "fail-1",
            "arrivals": 4,
            "idempotency_keys": ["op-a", "op-a", "op-a", "op-b"],
            "by_idempotency_key": {"op-a": 3, "op-b": 1}
        })
    );
    // The arrivals request itself is not counted; the state agrees.
    assert_eq!(server.state().arrivals("fail-1").arrivals, 4);

    // Reset clears the key; other keys are untouched.
    let other = c
        .get(format!("{}/fault/fail?key=fail-2&status=520", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 520);
    let resp = c
        .post(format!("{}/fault/reset?key=fail-1", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(arrivals(&c, &server, "fail-1").await["arrivals"], 0);
    assert_eq!(arrivals(&c, &server, "fail-2").await["arrivals"], 1);
    let resp = c
        .get(&url)
        .header("X-Fault-Key", "fail-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
}

#[tokio::test]
async fn retry_after_seconds_and_date() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let resp = c
        .get(format!(
            "{}/fault/retry-after?key=ra-1&times=1&seconds=7",
            server.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let resp = c
        .get(format!(
            "{}/fault/retry-after?key=ra-1&times=1&seconds=7",
            server.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("retry-after").is_none());

    let resp = c
        .get(format!(
            "{}/fault/retry-after?key=ra-2&seconds=30&form=date",
            server.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let value = resp.headers()["retry-after"].to_str().unwrap().to_owned();
    let when = httpdate::parse_http_date(&value).unwrap();
    let ahead = when.duration_since(SystemTime::now()).unwrap();
    assert!(
        ahead >= Duration::from_secs(29) && ahead <= Duration::from_secs(32),
        "{value} is {ahead:?} ahead"
    );
}

#[tokio::test]
async fn delay_first_arrivals_only() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let url = format!("{}/fault/delay?key=delay-1&ms=300&times=1", server.url());
    let started = Instant::now();
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let body: Value = resp.json_value().await;
    assert_eq!(body["delayed_ms"], 300);
    let started = Instant::now();
    let body: Value = c.get(&url).send().await.unwrap().json_value().await;
    assert_eq!(body["delayed_ms"], 0);
    assert!(started.elapsed() < Duration::from_millis(300));

    // With a short client timeout the first arrival times out.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = impatient
        .get(format!("{}/fault/delay?key=delay-2&ms=2000", server.url()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn close_without_answer() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let url = format!("{}/fault/close?times=2", server.url());
    for _ in 0..2 {
        let err = c
            .post(&url)
            .header("X-Fault-Key", "close-1")
            .body("some body")
            .send()
            .await
            .unwrap_err();
        assert!(!err.is_timeout(), "{err:?}");
        assert!(err.status().is_none());
    }
    let resp = c
        .post(&url)
        .header("X-Fault-Key", "close-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json_value().await;
    assert_eq!(body, json!({"ok": true, "arrival": 3}));
    assert_eq!(server.state().arrivals("close-1").arrivals, 3);
}

#[tokio::test]
async fn close_sends_no_bytes_at_all() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = DemoServer::start().await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(
            b"GET /fault/close?key=close-raw HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .unwrap();
    // Either a clean EOF or a reset: never a byte of response.
    let _ = read;
    assert!(buf.is_empty(), "{:?}", String::from_utf8_lossy(&buf));
}

#[tokio::test]
async fn reset_mid_body() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let url = format!("{}/fault/reset-mid-body?key=rmb-1", server.url());
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let declared: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 0);
    let err = resp.bytes().await.unwrap_err();
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );

    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json_value().await;
    assert_eq!(body["arrival"], 2);
}

#[tokio::test]
async fn reset_mid_body_sends_part_of_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = DemoServer::start().await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET /fault/reset-mid-body?key=rmb-raw HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let declared: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(!body.is_empty() && body.len() < declared, "{body:?}");
}

#[tokio::test]
async fn flap_alternates() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let url = format!("{}/fault/flap?key=flap-1&period=2", server.url());
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(c.get(&url).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![503, 503, 200, 200, 503, 503, 200, 200]);
}

#[tokio::test]
async fn keys_are_independent_in_parallel() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let mut tasks = Vec::new();
    for k in 0..4 {
        let c = c.clone();
        let url = format!("{}/fault/fail?times=1", server.url());
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..3 {
                let resp = c
                    .get(&url)
                    .header("X-Fault-Key", format!("par-{k}"))
                    .send()
                    .await
                    .unwrap();
                codes.push(resp.status().as_u16());
            }
            codes
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), vec![503, 200, 200]);
    }
    for k in 0..4 {
        assert_eq!(server.state().arrivals(&format!("par-{k}")).arrivals, 3);
    }
}

#[tokio::test]
async fn header_key_wins_over_query_and_default_key_exists() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    c.get(format!("{}/fault/fail?times=0&key=q", server.url()))
        .header("X-Fault-Key", "h")
        .send()
        .await
        .unwrap();
    c.get(format!("{}/fault/fail?times=0", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(server.state().arrivals("h").arrivals, 1);
    assert_eq!(server.state().arrivals("q").arrivals, 0);
    assert_eq!(server.state().arrivals("default").arrivals, 1);
}
