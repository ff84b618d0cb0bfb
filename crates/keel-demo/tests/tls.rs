//! HTTPS with a generated CA: trusted clients connect, others fail.

mod common;
use common::RespJson as _;

use std::time::Duration;

use keel_demo::DemoServer;
use serde_json::Value;

fn trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn trusted_client_connects_over_ip_and_localhost() {
    let server = DemoServer::start_tls().await.unwrap();
    assert!(server.is_tls());
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let c = trusting(&server.ca_pem());
    let resp = c
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // ALPN picks HTTP/2.
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);

    let resp = c
        .get(format!("{}/echo", server.localhost_url()))
        .send()
        .await
        .unwrap();
    let echo: Value = resp.json_value().await;
    assert_eq!(echo["method"], "GET");

    let (_, doc): (_, Value) = {
        let r = c
            .get(format!("{}/openapi.json", server.url()))
            .send()
            .await
            .unwrap();
        (r.status(), r.json_value().await)
    };
    assert_eq!(doc["servers"][0]["url"], server.url());
}

#[tokio::test]
async fn untrusting_client_fails_verification() {
    let server = DemoServer::start_tls().await.unwrap();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let err = c
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let chain = format!("{err:?}").to_lowercase();
    assert!(chain.contains("certificate"), "{chain}");

    // Another server's CA is no good either.
    let other = DemoServer::start_tls().await.unwrap();
    let wrong = trusting(&other.ca_pem());
    assert!(wrong
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn plain_http_to_tls_port_fails() {
    let server = DemoServer::start_tls().await.unwrap();
    let url = server.url().replacen("https://", "http://", 1);
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(c.get(format!("{url}/health")).send().await.is_err());
}

#[tokio::test]
async fn connection_faults_over_tls() {
    let server = DemoServer::start_tls().await.unwrap();
    let c = trusting(&server.ca_pem());
    let url = format!("{}/fault/close?key=tls-close", server.url());
    assert!(c.get(&url).send().await.is_err());
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
}

#[test]
fn background_tls_with_blocking_client() {
    let server = DemoServer::start_tls_background().unwrap();
    let c = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let resp = c.get(format!("{}/bench", server.url())).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert!(server.ca_pem().contains("BEGIN CERTIFICATE"));
}
