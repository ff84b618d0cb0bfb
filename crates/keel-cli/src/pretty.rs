//! Terminal output: JSON re-indented over its raw bytes (key order and
//! number text exactly as received), colors, header blocks.
//!
//! The formatter works on the bytes rather than through `serde_json::Value`:
//! a `Value` would sort keys and round big numbers unless serde_json's
//! `preserve_order` and `arbitrary_precision` features were on, and cargo
//! unifies features across the workspace, so turning them on here would
//! change how the library and the generator parse numbers. The bytes are
//! validated by serde_json first; the formatter only re-indents.

use anstyle::{AnsiColor, Style};

/// How output is shaped on a terminal (`--pretty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pretty {
    /// Re-indent JSON.
    pub format: bool,
    /// Colors.
    pub colors: bool,
}

impl Pretty {
    /// Nothing changed.
    pub const NONE: Pretty = Pretty {
        format: false,
        colors: false,
    };
}

const KEY: Style = AnsiColor::Blue.on_default().bold();
const STRING: Style = AnsiColor::Green.on_default();
const NUMBER: Style = AnsiColor::Cyan.on_default();
const LITERAL: Style = AnsiColor::Magenta.on_default();
const HEADER_NAME: Style = AnsiColor::Cyan.on_default();
const DIM: Style = Style::new().dimmed();

fn paint(out: &mut Vec<u8>, style: Style, colors: bool, text: &[u8]) {
    if colors {
        out.extend_from_slice(style.render().to_string().as_bytes());
        out.extend_from_slice(text);
        out.extend_from_slice(style.render_reset().to_string().as_bytes());
    } else {
        out.extend_from_slice(text);
    }
}

/// Re-indents valid JSON `input` (four spaces, one member per line),
/// keeping every string, number and key exactly as received. Returns
/// `None` when `input` is not one JSON value.
pub fn format_json(input: &[u8], colors: bool) -> Option<Vec<u8>> {
    layout_json(input, true, colors)
}

/// Colors valid JSON `input` and changes nothing else (every byte, the
/// whitespace included, as received). `None` when it is not one JSON value.
pub fn color_json(input: &[u8]) -> Option<Vec<u8>> {
    layout_json(input, false, true)
}

fn layout_json(input: &[u8], reindent: bool, colors: bool) -> Option<Vec<u8>> {
    crate::items::check_json_bytes(input).ok()?;
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the next string is an object key.
    let mut stack: Vec<u8> = Vec::new();
    let mut expect_key = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 4));
    };
    while i < input.len() {
        let c = input[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                if !reindent {
                    out.push(c);
                }
                i += 1;
            }
            b'{' | b'[' | b'}' | b']' | b',' | b':' if !reindent => {
                match c {
                    b'{' | b'[' => {
                        stack.push(c);
                        expect_key = c == b'{';
                    }
                    b'}' | b']' => {
                        stack.pop();
                    }
                    b',' => expect_key = stack.last() == Some(&b'{'),
                    _ => {}
                }
                out.push(c);
                i += 1;
            }
            b'{' | b'[' => {
                // Empty containers stay on one line.
                let mut j = i + 1;
                while j < input.len() && matches!(input[j], b' ' | b'\t' | b'\n' | b'\r') {
                    j += 1;
                }
                let close = if c == b'{' { b'}' } else { b']' };
                if input.get(j) == Some(&close) {
                    out.push(c);
                    out.push(close);
                    i = j + 1;
                    continue;
                }
                out.push(c);
                stack.push(c);
                depth += 1;
                expect_key = c == b'{';
                newline(&mut out, depth);
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
                i += 1;
            }
            b',' => {
                out.push(b',');
                expect_key = stack.last() == Some(&b'{');
                newline(&mut out, depth);
                i += 1;
            }
            b':' => {
                out.extend_from_slice(b": ");
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < input.len() {
                    match input[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                let end = i.min(input.len());
                let style = if expect_key { KEY } else { STRING };
                expect_key = false;
                paint(&mut out, style, colors, &input[start..end]);
            }
            _ => {
                let start = i;
                while i < input.len()
                    && !matches!(
                        input[i],
                        b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    i += 1;
                }
                let token = &input[start..i];
                let style = if matches!(token.first(), Some(b't' | b'f' | b'n')) {
                    LITERAL
                } else {
                    NUMBER
                };
                paint(&mut out, style, colors, token);
            }
        }
    }
    if reindent {
        out.push(b'\n');
    }
    Some(out)
}

/// A status line or request line and headers, as a block ending in a blank
/// line.
pub fn head_block(first_line: &str, headers: &[(String, String)], colors: bool) -> Vec<u8> {
    let mut out = Vec::new();
    paint(&mut out, DIM.bold(), colors, first_line.as_bytes());
    out.push(b'\n');
    for (n, v) in headers {
        paint(&mut out, HEADER_NAME, colors, n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// Whether a body looks binary (xh's rule: it contains a NUL byte).
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes.contains(&0)
}

/// The note printed on a terminal instead of a binary body.
pub const BINARY_NOTE: &str = "+-----------------------------------------+\n| NOTE: binary data not shown in terminal |\n+-----------------------------------------+\n(save it with -o FILE or -d, or pipe it: keel request URL > FILE)\n";

/// Whether a content type is JSON (`application/json`, `…+json`).
pub fn is_json_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json") || essence.ends_with("/json")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_numbers() {
        let raw =
            br#"{"z":1,"a":2.50,"big":123456789012345678901234,"e":[],"o":{"k":[true,null]}}"#;
        let out = String::from_utf8(format_json(raw, false).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n    \"z\": 1,\n    \"a\": 2.50,\n    \"big\": 123456789012345678901234,\n    \"e\": [],\n    \"o\": {\n        \"k\": [\n            true,\n            null\n        ]\n    }\n}\n"
        );
        assert!(format_json(b"{nope", false).is_none());
        let colored = format_json(br#"{"a":"x\"y"}"#, true).unwrap();
        assert!(String::from_utf8_lossy(&colored).contains("\x1b["));
    }

    #[test]
    fn colors_alone_change_no_byte() {
        let raw = b"{ \"z\" :1,\n\t\"a\":[2.50, \"x\\\"y\"] }";
        let colored = String::from_utf8(color_json(raw).unwrap()).unwrap();
        assert!(colored.contains("\x1b["), "{colored:?}");
        // Without the escapes: the input, byte for byte.
        let mut plain = String::new();
        let mut chars = colored.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                chars.by_ref().find(|&d| d == 'm');
            } else {
                plain.push(c);
            }
        }
        assert_eq!(plain.as_bytes(), raw);
        assert!(color_json(b"{nope").is_none());
    }
}
