//! Snapshot tests: small hand-written specs, one per group of constructs; the whole generated
//! crate is compared with `tests/snapshots/<spec>.rs.txt`.
//!
//! Regenerate with `KEEL_UPDATE_SNAPSHOTS=1 cargo test -p keel-http-codegen --test snapshots`.

use keel_codegen::{generate, GenerateOptions, Generated, KeelDependency};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn render(g: &Generated) -> String {
    let mut out = String::new();
    for f in &g.files {
        out.push_str(&format!("// ===== {} =====\n", f.path.display()));
        out.push_str(&f.contents);
        if !f.contents.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str("// ===== warnings =====\n");
    for w in &g.warnings {
        out.push_str(&format!("// {w}\n"));
    }
    out
}

fn check(spec: &str, snapshot: &str) -> Generated {
    let options = GenerateOptions::new(snapshot.replace('_', "-"))
        .keel(KeelDependency::Path(PathBuf::from("../keel")));
    let g = generate(&dir().join("specs").join(spec), &options)
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    assert_eq!(g.operations, g.spec_operations);
    let text = render(&g);
    // generation is deterministic
    let again = generate(&dir().join("specs").join(spec), &options).unwrap();
    assert_eq!(
        text,
        render(&again),
        "{spec}: output differs between two runs"
    );
    let path = dir().join("snapshots").join(format!("{snapshot}.rs.txt"));
    if std::env::var_os("KEEL_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).unwrap();
    } else {
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "missing snapshot {}; run with KEEL_UPDATE_SNAPSHOTS=1",
                path.display()
            )
        });
        if expected != text {
            let line = expected
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(expected.lines().count().min(text.lines().count()));
            panic!(
                "{spec}: generated code differs from {} at line {}:\n  expected: {:?}\n  actual:   {:?}\n(run with KEEL_UPDATE_SNAPSHOTS=1 to accept)",
                path.display(),
                line + 1,
                expected.lines().nth(line),
                text.lines().nth(line)
            );
        }
    }
    g
}

#[test]
fn models() {
    let g = check("models.yaml", "models");
    let m = g.file("src/models.rs").unwrap();
    // sanitized names keep their wire names
    assert!(m.contains("#[serde(rename = \"optionType\\\"\")]"), "{m}");
    assert!(m.contains("pub m_2: Option<f64>"));
    assert!(m.contains("pub r#type: Option<String>"));
    assert!(m.contains("pub self_: Option<String>"));
    assert!(m.contains("pub french_word_ceder: Option<bool>"));
    // enums fall back to Other(String); recursion is boxed
    assert!(m.contains("Other(String)"));
    assert!(m.contains("pub parent: Option<Box<Node>>"));
    assert!(m.contains("pub struct Tree(pub Vec<Tree>);"));
    assert!(m.contains("pub struct OptionModel"));
}

#[test]
fn documented_defaults_are_applied() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/specs/models.yaml"),
    )
    .unwrap();
    let (api, _) = keel_codegen::lower_str(&text).unwrap();
    let settings = api.models.iter().find(|m| m.name == "Settings").unwrap();
    let keel_codegen::ir::ModelKind::Struct { fields, .. } = &settings.kind else {
        panic!("Settings is a struct");
    };
    let field = |n: &str| fields.iter().find(|f| f.name == n).unwrap();
    // applied: the field is `T`, filled with the default when a value lacks it
    for (name, value) in [
        ("mode", serde_json::json!("slow")),
        ("status", serde_json::json!("pending")),
        ("verbose", serde_json::json!(true)),
        ("offset", serde_json::json!(-1)),
        ("weight", serde_json::json!(1.5)),
        ("labels", serde_json::json!([])),
    ] {
        let f = field(name);
        assert_eq!(f.default.as_ref(), Some(&value), "{name}");
        assert!(!f.ty.is_option(), "{name}: {:?}", f.ty);
    }
    // not applied: a default that is not of the type, and a nullable field
    for name in ["retries", "note", "language"] {
        assert!(field(name).default.is_none(), "{name}");
        assert!(field(name).ty.is_option(), "{name}");
    }
    // no field is required, so `Default` is still offered, written with the defaults
    assert!(settings.derive_default);
    let g = check("models.yaml", "models");
    let m = g.file("src/models.rs").unwrap();
    assert!(m.contains("impl Default for Settings"), "{m}");
    assert!(m.contains("#[serde(default = \"Settings::default_mode\")]"));
    assert!(m.contains("SettingsMode::Slow"));
    // a required field's default changes nothing: it is always sent
    assert!(m.contains("pub name: String,"));
    // in a model a request body contains, `None` stays "not sent" (a PATCH must not
    // overwrite what the caller left alone): the default is documented, not applied
    let g = check("features.yaml", "features");
    let m = g.file("src/models.rs").unwrap();
    assert!(m.contains("pub status: Option<PetStatus>"), "{m}");
    assert!(m.contains("impl Default for Webhook"), "{m}");
}

#[test]
fn operations() {
    let g = check("operations.yaml", "operations");
    let pets = g.file("src/pets.rs").unwrap();
    // one method per operation, required parameters in the call, a builder for the rest
    assert!(pets.contains("pub fn get_pet("), "{pets}");
    assert!(pets.contains("pub async fn send(self)"));
    assert!(pets.contains("pub fn send_blocking(self)"));
    assert!(pets.contains("pub async fn detailed(self)"));
    assert!(pets.contains("pub fn detailed_blocking(self)"));
    // the type says which credentials are needed
    assert!(pets.contains("impl<'c> PetsApi<'c, keel::HttpAuthenticatedClient>"));
    assert!(pets.contains("impl<'c, A: keel::AuthState> PetsApi<'c, keel::Client<A>>"));
    // the support code is the library's, never a copy
    assert!(g.file("src/support.rs").is_none());
    assert!(pets.contains("keel::codegen_support::"));
    // the fallback error goes through the library's constructor (no URL with a query)
    assert!(!pets.contains("resp.url()"));
    let default = g.file("src/default.rs").unwrap();
    assert!(default.contains("\"/emailed/{period}.json\""));
    assert!(default.contains("pub fn get_emailed_period_json("));
    let auth = g.file("src/auth.rs").unwrap();
    assert!(auth.contains("Scheme::api_key_query(\"api-key\")"));
    let lib = g.file("src/lib.rs").unwrap();
    assert!(lib.contains("pub struct Client<C = keel::HttpAuthenticatedClient>"));
    assert!(lib.contains("pub fn pets(&self)"));
}

#[test]
fn features_per_tag() {
    let g = check("features.yaml", "features");
    let names: Vec<&str> = g.features.iter().map(|f| f.name.as_str()).collect();
    // one per tag, named like its module; Cargo reserves `default`
    assert_eq!(
        names,
        ["pets", "store", "users", "type", "keel_2", "default-tag"]
    );
    let cargo = g.file("Cargo.toml").unwrap();
    assert!(
        cargo.contains(
            "default = [\"pets\", \"store\", \"users\", \"type\", \"keel_2\", \"default-tag\"]\n"
        ),
        "{cargo}"
    );
    assert!(cargo.contains("\npets = []\n"), "{cargo}");
    let lib = g.file("src/lib.rs").unwrap();
    assert!(
        lib.contains("#[cfg(feature = \"pets\")]\npub mod pets;"),
        "{lib}"
    );
    assert!(
        lib.contains("#[cfg(feature = \"type\")]\npub mod r#type;"),
        "{lib}"
    );
    // a module named `keel` would shadow the keel crate
    assert!(
        lib.contains("#[cfg(feature = \"keel_2\")]\npub mod keel_2;"),
        "{lib}"
    );
    assert!(
        lib.contains("#[cfg(feature = \"store\")]\n    pub fn store(&self)"),
        "{lib}"
    );
    assert!(
        lib.contains("//! - `default-tag`: `client.default()`"),
        "{lib}"
    );
    let models = g.file("src/models.rs").unwrap();
    let lines: Vec<&str> = models.lines().collect();
    // the `#[cfg(..)]` among the attributes right above a line
    let cfg_above = |at: usize| {
        lines[..at]
            .iter()
            .rev()
            .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
            .find(|l| l.starts_with("#[cfg("))
            .map(|l| l.to_string())
    };
    let cfg_of = |ty: &str| {
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("pub {ty} ")))
            .unwrap_or_else(|| panic!("{ty} not in models"));
        cfg_above(at)
    };
    // used by every tag, or by a model no operation uses: always compiled
    assert_eq!(cfg_of("struct Error"), None);
    assert_eq!(cfg_of("struct Address"), None);
    assert_eq!(cfg_of("struct Webhook"), None);
    // reached from pets directly and from store through Order.pet
    let both = Some("#[cfg(any(feature = \"pets\", feature = \"store\"))]".to_owned());
    assert_eq!(cfg_of("struct Pet"), both);
    assert_eq!(cfg_of("struct Category"), both);
    assert_eq!(cfg_of("enum PetStatus"), both);
    assert_eq!(
        cfg_of("type PetList"),
        Some("#[cfg(feature = \"pets\")]".to_owned())
    );
    assert_eq!(
        cfg_of("struct ImageMeta"),
        Some("#[cfg(feature = \"pets\")]".to_owned())
    );
    let store = Some("#[cfg(feature = \"store\")]".to_owned());
    assert_eq!(cfg_of("struct Order"), store);
    assert_eq!(cfg_of("enum Payment"), store);
    assert_eq!(cfg_of("struct Card"), store);
    assert_eq!(cfg_of("struct StockEvent"), store);
    assert_eq!(
        cfg_of("struct User"),
        Some("#[cfg(feature = \"users\")]".to_owned())
    );
    // every impl of a gated type is gated with it
    for (ty, cfg) in [("Payment", &store), ("PetStatus", &both)] {
        let impls: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].starts_with("impl") && lines[*i].ends_with(&format!(" {ty} {{")))
            .collect();
        assert!(!impls.is_empty(), "no impls of {ty}");
        for i in impls {
            assert_eq!(&cfg_above(i), cfg, "{}", lines[i]);
        }
    }
}

#[test]
fn openapi_31() {
    let g = check("openapi31.yaml", "openapi31");
    // one tag: no features
    assert!(g.features.is_empty());
    assert!(!g.file("Cargo.toml").unwrap().contains("[features]"));
    assert!(!g.file("src/lib.rs").unwrap().contains("cfg(feature"));
    assert!(!g.file("src/models.rs").unwrap().contains("cfg(feature"));
}

#[test]
fn swagger_2() {
    let g = check("swagger2.yaml", "swagger2");
    assert!(g
        .file("src/lib.rs")
        .unwrap()
        .contains("https://api.example.com/svc"));
}

#[test]
fn external_refs() {
    let g = check("external/main.yaml", "external");
    let m = g.file("src/models.rs").unwrap();
    assert!(m.contains("pub struct Widget"));
    assert!(m.contains("pub struct Problem"));
}

fn err(text: &str) -> String {
    match keel_codegen::generate_from_str(text, &GenerateOptions::default()) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_documents_name_the_location() {
    assert!(err("[1, 2]").contains("at /:"));
    assert!(err("{\"info\": {}}").contains("neither `openapi` nor `swagger`"));
    assert!(err("openapi: 4.0.0\npaths: {}\n").contains("/openapi"));
    assert!(err("openapi: 3.0.0\npaths: [1]\n").contains("/paths"));
    assert!(err("openapi: 3.0.0\npaths: {\n").contains("invalid YAML"));
    let missing = keel_codegen::generate(
        Path::new("/nonexistent/spec.yaml"),
        &GenerateOptions::default(),
    );
    assert!(missing.is_err());
}

#[test]
fn lenient_where_intent_is_clear() {
    // a non-object operation, a bad response key, a dangling $ref, a parameter without schema
    let text = r##"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /a/{id}:
    get:
      parameters:
        - {name: q, in: query}
      responses:
        "2000": {description: bad key}
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Missing"}}}}
    post: 42
"##;
    let g = keel_codegen::generate_from_str(text, &GenerateOptions::default()).unwrap();
    assert_eq!(g.operations, 2);
    let msgs: Vec<String> = g.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("/paths/~1a~1{id}/get/responses/2000")),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m.contains("Missing")), "{msgs:#?}");
    assert!(
        msgs.iter().any(|m| m.contains("placeholder `{id}`")),
        "{msgs:#?}"
    );
}
