//! The plain endpoints, over real HTTP on 127.0.0.1.

mod common;
use common::{ReqJson as _, RespJson as _};

use std::collections::HashSet;
use std::time::{Duration, Instant};

use keel_demo::DemoServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_json(c: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let resp = c.get(url).send().await.unwrap();
    let status = resp.status();
    (status, resp.json_value().await)
}

#[tokio::test]
async fn health_and_bench() {
    let server = DemoServer::start().await.unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(!server.url().ends_with('/'));
    let c = client();
    let (status, body) = get_json(&c, format!("{}/health", server.url())).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));

    let resp = c
        .get(format!("{}/bench", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let bytes = resp.bytes().await.unwrap();
    assert!((80..=140).contains(&bytes.len()), "{}", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["name"], "bench");
    server.shutdown().await;
}

#[tokio::test]
async fn post_bench_counts_the_body_bytes() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    for body in [Vec::new(), vec![b'x'; 300], vec![0u8; 70_000]] {
        let resp = c
            .post(format!("{}/bench", server.url()))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let text = resp.text().await.unwrap();
        assert_eq!(text, format!(r#"{{"received":{}}}"#, body.len()));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn items_crud() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let base = server.url();

    let (status, list) = get_json(&c, format!("{base}/items")).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 3);
    let (_, list) = get_json(&c, format!("{base}/items?limit=2")).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (status, _) = get_json(&c, format!("{base}/items?limit=x")).await;
    assert_eq!(status, 400);

    let (status, item) = get_json(&c, format!("{base}/items/1")).await;
    assert_eq!(status, 200);
    assert_eq!(item["id"], 1);
    assert_eq!(item["name"], "widget");

    let (status, err) = get_json(&c, format!("{base}/items/999")).await;
    assert_eq!(status, 404);
    assert!(err["error"].as_str().unwrap().contains("999"));
    let (status, err) = get_json(&c, format!("{base}/items/abc")).await;
    assert_eq!(status, 400);
    assert!(err["error"].is_string());

    let resp = c
        .post(format!("{base}/items"))
        .json_body(&json!({"name": "sprocket", "price": 1.25}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = resp.json_value().await;
    assert_eq!(created["name"], "sprocket");
    assert_eq!(created["price"], 1.25);
    assert_eq!(created["tags"], json!([]));
    let id = created["id"].as_u64().unwrap();
    assert_eq!(location, format!("/items/{id}"));

    let resp = c
        .post(format!("{base}/items"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = c
        .post(format!("{base}/items"))
        .json_body(&json!({"name": "", "price": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);

    let resp = c
        .put(format!("{base}/items/{id}"))
        .json_body(&json!({"name": "sprocket2", "price": 2, "tags": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json_value().await;
    assert_eq!(updated["name"], "sprocket2");
    assert_eq!(updated["tags"], json!(["a"]));
    let resp = c
        .put(format!("{base}/items/4242"))
        .json_body(&json!({"name": "x", "price": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    let resp = c.delete(format!("{base}/items/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = c.delete(format!("{base}/items/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let (status, _) = get_json(&c, format!("{base}/items/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn echo_reports_what_arrived() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let url = format!(
        "{}/echo/a%20b/c?x=1&y=hello%20world&x=2&plus=a+b",
        server.url()
    );
    let resp = c
        .post(url)
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .header("Cookie", "a=1; b=two")
        .header("Cookie", "c=3")
        .header("Content-Type", "application/octet-stream")
        .body(vec![0xffu8, b'h', b'i'])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echo: Value = resp.json_value().await;
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/echo/a%20b/c");
    assert_eq!(echo["query"], "x=1&y=hello%20world&x=2&plus=a+b");
    assert_eq!(
        echo["query_pairs"],
        json!([
            ["x", "1"],
            ["y", "hello world"],
            ["x", "2"],
            ["plus", "a b"]
        ])
    );
    assert_eq!(echo["headers"]["x-multi"], json!(["one", "two"]));
    assert_eq!(echo["cookies"], json!({"a": "1", "b": "two", "c": "3"}));
    assert_eq!(echo["body_base64"], "/2hp");
    assert_eq!(echo["body"], "\u{fffd}hi");
    assert_eq!(echo["body_length"], 3);
    assert_eq!(echo["content_type"], "application/octet-stream");
    assert_eq!(echo["content_length"], 3);
    assert_eq!(echo["version"], "HTTP/1.1");

    // Any method, and no query at all.
    let resp = c
        .request(
            reqwest::Method::from_bytes(b"PURGE").unwrap(),
            format!("{}/echo", server.url()),
        )
        .send()
        .await
        .unwrap();
    let echo: Value = resp.json_value().await;
    assert_eq!(echo["method"], "PURGE");
    assert_eq!(echo["path"], "/echo");
    assert!(echo.get("query").is_none());
    assert_eq!(echo["query_pairs"], json!([]));
}

#[tokio::test]
async fn http2_prior_knowledge_works() {
    let server = DemoServer::start().await.unwrap();
    let c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let resp = c
        .get(format!("{}/echo", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let echo: Value = resp.json_value().await;
    assert_eq!(echo["version"], "HTTP/2");
}

#[tokio::test]
async fn redirects() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let base = server.url();

    let resp = c
        .get(format!("{base}/redirect?to=/items/1&status=307"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(resp.headers()["location"], "/items/1");

    let resp = c
        .get(format!(
            "{base}/redirect?to=https%3A%2F%2Fexample.invalid%2Fx"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "https://example.invalid/x");

    let resp = c
        .get(format!("{base}/redirect?status=200"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let resp = c.get(format!("{base}/redirect/3")).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/redirect/2");
    let resp = c.get(format!("{base}/redirect/1")).send().await.unwrap();
    assert_eq!(resp.headers()["location"], "/echo");

    // A following client ends at /echo.
    let follow = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let resp = follow
        .get(format!("{base}/redirect/3"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/echo");
}

#[tokio::test]
async fn slow_waits() {
    let server = DemoServer::start().await.unwrap();
    let started = Instant::now();
    let (status, body) = get_json(&client(), format!("{}/slow?ms=150", server.url())).await;
    assert_eq!(status, 200);
    assert_eq!(body["slept_ms"], 150);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn status_codes_exactly() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    for code in [200u16, 201, 400, 404, 418, 500, 503, 520, 599, 999] {
        let resp = c
            .get(format!("{}/status/{code}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), code);
        let body: Value = resp.json_value().await;
        assert_eq!(body, json!({"status": code}));
    }
    for code in [204u16, 304] {
        let resp = c
            .get(format!("{}/status/{code}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), code);
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    for bad in ["99", "1000", "abc", "100"] {
        let resp = c
            .get(format!("{}/status/{bad}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn undocumented_answers_418() {
    let server = DemoServer::start().await.unwrap();
    let (status, body) = get_json(&client(), format!("{}/undocumented", server.url())).await;
    assert_eq!(status, 418);
    assert!(body["error"].is_string());
    let doc = keel_demo::openapi::document();
    let responses = doc["paths"]["/undocumented"]["get"]["responses"]
        .as_object()
        .unwrap();
    assert_eq!(responses.keys().collect::<Vec<_>>(), vec!["200"]);
}

#[tokio::test]
async fn unknown_route_is_json_404() {
    let server = DemoServer::start().await.unwrap();
    let (status, body) = get_json(&client(), format!("{}/nope", server.url())).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_document_is_consistent() {
    let server = DemoServer::start().await.unwrap();
    let (status, doc) = get_json(&client(), format!("{}/openapi.json", server.url())).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], server.url());
    assert_eq!(
        doc["components"]["securitySchemes"]["apiKey"],
        json!({"type": "apiKey", "in": "header", "name": "API-Key"})
    );

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }

    let mut ids = HashSet::new();
    let methods = ["get", "post", "put", "patch", "delete"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in methods {
            if let Some(op) = item.get(m) {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
                assert!(op["tags"].is_array(), "{path} {m} has no tags");
                assert!(op["responses"].is_object());
            }
        }
    }
    for id in [
        "getHealth",
        "listItems",
        "getItem",
        "createItem",
        "updateItem",
        "deleteItem",
        "echoPost",
        "getStatus",
        "faultFail",
        "getFaultArrivals",
    ] {
        assert!(ids.contains(id), "{id}");
    }
}

#[tokio::test]
async fn builder_merges_routes_and_openapi() {
    use axum::routing::get;
    let extra = axum::Router::new().route("/extra", get(|| async { "extra!" }));
    let server = DemoServer::builder()
        .routes(extra)
        .openapi_extension(json!({
            "paths": { "/extra": { "get": { "operationId": "getExtra", "tags": ["x"], "responses": { "200": { "description": "ok" } } } } }
        }))
        .start()
        .await
        .unwrap();
    let c = client();
    let resp = c
        .get(format!("{}/extra", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "extra!");
    let (_, doc) = get_json(&c, format!("{}/openapi.json", server.url())).await;
    assert_eq!(doc["paths"]["/extra"]["get"]["operationId"], "getExtra");
    assert_eq!(doc["paths"]["/items"]["get"]["operationId"], "listItems");
}

#[tokio::test]
async fn shutdown_is_bounded_and_stops_listening() {
    let server = DemoServer::start().await.unwrap();
    let url = server.url();
    let c = client();
    // An in-flight request that would take a minute.
    let inflight = tokio::spawn({
        let c = c.clone();
        let url = url.clone();
        async move { c.get(format!("{url}/slow?ms=60000")).send().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(inflight.await.unwrap().is_err());
    let fresh = client();
    assert!(fresh.get(format!("{url}/health")).send().await.is_err());
}

#[test]
fn background_server_with_blocking_client() {
    let server = DemoServer::start_background().unwrap();
    let c = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..5 {
        let resp = c.get(format!("{}/bench", server.url())).send().unwrap();
        assert_eq!(resp.status(), 200);
    }
    let url = server.url();
    drop(server);
    assert!(c.get(format!("{url}/health")).send().is_err());
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let server = DemoServer::start().await.unwrap();
    let c = client();
    let doc = keel_demo::openapi::document();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "2")
            .replace("{rest}", "x")
            .replace("{n}", "1")
            .replace("{code}", "200");
        // times=0 keeps the connection faults from firing.
        let url = format!("{}{concrete}?times=0&key=doc-check", server.url());
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_none() {
                continue;
            }
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let resp = c
                .request(method, &url)
                .json_body(&json!({"name": "n", "price": 1}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            assert!(
                status != 404 && status != 405,
                "{m} {path} answered {status}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked}");
}
