//! Fault injection under `/fault/...`.
//!
//! Requests are grouped by a fault key, from the `X-Fault-Key` header or the
//! `key` query parameter (the header wins; without either the key is
//! `default`). Every request under `/fault/` except `/fault/arrivals` and
//! `/fault/reset` counts as one arrival for its key, and for its
//! `Idempotency-Key` header value when it has one. The request body is read
//! before the fault is applied.

use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use serde_json::json;

use crate::routes::{json_response, query_pairs, query_param, query_u64, ApiError, MAX_SLEEP_MS};
use crate::server::ConnControl;
use crate::state::DemoState;

/// The header that groups fault requests.
pub(crate) const FAULT_KEY_HEADER: &str = "x-fault-key";
const DEFAULT_KEY: &str = "default";

pub(crate) fn router() -> Router<DemoState> {
    Router::new()
        .route("/fault/fail", any(fail))
        .route("/fault/retry-after", any(retry_after))
        .route("/fault/delay", any(delay))
        .route("/fault/close", any(close))
        .route("/fault/reset-mid-body", any(reset_mid_body))
        .route("/fault/flap", any(flap))
        .route("/fault/arrivals", get(arrivals))
        .route("/fault/reset", post(reset))
}

/// One counted arrival at a fault endpoint.
struct Arrival {
    pairs: Vec<(String, String)>,
    n: u64,
}

fn fault_key(headers: &HeaderMap, pairs: &[(String, String)]) -> String {
    headers
        .get(FAULT_KEY_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or_else(|| query_param(pairs, "key").map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_KEY.to_owned())
}

fn arrive(state: &DemoState, headers: &HeaderMap, query: Option<&str>) -> Arrival {
    let pairs = query_pairs(query);
    let key = fault_key(headers, &pairs);
    let idem = headers
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let n = state.arrive(&key, idem.as_deref());
    tracing::debug!(key = %key, arrival = n, "fault arrival");
    Arrival { pairs, n }
}

fn ok(n: u64) -> Response {
    json_response(StatusCode::OK, &json!({ "ok": true, "arrival": n }))
}

fn injected(status: StatusCode, n: u64) -> Response {
    if matches!(status.as_u16(), 204 | 205 | 304) {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = status;
        return resp;
    }
    json_response(status, &json!({ "error": "injected fault", "arrival": n }))
}

async fn fail(
    State(state): State<DemoState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let a = arrive(&state, &headers, q.as_deref());
    let times = query_u64(&a.pairs, "times", 1)?;
    let code = query_u64(&a.pairs, "status", 503)?;
    let status = u16::try_from(code)
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| !s.is_informational())
        .ok_or_else(|| ApiError::bad_request(format!("`status` must be 200..=999, got {code}")))?;
    if a.n <= times {
        Ok(injected(status, a.n))
    } else {
        Ok(ok(a.n))
    }
}

async fn retry_after(
    State(state): State<DemoState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let a = arrive(&state, &headers, q.as_deref());
    let times = query_u64(&a.pairs, "times", 1)?;
    let seconds = query_u64(&a.pairs, "seconds", 1)?.min(86_400);
    if a.n > times {
        return Ok(ok(a.n));
    }
    let value = match query_param(&a.pairs, "form") {
        None | Some("") | Some("seconds") => seconds.to_string(),
        Some("date") => {
            // HTTP-dates have whole seconds: round up so the client waits at
            // least `seconds`.
            let now = SystemTime::now();
            let sub = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let round_up = if sub > 0 {
                Duration::from_nanos(1_000_000_000 - u64::from(sub))
            } else {
                Duration::ZERO
            };
            httpdate::fmt_http_date(now + Duration::from_secs(seconds) + round_up)
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`form` must be `seconds` or `date`, got `{other}`"
            )))
        }
    };
    let mut resp = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({ "error": "injected rate limit", "arrival": a.n, "retry_after": value }),
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(resp)
}

async fn delay(
    State(state): State<DemoState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let a = arrive(&state, &headers, q.as_deref());
    let ms = query_u64(&a.pairs, "ms", 0)?.min(MAX_SLEEP_MS);
    let times = query_u64(&a.pairs, "times", u64::MAX)?;
    let delayed = if a.n <= times { ms } else { 0 };
    if delayed > 0 {
        tokio::time::sleep(Duration::from_millis(delayed)).await;
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "ok": true, "arrival": a.n, "delayed_ms": delayed }),
    ))
}

fn no_conn_control() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "this connection cannot be controlled: serve the router with keel_demo::serve",
    )
}

async fn close(
    State(state): State<DemoState>,
    ctl: Option<Extension<ConnControl>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let a = arrive(&state, &headers, q.as_deref());
    let times = query_u64(&a.pairs, "times", 1)?;
    if a.n > times {
        return Ok(ok(a.n));
    }
    let Some(Extension(ctl)) = ctl else {
        return Err(no_conn_control());
    };
    ctl.kill();
    // The connection task drops the connection (and this future) as soon as
    // it sees the kill signal; nothing is ever answered.
    std::future::pending::<()>().await;
    Ok(ok(a.n))
}

async fn reset_mid_body(
    State(state): State<DemoState>,
    ctl: Option<Extension<ConnControl>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let a = arrive(&state, &headers, q.as_deref());
    let times = query_u64(&a.pairs, "times", 1)?;
    if a.n > times {
        return Ok(ok(a.n));
    }
    let Some(Extension(ctl)) = ctl else {
        return Err(no_conn_control());
    };
    let full = json!({ "ok": true, "arrival": a.n, "padding": "x".repeat(200) }).to_string();
    let full_len = full.len();
    let first = Bytes::from(full.into_bytes()).slice(..full_len / 2);
    // Yield the first half, give the connection time to flush it, then kill
    // the connection while the client still expects the rest.
    let stream = futures_util::stream::unfold(Some(first), move |chunk| {
        let ctl = ctl.clone();
        async move {
            match chunk {
                Some(bytes) => Some((Ok::<Bytes, std::io::Error>(bytes), None)),
                None => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    ctl.kill();
                    std::future::pending::<()>().await;
                    None
                }
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    Ok(resp)
}

async fn flap(
    State(state): State<DemoState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    _body: Bytes,
) -> Result<Response, ApiError> {
    let a = arrive(&state, &headers, q.as_deref());
    let period = query_u64(&a.pairs, "period", 1)?.max(1);
    let failing = ((a.n - 1) / period).is_multiple_of(2);
    if failing {
        Ok(injected(StatusCode::SERVICE_UNAVAILABLE, a.n))
    } else {
        Ok(ok(a.n))
    }
}

async fn arrivals(
    State(state): State<DemoState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let pairs = query_pairs(q.as_deref());
    let key = fault_key(&headers, &pairs);
    json_response(StatusCode::OK, &state.arrivals(&key))
}

async fn reset(
    State(state): State<DemoState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> impl IntoResponse {
    let pairs = query_pairs(q.as_deref());
    let key = fault_key(&headers, &pairs);
    state.reset_faults(&key);
    json_response(StatusCode::OK, &json!({ "key": key, "reset": true }))
}
