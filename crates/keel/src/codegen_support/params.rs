//! OpenAPI parameter styles (`form`, `spaceDelimited`, `pipeDelimited`,
//! `deepObject`, `simple`, `label`, `matrix`, each with `explode`), as
//! OpenAPI 3.1 §4.8.12.4 tabulates them.
//!
//! A value is first turned into JSON (`serde_json::Value`), then laid out by
//! its style. Strings go as they are, numbers and booleans as their text,
//! `null` as an empty value. A value nested deeper than the style describes
//! (an object inside a `form` array) is sent as its JSON text: OpenAPI leaves
//! that case open, and JSON keeps every byte of it.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::request::RequestBuilder;

/// How a parameter is laid out (OpenAPI `style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Style {
    /// `name=a&name=b` (explode) or `name=a,b`; the default in query and cookie.
    Form,
    /// `name=a%20b` (arrays; exploded like `form`).
    SpaceDelimited,
    /// `name=a|b` (arrays; exploded like `form`).
    PipeDelimited,
    /// `name[key]=value`, nested with more brackets; arrays as `name[0]=…`.
    DeepObject,
    /// `a,b` or `k,v,k2,v2` (`k=v,k2=v2` exploded); the default in path and header.
    Simple,
    /// `.a.b` (explode) or `.a,b` (path only).
    Label,
    /// `;name=a;name=b` (explode) or `;name=a,b` (path only).
    Matrix,
}

/// The text of a scalar: strings as they are, numbers and booleans as their
/// JSON text, `null` as the empty string. `None` for arrays and objects.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A scalar's text, or the JSON text of a nested array or object.
fn text(v: &Value) -> String {
    scalar_text(v).unwrap_or_else(|| v.to_string())
}

fn to_value<T: Serialize + ?Sized>(what: &str, name: &str, value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| {
        Error::request(format!(
            "{what} parameter {name:?} could not be serialized: {e}"
        ))
    })
}

fn delimiter(style: Style) -> &'static str {
    match style {
        Style::SpaceDelimited => " ",
        Style::PipeDelimited => "|",
        _ => ",",
    }
}

/// `name=value` pairs for a query parameter or a form-body property.
pub fn style_pairs(
    name: &str,
    value: &Value,
    style: Style,
    explode: bool,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    match (style, value) {
        (Style::DeepObject, Value::Object(_) | Value::Array(_)) => {
            deep(name, value, &mut out);
        }
        (_, Value::Array(items)) => {
            if explode {
                out.extend(items.iter().map(|i| (name.to_owned(), text(i))));
            } else {
                let joined: Vec<String> = items.iter().map(text).collect();
                out.push((name.to_owned(), joined.join(delimiter(style))));
            }
        }
        (_, Value::Object(map)) => {
            if explode {
                out.extend(map.iter().map(|(k, v)| (k.clone(), text(v))));
            } else {
                let mut parts = Vec::with_capacity(map.len() * 2);
                for (k, v) in map {
                    parts.push(k.clone());
                    parts.push(text(v));
                }
                out.push((name.to_owned(), parts.join(delimiter(style))));
            }
        }
        (_, scalar) => out.push((name.to_owned(), text(scalar))),
    }
    Ok(out)
}

/// `name[key]=value`, recursively; array items are indexed (`name[0]`), as
/// Stripe and Prism read them.
fn deep(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                deep(&format!("{prefix}[{k}]"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                deep(&format!("{prefix}[{i}]"), v, out);
            }
        }
        scalar => out.push((prefix.to_owned(), text(scalar))),
    }
}

/// One string for a path, header or cookie parameter.
pub fn style_value(name: &str, value: &Value, style: Style, explode: bool) -> Result<String> {
    let (lead, sep) = match style {
        Style::Label => (".".to_owned(), if explode { "." } else { "," }),
        Style::Matrix => (format!(";{name}="), ","),
        _ => (String::new(), ","),
    };
    let body = match value {
        Value::Array(items) => {
            if style == Style::Matrix && explode {
                let parts: Vec<String> = items.iter().map(text).collect();
                return Ok(parts
                    .iter()
                    .map(|p| format!(";{name}={p}"))
                    .collect::<String>());
            }
            items.iter().map(text).collect::<Vec<_>>().join(sep)
        }
        Value::Object(map) => {
            if explode {
                let pairs: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k}={}", text(v)))
                    .collect();
                if style == Style::Matrix {
                    return Ok(pairs.iter().map(|p| format!(";{p}")).collect());
                }
                pairs.join(sep)
            } else {
                let mut parts = Vec::with_capacity(map.len() * 2);
                for (k, v) in map {
                    parts.push(k.clone());
                    parts.push(text(v));
                }
                parts.join(sep)
            }
        }
        scalar => text(scalar),
    };
    Ok(format!("{lead}{body}"))
}

/// Adds a query parameter laid out by its style.
pub fn query<T: Serialize + ?Sized>(
    rb: RequestBuilder,
    name: &str,
    value: &T,
    style: Style,
    explode: bool,
) -> Result<RequestBuilder> {
    let v = to_value("query", name, value)?;
    let pairs = style_pairs(name, &v, style, explode)?;
    Ok(rb.query_pairs(pairs))
}

/// Fills the path placeholder `{name}`.
pub fn path<T: Serialize + ?Sized>(
    rb: RequestBuilder,
    name: &str,
    value: &T,
    style: Style,
    explode: bool,
) -> Result<RequestBuilder> {
    let v = to_value("path", name, value)?;
    let text = style_value(name, &v, style, explode)?;
    if text.is_empty() {
        return Err(Error::request(format!(
            "path parameter {name:?} is empty; an empty path segment would address another resource"
        )));
    }
    Ok(rb.path_param(name, text))
}

/// Sets a header parameter (`simple` style).
pub fn header<T: Serialize + ?Sized>(
    rb: RequestBuilder,
    name: &str,
    value: &T,
    explode: bool,
) -> Result<RequestBuilder> {
    let v = to_value("header", name, value)?;
    let text = style_value(name, &v, Style::Simple, explode)?;
    Ok(rb.header(name, text))
}

/// Sets a cookie parameter (`form` style: arrays and objects comma-joined).
pub fn cookie<T: Serialize + ?Sized>(
    rb: RequestBuilder,
    name: &str,
    value: &T,
    explode: bool,
) -> Result<RequestBuilder> {
    let v = to_value("cookie", name, value)?;
    let text = style_value(name, &v, Style::Form, explode)?;
    Ok(rb.cookie(name, text))
}

/// A header parameter named `Cookie` (browser-flow APIs declare one): its
/// value, `a=1; b=2`, is sent as those cookies, merged with the client's.
pub fn cookie_header(rb: RequestBuilder, value: &str) -> Result<RequestBuilder> {
    let mut rb = rb;
    for pair in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, v)) = pair.split_once('=') else {
            return Err(Error::request(format!(
                "the Cookie parameter holds {pair:?}, which is not name=value; give it as `a=1; b=2`"
            )));
        };
        rb = rb.cookie(name.trim(), v.trim());
    }
    Ok(rb)
}
