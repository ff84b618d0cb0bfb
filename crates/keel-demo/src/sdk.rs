//! What SDKs need beyond request/response: a server-sent event stream that
//! can drop its connection and resumes from `Last-Event-ID`, one paginated
//! list per pagination strategy, and an OAuth2 token endpoint with a
//! protected resource.
//!
//! # Server-sent events
//! `GET /sse/ticks?count=N&drop_after=K&retry_ms=R&delay_ms=D&done=1&key=X`:
//! events `1..=N` (default 10), each `id: n`, `event: tick`, data
//! `{"n": n, "text": "tick n"}` (every third event's JSON spread over
//! several `data:` lines), with comments between them. A `Last-Event-ID`
//! header resumes after that event. `drop_after=K` drops every connection
//! after K events (no clean end: the client must reconnect); `retry_ms`
//! sends `retry:` first; `done=1` sends a final `data: [DONE]`. The
//! connections of key X are recorded ([`DemoState::sse_connections`]).
//!
//! # Pagination (items `{"id": "it_001", "n": 1}` … of a list of `total`,
//! default 23; every request counts as an arrival of fault key
//! `pages:<key>`)
//! - cursor: `GET /pages/cursor?limit=L&cursor=C` → `{"data": [..], "next_cursor": "c5" | null}`
//! - Stripe: `GET /pages/stripe?limit=L&starting_after=ID` → `{"object": "list", "data": [..], "has_more": bool}`
//! - offset: `GET /pages/offset?offset=O&limit=L` → `{"items": [..], "total": N}`
//! - page number: `GET /pages/numbered?page=P&per_page=L` (from 1) → `{"results": [..], "page": P, "total_pages": T}`
//! - Link header: `GET /pages/link?page=P&per_page=L` → a JSON array, and
//!   `Link: </pages/link?page=P+1&per_page=L>; rel="next"` while there is more.
//!
//! # OAuth2
//! - `POST /oauth2/token[?expires_in=S]` (form): `grant_type=client_credentials`
//!   (client [`DEMO_OAUTH_CLIENT_ID`] / [`DEMO_OAUTH_CLIENT_SECRET`], HTTP
//!   Basic or in the form; optional `scope`) or `grant_type=refresh_token`
//!   → `{"access_token", "token_type": "Bearer", "expires_in", "refresh_token", "scope"}`;
//!   tokens live `S` seconds (default 60, or [`DemoState::set_token_lifetime`]). Errors follow RFC 6749 §5.2.
//! - `GET /oauth2/protected` with `Authorization: Bearer <token>` → `{"ok": true, "token": n}`,
//!   or 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
//! - `POST /oauth2/expire`: every issued access token expires now (as if
//!   the server revoked them); `GET /oauth2/stats` → the token request counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use crate::routes::{json_response, query_pairs, query_param, query_u64, ApiError, MAX_SLEEP_MS};
use crate::state::DemoState;

/// The OAuth2 client id the demo token endpoint accepts.
pub const DEMO_OAUTH_CLIENT_ID: &str = "keel-demo-client";
/// The secret of [`DEMO_OAUTH_CLIENT_ID`]. For the demo only: it is public.
pub const DEMO_OAUTH_CLIENT_SECRET: &str = "keel-demo-oauth-secret";

/// The most events `/sse/ticks` sends.
const MAX_EVENTS: u64 = 100_000;
/// The longest list the pagination endpoints serve.
const MAX_TOTAL: u64 = 100_000;
/// The longest token lifetime the token endpoint grants (a day).
const MAX_EXPIRES_IN: u64 = 86_400;

/// One connection `/sse/ticks` accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseConnection {
    /// The `Last-Event-ID` header it carried, if any.
    pub last_event_id: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

/// How many token requests the OAuth2 endpoint answered, by grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenStats {
    /// Every `POST /oauth2/token`, failed ones included.
    pub token_requests: u64,
    /// Tokens issued for `client_credentials`.
    pub client_credentials: u64,
    /// Tokens issued for `refresh_token`.
    pub refresh_token: u64,
    /// Requests to `/oauth2/protected` refused for a missing, unknown or
    /// expired token.
    pub unauthorized: u64,
}

#[derive(Debug)]
struct Issued {
    number: u64,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    sse: HashMap<String, Vec<SseConnection>>,
    stats: TokenStats,
    tokens: HashMap<String, Issued>,
    refresh_tokens: HashMap<String, String>,
    issued: u64,
    lifetime: Option<u64>,
}

/// The state of these endpoints, inside [`DemoState`].
#[derive(Debug, Clone, Default)]
pub(crate) struct SdkState {
    inner: Arc<Mutex<Inner>>,
}

impl SdkState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DemoState {
    /// The connections `/sse/ticks?key=K` accepted, in order.
    pub fn sse_connections(&self, key: &str) -> Vec<SseConnection> {
        self.sdk().lock().sse.get(key).cloned().unwrap_or_default()
    }

    /// The OAuth2 token endpoint's counters.
    pub fn token_stats(&self) -> TokenStats {
        self.sdk().lock().stats
    }

    /// The lifetime (`expires_in`, seconds) of the tokens issued from now
    /// on when the token URL has no `expires_in` (default 60).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.sdk().lock().lifetime = Some(seconds.clamp(1, MAX_EXPIRES_IN));
    }

    /// Every access token issued so far expires now (refresh tokens stay
    /// valid).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for t in self.sdk().lock().tokens.values_mut() {
            t.expires = now;
        }
    }
}

pub(crate) fn router() -> Router<DemoState> {
    Router::new()
        .route("/sse/ticks", get(ticks))
        .route("/pages/cursor", get(cursor_page))
        .route("/pages/stripe", get(stripe_page))
        .route("/pages/offset", get(offset_page))
        .route("/pages/numbered", get(numbered_page))
        .route("/pages/link", get(link_page))
        .route("/oauth2/token", post(token))
        .route("/oauth2/protected", get(protected))
        .route("/oauth2/expire", post(expire))
        .route("/oauth2/stats", get(stats))
}

// ----- server-sent events -------------------------------------------------

fn tick_event(n: u64) -> String {
    let text = format!("tick {n}");
    if n.is_multiple_of(3) {
        // JSON over several data lines: joined with "\n", still JSON.
        format!("id: {n}\nevent: tick\ndata: {{\ndata:   \"n\": {n},\ndata:   \"text\": \"{text}\"\ndata: }}\n\n")
    } else {
        format!("id: {n}\nevent: tick\ndata: {{\"n\":{n},\"text\":\"{text}\"}}\n\n")
    }
}

async fn ticks(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let count = query_u64(&pairs, "count", 10)?.min(MAX_EVENTS);
    let drop_after = query_u64(&pairs, "drop_after", 0)?;
    let retry_ms = query_param(&pairs, "retry_ms").map(str::to_owned);
    let delay = query_u64(&pairs, "delay_ms", 0)?.min(MAX_SLEEP_MS);
    let done = query_u64(&pairs, "done", 0)? == 1;
    let key = query_param(&pairs, "key").unwrap_or("default").to_owned();
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let start = match last_event_id.as_deref() {
        None | Some("") => 0,
        Some(id) => id.trim().parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("Last-Event-ID must be an event number, got {id:?}"))
        })?,
    };
    state
        .sdk()
        .lock()
        .sse
        .entry(key)
        .or_default()
        .push(SseConnection {
            last_event_id,
            at: Instant::now(),
        });
    let mut head = String::from(": keel demo ticks\n\n");
    if let Some(r) = retry_ms {
        head.push_str(&format!("retry: {r}\n\n"));
    }
    // (next event, events sent on this connection, finished)
    let stream = futures_util::stream::unfold(
        (start + 1, 0u64, false, Some(head)),
        move |(n, sent, finished, head)| async move {
            if let Some(h) = head {
                return Some((Ok(Bytes::from(h)), (n, sent, finished, None)));
            }
            if finished {
                return None;
            }
            if n > count {
                if done {
                    return Some((
                        Ok(Bytes::from_static(b"data: [DONE]\n\n")),
                        (n, sent, true, None),
                    ));
                }
                return None;
            }
            if drop_after > 0 && sent >= drop_after {
                // No clean end: the connection is dropped mid-stream. The
                // pause first lets the connection write out the events
                // already produced (an error straight after a chunk would
                // drop it unwritten).
                tokio::time::sleep(Duration::from_millis(10)).await;
                return Some((
                    Err(std::io::Error::other("dropping the event stream")),
                    (n, sent, true, None),
                ));
            }
            if delay > 0 && sent > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let mut chunk = tick_event(n);
            if n % 4 == 0 {
                chunk.push_str(": keep-alive\n\n");
            }
            Some((Ok(Bytes::from(chunk)), (n + 1, sent + 1, false, None)))
        },
    );
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

// ----- pagination ---------------------------------------------------------

fn item(n: u64) -> Value {
    json!({ "id": format!("it_{n:03}"), "n": n })
}

/// The list's length and the page size asked for; counts the arrival.
fn list_params(
    state: &DemoState,
    pairs: &[(String, String)],
    size_name: &str,
) -> Result<(u64, u64), ApiError> {
    let key = query_param(pairs, "key").unwrap_or("default");
    state.arrive(&format!("pages:{key}"), None);
    let total = query_u64(pairs, "total", 23)?.min(MAX_TOTAL);
    let size = query_u64(pairs, size_name, 5)?.clamp(1, 1000);
    Ok((total, size))
}

fn items(from: u64, to_incl: u64) -> Vec<Value> {
    (from..=to_incl).map(item).collect()
}

async fn cursor_page(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let (total, limit) = list_params(&state, &pairs, "limit")?;
    let start = match query_param(&pairs, "cursor") {
        None | Some("") => 1,
        Some(c) => c
            .strip_prefix('c')
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::bad_request(format!("unknown cursor {c:?}")))?,
    };
    let end = (start + limit - 1).min(total);
    let next = (end < total).then(|| format!("c{}", end + 1));
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": items(start, end), "next_cursor": next }),
    ))
}

async fn stripe_page(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let (total, limit) = list_params(&state, &pairs, "limit")?;
    let start = match query_param(&pairs, "starting_after") {
        None | Some("") => 1,
        Some(id) => {
            id.strip_prefix("it_")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request(format!("no such object: {id:?}")))?
                + 1
        }
    };
    let end = (start + limit - 1).min(total);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "object": "list", "data": items(start, end), "has_more": end < total }),
    ))
}

async fn offset_page(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let (total, limit) = list_params(&state, &pairs, "limit")?;
    let offset = query_u64(&pairs, "offset", 0)?;
    let end = (offset + limit).min(total);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "items": items(offset + 1, end), "total": total, "offset": offset, "limit": limit }),
    ))
}

async fn numbered_page(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let (total, per_page) = list_params(&state, &pairs, "per_page")?;
    let page = query_u64(&pairs, "page", 1)?.max(1);
    let total_pages = total.div_ceil(per_page);
    let start = (page - 1) * per_page + 1;
    let end = (page * per_page).min(total);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "results": items(start, end), "page": page, "total_pages": total_pages }),
    ))
}

async fn link_page(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
    uri: Uri,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let (total, per_page) = list_params(&state, &pairs, "per_page")?;
    let page = query_u64(&pairs, "page", 1)?.max(1);
    let start = (page - 1) * per_page + 1;
    let end = (page * per_page).min(total);
    let mut resp = json_response(StatusCode::OK, &items(start, end));
    let key = query_param(&pairs, "key").unwrap_or("default");
    let link_to = |p: u64| {
        format!(
            "<{}?page={p}&per_page={per_page}&total={total}&key={key}>",
            uri.path()
        )
    };
    let mut links = vec![format!("{}; rel=\"first\"", link_to(1))];
    if end < total {
        links.insert(0, format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

// ----- OAuth2 -------------------------------------------------------------

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"keel-demo\""),
        );
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The client id and secret: HTTP Basic, or `client_id` / `client_secret`
/// form fields.
fn client_auth(headers: &HeaderMap, form: &[(String, String)]) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (id, secret) = raw.split_once(':')?;
        // RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
        let decode = |s: &str| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
                .ok()
                .and_then(|v| v.into_iter().next().map(|(_, v)| v))
        };
        return Some((decode(id)?, decode(secret)?));
    }
    let id = query_param(form, "client_id")?;
    let secret = query_param(form, "client_secret").unwrap_or("");
    Some((id.to_owned(), secret.to_owned()))
}

fn new_secret(prefix: &str, n: u64) -> String {
    let raw: [u8; 12] = std::array::from_fn(|_| fastrand::u8(..));
    format!(
        "{prefix}-{n}-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

async fn token(
    State(state): State<DemoState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sdk = state.sdk().clone();
    sdk.lock().stats.token_requests += 1;
    let pairs = query_pairs(q.as_deref());
    let default_lifetime = sdk.lock().lifetime.unwrap_or(60);
    let expires_in = match query_u64(&pairs, "expires_in", default_lifetime) {
        Ok(e) => e.clamp(1, MAX_EXPIRES_IN),
        Err(e) => return e.into_response(),
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some((id, secret)) = client_auth(&headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no client authentication (HTTP Basic or client_id/client_secret)",
        );
    };
    if id != DEMO_OAUTH_CLIENT_ID || secret != DEMO_OAUTH_CLIENT_SECRET {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let scope = query_param(&form, "scope").unwrap_or("").to_owned();
    let mut inner = sdk.lock();
    let refresh = match query_param(&form, "grant_type") {
        Some("client_credentials") => {
            inner.stats.client_credentials += 1;
            None
        }
        Some("refresh_token") => {
            let Some(rt) = query_param(&form, "refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is missing",
                );
            };
            if !inner.refresh_tokens.contains_key(rt) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            }
            inner.stats.refresh_token += 1;
            Some(rt.to_owned())
        }
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported"),
            )
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            )
        }
    };
    inner.issued += 1;
    let number = inner.issued;
    let access = new_secret("at", number);
    inner.tokens.insert(
        access.clone(),
        Issued {
            number,
            expires: Instant::now() + Duration::from_secs(expires_in),
        },
    );
    let refresh = refresh.unwrap_or_else(|| new_secret("rt", number));
    inner.refresh_tokens.insert(refresh.clone(), id);
    drop(inner);
    let mut resp = json_response(
        StatusCode::OK,
        &json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "refresh_token": refresh,
            "scope": scope,
        }),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn protected(State(state): State<DemoState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let sdk = state.sdk().clone();
    let mut inner = sdk.lock();
    let number = token
        .and_then(|t| inner.tokens.get(t))
        .filter(|t| t.expires > Instant::now())
        .map(|t| t.number);
    match number {
        Some(n) => json_response(StatusCode::OK, &json!({ "ok": true, "token": n })),
        None => {
            inner.stats.unauthorized += 1;
            let mut resp = json_response(
                StatusCode::UNAUTHORIZED,
                &json!({ "error": "invalid_token" }),
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            resp
        }
    }
}

async fn expire(State(state): State<DemoState>) -> Response {
    state.expire_tokens();
    StatusCode::NO_CONTENT.into_response()
}

async fn stats(State(state): State<DemoState>) -> Response {
    json_response(StatusCode::OK, &state.token_stats())
}

// ----- the OpenAPI document -------------------------------------------------

/// The part of the demo's OpenAPI document for these endpoints: an
/// event-stream operation (its event schema under `itemSchema`, as OpenAPI
/// 3.2 writes it), a cursor-paginated list, and an OAuth2
/// client-credentials scheme protecting `/oauth2/protected`.
pub(crate) fn openapi() -> Value {
    let page_item = json!({ "$ref": "#/components/schemas/PageItem" });
    let q = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let int = json!({ "type": "integer", "format": "int64", "minimum": 0 });
    json!({
        "paths": {
            "/sse/ticks": { "get": {
                "operationId": "streamTicks", "tags": ["sdk"],
                "summary": "Server-sent events: numbered ticks; resumes after Last-Event-ID",
                "parameters": [
                    q("count", "How many events (default 10).", int.clone()),
                    q("drop_after", "Drop every connection after this many events.", int.clone()),
                    q("retry_ms", "Sent as `retry:` first.", int.clone()),
                    q("done", "1: end with `data: [DONE]`.", int.clone()),
                    q("key", "Groups connections for counting.", json!({ "type": "string" })),
                    { "name": "Last-Event-ID", "in": "header", "required": false,
                      "description": "Resume after this event.", "schema": { "type": "string" } }
                ],
                "responses": { "200": { "description": "The events",
                    "content": { "text/event-stream": {
                        "schema": { "type": "string" },
                        "itemSchema": { "$ref": "#/components/schemas/Tick" }
                    } } } }
            }},
            "/pages/cursor": { "get": {
                "operationId": "listPagedItems", "tags": ["sdk"],
                "summary": "A list paginated by cursor",
                "parameters": [
                    q("limit", "Page size (default 5).", int.clone()),
                    q("cursor", "The `next_cursor` of the previous page.", json!({ "type": "string" })),
                    q("total", "How long the list is (default 23).", int.clone()),
                    q("key", "Groups requests for counting.", json!({ "type": "string" }))
                ],
                "responses": { "200": { "description": "One page",
                    "content": { "application/json": { "schema": {
                        "type": "object", "required": ["data"],
                        "properties": {
                            "data": { "type": "array", "items": page_item },
                            "next_cursor": { "type": ["string", "null"] }
                        }
                    } } } } }
            }},
            "/oauth2/protected": { "get": {
                "operationId": "getProtected", "tags": ["sdk"],
                "summary": "A resource that needs an OAuth2 access token",
                "security": [{ "oauth2": ["items:read"] }],
                "responses": {
                    "200": { "description": "Authorized", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Protected" } } } },
                    "401": { "description": "Missing, unknown or expired token", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                }
            }}
        },
        "components": {
            "schemas": {
                "Tick": { "type": "object", "required": ["n", "text"], "properties": {
                    "n": { "type": "integer", "format": "int64", "minimum": 1 },
                    "text": { "type": "string" } } },
                "PageItem": { "type": "object", "required": ["id", "n"], "properties": {
                    "id": { "type": "string" },
                    "n": { "type": "integer", "format": "int64", "minimum": 1 } } },
                "Protected": { "type": "object", "required": ["ok", "token"], "properties": {
                    "ok": { "type": "boolean" },
                    "token": { "type": "integer", "format": "int64", "minimum": 1 } } }
            },
            "securitySchemes": {
                "oauth2": { "type": "oauth2", "flows": { "clientCredentials": {
                    "tokenUrl": "/oauth2/token",
                    "scopes": { "items:read": "Read items", "items:write": "Write items" }
                } } }
            }
        }
    })
}
