//! Property test: the OpenAPI reader and generator on mutated documents.
//! Real documents (the demo server's OpenAPI 3.1 document and the test
//! specs, YAML and Swagger 2.0 included) are mutated (nodes deleted or
//! replaced by the wrong type, dangling and cyclic `$ref`s, text truncated
//! or bytes dropped), and generation either succeeds with Rust files that
//! parse, or fails with a message — it never panics.
//!
//! Case counts are small so `cargo test` stays fast; `KEEL_PROPTEST_SCALE=100`
//! (what `scripts/proptest-long.sh` sets) multiplies them.

use keel_codegen::{generate_from_str, GenerateOptions};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

fn config(cases: u32) -> Config {
    let scale: u32 = std::env::var("KEEL_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    Config {
        cases: cases.saturating_mul(scale),
        failure_persistence: None,
        ..Config::default()
    }
}

const SPECS: [&str; 4] = [
    include_str!("specs/models.yaml"),
    include_str!("specs/operations.yaml"),
    include_str!("specs/openapi31.yaml"),
    include_str!("specs/swagger2.yaml"),
];

/// What to do at the chosen node.
#[derive(Debug, Clone)]
enum Mutation {
    Delete,
    Replace(Value),
    DanglingRef,
    RefToParent,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Delete),
        Just(Mutation::Replace(Value::Null)),
        Just(Mutation::Replace(Value::from(
            -9_223_372_036_854_775_807i64
        ))),
        Just(Mutation::Replace(Value::from(1.5e300))),
        Just(Mutation::Replace(Value::from("x"))),
        Just(Mutation::Replace(Value::Bool(true))),
        Just(Mutation::Replace(Value::Array(vec![]))),
        Just(Mutation::Replace(serde_json::json!({}))),
        Just(Mutation::Replace(serde_json::json!({"type": "array"}))),
        Just(Mutation::Replace(
            serde_json::json!({"type": ["string", "null"], "enum": [1, "a", null]})
        )),
        Just(Mutation::Replace(
            serde_json::json!({"allOf": [{"$ref": "#/components/schemas/Item"}, {"type": "integer"}]})
        )),
        Just(Mutation::DanglingRef),
        Just(Mutation::RefToParent),
    ]
}

/// Walks `steps` (each picks a child by index) from the root; returns the
/// JSON pointer of the node reached (never the root itself).
fn pick(doc: &Value, steps: &[usize]) -> Vec<String> {
    let mut at = doc;
    let mut path = Vec::new();
    for &s in steps {
        let next = match at {
            Value::Object(m) if !m.is_empty() => {
                let Some((k, v)) = m.iter().nth(s % m.len()) else {
                    break;
                };
                path.push(k.clone());
                v
            }
            Value::Array(a) if !a.is_empty() => {
                let i = s % a.len();
                path.push(i.to_string());
                &a[i]
            }
            _ => break,
        };
        at = next;
    }
    path
}

fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn apply(doc: &mut Value, path: &[String], m: &Mutation) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let parent_ptr = pointer(parent_path);
    let replacement = match m {
        Mutation::Delete => None,
        Mutation::Replace(v) => Some(v.clone()),
        Mutation::DanglingRef => {
            Some(serde_json::json!({"$ref": "#/components/schemas/DoesNotExist"}))
        }
        Mutation::RefToParent => Some(serde_json::json!({"$ref": format!("#{parent_ptr}")})),
    };
    let Some(parent) = doc.pointer_mut(&parent_ptr) else {
        return;
    };
    match (parent, replacement) {
        (Value::Object(o), None) => {
            o.remove(last);
        }
        (Value::Object(o), Some(v)) => {
            o.insert(last.clone(), v);
        }
        (Value::Array(a), r) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < a.len() {
                    match r {
                        None => {
                            a.remove(i);
                        }
                        Some(v) => a[i] = v,
                    }
                }
            }
        }
        _ => {}
    }
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match generate_from_str(text, &GenerateOptions::new("mutated")) {
        Ok(g) => {
            prop_assert_eq!(g.operations, g.spec_operations, "an operation was dropped");
            for f in &g.files {
                if f.path.extension().is_some_and(|e| e == "rs") {
                    let parsed = syn::parse_file(&f.contents);
                    prop_assert!(
                        parsed.is_ok(),
                        "{} is not valid Rust: {:?}",
                        f.path.display(),
                        parsed.err()
                    );
                }
            }
        }
        Err(e) => prop_assert!(!e.to_string().trim().is_empty(), "an empty error message"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn mutated_json_documents_generate_or_fail_cleanly(
        edits in prop::collection::vec((prop::collection::vec(any::<usize>(), 1..7), mutation()), 1..4),
    ) {
        let mut doc = keel_demo::openapi::document();
        for (steps, m) in &edits {
            let path = pick(&doc, steps);
            apply(&mut doc, &path, m);
        }
        check(&doc.to_string())?;
    }

    #[test]
    fn damaged_yaml_and_swagger_text_generates_or_fails_cleanly(
        which in 0usize..SPECS.len(),
        cut in any::<prop::sample::Index>(),
        drops in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        truncate in any::<bool>(),
    ) {
        let mut bytes = SPECS[which].as_bytes().to_vec();
        for d in drops {
            if !bytes.is_empty() {
                let i = d.index(bytes.len());
                bytes.remove(i);
            }
        }
        if truncate && !bytes.is_empty() {
            bytes.truncate(cut.index(bytes.len()));
        }
        check(&String::from_utf8_lossy(&bytes))?;
    }
}
