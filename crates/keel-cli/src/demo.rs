//! `keel demo`: a guided tour of Keel against the embedded demo server.
//!
//! Each step prints what was sent (→) and what came back (←). The demo
//! server runs in-process on 127.0.0.1 with a free port; nothing leaves the
//! machine.

mod sdk;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use keel::{Error, HttpClient, StatusMatch};
use serde_json::Value;

/// Arguments of `keel demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `keel demo`.
pub fn run(_args: DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keel demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tour()) {
        Ok(()) => {
            println!("\nAll steps passed. Run `keel serve` to keep the demo server up and try `keel request`.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nkeel demo: a step failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A failed expectation in the tour.
#[derive(Debug)]
struct Failed(String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed(e.to_string())
    }
}

fn expect(cond: bool, what: &str) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(Failed(format!("expected {what}")))
    }
}

struct Steps(u32);

impl Steps {
    fn next(&mut self, title: &str) {
        self.0 += 1;
        println!("\n{}. {title}", self.0);
    }
}

fn sent(line: &str) {
    println!("   → {line}");
}

fn got(line: &str) {
    println!("   ← {line}");
}

fn echo_header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"][name][0].as_str()
}

async fn tour() -> Result<(), Failed> {
    let server = keel_demo::DemoServer::start()
        .await
        .map_err(|e| Failed(format!("cannot start the demo server: {e}")))?;
    let base = server.url();
    println!("Keel demo: the demo server is listening on {base} (in-process, loopback only)");
    let mut step = Steps(0);

    // 1. A configured client.
    step.next("A client: base URL, default header and cookie, timeout");
    let client = HttpClient::builder(format!("{base}/echo/v1"))
        .header("User-Agent", "keel-demo/1.0")
        .cookie("region", "eu")
        .timeout(Duration::from_secs(5))
        .build()?;
    sent(&format!(
        "GET {base}/echo/v1 + /items/{{id}} with id = \"a b/c\", ?page=2"
    ));
    let resp = client
        .get("/items/{id}")
        .path_param("id", "a b/c")
        .query("page", 2)
        .send()
        .await?;
    let echo: Value = resp.json()?;
    got(&format!(
        "{} — the server saw path {}, query {}, user-agent {:?}, cookie region={}",
        resp.status,
        echo["path"],
        echo["query"],
        echo_header(&echo, "user-agent").unwrap_or("-"),
        echo["cookies"]["region"]
    ));
    expect(
        echo["path"] == "/echo/v1/items/a%20b%2Fc",
        "the path parameter to be one encoded segment",
    )?;

    // 2. Derived clients.
    step.next("Derived clients: with_headers returns a new client, the original is unchanged");
    let traced = client.with_headers([("X-Trace", "abc-123")])?;
    let a: Value = traced.get("/").send().await?.json()?;
    let b: Value = client.get("/").send().await?.json()?;
    sent("GET / from the derived client, then from the original");
    got(&format!(
        "derived sent X-Trace = {:?}; original sent X-Trace = {:?}; same pool: {}",
        echo_header(&a, "x-trace").unwrap_or("-"),
        echo_header(&b, "x-trace").unwrap_or("-"),
        traced.shares_pool_with(&client)
    ));
    expect(
        echo_header(&b, "x-trace").is_none(),
        "the original client to be unchanged",
    )?;

    // 3. JSON in, typed JSON out.
    step.next("JSON bodies and documented statuses");
    let api = HttpClient::new(&base)?;
    sent("POST /items {\"name\":\"anchor\",\"price\":12.5}, documented [201]");
    let created = api
        .post("/items")
        .json(&serde_json::json!({"name": "anchor", "price": 12.5}))
        .documented([201])
        .send_json::<Value>()
        .await?;
    got(&format!(
        "{} — parsed: {}",
        created.status,
        created
            .parsed
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default()
    ));
    expect(created.status.as_u16() == 201, "201 Created")?;

    // 4. raise_on_unexpected_status.
    step.next("raise_on_unexpected_status: a status the API never documented");
    sent("GET /undocumented, documented [200] (the server answers 418)");
    let lenient = api
        .get("/undocumented")
        .documented([StatusMatch::Code(200)])
        .send_json::<Value>()
        .await?;
    got(&format!(
        "raise_on_unexpected_status(false): Ok, status {}, parsed = {:?}",
        lenient.status,
        lenient.parsed.as_ref().map(|_| "…")
    ));
    let strict = api.with_raise_on_unexpected_status(true);
    match strict.get("/undocumented").documented([200]).send().await {
        Err(e @ Error::UnexpectedStatus { .. }) => {
            got(&format!("raise_on_unexpected_status(true): Err: {e}"))
        }
        other => return Err(Failed(format!("expected UnexpectedStatus, got {other:?}"))),
    }
    sent("GET /status/520 (not an IANA status)");
    let odd = api.get("/status/520").send().await?;
    got(&format!("{} — any status code works", odd.status.as_u16()));

    // 5. Timeouts.
    step.next("Timeouts: a safe default (30 s), and per client or per request");
    sent("GET /slow?ms=2000 with with_timeout(200 ms)");
    let started = Instant::now();
    match api
        .with_timeout(Duration::from_millis(200))?
        .get("/slow")
        .query("ms", 2000)
        .send()
        .await
    {
        Err(e @ Error::Timeout { .. }) => got(&format!("after {:?}: {e}", started.elapsed())),
        other => return Err(Failed(format!("expected a timeout, got {other:?}"))),
    }

    // 6. Redirects.
    step.next("Redirects: off by default, followed when asked");
    let resp = api.get("/redirect/2").send().await?;
    got(&format!(
        "follow_redirects(false): {} Location: {}",
        resp.status,
        resp.header("location").unwrap_or("-")
    ));
    let follower = HttpClient::builder(&base).follow_redirects(true).build()?;
    let resp = follower.get("/redirect/2").send().await?;
    got(&format!(
        "follow_redirects(true): {} from {}",
        resp.status,
        resp.url().path()
    ));

    // 7. The same client from a blocking caller.
    step.next("One client value for async and blocking callers");
    let blocking_client = api.clone();
    let joined = std::thread::spawn(move || {
        blocking_client
            .get("/items/1")
            .send_json_blocking::<Value>()
            .map(|r| (r.status, r.parsed))
    })
    .join()
    .map_err(|_| Failed("the blocking thread panicked".into()))??;
    sent("GET /items/1 with send_json_blocking() from a plain thread");
    got(&format!(
        "{} — {}",
        joined.0,
        joined.1.map(|v| v.to_string()).unwrap_or_default()
    ));
    sent("send_blocking() called inside the async runtime");
    match api.get("/items/1").send_blocking() {
        Err(e @ Error::BlockingInAsync) => got(&format!("Err: {e}")),
        other => return Err(Failed(format!("expected BlockingInAsync, got {other:?}"))),
    }

    // 8. Signed requests.
    step.next("HttpAuthenticatedClient: API key + a fresh HMAC signature on every request");
    let signed = keel::HttpAuthenticatedClient::builder(&base)
        .api_key(keel_demo::DEMO_API_KEY)
        .api_secret(keel_demo::DEMO_API_SECRET)
        .build()?;
    let seen: Value = signed
        .post("/echo/orders")
        .json(&serde_json::json!({"qty": 1}))
        .send()
        .await?
        .json()?;
    sent("POST /echo/orders {\"qty\":1} — the default scheme adds:");
    for name in ["api-key", "api-timestamp", "api-signature"] {
        println!("       {name}: {}", echo_header(&seen, name).unwrap_or("-"));
    }
    let who = signed.get("/signed/whoami").send().await?;
    got(&format!(
        "GET /signed/whoami (the server verifies it) → {} {}",
        who.status,
        who.text()?.trim()
    ));
    expect(who.status.as_u16() == 200, "the signature to verify")?;
    let forged = keel::HttpAuthenticatedClient::builder(&base)
        .api_key(keel_demo::DEMO_API_KEY)
        .api_secret("not-the-secret")
        .build()?;
    let bad = forged.get("/signed/whoami").send().await?;
    got(&format!(
        "with a wrong secret → {} {}",
        bad.status,
        bad.text()?.trim()
    ));
    let leaked = format!("{signed:?}").contains(keel_demo::DEMO_API_SECRET);
    got(&format!(
        "does the client's Debug output show the secret? {}",
        if leaked { "YES (a bug)" } else { "no" }
    ));
    expect(!leaked, "the secret to stay out of Debug output")?;

    // 9. Resilience.
    step.next("with_resilience: retries with backoff and jitter, every attempt signed afresh");
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let policy = keel::Resilience::standard()
        .to_builder()
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .on_event(std::sync::Arc::new(
            move |e: &keel::resilience::ResilienceEvent| {
                if let Ok(mut v) = sink.lock() {
                    v.push(e.to_string());
                }
            },
        ))
        .build()?;
    let patient = signed.with_resilience(policy);
    sent("GET /fault/fail?times=2&status=503 (fails twice, then succeeds)");
    let resp = patient
        .get("/fault/fail")
        .query("times", 2)
        .query("status", 503)
        .header("X-Fault-Key", "keel-demo-retry")
        .send()
        .await?;
    for line in events.lock().map(|v| v.clone()).unwrap_or_default() {
        println!("     · {line}");
    }
    got(&format!(
        "{} after {} attempts; the server counted {} arrivals",
        resp.status,
        resp.attempts(),
        server.state().arrivals("keel-demo-retry").arrivals
    ));
    expect(resp.attempts() == 3, "three attempts")?;
    sent("POST /fault/fail?times=1 without an idempotency key");
    let post = patient
        .post("/fault/fail")
        .query("times", 1)
        .header("X-Fault-Key", "keel-demo-post")
        .json(&serde_json::json!({"qty": 1}))
        .send()
        .await?;
    got(&format!(
        "{} — not retried: a POST that reached the server is never re-sent without a key ({} arrival)",
        post.status,
        server.state().arrivals("keel-demo-post").arrivals
    ));

    // Server-sent events, pagination, OAuth2 (demo/sdk.rs).
    let plain = HttpClient::new(&base)?;
    sdk::events(&mut step, &server, &plain).await?;
    sdk::pages(&mut step, &plain).await?;
    sdk::oauth2(&mut step, &server, &base).await?;

    // 10. Lifecycle.
    step.next("Lifecycle: a scope closes the pools; entering twice is an error");
    let scoped = HttpClient::new(&base)?;
    {
        let scope = scoped.enter()?;
        let r = scope.get("/health").send().await?;
        got(&format!("inside the scope: GET /health → {}", r.status));
        match scoped.enter() {
            Err(e @ Error::AlreadyEntered) => got(&format!("enter() again: Err: {e}")),
            other => return Err(Failed(format!("expected AlreadyEntered, got {other:?}"))),
        }
    }
    match scoped.get("/health").send().await {
        Err(e @ Error::Closed) => got(&format!("after the scope: Err: {e}")),
        other => return Err(Failed(format!("expected Closed, got {other:?}"))),
    }

    server.shutdown().await;
    Ok(())
}
