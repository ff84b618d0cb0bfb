//! End to end: generate a client from the demo server's own `/openapi.json`, build a small
//! program against it and run that program against the running server.
//!
//! The program (below, `CHECK_MAIN`) exercises an async call, a blocking call, a secured
//! operation (apiKey header, added to the document with `openapi_extension` on the `/echo`
//! route), and an undocumented status with `raise_on_unexpected_status` both ways.
//!
//! The README's generated-client example (`tests/readme/generated_client.rs`, which the
//! README shows byte for byte; see `crates/keel/tests/readme.rs`) is built in the same crate
//! as a second binary and run against the same server.
//!
//! The nested build uses its own target directory (`target/keel-generated`), because the
//! outer `cargo test` holds the lock on the workspace's. Set `KEEL_SKIP_E2E=1` to skip.

use keel_codegen::{generate_from_str, GenerateOptions, KeelDependency};
use std::path::PathBuf;
use std::process::Command;

const CHECK_MAIN: &str = r#"
use demo_client::{api, auth, models};

fn main() {
    let url = std::env::var("DEMO_URL").expect("DEMO_URL");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = keel::HttpClient::builder(url.as_str()).build().unwrap();

    // async, parsed variant: documented success type comes back as T
    let health: models::Health = rt.block_on(api::meta::get_health(&client)).unwrap();
    println!("health: {health:?}");

    // async detailed variant
    let resp = rt.block_on(api::items::get_item_detailed(&client, 1)).unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    match resp.parsed {
        Some(api::items::GetItemResponse::Ok(item)) => assert_eq!(item.id, 1),
        other => panic!("unexpected {other:?}"),
    }

    // documented error status -> ApiError::Status with the parsed body
    match rt.block_on(api::items::get_item(&client, 999_999)) {
        Err(keel::ApiError::Status { status, .. }) => assert_eq!(status.as_u16(), 404),
        other => panic!("expected a documented 404, got {other:?}"),
    }

    // blocking call (outside the runtime)
    let item = api::items::get_item_blocking(&client, 2).unwrap();
    assert_eq!(item.id, 2);

    // secured operation: the apiKey header reaches the server
    let secured = auth::api_key_builder(&url, "k-123")
        .allow_insecure_credentials(true)
        .build()
        .unwrap();
    let echo = rt.block_on(api::secure::echo_secure(&secured)).unwrap();
    let seen = format!("{echo:?}");
    assert!(seen.contains("k-123"), "the API key was not sent: {seen}");

    // undocumented status (418), raise_on_unexpected_status = false -> ApiError::UnexpectedStatus
    let lenient = keel::HttpClient::builder(url.as_str()).raise_on_unexpected_status(false).build().unwrap();
    match rt.block_on(api::status::get_undocumented(&lenient)) {
        Err(keel::ApiError::UnexpectedStatus { status, .. }) => assert_eq!(status.as_u16(), 418),
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    let detailed = rt.block_on(api::status::get_undocumented_detailed(&lenient)).unwrap();
    assert_eq!(detailed.status.as_u16(), 418);
    assert!(detailed.parsed.is_none());

    // ... and = true -> keel::Error::UnexpectedStatus
    let strict = keel::HttpClient::builder(url.as_str()).raise_on_unexpected_status(true).build().unwrap();
    match api::status::get_undocumented_blocking(&strict) {
        Err(keel::ApiError::Client(e)) => assert_eq!(e.status().map(|s| s.as_u16()), Some(418), "{e}"),
        other => panic!("expected keel::Error::UnexpectedStatus, got {other:?}"),
    }
    println!("E2E OK");
}
"#;

#[test]
fn generated_client_talks_to_the_demo_server() {
    if std::env::var_os("KEEL_SKIP_E2E").is_some() {
        eprintln!("KEEL_SKIP_E2E set: skipped");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let extension = serde_json::json!({
        "paths": { "/echo/secure": { "get": {
            "operationId": "echoSecure", "tags": ["secure"],
            "summary": "Echo, with the apiKey scheme",
            "security": [{ "apiKey": [] }],
            "responses": { "200": { "description": "What arrived", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Echo" } } } } }
        } } }
    });
    let server = rt
        .block_on(
            keel_demo::DemoServer::builder()
                .openapi_extension(extension)
                .start(),
        )
        .unwrap();
    let url = server.url();

    // fetch the document over HTTP, like a user would
    let doc = rt
        .block_on(async {
            let c = keel::HttpClient::builder(url.as_str()).build()?;
            c.get("/openapi.json").send().await
        })
        .unwrap();
    let text = String::from_utf8_lossy(&doc.content).into_owned();

    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let keel_path = manifest.join("../keel").canonicalize().unwrap();
    let options = GenerateOptions::new("demo-client").keel(KeelDependency::Path(keel_path.clone()));
    let generated = generate_from_str(&text, &options).unwrap();
    assert_eq!(generated.operations, generated.spec_operations);

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    generated.write_to(&root.join("demo-client")).unwrap();
    std::fs::create_dir_all(root.join("check/src")).unwrap();
    std::fs::write(root.join("check/src/main.rs"), CHECK_MAIN).unwrap();
    std::fs::create_dir_all(root.join("check/src/bin")).unwrap();
    std::fs::write(
        root.join("check/src/bin/readme_generated_client.rs"),
        include_str!("readme/generated_client.rs"),
    )
    .unwrap();
    std::fs::write(
        root.join("check/Cargo.toml"),
        format!(
            "[package]\nname = \"check\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\ndemo-client = {{ path = \"../demo-client\" }}\nkeel = {{ package = \"keel-http\", path = {:?} }}\ntokio = {{ version = \"1\", features = [\"rt\", \"macros\", \"rt-multi-thread\"] }}\n",
            keel_path.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"demo-client\", \"check\"]\n",
    )
    .unwrap();
    // pin dependency versions to the workspace's lockfile so the build works offline
    let lock = manifest.join("../../Cargo.lock");
    if lock.exists() {
        std::fs::copy(&lock, root.join("Cargo.lock")).unwrap();
    }
    // In the target directory in use (CARGO_TARGET_DIR in CI), shared with the README check.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"))
        .join("keel-generated");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .args([
            "run",
            "--message-format",
            "short",
            "-p",
            "check",
            "--bin",
            "check",
        ])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .env("DEMO_URL", &url);
    if lock.exists() {
        build.arg("--offline");
    }
    let out = build.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The README's example: built (dependencies already compiled) and run while the server is up.
    let readme = out.status.success().then(|| {
        let mut b = Command::new(&cargo);
        b.args([
            "build",
            "--message-format",
            "short",
            "-p",
            "check",
            "--bin",
            "readme_generated_client",
        ])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target);
        if lock.exists() {
            b.arg("--offline");
        }
        let built = b.output().unwrap();
        if !built.status.success() {
            return Err(String::from_utf8_lossy(&built.stderr).into_owned());
        }
        let o = Command::new(target.join("debug/readme_generated_client"))
            .env("API_URL", &url)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    });
    rt.block_on(server.shutdown());
    let generated_warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("demo-client/") && l.contains("warning"))
        .collect();
    assert!(
        generated_warnings.is_empty(),
        "the generated crate has warnings:\n{}",
        generated_warnings.join("\n")
    );
    assert!(
        out.status.success() && stdout.contains("E2E OK"),
        "generated client check failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    if let Some(Err(e)) = readme {
        panic!(
            "the README's generated-client example (tests/readme/generated_client.rs) failed:\n{e}"
        );
    }
}
