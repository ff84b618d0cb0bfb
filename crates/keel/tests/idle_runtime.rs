//! A pooled connection lives on the runtime that made it. A connection made
//! by an async caller on a `current_thread` runtime that is still alive but
//! not being polled (its `block_on` returned) must not stall the blocking
//! callers of the same client family that take it from the pool.
//!
//! Found by keel-bench: `keel` (async, on a `current_thread` runtime) then
//! `keel-blocking` on the same client, 64 in flight, timed out after 30 s.
//! Ignored until the transport drives every connection on a runtime that
//! runs (Keel's own); run with `cargo test -p keel-http --test idle_runtime
//! -- --ignored`.

use std::time::Duration;

use keel::HttpClient;
use keel_demo::DemoServer;

#[test]
#[ignore = "open bug on core: connections made on an idle current_thread runtime stall blocking callers"]
fn blocking_callers_are_not_stalled_by_a_connection_of_an_idle_runtime() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::builder(server.url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The connection is made, and its task spawned, on `rt`, then returned
    // to the pool when the request ends.
    rt.block_on(async { client.get("/bench").send().await.unwrap() });
    // `rt` stays alive but is not polled from here on.
    let resp = client.get("/bench").send_blocking();
    assert!(
        resp.as_ref().is_ok_and(|r| r.status == 200),
        "a blocking caller reusing the idle runtime's connection: {resp:?}"
    );
    drop(rt);
}
