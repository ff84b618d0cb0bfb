//! `application/x-www-form-urlencoded` bodies laid out per property, as the
//! body's `encoding` in the API document asks (OpenAPI 3.1 §4.8.15): repeated
//! keys for exploded arrays (the default), `name[key]=value` brackets for
//! `deepObject` (Stripe's `metadata[k]=v`, `items[0][price]=…`), delimiters
//! for `spaceDelimited`/`pipeDelimited`. The percent-encoding itself is done
//! by the `form_urlencoded` crate (the WHATWG serializer of the `url` crate).

use serde::Serialize;
use serde_json::Value;

use super::params::{style_pairs, Style};
use crate::error::{Error, Result};
use crate::request::RequestBuilder;

/// How one property of a form body is laid out (an entry of the document's
/// `encoding` map). Properties without one use `form` with `explode: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// The property's name on the wire.
    pub property: &'static str,
    /// Its style.
    pub style: Style,
    /// Whether arrays and objects are exploded.
    pub explode: bool,
}

/// The encoded form body for `value` (an object: a struct or a map).
pub fn form_text<T: Serialize + ?Sized>(value: &T, encodings: &[Encoding]) -> Result<String> {
    let v = serde_json::to_value(value)
        .map_err(|e| Error::request(format!("the form body could not be serialized: {e}")))?;
    let Value::Object(map) = v else {
        return Err(Error::request(format!(
            "a form body must be an object of fields, not {}",
            kind(&v)
        )));
    };
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &map {
        let (style, explode) = encodings
            .iter()
            .find(|e| e.property == name)
            .map_or((Style::Form, true), |e| (e.style, e.explode));
        for (k, v) in style_pairs(name, value, style, explode)? {
            out.append_pair(&k, &v);
        }
    }
    Ok(out.finish())
}

/// Sets `value` as the form body of the request.
pub fn form_body<T: Serialize + ?Sized>(
    rb: RequestBuilder,
    value: &T,
    encodings: &[Encoding],
) -> Result<RequestBuilder> {
    let text = form_text(value, encodings)?;
    Ok(rb.body(text, "application/x-www-form-urlencoded"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
