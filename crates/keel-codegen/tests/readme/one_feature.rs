// Built with only the `items` feature of demo-client: `client.items()` is there,
// `client.meta()` and the other tags are not compiled.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client = demo_client::Client::from_url(&base)?;
    let item = client.items().get_item(1).send_blocking()?; // demo_client::models::Item
    println!("{} {}", item.id, item.name);
    Ok(())
}
