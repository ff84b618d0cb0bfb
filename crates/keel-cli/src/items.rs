//! Request items (`name=value`, `name:=json`, `Header:value`,
//! `name==query`, `field@file`, `@file`) and URL shorthands (`:8080/path`,
//! `localhost/path`), with xh's and HTTPie's spelling.

use std::path::PathBuf;

/// One request item from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `Name:value`: a request header.
    Header(String, String),
    /// `name==value`: a query parameter.
    Query(String, String),
    /// `name=value`: a JSON string field (or a form field with `--form`).
    Data(String, String),
    /// `name:=raw`: a JSON field with this raw (validated) JSON value.
    RawJson(String, String),
    /// `name=@file`: a string field holding the file's text.
    DataFile(String, PathBuf),
    /// `name:=@file`: a JSON field holding the file's JSON.
    RawJsonFile(String, PathBuf),
    /// `field@file` or `field@file;type=mime`: a multipart file part.
    FormFile {
        /// The field name.
        name: String,
        /// The file to send.
        path: PathBuf,
        /// The part's content type, when given with `;type=`.
        mime: Option<String>,
    },
    /// `@file`: the whole request body from a file.
    BodyFile(PathBuf),
}

impl Item {
    /// Whether the item makes the request carry a body.
    pub fn is_body(&self) -> bool {
        !matches!(self, Item::Header(..) | Item::Query(..))
    }
}

/// The separators, longest first where two start at the same place.
const SEPARATORS: [&str; 7] = [":=@", "==", ":=", "=@", "=", ":", "@"];

/// Parses one item; `\` escapes a separator character in the name.
pub fn parse_item(arg: &str) -> Result<Item, String> {
    let bytes = arg.as_bytes();
    let mut name = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && i + 1 < bytes.len() {
            let next = arg[i + 1..].chars().next().unwrap_or('\\');
            name.push(next);
            i += 1 + next.len_utf8();
            continue;
        }
        if let Some(sep) = SEPARATORS.iter().find(|s| arg[i..].starts_with(**s)) {
            let value = &arg[i + sep.len()..];
            return build(name, sep, value, arg);
        }
        let ch = arg[i..].chars().next().unwrap_or('\u{fffd}');
        name.push(ch);
        i += ch.len_utf8();
    }
    Err(format!(
        "{arg:?} is not a request item; use Header:value, name==query, name=string, name:=json, field@file or @file (see keel request --help)"
    ))
}

fn build(name: String, sep: &str, value: &str, arg: &str) -> Result<Item, String> {
    if name.is_empty() && sep != "@" {
        return Err(format!("{arg:?}: the item has no name before {sep:?}"));
    }
    Ok(match sep {
        ":" => {
            keel::http::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{arg:?}: {name:?} is not a valid header name"))?;
            keel::HeaderValue::from_str(value)
                .map_err(|_| format!("{arg:?}: the header value is not valid in a header"))?;
            Item::Header(name, value.to_owned())
        }
        "==" => Item::Query(name, value.to_owned()),
        "=" => Item::Data(name, value.to_owned()),
        ":=" => {
            check_json(value)
                .map_err(|e| format!("{arg:?}: the value after := is not JSON: {e}"))?;
            Item::RawJson(name, value.to_owned())
        }
        "=@" => Item::DataFile(name, PathBuf::from(value)),
        ":=@" => Item::RawJsonFile(name, PathBuf::from(value)),
        _ => {
            if value.is_empty() {
                return Err(format!("{arg:?}: no file name after @"));
            }
            if name.is_empty() {
                Item::BodyFile(PathBuf::from(value))
            } else {
                let (path, mime) = match value.rsplit_once(";type=") {
                    Some((p, m)) => (p, Some(m.to_owned())),
                    None => (value, None),
                };
                Item::FormFile {
                    name,
                    path: PathBuf::from(path),
                    mime,
                }
            }
        }
    })
}

/// Checks that `text` is one JSON value (without keeping it: the text is
/// sent as written).
pub fn check_json(text: &str) -> Result<(), serde_json::Error> {
    check_json_bytes(text.as_bytes())
}

/// [`check_json`] for bytes.
pub fn check_json_bytes(bytes: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map(|_| ())
}

/// Expands the URL shorthands: `:8080/path` and `:/path` mean
/// `http://localhost…`, a URL without a scheme gets `http://` (or
/// `https://` with `--https`).
pub fn expand_url(raw: &str, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    if let Some(rest) = raw.strip_prefix(':') {
        // `:8080/path`, `:/path`, `:`
        return if rest.is_empty() || rest.starts_with('/') {
            format!("{scheme}://localhost{rest}")
        } else {
            format!("{scheme}://localhost:{rest}")
        };
    }
    if raw.contains("://") {
        return raw.to_owned();
    }
    format!("{scheme}://{raw}")
}

/// Whether the first positional argument is a method rather than the URL.
pub fn looks_like_method(arg: &str) -> bool {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    !arg.is_empty()
        && arg.bytes().all(|b| b.is_ascii_alphabetic())
        && (KNOWN.iter().any(|m| m.eq_ignore_ascii_case(arg))
            || arg.bytes().all(|b| b.is_ascii_uppercase()))
}

/// Appends `s` to `out` as a JSON string literal.
pub fn push_json_string(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires; a string always serializes.
    match serde_json::to_string(s) {
        Ok(lit) => out.push_str(&lit),
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_first_position_wins() {
        assert_eq!(
            parse_item("Accept:application/json").unwrap(),
            Item::Header("Accept".into(), "application/json".into())
        );
        assert_eq!(
            parse_item("q==a:b=c").unwrap(),
            Item::Query("q".into(), "a:b=c".into())
        );
        assert_eq!(
            parse_item("name=a:b").unwrap(),
            Item::Data("name".into(), "a:b".into())
        );
        assert_eq!(
            parse_item("n:=[1,2]").unwrap(),
            Item::RawJson("n".into(), "[1,2]".into())
        );
        assert_eq!(
            parse_item("f@a.txt;type=text/plain").unwrap(),
            Item::FormFile {
                name: "f".into(),
                path: "a.txt".into(),
                mime: Some("text/plain".into())
            }
        );
        assert_eq!(
            parse_item("@b.bin").unwrap(),
            Item::BodyFile("b.bin".into())
        );
        assert_eq!(
            parse_item("a\\=b=c").unwrap(),
            Item::Data("a=b".into(), "c".into())
        );
        assert!(parse_item("n:=nope").is_err());
        assert!(parse_item("plain").is_err());
        assert!(parse_item("=x").is_err());
    }

    #[test]
    fn url_shorthands() {
        assert_eq!(expand_url(":8080/a", false), "http://localhost:8080/a");
        assert_eq!(expand_url(":/a", false), "http://localhost/a");
        assert_eq!(expand_url("localhost/a", false), "http://localhost/a");
        assert_eq!(expand_url("127.0.0.1:1/x", true), "https://127.0.0.1:1/x");
        assert_eq!(expand_url("https://h/x", false), "https://h/x");
        assert!(looks_like_method("get"));
        assert!(looks_like_method("PROPFIND"));
        assert!(!looks_like_method("localhost"));
        assert!(!looks_like_method(":8080"));
    }
}
