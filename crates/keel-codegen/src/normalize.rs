//! Stage two: bring a loaded document to one shape. Swagger 2.0 is converted to the
//! OpenAPI 3.0 layout ([`crate::swagger2`]); 3.0 and 3.1 documents are read with 3.1
//! semantics by the lowering (`nullable: true` and a `"null"` in `type` mean the same, as do
//! `example` and `examples`). Documents that are not OpenAPI are refused here, with the
//! pointer of the problem.

use crate::node::Node;
use crate::{CodegenError, Warning};

/// Check the version and the top-level shape, and convert Swagger 2.0.
pub(crate) fn normalize(doc: Node, warnings: &mut Vec<Warning>) -> Result<Node, CodegenError> {
    if doc.as_object().is_none() {
        return Err(CodegenError::Invalid {
            pointer: "/".into(),
            message: "the document is not an object (expected `openapi: 3.x` or `swagger: \"2.0\"` at the top)".into(),
        });
    }
    let version = match (doc.get("openapi"), doc.get("swagger")) {
        (Some(v), _) => v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_json()),
        (None, Some(v)) => format!(
            "swagger {}",
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_json())
        ),
        (None, None) => {
            return Err(CodegenError::Invalid {
                pointer: "/".into(),
                message: "neither `openapi` nor `swagger` is set: this is not an OpenAPI document"
                    .into(),
            })
        }
    };
    let doc = if version.starts_with("swagger") {
        if version != "swagger 2.0" {
            warnings.push(Warning::new(
                "/swagger",
                format!("{version}: read as Swagger 2.0"),
            ));
        }
        crate::swagger2::convert(&doc, warnings)
    } else {
        if !(version.starts_with("3.0") || version.starts_with("3.1")) {
            if version.starts_with('3') {
                warnings.push(Warning::new(
                    "/openapi",
                    format!("OpenAPI {version}: read as 3.1"),
                ));
            } else {
                return Err(CodegenError::Invalid {
                    pointer: "/openapi".into(),
                    message: format!("unsupported OpenAPI version `{version}` (3.0.x, 3.1.x or Swagger 2.0 expected)"),
                });
            }
        }
        doc
    };
    if let Some(p) = doc.get("paths") {
        if p.as_object().is_none() {
            return Err(CodegenError::Invalid {
                pointer: "/paths".into(),
                message: "`paths` must be an object mapping paths to path items".into(),
            });
        }
    }
    if let Some(c) = doc.get("components") {
        if c.as_object().is_none() {
            return Err(CodegenError::Invalid {
                pointer: "/components".into(),
                message: "`components` must be an object".into(),
            });
        }
    }
    Ok(doc)
}
