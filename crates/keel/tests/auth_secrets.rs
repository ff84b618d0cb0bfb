//! Secret hygiene: the key, secret and passphrase never appear in Debug,
//! Display, tracing output or errors; credentials never follow a redirect to
//! another origin; credentials are refused over plain http to a
//! non-loopback host unless allowed.

mod common;

use keel::signing::rfc9421::Rfc9421;
use keel::signing::verify::Verifier;
use keel::signing::{HmacRecipe, Scheme};
use keel::HttpAuthenticatedClient;
use keel_demo::DemoServer;
use serde_json::Value;

use common::secrets::SecretScan;

const KEY: &str = "KEY-zq7Xw2-recognisable";
const SECRET: &str = "SECRET-Vb93Lm-recognisable";
const PASS: &str = "PASS-Hq41Ks-recognisable";

/// The shared secret scan (tests/common/secrets.rs) for this file's credentials.
fn scan() -> SecretScan {
    SecretScan::new(&[SECRET, PASS, KEY])
}

fn assert_clean(what: &str, text: &str) {
    scan().check(what, text);
}

fn builder(url: &str) -> keel::HttpAuthenticatedClientBuilder {
    HttpAuthenticatedClient::builder(url)
        .api_key(KEY)
        .api_secret(SECRET)
        .passphrase(PASS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_formatted_shows_a_credential() {
    let server = DemoServer::start().await.unwrap();
    let b = builder(&server.url());
    assert_clean("builder", &format!("{b:?}"));
    let c = b.build().unwrap();
    assert_clean("client", &format!("{c:?} {:?}", c.unauthenticated()));
    let d = c
        .with_headers([("X-A", "1")])
        .unwrap()
        .with_timeout(std::time::Duration::from_secs(3))
        .unwrap();
    assert_clean("derived client", &format!("{d:?}"));
    assert_clean("scheme", &format!("{:?}", c.scheme()));
    let req = c
        .post("/echo")
        .query("q", "1")
        .json(&serde_json::json!({"a": 1}));
    assert_clean("request", &format!("{req:?}"));
    let resp = req.send().await.unwrap();
    assert_clean("response", &format!("{resp:?}"));
    // The server did receive the key: the echo proves the test would see it.
    let echo: Value = resp.json().unwrap();
    assert_eq!(echo["headers"]["api-key"][0], KEY);

    // Every scheme's client, including passphrase and RFC 9421 ones.
    for scheme in [
        Scheme::default_hmac(),
        Scheme::okx(),
        Scheme::bybit(),
        Scheme::binance(),
        Scheme::bearer(),
        Scheme::basic(),
        Scheme::api_key_query("key"),
        Scheme::rfc9421(Rfc9421::hmac_sha256().key_id("kid")),
    ] {
        let c = builder(&server.url()).scheme(scheme).build().unwrap();
        assert_clean("client", &format!("{c:?}"));
    }

    let creds = keel::signing::Credentials::new(
        KEY,
        Some(SECRET.as_bytes().to_vec()),
        http::HeaderName::from_static("api-key"),
    )
    .with_passphrase(PASS);
    assert_clean("credentials", &format!("{creds:?}"));
    let v = Verifier::builder(HmacRecipe::keel_default())
        .key(KEY, SECRET)
        .build();
    assert_clean("verifier", &format!("{v:?}"));
}

#[test]
fn errors_never_carry_a_credential() {
    // The key in the query (apiKey in: query) and a connection that fails.
    let c = builder("http://127.0.0.1:1")
        .scheme(Scheme::api_key_query("api_key"))
        .build()
        .unwrap();
    let err = c.get("/x").send_blocking().unwrap_err();
    scan().error("connect error", &err);

    // A secret the scheme cannot decode fails in the builder without echoing it.
    let err = builder("https://x.test")
        .scheme(Scheme::kraken())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("base64"), "{err}");
    scan().error("builder error", &err);
    let err = HttpAuthenticatedClient::builder("https://x.test")
        .api_key(KEY)
        .api_secret(SECRET)
        .scheme(Scheme::rfc9421(Rfc9421::ed25519()))
        .build()
        .unwrap_err();
    scan().error("ed25519 key error", &err);
    // A key that cannot be a header value.
    let err = HttpAuthenticatedClient::builder("https://x.test")
        .api_key(format!("{KEY}\n"))
        .api_secret(SECRET)
        .build()
        .unwrap_err();
    scan().error("bad key error", &err);
}

#[test]
fn tracing_output_carries_no_credential() {
    let server = DemoServer::start_background().unwrap();
    // The scan's capture is global, so events from every thread are seen.
    let scan = scan();
    {
        let c = builder(&server.url())
            .follow_redirects(true)
            .build()
            .unwrap();
        let r = c
            .get("/redirect")
            .query("to", "/echo")
            .send_blocking()
            .unwrap();
        assert_eq!(r.status, 200);
        let q = builder(&server.url())
            .scheme(Scheme::api_key_query("api_key"))
            .build()
            .unwrap();
        q.get("/echo").send_blocking().unwrap();
        let _ = c.sync_clock_blocking("/time", keel::ServerTime::json_millis("epoch_ms"));
    }
    let out = scan.log_text();
    assert!(
        out.contains("sending"),
        "the subscriber captured keel's events: {out}"
    );
    assert!(scan.finish() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_redirect_drops_credentials_and_is_not_resigned() {
    let a = DemoServer::start().await.unwrap();
    let b = DemoServer::start().await.unwrap();
    assert_ne!(a.addr().port(), b.addr().port());
    for scheme in [
        Scheme::default_hmac(),
        Scheme::bearer(),
        Scheme::okx(),
        Scheme::rfc9421(Rfc9421::hmac_sha256()),
    ] {
        let c = builder(&a.url())
            .scheme(scheme.clone())
            .follow_redirects(true)
            .build()
            .unwrap();
        for status in ["302", "307"] {
            let to = format!("{}/echo", b.url());
            let r = c
                .get("/redirect")
                .query("to", &to)
                .query("status", status)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status, 200);
            assert!(
                r.url().as_str().starts_with(&b.url()),
                "followed to the other origin"
            );
            let echo: Value = r.json().unwrap();
            let headers = echo["headers"].as_object().unwrap();
            for h in [
                "api-key",
                "api-timestamp",
                "api-signature",
                "authorization",
                "ok-access-key",
                "ok-access-sign",
                "ok-access-passphrase",
                "ok-access-timestamp",
                "signature",
                "signature-input",
            ] {
                assert!(
                    !headers.contains_key(h),
                    "{scheme:?}: {h} reached the other origin: {echo}"
                );
            }
            assert_clean("what the other origin received", &echo.to_string());
        }
        // The same origin still gets them (so the test above can fail).
        let r = c
            .get("/redirect")
            .query("to", "/echo")
            .send()
            .await
            .unwrap();
        let echo = r.text().unwrap();
        // (RFC 9421 without a keyid sends only the signature.)
        assert!(
            echo.contains(KEY) || echo.contains("\"signature\""),
            "same-origin hop keeps the credentials: {echo}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_non_loopback_host_needs_explicit_consent() {
    let server = DemoServer::start().await.unwrap();
    let port = server.addr().port();
    let addr = server.addr();
    // A name that is not loopback, resolved (by this test's transport only)
    // to the loopback demo server: no traffic leaves the machine.
    let url = format!("http://signed.example.test:{port}");
    let resolve =
        move |t: &mut keel::transport::TransportSettings| t.resolve("signed.example.test", addr);

    let refused = builder(&url).configure_transport(resolve).build().unwrap();
    let err = refused.get("/signed/whoami").send().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("refusing to send credentials over plain http"),
        "{err}"
    );
    assert_clean("refusal", &err.to_string());
    assert_eq!(server.state().arrivals("none").arrivals, 0);

    let allowed = HttpAuthenticatedClient::builder(&url)
        .api_key(keel_demo::DEMO_API_KEY)
        .api_secret(keel_demo::DEMO_API_SECRET)
        .allow_insecure_credentials(true)
        .configure_transport(resolve)
        .build()
        .unwrap();
    let r = allowed.get("/signed/whoami").send().await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text().unwrap());

    // Loopback over http is allowed without consent (the demo server itself).
    let local = builder(&server.url()).build().unwrap();
    assert_eq!(local.get("/health").send().await.unwrap().status, 200);
}
