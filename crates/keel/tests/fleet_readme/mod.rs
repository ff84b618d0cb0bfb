use keel::resilience::{OnUnavailable, RateLimit, RedisStore, Resilience};
use std::sync::Arc;
use std::time::Duration;

async fn fleet() -> keel::Result<()> {
    let store = RedisStore::builder("redis://127.0.0.1:6379")
        .namespace("orders-service") // keys live under orders-service:…
        .timeout(Duration::from_millis(50)) // every store call, connecting included
        .on_unavailable(OnUnavailable::FailOpen)
        .connect()
        .await?;
    // Every process builds the same client: one limit, one breaker per
    // origin, one budget for all of them.
    let client = keel::HttpClient::new("https://api.example.com")?.with_resilience(
        Resilience::builder()
            .rate_limit(RateLimit::per_second(50).burst(2))
            .shared_store(Arc::new(store))
            .build()?,
    );
    let r = client.get("/v3/order").weight(2).send().await?; // takes 2 permits
    println!("{}", r.status);
    Ok(())
}
