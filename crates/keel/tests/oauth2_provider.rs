//! The OAuth2 token provider's own behaviour: a token is renewed ahead of
//! its expiry (no request meets an expired token, none waits for a 401),
//! and token requests go through the Keel client the provider was given
//! (its default headers, its resilience: a failing token endpoint is
//! retried as any call of that client would be).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use keel::oauth2::TokenProvider;
use keel::resilience::Resilience;
use keel::HttpClient;
use keel_demo::{DemoServer, DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_renewed_ahead_of_its_expiry() {
    let server = DemoServer::start().await.unwrap();
    // Tokens live 2 s; renewal is due 1 s before expiry (never more than
    // half the lifetime ahead).
    server.state().set_token_lifetime(2);
    let provider = TokenProvider::client_credentials(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        DEMO_OAUTH_CLIENT_SECRET,
    )
    .refresh_ahead(Duration::from_secs(30))
    .build()
    .unwrap();
    let client = HttpClient::builder(server.url())
        .oauth2(provider)
        .build()
        .unwrap();
    let token_of = |body: &str| -> u64 {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["token"]
            .as_u64()
            .unwrap()
    };
    let first = client.get("/oauth2/protected").send().await.unwrap();
    assert_eq!(first.status, 200);
    let n1 = token_of(&first.text().unwrap());
    // Inside the renewal window, with the first token still valid for
    // about 0.7 s: the next call renews first.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let second = client.get("/oauth2/protected").send().await.unwrap();
    assert_eq!(second.status, 200);
    let n2 = token_of(&second.text().unwrap());
    assert_ne!(n1, n2, "renewed ahead of expiry");
    let stats = server.state().token_stats();
    assert_eq!(stats.token_requests, 2, "{stats:?}");
    assert_eq!(
        stats.unauthorized, 0,
        "no call met an expired token: {stats:?}"
    );
    // Outside the window, the token is reused.
    let third = client.get("/oauth2/protected").send().await.unwrap();
    assert_eq!(token_of(&third.text().unwrap()), n2);
    assert_eq!(server.state().token_stats().token_requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_go_through_the_client_the_provider_was_given() {
    // A token endpoint that fails its first request with 503 and records
    // the header the provider's client sends by default.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let (count, record) = (calls.clone(), seen.clone());
    let routes = axum::Router::new()
        .route(
            "/token",
            post(move |headers: HeaderMap| {
                let (count, record) = (count.clone(), record.clone());
                async move {
                    record.lock().unwrap().push(
                        headers
                            .get("x-token-client")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    );
                    if count.fetch_add(1, Ordering::SeqCst) == 0 {
                        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
                    }
                    (
                        [("content-type", "application/json")],
                        r#"{"access_token":"tok-0123456789abcdef","token_type":"Bearer","expires_in":60}"#,
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/protected",
            get(|headers: HeaderMap| async move {
                match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                    Some("Bearer tok-0123456789abcdef") => (StatusCode::OK, "ok"),
                    _ => (StatusCode::UNAUTHORIZED, "no"),
                }
            }),
        );
    let server = DemoServer::builder().routes(routes).start().await.unwrap();
    let token_client = HttpClient::builder(server.url())
        .header("X-Token-Client", "mine")
        .build()
        .unwrap()
        .with_resilience(
            Resilience::builder()
                .max_attempts(3)
                .backoff(Duration::from_millis(1), Duration::from_millis(5))
                .no_circuit_breaker()
                .no_retry_budget()
                .build()
                .unwrap(),
        );
    let provider = TokenProvider::client_credentials(
        format!("{}/token", server.url()),
        "client-id",
        "client-secret-0123456789",
    )
    .client(token_client)
    .build()
    .unwrap();
    let client = HttpClient::builder(server.url())
        .oauth2(provider)
        .build()
        .unwrap();
    let resp = client.get("/protected").send().await.unwrap();
    assert_eq!(resp.status, 200, "{:?}", resp.text());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the 503 was retried by the token client's policy"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Some("mine".to_owned()), Some("mine".to_owned())],
        "every token request carried the token client's header"
    );
}
