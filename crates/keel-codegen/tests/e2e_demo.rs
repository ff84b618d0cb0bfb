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
use demo_client::{items, models, Client};

fn main() {
    let url = std::env::var("DEMO_URL").expect("DEMO_URL");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // a client without credentials: Client<keel::HttpClient>
    let client = Client::from_url(&url).unwrap();

    // async, parsed: the documented success type comes back as T
    let health: models::Health = rt.block_on(client.meta().get_health().send()).unwrap();
    println!("health: {health:?}");

    // a required body, then an optional query parameter as a setter
    let new = models::NewItem { name: "kettle".into(), price: 12.5, tags: Some(vec!["kitchen".into()]) };
    let created: models::Item = rt.block_on(client.items().create_item(new).send()).unwrap();
    assert_eq!(created.name, "kettle");
    let some = rt.block_on(client.items().list_items().limit(1).send()).unwrap();
    assert_eq!(some.len(), 1, "limit(1) was not sent: {some:?}");
    let all = rt.block_on(client.items().list_items().send()).unwrap();
    assert!(all.len() > 1, "{all:?}");

    // detailed: the whole response, parsed into the response enum
    let resp = rt.block_on(client.items().get_item(1).detailed()).unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    match resp.parsed {
        Some(items::GetItemResponse::Ok(item)) => assert_eq!(item.id, 1),
        other => panic!("unexpected {other:?}"),
    }

    // documented error status -> ApiError::Status with the parsed body
    match rt.block_on(client.items().get_item(999_999).send()) {
        Err(keel::ApiError::Status { status, .. }) => assert_eq!(status.as_u16(), 404),
        other => panic!("expected a documented 404, got {other:?}"),
    }

    // blocking call (outside the runtime)
    let item = client.items().get_item(2).send_blocking().unwrap();
    assert_eq!(item.id, 2);

    // secured operation: only on Client<keel::HttpAuthenticatedClient>; the apiKey header reaches the server
    let secured = Client::new(
        demo_client::auth::api_key_builder(&url, "k-123")
            .allow_insecure_credentials(true)
            .build()
            .unwrap(),
    );
    let echo = rt.block_on(secured.secure().echo_secure().send()).unwrap();
    let seen = format!("{echo:?}");
    assert!(seen.contains("k-123"), "the API key was not sent: {seen}");
    // public operations work on the authenticated client too
    assert_eq!(secured.items().get_item(1).send_blocking().unwrap().id, 1);

    // undocumented status (418), raise_on_unexpected_status = false -> ApiError::UnexpectedStatus
    let lenient = Client::new(keel::HttpClient::builder(url.as_str()).raise_on_unexpected_status(false).build().unwrap());
    match rt.block_on(lenient.status().get_undocumented().send()) {
        Err(keel::ApiError::UnexpectedStatus { status, .. }) => assert_eq!(status.as_u16(), 418),
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
    let detailed = rt.block_on(lenient.status().get_undocumented().detailed()).unwrap();
    assert_eq!(detailed.status.as_u16(), 418);
    assert!(detailed.parsed.is_none());

    // ... and = true -> keel::Error::UnexpectedStatus
    let strict = Client::new(keel::HttpClient::builder(url.as_str()).raise_on_unexpected_status(true).build().unwrap());
    match strict.status().get_undocumented().send_blocking() {
        Err(keel::ApiError::Client(e)) => assert_eq!(e.status().map(|s| s.as_u16()), Some(418), "{e}"),
        other => panic!("expected keel::Error::UnexpectedStatus, got {other:?}"),
    }
    // Server-sent events: `events()` is typed by the document's event schema,
    // and resumes across the connections the server drops.
    let mut ticks = client.sdk().stream_ticks().count(5).drop_after(2).retry_ms(10).events().unwrap();
    let mut seen = Vec::new();
    rt.block_on(async {
        while let Some(event) = ticks.next().await.unwrap() {
            seen.push(event.data.n);
        }
    });
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    assert_eq!(ticks.inner().connections(), 3);

    // OAuth2 client credentials from the document's scheme (tokenUrl, scopes).
    let oauth = Client::with_oauth2(&url, "keel-demo-client", "keel-demo-oauth-secret").unwrap();
    for _ in 0..3 {
        let p = rt.block_on(oauth.sdk().get_protected().send()).unwrap();
        assert!(p.ok);
    }
    let blocking = oauth.sdk().get_protected().send_blocking().unwrap();
    assert_eq!(blocking.token, 1, "one token for every call");
    // The cursor-paginated list got paginate() (detected from `cursor` and `next_cursor`).
    let mut pager = client.sdk().list_paged_items().total(12).limit(5).paginate().unwrap();
    let mut ns = Vec::new();
    while let Some(item) = rt.block_on(pager.next_item()).unwrap() {
        ns.push(item.n);
    }
    assert_eq!(ns, (1..=12).collect::<Vec<_>>());
    assert_eq!(pager.pages_fetched(), 3);
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
    // The README's one-feature dependency (`tests/readme/one_feature.toml`): a crate that
    // compiles only the `items` tag of demo-client, and a program in it that names another
    // tag, which must not compile.
    let names: Vec<&str> = generated.features.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.contains(&"items") && names.contains(&"meta"),
        "{names:?}"
    );
    let snippet = include_str!("readme/one_feature.toml");
    let deps = snippet.replace("path = \"demo-client\"", "path = \"../demo-client\"");
    assert_ne!(
        deps, snippet,
        "the README snippet names demo-client by path"
    );
    std::fs::create_dir_all(root.join("one-feature/src/bin")).unwrap();
    std::fs::write(
        root.join("one-feature/Cargo.toml"),
        format!("[package]\nname = \"one-feature\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n{deps}"),
    )
    .unwrap();
    std::fs::write(
        root.join("one-feature/src/main.rs"),
        include_str!("readme/one_feature.rs"),
    )
    .unwrap();
    std::fs::write(
        root.join("one-feature/src/bin/other_tag.rs"),
        "fn main() {\n    let client = demo_client::Client::from_url(\"http://127.0.0.1:1\").unwrap();\n    let _ = client.meta().get_health();\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"demo-client\", \"check\", \"one-feature\"]\n",
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
    // `cargo <verb> -p <package> --bin <bin>` in the nested workspace, sharing its
    // target directory, offline when the lockfile was copied.
    let nested = |verb: &str, package: &str, bin: &str| {
        let mut c = Command::new(&cargo);
        c.args([
            verb,
            "--message-format",
            "short",
            "-p",
            package,
            "--bin",
            bin,
        ])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
        if lock.exists() {
            c.arg("--offline");
        }
        c
    };
    let mut build = nested("run", "check", "check");
    build.env("DEMO_URL", &url);
    let out = build.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The README's example: built (dependencies already compiled) and run while the server is up.
    let readme = out.status.success().then(|| {
        let built = nested("build", "check", "readme_generated_client")
            .output()
            .unwrap();
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
    // Only the `items` feature: built without warnings and run against the server; a
    // program calling `client.meta()` does not compile.
    let one_feature = out.status.success().then(|| {
        let built = nested("build", "one-feature", "one-feature")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&built.stderr).into_owned();
        if !built.status.success() {
            return Err(stderr);
        }
        if let Some(w) = stderr.lines().find(|l| l.starts_with("demo-client/") && l.contains("warning")) {
            return Err(format!("warning with only `items`: {w}"));
        }
        let o = Command::new(target.join("debug/one-feature"))
            .env("API_URL", &url)
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        let checked = nested("check", "one-feature", "other_tag").output().unwrap();
        let stderr = String::from_utf8_lossy(&checked.stderr);
        if checked.status.success() || !stderr.contains("no method named `meta`") {
            return Err(format!(
                "`client.meta()` with only the `items` feature: expected \"no method named `meta`\", got:\n{stderr}"
            ));
        }
        Ok(())
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
    if let Some(Err(e)) = one_feature {
        panic!("demo-client with only its `items` feature (tests/readme/one_feature.*):\n{e}");
    }
    if let Some(Err(e)) = readme {
        panic!(
            "the README's generated-client example (tests/readme/generated_client.rs) failed:\n{e}"
        );
    }
}
