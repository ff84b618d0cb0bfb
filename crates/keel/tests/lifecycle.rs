//! The scoped lifecycle (`enter` / scope end / `Closed`), and blocking calls
//! made where they must not be.

mod common;

use std::time::Duration;

use common::echo;
use keel::{Error, HttpClient};
use keel_demo::DemoServer;

#[tokio::test]
async fn entering_twice_is_refused() {
    let client = HttpClient::new("http://127.0.0.1:1").unwrap();
    let scope = client.enter().unwrap();
    assert!(matches!(client.enter(), Err(Error::AlreadyEntered)));
    // A derived client shares the lifecycle.
    let derived = client.with_timeout(Duration::from_secs(1)).unwrap();
    assert!(matches!(derived.enter(), Err(Error::AlreadyEntered)));
    let msg = Error::AlreadyEntered.to_string();
    assert!(msg.contains("already entered"), "{msg}");
    drop(scope);
}

#[tokio::test]
async fn after_the_scope_ends_async_requests_fail_with_closed() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let derived_before = client.with_headers([("X-A", "1")]).unwrap();
    {
        let scope = client.enter().unwrap();
        echo(&scope.get("").send().await.unwrap());
        echo(&derived_before.get("").send().await.unwrap());
        assert!(!client.is_closed());
    }
    assert!(client.is_closed());
    assert!(derived_before.is_closed());
    let derived_after = client.with_timeout(Duration::from_secs(1)).unwrap();
    for c in [&client, &derived_before, &derived_after] {
        assert!(
            matches!(c.get("").send().await, Err(Error::Closed)),
            "{c:?}"
        );
        assert!(matches!(c.get_or_create_async_client(), Err(Error::Closed)));
    }
    assert!(matches!(client.enter(), Err(Error::Closed)));
    assert!(matches!(
        client.set_async_client(keel::transport::HyperTransport::new().unwrap()),
        Err(Error::Closed)
    ));
    assert!(Error::Closed.to_string().contains("closed"));
}

#[test]
fn after_the_scope_ends_blocking_requests_fail_with_closed() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let scope = client.enter().unwrap();
    echo(&scope.get("").send_blocking().unwrap());
    let derived = scope.with_cookies([("a", "1")]).unwrap();
    scope.exit();
    for c in [&client, &derived] {
        assert!(matches!(c.get("").send_blocking(), Err(Error::Closed)));
        assert!(matches!(
            c.get_or_create_blocking_client(),
            Err(Error::Closed)
        ));
    }
    assert!(matches!(
        client.set_blocking_client(keel::transport::HyperTransport::new().unwrap()),
        Err(Error::Closed)
    ));
    assert!(matches!(client.enter(), Err(Error::Closed)));
}

#[tokio::test]
async fn close_is_idempotent_and_closes_without_a_scope() {
    let client = HttpClient::new("http://127.0.0.1:1").unwrap();
    client.close();
    client.close();
    assert!(client.is_closed());
    assert!(matches!(client.enter(), Err(Error::Closed)));
    assert!(matches!(client.get("/").send().await, Err(Error::Closed)));
}

#[tokio::test]
async fn a_blocking_call_inside_a_runtime_is_an_error_not_a_panic() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    match client.get("").send_blocking() {
        Err(e @ Error::BlockingInAsync) => {
            assert!(e.to_string().contains(".send().await"), "{e}")
        }
        other => panic!("expected BlockingInAsync, got {other:?}"),
    }
    assert!(matches!(
        client.get("").send_json_blocking::<serde_json::Value>(),
        Err(Error::BlockingInAsync)
    ));
    // The transport itself is one for both kinds of callers: asking for it
    // is fine anywhere.
    assert!(client.get_or_create_blocking_client().is_ok());
    // The async path on the same client is fine.
    echo(&client.get("").send().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_call_on_a_multi_thread_worker_is_an_error_too() {
    let client = HttpClient::new("http://127.0.0.1:1").unwrap();
    let inside_task = tokio::spawn(async move { client.get("/").send_blocking() })
        .await
        .expect("no panic");
    assert!(matches!(inside_task, Err(Error::BlockingInAsync)));
}

#[test]
fn dropping_a_client_with_a_blocking_transport_inside_a_runtime_does_not_panic() {
    let server = DemoServer::start_background().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Dropped as the last handle.
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    client.get("").send_blocking().unwrap();
    rt.block_on(async move { drop(client) });

    // Closed by a scope ending inside a runtime.
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    let scope = client.enter().unwrap();
    scope.get("").send_blocking().unwrap();
    rt.block_on(async move { drop(scope) });
    assert!(client.is_closed());

    // Replaced inside a runtime.
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    client.get("").send_blocking().unwrap();
    let replacement = keel::transport::HyperTransport::new().unwrap();
    let c2 = client.clone();
    rt.block_on(async move { c2.set_blocking_client(replacement).unwrap() });
    client.get("").send_blocking().unwrap();
    rt.block_on(async move { drop(client) });
}

#[tokio::test]
async fn the_blocking_error_points_to_what_works() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(format!("{}/echo", server.url())).unwrap();
    // spawn_blocking threads have entered the runtime too: refused, clearly.
    let c = client.clone();
    let in_pool = tokio::task::spawn_blocking(move || c.get("").send_blocking())
        .await
        .expect("no panic");
    let msg = match in_pool {
        Err(e @ Error::BlockingInAsync) => e.to_string(),
        other => panic!("expected BlockingInAsync, got {other:?}"),
    };
    assert!(msg.contains("std::thread::spawn"), "{msg}");
    // What the message suggests does work.
    let c = client.clone();
    let on_own_thread = std::thread::spawn(move || c.get("").send_blocking().map(|r| r.status))
        .join()
        .expect("no panic");
    assert_eq!(on_own_thread.unwrap(), 200);
}
