//! TLS: verification on by default; a private CA trusted through PEM text or
//! a file; verification off on request; bad CA input refused at build time.

mod common;

use keel::{Error, HttpClient};
use keel_demo::DemoServer;

#[tokio::test]
async fn an_untrusted_certificate_is_refused_by_default() {
    let server = DemoServer::start_tls().await.unwrap();
    assert!(server.url().starts_with("https://"));
    let client = HttpClient::new(server.url()).unwrap();
    let err = client.get("/health").send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    match &err {
        Error::Connect {
            url, message, kind, ..
        } => {
            assert_eq!(*kind, keel::ConnectErrorKind::Tls, "{message}");
            assert!(url.starts_with("https://127.0.0.1:"), "{url}");
            assert!(message.to_lowercase().contains("certificate"), "{message}");
            assert!(
                message.contains("ca_pem"),
                "the message says what to do: {message}"
            );
        }
        other => panic!("expected Error::Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn the_servers_ca_as_pem_text_is_trusted() {
    let server = DemoServer::start_tls().await.unwrap();
    let client = HttpClient::builder(server.url())
        .ca_pem(server.ca_pem())
        .build()
        .unwrap();
    let resp = client.get("/health").send().await.unwrap();
    assert_eq!(resp.status, 200);
    // The host name is verified too: the certificate names localhost.
    let by_name = HttpClient::builder(server.localhost_url())
        .ca_pem(server.ca_pem())
        .build()
        .unwrap();
    assert_eq!(by_name.get("/health").send().await.unwrap().status, 200);
}

#[tokio::test]
async fn a_ca_from_another_server_does_not_help() {
    let server = DemoServer::start_tls().await.unwrap();
    let other = DemoServer::start_tls().await.unwrap();
    let client = HttpClient::builder(server.url())
        .ca_pem(other.ca_pem())
        .build()
        .unwrap();
    assert!(client.get("/health").send().await.unwrap_err().is_connect());
}

#[tokio::test]
async fn the_servers_ca_from_a_file_is_trusted() {
    let server = DemoServer::start_tls().await.unwrap();
    let path = common::temp_path("ca.pem");
    std::fs::write(&path, server.ca_pem()).unwrap();
    let client = HttpClient::builder(server.url()).ca_file(&path).build();
    let _ = std::fs::remove_file(&path);
    let resp = client.unwrap().get("/health").send().await.unwrap();
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn verification_can_be_turned_off() {
    let server = DemoServer::start_tls().await.unwrap();
    let client = HttpClient::builder(server.url())
        .verify_ssl(false)
        .build()
        .unwrap();
    assert_eq!(client.get("/health").send().await.unwrap().status, 200);
}

#[test]
fn bad_ca_input_is_a_builder_error() {
    let missing = common::temp_path("no-such-ca.pem");
    let garbage_inside_markers =
        "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let cases: Vec<(keel::HttpClientBuilder, &str)> = vec![
        (
            HttpClient::builder("https://127.0.0.1:1").ca_pem("not a pem at all"),
            "holds no certificate",
        ),
        (
            HttpClient::builder("https://127.0.0.1:1").ca_pem(""),
            "holds no certificate",
        ),
        (
            HttpClient::builder("https://127.0.0.1:1").ca_pem(garbage_inside_markers),
            "not a valid",
        ),
        (
            HttpClient::builder("https://127.0.0.1:1").ca_file(&missing),
            "cannot read CA file",
        ),
    ];
    for (builder, fragment) in cases {
        match builder.build() {
            Err(Error::InvalidConfig(msg)) => {
                assert!(msg.contains(fragment), "{msg:?} lacks {fragment:?}")
            }
            other => panic!("expected InvalidConfig containing {fragment:?}, got {other:?}"),
        }
    }
}

#[test]
fn blocking_requests_verify_the_same_way() {
    let server = DemoServer::start_tls_background().unwrap();
    let strict = HttpClient::new(server.url()).unwrap();
    assert!(strict
        .get("/health")
        .send_blocking()
        .unwrap_err()
        .is_connect());
    let trusting = HttpClient::builder(server.url())
        .ca_pem(server.ca_pem())
        .build()
        .unwrap();
    assert_eq!(trusting.get("/health").send_blocking().unwrap().status, 200);
    let lax = HttpClient::builder(server.url())
        .verify_ssl(false)
        .build()
        .unwrap();
    assert_eq!(lax.get("/health").send_blocking().unwrap().status, 200);
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let server = keel_demo::DemoServer::builder()
        .client_auth(true)
        .start()
        .await
        .unwrap();
    let (cert, key) = server.client_identity_pem().unwrap();
    // Without a client certificate the server refuses the handshake.
    let anonymous = HttpClient::builder(server.url())
        .ca_pem(server.ca_pem())
        .build()
        .unwrap();
    let err = anonymous.get("/health").send().await.unwrap_err();
    assert!(
        err.is_connect() || matches!(err, Error::Transport { .. }),
        "{err:?}"
    );
    // With it, the request goes through.
    let client = HttpClient::builder(server.url())
        .ca_pem(server.ca_pem())
        .client_certificate_pem(&cert, &key)
        .build()
        .unwrap();
    let resp = client.get("/health").send().await.unwrap();
    assert_eq!(resp.status, 200);
    // The key is never printed.
    let shown = format!("{client:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}

#[test]
fn a_bad_client_identity_is_refused_at_build_time() {
    let server = keel_demo::DemoServer::builder()
        .client_auth(true)
        .start_background()
        .unwrap();
    let (cert, key) = server.client_identity_pem().unwrap();
    for (c, k, needle) in [
        ("garbage".to_owned(), key.clone(), "no certificate"),
        (cert.clone(), "not a key".to_owned(), "private key"),
        (server.ca_pem(), key.clone(), "do not work together"),
    ] {
        match HttpClient::builder(server.url())
            .client_certificate_pem(c, k)
            .build()
        {
            Err(Error::InvalidConfig(m)) => assert!(m.contains(needle), "{needle}: {m}"),
            other => panic!("{needle}: {other:?}"),
        }
    }
}
