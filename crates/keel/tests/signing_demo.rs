//! Signed calls against the demo server's signed endpoints: success, every
//! rejection reason, clock skew and its synchronisation, retries signed
//! afresh, and the nonce of one client family hammered from many tasks and
//! threads.
//!
//! Every test that signs runs under the shared secret scan
//! (tests/common/secrets.rs): no client, response, error or log line shows
//! an API secret.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::secrets::SecretScan;
use keel::signing::{Credentials, Scheme, Signer, SigningRequest};
use keel::{HttpAuthenticatedClient, HttpClient, ServerTime};
use keel_demo::{DemoServer, DEMO_API_KEY, DEMO_API_SECRET};
use serde_json::{json, Value};

/// A secret the demo server does not know for its key.
const WRONG_SECRET: &str = "not-the-secret";
/// The secret of a key the demo server does not know.
const STRANGER_SECRET: &str = "stranger-secret";

/// The scan for this file's API secrets.
fn scan() -> SecretScan {
    SecretScan::new(&[DEMO_API_SECRET, WRONG_SECRET, STRANGER_SECRET])
}

fn client(url: &str, secret: &str) -> HttpAuthenticatedClient {
    HttpAuthenticatedClient::builder(url)
        .api_key(DEMO_API_KEY)
        .api_secret(secret)
        .build()
        .unwrap()
}

fn client_with(url: &str, scheme: Scheme) -> HttpAuthenticatedClient {
    HttpAuthenticatedClient::builder(url)
        .api_key(DEMO_API_KEY)
        .api_secret(DEMO_API_SECRET)
        .scheme(scheme)
        .build()
        .unwrap()
}

async fn error_of(scan: &mut SecretScan, resp: keel::Response) -> (u16, String) {
    scan.debug("refusal", &resp);
    let v: Value = resp.json().unwrap();
    (
        resp.status.as_u16(),
        v["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_calls_succeed() {
    let mut scan = scan();
    let server = DemoServer::start().await.unwrap();
    let c = client(&server.url(), DEMO_API_SECRET);
    scan.debug("client", &c);
    let r = c.get("/signed/whoami").send().await.unwrap();
    scan.debug("response", &r);
    assert_eq!(r.status, 200);
    assert_eq!(r.json::<Value>().unwrap(), json!({"key": DEMO_API_KEY}));

    let order = json!({"symbol": "XBTUSD", "qty": 3, "price": "37500"});
    let r = c
        .post("/signed/orders")
        .query("client", "t1")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text().unwrap());
    assert_eq!(r.json::<Value>().unwrap(), order);

    // Identical requests sent at once all pass: timestamps of one family are unique.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.get("/signed/whoami").send().await.unwrap().status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    scan.finish();
}

#[test]
fn signed_calls_succeed_blocking() {
    let mut scan = scan();
    let server = DemoServer::start_background().unwrap();
    let c = client(&server.url(), DEMO_API_SECRET);
    scan.debug("client", &c);
    let r = c.get("/signed/whoami").send_blocking().unwrap();
    assert_eq!(r.status, 200);
    scan.debug("response", &r);
    let req = c
        .post("/signed/orders")
        .json(&json!({"symbol": "A", "qty": 1}));
    scan.debug("request", &req);
    let r = req.send_blocking().unwrap();
    assert_eq!(r.status, 201);
    scan.debug("response", &r);
    scan.finish();
}

/// Signs with the default scheme, then changes the body: the tampering a
/// proxy (or attacker) would do after signing.
#[derive(Debug)]
struct TamperBody;
impl Signer for TamperBody {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> keel::Result<()> {
        Scheme::default_hmac().signer().sign(req, c)?;
        req.set_body(br#"{"symbol":"XBTUSD","qty":3000}"#.to_vec());
        Ok(())
    }
    fn requires_secret(&self) -> bool {
        true
    }
}

/// Signs with the default scheme at a fixed time and nonce: the same
/// request twice is a replay (the same time with a fresh nonce is not).
#[derive(Debug)]
struct FixedTime(SystemTime);
impl Signer for FixedTime {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> keel::Result<()> {
        req.timestamp = self.0;
        req.nonce = 42;
        Scheme::default_hmac().signer().sign(req, c)
    }
    fn requires_secret(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_requests_are_rejected_with_the_right_reason() {
    let mut scan = scan();
    let server = DemoServer::start().await.unwrap();
    let url = server.url();

    let wrong = client(&url, WRONG_SECRET);
    let r = wrong.get("/signed/whoami").send().await.unwrap();
    assert_eq!(error_of(&mut scan, r).await, (401, "bad signature".into()));

    let tamper = client_with(&url, Scheme::custom(TamperBody));
    let r = tamper
        .post("/signed/orders")
        .json(&json!({"symbol": "XBTUSD", "qty": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&mut scan, r).await, (401, "bad signature".into()));

    // A signer at a fixed, stale time (a custom scheme: no refusal it could
    // learn from) is refused for its timestamp …
    let stale = client_with(
        &url,
        Scheme::custom(FixedTime(SystemTime::now() - Duration::from_secs(120))),
    );
    let r = stale.get("/signed/whoami").send().await.unwrap();
    assert_eq!(
        error_of(&mut scan, r).await,
        (401, "stale timestamp".into())
    );
    // … while the default scheme with a skewed clock is refused once, learns
    // the server's clock from the refusal's Date and is accepted when it
    // sends the request once more.
    let skewed = HttpAuthenticatedClient::builder(&url)
        .api_key(DEMO_API_KEY)
        .api_secret(DEMO_API_SECRET)
        .clock_offset(Duration::from_secs(120), false)
        .build()
        .unwrap();
    let r = skewed.get("/signed/whoami").send().await.unwrap();
    assert_eq!(r.status, 200);
    scan.debug("response", &r);

    let fixed = client_with(&url, Scheme::custom(FixedTime(SystemTime::now())));
    assert_eq!(
        fixed.get("/signed/whoami").send().await.unwrap().status,
        200
    );
    let r = fixed.get("/signed/whoami").send().await.unwrap();
    assert_eq!(error_of(&mut scan, r).await, (401, "replayed nonce".into()));

    let stranger = HttpAuthenticatedClient::builder(&url)
        .api_key("who-knows")
        .api_secret(STRANGER_SECRET)
        .build()
        .unwrap();
    scan.check(
        "clients",
        format_args!("{wrong:?} {tamper:?} {stale:?} {skewed:?} {fixed:?} {stranger:?}"),
    );
    let r = stranger.get("/signed/whoami").send().await.unwrap();
    assert_eq!(error_of(&mut scan, r).await, (401, "unknown key".into()));

    let plain = HttpClient::new(&url).unwrap();
    let r = plain.get("/signed/whoami").send().await.unwrap();
    assert_eq!(
        error_of(&mut scan, r).await,
        (401, "missing header API-Key".into())
    );
    let r = plain
        .get("/signed/whoami")
        .header("API-Key", DEMO_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(&mut scan, r).await,
        (401, "missing header API-Timestamp".into())
    );
    scan.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_sync_fixes_a_skewed_clock() {
    let mut scan = scan();
    let server = DemoServer::start().await.unwrap();
    let c = HttpAuthenticatedClient::builder(server.url())
        .api_key(DEMO_API_KEY)
        .api_secret(DEMO_API_SECRET)
        .clock_offset_ms(-120_000)
        .build()
        .unwrap();
    let derived = c.with_headers([("X-Trace", "1")]).unwrap();
    scan.check("clients", format_args!("{c:?} {derived:?}"));
    // Refused once for its timestamp, then re-sent with the clock learnt
    // from the refusal's Date.
    assert_eq!(c.get("/signed/whoami").send().await.unwrap().status, 200);
    let sync = c
        .sync_clock("/time", ServerTime::json_millis("epoch_ms"))
        .await
        .unwrap();
    assert!(sync.offset_ms.abs() < 5_000, "{sync:?}");
    scan.debug("clock sync", &sync);
    // The whole family (a derived client too) now signs with the server's clock.
    assert_eq!(derived.clock_offset_ms(), sync.offset_ms);
    assert_eq!(
        derived.get("/signed/whoami").send().await.unwrap().status,
        200
    );

    // A server 90 s ahead: the measured offset follows it.
    let sync = c
        .sync_clock("/time?skew_ms=90000", ServerTime::json_millis("epoch_ms"))
        .await
        .unwrap();
    assert!((85_000..95_000).contains(&sync.offset_ms), "{sync:?}");
    // An endpoint without the field is a clear error, and the offset is kept.
    let err = c
        .sync_clock("/health", ServerTime::json_millis("epoch_ms"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("server time"), "{err}");
    scan.error("clock sync error", &err);
    assert_eq!(c.clock_offset_ms(), sync.offset_ms);
    scan.finish();
}

#[test]
fn clock_sync_blocking() {
    let mut scan = scan();
    let server = DemoServer::start_background().unwrap();
    let c = HttpAuthenticatedClient::builder(server.url())
        .api_key(DEMO_API_KEY)
        .api_secret(DEMO_API_SECRET)
        .clock_offset_ms(300_000)
        .build()
        .unwrap();
    // Refused once, re-sent with the clock learnt from the refusal's Date.
    assert_eq!(c.get("/signed/whoami").send_blocking().unwrap().status, 200);
    let sync = c
        .sync_clock_blocking("/time", ServerTime::json_millis("epoch_ms"))
        .unwrap();
    assert!(sync.offset_ms.abs() < 5_000, "{sync:?}");
    assert_eq!(c.get("/signed/whoami").send_blocking().unwrap().status, 200);
    scan.check("client and clock sync", format_args!("{c:?} {sync:?}"));
    scan.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_origin_redirect_hop_is_signed_afresh() {
    let mut scan = scan();
    let server = DemoServer::start().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let c = HttpAuthenticatedClient::builder(server.url())
        .api_key(DEMO_API_KEY)
        .api_secret(DEMO_API_SECRET)
        .scheme(Scheme::custom(Recording(seen.clone())))
        .follow_redirects(true)
        .build()
        .unwrap();
    // The hop to /signed/whoami carries its own signature: the first one
    // covered /redirect?to=..., so reusing it would be rejected.
    let r = c
        .get("/redirect")
        .query("to", "/signed/whoami")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text().unwrap());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_ne!(seen[0], seen[1]);
    scan.check("client and response", format_args!("{c:?} {r:?}"));
    scan.finish();
}

/// Records every nonce, then signs with the default scheme.
#[derive(Debug)]
struct Recording(Arc<Mutex<Vec<u64>>>);
impl Signer for Recording {
    fn sign(&self, req: &mut SigningRequest<'_>, c: &Credentials) -> keel::Result<()> {
        self.0.lock().unwrap().push(req.nonce);
        Scheme::default_hmac().signer().sign(req, c)
    }
    fn requires_secret(&self) -> bool {
        true
    }
}

#[test]
fn nonce_never_repeats_across_clones_threads_and_tasks() {
    const THREADS: usize = 4;
    const TASKS: usize = 8;
    const PER: usize = 40;
    let scan = scan();
    let server = DemoServer::start_background().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = client_with(&server.url(), Scheme::custom(Recording(seen.clone())));

    let mut handles = Vec::new();
    for i in 0..THREADS {
        // Derived clients and clones share the family's counter.
        let c = base.with_headers([("X-Thread", i.to_string())]).unwrap();
        handles.push(std::thread::spawn(move || {
            for _ in 0..PER {
                let r = c.get("/signed/whoami").send_blocking().unwrap();
                assert_eq!(r.status, 200);
            }
        }));
    }
    // The async callers run on a runtime that outlives the blocking threads:
    // connections it made sit in the family's pool, and a runtime that shuts
    // down takes its connections with it.
    let async_client = base.with_timeout(Duration::from_secs(20)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let c = async_client.clone();
            rt.spawn(async move {
                for _ in 0..PER {
                    assert_eq!(c.get("/signed/whoami").send().await.unwrap().status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), (THREADS + TASKS) * PER);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a nonce was repeated");
    scan.finish();
}

#[test]
fn nonce_counter_under_contention() {
    let counter = Arc::new(keel::signing::NonceCounter::new());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let c = counter.clone();
            std::thread::spawn(move || {
                let mut v = Vec::with_capacity(50_000);
                let mut last = 0;
                for _ in 0..50_000 {
                    let n = c.next();
                    assert!(n > last, "not increasing within a thread");
                    last = n;
                    v.push(n);
                }
                v
            })
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        for n in h.join().unwrap() {
            assert!(all.insert(n), "nonce {n} handed out twice");
        }
    }
    assert_eq!(all.len(), 400_000);
}
