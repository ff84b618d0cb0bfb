//! The Keel demo and fault-injection server.
//!
//! An axum application served by its own hyper accept loop (HTTP/1.1 with
//! keep-alive, and HTTP/2), optionally over TLS (rustls with ring, and a
//! certificate authority generated at start). Keel's integration tests start
//! it in-process on `127.0.0.1:0`; `keel serve` runs it with [`serve`];
//! benchmarks use `GET /bench`; the code generator's end-to-end test builds
//! a client from its own `GET /openapi.json`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = keel_demo::DemoServer::start().await?;
//! let health = format!("{}/health", server.url()); // answers {"status":"ok"}
//! # let _ = health;
//! assert_eq!(server.state().arrivals("my-test").arrivals, 0);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//! - `GET /health`, `GET /bench` (a fixed ~100-byte JSON body), `POST /bench`
//!   (reads the body, answers `{"received": <bytes>}`), `GET /openapi.json`.
//! - `GET|POST /items`, `GET|PUT|DELETE /items/{id}` (an in-memory store
//!   seeded with items 1, 2 and 3).
//! - `ANY /echo`, `ANY /echo/{*rest}`: what arrived (method, raw path, raw
//!   query, decoded query pairs, headers, cookies, body as text and base64).
//! - `GET /redirect?to=URL&status=3xx`, `GET /redirect/{n}` (n hops, then
//!   `/echo`).
//! - `GET /slow?ms=N`, `GET /status/{code}` (any code 200..=999),
//!   `GET /undocumented` (answers 418; documented as 200 only).
//! - Signed endpoints (Keel's default scheme, key [`DEMO_API_KEY`], secret
//!   [`DEMO_API_SECRET`]): `GET /signed/whoami`, `POST /signed/orders`; and
//!   `GET /time` (the server clock, for clock synchronisation). A request
//!   that fails verification gets 401 `{"error": reason}`.
//! - Streaming: `GET /bytes/{n}?chunk=K&chunked=1&delay_ms=D` (`n` bytes of
//!   [`pattern_byte`], honouring one `Range`), `GET /drip?chunks=N&size=S&delay_ms=D&stall_after=K&stall_ms=M`
//!   (slow chunks and a stall), `GET /compressed?items=N` (JSON compressed as
//!   the request's `Accept-Encoding` asks: gzip, deflate, br, zstd).
//! - SDK features ([`sdk`]): `GET /sse/ticks` (server-sent
//!   events that drop and resume from `Last-Event-ID`), `GET /pages/{cursor,stripe,offset,numbered,link}`
//!   (one paginated list per strategy), `POST /oauth2/token`,
//!   `GET /oauth2/protected`, `POST /oauth2/expire`, `GET /oauth2/stats`
//!   (OAuth2 client credentials and refresh tokens).
//! - Fault injection under `/fault/` (below): `fail`, `retry-after`,
//!   `delay`, `close`, `reset-mid-body`, `flap`, plus `arrivals` and `reset`.
//!
//! # Faults
//! Requests are grouped by the `X-Fault-Key` header (or `?key=`); every
//! request under `/fault/` except `/fault/arrivals` and `/fault/reset` counts
//! as one arrival for its key and for its `Idempotency-Key` header value.
//! Bodies are read before a fault is applied.
//!
//! | endpoint | the first `times` arrivals | later arrivals |
//! |---|---|---|
//! | `/fault/fail?times=N&status=S` | status S (default 503) | 200 `{"ok":true,"arrival":n}` |
//! | `/fault/retry-after?times=N&seconds=S[&form=date]` | 429 + `Retry-After` | 200 |
//! | `/fault/delay?ms=M&times=N` | wait M ms, then 200 (default: all arrivals) | 200 at once |
//! | `/fault/close?times=N` | connection closed, no response bytes | 200 |
//! | `/fault/reset-mid-body?times=N` | 200 head with Content-Length, half the body, connection dropped | 200 |
//! | `/fault/flap?period=P` | P failures (503), P successes, and so on | |
//!
//! `times` defaults to 1 except for `delay`. `GET /fault/arrivals?key=K`
//! reports `{"key","arrivals","idempotency_keys","by_idempotency_key"}`;
//! `POST /fault/reset?key=K` clears a key.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod faults;
pub mod openapi;
mod routes;
pub mod sdk;
mod server;
mod signed;
mod state;
mod streams;
mod tls;

pub use sdk::{SseConnection, TokenStats, DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET};
pub use server::{serve, serve_router, serve_router_tls, DemoServer, DemoServerBuilder};
pub use signed::{DEMO_API_KEY, DEMO_API_SECRET, DEMO_WINDOW};
pub use state::{Arrivals, DemoState, Item, NewItem};
pub use streams::pattern_byte;
pub use tls::DemoTls;

/// The demo API as an axum router, with `state` applied: merge your own
/// routes into it, and serve it with [`serve_router`] (whose accept loop is
/// needed for `/fault/close` and `/fault/reset-mid-body`).
///
/// ```
/// use axum::routing::get;
/// let state = keel_demo::DemoState::new();
/// let app = keel_demo::router(state)
///     .merge(axum::Router::new().route("/extra", get(|| async { "extra" })));
/// # let _ = app;
/// ```
pub fn router(state: DemoState) -> axum::Router {
    routes::build_router(state)
}

/// The header that groups fault-injection requests (`X-Fault-Key`).
pub const FAULT_KEY_HEADER: &str = "X-Fault-Key";
