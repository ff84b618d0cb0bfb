//! Compressed responses are decoded (gzip, deflate, br, zstd), unless
//! decompression is turned off.

use keel::HttpClient;
use keel_demo::DemoServer;

fn items(resp: &keel::Response) -> serde_json::Value {
    let v: serde_json::Value = resp.json().expect("decoded JSON");
    assert_eq!(v["count"], 200);
    v
}

#[tokio::test]
async fn every_encoding_is_decoded() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    // Keel asks for every encoding it decodes.
    let resp = client.get("/compressed").send().await.unwrap();
    let plain = items(&resp);
    for encoding in ["gzip", "deflate", "br", "zstd"] {
        let resp = client
            .get("/compressed")
            .header("Accept-Encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(items(&resp), plain, "{encoding}");
        // The decoded body no longer claims an encoding or a length.
        assert!(resp.header("content-encoding").is_none(), "{encoding}");
    }
}

#[tokio::test]
async fn decompression_can_be_turned_off() {
    let server = DemoServer::start().await.unwrap();
    let raw = HttpClient::builder(server.url())
        .decompress(false)
        .build()
        .unwrap();
    let resp = raw
        .get("/compressed")
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    assert_eq!(&resp.content[..2], &[0x1f, 0x8b], "gzip magic, as sent");
    // Without asking, nothing is compressed.
    let resp = raw.get("/compressed").send().await.unwrap();
    assert!(resp.header("content-encoding").is_none());
    items(&resp);
}

#[test]
fn blocking_callers_get_decoded_bodies() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let resp = client
        .get("/compressed")
        .header("Accept-Encoding", "br")
        .send_blocking()
        .unwrap();
    items(&resp);
}
