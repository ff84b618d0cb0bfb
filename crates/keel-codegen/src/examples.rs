//! Example values for parameters and bodies: the document's own examples where it gives
//! them, otherwise a value built from the schema that satisfies it (types, formats, enums,
//! `const`, bounds, lengths, required properties; read-only properties are left out of
//! requests). Used by the end-to-end harness and by tools that show a request.

use serde_json::{json, Map, Value};

use crate::node::{lookup, Node};

const MAX_DEPTH: usize = 10;
/// Nodes one example may have: documents with wide or recursive schemas stay cheap.
const MAX_NODES: usize = 400;
/// The same for a response body, which has to be whole to be valid (a cut branch is `null`):
/// Discord's message objects nest components five levels deep.
const MAX_RESPONSE_DEPTH: usize = 32;
const MAX_RESPONSE_NODES: usize = 5_000;

/// Where a value is being built: the `$ref`s on the way (a reference already on the path is
/// a cycle, cut with `null`), and how many nodes are left to build.
struct Walk {
    refs: Vec<String>,
    budget: usize,
    max_depth: usize,
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

/// The example `node` (a parameter or media type) gives, when it fits `schema` (see [`fits`]):
/// documents' examples do not always satisfy their own schemas (Binance's `interval` example
/// is `'"1m"'`, quotes included, outside its enum; Xero's bank transactions spell a required
/// `LineItems` as `Lineitems`), and a value built from the schema serves better than one the
/// server refuses.
pub(crate) fn given_fitting(doc: &Node, node: &Node, schema: Option<&Node>) -> Option<Value> {
    given(doc, node).filter(|v| schema.is_none_or(|s| fits(doc, s, v)))
}

/// Whether `v` satisfies `schema`'s checkable constraints: types, `const`, `enum`, bounds,
/// lengths, item counts, required properties, recursively (`allOf`: every part; `oneOf` /
/// `anyOf`: some branch). Patterns and formats are not checked. Bounded in depth: deeper
/// values are taken as fitting.
pub(crate) fn fits(doc: &Node, schema: &Node, v: &Value) -> bool {
    fits_at(doc, schema, v, 0)
}

fn fits_at(doc: &Node, schema: &Node, v: &Value, depth: usize) -> bool {
    if depth > 24 {
        return true;
    }
    let s = resolve(doc, schema);
    if v.is_null() {
        return s.bool_of("nullable")
            || matches!(s.get("type"), Some(Node::Str(t)) if t == "null")
            || matches!(s.get("type"), Some(Node::Array(a)) if a.iter().any(|t| t.as_str() == Some("null")))
            || s.get("enum")
                .and_then(Node::as_array)
                .is_some_and(|a| a.iter().any(|e| matches!(e, Node::Null)))
            || s.get("type").is_none() && s.get("enum").is_none() && s.get("const").is_none();
    }
    if let Some(c) = s.get("const") {
        if c.to_value() != *v {
            return false;
        }
    }
    if let Some(Node::Array(vals)) = s.get("enum") {
        if !vals.iter().any(|e| e.to_value() == *v) {
            return false;
        }
    }
    if let Some(Node::Array(parts)) = s.get("allOf") {
        if !parts.iter().all(|p| fits_at(doc, p, v, depth + 1)) {
            return false;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Node::Array(parts)) = s.get(key) {
            if !parts.is_empty() && !parts.iter().any(|p| fits_at(doc, p, v, depth + 1)) {
                return false;
            }
        }
    }
    let ty = types(s);
    let type_ok = ty.is_empty()
        || ty.iter().any(|t| match *t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        });
    if !type_ok {
        return false;
    }
    match v {
        Value::String(text) => {
            let n = text.chars().count() as f64;
            s.get("minLength").and_then(num).is_none_or(|m| n >= m)
                && s.get("maxLength").and_then(num).is_none_or(|m| n <= m)
        }
        Value::Number(x) => {
            let x = x.as_f64().unwrap_or(0.0);
            s.get("minimum").and_then(num).is_none_or(|m| x >= m)
                && s.get("maximum").and_then(num).is_none_or(|m| x <= m)
        }
        Value::Array(items) => {
            let n = items.len() as f64;
            s.get("minItems").and_then(num).is_none_or(|m| n >= m)
                && s.get("maxItems").and_then(num).is_none_or(|m| n <= m)
                && match s.get("items") {
                    Some(item @ Node::Object(_)) => {
                        items.iter().all(|i| fits_at(doc, item, i, depth + 1))
                    }
                    _ => true,
                }
        }
        Value::Object(m) => {
            let required_ok = s
                .get("required")
                .and_then(Node::as_array)
                .is_none_or(|req| {
                    req.iter().filter_map(Node::as_str).all(|k| {
                        m.contains_key(k)
                            || s.get("properties")
                                .and_then(|p| p.get(k))
                                .is_some_and(|p| resolve(doc, p).bool_of("readOnly"))
                    })
                });
            required_ok
                && match s.get("properties") {
                    Some(Node::Object(props)) => m.iter().all(|(k, val)| {
                        props.get(k).is_none_or(|p| fits_at(doc, p, val, depth + 1))
                    }),
                    _ => true,
                }
        }
        _ => true,
    }
}

/// A value for `schema`: its own example when it has one, else one built from it.
pub(crate) fn for_schema(doc: &Node, schema: &Node, request: bool) -> Value {
    let (budget, max_depth) = if request {
        (MAX_NODES, MAX_DEPTH)
    } else {
        (MAX_RESPONSE_NODES, MAX_RESPONSE_DEPTH)
    };
    let mut walk = Walk {
        refs: Vec::new(),
        budget,
        max_depth,
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
    if depth > walk.max_depth || walk.budget == 0 {
        return Value::Null;
    }
    walk.budget -= 1;
    if let Some(c) = s.get("const") {
        return c.to_value();
    }
    if let Some(e) = given(doc, s).filter(|e| fits(doc, s, e)) {
        return e;
    }
    if let Some(Node::Array(vals)) = s.get("enum") {
        if let Some(v) = vals.iter().find(|v| !matches!(v, Node::Null)) {
            return v.to_value();
        }
    }
    if let Some(d) = s.get("default") {
        let d = d.to_value();
        if !d.is_null() && fits(doc, s, &d) {
            return d;
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
                // distinct items where the item can be varied (numbers, digit strings such as
                // Discord's snowflakes, other strings), else one item
                let items: Vec<Value> = (0..n).filter_map(|i| distinct(&item, i)).collect();
                return if items.len() == n {
                    Value::Array(items)
                } else {
                    json!([item])
                };
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

/// The `i`-th of several distinct variations of `item` (`i = 0` is `item`).
fn distinct(item: &Value, i: usize) -> Option<Value> {
    if i == 0 {
        return Some(item.clone());
    }
    match item {
        Value::Number(n) => n
            .as_i64()
            .map(|v| json!(v + i as i64))
            .or_else(|| n.as_f64().map(|v| json!(v + i as f64))),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<u128>()
            .ok()
            .map(|v| json!((v + i as u128).to_string())),
        Value::String(s) => Some(json!(format!("{s}{i}"))),
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
    // a required name the schema does not describe (Binance's `required: [amount]` next to
    // other properties) takes any value, unless no other property is allowed
    if s.get("additionalProperties").and_then(Node::as_bool) != Some(false) {
        for r in required {
            if !out.contains_key(r) && s.get("properties").and_then(|p| p.get(r)).is_none() {
                out.insert(r.to_string(), json!("example"));
            }
        }
    }
    Value::Object(out)
}

fn string(s: &Node) -> Value {
    let min = s.get("minLength").and_then(num).unwrap_or(0.0) as usize;
    let max = s.get("maxLength").and_then(num).map(|m| m as usize);
    if let Some(v) = s
        .str_of("pattern")
        .and_then(|p| matching_string(p, min, max))
    {
        return json!(v);
    }
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

/// A string matching the regular expression `pattern` (JSON Schema's `pattern`) whose length
/// is within `min..=max` characters, or `None` when the pattern cannot be parsed (look-around,
/// back-references) or no short candidate fits the lengths.
///
/// Alternations take their first branch; repetitions are tried with 0, 1, 2, … repetitions
/// (within their bounds; up to `max(8, min)`) until the length fits; classes prefer a letter
/// or digit.
pub(crate) fn matching_string(pattern: &str, min: usize, max: Option<usize>) -> Option<String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let most = min.clamp(8, 1024) as u32;
    (0..=most).find_map(|reps| {
        let mut out = String::new();
        sample(&hir, reps, &mut out)?;
        let n = out.chars().count();
        (n >= min && max.is_none_or(|m| n <= m)).then_some(out)
    })
}

/// Appends to `out` a string `hir` matches, unbounded repetitions repeated `reps` times.
fn sample(hir: &regex_syntax::hir::Hir, reps: u32, out: &mut String) -> Option<()> {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(std::str::from_utf8(&lit.0).ok()?),
        HirKind::Class(Class::Unicode(c)) => {
            let ranges: Vec<(char, char)> =
                c.ranges().iter().map(|r| (r.start(), r.end())).collect();
            out.push(pick(&ranges)?);
        }
        HirKind::Class(Class::Bytes(c)) => {
            let ranges: Vec<(char, char)> = c
                .ranges()
                .iter()
                .filter(|r| r.start().is_ascii())
                .map(|r| (char::from(r.start()), char::from(r.end().min(0x7f))))
                .collect();
            out.push(pick(&ranges)?);
        }
        HirKind::Repetition(r) => {
            let n = reps.clamp(r.min, r.max.unwrap_or(u32::MAX).max(r.min));
            for _ in 0..n {
                sample(&r.sub, reps, out)?;
            }
        }
        HirKind::Capture(c) => sample(&c.sub, reps, out)?,
        HirKind::Concat(parts) => {
            for p in parts {
                sample(p, reps, out)?;
            }
        }
        HirKind::Alternation(branches) => sample(branches.first()?, reps, out)?,
    }
    Some(())
}

/// A character of a class (sorted, non-overlapping ranges): a letter or digit when the class
/// has one, else its first printable ASCII character, else its first character.
fn pick(ranges: &[(char, char)]) -> Option<char> {
    let has = |c: char| ranges.iter().any(|&(a, b)| a <= c && c <= b);
    ['a', '0', 'A', '1']
        .into_iter()
        .find(|&c| has(c))
        .or_else(|| {
            ranges.iter().find_map(|&(a, b)| {
                let c = a.max('!');
                (c <= b && c <= '~').then_some(c)
            })
        })
        .or_else(|| ranges.first().map(|r| r.0))
}

#[cfg(test)]
mod tests {
    use super::{fits, matching_string};
    use crate::node::parse_text;
    use serde_json::json;

    #[test]
    fn examples_that_violate_their_schema_do_not_fit() {
        let doc = parse_text(
            r##"{"components": {"schemas": {
                "Interval": {"type": "string", "enum": ["1m", "1M"]},
                "Tx": {"type": "object", "required": ["LineItems"],
                       "properties": {"LineItems": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                                      "Amount": {"type": "number"}}},
                "Line": {"type": "object", "properties": {"Quantity": {"type": "integer", "minimum": 1}}}
            }}}"##,
            "test",
        )
        .expect("document");
        let schema = |name: &str| {
            parse_text(
                &format!(r##"{{"$ref": "#/components/schemas/{name}"}}"##),
                "test",
            )
            .expect("ref")
        };
        assert!(fits(&doc, &schema("Interval"), &json!("1M")));
        assert!(!fits(&doc, &schema("Interval"), &json!("\"1m\"")));
        assert!(fits(
            &doc,
            &schema("Tx"),
            &json!({"LineItems": [{"Quantity": 2}], "Amount": 50.0})
        ));
        assert!(!fits(&doc, &schema("Tx"), &json!({"Lineitems": []})));
        assert!(!fits(
            &doc,
            &schema("Tx"),
            &json!({"LineItems": [], "Amount": "50.00"})
        ));
        assert!(!fits(
            &doc,
            &schema("Tx"),
            &json!({"LineItems": [{"Quantity": 0}]})
        ));
    }

    /// The generated string matches the pattern (checked by the `regex` crate) and fits.
    fn check(pattern: &str, min: usize, max: Option<usize>) -> String {
        let s =
            matching_string(pattern, min, max).unwrap_or_else(|| panic!("no string for {pattern}"));
        let re = regex::Regex::new(pattern).expect("valid pattern");
        assert!(re.is_match(&s), "{s:?} does not match {pattern}");
        let n = s.chars().count();
        assert!(
            n >= min && max.is_none_or(|m| n <= m),
            "{s:?} has length {n}"
        );
        s
    }

    #[test]
    fn strings_match_the_patterns_of_the_corpus() {
        // Discord's snowflake, Discord's colour, Redocly's time of day
        assert_eq!(check("^(0|[1-9][0-9]*)$", 0, None), "0");
        check("^#(([0-9a-fA-F]{2}){3}|([0-9a-fA-F]){3})$", 0, Some(7));
        check(r"^([01]\d|2[0-3]):?([0-5]\d)$", 0, None);
    }

    #[test]
    fn lengths_pick_the_repetitions() {
        let s = check("^[1-9][0-9]*$", 17, Some(20));
        assert_eq!(s.len(), 17);
        check(r"^[A-Z]{3}-\d+$", 6, None);
        check(r"^\w+@\w+\.com$", 0, None);
        check("^(?:foo|bar)[^a-z]?x.$", 0, None);
        check("^[a-z]+$", 0, Some(8));
        assert_eq!(matching_string("^[a-z]{10}$", 0, Some(5)), None);
    }

    #[test]
    fn unsupported_patterns_give_none() {
        assert_eq!(matching_string("^(?=a)a$", 0, None), None);
        assert_eq!(matching_string("(", 0, None), None);
    }
}
