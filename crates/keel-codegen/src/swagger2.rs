//! Swagger 2.0 → OpenAPI 3.0 conversion, on the document tree.
//!
//! Only what the generator reads is converted: definitions, parameters (body/formData become a
//! request body), responses, security definitions, host/basePath. `$ref`s are rewritten.

use crate::node::Node;
use crate::Warning;
use indexmap::IndexMap;

type Map = IndexMap<String, Node>;

fn obj(pairs: Vec<(&str, Node)>) -> Node {
    Node::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn s(v: &str) -> Node {
    Node::Str(v.to_string())
}

/// Convert a Swagger 2.0 document into the OpenAPI 3.0 shape.
pub(crate) fn convert(doc: &Node, warnings: &mut Vec<Warning>) -> Node {
    let mut doc = doc.clone();
    rewrite_refs(&mut doc);
    let mut out = Map::new();
    out.insert("openapi".into(), s("3.0.3"));
    if let Some(info) = doc.get("info") {
        out.insert("info".into(), info.clone());
    }
    // servers
    let host = doc.str_of("host").unwrap_or("");
    let base_path = doc.str_of("basePath").unwrap_or("");
    let scheme = doc
        .get("schemes")
        .and_then(Node::as_array)
        .and_then(|a| {
            a.iter()
                .filter_map(Node::as_str)
                .find(|s| *s == "https")
                .or_else(|| a.first().and_then(Node::as_str))
        })
        .unwrap_or("https");
    if !host.is_empty() {
        out.insert(
            "servers".into(),
            Node::Array(vec![obj(vec![(
                "url",
                s(&format!("{scheme}://{host}{base_path}")),
            )])]),
        );
    } else if !base_path.is_empty() {
        out.insert(
            "servers".into(),
            Node::Array(vec![obj(vec![("url", s(base_path))])]),
        );
    }
    if let Some(t) = doc.get("tags") {
        out.insert("tags".into(), t.clone());
    }
    if let Some(sec) = doc.get("security") {
        out.insert("security".into(), sec.clone());
    }
    let global_consumes = str_list(doc.get("consumes"));
    let global_produces = str_list(doc.get("produces"));

    let mut components = Map::new();
    if let Some(defs) = doc.get("definitions") {
        components.insert("schemas".into(), convert_schema_tree(defs));
    }
    let mut comp_params = Map::new();
    let mut comp_bodies = Map::new();
    if let Some(Node::Object(ps)) = doc.get("parameters") {
        for (name, p) in ps {
            match p.str_of("in") {
                Some("body") => {
                    comp_bodies.insert(name.clone(), body_param(p, &global_consumes));
                }
                Some("formData") => {
                    warnings.push(Warning::new(
                        format!("/parameters/{name}"),
                        "shared formData parameter: inlined where used",
                    ));
                    comp_params.insert(name.clone(), p.clone());
                }
                _ => {
                    comp_params.insert(name.clone(), convert_param(p));
                }
            }
        }
    }
    if !comp_params.is_empty() {
        components.insert("parameters".into(), Node::Object(comp_params));
    }
    if !comp_bodies.is_empty() {
        components.insert("requestBodies".into(), Node::Object(comp_bodies));
    }
    if let Some(Node::Object(rs)) = doc.get("responses") {
        let mut out_r = Map::new();
        for (name, r) in rs {
            out_r.insert(name.clone(), convert_response(r, &global_produces));
        }
        components.insert("responses".into(), Node::Object(out_r));
    }
    if let Some(Node::Object(defs)) = doc.get("securityDefinitions") {
        let mut schemes = Map::new();
        for (name, d) in defs {
            let converted = match d.str_of("type") {
                Some("basic") => obj(vec![("type", s("http")), ("scheme", s("basic"))]),
                Some("apiKey") => obj(vec![
                    ("type", s("apiKey")),
                    ("name", s(d.str_of("name").unwrap_or("api_key"))),
                    ("in", s(d.str_of("in").unwrap_or("header"))),
                ]),
                Some("oauth2") => obj(vec![("type", s("oauth2")), ("flows", obj(vec![]))]),
                _ => d.clone(),
            };
            schemes.insert(name.clone(), converted);
        }
        components.insert("securitySchemes".into(), Node::Object(schemes));
    }
    out.insert("components".into(), Node::Object(components));

    let mut paths = Map::new();
    if let Some(Node::Object(ps)) = doc.get("paths") {
        for (path, item) in ps {
            let Node::Object(item) = item else {
                paths.insert(path.clone(), item.clone());
                continue;
            };
            let mut new_item = Map::new();
            for (k, v) in item {
                match k.as_str() {
                    "parameters" => {
                        // path-level body/form params are pushed down into operations below
                        let (plain, _) = split_params(v, &doc);
                        new_item.insert(k.clone(), Node::Array(plain));
                    }
                    "get" | "put" | "post" | "delete" | "options" | "head" | "patch" => {
                        let path_level = item.get("parameters");
                        new_item.insert(
                            k.clone(),
                            convert_operation(
                                v,
                                path_level,
                                &doc,
                                &global_consumes,
                                &global_produces,
                            ),
                        );
                    }
                    _ => {
                        new_item.insert(k.clone(), v.clone());
                    }
                }
            }
            paths.insert(path.clone(), Node::Object(new_item));
        }
    }
    out.insert("paths".into(), Node::Object(paths));
    Node::Object(out)
}

fn str_list(n: Option<&Node>) -> Vec<String> {
    n.and_then(Node::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Node::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn rewrite_refs(n: &mut Node) {
    match n {
        Node::Object(m) => {
            for (k, v) in m.iter_mut() {
                if k == "$ref" {
                    if let Node::Str(r) = v {
                        for (from, to) in [
                            ("#/definitions/", "#/components/schemas/"),
                            ("#/parameters/", "#/components/parameters/"),
                            ("#/responses/", "#/components/responses/"),
                        ] {
                            if let Some(rest) = r.strip_prefix(from) {
                                *r = format!("{to}{rest}");
                                break;
                            }
                        }
                    }
                } else {
                    rewrite_refs(v);
                }
            }
        }
        Node::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// Schemas: `x-nullable` → `nullable`, `type: file` → binary string.
fn convert_schema_tree(n: &Node) -> Node {
    match n {
        Node::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match k.as_str() {
                    "x-nullable" => {
                        out.insert("nullable".into(), v.clone());
                    }
                    "type" if v.as_str() == Some("file") => {
                        out.insert("type".into(), s("string"));
                        out.insert("format".into(), s("binary"));
                    }
                    _ => {
                        out.insert(k.clone(), convert_schema_tree(v));
                    }
                }
            }
            Node::Object(out)
        }
        Node::Array(a) => Node::Array(a.iter().map(convert_schema_tree).collect()),
        other => other.clone(),
    }
}

/// A non-body parameter: type/format/items/enum/default move into `schema`;
/// collectionFormat becomes style/explode.
fn convert_param(p: &Node) -> Node {
    let Node::Object(m) = p else { return p.clone() };
    if m.contains_key("$ref") {
        return p.clone();
    }
    let mut out = Map::new();
    let mut schema = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "name" | "in" | "description" | "required" | "deprecated" | "allowEmptyValue" => {
                out.insert(k.clone(), v.clone());
            }
            "collectionFormat" => {
                let (style, explode) = match v.as_str() {
                    Some("multi") => ("form", true),
                    Some("ssv") => ("spaceDelimited", false),
                    Some("pipes") => ("pipeDelimited", false),
                    _ => ("form", false),
                };
                if p.str_of("in") != Some("path") && p.str_of("in") != Some("header") {
                    out.insert("style".into(), s(style));
                }
                out.insert("explode".into(), Node::Bool(explode));
            }
            k2 if k2.starts_with("x-") => {
                out.insert(k.clone(), v.clone());
            }
            _ => {
                schema.insert(k.clone(), convert_schema_tree(v));
            }
        }
    }
    // swagger's default for arrays is csv (explode false)
    if schema.get("type").and_then(Node::as_str) == Some("array") && !out.contains_key("explode") {
        out.insert("explode".into(), Node::Bool(false));
    }
    out.insert("schema".into(), convert_schema_tree(&Node::Object(schema)));
    Node::Object(out)
}

fn body_param(p: &Node, consumes: &[String]) -> Node {
    let schema = p
        .get("schema")
        .map(convert_schema_tree)
        .unwrap_or(Node::Object(Map::new()));
    let types: Vec<String> = if consumes.is_empty() {
        vec!["application/json".into()]
    } else {
        consumes.to_vec()
    };
    let mut content = Map::new();
    for t in types {
        content.insert(t, obj(vec![("schema", schema.clone())]));
    }
    let mut out = Map::new();
    out.insert("content".into(), Node::Object(content));
    if let Some(d) = p.get("description") {
        out.insert("description".into(), d.clone());
    }
    out.insert("required".into(), Node::Bool(p.bool_of("required")));
    Node::Object(out)
}

/// Split a parameter list into plain parameters and body/formData ones (resolved).
fn split_params(list: &Node, doc: &Node) -> (Vec<Node>, Vec<Node>) {
    let mut plain = Vec::new();
    let mut body = Vec::new();
    for p in list.as_array().unwrap_or(&[]) {
        let resolved = match p.str_of("$ref") {
            Some(r) => r
                .strip_prefix("#/components/parameters/")
                .and_then(|name| {
                    doc.get("parameters")
                        .and_then(|ps| ps.get(&crate::node::unescape_token(name)))
                })
                .cloned(),
            None => Some(p.clone()),
        };
        match resolved {
            Some(rp) if matches!(rp.str_of("in"), Some("body") | Some("formData")) => body.push(rp),
            _ if p.get("$ref").is_some() => plain.push(p.clone()),
            _ => plain.push(convert_param(p)),
        }
    }
    (plain, body)
}

fn convert_operation(
    op: &Node,
    path_params: Option<&Node>,
    doc: &Node,
    global_consumes: &[String],
    global_produces: &[String],
) -> Node {
    let Node::Object(m) = op else {
        return op.clone();
    };
    let consumes = {
        let c = str_list(op.get("consumes"));
        if c.is_empty() {
            global_consumes.to_vec()
        } else {
            c
        }
    };
    let produces = {
        let p = str_list(op.get("produces"));
        if p.is_empty() {
            global_produces.to_vec()
        } else {
            p
        }
    };
    let mut out = Map::new();
    let mut bodyish = Vec::new();
    if let Some(pp) = path_params {
        bodyish.extend(split_params(pp, doc).1);
    }
    for (k, v) in m {
        match k.as_str() {
            "parameters" => {
                let (plain, b) = split_params(v, doc);
                bodyish.extend(b);
                out.insert(k.clone(), Node::Array(plain));
            }
            "responses" => {
                let mut rs = Map::new();
                if let Node::Object(r) = v {
                    for (code, resp) in r {
                        rs.insert(code.clone(), convert_response(resp, &produces));
                    }
                }
                out.insert(k.clone(), Node::Object(rs));
            }
            "consumes" | "produces" | "schemes" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(b) = bodyish.iter().find(|p| p.str_of("in") == Some("body")) {
        out.insert("requestBody".into(), body_param(b, &consumes));
    } else if !bodyish.is_empty() {
        let has_file = bodyish.iter().any(|p| p.str_of("type") == Some("file"));
        let ct = if has_file || consumes.iter().any(|c| c == "multipart/form-data") {
            "multipart/form-data"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut props = Map::new();
        let mut required = Vec::new();
        for p in &bodyish {
            let name = p.str_of("name").unwrap_or("field").to_string();
            let conv = convert_param(p);
            let mut schema = conv
                .get("schema")
                .cloned()
                .unwrap_or(Node::Object(Map::new()));
            if let (Node::Object(sm), Some(d)) = (&mut schema, p.get("description")) {
                sm.insert("description".into(), d.clone());
            }
            if p.bool_of("required") {
                required.push(s(&name));
            }
            props.insert(name, schema);
        }
        let mut schema = vec![("type", s("object")), ("properties", Node::Object(props))];
        if !required.is_empty() {
            schema.push(("required", Node::Array(required)));
        }
        out.insert(
            "requestBody".into(),
            obj(vec![
                ("required", Node::Bool(true)),
                (
                    "content",
                    obj(vec![(ct, obj(vec![("schema", obj(schema))]))]),
                ),
            ]),
        );
    }
    Node::Object(out)
}

fn convert_response(r: &Node, produces: &[String]) -> Node {
    let Node::Object(m) = r else { return r.clone() };
    if m.contains_key("$ref") {
        return r.clone();
    }
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "schema" => {
                let schema = convert_schema_tree(v);
                let types: Vec<String> = if produces.is_empty() {
                    vec!["application/json".into()]
                } else {
                    produces.to_vec()
                };
                let mut content = Map::new();
                for t in types {
                    content.insert(t, obj(vec![("schema", schema.clone())]));
                }
                out.insert("content".into(), Node::Object(content));
            }
            "headers" => {
                let mut hs = Map::new();
                if let Node::Object(h) = v {
                    for (name, hd) in h {
                        hs.insert(name.clone(), obj(vec![("schema", convert_schema_tree(hd))]));
                    }
                }
                out.insert(k.clone(), Node::Object(hs));
            }
            "examples" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Node::Object(out)
}
