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
///
/// Each call is its own function: one `run` holding hundreds of calls (Binance has 340)
/// overflowed the main thread's stack in a debug build; each call's future is boxed, so
/// `run`'s own future stays small.
pub fn module(api: &Api, krate: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "//! Calls every operation of {:?}.\n#![allow(unused_variables, unused_imports, clippy::all)]\nuse crate::{{arg, check}};\nuse {krate} as api;\n\n\
/// Prism (Node) closes a connection idle for 5 s; a request sent as it does is dropped\n\
/// unanswered, and only an idempotent one may go again. Connections idle for less here.\n\
fn short_idle(t: &mut keel::transport::TransportSettings) {{\n    \
t.pool().pool_idle_timeout(std::time::Duration::from_secs(2));\n}}\n\n",
        api.title
    ));
    let mut fields = vec!["public".to_string()];
    let mut inits = vec!["public: api::Client::new(keel::HttpClient::builder(base).configure_transport(short_idle).raise_on_unexpected_status(false).build().map_err(|e| e.to_string())?)".to_string()];
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
        fields.push(format!("s_{}", s.name));
        inits.push(format!(
            "s_{n}: api::Client::new(api::auth::{n}_{builder}(base, {creds}).allow_insecure_credentials(true).configure_transport(short_idle).raise_on_unexpected_status(false).build().map_err(|e| e.to_string())?)",
            n = s.name
        ));
    }
    out.push_str("/// The clients: public, and one per security scheme.\nstruct Clients {\n");
    for (i, f) in fields.iter().enumerate() {
        let ty = if i == 0 {
            "api::Client<keel::HttpClient>".to_string()
        } else {
            "api::Client<keel::HttpAuthenticatedClient>".to_string()
        };
        out.push_str(&format!("    {f}: {ty},\n"));
    }
    out.push_str("}\n\n");
    let mut calls = String::new();
    let mut run = String::new();
    for (i, (g, op)) in api.operations().enumerate() {
        let client = match op.security.first() {
            Some(wire) => match api.security_schemes.iter().find(|s| &s.wire == wire) {
                Some(s) if fields.contains(&format!("s_{}", s.name)) => format!("c.s_{}", s.name),
                _ => "c.public".to_string(),
            },
            None => "c.public".to_string(),
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
        calls.push_str(&format!(
            "async fn call_{i}(c: &Clients) {{\n    let build = || -> Result<keel::RequestBuilder, String> {{ {call}.into_request().map_err(|e| format!(\"refused to send: {{e}}\")) }};\n    check({:?}, {}, build, |r| api::{}::{}::parse(r).map(|_| ())).await;\n}}\n\n",
            op.name.trim_start_matches("r#"),
            canned(op),
            g.module,
            op.response_type
        ));
        run.push_str(&format!("    Box::pin(call_{i}(&c)).await;\n"));
    }
    out.push_str(&calls);
    out.push_str(&format!(
        "pub async fn run(base: &str) -> Result<(), String> {{\n    let c = Clients {{\n        {},\n    }};\n{run}    Ok(())\n}}\n",
        inits.join(",\n        ")
    ));
    out
}

/// The response the harness's own upstream gives behind `prism proxy` when Prism cannot build
/// a valid one: the first documented success with a JSON body, that body built from its
/// schema (`Some((status, media type, JSON))`), or `None`.
fn canned(op: &keel_codegen::ir::Operation) -> String {
    use keel_codegen::ir::StatusKey;
    let found = op.responses.iter().filter(|r| !r.is_error).find_map(|r| {
        let status = match r.status {
            StatusKey::Code(c) if (200..300).contains(&c) && c != 204 => c,
            StatusKey::Class(2) | StatusKey::Default => 200,
            _ => return None,
        };
        Some((status, r.media_type.clone()?, r.example.clone()?))
    });
    match found {
        Some((status, ct, body)) => format!("Some(({status}, {ct:?}, {}))", lit(&body)),
        None => "None".to_string(),
    }
}

fn body_expr(api: &Api, g: &keel_codegen::ir::Group, b: &keel_codegen::ir::Body) -> String {
    let ex = b
        .example
        .clone()
        .unwrap_or(Value::Object(Default::default()));
    match &b.kind {
        BodyKind::Json(t) | BodyKind::Form { ty: t, .. } => arg(api, t, &ex),
        // a raw or text body: the document's (or the schema's) string example, else "example"
        BodyKind::Bytes => format!(
            "keel::Bytes::from_static({:?}.as_bytes())",
            ex.as_str().unwrap_or("example")
        ),
        BodyKind::Text => format!("{:?}", ex.as_str().unwrap_or("example")),
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

/// How this run reaches the API.
pub enum Mode {
    /// `prism mock`: Prism answers from the document.
    Mock,
    /// `prism proxy` in front of the harness's own upstream, for the listed operations only.
    Proxy {
        upstream: std::sync::Arc<Upstream>,
        only: std::collections::HashSet<String>,
    },
}

pub static MODE: std::sync::OnceLock<Mode> = std::sync::OnceLock::new();

/// A response the upstream gives: (status, media type, body).
pub type Canned = Option<(u16, &'static str, &'static str)>;

/// Sends the request and prints `op<TAB>accepted<TAB>decoded<TAB>detail`.
///
/// Against `prism mock`: when Prism accepts the request but the response it built from the
/// document's examples violates the document's own schema (a 500 whose `sl-violations` are
/// all about the response), the same request is sent again asking for a response generated
/// from the schema (`Prefer: dynamic=true`); that response must then pass Prism's validation
/// and decode. When Prism answers a success with an example the generated type cannot
/// decode (Prism does not validate every example it serves: Xero's give `"50.00"` for a
/// number), the call is marked `[needs proxy]` at once: a type that is wrong for the
/// schema fails on the schema-built response too. The detail says `[schema-generated response]` for such calls. When that one
/// breaks the schema too (or Prism fails building it), and the harness has a response built
/// from the schema, the detail starts with `[needs proxy]`: the test runs the call again
/// through `prism proxy` (see [`check_proxied`]).
pub async fn check(op: &str, canned: Canned, build: impl Fn() -> Result<keel::RequestBuilder, String>, parse: impl Fn(&keel::Response) -> keel::Result<()>) {
    if let Some(Mode::Proxy { upstream, only }) = MODE.get() {
        if only.contains(op) {
            check_proxied(op, upstream, canned, build, parse).await;
        }
        return;
    }
    let line = match send(build(), &parse).await {
        Err(e) => e,
        // Prism does not check every example it serves: a success the generated type cannot
        // decode goes through the proxy, where Prism validates a response built from the
        // schema (asking Prism for a schema-generated one instead made it hang on Xero's
        // recursive schemas)
        Ok(first) if first.accepted == "yes" && first.decoded == "no" && first.success && canned.is_some() => {
            format!("no\tno\t[needs proxy] {}", first.detail)
        }
        // Prism's own example breaks the document's schema: it says so (a 500 with response
        // violations) or fails building it
        Ok(first) if first.response_only_violations || first.prism_failed => match build() {
            Err(e) => format!("no\tno\t{e}"),
            Ok(rb) => match send(Ok(rb.header("Prefer", "dynamic=true")), &parse).await {
                Err(e) => e,
                Ok(again) if (again.response_only_violations || again.prism_failed) && canned.is_some() => {
                    format!("no\tno\t[needs proxy] {} (examples: {})", again.detail, first.detail)
                }
                Ok(again) => format!("{}\t{}\t[schema-generated response] {} (examples: {})", again.accepted, again.decoded, again.detail, first.detail),
            },
        },
        Ok(first) => format!("{}\t{}\t{}", first.accepted, first.decoded, first.detail),
    };
    println!("{op}\t{}", line.replace('\n', " "));
}

/// One call through `prism proxy --errors`, whose upstream (this harness) answers with a
/// response built from the document's schema: Prism validates the request (a 422 when it is
/// invalid, and then it is not forwarded) and the upstream's response (a 500 with
/// `sl-violations` when that breaks the schema); the generated types must decode it.
pub async fn check_proxied(op: &str, upstream: &Upstream, canned: Canned, build: impl Fn() -> Result<keel::RequestBuilder, String>, parse: impl Fn(&keel::Response) -> keel::Result<()>) {
    let Some(canned) = canned else {
        println!("{op}\tno\tno\t[proxied] no response to build");
        return;
    };
    let before = upstream.set(canned);
    let line = match build() {
        Err(e) => format!("no\tno\t{e}"),
        Ok(rb) => match rb.send().await {
            Err(e) => format!("no\tno\tnot sent: {e}"),
            Ok(resp) => {
                let forwarded = upstream.served() > before;
                let body = String::from_utf8_lossy(&resp.content).into_owned();
                let prism_error = body.contains("stoplight.io/prism/errors#");
                let violations = resp.header("sl-violations").map(str::to_owned);
                let request_ok = forwarded
                    && !body.contains("prism/errors#UNPROCESSABLE_ENTITY")
                    && !violations.as_deref().is_some_and(|v| v.replace(' ', "").contains("\"location\":[\"request\""));
                let decoded = parse(&resp);
                let decoded_ok = request_ok && !prism_error && violations.is_none() && decoded.is_ok();
                let mut detail = format!("[proxied: a response built from the schema, validated by Prism] {}", resp.status);
                if !forwarded { detail.push_str(" (not forwarded)"); }
                if let Some(v) = &violations { detail.push_str(&format!(" violations: {v}")); }
                if prism_error && violations.is_none() { detail.push_str(&format!(" prism: {}", body.chars().take(300).collect::<String>())); }
                if let Err(e) = &decoded { detail.push_str(&format!(" decode: {e}")); }
                format!("{}\t{}\t{}", if request_ok { "yes" } else { "no" }, if decoded_ok { "yes" } else { "no" }, detail.replace(['\t', '\n'], " "))
            }
        },
    };
    println!("{op}\t{}", line.replace('\n', " "));
}

/// The upstream behind `prism proxy`: a minimal HTTP/1.1 server on a loopback port that
/// reads each request (headers, then a `Content-Length` or chunked body) and answers with the
/// response set for the current call, closing the connection.
pub struct Upstream {
    canned: std::sync::Mutex<(u16, &'static str, &'static str)>,
    served: std::sync::atomic::AtomicUsize,
}

impl Upstream {
    pub fn start(addr: &str) -> Result<std::sync::Arc<Upstream>, String> {
        let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("upstream on {addr}: {e}"))?;
        let up = std::sync::Arc::new(Upstream { canned: std::sync::Mutex::new((500, "text/plain", "no response set")), served: Default::default() });
        let shared = up.clone();
        std::thread::spawn(move || {
            // ends with the process (the harness exits when its calls are done)
            for stream in listener.incoming().flatten() {
                let _ = shared.serve(stream);
            }
        });
        Ok(up)
    }

    fn set(&self, canned: (u16, &'static str, &'static str)) -> usize {
        *self.canned.lock().unwrap_or_else(|p| p.into_inner()) = canned;
        self.served()
    }

    fn served(&self) -> usize {
        self.served.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn serve(&self, mut stream: std::net::TcpStream) -> std::io::Result<()> {
        use std::io::{BufRead, Read, Write};
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        let mut reader = std::io::BufReader::new(stream.try_clone()?);
        let (mut length, mut chunked) = (0usize, false);
        for _ in 0..500 {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            for _ in 0..100_000 {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
            }
        } else {
            let mut body = vec![0; length.min(64 << 20)];
            reader.read_exact(&mut body)?;
        }
        let (status, ct, body) = *self.canned.lock().unwrap_or_else(|p| p.into_inner());
        write!(stream, "HTTP/1.1 {status} X\r\ncontent-type: {ct}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())?;
        stream.flush()?;
        self.served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// What one exchange showed.
pub struct Outcome {
    accepted: &'static str,
    decoded: &'static str,
    detail: String,
    /// Prism reported violations, all of them in its own response.
    response_only_violations: bool,
    /// Prism failed building a response (a 500 of its own with no violations listed).
    prism_failed: bool,
    /// A 2xx status.
    success: bool,
}

async fn send(built: Result<keel::RequestBuilder, String>, parse: &impl Fn(&keel::Response) -> keel::Result<()>) -> Result<Outcome, String> {
    let rb = built.map_err(|e| format!("no\tno\t{e}"))?;
    let resp = rb.send().await.map_err(|e| format!("no\tno\tnot sent: {e}"))?;
    let violations = resp.header("sl-violations").map(str::to_owned);
    // read as text: a long list is cut short ("Too many violations! [{…}, …")
    let response_only_violations = violations.as_deref().is_some_and(|v| {
        let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        v.contains("\"location\":[\"response\"") && !v.contains("\"location\":[\"request\"")
    });
    let prism_failed = violations.is_none()
        && resp.status.as_u16() == 500
        && String::from_utf8_lossy(&resp.content).contains("stoplight.io/prism/errors#UNKNOWN");
    let decoded = parse(&resp);
    let mut detail = format!("{}", resp.status);
    if let Some(v) = &violations { detail.push_str(&format!(" violations: {v}")); }
    if let Err(e) = &decoded { detail.push_str(&format!(" decode: {e}")); }
    Ok(Outcome {
        accepted: if violations.is_none() { "yes" } else { "no" },
        decoded: if decoded.is_ok() { "yes" } else { "no" },
        detail: detail.replace(['\t', '\n'], " "),
        response_only_violations,
        prism_failed,
        success: resp.status.is_success(),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(doc), Some(base)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: harness DOC BASE_URL [--proxy UPSTREAM_ADDR OP...]");
        std::process::exit(2);
    };
    let mode = match args.get(3).map(String::as_str) {
        Some("--proxy") => {
            let Some(addr) = args.get(4) else {
                eprintln!("--proxy needs the upstream's address");
                std::process::exit(2);
            };
            match Upstream::start(addr) {
                Ok(upstream) => Mode::Proxy { upstream, only: args[5..].iter().cloned().collect() },
                Err(e) => {
                    eprintln!("harness: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => Mode::Mock,
    };
    let _ = MODE.set(mode);
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
