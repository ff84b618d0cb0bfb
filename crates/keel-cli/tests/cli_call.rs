//! `keel call`: requests built from an OpenAPI document (the generator's
//! IR), run as the built binary against the demo server.
//!
//! The runs given a credential go through the secret check (tests/common):
//! a bearer token or query API key shows only where the server echoes it.

mod common;

use std::process::{Command, Output};

use common::ScanOutput as _;
use keel_demo::DemoServer;

/// The bearer token `echoSecure` is called with.
const TOKEN: &str = "tok-123-Bq7Zr";
/// The API key `pingWithQueryKey` sends in the query.
const QUERY_KEY: &str = "qk-Secret-77 x";

fn cmd() -> Command {
    common::keel_command()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SPEC: &str = r#"openapi: 3.0.3
info: {title: test, version: "1"}
servers: [{url: "http://127.0.0.1:1"}]
paths:
  /items/{id}:
    get:
      operationId: getItemWrong
      tags: [items]
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: the item, documented wrongly on purpose
          content:
            application/json:
              schema:
                type: object
                required: [id, name, color]
                properties:
                  id: {type: integer}
                  name: {type: string}
                  price: {type: string}
                  color: {type: string, enum: [red, blue]}
  /echo:
    post:
      operationId: echoSecure
      tags: [echo]
      security: [{token: []}]
      parameters:
        - {name: mode, in: query, required: true, schema: {type: string, enum: [fast, slow]}}
        - {name: X-Trace, in: header, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [qty]
              properties:
                qty: {type: integer}
                note: {type: string}
      responses:
        "200": {description: echoed, content: {application/json: {schema: {type: object}}}}
  /ping:
    get:
      operationId: pingWithQueryKey
      security: [{qkey: []}]
      responses:
        "200": {description: pong}
components:
  securitySchemes:
    token: {type: http, scheme: bearer}
    qkey: {type: apiKey, in: query, name: api_key}
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    spec: String,
    demo_spec: String,
    server: DemoServer,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("api.yaml");
    std::fs::write(&spec, SPEC).expect("write spec");
    let demo = dir.path().join("demo.json");
    std::fs::write(
        &demo,
        serde_json::to_vec_pretty(&keel_demo::openapi::document()).expect("json"),
    )
    .expect("write demo spec");
    Fixture {
        spec: spec.display().to_string(),
        demo_spec: demo.display().to_string(),
        _dir: dir,
        server: DemoServer::start_background().expect("demo server"),
    }
}

fn call(f: &Fixture, args: &[&str]) -> Output {
    let url = f.server.url();
    let mut all = vec!["call", "--spec", &f.spec, "--base-url", &url];
    all.extend_from_slice(args);
    cmd().args(&all).output().expect("run keel")
}

#[test]
fn list_shows_operations_parameters_and_tags() {
    let f = fixture();
    let o = cmd()
        .args(["call", "--spec", &f.spec, "--list"])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("getItemWrong  GET /items/{id}"), "{out}");
    assert!(out.contains("id*  integer (path)"), "{out}");
    assert!(
        out.contains("echoSecure  POST /echo  [auth: token]"),
        "{out}"
    );
    assert!(out.contains("mode*  fast|slow (query)"), "{out}");
    let o = cmd()
        .args(["call", "--spec", &f.spec, "--list", "--tag", "echo"])
        .output()
        .expect("run");
    assert!(!text(&o.stdout).contains("getItemWrong"));
    let o = cmd()
        .args(["call", "--spec", &f.spec, "--list", "--tag", "nope"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("tags: items, echo"),
        "{}",
        text(&o.stderr)
    );
    // The demo server's own document.
    let o = cmd()
        .args(["call", "--spec", &f.demo_spec, "--list"])
        .output()
        .expect("run");
    assert!(
        text(&o.stdout).contains("getItem  GET /items/{id}"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn parameters_are_checked_before_sending() {
    let f = fixture();
    let o = call(&f, &["getItemWrong"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("getItemWrong needs id (path, integer)"),
        "{}",
        text(&o.stderr)
    );
    let o = call(&f, &["getItemWrong", "id=abc"]);
    assert!(
        text(&o.stderr).contains("id=\"abc\" is not a valid integer"),
        "{}",
        text(&o.stderr)
    );
    let o = call(&f, &["echoSecure", "mode=medium", "qty:=1"]);
    assert!(
        text(&o.stderr).contains("use one of fast, slow"),
        "{}",
        text(&o.stderr)
    );
    let o = cmd()
        .args([
            "call",
            "--spec",
            &f.spec,
            "--base-url",
            &f.server.url(),
            "echoSecure",
            "mode=fast",
            "note=x",
        ])
        .env("KEEL_API_KEY", TOKEN)
        .scanned_output_with(&[TOKEN]);
    assert!(
        text(&o.stderr).contains("the body needs the field qty"),
        "{}",
        text(&o.stderr)
    );
    let o = call(&f, &["nosuchOp"]);
    assert!(
        text(&o.stderr).contains("no operation \"nosuchOp\""),
        "{}",
        text(&o.stderr)
    );
    // Nothing reached the server: every refusal came before sending.
    assert_eq!(f.server.state().arrivals("x").arrivals, 0);
}

#[test]
fn security_from_the_document_and_credentials_from_the_environment() {
    let f = fixture();
    let o = call(&f, &["echoSecure", "mode=fast", "qty:=2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("needs credentials"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("KEEL_API_KEY"),
        "{}",
        text(&o.stderr)
    );
    let o = cmd()
        .args([
            "call",
            "--spec",
            &f.spec,
            "--base-url",
            &f.server.url(),
            "echoSecure",
            "mode=fast",
            "X-Trace=t-1",
            "qty:=2",
            "note=hi",
        ])
        .env("KEEL_API_KEY", TOKEN)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o.stderr));
    // stdout is the echo, which shows the token on purpose; stderr does not.
    common::assert_no_secret_in("stderr of keel call echoSecure", &o.stderr, &[TOKEN]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["headers"]["authorization"][0],
        format!("Bearer {TOKEN}").as_str()
    );
    assert_eq!(v["headers"]["x-trace"][0], "t-1");
    assert_eq!(v["query_pairs"], serde_json::json!([["mode", "fast"]]));
    assert_eq!(v["body"], r#"{"qty": 2, "note": "hi"}"#);
    assert!(
        !text(&o.stderr).contains("does not match"),
        "{}",
        text(&o.stderr)
    );
    // --offline: the request, the token redacted, nothing sent.
    let o = cmd()
        .args([
            "call",
            "--spec",
            &f.spec,
            "--offline",
            "echoSecure",
            "mode=slow",
            "qty:=3",
        ])
        .env("KEEL_API_KEY", TOKEN)
        .scanned_output_with(&[TOKEN]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("POST /echo?mode=slow HTTP/1.1\nhost: 127.0.0.1:1\n"),
        "{out}"
    );
    assert!(out.contains("authorization: <redacted>"), "{out}");
    assert!(!out.contains("tok-123"), "{out}");
}

#[test]
fn an_api_key_sent_in_the_query_is_redacted_where_the_request_is_printed() {
    let f = fixture();
    let o = cmd()
        .args(["call", "--spec", &f.spec, "--offline", "pingWithQueryKey"])
        .env("KEEL_API_KEY", QUERY_KEY)
        .scanned_output_with(&[QUERY_KEY]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("GET /ping?api_key=<redacted> HTTP/1.1\n"),
        "{out}"
    );
    assert!(!out.contains("qk-Secret"), "{out}");
}

#[test]
fn the_response_is_checked_against_the_document() {
    let f = fixture();
    let o = call(&f, &["getItemWrong", "id=1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("widget"));
    let err = text(&o.stderr);
    assert!(err.contains("does not match the document"), "{err}");
    assert!(
        err.contains("$.price: expected string, got number"),
        "{err}"
    );
    assert!(
        err.contains("the required field \"color\" is missing"),
        "{err}"
    );
    // The demo's own document describes its responses: nothing to report.
    let url = f.server.url();
    let o = cmd()
        .args([
            "call",
            "--spec",
            &f.demo_spec,
            "--base-url",
            &url,
            "getItem",
            "id=1",
        ])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        !text(&o.stderr).contains("does not match"),
        "{}",
        text(&o.stderr)
    );
    let o = cmd()
        .args([
            "call",
            "--spec",
            &f.demo_spec,
            "--base-url",
            &url,
            "getItem",
            "id=999999",
        ])
        .output()
        .expect("run");
    assert!(
        !text(&o.stderr).contains("does not match"),
        "404 is documented: {}",
        text(&o.stderr)
    );
}
