//! Signed endpoints: requests signed with Keel's default scheme
//! ([`keel::signing::Scheme::default_hmac`]) by the demo key pair
//! [`DEMO_API_KEY`](crate::DEMO_API_KEY) / [`DEMO_API_SECRET`](crate::DEMO_API_SECRET),
//! checked with [`keel::signing::verify::Verifier`].
//!
//! - `GET /signed/whoami` → 200 `{"key": "<api key>"}`
//! - `POST /signed/orders` (a JSON body) → 201 with the order echoed
//! - `GET /time[?skew_ms=N]` → 200 `{"epoch_ms": N}`: the server clock (moved
//!   by `skew_ms`, to test clock synchronisation)
//!
//! A request that fails verification gets 401 `{"error": reason}` with
//! reason `bad signature`, `stale timestamp` (outside ±30 s),
//! `replayed nonce` (the same signature twice), `unknown key` or
//! `missing header API-Key` (… `API-Timestamp`, `API-Nonce`, `API-Signature`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use keel::signing::verify::{Rejection, Verifier, VerifyRequest};
use keel::signing::HmacRecipe;
use serde_json::{json, Value};

use crate::routes::{json_response, query_pairs, query_param};
use crate::state::DemoState;

/// The API key the signed endpoints accept.
pub const DEMO_API_KEY: &str = "demo-key";
/// The secret of [`DEMO_API_KEY`]. For the demo only: it is public.
pub const DEMO_API_SECRET: &str = "demo-secret-0123456789";
/// How far a request's `API-Timestamp` may be from the server clock.
pub const DEMO_WINDOW: Duration = Duration::from_secs(30);

pub(crate) fn router() -> Router<DemoState> {
    let verifier = Verifier::builder(HmacRecipe::keel_default())
        .key(DEMO_API_KEY, DEMO_API_SECRET)
        .window(DEMO_WINDOW)
        .build();
    Router::new()
        .route("/signed/whoami", get(whoami))
        .route("/signed/orders", post(create_order))
        .route("/time", get(time))
        .layer(Extension(verifier))
}

fn check(
    verifier: &Verifier,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Rejection> {
    let pq = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_else(|| uri.path());
    verifier
        .verify(&VerifyRequest::new(method, pq, headers, body))
        .map(|v| v.api_key)
}

fn unauthorized(r: Rejection) -> Response {
    json_response(StatusCode::UNAUTHORIZED, &json!({ "error": r.reason() }))
}

async fn whoami(
    Extension(v): Extension<Verifier>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match check(&v, &method, &uri, &headers, &body) {
        Ok(key) => json_response(StatusCode::OK, &json!({ "key": key })),
        Err(r) => unauthorized(r),
    }
}

async fn create_order(
    Extension(v): Extension<Verifier>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&v, &method, &uri, &headers, &body) {
        return unauthorized(r);
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(order) if order.is_object() => json_response(StatusCode::CREATED, &order),
        _ => json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "the order must be a JSON object" }),
        ),
    }
}

async fn time(RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let skew: i64 = query_param(&pairs, "skew_ms")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    json_response(
        StatusCode::OK,
        &json!({ "epoch_ms": now.saturating_add(skew).max(0) }),
    )
}

/// The OpenAPI paths of the signed endpoints.
pub(crate) fn openapi() -> Value {
    let err = json!({ "description": "Not authenticated", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    json!({
        "paths": {
            "/signed/whoami": { "get": {
                "operationId": "whoami", "tags": ["signed"],
                "summary": "The API key a signed request was made with",
                "security": [{ "apiKey": [] }],
                "responses": {
                    "200": { "description": "Who signed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/WhoAmI" } } } },
                    "401": err
                }
            }},
            "/signed/orders": { "post": {
                "operationId": "createSignedOrder", "tags": ["signed"],
                "summary": "Place an order (echoed back)",
                "security": [{ "apiKey": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Order" } } } },
                "responses": {
                    "201": { "description": "The order", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Order" } } } },
                    "400": { "description": "Not a JSON object", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "401": err
                }
            }},
            "/time": { "get": {
                "operationId": "getServerTime", "tags": ["meta"],
                "summary": "The server clock, for clock synchronisation",
                "parameters": [{ "name": "skew_ms", "in": "query", "required": false,
                    "description": "Added to the clock (tests).", "schema": { "type": "integer", "format": "int64" } }],
                "responses": { "200": { "description": "Milliseconds since the epoch", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ServerTime" } } } } }
            }}
        },
        "components": { "schemas": {
            "WhoAmI": { "type": "object", "required": ["key"], "properties": { "key": { "type": "string" } } },
            "Order": { "type": "object", "required": ["symbol", "qty"], "properties": {
                "symbol": { "type": "string" }, "qty": { "type": "integer", "format": "int64" },
                "price": { "type": "string" } }, "additionalProperties": true },
            "ServerTime": { "type": "object", "required": ["epoch_ms"], "properties": { "epoch_ms": { "type": "integer", "format": "int64" } } }
        }}
    })
}
