//! Turning wire names into Rust identifiers: case conversion, keywords, non-ASCII,
//! leading digits, and collisions.

use proc_macro2::{Ident, Span};
use std::collections::HashSet;

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be raw identifiers: they get a `_` suffix instead.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Type names the generated code relies on unqualified (prelude) and that a model must not shadow.
const RESERVED_TYPES: &[&str] = &[
    "Option",
    "Result",
    "Vec",
    "String",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
    "Default",
    "Clone",
    "Copy",
    "Debug",
    "Send",
    "Sync",
    "Sized",
    "From",
    "Into",
    "Iterator",
    "ToString",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "PartialEq",
    "Eq",
    "Hash",
    "Ord",
    "PartialOrd",
    "AsRef",
    "Self",
    "Unpin",
    "IntoIterator",
    "Extend",
    "ToOwned",
    "TryFrom",
    "TryInto",
];

/// Split a wire name into lowercase ASCII words. Case boundaries (`petId`, `HTTPServer`),
/// separators and non-ASCII characters (transliterated or hex-escaped) all split words.
pub(crate) fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur).to_ascii_lowercase());
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && !cur.is_empty() {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    flush(&mut cur, &mut out);
                }
            }
            cur.push(c);
        } else if c.is_ascii() {
            flush(&mut cur, &mut out);
        } else if let Some(t) = transliterate(c) {
            cur.push_str(t);
        } else {
            flush(&mut cur, &mut out);
            out.push(format!("u{:x}", c as u32));
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ç' | 'Ç' => "c",
        'ñ' | 'Ñ' => "n",
        'ß' => "ss",
        'ý' | 'ÿ' | 'Ý' => "y",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        _ => return None,
    })
}

/// `snake_case`, always a valid identifier body (may still be a keyword).
pub(crate) fn snake(name: &str) -> String {
    let w = words(name);
    let mut s = w.join("_");
    if s.is_empty() {
        s = "value".to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("n{s}");
    }
    s
}

/// `UpperCamelCase`, always a valid identifier body.
pub(crate) fn camel(name: &str) -> String {
    let w = words(name);
    let mut s = String::new();
    for word in w {
        let mut cs = word.chars();
        if let Some(f) = cs.next() {
            s.push(f.to_ascii_uppercase());
            s.push_str(cs.as_str());
        }
    }
    if s.is_empty() {
        s = "Value".to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("V{s}");
    }
    s
}

/// Is `s` usable as-is, or after `r#`?
pub(crate) fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// Build an identifier for a sanitized name (`snake`/`camel` output, possibly a keyword).
pub(crate) fn ident(s: &str) -> Ident {
    if NOT_RAW.contains(&s) {
        return Ident::new(&format!("{s}_"), Span::call_site());
    }
    if is_keyword(s) {
        return Ident::new_raw(s, Span::call_site());
    }
    if s.is_empty() || !valid_ident_body(s) {
        return Ident::new("invalid_name", Span::call_site());
    }
    Ident::new(s, Span::call_site())
}

fn valid_ident_body(s: &str) -> bool {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    s != "_" && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Hands out unique names within one scope.
#[derive(Default, Debug, Clone)]
pub(crate) struct Scope {
    used: HashSet<String>,
}

impl Scope {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    /// Reserve names in advance (they will never be handed out).
    pub(crate) fn reserve(&mut self, names: &[&str]) {
        for n in names {
            self.used.insert((*n).to_string());
        }
    }
    /// Unique snake_case name (`m`, then `m_2` for `M`).
    pub(crate) fn snake(&mut self, wire: &str) -> String {
        let base = snake(wire);
        self.claim(base, "_")
    }
    /// Unique UpperCamel type name. Prelude names get a `Model` suffix.
    pub(crate) fn type_name(&mut self, wire: &str) -> String {
        let mut base = camel(wire);
        if RESERVED_TYPES.contains(&base.as_str()) {
            base.push_str("Model");
        }
        self.claim(base, "")
    }
    /// Unique UpperCamel variant name.
    pub(crate) fn variant(&mut self, wire: &str) -> String {
        let mut base = camel(wire);
        if base == "Self" {
            base = "SelfValue".to_string();
        }
        self.claim(base, "")
    }
    /// Claim `base` (already sanitized), adding a numeric suffix on collision.
    pub(crate) fn claim(&mut self, base: String, sep: &str) -> String {
        let key = base.to_string();
        if self.used.insert(key.clone()) {
            return base;
        }
        let sep = if sep.is_empty() && base.ends_with(|c: char| c.is_ascii_digit()) {
            "V"
        } else {
            sep
        };
        for i in 2.. {
            let cand = format!("{base}{sep}{i}");
            if self.used.insert(cand.clone()) {
                return cand;
            }
        }
        unreachable!("the loop above always returns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake("petId"), "pet_id");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(snake("media-metadata"), "media_metadata");
        assert_eq!(snake("optionType\""), "option_type");
        assert_eq!(snake("0-5BTC"), "n0_5_btc");
        assert_eq!(snake("french_word_céder"), "french_word_ceder");
        assert_eq!(
            camel("use_24_hour_clock_with_korean_words_시_and_분"),
            "Use24HourClockWithKoreanWordsUc2dcAndUbd84"
        );
        assert_eq!(camel("2xx"), "V2xx");
        assert_eq!(camel(""), "Value");
        assert_eq!(snake("___"), "value");
    }

    #[test]
    fn collisions_and_keywords() {
        let mut s = Scope::new();
        assert_eq!(s.snake("m"), "m");
        assert_eq!(s.snake("M"), "m_2");
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("self").to_string(), "self_");
        let mut t = Scope::new();
        assert_eq!(t.type_name("option"), "OptionModel");
        assert_eq!(t.variant("v1"), "V1");
        assert_eq!(t.variant("V1"), "V1V2");
    }
}
