use keel::{HttpClient, Resilience};

// No async runtime needed: `send_blocking` runs the same pipeline for you.
fn main() -> keel::Result<()> {
    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client = HttpClient::new(base.as_str())?.with_resilience(Resilience::standard());

    let health = client.get("/health").send_blocking()?;
    println!("{} {}", health.status, health.text()?);

    let item: serde_json::Value = client
        .get("/items/{id}")
        .path_param("id", 2)
        .send_blocking()?
        .json()?;
    println!("{item}");
    Ok(())
}
