//! Endpoints for streaming bodies: large downloads (with ranges), slow
//! drips and stalls, and compressed responses.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::routes::{query_pairs, query_u64, ApiError, MAX_SLEEP_MS};
use crate::state::DemoState;

/// The largest body `/bytes/{n}` serves: 4 GiB.
const MAX_BYTES: u64 = 4 << 30;
/// The largest chunk `/bytes/{n}` writes at once: 1 MiB.
const MAX_CHUNK: u64 = 1 << 20;
/// The most chunks `/drip` sends.
const MAX_DRIP_CHUNKS: u64 = 10_000;

/// Byte `i` of every `/bytes/{n}` body: a pattern a client can check
/// without keeping the body (`i % 251`, a prime, so chunk boundaries never
/// line up with it).
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

pub(crate) fn router() -> Router<DemoState> {
    Router::new()
        .route("/bytes/{n}", get(bytes))
        .route("/drip", get(drip))
        .merge(
            Router::new().route("/compressed", get(compressed)).layer(
                tower_http::compression::CompressionLayer::new()
                    .gzip(true)
                    .deflate(true)
                    .br(true)
                    .zstd(true),
            ),
        )
}

/// `Range: bytes=a-b` / `bytes=a-` against a body of `len` bytes.
fn parse_range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(v) = headers.get(header::RANGE) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or_default();
    let Some(spec) = v.strip_prefix("bytes=") else {
        return Ok(None);
    };
    let (a, b) = spec.split_once('-').unwrap_or((spec, ""));
    let start: u64 = a
        .trim()
        .parse()
        .map_err(|_| ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "unsupported range"))?;
    let end = if b.trim().is_empty() {
        len.saturating_sub(1)
    } else {
        b.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "unsupported range"))?
            .min(len.saturating_sub(1))
    };
    if start >= len || start > end {
        return Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("range starts past the end ({len} bytes)"),
        ));
    }
    Ok(Some((start, end)))
}

/// `GET /bytes/{n}?chunk=K&chunked=1&delay_ms=D`: `n` bytes of
/// [`pattern_byte`], written `K` bytes at a time (default 64 KiB), with
/// `Content-Length` unless `chunked=1`, `D` ms between chunks; honours a
/// single `Range`.
async fn bytes(
    Path(n): Path<u64>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    if n > MAX_BYTES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BYTES} bytes, asked for {n}"
        )));
    }
    let chunk = query_u64(&pairs, "chunk", 64 * 1024)?.clamp(1, MAX_CHUNK);
    let delay = query_u64(&pairs, "delay_ms", 0)?.min(MAX_SLEEP_MS);
    let chunked = query_u64(&pairs, "chunked", 0)? == 1;
    let range = parse_range(&headers, n)?;
    let (start, end_excl) = match range {
        Some((a, b)) => (a, b + 1),
        None => (0, n),
    };
    let stream = futures_util::stream::unfold(start, move |pos| async move {
        if pos >= end_excl {
            return None;
        }
        if delay > 0 && pos > start {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let len = chunk.min(end_excl - pos);
        let data: Vec<u8> = (pos..pos + len).map(pattern_byte).collect();
        Some((Ok::<Bytes, std::io::Error>(Bytes::from(data)), pos + len))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if !chunked {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(end_excl - start));
    }
    if let Some((a, b)) = range {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{n}")) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

/// `GET /drip?chunks=N&size=S&delay_ms=D&stall_after=K&stall_ms=M`: `N`
/// chunks (default 5) of `S` bytes (default 16) of `x`, `D` ms apart
/// (default 10); after `K` chunks it sends nothing for `M` ms (a stall),
/// then goes on. Chunked, no `Content-Length`.
async fn drip(RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let chunks = query_u64(&pairs, "chunks", 5)?.min(MAX_DRIP_CHUNKS);
    let size = query_u64(&pairs, "size", 16)?.clamp(1, MAX_CHUNK) as usize;
    let delay = query_u64(&pairs, "delay_ms", 10)?.min(MAX_SLEEP_MS);
    let stall_after = query_u64(&pairs, "stall_after", u64::MAX)?;
    let stall_ms = query_u64(&pairs, "stall_ms", 0)?.min(MAX_SLEEP_MS);
    let stream = futures_util::stream::unfold(0u64, move |i| async move {
        if i >= chunks {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if i == stall_after && stall_ms > 0 {
            tokio::time::sleep(Duration::from_millis(stall_ms)).await;
        }
        Some((
            Ok::<Bytes, std::io::Error>(Bytes::from(vec![b'x'; size])),
            i + 1,
        ))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(resp)
}

/// `GET /compressed?items=N`: a JSON array of `N` items (default 200,
/// about 10 KB), compressed as the request's `Accept-Encoding` asks
/// (gzip, deflate, br, zstd) by tower-http's compression layer.
async fn compressed(RawQuery(q): RawQuery) -> Result<impl IntoResponse, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let n = query_u64(&pairs, "items", 200)?.min(100_000);
    let items: Vec<_> = (0..n)
        .map(|i| json!({"id": i, "name": format!("item {i}"), "tags": ["compressed", "demo"]}))
        .collect();
    Ok(axum::Json(json!({ "items": items, "count": n })))
}
