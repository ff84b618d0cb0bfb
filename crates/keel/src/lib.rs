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
//! ```no_run
//! # async fn run() -> keel::Result<()> {
//! use std::time::Duration;
//! let client = keel::HttpClient::builder("https://api.example.com/v1")
//!     .header("User-Agent", "my-app/1.0")
//!     .timeout(Duration::from_secs(10))
//!     .build()?;
//! let resp = client.get("/items/{id}").path_param("id", 42).send().await?;
//! let item: serde_json::Value = resp.json()?;
//! # let _ = item; Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod authenticated;
mod client;
pub mod codegen_support;
mod config;
mod error;
mod multipart;
mod pipeline;
mod request;
pub mod resilience;
mod response;
pub mod signing;

pub use authenticated::{
    ClockSync, HttpAuthenticatedClient, HttpAuthenticatedClientBuilder, ServerTime,
    DEFAULT_AUTH_HEADER_NAME,
};
pub use client::{Client, ClientScope, HttpClient};
pub use config::{
    HttpClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT,
};
pub use error::{ApiError, Error, Result};
pub use multipart::Multipart;
pub use request::{encode_path_segment, RequestBuilder, StatusMatch};
pub use resilience::Resilience;
pub use response::Response;

/// Internals exposed for Keel's own benchmarks; not part of the public API
/// and exempt from semver.
#[doc(hidden)]
pub mod __private {
    pub use crate::request::build_url;
}

pub use bytes::Bytes;
pub use http::{HeaderMap, HeaderValue, Method, StatusCode};
/// The transport Keel is built on, for the escape hatches
/// ([`HttpClientBuilder::configure_async`], [`HttpClient::set_async_client`]).
pub use reqwest;
pub use url::Url;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
