//! `keel call --spec api.yaml OPERATION_ID [ITEM]...`: a request built from
//! an OpenAPI document (through the generator's IR, the same reading of the
//! document the generated clients get): parameters by name, required ones
//! and enums checked before sending, the document's security scheme with
//! credentials from the environment, and the response checked against the
//! documented schema. `--list [--tag T]` lists the operations.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use keel_codegen::ir::{self, Api, AuthKind, Location, ModelKind, Operation, Primitive, Type};

use crate::errors::Failure;
use crate::items::{self, Item};
use crate::request::{self, RequestArgs, Validator};

/// Arguments of `keel call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The OpenAPI document (3.0, 3.1 or Swagger 2.0; JSON or YAML).
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// List the operations and their parameters instead of calling one.
    #[arg(long)]
    pub list: bool,
    /// With --list: only the operations with this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The server to call (default: the document's first server).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Do not check the response against the document.
    #[arg(long)]
    pub no_check: bool,
    #[command(flatten)]
    pub request: RequestArgs,
}

fn load(path: &std::path::Path) -> Result<Api, Failure> {
    // The generator's warnings (lenient readings of a document) matter for
    // generated code, not for one call: they are not printed here.
    let (api, _warnings) = keel_codegen::lower(path)
        .map_err(|e| Failure::usage(format!("cannot read the OpenAPI document: {e}")))?;
    Ok(api)
}

fn type_name(api: &Api, t: &Type) -> String {
    match t {
        Type::Model(id) => match api.models.get(*id).map(|m| &m.kind) {
            Some(ModelKind::StringEnum { variants }) => variants
                .iter()
                .map(|(_, w)| w.as_str())
                .collect::<Vec<_>>()
                .join("|"),
            Some(ModelKind::Alias(t)) | Some(ModelKind::Newtype(t)) => type_name(api, t),
            Some(_) => api
                .models
                .get(*id)
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            None => "?".into(),
        },
        Type::Primitive(Primitive::String) => "string".into(),
        Type::Primitive(Primitive::Bool) => "boolean".into(),
        Type::Primitive(Primitive::F32 | Primitive::F64) => "number".into(),
        Type::Primitive(_) => "integer".into(),
        Type::Any => "any".into(),
        Type::Bytes => "bytes".into(),
        Type::Vec(t) => format!("[{}]", type_name(api, t)),
        Type::Map(t) => format!("{{string: {}}}", type_name(api, t)),
        Type::Option(t) | Type::Boxed(t) => type_name(api, t),
    }
}

fn location_name(l: Location) -> &'static str {
    match l {
        Location::Path => "path",
        Location::Query => "query",
        Location::Header => "header",
        Location::Cookie | Location::CookieHeader => "cookie",
    }
}

fn list(api: &Api, tag: Option<&str>) -> Result<(), Failure> {
    let mut out = String::new();
    let mut shown = 0;
    for group in &api.groups {
        if tag.is_some_and(|t| !t.eq_ignore_ascii_case(&group.tag)) {
            continue;
        }
        let _ = writeln!(out, "{}:", group.tag);
        for op in &group.operations {
            shown += 1;
            let id = op.operation_id.as_deref().unwrap_or(&op.name);
            let _ = write!(out, "  {id}  {} {}", op.method, op.path);
            if !op.security.is_empty() {
                let _ = write!(out, "  [auth: {}]", op.security.join(" | "));
            }
            let _ = writeln!(out);
            if let Some(doc) = op.doc.as_deref().and_then(|d| d.lines().next()) {
                let _ = writeln!(out, "      {doc}");
            }
            for p in &op.params {
                let _ = writeln!(
                    out,
                    "      {}{}  {} ({}){}",
                    p.wire,
                    if p.required { "*" } else { "" },
                    type_name(api, &p.ty),
                    location_name(p.location),
                    if p.deprecated { ", deprecated" } else { "" }
                );
            }
            if let Some(b) = &op.body {
                let _ = writeln!(
                    out,
                    "      body{}  {}",
                    if b.required { "*" } else { "" },
                    b.media_type
                );
            }
        }
    }
    if shown == 0 {
        return Err(Failure::usage(match tag {
            Some(t) => format!(
                "no operation has the tag {t:?}; tags: {}",
                api.groups
                    .iter()
                    .map(|g| g.tag.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "the document has no operations".into(),
        }));
    }
    print!("{out}");
    Ok(())
}

/// The string enum a type is, if any.
fn enum_values<'a>(api: &'a Api, t: &Type) -> Option<Vec<&'a str>> {
    match t.required() {
        Type::Model(id) => match &api.models.get(*id)?.kind {
            ModelKind::StringEnum { variants } => {
                Some(variants.iter().map(|(_, w)| w.as_str()).collect())
            }
            ModelKind::Alias(inner) | ModelKind::Newtype(inner) => enum_values(api, inner),
            _ => None,
        },
        Type::Boxed(inner) => enum_values(api, inner),
        _ => None,
    }
}

/// Checks a parameter's text against its type.
fn check_param(api: &Api, op_id: &str, p: &ir::Param, value: &str) -> Result<(), Failure> {
    if let Some(values) = enum_values(api, &p.ty) {
        if !values.contains(&value) {
            return Err(Failure::usage(format!(
                "{op_id}: {}={value:?} is not allowed; use one of {}",
                p.wire,
                values.join(", ")
            )));
        }
    }
    let ok = match p.ty.required() {
        Type::Primitive(Primitive::Bool) => matches!(value, "true" | "false"),
        Type::Primitive(Primitive::F32 | Primitive::F64) => value.parse::<f64>().is_ok(),
        Type::Primitive(Primitive::String) => true,
        Type::Primitive(_) => value.parse::<i128>().is_ok(),
        _ => true,
    };
    if !ok {
        return Err(Failure::usage(format!(
            "{op_id}: {}={value:?} is not a valid {}",
            p.wire,
            type_name(api, &p.ty)
        )));
    }
    Ok(())
}

/// The JSON text of a `:=` value as a parameter's text (strings unquoted).
fn param_text(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::String(s)) => s,
        _ => raw.to_owned(),
    }
}

/// Whether `--scheme` was given (then it wins over the document's scheme).
fn scheme_given() -> bool {
    std::env::args().any(|a| a == "--scheme" || a.starts_with("--scheme="))
}

/// Sets the request's credentials from the operation's security scheme.
fn apply_security(
    api: &Api,
    op: &Operation,
    op_id: &str,
    args: &mut RequestArgs,
    extra: &mut Vec<String>,
) -> Result<(), Failure> {
    if op.security.is_empty() || scheme_given() {
        return Ok(());
    }
    let Some(scheme) = op
        .security
        .iter()
        .find_map(|w| api.security_schemes.iter().find(|s| &s.wire == w))
    else {
        return Ok(());
    };
    let Some(key) = args.scheme.api_key.clone() else {
        if args.offline {
            return Ok(());
        }
        return Err(Failure::usage(format!(
            "{op_id} needs credentials (security scheme {:?}); set KEEL_API_KEY (and KEEL_API_SECRET for basic), or --api-key, or use --profile",
            scheme.wire
        )));
    };
    let s = &mut args.scheme;
    match &scheme.kind {
        AuthKind::ApiKeyHeader(h) => {
            s.scheme = "api-key".into();
            s.auth_header_name = h.clone();
        }
        AuthKind::Bearer | AuthKind::OAuth2 => s.scheme = "bearer".into(),
        AuthKind::Basic => s.scheme = "basic".into(),
        AuthKind::ApiKeyQuery(q) => {
            s.api_key = None;
            extra.push(format!("{q}=={key}"));
            s.redact.push(key);
        }
        AuthKind::ApiKeyCookie(c) => {
            s.api_key = None;
            extra.push(format!("Cookie:{c}={key}"));
            s.redact.push(key);
        }
        AuthKind::Unsupported(why) => {
            return Err(Failure::usage(format!(
                "{op_id}: the document's security scheme {:?} is not supported ({why}); give --scheme and the credentials it needs",
                scheme.wire
            )))
        }
        _ => {}
    }
    Ok(())
}

/// Builds the `keel request` the operation and items describe.
fn build(api: &Api, mut args: CallArgs) -> Result<(RequestArgs, Validator), Failure> {
    let mut pos = args.request.args.clone().into_iter();
    let op_id = pos.next().ok_or_else(|| {
        Failure::usage("name an operation (keel call --spec FILE --list shows them)")
    })?;
    let Some((_, op)) = api.operation(&op_id) else {
        let mut known: Vec<&str> = api
            .operations()
            .map(|(_, o)| o.operation_id.as_deref().unwrap_or(&o.name))
            .collect();
        known.sort_unstable();
        let near: Vec<&str> = known
            .iter()
            .copied()
            .filter(|k| k.to_ascii_lowercase().contains(&op_id.to_ascii_lowercase()))
            .take(5)
            .collect();
        return Err(Failure::usage(format!(
            "the document has no operation {op_id:?}{}; keel call --spec {} --list shows them all",
            if near.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", near.join(", "))
            },
            args.spec.display()
        )));
    };
    let mut path = op.path.clone();
    let mut pass: Vec<String> = Vec::new();
    let mut body_fields: Vec<String> = Vec::new();
    let mut given: Vec<&str> = Vec::new();
    let raw_items: Vec<String> = pos.collect();
    for raw in &raw_items {
        let item = items::parse_item(raw).map_err(Failure::usage)?;
        let (name, value) = match &item {
            Item::Data(n, v) => (n.as_str(), v.clone()),
            Item::RawJson(n, v) => (n.as_str(), param_text(v)),
            _ => {
                pass.push(raw.clone());
                continue;
            }
        };
        let Some(p) = op.params.iter().find(|p| p.wire == name || p.name == name) else {
            body_fields.push(raw.clone());
            continue;
        };
        check_param(api, &op_id, p, &value)?;
        given.push(p.wire.as_str());
        match p.location {
            Location::Path => {
                path = path.replace(
                    &format!("{{{}}}", p.wire),
                    &keel::encode_path_segment(&value),
                );
            }
            Location::Query => pass.push(format!("{}=={value}", p.wire)),
            Location::Header => pass.push(format!("{}:{value}", p.wire)),
            Location::Cookie | Location::CookieHeader => {
                pass.push(format!("Cookie:{}={value}", p.wire))
            }
        }
    }
    let missing: Vec<String> = op
        .params
        .iter()
        .filter(|p| p.required && !given.contains(&p.wire.as_str()))
        .map(|p| {
            format!(
                "{} ({}, {})",
                p.wire,
                location_name(p.location),
                type_name(api, &p.ty)
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(Failure::usage(format!(
            "{op_id} needs {}: give them as name=value",
            missing.join(", ")
        )));
    }
    if let Some(b) = &op.body {
        let has_body = !body_fields.is_empty()
            || args.request.json.is_some()
            || args.request.raw.is_some()
            || pass.iter().any(|p| p.starts_with('@'));
        if b.required && !has_body && !args.request.offline {
            return Err(Failure::usage(format!(
                "{op_id} needs a body ({}): give fields as name=value / name:=json, or --json TEXT, or @FILE",
                b.media_type
            )));
        }
        if let ir::BodyKind::Json(t) = &b.kind {
            if let Some(fields) = struct_fields(api, t) {
                for f in fields.iter().filter(|f| !f.optional) {
                    let named = body_fields.iter().any(|raw| {
                        matches!(items::parse_item(raw), Ok(Item::Data(n, _) | Item::RawJson(n, _) | Item::DataFile(n, _) | Item::RawJsonFile(n, _)) if n == f.wire)
                    });
                    if !body_fields.is_empty() && !named {
                        return Err(Failure::usage(format!(
                            "{op_id}: the body needs the field {} ({})",
                            f.wire,
                            type_name(api, &f.ty)
                        )));
                    }
                }
            }
        }
        if matches!(b.kind, ir::BodyKind::Form { .. }) {
            args.request.form = true;
        }
    } else if !body_fields.is_empty() {
        let names: Vec<String> = op.params.iter().map(|p| p.wire.clone()).collect();
        return Err(Failure::usage(format!(
            "{op_id} takes no body and has no parameter {:?}; its parameters: {}",
            body_fields
                .first()
                .map(|s| s.split(['=', ':']).next().unwrap_or(""))
                .unwrap_or(""),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        )));
    }
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(|| api.base_url.clone());
    if !base.contains("://") {
        return Err(Failure::usage(format!(
            "the document's server {base:?} is not an absolute URL; give --base-url http://host"
        )));
    }
    let url = format!("{}{}", base.trim_end_matches('/'), path);
    let mut extra = Vec::new();
    apply_security(api, op, &op_id, &mut args.request, &mut extra)?;
    let mut req = args.request;
    req.args = vec![op.method.clone(), url];
    req.args.extend(pass);
    req.args.extend(body_fields);
    req.args.extend(extra);
    let validator = Validator {
        check: if args.no_check {
            None
        } else {
            Some(checker(api.clone(), op.clone(), op_id))
        },
    };
    Ok((req, validator))
}

fn struct_fields<'a>(api: &'a Api, t: &Type) -> Option<&'a Vec<ir::Field>> {
    match t.required() {
        Type::Model(id) => match &api.models.get(*id)?.kind {
            ModelKind::Struct { fields, .. } => Some(fields),
            ModelKind::Alias(inner) | ModelKind::Newtype(inner) => struct_fields(api, inner),
            _ => None,
        },
        Type::Boxed(inner) => struct_fields(api, inner),
        _ => None,
    }
}

type Check = Box<dyn FnOnce(u16, &[u8]) -> Vec<String>>;

fn checker(api: Api, op: Operation, op_id: String) -> Check {
    Box::new(move |status, body| {
        let documented = op
            .responses
            .iter()
            .find(|r| r.status == ir::StatusKey::Code(status))
            .or_else(|| {
                op.responses
                    .iter()
                    .find(|r| r.status == ir::StatusKey::Class(status / 100))
            })
            .or_else(|| {
                op.responses
                    .iter()
                    .find(|r| r.status == ir::StatusKey::Default)
            });
        let Some(r) = documented else {
            let list: Vec<String> = op
                .responses
                .iter()
                .map(|r| match r.status {
                    ir::StatusKey::Code(c) => c.to_string(),
                    ir::StatusKey::Class(c) => format!("{c}XX"),
                    ir::StatusKey::Default => "default".into(),
                })
                .collect();
            return vec![format!(
                "{op_id}: status {status} is not documented (documented: {})",
                list.join(", ")
            )];
        };
        match &r.body {
            ir::ResponseBody::Json(t) => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(v) => {
                    let mut errs = Vec::new();
                    check_value(&api, t, &v, "$", &mut errs, 0);
                    errs.truncate(20);
                    errs.into_iter()
                        .map(|e| format!("{op_id} {status}: {e}"))
                        .collect()
                }
                Err(e) => vec![format!("{op_id} {status}: the body is not JSON ({e})")],
            },
            ir::ResponseBody::AnyJson if !body.is_empty() => {
                match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                    Ok(_) => Vec::new(),
                    Err(e) => vec![format!("{op_id} {status}: the body is not JSON ({e})")],
                }
            }
            _ => Vec::new(),
        }
    })
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Checks `v` against `t`, collecting "where: what" mismatches.
fn check_value(
    api: &Api,
    t: &Type,
    v: &serde_json::Value,
    at: &str,
    errs: &mut Vec<String>,
    depth: usize,
) {
    use serde_json::Value as V;
    if depth > 64 || errs.len() > 50 {
        return;
    }
    let mismatch = |errs: &mut Vec<String>, want: String| {
        errs.push(format!("{at}: expected {want}, got {}", kind_of(v)));
    };
    match t {
        Type::Option(inner) => {
            if !v.is_null() {
                check_value(api, inner, v, at, errs, depth + 1);
            }
        }
        Type::Boxed(inner) => check_value(api, inner, v, at, errs, depth + 1),
        Type::Any | Type::Bytes => {}
        Type::Primitive(p) => {
            let ok = match p {
                Primitive::String => v.is_string(),
                Primitive::Bool => v.is_boolean(),
                Primitive::F32 | Primitive::F64 => v.is_number(),
                Primitive::U8 | Primitive::U16 | Primitive::U32 | Primitive::U64 => v.is_u64(),
                _ => v.is_i64() || v.is_u64(),
            };
            if !ok {
                mismatch(errs, type_name(api, t));
            }
        }
        Type::Vec(inner) => match v {
            V::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    check_value(api, inner, x, &format!("{at}[{i}]"), errs, depth + 1);
                }
            }
            _ => mismatch(errs, "array".into()),
        },
        Type::Map(inner) => match v {
            V::Object(o) => {
                for (k, x) in o {
                    check_value(api, inner, x, &format!("{at}.{k}"), errs, depth + 1);
                }
            }
            _ => mismatch(errs, "object".into()),
        },
        Type::Model(id) => {
            let Some(m) = api.models.get(*id) else { return };
            if v.is_null() && m.nullable {
                return;
            }
            match &m.kind {
                ModelKind::Alias(inner) | ModelKind::Newtype(inner) => {
                    check_value(api, inner, v, at, errs, depth + 1)
                }
                ModelKind::StringEnum { variants } => match v {
                    V::String(s) if variants.iter().any(|(_, w)| w == s) => {}
                    V::String(s) => errs.push(format!(
                        "{at}: {s:?} is not one of {}",
                        variants
                            .iter()
                            .map(|(_, w)| w.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    _ => mismatch(errs, format!("string ({})", m.name)),
                },
                ModelKind::Struct { fields, additional } => match v {
                    V::Object(o) => {
                        for f in fields {
                            match o.get(&f.wire) {
                                Some(x) if x.is_null() && (f.nullable || f.optional) => {}
                                Some(x) => check_value(
                                    api,
                                    &f.ty,
                                    x,
                                    &format!("{at}.{}", f.wire),
                                    errs,
                                    depth + 1,
                                ),
                                None if !f.optional => errs.push(format!(
                                    "{at}: the required field {:?} is missing",
                                    f.wire
                                )),
                                None => {}
                            }
                        }
                        if let Some((_, t)) = additional {
                            for (k, x) in o {
                                if !fields.iter().any(|f| &f.wire == k) {
                                    check_value(api, t, x, &format!("{at}.{k}"), errs, depth + 1);
                                }
                            }
                        }
                    }
                    _ => mismatch(errs, format!("object ({})", m.name)),
                },
                ModelKind::OneOf { variants, .. } => {
                    let fits = variants.iter().any(|var| {
                        let mut e = Vec::new();
                        check_value(api, &var.ty, v, at, &mut e, depth + 1);
                        e.is_empty()
                    });
                    if !fits {
                        errs.push(format!("{at}: matches none of the variants of {}", m.name));
                    }
                }
            }
        }
    }
}

/// Runs `keel call`.
pub fn run(args: CallArgs) -> ExitCode {
    let result = load(&args.spec).and_then(|api| {
        if args.list {
            list(&api, args.tag.as_deref()).map(|_| ExitCode::SUCCESS)
        } else {
            let (req, validator) = build(&api, args)?;
            request::send_checked(req, validator)
        }
    });
    match result {
        Ok(code) => code,
        Err(Failure { message, code }) => {
            eprintln!("keel call: {}", message.replace('\n', " "));
            ExitCode::from(code)
        }
    }
}
