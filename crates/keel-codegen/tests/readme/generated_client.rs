use demo_client::{items, Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client = Client::from_url(&base)?; // Client<keel::HttpClient>

    // Required parameters in the call, optional ones as setters.
    let item = client.items().get_item(1).send().await?; // demo_client::models::Item
    println!("{} {}", item.id, item.name);
    let some = client.items().list_items().limit(10).send().await?; // Vec<models::Item>
    println!("{} item(s)", some.len());

    // A documented error status comes back with its parsed body.
    match client.items().get_item(999).send().await {
        Err(keel::ApiError::Status { status, parsed, .. }) => println!("{status}: {}", parsed.error),
        other => println!("{other:?}"),
    }

    // `detailed()` gives the whole keel::Response, parsed into the operation's response enum.
    let resp = client.items().get_item(2).detailed().await?;
    if let Some(items::GetItemResponse::Ok(item)) = &resp.parsed {
        println!("{} after {} attempt(s)", item.name, resp.attempts());
    }
    Ok(())
}
