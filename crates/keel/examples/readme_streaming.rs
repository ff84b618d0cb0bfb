use std::time::Duration;

use keel::HttpClient;

#[tokio::main]
async fn main() -> keel::Result<()> {
    let base = std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let client = HttpClient::builder(base.as_str())
        .read_timeout(Duration::from_secs(10)) // a stalled body fails; a moving one never does
        .max_response_size(8 << 20) // buffered reads (`send`, `json`) stop at 8 MiB
        .configure_transport(|t| {
            // The escape hatch: hyper-util's pool, the TCP connector, rustls.
            t.pool().pool_max_idle_per_host(16);
            t.connector().set_keepalive(Some(Duration::from_secs(60)));
        })
        .build()?;

    // 10 MB, more than the buffered cap: streamed to a file in constant memory.
    let resp = client.get("/bytes/10000000").send_streaming().await?;
    let path = std::env::temp_dir().join("keel-readme-download.bin");
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(keel::Error::Io)?;
    let written = resp.write_to(&mut file).await?;
    println!("{written} bytes to {}", path.display());

    // Request bodies stream too: a file is sent as it is read (once, never retried).
    // (`/echo` answers with what it received, as JSON.)
    let echoed: serde_json::Value = client
        .post("/echo")
        .body_file(&path, "application/octet-stream")
        .max_response_size(64 << 20)
        .send()
        .await?
        .json()?;
    println!("the server received {} bytes", echoed["body_length"]);
    std::fs::remove_file(&path).map_err(keel::Error::Io)?;
    Ok(())
}
