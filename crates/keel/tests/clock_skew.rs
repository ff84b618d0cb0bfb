//! Clock skew, learnt from the server's `Date`: a server whose clock is far
//! from this machine's refuses the first request for its timestamp; the
//! client corrects its clock from the refusal's `Date`, sends the request
//! once more (signed afresh), and remembers the offset for the origin.
//! A cached answer (`Age`) teaches nothing; a request is re-sent once at
//! most.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keel::signing::Scheme;
use keel::HttpAuthenticatedClient;
use keel_demo::DemoServer;

/// A server whose clock is `skew` ahead of this machine's: it refuses
/// (401 `stale timestamp`, as Keel's default scheme's servers do) an
/// `API-Timestamp` more than 30 s from its clock, and dates its answers by
/// its clock (with an `Age` when `cached`). Counts arrivals.
async fn skewed_server(
    skew: Duration,
    cached: bool,
    refuse_all: bool,
) -> (DemoServer, Arc<AtomicUsize>) {
    let arrivals = Arc::new(AtomicUsize::new(0));
    let count = arrivals.clone();
    let router = axum::Router::new().route(
        "/clock",
        get(move |headers: HeaderMap| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let server_now = SystemTime::now() + skew;
                let server_ms = server_now.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
                let ts: i64 = headers
                    .get("api-timestamp")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut response: Response = if refuse_all || (ts - server_ms).abs() > 30_000 {
                    (StatusCode::UNAUTHORIZED, r#"{"error":"stale timestamp"}"#).into_response()
                } else {
                    (StatusCode::OK, "ok").into_response()
                };
                let date = httpdate::fmt_http_date(server_now);
                response
                    .headers_mut()
                    .insert(header::DATE, HeaderValue::from_str(&date).unwrap());
                if cached {
                    response
                        .headers_mut()
                        .insert(header::AGE, HeaderValue::from_static("10"));
                }
                response
            }
        }),
    );
    let server = DemoServer::builder().routes(router).start().await.unwrap();
    (server, arrivals)
}

fn client(server: &DemoServer) -> HttpAuthenticatedClient {
    HttpAuthenticatedClient::builder(server.url())
        .api_key("k")
        .api_secret("s3cret-s3cret-s3cret")
        .scheme(Scheme::default_hmac())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_timestamp_corrects_the_clock_and_is_sent_once_more() {
    let (server, arrivals) = skewed_server(Duration::from_secs(120), false, false).await;
    let c = client(&server);
    let r = c.get("/clock").send().await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.text());
    assert_eq!(
        arrivals.load(Ordering::SeqCst),
        2,
        "refused once, then accepted"
    );
    // The offset is remembered for the origin: no refusal any more, and
    // derived clients (same family) share it.
    let r = c.get("/clock").send().await.unwrap();
    assert_eq!(r.status, 200);
    let derived = c.with_headers([("X-Derived", "1")]).unwrap();
    // On a thread of its own (a blocking call refuses runtime threads),
    // joined without blocking the runtime that serves the demo server.
    let blocking = std::thread::spawn(move || {
        derived
            .get("/clock")
            .send_blocking()
            .map(|r| r.status.as_u16())
    });
    let status = tokio::task::spawn_blocking(move || blocking.join())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        status, 200,
        "a blocking caller of the family uses the offset too"
    );
    assert_eq!(arrivals.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_cached_answer_teaches_nothing_and_a_request_is_resent_once_at_most() {
    let (server, arrivals) = skewed_server(Duration::from_secs(120), true, false).await;
    let c = client(&server);
    let r = c.get("/clock").send().await.unwrap();
    assert_eq!(r.status, 401, "Age: the Date is not the server's clock now");
    assert_eq!(
        arrivals.load(Ordering::SeqCst),
        2,
        "sent once more, never twice more"
    );

    let (server, arrivals) = skewed_server(Duration::ZERO, false, true).await;
    let c = client(&server);
    let r = c.get("/clock").send().await.unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(arrivals.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_server_behind_this_machine_is_learnt_as_well() {
    let (server, arrivals) = skewed_server(Duration::ZERO, false, false).await;
    let c = client(&server);
    // This machine's clock is set 90 s ahead of the (right) server's.
    c.set_clock_offset_ms(90_000);
    let r = c.get("/clock").send().await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(arrivals.load(Ordering::SeqCst), 2);
}
