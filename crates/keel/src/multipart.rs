//! `multipart/form-data` bodies, serialized once so that every attempt of a
//! retried request sends the same bytes.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::error::{Error, Result};

/// A `multipart/form-data` body (RFC 7578).
///
/// ```
/// let form = keel::Multipart::new()
///     .text("title", "report")
///     .bytes("file", b"a,b\n1,2\n".to_vec(), Some("data.csv"), Some("text/csv"));
/// # let _ = form;
/// ```
#[derive(Clone)]
pub struct Multipart {
    boundary: String,
    parts: Vec<Part>,
}

#[derive(Clone)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field(
                "parts",
                &self.parts.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty form with a random boundary (122 bits from the operating
    /// system's generator, so a part's content cannot be made to guess it).
    pub fn new() -> Self {
        Multipart {
            boundary: format!("keel-{}", uuid::Uuid::new_v4().simple()),
            parts: Vec::new(),
        }
    }

    /// Adds a text field.
    pub fn text(mut self, name: &str, value: impl Into<String>) -> Self {
        self.parts.push(Part {
            name: name.to_owned(),
            filename: None,
            content_type: None,
            data: Bytes::from(value.into()),
        });
        self
    }

    /// Adds a binary part, optionally as a file with a content type.
    pub fn bytes(
        mut self,
        name: &str,
        data: impl Into<Bytes>,
        filename: Option<&str>,
        content_type: Option<&str>,
    ) -> Self {
        self.parts.push(Part {
            name: name.to_owned(),
            filename: filename.map(str::to_owned),
            content_type: content_type.map(str::to_owned),
            data: data.into(),
        });
        self
    }

    /// Adds a part holding `value` as JSON.
    pub fn json(self, name: &str, value: &impl Serialize) -> Result<Self> {
        let data = serde_json::to_vec(value).map_err(|e| {
            Error::request(format!(
                "multipart part {name:?} could not be serialized: {e}"
            ))
        })?;
        Ok(self.bytes(name, data, None, Some("application/json")))
    }

    /// The content type (with boundary) and the encoded body.
    pub(crate) fn finish(self) -> (String, Bytes) {
        let mut out = BytesMut::with_capacity(
            self.parts.iter().map(|p| p.data.len() + 128).sum::<usize>() + 64,
        );
        for p in &self.parts {
            out.put_slice(b"--");
            out.put_slice(self.boundary.as_bytes());
            out.put_slice(b"\r\nContent-Disposition: form-data; name=\"");
            out.put_slice(escape(&p.name).as_bytes());
            out.put_slice(b"\"");
            if let Some(f) = &p.filename {
                out.put_slice(b"; filename=\"");
                out.put_slice(escape(f).as_bytes());
                out.put_slice(b"\"");
            }
            out.put_slice(b"\r\n");
            if let Some(ct) = &p.content_type {
                out.put_slice(b"Content-Type: ");
                out.put_slice(strip_newlines(ct).as_bytes());
                out.put_slice(b"\r\n");
            }
            out.put_slice(b"\r\n");
            out.put_slice(&p.data);
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"--");
        out.put_slice(self.boundary.as_bytes());
        out.put_slice(b"--\r\n");
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            out.freeze(),
        )
    }
}

/// Quotes a name for a Content-Disposition parameter as browsers do
/// (WHATWG: `"` → `%22`, CR/LF → `%0D`/`%0A`).
fn escape(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn strip_newlines(s: &str) -> String {
    s.replace(['\r', '\n'], "")
}
