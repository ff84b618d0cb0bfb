//! OAuth2 against the demo server's token endpoint and protected resource:
//! one token request for 100 concurrent tasks, one per expiry, one renewal
//! and one retry on a 401, clear errors, secrets never printed, and
//! blocking callers.
//!
//! Every test runs under the shared secret scan (tests/common/secrets.rs):
//! no error, `Debug` or log line shows a client secret, an access token or a
//! refresh token.

mod common;

use std::time::Duration;

use common::secrets::SecretScan;
use keel::oauth2::{ClientAuth, TokenProvider};
use keel::{HttpAuthenticatedClient, HttpClient};
use keel_demo::{DemoServer, DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET};

/// A client secret the token endpoint refuses.
const WRONG_SECRET: &str = "wrong-secret-value";
/// The client secret of the providers that fail when built.
const SETTINGS_SECRET: &str = "bad-settings-secret";

/// The scan for this file's client secrets.
fn scan() -> SecretScan {
    SecretScan::new(&[DEMO_OAUTH_CLIENT_SECRET, WRONG_SECRET, SETTINGS_SECRET])
}

/// Ends a test's scan. The tokens the demo server issued are known only
/// once issued, so the log captured since the scan started is also checked
/// for them.
fn finish(scan: SecretScan, tokens: &[&str]) {
    let log = scan.log_text();
    scan.finish();
    let mut all = vec![DEMO_OAUTH_CLIENT_SECRET, WRONG_SECRET, SETTINGS_SECRET];
    all.extend_from_slice(tokens);
    let mut late = SecretScan::new(&all);
    late.check("the log captured while the test ran", &log);
    late.finish();
}

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
    let mut scan = scan();
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
    let shown = format!("{provider:?} {client:?} {token:?}");
    scan.check("provider, client and token", &shown);
    finish(scan, &[token.secret()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_once_for_every_task_that_needs_it() {
    let mut scan = scan();
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
    let renewed = provider.token().await.unwrap();
    scan.check(
        "provider, client and tokens",
        format_args!("{provider:?} {client:?} {renewed:?}"),
    );
    finish(scan, &[renewed.secret()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_renewed_once_on_a_401_and_the_request_retried() {
    let mut scan = scan();
    let server = DemoServer::start().await.unwrap();
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    burst(&client, 100).await;
    assert_eq!(server.state().token_stats().token_requests, 1);
    let revoked = provider.token().await.unwrap();
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
    let renewed = provider.token().await.unwrap();
    scan.check(
        "provider, client and tokens",
        format_args!("{provider:?} {client:?} {revoked:?} {renewed:?}"),
    );
    finish(scan, &[revoked.secret(), renewed.secret()]);
}

#[tokio::test]
async fn a_401_that_persists_is_returned_after_one_renewal() {
    let mut scan = scan();
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
    // The renewed token was dropped after its 401 too: this is a third one,
    // asked for the same way.
    let token = provider.token().await.unwrap();
    scan.check(
        "provider, client, response and token",
        format_args!("{provider:?} {client:?} {resp:?} {token:?}"),
    );
    finish(scan, &[token.secret()]);
}

#[tokio::test]
async fn the_client_may_authenticate_in_the_form_body() {
    let mut scan = scan();
    let server = DemoServer::start().await.unwrap();
    let builder = TokenProvider::client_credentials(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        DEMO_OAUTH_CLIENT_SECRET,
    )
    .client_auth(ClientAuth::RequestBody);
    scan.debug("provider builder", &builder);
    let provider = builder.build().unwrap();
    let resp = client(&server, provider.clone())
        .get("/oauth2/protected")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let token = provider.token().await.unwrap();
    scan.check(
        "provider, response and token",
        format_args!("{provider:?} {resp:?} {token:?}"),
    );
    finish(scan, &[token.secret()]);
}

#[tokio::test]
async fn a_refused_client_gets_a_clear_error_without_its_secret() {
    let mut scan = scan();
    let server = DemoServer::start().await.unwrap();
    let provider = TokenProvider::client_credentials(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        WRONG_SECRET,
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
    scan.error("refused client", &err);
    let again = provider.token().await.unwrap_err();
    scan.error("refused token request", &again);
    scan.debug("provider", &provider);
    // Nothing was sent to the protected endpoint.
    assert_eq!(server.state().token_stats().unauthorized, 0);
    finish(scan, &[]);
}

#[tokio::test]
async fn tokens_and_secrets_are_never_printed() {
    let mut scan = scan();
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
    scan.check("provider, client, token and response", &shown);
    finish(scan, &[token.secret()]);
}

#[tokio::test]
async fn bad_provider_settings_fail_when_built() {
    let mut scan = scan();
    let err = TokenProvider::client_credentials("not a url", "id", SETTINGS_SECRET)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("not a valid URL"), "{err}");
    scan.error("a token URL that is not one", &err);
    let builder =
        TokenProvider::client_credentials("http://auth.example.com/token", "id", SETTINGS_SECRET);
    scan.debug("provider builder", &builder);
    let err = builder.build().unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    scan.error("a plain http token URL", &err);
    let err = TokenProvider::client_credentials("https://auth.example.com/token", "id", "")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no_client_secret"), "{err}");
    scan.error("an empty client secret", &err);
    finish(scan, &[]);
}

#[tokio::test]
async fn a_refresh_token_grant_works_without_client_credentials_grant() {
    let mut scan = scan();
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
    let first_access = issued["access_token"].as_str().unwrap().to_owned();
    let builder = TokenProvider::refresh_token(
        format!("{}/oauth2/token", server.url()),
        DEMO_OAUTH_CLIENT_ID,
        DEMO_OAUTH_CLIENT_SECRET,
        refresh.clone(),
    );
    scan.debug("provider builder", &builder);
    let provider = builder.build().unwrap();
    let resp = client(&server, provider.clone())
        .get("/oauth2/protected")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let stats = server.state().token_stats();
    assert_eq!((stats.client_credentials, stats.refresh_token), (1, 1));
    let token = provider.token().await.unwrap();
    scan.check(
        "provider, response and token",
        format_args!("{provider:?} {resp:?} {token:?}"),
    );
    finish(scan, &[&refresh, &first_access, token.secret()]);
}

#[test]
fn blocking_callers_get_tokens_too() {
    let mut scan = scan();
    let server = DemoServer::start_background().unwrap();
    let provider = provider(&server);
    let client = client(&server, provider.clone());
    for _ in 0..3 {
        let resp = client.get("/oauth2/protected").send_blocking().unwrap();
        assert_eq!(resp.status, 200);
        scan.debug("response", &resp);
    }
    let token = provider.token_blocking().unwrap();
    assert!(!token.secret().is_empty());
    assert_eq!(server.state().token_stats().token_requests, 1);
    scan.check(
        "provider, client and token",
        format_args!("{provider:?} {client:?} {token:?}"),
    );
    finish(scan, &[token.secret()]);
}
