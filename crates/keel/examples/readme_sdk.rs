use keel::oauth2::TokenProvider;
use keel::pagination::{Pager, Pagination};
use keel::sse::EventSource;
use keel::HttpClient;
use serde_json::Value;

#[tokio::main]
async fn main() -> keel::Result<()> {
    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client = HttpClient::new(base.as_str())?;

    // Server-sent events: parsed as they arrive; a dropped connection is
    // resumed with Last-Event-ID after the server's `retry:`; `[DONE]` ends it.
    let mut events = EventSource::get(&client, "/sse/ticks?count=5&drop_after=2&done=1").connect();
    while let Some(event) = events.next().await? {
        let tick: Value = event.json()?;
        println!(
            "{} #{}: {}",
            event.event,
            event.id.unwrap_or_default(),
            tick["text"]
        );
    }

    // Pagination: every item of every page, at most 10 pages.
    let mut customers = Pager::<Value>::get(
        &client,
        "/pages/stripe?total=12",
        Pagination::starting_after(),
    )
    .page_size("limit", 5)
    .max_pages(10);
    while let Some(item) = customers.next_item().await? {
        println!("item {}", item["id"]);
    }

    // OAuth2 client credentials: one token request however many tasks ask,
    // renewed ahead of expiry, and once more after a 401.
    let provider = TokenProvider::client_credentials(
        format!("{base}/oauth2/token"),
        "keel-demo-client",
        "keel-demo-oauth-secret",
    )
    .scopes(["items:read"])
    .build()?;
    let api = HttpClient::builder(base.as_str())
        .oauth2(provider)
        .build()?;
    let resp = api.get("/oauth2/protected").send().await?;
    println!("protected: {} {}", resp.status, resp.text()?);
    Ok(())
}
