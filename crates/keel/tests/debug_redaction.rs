//! `Debug` and `Display` of builders, clients, requests, responses and errors
//! never show query strings or header and cookie values.

mod common;

use keel::{HttpClient, Multipart};
use keel_demo::DemoServer;

const SECRET: &str = "s3cret";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows a secret: {text}");
}

#[tokio::test]
async fn nothing_shows_query_strings_or_credential_values() {
    let server = DemoServer::start().await.unwrap();
    let builder = HttpClient::builder(format!("{}/echo?api_key={SECRET}", server.url()))
        .header("Authorization", format!("Bearer {SECRET}"))
        .header("X-Api-Key", SECRET)
        .cookie("session", SECRET);
    let shown = format!("{builder:?}");
    assert_clean("builder", &shown);
    assert!(shown.contains("Authorization"), "names are shown: {shown}");

    let client = builder.build().unwrap();
    let shown = format!("{client:?}");
    assert_clean("client", &shown);
    assert!(shown.contains("session"), "cookie names are shown: {shown}");
    let derived = client
        .with_headers([("X-Token", SECRET)])
        .unwrap()
        .with_cookies([("sid", SECRET)])
        .unwrap();
    assert_clean("derived client", &format!("{derived:?}"));
    let scope = derived.enter().unwrap();
    assert_clean("scope", &format!("{scope:?}"));
    drop(scope);
    let client = builder_again(&server);

    let request = client
        .post(&format!("/items?token={SECRET}"))
        .query("sig", SECRET)
        .header("X-Token", SECRET)
        .cookie("sid", SECRET)
        .multipart(Multipart::new().text("password", SECRET));
    assert_clean("request", &format!("{request:?}"));

    // The echo answers with our secrets in its body and headers we set.
    let resp = client
        .get(&format!("/x?token={SECRET}"))
        .header("X-Token", SECRET)
        .send()
        .await
        .unwrap();
    assert!(
        resp.text().unwrap().contains(SECRET),
        "the test sends the secret"
    );
    let shown = format!("{resp:?}");
    assert_clean("response", &shown);
    assert!(
        shown.contains("content-type"),
        "header names are shown: {shown}"
    );

    let err = client
        .get(&format!("{}/slow?ms=3000&token={SECRET}", server.url()))
        .timeout(std::time::Duration::from_millis(50))
        .send()
        .await
        .unwrap_err();
    assert_clean("timeout error", &format!("{err:?} {err}"));
    let err = client
        .get(&format!("http://127.0.0.1:1/x?token={SECRET}"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_clean("connect error", &format!("{err:?} {err}"));
    let err = client
        .get(&format!("/{{id}}?token={SECRET}"))
        .send()
        .await
        .unwrap_err();
    assert_clean("missing path param error", &format!("{err:?} {err}"));
    let err = client
        .get(&format!("/items/{{id}}?token={SECRET}"))
        .path_param("nope", 1)
        .send()
        .await
        .unwrap_err();
    assert_clean("unknown path param error", &format!("{err:?} {err}"));
}

fn builder_again(server: &DemoServer) -> HttpClient {
    HttpClient::builder(format!("{}/echo?api_key={SECRET}", server.url()))
        .header("Authorization", format!("Bearer {SECRET}"))
        .build()
        .unwrap()
}

#[test]
fn an_authenticated_client_shows_no_secret() {
    let client = keel::HttpAuthenticatedClient::builder("https://api.example.com/v1")
        .api_key("key-id")
        .api_secret(SECRET)
        .build()
        .unwrap();
    assert_clean("authenticated client", &format!("{client:?}"));
}
