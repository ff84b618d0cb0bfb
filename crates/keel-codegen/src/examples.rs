//! Example values for parameters and bodies: the document's own examples where it gives
//! them, otherwise a value built from the schema that satisfies it (types, formats, enums,
//! `const`, bounds, lengths, required properties; read-only properties are left out of
//! requests). Used by the end-to-end harness and by tools that show a request.

use serde_json::{json, Map, Value};

use crate::node::{lookup, Node};

const MAX_DEPTH: usize = 10;
/// Nodes one example may have: documents with wide or recursive schemas stay cheap.
const MAX_NODES: usize = 400;

/// Where a value is being built: the `$ref`s on the way (a reference already on the path is
/// a cycle, cut with `null`), and how many nodes are left to build.
struct Walk {
    refs: Vec<String>,
    budget: usize,
}

/// Resolve a local `$ref` chain.
fn resolve<'a>(doc: &'a Node, mut n: &'a Node) -> &'a Node {
    for _ in 0..16 {
        match n.str_of("$ref").and_then(|r| r.strip_prefix('#')) {
            Some(p) => match lookup(doc, p) {
                Some(t) => n = t,
                None => return n,
            },
            None => return n,
        }
    }
    n
}

/// The first example a node (parameter, media type or schema) carries: `example`, or the
/// first of `examples` (a map of example objects, or a 3.1 schema's array).
pub(crate) fn given(doc: &Node, n: &Node) -> Option<Value> {
    let n = resolve(doc, n);
    if let Some(e) = n.get("example") {
        return Some(e.to_value());
    }
    match n.get("examples") {
        Some(Node::Array(a)) => a.first().map(Node::to_value),
        Some(Node::Object(m)) => m.values().find_map(|ex| {
            let ex = resolve(doc, ex);
            ex.get("value").map(Node::to_value)
        }),
        _ => None,
    }
}

/// A value for `schema`: its own example when it has one, else one built from it.
pub(crate) fn for_schema(doc: &Node, schema: &Node, request: bool) -> Value {
    let mut walk = Walk {
        refs: Vec::new(),
        budget: MAX_NODES,
    };
    build(doc, schema, request, 0, &mut walk)
}

fn types(s: &Node) -> Vec<&str> {
    match s.get("type") {
        Some(Node::Str(t)) => vec![t.as_str()],
        Some(Node::Array(a)) => a
            .iter()
            .filter_map(Node::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => vec![],
    }
}

fn build(doc: &Node, schema: &Node, request: bool, depth: usize, walk: &mut Walk) -> Value {
    let r = schema.str_of("$ref").map(str::to_string);
    if let Some(r) = &r {
        if walk.refs.contains(r) {
            return Value::Null;
        }
        walk.refs.push(r.clone());
    }
    let v = build_inner(doc, schema, request, depth, walk);
    if r.is_some() {
        walk.refs.pop();
    }
    v
}

fn build_inner(doc: &Node, schema: &Node, request: bool, depth: usize, walk: &mut Walk) -> Value {
    let s = resolve(doc, schema);
    if depth > MAX_DEPTH || walk.budget == 0 {
        return Value::Null;
    }
    walk.budget -= 1;
    if let Some(c) = s.get("const") {
        return c.to_value();
    }
    if let Some(e) = given(doc, s) {
        return e;
    }
    if let Some(Node::Array(vals)) = s.get("enum") {
        if let Some(v) = vals.iter().find(|v| !matches!(v, Node::Null)) {
            return v.to_value();
        }
    }
    if let Some(d) = s.get("default") {
        if !matches!(d, Node::Null) {
            return d.to_value();
        }
    }
    if let Some(Node::Array(parts)) = s.get("allOf") {
        let mut merged = Map::new();
        let mut other = None;
        for p in parts {
            match build(doc, p, request, depth + 1, walk) {
                Value::Object(m) => merged.extend(m),
                Value::Null => {}
                v => other = Some(v),
            }
        }
        let own = object(doc, s, request, depth, walk);
        if let Value::Object(m) = own {
            merged.extend(m);
        }
        return match other {
            Some(v) if merged.is_empty() => v,
            _ => Value::Object(merged),
        };
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Node::Array(parts)) = s.get(key) {
            let pick = parts.iter().find(|p| {
                let p = resolve(doc, p);
                !(p.str_of("type") == Some("null")
                    || types(p).is_empty()
                        && p.bool_of("nullable")
                        && p.as_object().is_some_and(|m| m.len() <= 2))
            });
            if let Some(p) = pick {
                let v = build(doc, p, request, depth + 1, walk);
                if let (Value::Object(mut m), true) = (v.clone(), s.get("properties").is_some()) {
                    if let Value::Object(own) = object(doc, s, request, depth, walk) {
                        m.extend(own);
                    }
                    return Value::Object(m);
                }
                return v;
            }
        }
    }
    let ty = types(s);
    let ty = ty
        .first()
        .copied()
        .unwrap_or(if s.get("properties").is_some() {
            "object"
        } else if s.get("items").is_some() {
            "array"
        } else {
            ""
        });
    match ty {
        "string" => string(s),
        "integer" => {
            let min = s.get("minimum").and_then(num).map(f64::ceil);
            let max = s.get("maximum").and_then(num);
            let mut v = min
                .unwrap_or(1.0)
                .max(if min.is_some() { f64::MIN } else { 1.0 });
            if let Some(x) = s.get("exclusiveMinimum").and_then(num) {
                v = v.max(x.floor() + 1.0);
            }
            if let Some(m) = max {
                v = v.min(m.floor());
            }
            if let Some(m) = s.get("multipleOf").and_then(num) {
                if m > 0.0 {
                    v = (v / m).ceil() * m;
                }
            }
            json!(v as i64)
        }
        "number" => {
            let mut v = s.get("minimum").and_then(num).unwrap_or(1.0);
            if let Some(x) = s.get("exclusiveMinimum").and_then(num) {
                v = v.max(x + 1.0);
            }
            if let Some(m) = s.get("maximum").and_then(num) {
                v = v.min(m);
            }
            if v.fract() == 0.0 && v.abs() < 1e15 {
                json!(v as i64)
            } else {
                json!(v)
            }
        }
        "boolean" => json!(true),
        "array" => {
            let n = s
                .get("minItems")
                .and_then(|n| match n {
                    Node::Int(i) => Some(*i as usize),
                    _ => None,
                })
                .unwrap_or(1)
                .clamp(1, 4);
            let item = match s.get("items") {
                Some(i @ Node::Object(_)) => build(doc, i, request, depth + 1, walk),
                _ => json!("string"),
            };
            if s.bool_of("uniqueItems") && n > 1 {
                return json!([item]);
            }
            Value::Array(vec![item; n])
        }
        "object" => object(doc, s, request, depth, walk),
        _ => {
            if s.get("properties").is_some() {
                object(doc, s, request, depth, walk)
            } else {
                json!("string")
            }
        }
    }
}

fn num(n: &Node) -> Option<f64> {
    match n {
        Node::Int(i) => Some(*i as f64),
        Node::Float(f) => Some(*f),
        _ => None,
    }
}

fn object(doc: &Node, s: &Node, request: bool, depth: usize, walk: &mut Walk) -> Value {
    let mut out = Map::new();
    let required: Vec<&str> = s
        .get("required")
        .and_then(Node::as_array)
        .map(|a| a.iter().filter_map(Node::as_str).collect())
        .unwrap_or_default();
    if let Some(Node::Object(props)) = s.get("properties") {
        for (k, p) in props {
            if !required.contains(&k.as_str()) {
                continue;
            }
            let pr = resolve(doc, p);
            if request && pr.bool_of("readOnly") || !request && pr.bool_of("writeOnly") {
                continue;
            }
            out.insert(k.clone(), build(doc, p, request, depth + 1, walk));
        }
    }
    Value::Object(out)
}

fn string(s: &Node) -> Value {
    let v = match s.str_of("format") {
        Some("date-time") => "2024-01-02T03:04:05Z".to_string(),
        Some("date") => "2024-01-02".to_string(),
        Some("time") => "03:04:05Z".to_string(),
        Some("uuid") => "123e4567-e89b-12d3-a456-426614174000".to_string(),
        Some("email") => "user@example.com".to_string(),
        Some("uri") | Some("url") => "https://example.com/x".to_string(),
        Some("hostname") => "example.com".to_string(),
        Some("ipv4") => "192.0.2.1".to_string(),
        Some("ipv6") => "2001:db8::1".to_string(),
        Some("byte") => "ZXhhbXBsZQ==".to_string(),
        _ => "example".to_string(),
    };
    let min = s.get("minLength").and_then(num).unwrap_or(0.0) as usize;
    let max = s.get("maxLength").and_then(num).map(|m| m as usize);
    let mut v = v;
    while v.chars().count() < min {
        v.push('x');
    }
    if let Some(m) = max {
        if v.chars().count() > m {
            v = v.chars().take(m.max(min)).collect();
        }
    }
    json!(v)
}
