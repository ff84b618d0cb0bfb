//! The document model: an order-preserving JSON-like tree, loading from JSON or YAML,
//! JSON pointers, and resolution of `$ref`s into other local files.

use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

use crate::{CodegenError, Warning};

/// One node of an OpenAPI document. Objects keep the document's key order, so the
/// generated code follows the order a spec author chose (fields, operations).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Node>),
    Object(IndexMap<String, Node>),
}

impl Node {
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(m) => m.get(key),
            _ => None,
        }
    }
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            Node::Str(s) if s == "true" => Some(true),
            Node::Str(s) if s == "false" => Some(false),
            _ => None,
        }
    }
    pub(crate) fn as_object(&self) -> Option<&IndexMap<String, Node>> {
        match self {
            Node::Object(m) => Some(m),
            _ => None,
        }
    }
    pub(crate) fn as_array(&self) -> Option<&[Node]> {
        match self {
            Node::Array(a) => Some(a),
            _ => None,
        }
    }
    pub(crate) fn str_of(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_str)
    }
    pub(crate) fn bool_of(&self, key: &str) -> bool {
        self.get(key).and_then(Node::as_bool).unwrap_or(false)
    }
    /// A short rendering for doc comments (`default: ...`).
    pub(crate) fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
    fn write_json(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Int(i) => out.push_str(&i.to_string()),
            Node::Float(f) => out.push_str(&f.to_string()),
            Node::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            Node::Array(a) => {
                out.push('[');
                for (i, n) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    n.write_json(out);
                }
                out.push(']');
            }
            Node::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The node as a `serde_json::Value` (object key order is kept only as far as
    /// `serde_json::Map` keeps it).
    pub(crate) fn to_value(&self) -> serde_json::Value {
        use serde_json::Value as V;
        match self {
            Node::Null => V::Null,
            Node::Bool(b) => V::Bool(*b),
            Node::Int(i) => V::from(*i),
            Node::Float(f) => serde_json::Number::from_f64(*f).map_or(V::Null, V::Number),
            Node::Str(s) => V::String(s.clone()),
            Node::Array(a) => V::Array(a.iter().map(Node::to_value).collect()),
            Node::Object(m) => {
                V::Object(m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }

    fn from_yaml(v: Yaml) -> Node {
        match v {
            Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Node::Null,
            Yaml::Boolean(b) => Node::Bool(b),
            Yaml::Integer(i) => Node::Int(i),
            // A number the core schema reads as a float, or an integer outside i64
            // (OpenAI's `minimum: -9223372036854776000`): read as f64, never an error.
            Yaml::Real(text) => match parse_yaml_float(&text) {
                Some(f) => Node::Float(f),
                None => Node::Str(text),
            },
            Yaml::String(s) => Node::Str(s),
            Yaml::Array(items) => Node::Array(items.into_iter().map(Node::from_yaml).collect()),
            Yaml::Hash(map) => {
                let mut out = IndexMap::with_capacity(map.len());
                let mut merges = Vec::new();
                for (k, v) in map {
                    if matches!(&k, Yaml::String(s) if s == "<<") {
                        merges.push(v);
                        continue;
                    }
                    out.insert(yaml_key(&k), Node::from_yaml(v));
                }
                // YAML merge keys (`<<: *base` or `<<: [*a, *b]`): keys written in the mapping
                // win over merged ones, earlier merged mappings over later ones.
                for m in merges {
                    let sources = match m {
                        Yaml::Array(items) => items,
                        other => vec![other],
                    };
                    for src in sources {
                        if let Node::Object(entries) = Node::from_yaml(src) {
                            for (k, v) in entries {
                                out.entry(k).or_insert(v);
                            }
                        }
                    }
                }
                Node::Object(out)
            }
        }
    }
}

/// A YAML 1.2 core-schema float (`1.5`, `1e3`, `.inf`, `-.nan`, or an integer too large for i64).
fn parse_yaml_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ => text.parse::<f64>().ok(),
    }
}

/// Keys that are not strings (deepl writes `200:` unquoted) become their text.
fn yaml_key(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => "null".to_string(),
        // a sequence or mapping used as a key: its JSON text
        other => Node::from_yaml(other.clone()).to_json(),
    }
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Builds a [`Node`] straight from a JSON parser, keeping the key order of objects.
struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        serde::Deserialize::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Node::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = IndexMap::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((k, v)) = map.next_entry::<String, Node>()? {
            out.insert(k, v);
        }
        Ok(Node::Object(out))
    }
}

/// Parse a document from text. JSON is tried when the text starts with `{` or `[`; YAML 1.2
/// otherwise (yaml-rust2, core schema: unquoted dates stay strings, integers outside i64 are
/// read as f64). Merge keys (`<<`) are applied.
pub(crate) fn parse_text(text: &str, origin: &str) -> Result<Node, CodegenError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return serde_json::from_str(trimmed).map_err(|e| CodegenError::Parse {
            file: origin.to_string(),
            message: format!("invalid JSON: {e}"),
        });
    }
    let mut docs = YamlLoader::load_from_str(trimmed).map_err(|e| CodegenError::Parse {
        file: origin.to_string(),
        message: format!("invalid YAML: {e}"),
    })?;
    if docs.len() > 1 {
        return Err(CodegenError::Parse {
            file: origin.to_string(),
            message: format!(
                "the file holds {} YAML documents; an OpenAPI document is one",
                docs.len()
            ),
        });
    }
    Ok(docs.pop().map(Node::from_yaml).unwrap_or(Node::Null))
}

/// Decode one JSON pointer token (`~1` → `/`, `~0` → `~`, percent-escapes).
pub(crate) fn unescape_token(tok: &str) -> String {
    let decoded = percent_decode(tok);
    decoded.replace("~1", "/").replace("~0", "~")
}

/// Encode a key as a JSON pointer token.
pub(crate) fn escape_token(tok: &str) -> String {
    tok.replace('~', "~0").replace('/', "~1")
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Look a pointer (`/a/b`, without `#`) up in a node.
pub(crate) fn lookup<'a>(root: &'a Node, pointer: &str) -> Option<&'a Node> {
    let mut cur = root;
    if pointer.is_empty() || pointer == "/" && root.get("").is_none() {
        return Some(root);
    }
    for raw in pointer.trim_start_matches('/').split('/') {
        let tok = unescape_token(raw);
        cur = match cur {
            Node::Object(m) => m.get(&tok)?,
            Node::Array(a) => a.get(tok.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Load `path` and every local file it references, inlining external `$ref`s so that the
/// rest of the generator sees one self-contained document whose `$ref`s all start with `#`.
///
/// A reference to `other.yaml#/components/schemas/X` (or `#/definitions/X`) is hoisted into
/// this document's `components/schemas` (so recursion and names survive); anything else is
/// inlined in place.
pub(crate) fn load_document(
    path: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<Node, CodegenError> {
    let text = std::fs::read_to_string(path).map_err(|e| CodegenError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let root = parse_text(&text, &path.display().to_string())?;
    let mut resolver = ExternalResolver {
        files: HashMap::new(),
        hoisted: IndexMap::new(),
        warnings,
    };
    let base = path.to_path_buf();
    let mut root = root;
    if has_external_refs(&root) {
        let mut r = root.clone();
        resolver.rewrite(&mut r, &base, "", 0);
        root = r;
        let hoisted = std::mem::take(&mut resolver.hoisted);
        if !hoisted.is_empty() {
            let is_swagger = root.get("swagger").is_some();
            if let Node::Object(top) = &mut root {
                let schemas = if is_swagger {
                    top.entry("definitions".to_string())
                        .or_insert_with(|| Node::Object(IndexMap::new()))
                } else {
                    let comps = top
                        .entry("components".to_string())
                        .or_insert_with(|| Node::Object(IndexMap::new()));
                    match comps {
                        Node::Object(c) => c
                            .entry("schemas".to_string())
                            .or_insert_with(|| Node::Object(IndexMap::new())),
                        other => other,
                    }
                };
                if let Node::Object(s) = schemas {
                    for (k, v) in hoisted {
                        s.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
    Ok(root)
}

fn has_external_refs(n: &Node) -> bool {
    match n {
        Node::Object(m) => m.iter().any(|(k, v)| {
            (k == "$ref" && v.as_str().is_some_and(|s| !s.starts_with('#'))) || has_external_refs(v)
        }),
        Node::Array(a) => a.iter().any(has_external_refs),
        _ => false,
    }
}

struct ExternalResolver<'w> {
    files: HashMap<PathBuf, Option<Node>>,
    /// schemas hoisted from other files: name -> schema (already rewritten)
    hoisted: IndexMap<String, Node>,
    warnings: &'w mut Vec<Warning>,
}

impl ExternalResolver<'_> {
    fn file(&mut self, path: &Path) -> Option<Node> {
        if !self.files.contains_key(path) {
            let loaded = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| parse_text(&t, &path.display().to_string()).ok());
            self.files.insert(path.to_path_buf(), loaded);
        }
        self.files.get(path).cloned().flatten()
    }

    /// Rewrite refs inside `node`, which lives in file `base`. Refs internal to `base`
    /// (when `base` is not the root document) are turned into refs into the root.
    fn rewrite(&mut self, node: &mut Node, base: &Path, ptr: &str, depth: usize) {
        if depth > 64 {
            return;
        }
        match node {
            Node::Object(m) => {
                if let Some(Node::Str(r)) = m.get("$ref") {
                    let r = r.clone();
                    if !r.starts_with('#') {
                        if let Some(replacement) = self.resolve_external(&r, base, ptr, depth) {
                            *node = replacement;
                        }
                        return;
                    }
                }
                for (k, v) in m.iter_mut() {
                    let child = format!("{ptr}/{}", escape_token(k));
                    self.rewrite(v, base, &child, depth);
                }
            }
            Node::Array(a) => {
                for (i, v) in a.iter_mut().enumerate() {
                    self.rewrite(v, base, &format!("{ptr}/{i}"), depth);
                }
            }
            _ => {}
        }
    }

    fn resolve_external(&mut self, r: &str, base: &Path, ptr: &str, depth: usize) -> Option<Node> {
        let (file_part, frag) = match r.split_once('#') {
            Some((f, p)) => (f, p),
            None => (r, ""),
        };
        if file_part.starts_with("http://") || file_part.starts_with("https://") {
            self.warnings.push(Warning::new(
                ptr,
                format!("remote $ref `{r}` is not fetched; using a free-form value"),
            ));
            return Some(Node::Object(IndexMap::new()));
        }
        let target = base.parent().unwrap_or(Path::new(".")).join(file_part);
        let Some(doc) = self.file(&target) else {
            self.warnings.push(Warning::new(
                ptr,
                format!(
                    "cannot read $ref target `{}`; using a free-form value",
                    target.display()
                ),
            ));
            return Some(Node::Object(IndexMap::new()));
        };
        let Some(found) = lookup(&doc, frag) else {
            self.warnings.push(Warning::new(
                ptr,
                format!("$ref `{r}` points at nothing; using a free-form value"),
            ));
            return Some(Node::Object(IndexMap::new()));
        };
        let mut found = found.clone();
        // refs local to the external file become refs to that file, then get resolved
        make_refs_external(&mut found, file_part);
        let segs: Vec<&str> = frag.trim_start_matches('/').split('/').collect();
        let schema_name = match segs.as_slice() {
            ["components", "schemas", name] | ["definitions", name] => Some(unescape_token(name)),
            _ => None,
        };
        if let Some(name) = schema_name {
            let key = name.clone();
            if !self.hoisted.contains_key(&key) {
                // placeholder first so recursive refs terminate
                self.hoisted.insert(key.clone(), Node::Null);
                self.rewrite(&mut found, &target, ptr, depth + 1);
                self.hoisted.insert(key.clone(), found);
            }
            let mut m = IndexMap::new();
            m.insert(
                "$ref".to_string(),
                Node::Str(format!("#/components/schemas/{}", escape_token(&key))),
            );
            return Some(Node::Object(m));
        }
        self.rewrite(&mut found, &target, ptr, depth + 1);
        Some(found)
    }
}

fn make_refs_external(node: &mut Node, file: &str) {
    match node {
        Node::Object(m) => {
            for (k, v) in m.iter_mut() {
                if k == "$ref" {
                    if let Node::Str(s) = v {
                        if s.starts_with('#') {
                            *s = format!("{file}{s}");
                        }
                    }
                } else {
                    make_refs_external(v, file);
                }
            }
        }
        Node::Array(a) => a.iter_mut().for_each(|v| make_refs_external(v, file)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_int_keys_and_dates_are_strings() {
        let n = parse_text(
            "responses:\n  200:\n    description: ok\nd: 2020-01-01\n",
            "t",
        )
        .unwrap();
        assert!(lookup(&n, "/responses/200/description").is_some());
        assert_eq!(n.str_of("d"), Some("2020-01-01"));
    }

    #[test]
    fn numbers_outside_i64_do_not_fail_a_document() {
        let n = parse_text(
            "seed:\n  minimum: -9223372036854776000\n  maximum: 9223372036854775807\nbig: 123456789012345678901234\nf: 1.5\ninf: .inf\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            lookup(&n, "/seed/minimum"),
            Some(&Node::Float(-9223372036854776000.0))
        );
        assert_eq!(lookup(&n, "/seed/maximum"), Some(&Node::Int(i64::MAX)));
        assert_eq!(n.get("big"), Some(&Node::Float(1.2345678901234568e23)));
        assert_eq!(n.get("f"), Some(&Node::Float(1.5)));
        assert_eq!(n.get("inf"), Some(&Node::Float(f64::INFINITY)));
        let j = parse_text(
            r#"{"m": -9223372036854776000, "u": 18446744073709551615}"#,
            "t",
        )
        .unwrap();
        assert_eq!(j.get("m"), Some(&Node::Float(-9223372036854776000.0)));
        assert_eq!(j.get("u"), Some(&Node::Float(18446744073709551615.0)));
    }

    #[test]
    fn yaml_merge_keys_anchors_and_order() {
        let n = parse_text(
            "base: &b\n  type: string\n  description: base\nderived:\n  <<: *b\n  description: mine\nz: 1\na: 2\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            lookup(&n, "/derived/type"),
            Some(&Node::Str("string".into()))
        );
        assert_eq!(
            lookup(&n, "/derived/description"),
            Some(&Node::Str("mine".into()))
        );
        let keys: Vec<&String> = n.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["base", "derived", "z", "a"]);
        let err = parse_text("a: [1\n", "f.yaml").unwrap_err().to_string();
        assert!(
            err.contains("f.yaml") && err.contains("invalid YAML"),
            "{err}"
        );
        let two = parse_text("a: 1\n---\nb: 2\n", "t")
            .unwrap_err()
            .to_string();
        assert!(two.contains("2 YAML documents"), "{two}");
    }

    #[test]
    fn pointer_tokens() {
        let n = parse_text(r#"{"a/b": {"c~d": [1, 2]}}"#, "t").unwrap();
        assert_eq!(lookup(&n, "/a~1b/c~0d/1"), Some(&Node::Int(2)));
        // fragments are percent-decoded before ~ escapes
        assert!(lookup(&n, "/a%7E1b").is_some());
    }
}
