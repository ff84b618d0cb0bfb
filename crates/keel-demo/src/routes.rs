//! The plain (non-fault) endpoints of the demo API.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use base64::Engine as _;
use serde::Serialize;
use serde_json::json;

use crate::state::{DemoState, NewItem};
use crate::{faults, openapi};

/// Largest body any endpoint accepts (16 MiB).
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Longest wait `/slow` and `/fault/delay` accept.
pub(crate) const MAX_SLEEP_MS: u64 = 60_000;
/// Longest redirect chain `/redirect/{n}` builds.
const MAX_REDIRECT_HOPS: u64 = 100;

const HEALTH_BODY: &str = r#"{"status":"ok"}"#;
/// The fixed body of `GET /bench` (about 100 bytes).
pub(crate) const BENCH_BODY: &str = r#"{"id":42,"name":"bench","price":12.5,"tags":["fast","small"],"in_stock":true,"note":"keel demo bench"}"#;

/// `POST /bench`: reads the whole body and answers `{"received":<bytes>}`,
/// nothing else (the benchmarks' cheap endpoint for requests with a body;
/// `/echo` costs the server far more, and its answer grows with the
/// request's headers).
async fn bench_post(body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(format!(r#"{{"received":{}}}"#, body.len())));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An error answered as `{"error": message}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &json!({ "error": self.message }))
    }
}

/// A JSON response with an exact status.
pub(crate) fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = Response::new(Body::from(bytes));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            let mut resp = Response::new(Body::from(format!("serialization failed: {e}")));
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            resp
        }
    }
}

fn static_json(body: &'static str) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Decoded query pairs, in order (lossy UTF-8, `+` as space).
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

/// The last value of a query parameter.
pub(crate) fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A numeric query parameter with a default; a malformed value is a 400.
pub(crate) fn query_u64(
    pairs: &[(String, String)],
    name: &str,
    default: u64,
) -> Result<u64, ApiError> {
    match query_param(pairs, name) {
        None | Some("") => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "query parameter `{name}` must be a non-negative integer, got `{v}`"
            ))
        }),
    }
}

/// The routes of the demo API, fault injection included.
pub(crate) fn build_router(state: DemoState) -> Router {
    Router::new()
        .route("/health", get(|| async { static_json(HEALTH_BODY) }))
        .route(
            "/bench",
            get(|| async { static_json(BENCH_BODY) }).post(bench_post),
        )
        .route("/items", get(list_items).post(create_item))
        .route(
            "/items/{id}",
            get(get_item).put(update_item).delete(delete_item),
        )
        .route("/echo", any(echo))
        .route("/echo/", any(echo))
        .route("/echo/{*rest}", any(echo))
        .route("/redirect", any(redirect))
        .route("/redirect/{n}", any(redirect_chain))
        .route("/slow", any(slow))
        .route("/status/{code}", any(status))
        .route("/undocumented", any(undocumented))
        .route("/openapi.json", get(openapi_json))
        .merge(faults::router())
        .merge(crate::signed::router())
        .merge(crate::streams::router())
        .merge(crate::sdk::router())
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {}", uri.path()),
    )
}

fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("item id must be an integer, got `{raw}`")))
}

fn not_found_item(id: u64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("item {id} not found"))
}

fn parse_new_item(body: &[u8]) -> Result<NewItem, ApiError> {
    let item: NewItem = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid item JSON: {e}")))?;
    if item.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`name` must not be empty",
        ));
    }
    if !item.price.is_finite() || item.price < 0.0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`price` must be a number, zero or more",
        ));
    }
    Ok(item)
}

async fn list_items(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let limit = match query_param(&pairs, "limit") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "query parameter `limit` must be a non-negative integer, got `{v}`"
            ))
        })?),
    };
    Ok(json_response(StatusCode::OK, &state.list_items(limit)))
}

async fn get_item(
    State(state): State<DemoState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let item = state.get_item(id).ok_or_else(|| not_found_item(id))?;
    Ok(json_response(StatusCode::OK, &item))
}

async fn create_item(State(state): State<DemoState>, body: Bytes) -> Result<Response, ApiError> {
    let new = parse_new_item(&body)?;
    let item = state.create_item(new);
    let mut resp = json_response(StatusCode::CREATED, &item);
    if let Ok(loc) = HeaderValue::from_str(&format!("/items/{}", item.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn update_item(
    State(state): State<DemoState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let new = parse_new_item(&body)?;
    let item = state
        .update_item(id, new)
        .ok_or_else(|| not_found_item(id))?;
    Ok(json_response(StatusCode::OK, &item))
}

async fn delete_item(
    State(state): State<DemoState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    if state.delete_item(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found_item(id))
    }
}

/// What `/echo` reports about the request it received.
#[derive(Debug, Serialize)]
pub(crate) struct Echo {
    method: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<String>,
    query_pairs: Vec<(String, String)>,
    headers: BTreeMap<String, Vec<String>>,
    cookies: BTreeMap<String, String>,
    body: String,
    body_base64: String,
    body_length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_length: Option<u64>,
    version: &'static str,
}

fn version_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "unknown",
    }
}

async fn echo(
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut hmap: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &headers {
        hmap.entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let mut cookies = BTreeMap::new();
    for value in headers.get_all(header::COOKIE) {
        let value = String::from_utf8_lossy(value.as_bytes());
        for part in value.split(';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, val) = part.split_once('=').unwrap_or((part, ""));
            cookies.insert(name.trim().to_owned(), val.trim().to_owned());
        }
    }
    let header_str = |name: header::HeaderName| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let echo = Echo {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        query_pairs: query_pairs(uri.query()),
        headers: hmap,
        cookies,
        body: String::from_utf8_lossy(&body).into_owned(),
        body_base64: base64::engine::general_purpose::STANDARD.encode(&body),
        body_length: body.len(),
        content_type: header_str(header::CONTENT_TYPE),
        content_length: header_str(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
        version: version_name(version),
    };
    json_response(StatusCode::OK, &echo)
}

fn redirect_response(status: StatusCode, location: &str) -> Result<Response, ApiError> {
    let loc = HeaderValue::from_str(location)
        .map_err(|_| ApiError::bad_request("`to` is not a valid Location header value"))?;
    let mut resp = json_response(status, &json!({ "location": location }));
    resp.headers_mut().insert(header::LOCATION, loc);
    Ok(resp)
}

fn redirect_status(pairs: &[(String, String)]) -> Result<StatusCode, ApiError> {
    let code = query_u64(pairs, "status", 302)?;
    if !(300..=399).contains(&code) {
        return Err(ApiError::bad_request(format!(
            "`status` must be a 3xx code, got {code}"
        )));
    }
    StatusCode::from_u16(code as u16)
        .map_err(|_| ApiError::bad_request(format!("invalid status {code}")))
}

async fn redirect(RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let status = redirect_status(&pairs)?;
    let to = query_param(&pairs, "to").unwrap_or("/echo");
    redirect_response(status, to)
}

async fn redirect_chain(
    Path(n): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let n: u64 = n
        .parse()
        .map_err(|_| ApiError::bad_request(format!("hop count must be an integer, got `{n}`")))?;
    if n == 0 || n > MAX_REDIRECT_HOPS {
        return Err(ApiError::bad_request(format!(
            "hop count must be between 1 and {MAX_REDIRECT_HOPS}, got {n}"
        )));
    }
    let pairs = query_pairs(q.as_deref());
    let status = redirect_status(&pairs)?;
    let suffix = match q.as_deref() {
        Some(q) if !q.is_empty() => format!("?{q}"),
        _ => String::new(),
    };
    let next = if n > 1 {
        format!("/redirect/{}{suffix}", n - 1)
    } else {
        "/echo".to_owned()
    };
    redirect_response(status, &next)
}

async fn slow(RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let ms = query_u64(&pairs, "ms", 0)?.min(MAX_SLEEP_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json_response(StatusCode::OK, &json!({ "slept_ms": ms })))
}

async fn status(method: Method, Path(code): Path<String>) -> Result<Response, ApiError> {
    let parsed: u16 = code
        .parse()
        .map_err(|_| ApiError::bad_request(format!("status must be an integer, got `{code}`")))?;
    let status = StatusCode::from_u16(parsed).map_err(|_| {
        ApiError::bad_request(format!("status must be between 100 and 999, got {parsed}"))
    })?;
    if status.is_informational() {
        // hyper cannot send a 1xx as the final answer to a request.
        return Err(ApiError::bad_request(format!(
            "informational status {parsed} cannot be a final response"
        )));
    }
    let no_body = matches!(parsed, 204 | 205 | 304) || method == Method::HEAD;
    if no_body {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = status;
        return Ok(resp);
    }
    Ok(json_response(status, &json!({ "status": parsed })))
}

async fn undocumented() -> Response {
    json_response(
        StatusCode::IM_A_TEAPOT,
        &json!({ "error": "I'm a teapot: this status is not in the OpenAPI document" }),
    )
}

async fn openapi_json(State(state): State<DemoState>, uri: Uri, headers: HeaderMap) -> Response {
    let mut doc = openapi::document();
    if let Some(ext) = state.openapi_extension() {
        openapi::merge(&mut doc, ext);
    }
    // HTTP/1.1 has a Host header; HTTP/2 has the authority in the URI.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    if let Some(host) = host {
        let scheme = if state.is_tls() { "https" } else { "http" };
        doc["servers"] = json!([{ "url": format!("{scheme}://{host}") }]);
    }
    json_response(StatusCode::OK, &doc)
}
