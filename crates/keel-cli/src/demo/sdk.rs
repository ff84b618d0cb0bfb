//! The tour's SDK steps: server-sent events, pagination, OAuth2.

use keel::oauth2::TokenProvider;
use keel::pagination::{Pager, Pagination};
use keel::sse::EventSource;
use keel::HttpClient;
use serde_json::Value;

use super::{expect, got, sent, Failed, Steps};

/// Server-sent events: a stream that drops every 3 events and resumes
/// from `Last-Event-ID`.
pub(super) async fn events(
    step: &mut Steps,
    server: &keel_demo::DemoServer,
    client: &HttpClient,
) -> Result<(), Failed> {
    step.next("Server-sent events: typed events; a dropped stream resumes from Last-Event-ID");
    let path = "/sse/ticks?count=7&drop_after=3&retry_ms=50&done=1&key=keel-demo";
    sent(&format!(
        "GET {path} (the server drops the connection every 3 events)"
    ));
    let mut events = EventSource::get(client, path).connect();
    let mut ids = Vec::new();
    while let Some(event) = events.next().await? {
        let data: Value = event.json()?;
        ids.push(data["n"].as_u64().unwrap_or(0));
    }
    got(&format!(
        "events {ids:?} over {} connections, resumed with Last-Event-ID {:?}; [DONE] ended it",
        events.connections(),
        server
            .state()
            .sse_connections("keel-demo")
            .iter()
            .filter_map(|c| c.last_event_id.clone())
            .collect::<Vec<_>>()
    ));
    expect(
        ids == (1..=7).collect::<Vec<_>>(),
        "every event exactly once",
    )
}

/// Pagination: the same list through two strategies.
pub(super) async fn pages(step: &mut Steps, client: &HttpClient) -> Result<(), Failed> {
    step.next("Pagination: one pager, any strategy (cursor, has_more, offset, page, Link)");
    for (path, strategy, name) in [
        (
            "/pages/stripe?total=12",
            Pagination::starting_after(),
            "has_more + starting_after",
        ),
        (
            "/pages/link?total=12&per_page=5",
            Pagination::link_header(),
            "Link: rel=\"next\"",
        ),
    ] {
        let mut pager = Pager::<Value>::get(client, path, strategy).page_size("limit", 5);
        let mut n = 0;
        while pager.next_item().await?.is_some() {
            n += 1;
        }
        sent(&format!("GET {path} ({name})"));
        got(&format!("{n} items in {} pages", pager.pages_fetched()));
        expect(n == 12, "12 items")?;
    }
    Ok(())
}

/// OAuth2: client credentials, one token for many concurrent requests.
pub(super) async fn oauth2(
    step: &mut Steps,
    server: &keel_demo::DemoServer,
    base: &str,
) -> Result<(), Failed> {
    step.next("OAuth2 client credentials: one token request for 20 concurrent calls");
    let provider = TokenProvider::client_credentials(
        format!("{base}/oauth2/token"),
        keel_demo::DEMO_OAUTH_CLIENT_ID,
        keel_demo::DEMO_OAUTH_CLIENT_SECRET,
    )
    .scopes(["items:read"])
    .build()?;
    let client = HttpClient::builder(base).oauth2(provider.clone()).build()?;
    sent("20 × GET /oauth2/protected, at once");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = client.clone();
        tasks.spawn(async move { c.get("/oauth2/protected").send().await });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        let resp = r.map_err(|e| Failed(format!("a task failed: {e}")))??;
        if resp.status == 200 {
            ok += 1;
        }
    }
    let stats = server.state().token_stats();
    let token = provider.token().await?;
    let shown = format!("{client:?}").contains(token.secret());
    got(&format!(
        "{ok} × 200 with {} token request(s); does the client's Debug output show the token? {}",
        stats.token_requests,
        if shown { "YES" } else { "no" }
    ));
    expect(
        ok == 20 && stats.token_requests == 1 && !shown,
        "20 successes, one token request, the token not shown",
    )?;
    server.state().expire_tokens();
    let resp = client.get("/oauth2/protected").send().await?;
    got(&format!(
        "server revoked the token: 401, renewed once, retried → {} ({} token requests)",
        resp.status,
        server.state().token_stats().token_requests
    ));
    expect(resp.status == 200, "200 after the renewal")
}
