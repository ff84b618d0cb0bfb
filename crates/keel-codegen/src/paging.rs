//! Which operations are paginated lists, and how: the common shapes are
//! recognized from the parameters and the response schema; the
//! `x-keel-pagination` extension overrides (or, with `false`, turns off) the
//! detection:
//!
//! ```yaml
//! x-keel-pagination: { strategy: cursor, param: page_token, field: next_page_token, items: data }
//! x-keel-pagination: { strategy: starting_after }   # Stripe: has_more + the last item's id
//! x-keel-pagination: { strategy: offset, limit: 100 }
//! x-keel-pagination: { strategy: page }
//! x-keel-pagination: { strategy: link }             # Link: <…>; rel="next"
//! ```

use crate::ir::{Api, Location, ModelKind, Operation, ResponseBody, Type};

/// How a generated `paginate()` walks its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Strategy {
    Cursor { param: String, field: String },
    StartingAfter,
    Offset { limit: u64 },
    Page,
    Link,
}

/// A paginated operation: the strategy, where the items are, their type.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) strategy: Strategy,
    /// The response field holding the items (`""` for a body that is an array).
    pub(crate) items_at: String,
    pub(crate) item: Type,
}

const ITEMS: &[&str] = &["data", "items", "results", "records", "entries", "values"];
const CURSOR_PARAMS: &[&str] = &[
    "cursor",
    "page_token",
    "pageToken",
    "next_token",
    "nextToken",
    "after",
    "continuation_token",
    "continuationToken",
];
const CURSOR_FIELDS: &[&str] = &[
    "next_cursor",
    "nextCursor",
    "next_page_token",
    "nextPageToken",
    "next_token",
    "nextToken",
    "cursor",
    "continuation_token",
    "continuationToken",
];

impl Strategy {
    /// The `keel::pagination::Pagination` expression.
    pub(crate) fn describe(&self) -> String {
        match self {
            Strategy::Cursor { param, field } => format!("cursor `{param}` from `{field}`"),
            Strategy::StartingAfter => "has_more + starting_after".into(),
            Strategy::Offset { limit } => format!("offset/limit ({limit} per page)"),
            Strategy::Page => "page number".into(),
            Strategy::Link => "Link: rel=\"next\"".into(),
        }
    }
}

/// The success JSON body type of an operation.
fn success_body(op: &Operation) -> Option<&Type> {
    op.responses
        .iter()
        .find_map(|r| match (&r.body, r.is_error) {
            (ResponseBody::Json(t), false) => Some(t),
            _ => None,
        })
}

fn model_fields<'a>(api: &'a Api, t: &Type) -> Option<&'a [crate::ir::Field]> {
    let mut t = t.required();
    loop {
        match t {
            Type::Model(id) => match &api.models.get(*id)?.kind {
                ModelKind::Struct { fields, .. } => return Some(fields),
                ModelKind::Alias(inner) | ModelKind::Newtype(inner) => t = inner.required(),
                _ => return None,
            },
            Type::Boxed(inner) => t = inner.required(),
            _ => return None,
        }
    }
}

fn vec_item(t: &Type) -> Option<&Type> {
    match t.required() {
        Type::Vec(item) => Some(item),
        _ => None,
    }
}

/// The plan for `op`, if it is a paginated list.
pub(crate) fn plan(api: &Api, op: &Operation) -> Option<Plan> {
    if op.method != "GET" || op.event_stream.is_some() {
        return None;
    }
    let over = op.pagination_override.as_ref();
    if over.is_some_and(|v| v == &serde_json::Value::Bool(false)) {
        return None;
    }
    let body = success_body(op)?;
    let query: Vec<&str> = op
        .params
        .iter()
        .filter(|p| p.location == Location::Query)
        .map(|p| p.wire.as_str())
        .collect();
    let fields = model_fields(api, body);
    let field_names: Vec<&str> = fields
        .map(|f| f.iter().map(|f| f.wire.as_str()).collect())
        .unwrap_or_default();
    // Where the items are, and their type.
    let wanted_items = over.and_then(|o| o.get("items")).and_then(|v| v.as_str());
    let (items_at, item) = match (vec_item(body), fields) {
        (Some(item), _) if wanted_items.is_none_or(str::is_empty) => (String::new(), item.clone()),
        (_, Some(fields)) => {
            let f = fields.iter().find(|f| match wanted_items {
                Some(w) => f.wire == w,
                None => ITEMS.contains(&f.wire.as_str()) && vec_item(&f.ty).is_some(),
            })?;
            (f.wire.clone(), vec_item(&f.ty)?.clone())
        }
        _ => return None,
    };
    let strategy = match over
        .and_then(|o| o.get("strategy"))
        .and_then(|v| v.as_str())
    {
        Some(s) => {
            let o = over?;
            let text = |k: &str| o.get(k).and_then(|v| v.as_str()).map(str::to_string);
            match s {
                "cursor" => Strategy::Cursor {
                    param: text("param").or_else(|| {
                        CURSOR_PARAMS
                            .iter()
                            .find(|p| query.contains(p))
                            .map(|p| p.to_string())
                    })?,
                    field: text("field").or_else(|| {
                        CURSOR_FIELDS
                            .iter()
                            .find(|f| field_names.contains(f))
                            .map(|f| f.to_string())
                    })?,
                },
                "starting_after" => Strategy::StartingAfter,
                "offset" => Strategy::Offset {
                    limit: o
                        .get("limit")
                        .and_then(|v| v.as_u64())
                        .unwrap_or(100)
                        .max(1),
                },
                "page" => Strategy::Page,
                "link" => Strategy::Link,
                _ => return None,
            }
        }
        None => {
            if query.contains(&"starting_after") && field_names.contains(&"has_more") {
                Strategy::StartingAfter
            } else if let (Some(p), Some(f)) = (
                CURSOR_PARAMS.iter().find(|p| query.contains(p)),
                CURSOR_FIELDS.iter().find(|f| field_names.contains(f)),
            ) {
                Strategy::Cursor {
                    param: p.to_string(),
                    field: f.to_string(),
                }
            } else if query.contains(&"offset") && query.contains(&"limit") {
                Strategy::Offset { limit: 100 }
            } else if query.contains(&"page") && !items_at.is_empty() {
                Strategy::Page
            } else {
                return None;
            }
        }
    };
    Some(Plan {
        strategy,
        items_at,
        item,
    })
}
