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

/// Where an exchange reads the request's timestamp, and how it refuses one
/// outside its window (each as its API documents it).
#[derive(Clone, Copy)]
enum Exchange {
    /// `timestamp=` (unix ms) in the query; HTTP 400 `{"code":-1021}`.
    Binance,
    /// `X-BAPI-TIMESTAMP` (unix ms); HTTP 200 `{"retCode":10002}`.
    Bybit,
    /// `OK-ACCESS-TIMESTAMP` (ISO 8601); HTTP 401 `{"code":"50102"}`.
    Okx,
}

impl Exchange {
    /// The request's timestamp, ms since the epoch.
    fn timestamp(self, uri: &axum::http::Uri, headers: &HeaderMap) -> Option<i64> {
        match self {
            Exchange::Binance => uri
                .query()?
                .split('&')
                .find_map(|kv| kv.strip_prefix("timestamp="))?
                .parse()
                .ok(),
            Exchange::Bybit => headers.get("x-bapi-timestamp")?.to_str().ok()?.parse().ok(),
            Exchange::Okx => {
                let text = headers.get("ok-access-timestamp")?.to_str().ok()?;
                let t = time::OffsetDateTime::parse(
                    text,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()?;
                Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
            }
        }
    }

    fn refusal(self) -> Response {
        match self {
            Exchange::Binance => (
                StatusCode::BAD_REQUEST,
                r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#,
            )
                .into_response(),
            Exchange::Bybit => (
                StatusCode::OK,
                r#"{"retCode":10002,"retMsg":"invalid request, please check your server timestamp or recv_window param","result":{}}"#,
            )
                .into_response(),
            Exchange::Okx => (
                StatusCode::UNAUTHORIZED,
                r#"{"msg":"Timestamp request expired","code":"50102"}"#,
            )
                .into_response(),
        }
    }

    fn scheme(self) -> Scheme {
        match self {
            Exchange::Binance => Scheme::binance(),
            Exchange::Bybit => Scheme::bybit(),
            Exchange::Okx => Scheme::okx(),
        }
    }
}

/// An exchange whose clock is `skew` ahead of this machine's, refusing
/// timestamps more than 5 s from its clock (or 1 s ahead of it) as it
/// documents; counts arrivals.
async fn skewed_exchange(exchange: Exchange, skew: Duration) -> (DemoServer, Arc<AtomicUsize>) {
    let arrivals = Arc::new(AtomicUsize::new(0));
    let count = arrivals.clone();
    let router = axum::Router::new().route(
        "/clock",
        get(move |uri: axum::http::Uri, headers: HeaderMap| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let server_now = SystemTime::now() + skew;
                let server_ms = server_now.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
                let fresh = exchange
                    .timestamp(&uri, &headers)
                    .is_some_and(|ts| ts - server_ms < 1_000 && server_ms - ts < 5_000);
                let mut response: Response = if fresh {
                    (StatusCode::OK, r#"{"ok":true}"#).into_response()
                } else {
                    exchange.refusal()
                };
                let date = httpdate::fmt_http_date(server_now);
                response
                    .headers_mut()
                    .insert(header::DATE, HeaderValue::from_str(&date).unwrap());
                response
            }
        }),
    );
    let server = DemoServer::builder().routes(router).start().await.unwrap();
    (server, arrivals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_refusals_of_a_timestamp_correct_the_clock_too() {
    for (exchange, name) in [
        (Exchange::Binance, "binance"),
        (Exchange::Bybit, "bybit"),
        (Exchange::Okx, "okx"),
    ] {
        let (server, arrivals) = skewed_exchange(exchange, Duration::from_secs(90)).await;
        let c = HttpAuthenticatedClient::builder(server.url())
            .api_key("k-123")
            .api_secret("s3cret-s3cret-s3cret")
            .passphrase("p4ssphrase")
            .scheme(exchange.scheme())
            .build()
            .unwrap();
        let r = c.get("/clock").send().await.unwrap();
        assert_eq!(r.status, 200, "{name}: {:?}", r.text());
        assert_eq!(r.text().unwrap(), r#"{"ok":true}"#, "{name}");
        assert_eq!(
            arrivals.load(Ordering::SeqCst),
            2,
            "{name}: refused once, then accepted"
        );
        let r = c.get("/clock").send().await.unwrap();
        assert_eq!(
            r.text().unwrap(),
            r#"{"ok":true}"#,
            "{name}: the offset is kept"
        );
        assert_eq!(arrivals.load(Ordering::SeqCst), 3, "{name}");
    }
}
