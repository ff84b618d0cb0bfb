//! Streaming bodies, both ways: responses read chunk by chunk (async and
//! blocking) past the buffered-size cap, the read-stall timeout, the size
//! cap's error, and request bodies from files and readers.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{echo, temp_path};
use keel::{Error, HttpClient};
use keel_demo::{pattern_byte, DemoServer};

/// Checks that `data` is the `/bytes` pattern from offset `at`.
fn check_pattern(data: &[u8], at: u64) {
    for (i, b) in data.iter().enumerate() {
        let pos = at + i as u64;
        assert_eq!(*b, pattern_byte(pos), "byte {pos} differs");
    }
}

#[tokio::test]
async fn a_body_larger_than_the_buffered_cap_streams() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .max_response_size(1 << 20)
        .build()
        .unwrap();
    let n: u64 = 8 << 20;
    let mut resp = client
        .get(&format!("/bytes/{n}"))
        .send_streaming()
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_length(), Some(n));
    let mut seen = 0u64;
    let mut chunks = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        check_pattern(&chunk, seen);
        seen += chunk.len() as u64;
        chunks += 1;
    }
    assert_eq!(seen, n);
    assert!(chunks > 1, "it came in pieces");
    // After the end, the stream stays ended.
    assert!(resp.chunk().await.unwrap().is_none());
}

#[tokio::test]
async fn a_buffered_read_over_the_cap_fails_naming_the_limit() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .max_response_size(64 * 1024)
        .build()
        .unwrap();
    // Announced by Content-Length: refused before reading.
    match client.get("/bytes/1000000").send().await {
        Err(e @ Error::BodyTooLarge { limit: 65536, .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("max_response_size"), "{msg}");
            assert!(msg.contains("send_streaming"), "{msg}");
        }
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    // Chunked, no length: refused once the body passes the cap.
    assert!(matches!(
        client.get("/bytes/1000000?chunked=1").send().await,
        Err(Error::BodyTooLarge { .. })
    ));
    // A per-request limit replaces the client's.
    let resp = client
        .get("/bytes/1000000")
        .max_response_size(2_000_000)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.content.len(), 1_000_000);
    check_pattern(&resp.content, 0);
    // StreamingResponse::bytes honours the cap too.
    let streamed = client.get("/bytes/100000").send_streaming().await.unwrap();
    assert!(matches!(
        streamed.bytes().await,
        Err(Error::BodyTooLarge { .. })
    ));
    // Zero is refused at build time.
    assert!(matches!(
        HttpClient::builder(server.url())
            .max_response_size(0)
            .build(),
        Err(Error::InvalidConfig(_))
    ));
}

#[tokio::test]
async fn a_stalled_body_fails_with_the_read_timeout() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut resp = client
        .get("/drip?chunks=3&delay_ms=1&stall_after=1&stall_ms=5000")
        .send_streaming()
        .await
        .unwrap();
    assert_eq!(resp.chunk().await.unwrap().map(|c| c.len()), Some(16));
    match resp.chunk().await {
        Err(e @ Error::ReadTimeout { .. }) => {
            assert!(e.is_read_timeout());
            assert!(e.to_string().contains("read_timeout"), "{e}");
        }
        other => panic!("expected ReadTimeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_download_that_keeps_moving_outlives_the_attempt_timeout() {
    let server = DemoServer::start().await.unwrap();
    // The attempt timeout bounds the wait for the head; the body is
    // bounded only by the stall timeout.
    let client = HttpClient::builder(server.url())
        .timeout(Duration::from_millis(400))
        .read_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let resp = client
        .get("/drip?chunks=10&delay_ms=100")
        .send_streaming()
        .await
        .unwrap();
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), 160);
    // The same body read whole within the same attempt timeout is cut.
    assert!(matches!(
        client.get("/drip?chunks=10&delay_ms=100").send().await,
        Err(Error::Timeout { .. })
    ));
}

#[tokio::test]
async fn a_streamed_body_is_written_to_a_file_in_constant_memory() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let path = temp_path("download.bin");
    let n: u64 = 4 << 20;
    let resp = client
        .get(&format!("/bytes/{n}?chunked=1"))
        .send_streaming()
        .await
        .unwrap();
    let mut file = tokio::fs::File::create(&path).await.unwrap();
    assert_eq!(resp.write_to(&mut file).await.unwrap(), n);
    drop(file);
    let data = std::fs::read(&path).unwrap();
    assert_eq!(data.len() as u64, n);
    check_pattern(&data, 0);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn blocking_callers_stream_too() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::builder(server.url())
        .max_response_size(1 << 20)
        .build()
        .unwrap();
    let n: u64 = 3 << 20;
    let path = temp_path("download-blocking.bin");
    let resp = client
        .get(&format!("/bytes/{n}"))
        .send_streaming_blocking()
        .unwrap();
    let mut file = std::fs::File::create(&path).unwrap();
    assert_eq!(resp.copy_to(&mut file).unwrap(), n);
    drop(file);
    let data = std::fs::read(&path).unwrap();
    check_pattern(&data, 0);
    let _ = std::fs::remove_file(&path);

    // As a std::io::Read.
    let mut reader = client
        .get("/bytes/100000")
        .send_streaming_blocking()
        .unwrap()
        .into_reader();
    let mut all = Vec::new();
    reader.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), 100_000);
    check_pattern(&all, 0);

    // chunk by chunk
    let mut resp = client
        .get("/drip?chunks=4")
        .send_streaming_blocking()
        .unwrap();
    let mut count = 0;
    while let Some(c) = resp.chunk_blocking().unwrap() {
        assert_eq!(&c[..], &[b'x'; 16][..]);
        count += 1;
    }
    assert_eq!(count, 4);
}

#[tokio::test]
async fn a_ranged_request_resumes_a_download() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let resp = client
        .get("/bytes/1000")
        .header("Range", "bytes=600-")
        .send_streaming()
        .await
        .unwrap();
    assert_eq!(resp.status, 206);
    assert_eq!(resp.header("content-range"), Some("bytes 600-999/1000"));
    let rest = resp.bytes().await.unwrap();
    assert_eq!(rest.len(), 400);
    check_pattern(&rest, 600);
}

#[tokio::test]
async fn request_bodies_stream_from_files_and_readers() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let path = temp_path("upload.txt");
    std::fs::write(&path, "a file body\nline two\n").unwrap();
    let e = echo(
        &client
            .post("")
            .body_file(&path, "text/plain")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(e["body"], "a file body\nline two\n");
    assert_eq!(common::header(&e, "content-length"), "21");

    let reader = std::io::Cursor::new(b"from a reader".to_vec());
    let e = echo(
        &client
            .put("")
            .body_reader(reader, "application/octet-stream")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(e["body"], "from a reader");

    // A file that cannot be opened is an error of the request, not a panic.
    let missing = temp_path("does-not-exist.txt");
    match client
        .post("")
        .body_file(&missing, "text/plain")
        .send()
        .await
    {
        Err(Error::InvalidRequest(m)) => assert!(m.contains("cannot open"), "{m}"),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn blocking_callers_send_file_bodies() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let path = temp_path("upload-blocking.txt");
    std::fs::write(&path, "blocking upload").unwrap();
    let e = echo(
        &client
            .post("")
            .body_file(&path, "text/plain")
            .send_blocking()
            .unwrap(),
    );
    assert_eq!(e["body"], "blocking upload");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn an_undocumented_status_of_a_stream_is_raised_with_an_excerpt() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::builder(server.url())
        .raise_on_unexpected_status(true)
        .build()
        .unwrap();
    match client
        .get("/status/503")
        .documented([200])
        .send_streaming()
        .await
    {
        Err(Error::UnexpectedStatus { status, .. }) => assert_eq!(status, 503),
        other => panic!("{other:?}"),
    }
    let ok = client
        .get("/bytes/10")
        .documented([200])
        .send_streaming()
        .await
        .unwrap();
    assert_eq!(ok.bytes().await.unwrap().len(), 10);
}
