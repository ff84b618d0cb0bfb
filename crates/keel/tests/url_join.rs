//! How a base URL and a request path make the URL the server sees: checked
//! against what the demo server's `/echo` received, not internal state.

mod common;

use common::echo;
use keel::{Error, HttpClient};
use keel_demo::DemoServer;

/// The path and raw query `/echo` saw for `path` on a client for `base`.
async fn seen(base: &str, path: &str) -> (String, Option<String>) {
    let client = HttpClient::new(base).expect("valid base");
    let resp = client.get(path).send().await.expect("request succeeds");
    let e = echo(&resp);
    (
        e["path"].as_str().unwrap_or_default().to_owned(),
        e["query"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn base_with_path_and_absolute_path_joins_without_losing_the_base_path() {
    let server = DemoServer::start().await.unwrap();
    let base = format!("{}/echo/api/v1", server.url());
    assert_eq!(seen(&base, "/items").await.0, "/echo/api/v1/items");
}

#[tokio::test]
async fn trailing_slash_on_base_gives_no_double_slash() {
    let server = DemoServer::start().await.unwrap();
    let base = format!("{}/echo/api/v1/", server.url());
    assert_eq!(seen(&base, "/items").await.0, "/echo/api/v1/items");
    assert_eq!(seen(&base, "items").await.0, "/echo/api/v1/items");
    let base = format!("{}/echo/api/v1///", server.url());
    assert_eq!(seen(&base, "/items").await.0, "/echo/api/v1/items");
}

#[tokio::test]
async fn path_without_leading_slash_gets_one() {
    let server = DemoServer::start().await.unwrap();
    let base = format!("{}/echo/api/v1", server.url());
    assert_eq!(seen(&base, "items").await.0, "/echo/api/v1/items");
    assert_eq!(
        seen(&base, "items/7/tags").await.0,
        "/echo/api/v1/items/7/tags"
    );
}

#[tokio::test]
async fn empty_path_is_the_base_itself() {
    let server = DemoServer::start().await.unwrap();
    let base = format!("{}/echo/api/v1", server.url());
    assert_eq!(seen(&base, "").await.0, "/echo/api/v1");
    // A bare host as base and an empty path is the root.
    let (path, _) = seen(&format!("{}/echo", server.url()), "").await;
    assert_eq!(path, "/echo");
}

#[tokio::test]
async fn leading_slashes_of_the_path_collapse_to_one() {
    let server = DemoServer::start().await.unwrap();
    let base = format!("{}/echo/api/v1", server.url());
    assert_eq!(seen(&base, "//items").await.0, "/echo/api/v1/items");
    // A trailing slash the caller wrote is theirs to keep.
    assert_eq!(seen(&base, "/items/").await.0, "/echo/api/v1/items/");
}

#[tokio::test]
async fn query_string_in_the_path_is_preserved_and_query_params_are_appended() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(format!("{}/echo/api", server.url())).unwrap();
    let resp = client
        .get("/items?a=1&b=two%20words")
        .query("c", "x y&z")
        .send()
        .await
        .unwrap();
    let e = echo(&resp);
    assert_eq!(e["path"], "/echo/api/items");
    assert_eq!(e["query"], "a=1&b=two%20words&c=x+y%26z");
    assert_eq!(
        e["query_pairs"],
        serde_json::json!([["a", "1"], ["b", "two words"], ["c", "x y&z"]])
    );
}

#[tokio::test]
async fn base_url_query_is_merged_before_the_path_query() {
    let server = DemoServer::start().await.unwrap();
    let base = format!("{}/echo/api?tenant=t1", server.url());
    assert_eq!(
        seen(&base, "/items?x=2").await,
        (
            "/echo/api/items".to_owned(),
            Some("tenant=t1&x=2".to_owned())
        )
    );
    assert_eq!(
        seen(&base, "/items").await,
        ("/echo/api/items".to_owned(), Some("tenant=t1".to_owned()))
    );
    let client = HttpClient::new(&base).unwrap();
    let e = echo(&client.get("items?x=2").query("y", 3).send().await.unwrap());
    assert_eq!(e["query"], "tenant=t1&x=2&y=3");
}

#[tokio::test]
async fn path_params_are_percent_encoded_as_one_segment() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(format!("{}/echo/api/v1", server.url())).unwrap();
    let resp = client
        .get("/items/{id}/notes/{note}")
        .path_param("id", "a/b?c#d e")
        .path_param("note", "café 日本")
        .send()
        .await
        .unwrap();
    let e = echo(&resp);
    assert_eq!(
        e["path"],
        "/echo/api/v1/items/a%2Fb%3Fc%23d%20e/notes/caf%C3%A9%20%E6%97%A5%E6%9C%AC"
    );
    assert!(e.get("query").is_none(), "no query was made up: {e}");
    // A literal percent sign is encoded too, so it cannot smuggle an escape.
    let e = echo(
        &client
            .get("/items/{id}")
            .path_param("id", "100%2F")
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(e["path"], "/echo/api/v1/items/100%252F");
    assert_eq!(keel::encode_path_segment("a b/c"), "a%20b%2Fc");
}

#[tokio::test]
async fn dot_segments_as_path_params_are_refused_not_resolved() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(format!("{}/echo/api/v1", server.url())).unwrap();
    for value in ["..", ".", "%2e%2e"] {
        let result = client
            .delete("/items/{id}")
            .path_param("id", value)
            .send()
            .await;
        if value == "%2e%2e" {
            // Encoded as %252e%252e: a harmless literal.
            let e = echo(&result.unwrap());
            assert_eq!(e["path"], "/echo/api/v1/items/%252e%252e");
            continue;
        }
        match result {
            Err(Error::InvalidRequest(msg)) => {
                assert!(msg.contains("\"id\""), "{msg}");
                assert!(msg.contains("dot segment"), "{msg}");
            }
            other => panic!("{value:?} must be refused, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_missing_path_param_is_a_clear_error() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    match client.get("/items/{id}").send().await {
        Err(Error::InvalidRequest(msg)) => {
            assert!(msg.contains("{id}"), "{msg}");
            assert!(msg.contains(".path_param(\"id\""), "{msg}");
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    // A parameter that the path does not have is a mistake too.
    match client
        .get("/items/{id}")
        .path_param("id", 1)
        .path_param("idd", 2)
        .send()
        .await
    {
        Err(Error::InvalidRequest(msg)) => assert!(msg.contains("\"idd\""), "{msg}"),
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

#[tokio::test]
async fn an_absolute_url_overrides_the_base() {
    let server = DemoServer::start().await.unwrap();
    // The base points nowhere: only the override can answer.
    let client = HttpClient::new("http://127.0.0.1:9/unused?base=1").unwrap();
    let resp = client
        .get(&format!("{}/echo/other?x=1", server.url()))
        .query("y", 2)
        .send()
        .await
        .unwrap();
    let e = echo(&resp);
    assert_eq!(e["path"], "/echo/other");
    assert_eq!(
        e["query"], "x=1&y=2",
        "the base query is not merged into an absolute URL"
    );
    assert_eq!(resp.url().path(), "/echo/other");
    // The scheme is matched without regard to case.
    let upper = server.url().replacen("http://", "HTTP://", 1);
    let e = echo(
        &client
            .get(&format!("{upper}/echo/up"))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(e["path"], "/echo/up");
}

#[tokio::test]
async fn a_fragment_in_the_path_is_never_sent() {
    let server = DemoServer::start().await.unwrap();
    let (path, query) = seen(&format!("{}/echo", server.url()), "/items?a=1#frag").await;
    assert_eq!(path, "/echo/items");
    assert_eq!(query.as_deref(), Some("a=1"));
}

#[test]
fn blocking_requests_join_the_same_way() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(format!("{}/echo/api/v1/?k=v", server.url())).unwrap();
    let resp = client
        .get("items/{id}")
        .path_param("id", "x y")
        .query("q", "1")
        .send_blocking()
        .unwrap();
    let e = echo(&resp);
    assert_eq!(e["path"], "/echo/api/v1/items/x%20y");
    assert_eq!(e["query"], "k=v&q=1");
}
