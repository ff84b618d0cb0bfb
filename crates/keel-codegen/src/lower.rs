//! Stage three: a normalized document → the [`ir::Api`](crate::ir::Api). Schemas become
//! models ([`crate::model`]), paths become groups of operations ([`crate::ops`]); then
//! cycles are boxed, `Default` is decided, and optional nullable fields of request models
//! become tri-state.

use crate::ir::{Api, ModelKind, Primitive, Type};
use crate::model::Ctx;
use crate::node::{self, Node};
use crate::{CodegenError, Warning};

/// Lower a normalized document.
pub(crate) fn lower_doc(doc: &Node, warnings: &mut Vec<Warning>) -> Result<Api, CodegenError> {
    let spec_operations = crate::ops::count_operations(doc);
    let schemas = node::lookup(doc, "/components/schemas")
        .and_then(Node::as_object)
        .map(|m| m.len())
        .unwrap_or(0);
    let mut ctx = Ctx::new(doc);
    ctx.build_components();
    let lowered = ctx.build_api();
    ctx.finish();
    let operations: usize = lowered.groups.iter().map(|g| g.operations.len()).sum();
    if operations != spec_operations {
        return Err(CodegenError::Internal {
            message: format!(
                "lowered {operations} operations but the document has {spec_operations}"
            ),
        });
    }
    warnings.append(&mut ctx.warnings);
    let info = doc.get("info");
    let text = |v: &Node| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_json())
    };
    let mut api = Api {
        title: info
            .and_then(|i| i.str_of("title"))
            .unwrap_or("the API")
            .to_string(),
        version: info
            .and_then(|i| i.get("version"))
            .map(text)
            .unwrap_or_else(|| "unknown".into()),
        description: info
            .and_then(|i| i.str_of("description"))
            .map(str::to_string),
        base_url: base_url(doc),
        models: std::mem::take(&mut ctx.models),
        groups: lowered.groups,
        security_schemes: lowered.schemes,
        default_scheme: lowered.primary_scheme,
        spec_operations,
        schemas,
    };
    mark_request_models(&mut api);
    apply_field_defaults(&mut api);
    decide_defaults(&mut api);
    Ok(api)
}

/// Models a request body can contain get tri-state optional nullable fields: there, absent
/// and `null` are different requests (PATCH semantics).
fn mark_request_models(api: &mut Api) {
    let mut stack: Vec<usize> = Vec::new();
    for (_, op) in api.operations() {
        if let Some(b) = &op.body {
            match &b.kind {
                crate::ir::BodyKind::Json(t) | crate::ir::BodyKind::Form { ty: t, .. } => {
                    t.all_models(&mut stack)
                }
                crate::ir::BodyKind::Multipart { fields, .. } => {
                    fields.iter().for_each(|f| f.ty.all_models(&mut stack))
                }
                _ => {}
            }
        }
    }
    while let Some(id) = stack.pop() {
        if id >= api.models.len() || api.models[id].in_request {
            continue;
        }
        api.models[id].in_request = true;
        match &api.models[id].kind {
            ModelKind::Struct { fields, additional } => {
                fields.iter().for_each(|f| f.ty.all_models(&mut stack));
                if let Some((_, t)) = additional {
                    t.all_models(&mut stack);
                }
            }
            ModelKind::OneOf { variants, .. } => {
                variants.iter().for_each(|v| v.ty.all_models(&mut stack))
            }
            ModelKind::Alias(t) | ModelKind::Newtype(t) => t.all_models(&mut stack),
            ModelKind::StringEnum { .. } => {}
        }
    }
    for m in &mut api.models {
        if !m.in_request {
            continue;
        }
        if let ModelKind::Struct { fields, .. } = &mut m.kind {
            for f in fields.iter_mut() {
                if f.optional && f.nullable {
                    let inner = f.ty.required().clone();
                    f.ty = Type::Option(Box::new(Type::Option(Box::new(inner))));
                    f.tri_state = true;
                }
            }
        }
    }
}

/// Documented defaults: an optional field of a response model whose `default` fits its type
/// becomes `T` (filled with the default when a value lacks it); any other default stays in
/// the doc text only.
///
/// Not in models a request body can contain: there `None` must stay "not sent" (a PATCH
/// that sent every documented default would overwrite what the caller never touched), and
/// the server applies the default itself.
fn apply_field_defaults(api: &mut Api) {
    for id in 0..api.models.len() {
        let m = &api.models[id];
        let keep: Vec<bool> = match &m.kind {
            ModelKind::Struct { fields, .. } => fields
                .iter()
                .map(|f| {
                    !m.in_request
                        && f.optional
                        && !f.nullable
                        && f.ty.is_option()
                        && f.default
                            .as_ref()
                            .is_some_and(|d| default_fits(api, f.ty.required(), d, 0))
                })
                .collect(),
            _ => continue,
        };
        if let ModelKind::Struct { fields, .. } = &mut api.models[id].kind {
            for (f, keep) in fields.iter_mut().zip(keep) {
                if keep {
                    f.ty = f.ty.required().clone();
                } else {
                    f.default = None;
                }
            }
        }
    }
}

/// Whether `value` is a value of `ty` that generated code can write as a literal.
fn default_fits(api: &Api, ty: &Type, value: &serde_json::Value, depth: usize) -> bool {
    use serde_json::Value as V;
    match (ty, value) {
        (Type::Primitive(p), v) => primitive_fits(*p, v),
        (Type::Vec(_), V::Array(a)) => a.is_empty(),
        (Type::Map(_), V::Object(o)) => o.is_empty(),
        (Type::Model(id), v) if depth < 8 => match api.models.get(*id).map(|m| &m.kind) {
            // a value the enum lists (a default outside it is a mistake in the document)
            Some(ModelKind::StringEnum { variants }) => v
                .as_str()
                .is_some_and(|s| variants.iter().any(|(_, w)| w == s)),
            Some(ModelKind::Alias(t)) => default_fits(api, t, v, depth + 1),
            _ => false,
        },
        _ => false,
    }
}

fn primitive_fits(p: Primitive, v: &serde_json::Value) -> bool {
    match p {
        Primitive::String => v.is_string(),
        Primitive::Bool => v.is_boolean(),
        Primitive::F32 | Primitive::F64 => v.is_number(),
        Primitive::I8 => v.as_i64().is_some_and(|n| i8::try_from(n).is_ok()),
        Primitive::I16 => v.as_i64().is_some_and(|n| i16::try_from(n).is_ok()),
        Primitive::I32 => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Primitive::I64 => v.as_i64().is_some(),
        Primitive::U8 => v.as_u64().is_some_and(|n| u8::try_from(n).is_ok()),
        Primitive::U16 => v.as_u64().is_some_and(|n| u16::try_from(n).is_ok()),
        Primitive::U32 => v.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
        Primitive::U64 => v.as_u64().is_some(),
    }
}

/// `Default` only where no field is required.
fn decide_defaults(api: &mut Api) {
    for m in &mut api.models {
        m.derive_default = match &m.kind {
            ModelKind::Struct { fields, .. } => fields.iter().all(|f| f.optional),
            ModelKind::Newtype(t) => matches!(
                t,
                Type::Vec(_) | Type::Map(_) | Type::Option(_) | Type::Any | Type::Primitive(_)
            ),
            _ => false,
        };
    }
}

fn base_url(doc: &Node) -> String {
    let Some(server) = doc
        .get("servers")
        .and_then(Node::as_array)
        .and_then(|s| s.first())
    else {
        return "/".to_string();
    };
    let mut url = server.str_of("url").unwrap_or("/").to_string();
    if let Some(Node::Object(vars)) = server.get("variables") {
        for (k, v) in vars {
            let def = v
                .get("default")
                .map(|d| {
                    d.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| d.to_json())
                })
                .unwrap_or_default();
            url = url.replace(&format!("{{{k}}}"), &def);
        }
    }
    url
}
