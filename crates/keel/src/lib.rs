//! # Keel
//!
//! Typed, signed and resilient HTTP API clients: the client layer that
//! OpenAPI-generated SDKs stand on, for Rust.
//!
//! - [`HttpClient`]: base URL, default headers and cookies, timeout, TLS
//!   verification, redirect policy, `raise_on_unexpected_status`, derived
//!   clients (`with_headers`, `with_cookies`, `with_timeout`,
//!   `with_resilience`) that share the pool, one value for async and blocking
//!   callers, and a scoped lifecycle.
//! - [`HttpAuthenticatedClient`]: the same, plus an API key and a signature on
//!   every request ([`signing`]).
//! - [`Resilience`]: retries, backoff, Retry-After, deadlines, circuit
//!   breaker, rate limiting, retry budget.
//!
//! ```toml
#![doc = include_str!("../examples/readme_dependencies.toml")]
//! ```
//!
//! From async code (these are the README's examples, kept in
//! `examples/`; they talk to the demo API that `keel serve --port 8080`
//! runs, or to `API_URL`):
//!
//! ```no_run
#![doc = include_str!("../examples/readme_async.rs")]
//! ```
//!
//! From blocking code (no runtime, no `async`):
//!
//! ```no_run
#![doc = include_str!("../examples/readme_blocking.rs")]
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod authenticated;
mod client;
pub mod codegen_support;
mod config;
mod error;
mod multipart;
pub mod oauth2;
pub mod pagination;
mod pipeline;
mod request;
pub mod resilience;
mod response;
pub mod signing;
pub mod sse;
pub mod transport;
mod validate;

pub use authenticated::{ClockSync, ServerTime, DEFAULT_AUTH_HEADER_NAME};
pub use client::{
    AuthState, Authenticated, Client, ClientScope, HttpAuthenticatedClient, HttpClient,
    Unauthenticated,
};
pub use config::{
    ClientBuilder, HttpAuthenticatedClientBuilder, HttpClientBuilder, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_READ_TIMEOUT, DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
};
pub use error::{ApiError, ConnectErrorKind, Error, Result};
pub use multipart::Multipart;
pub use request::{encode_path_segment, RequestBuilder, StatusMatch};
pub use resilience::Resilience;
pub use response::{BodyReader, Response, StreamingResponse};

/// Internals exposed for Keel's own benchmarks; not part of the public API
/// and exempt from semver.
#[doc(hidden)]
pub mod __private {
    pub use crate::request::build_url;
}

pub use bytes::Bytes;
/// The `http` crate Keel's types come from (requests, headers, status codes).
pub use http;
pub use http::{HeaderMap, HeaderValue, Method, StatusCode};
pub use url::Url;
