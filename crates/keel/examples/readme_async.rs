use std::time::Duration;

use keel::{HttpAuthenticatedClient, HttpClient, Resilience};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> keel::Result<()> {
    // `keel serve --port 8080` runs Keel's demo API here; set API_URL for another.
    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());

    let client = HttpClient::builder(base.as_str())
        .header("User-Agent", "my-app/1.0")
        .cookie("region", "eu")
        .timeout(Duration::from_secs(10))
        .raise_on_unexpected_status(true)
        .build()?; // a bad URL or header is keel::Error::InvalidConfig, never a panic

    // Derived clients are new values that share the connection pool.
    let traced = client.with_headers([("X-Trace", "abc")])?;
    let patient = traced.with_resilience(Resilience::standard()); // retries, breaker, budget

    let item = patient
        .get("/items/{id}")
        .path_param("id", 1) // percent-encoded as one path segment
        .query("expand", "owner")
        .documented([200, 404]) // any other status is "unexpected"
        .send_json::<Value>()
        .await?;
    println!("{} {:?}", item.status, item.parsed);

    // Every request signed with the API secret (Keel's default HMAC scheme).
    let signed = HttpAuthenticatedClient::builder(base.as_str())
        .api_key("demo-key")
        .api_secret("demo-secret-0123456789") // never printed; zeroized on drop
        .build()?;
    let order = signed
        .post("/signed/orders")
        .json(&json!({ "qty": 1 }))
        .send()
        .await?
        .error_for_status()?;
    println!("{} {}", order.status, order.text()?);

    // Scoped lifecycle: the pools close when the scope ends.
    {
        let scope = client.enter()?;
        scope.get("/health").send().await?;
    }
    assert!(client.is_closed());
    Ok(())
}
