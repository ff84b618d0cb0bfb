//! OAuth2 against the demo server's token endpoint and protected resource:
//! one token request for 100 concurrent tasks, one per expiry, one renewal
//! and one retry on a 401, clear errors, secrets never printed, and
//! blocking callers.

use std::time::Duration;

use keel::oauth2::{ClientAuth, TokenProvider};
use keel::{HttpAuthenticatedClient, HttpClient};
use keel_demo::{DemoServer, DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET};

fn provider(server: &DemoServer) -> TokenProvider {
    TokenProvider::client_credentials(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        DEMO_OAUTH_CLIENT_SECRET,
    )
    .scopes(["items:read", "items:write"])
    .build()
    .unwrap()
}

fn client(server: &DemoServer, provider: TokenProvider) -> HttpAuthenticatedClient {
    HttpClient::builder(server.url())
        .oauth2(provider)
        .build()
        .unwrap()
}

/// Sends `n` concurrent requests to the protected endpoint; every one must
/// succeed.
async fn burst(client: &HttpAuthenticatedClient, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let c = client.clone();
        tasks.spawn(async move { c.get("/oauth2/protected").send().await });
    }
    while let Some(r) = tasks.join_next().await {
        let resp = r.unwrap().unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_tasks_cause_one_token_request() {
    let server = DemoServer::start().await.unwrap();
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    burst(&client, 100).await;
    let stats = server.state().token_stats();
    assert_eq!(stats.token_requests, 1, "{stats:?}");
    assert_eq!(stats.client_credentials, 1);
    assert_eq!(stats.unauthorized, 0);
    assert_eq!(provider.token_requests(), 1);
    let token = provider.token().await.unwrap();
    assert_eq!(token.scope(), Some("items:read items:write"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_once_for_every_task_that_needs_it() {
    let server = DemoServer::start().await.unwrap();
    server.state().set_token_lifetime(1);
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    burst(&client, 1).await;
    assert_eq!(server.state().token_stats().token_requests, 1);
    // The next token lives long; this one is past its expiry after the
    // sleep (a lower bound: sleeping longer changes nothing).
    server.state().set_token_lifetime(600);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    burst(&client, 100).await;
    let stats = server.state().token_stats();
    assert_eq!(
        stats.token_requests, 2,
        "one renewal for 100 tasks: {stats:?}"
    );
    // The demo hands out refresh tokens: the renewal used it.
    assert_eq!(stats.refresh_token, 1, "{stats:?}");
    assert_eq!(stats.unauthorized, 0, "renewed before use: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_renewed_once_on_a_401_and_the_request_retried() {
    let server = DemoServer::start().await.unwrap();
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    burst(&client, 100).await;
    assert_eq!(server.state().token_stats().token_requests, 1);
    // The server drops every token; the client still thinks its own good.
    server.state().expire_tokens();
    burst(&client, 100).await;
    let stats = server.state().token_stats();
    assert_eq!(
        stats.token_requests, 2,
        "one renewal for every 401: {stats:?}"
    );
    assert!(stats.unauthorized >= 1, "{stats:?}");
    assert!(
        stats.unauthorized <= 100,
        "each request retried at most once: {stats:?}"
    );
}

#[tokio::test]
async fn a_401_that_persists_is_returned_after_one_renewal() {
    let server = DemoServer::start().await.unwrap();
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    // /status/401 refuses every token.
    let resp = client.get("/status/401").send().await.unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(
        server.state().token_stats().token_requests,
        2,
        "the first token, and one renewal"
    );
}

#[tokio::test]
async fn the_client_may_authenticate_in_the_form_body() {
    let server = DemoServer::start().await.unwrap();
    let provider = TokenProvider::client_credentials(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        DEMO_OAUTH_CLIENT_SECRET,
    )
    .client_auth(ClientAuth::RequestBody)
    .build()
    .unwrap();
    let resp = client(&server, provider)
        .get("/oauth2/protected")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn a_refused_client_gets_a_clear_error_without_its_secret() {
    let server = DemoServer::start().await.unwrap();
    let provider = TokenProvider::client_credentials(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        "wrong-secret-value",
    )
    .build()
    .unwrap();
    let err = client(&server, provider.clone())
        .get("/oauth2/protected")
        .send()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("invalid_client"), "{text}");
    assert!(text.contains("client id and secret"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
    assert!(!format!("{err:?}").contains("wrong-secret-value"));
    // Nothing was sent to the protected endpoint.
    assert_eq!(server.state().token_stats().unauthorized, 0);
}

#[tokio::test]
async fn tokens_and_secrets_are_never_printed() {
    let server = DemoServer::start().await.unwrap();
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    let resp = client.get("/oauth2/protected").send().await.unwrap();
    assert_eq!(resp.status, 200);
    let token = provider.token().await.unwrap();
    let shown = format!("{provider:?} {client:?} {token:?} {resp:?}");
    assert!(!shown.contains(token.secret()), "{shown}");
    assert!(!shown.contains(DEMO_OAUTH_CLIENT_SECRET), "{shown}");
    assert!(shown.contains("[redacted]"));
}

#[tokio::test]
async fn bad_provider_settings_fail_when_built() {
    let err = TokenProvider::client_credentials("not a url", "id", "secret")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("not a valid URL"), "{err}");
    let err = TokenProvider::client_credentials("http://auth.example.com/token", "id", "secret")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    let err = TokenProvider::client_credentials("https://auth.example.com/token", "id", "")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no_client_secret"), "{err}");
}

#[tokio::test]
async fn a_refresh_token_grant_works_without_client_credentials_grant() {
    let server = DemoServer::start().await.unwrap();
    // Get a refresh token the way a login would have.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_OAUTH_CLIENT_ID),
        ("client_secret", DEMO_OAUTH_CLIENT_SECRET),
    ];
    let plain = HttpClient::new(server.url()).unwrap();
    let issued: serde_json::Value = plain
        .post("/oauth2/token")
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .unwrap();
    let refresh = issued["refresh_token"].as_str().unwrap().to_owned();
    let provider = TokenProvider::refresh_token(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        DEMO_OAUTH_CLIENT_SECRET,
        refresh,
    )
    .build()
    .unwrap();
    let resp = client(&server, provider)
        .get("/oauth2/protected")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let stats = server.state().token_stats();
    assert_eq!((stats.client_credentials, stats.refresh_token), (1, 1));
}

#[test]
fn blocking_callers_get_tokens_too() {
    let server = DemoServer::start_background().unwrap();
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    for _ in 0..3 {
        let resp = client.get("/oauth2/protected").send_blocking().unwrap();
        assert_eq!(resp.status, 200);
    }
    assert!(!provider.token_blocking().unwrap().secret().is_empty());
    assert_eq!(server.state().token_stats().token_requests, 1);
}
