//! Emits, from the public IR only, a Rust module that calls every operation of one API
//! through its generated client, with arguments from the document's examples (or built from
//! its schemas), and reports for each call whether the server accepted the request (Prism
//! adds an `sl-violations` header to every request it finds invalid) and whether the
//! generated types decoded the response.

use keel_codegen::ir::{Api, BodyKind, ModelKind, PartKind, Primitive, Type};
use serde_json::Value;

/// A JSON value as a Rust raw string literal.
fn lit(v: &Value) -> String {
    let text = v.to_string();
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{text}\"{hashes}")
}

fn unalias<'a>(api: &'a Api, t: &'a Type) -> &'a Type {
    let mut cur = t;
    for _ in 0..32 {
        match cur {
            Type::Model(i) => match &api.models[*i].kind {
                ModelKind::Alias(inner) => cur = inner,
                _ => return cur,
            },
            Type::Boxed(inner) => cur = inner,
            _ => return cur,
        }
    }
    cur
}

/// Make an example fit a parameter's type: documents often write `"42"` for an integer or a
/// single value for an array.
fn coerce(api: &Api, t: &Type, v: Value) -> Value {
    match (unalias(api, t), v) {
        (Type::Option(inner), v) => coerce(api, inner, v),
        (Type::Primitive(Primitive::String), Value::Number(n)) => Value::String(n.to_string()),
        (Type::Primitive(Primitive::String), Value::Bool(b)) => Value::String(b.to_string()),
        (Type::Primitive(Primitive::Bool), Value::String(s)) => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(s),
        },
        (Type::Primitive(p), Value::String(s)) if *p != Primitive::String => {
            if let Ok(i) = s.parse::<i64>() {
                Value::from(i)
            } else if let Ok(f) = s.parse::<f64>() {
                serde_json::Number::from_f64(f).map_or(Value::String(s), Value::Number)
            } else {
                Value::String(s)
            }
        }
        (Type::Primitive(p), Value::Number(n))
            if !matches!(p, Primitive::F32 | Primitive::F64)
                && n.as_f64().is_some_and(|f| f.fract() == 0.0)
                && n.as_i64().is_none()
                && n.as_u64().is_none() =>
        {
            Value::from(n.as_f64().unwrap_or(0.0) as i64)
        }
        (Type::Vec(inner), Value::Array(items)) => {
            Value::Array(items.into_iter().map(|i| coerce(api, inner, i)).collect())
        }
        (Type::Vec(inner), Value::String(s)) if s.contains(',') => Value::Array(
            s.split(',')
                .map(|p| coerce(api, inner, Value::String(p.trim().to_string())))
                .collect(),
        ),
        (Type::Vec(inner), scalar) => Value::Array(vec![coerce(api, inner, scalar)]),
        (_, v) => v,
    }
}

/// `arg::<String>(…)` where the method takes `impl Into<String>` (no type to infer from).
fn arg(api: &Api, t: &Type, v: &Value) -> String {
    let v = coerce(api, t, v.clone());
    if matches!(unalias(api, t), Type::Primitive(Primitive::String)) {
        format!("arg::<String>({})?", lit(&v))
    } else {
        format!("arg({})?", lit(&v))
    }
}

/// The harness module for one API whose generated crate is `krate` (its Rust name).
pub fn module(api: &Api, krate: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "//! Calls every operation of {:?}.\n#![allow(unused_variables, unused_imports, clippy::all)]\nuse crate::{{arg, check}};\nuse {krate} as api;\n\npub async fn run(base: &str) -> Result<(), String> {{\n",
        api.title
    ));
    out.push_str("    let public = api::Client::new(keel::HttpClient::builder(base).raise_on_unexpected_status(false).build().map_err(|e| e.to_string())?);\n");
    for s in &api.security_schemes {
        // An OAuth2 client-credentials scheme is called with a token obtained
        // elsewhere: Prism does not implement the document's token endpoint.
        let (builder, creds) = match &s.kind {
            keel_codegen::ir::AuthKind::Basic => ("builder", "\"user\", \"pass\""),
            keel_codegen::ir::AuthKind::OAuth2ClientCredentials { .. } => {
                ("token_builder", "\"k-123\"")
            }
            keel_codegen::ir::AuthKind::Unsupported(_) => continue,
            _ => ("builder", "\"k-123\""),
        };
        out.push_str(&format!(
            "    let s_{n} = api::Client::new(api::auth::{n}_{builder}(base, {creds}).allow_insecure_credentials(true).raise_on_unexpected_status(false).build().map_err(|e| e.to_string())?);\n",
            n = s.name
        ));
    }
    for (g, op) in api.operations() {
        let client = match op.security.first() {
            Some(wire) => match api.security_schemes.iter().find(|s| &s.wire == wire) {
                Some(s) => format!("s_{}", s.name),
                None => "public".to_string(),
            },
            None => "public".to_string(),
        };
        let mut args = Vec::new();
        for p in op.params.iter().filter(|p| p.required) {
            let v = p.example.clone().unwrap_or(Value::String("example".into()));
            args.push(arg(api, &p.ty, &v));
        }
        if let Some(b) = op.body.as_ref().filter(|b| b.required) {
            let pos = op.params.iter().filter(|p| p.required).count();
            args.insert(pos, body_expr(api, g, b));
        }
        let mut call = format!("{client}.{}().{}({})", g.accessor, op.name, args.join(", "));
        if let Some(b) = op
            .body
            .as_ref()
            .filter(|b| !b.required && b.example.is_some())
        {
            call.push_str(&format!(".body({})", body_expr(api, g, b)));
        }
        out.push_str(&format!(
            "    {{\n        let built = (|| -> Result<keel::RequestBuilder, String> {{ {call}.into_request().map_err(|e| format!(\"refused to send: {{e}}\")) }})();\n        check({:?}, built, |r| api::{}::{}::parse(r).map(|_| ())).await;\n    }}\n",
            op.name.trim_start_matches("r#"),
            g.module,
            op.response_type
        ));
    }
    out.push_str("    Ok(())\n}\n");
    out
}

fn body_expr(api: &Api, g: &keel_codegen::ir::Group, b: &keel_codegen::ir::Body) -> String {
    let ex = b
        .example
        .clone()
        .unwrap_or(Value::Object(Default::default()));
    match &b.kind {
        BodyKind::Json(t) | BodyKind::Form { ty: t, .. } => arg(api, t, &ex),
        BodyKind::Bytes => "keel::Bytes::from_static(b\"example\")".to_string(),
        BodyKind::Text => "\"example\"".to_string(),
        BodyKind::Multipart {
            type_name, fields, ..
        } => {
            let mut parts = Vec::new();
            for f in fields {
                let value = match f.kind {
                    PartKind::File => "keel::codegen_support::FilePart::new(&b\"example\"[..]).filename(\"example.txt\")".to_string(),
                    PartKind::Files => {
                        parts.push(format!("{}: vec![keel::codegen_support::FilePart::new(&b\"example\"[..])]", f.name));
                        continue;
                    }
                    PartKind::Value => match ex.get(&f.wire) {
                        Some(v) => arg(api, &f.ty, v),
                        None if f.required => arg(api, &f.ty, &Value::String("example".into())),
                        None => {
                            parts.push(format!("{}: None", f.name));
                            continue;
                        }
                    },
                };
                if f.required {
                    parts.push(format!("{}: {value}", f.name));
                } else {
                    parts.push(format!("{}: Some({value})", f.name));
                }
            }
            format!("api::{}::{type_name} {{ {} }}", g.module, parts.join(", "))
        }
        _ => "compile_error!(\"a body kind the harness does not know\")".to_string(),
    }
}

/// The harness's `main.rs`: `harness DOC BASE_URL` runs one API's calls; each call prints one
/// line, `op<TAB>accepted<TAB>decoded<TAB>detail`.
pub fn main_rs(docs: &[String]) -> String {
    let mut out = String::from("#![allow(clippy::all)]\n");
    for d in docs {
        out.push_str(&format!("mod {d};\n"));
    }
    out.push_str(r#"
pub fn arg<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("the example does not fit the generated type: {e}: {json}"))
}

pub async fn check(op: &str, built: Result<keel::RequestBuilder, String>, parse: impl Fn(&keel::Response) -> keel::Result<()>) {
    let line = match built {
        Err(e) => format!("no\tno\t{e}"),
        Ok(rb) => match rb.send().await {
            Err(e) => format!("no\tno\tnot sent: {e}"),
            Ok(resp) => {
                let violations = resp.header("sl-violations").map(str::to_owned);
                let decoded = parse(&resp);
                let accepted = if violations.is_none() { "yes" } else { "no" };
                let ok = if decoded.is_ok() { "yes" } else { "no" };
                let mut detail = format!("{}", resp.status);
                if let Some(v) = violations { detail.push_str(&format!(" violations: {v}")); }
                if let Err(e) = decoded { detail.push_str(&format!(" decode: {e}")); }
                format!("{accepted}\t{ok}\t{}", detail.replace(['\t', '\n'], " "))
            }
        },
    };
    println!("{op}\t{line}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(doc), Some(base)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: harness DOC BASE_URL");
        std::process::exit(2);
    };
    // One `run` calls every operation of a document in one async fn: its
    // future (boxed) and, in a debug build, its poll frame are large (Binance's
    // 340 operations overflowed the main thread's 8 MiB stack), so the calls run
    // on a thread with a large stack (reserved, not committed, until used).
    let (doc, base) = (doc.clone(), base.clone());
    let worker = std::thread::Builder::new()
        .name("harness".into())
        .stack_size(1 << 30)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let base = base.as_str();
                match doc.as_str() {
"#);
    for d in docs {
        out.push_str(&format!(
            "                    {d:?} => Box::pin({d}::run(base)).await,\n"
        ));
    }
    out.push_str(
        r#"                    other => Err(format!("unknown document {other}")),
                }
            })
        })
        .expect("harness thread");
    let result = worker.join().unwrap_or_else(|_| Err("the harness thread panicked".to_string()));
    if let Err(e) = result {
        eprintln!("harness: {e}");
        std::process::exit(1);
    }
}
"#,
    );
    out
}
