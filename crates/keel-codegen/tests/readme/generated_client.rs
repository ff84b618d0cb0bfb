use demo_client::api::items;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client = keel::HttpClient::new(base.as_str())?;

    let item = items::get_item(&client, 1).await?; // demo_client::models::Item
    println!("{} {}", item.id, item.name);

    // A documented error status comes back with its parsed body.
    match items::get_item(&client, 999).await {
        Err(keel::ApiError::Status { status, parsed, .. }) => println!("{status}: {}", parsed.error),
        other => println!("{other:?}"),
    }

    // `*_detailed` gives the whole keel::Response; `*_blocking` is for blocking code.
    let resp = items::get_item_detailed(&client, 2).await?;
    println!("{} after {} attempt(s)", resp.status, resp.attempts());
    Ok(())
}
