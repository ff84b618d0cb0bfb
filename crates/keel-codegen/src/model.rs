//! Lowering, part one: schemas → IR types and named models.

use std::collections::HashMap;

use crate::names::{self, Scope};
use crate::node::{escape_token, lookup, unescape_token, Node};
use crate::Warning;

pub(crate) use crate::ir::{Field, Model, ModelKind, Primitive, Type as Ty, Variant};

/// The model-building context shared by schema and operation processing.
pub(crate) struct Ctx<'a> {
    pub doc: &'a Node,
    pub warnings: Vec<Warning>,
    pub models: Vec<Model>,
    pub type_scope: Scope,
    by_pointer: HashMap<String, usize>,
    /// Whether each model's kind is filled in (a placeholder stands until then).
    filled: Vec<bool>,
    depth: usize,
}

const MAX_DEPTH: usize = 48;

pub(crate) fn schema_doc(schema: &Node) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(t) = schema.str_of("title") {
        if schema.str_of("description").is_none() {
            parts.push(t.to_string());
        }
    }
    if let Some(d) = schema.str_of("description") {
        parts.push(d.to_string());
    }
    let fmt = schema.str_of("format");
    if let Some(f) = fmt {
        if matches!(
            f,
            "date-time" | "date" | "uuid" | "binary" | "byte" | "uri" | "email" | "time"
        ) {
            parts.push(format!("Format: `{f}` (kept as a string)."));
        }
    }
    if let Some(d) = schema.get("default") {
        parts.push(format!("Default: `{}`.", d.to_json().replace('`', "'")));
    }
    if schema.bool_of("readOnly") {
        parts.push("Read-only: sent by the server, not by clients.".to_string());
    }
    if schema.bool_of("writeOnly") {
        parts.push("Write-only: sent by clients, never returned.".to_string());
    }
    if let Some(Node::Array(vals)) = schema.get("enum") {
        if schema.str_of("type") != Some("string") && !vals.is_empty() {
            let v: Vec<String> = vals.iter().take(40).map(Node::to_json).collect();
            parts.push(format!("Allowed values: `{}`.", v.join("`, `")));
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("\n\n"))
    }
}

fn is_null_schema(n: &Node) -> bool {
    match n {
        Node::Object(m) => {
            if m.get("type").and_then(Node::as_str) == Some("null") {
                return true;
            }
            // qdrant: `anyOf: [{$ref: X}, {nullable: true}]`
            m.get("nullable").and_then(Node::as_bool) == Some(true)
                && m.keys()
                    .all(|k| matches!(k.as_str(), "nullable" | "description" | "title"))
        }
        _ => false,
    }
}

/// An `allOf` part with nothing but annotations (`allOf: [{$ref: X}, {description: …}]`, the
/// 3.0 way to describe a reference): it adds no constraint, so it does not count as a part.
fn is_annotation_only(n: &Node) -> bool {
    match n {
        Node::Object(m) => m.keys().all(|k| {
            k.starts_with("x-")
                || matches!(
                    k.as_str(),
                    "description"
                        | "title"
                        | "example"
                        | "examples"
                        | "default"
                        | "deprecated"
                        | "readOnly"
                        | "writeOnly"
                        | "externalDocs"
                        | "$comment"
                )
        }),
        _ => false,
    }
}

fn type_list(schema: &Node) -> Vec<&str> {
    match schema.get("type") {
        Some(Node::Str(s)) => vec![s.as_str()],
        Some(Node::Array(a)) => a.iter().filter_map(Node::as_str).collect(),
        _ => vec![],
    }
}

fn is_nullable(schema: &Node) -> bool {
    schema.bool_of("nullable")
        || schema.bool_of("x-nullable")
        || type_list(schema).contains(&"null")
}

fn int_type(format: Option<&str>, schema: &Node) -> Primitive {
    match format {
        Some("int32") => Primitive::I32,
        Some("int8") => Primitive::I8,
        Some("int16") => Primitive::I16,
        Some("uint8") => Primitive::U8,
        Some("uint16") => Primitive::U16,
        Some("uint32") => Primitive::U32,
        Some("uint64") | Some("uint") => Primitive::U64,
        _ => {
            if schema
                .get("minimum")
                .is_some_and(|m| matches!(m, Node::Int(i) if *i >= 0))
                && matches!(schema.get("maximum"), Some(Node::Float(f)) if *f > i64::MAX as f64)
            {
                Primitive::U64
            } else {
                Primitive::I64
            }
        }
    }
}

/// Does this schema need its own named model (struct, enum, oneOf)?
fn needs_model(schema: &Node) -> bool {
    let Node::Object(m) = schema else {
        return false;
    };
    if m.contains_key("$ref") {
        return false;
    }
    if let Some(Node::Object(props)) = m.get("properties") {
        if !props.is_empty() {
            return true;
        }
    }
    if let Some(Node::Array(parts)) = m.get("allOf") {
        let non_trivial = parts
            .iter()
            .filter(|p| !is_null_schema(p) && !is_annotation_only(p))
            .count();
        if non_trivial > 1
            || (non_trivial == 1 && parts.iter().any(|p| p.get("properties").is_some()))
        {
            return true;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Node::Array(parts)) = m.get(key) {
            let non_null: Vec<&Node> = parts.iter().filter(|p| !is_null_schema(p)).collect();
            if non_null.len() > 1 {
                return true;
            }
        }
    }
    let types = type_list(schema);
    if let Some(Node::Array(vals)) = m.get("enum") {
        let strings = vals.iter().filter(|v| matches!(v, Node::Str(_))).count();
        if strings > 0 && (types.is_empty() || types.contains(&"string")) {
            return true;
        }
    }
    false
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(doc: &'a Node) -> Self {
        Ctx {
            doc,
            warnings: Vec::new(),
            models: Vec::new(),
            type_scope: Scope::new(),
            by_pointer: HashMap::new(),
            filled: Vec::new(),
            depth: 0,
        }
    }

    pub(crate) fn warn(&mut self, pointer: &str, message: impl Into<String>) {
        self.warnings.push(Warning::new(pointer, message));
    }

    fn new_model(&mut self, ptr: &str, hint: &str) -> usize {
        let name = self.type_scope.type_name(hint);
        let id = self.models.len();
        self.models.push(Model {
            name,
            pointer: ptr.to_string(),
            doc: None,
            deprecated: false,
            nullable: false,
            derive_default: false,
            in_request: false,
            kind: ModelKind::Alias(Ty::Any),
        });
        self.filled.push(false);
        self.by_pointer.insert(ptr.to_string(), id);
        id
    }

    /// Register then build every `components/schemas` entry (names first, so component
    /// names win over generated names).
    pub(crate) fn build_components(&mut self) {
        let Some(Node::Object(schemas)) = lookup(self.doc, "/components/schemas") else {
            return;
        };
        let entries: Vec<(String, Node)> = schemas
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut ids = Vec::new();
        for (name, _) in &entries {
            let ptr = format!("/components/schemas/{}", escape_token(name));
            ids.push(self.new_model(&ptr, name));
        }
        for ((name, schema), id) in entries.iter().zip(ids) {
            let ptr = format!("/components/schemas/{}", escape_token(name));
            if !self.filled[id] {
                self.fill_model(id, schema, &ptr);
            }
        }
    }

    /// Fill a registered model from its schema.
    fn fill_model(&mut self, id: usize, schema: &Node, ptr: &str) {
        self.filled[id] = true;
        self.models[id].doc = schema_doc(schema);
        self.models[id].deprecated = schema.bool_of("deprecated");
        let name = self.models[id].name.clone();
        if !needs_model(schema) {
            // an alias: array, map, primitive, $ref, ...
            // placeholder to stop self-recursion through the alias
            self.models[id].kind = ModelKind::Alias(Ty::Any);
            let ty = self.inline_ty(schema, ptr, &name);
            self.models[id].kind = ModelKind::Alias(ty);
            return;
        }
        self.models[id].nullable = is_nullable(schema);
        let kind = self.model_kind(schema, ptr, &name);
        self.models[id].kind = kind;
    }

    fn model_kind(&mut self, schema: &Node, ptr: &str, name: &str) -> ModelKind {
        let has_props = schema
            .get("properties")
            .and_then(Node::as_object)
            .is_some_and(|p| !p.is_empty());
        if !has_props {
            for key in ["oneOf", "anyOf"] {
                if let Some(Node::Array(parts)) = schema.get(key) {
                    let non_null: Vec<(usize, &Node)> = parts
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| !is_null_schema(p))
                        .collect();
                    if non_null.len() > 1 {
                        return self.one_of(schema, &non_null, &format!("{ptr}/{key}"), name);
                    }
                }
            }
            if let Some(Node::Array(vals)) = schema.get("enum") {
                let types = type_list(schema);
                let objecty = types.contains(&"object") || schema.get("properties").is_some();
                if vals.iter().any(|v| matches!(v, Node::Str(_))) && !objecty {
                    return self.string_enum(vals, ptr);
                }
            }
        }
        let mut fields = Vec::new();
        let mut scope = Scope::new();
        let mut additional = None;
        self.merge_object(
            schema,
            ptr,
            name,
            &mut fields,
            &mut scope,
            &mut additional,
            0,
        );
        if (schema.get("oneOf").is_some() || schema.get("anyOf").is_some()) && has_props {
            self.warn(ptr, "oneOf/anyOf next to properties: only the properties are modelled, other keys are kept in `additional_properties`");
            if additional.is_none() {
                additional = Some(Ty::Any);
            }
        }
        let additional = additional.map(|t| {
            let ident = scope.snake("additional_properties");
            (ident, t)
        });
        ModelKind::Struct { fields, additional }
    }

    fn string_enum(&mut self, vals: &[Node], ptr: &str) -> ModelKind {
        let mut scope = Scope::new();
        scope.reserve(&["Other"]);
        let mut variants = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for v in vals {
            let wire = match v {
                Node::Str(s) => s.clone(),
                Node::Null => continue,
                other => {
                    let j = other.to_json();
                    self.warn(
                        ptr,
                        format!("non-string value {j} in a string enum: kept as its text"),
                    );
                    j
                }
            };
            if !seen.insert(wire.clone()) {
                continue;
            }
            let ident = scope.variant(if wire.is_empty() { "Empty" } else { &wire });
            variants.push((ident, wire));
        }
        ModelKind::StringEnum { variants }
    }

    fn one_of(
        &mut self,
        schema: &Node,
        parts: &[(usize, &Node)],
        ptr: &str,
        name: &str,
    ) -> ModelKind {
        // all branches string consts/enums -> a string enum
        let all_str_consts = parts.iter().all(|(_, p)| {
            let p = self.deref(p).map(|(n, _)| n).unwrap_or(p);
            (p.get("const").is_some_and(|c| matches!(c, Node::Str(_))))
                || (p
                    .get("enum")
                    .and_then(Node::as_array)
                    .is_some_and(|a| a.iter().all(|v| matches!(v, Node::Str(_)))))
        });
        if all_str_consts {
            let mut vals = Vec::new();
            for (_, p) in parts {
                let p = self
                    .deref(p)
                    .map(|(n, _)| n.clone())
                    .unwrap_or((*p).clone());
                if let Some(c) = p.get("const") {
                    vals.push(c.clone());
                }
                if let Some(Node::Array(a)) = p.get("enum") {
                    vals.extend(a.iter().cloned());
                }
            }
            return self.string_enum(&vals, ptr);
        }
        let disc = schema
            .get("discriminator")
            .and_then(|d| d.str_of("propertyName"))
            .map(str::to_string);
        let mapping: Vec<(String, String)> = schema
            .get("discriminator")
            .and_then(|d| d.get("mapping"))
            .and_then(Node::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let tagged = disc.is_some() && parts.iter().all(|(_, p)| p.get("$ref").is_some());
        if disc.is_some() && !tagged {
            self.warn(
                ptr,
                "discriminator with inline branches: generated as an untagged enum",
            );
        }
        let mut scope = Scope::new();
        scope.reserve(&["Other"]);
        let mut variants = Vec::new();
        for (i, p) in parts {
            let bptr = format!("{ptr}/{i}");
            let (vname, tags) = match p.str_of("$ref") {
                Some(r) => {
                    let target = r.rsplit('/').next().map(unescape_token).unwrap_or_default();
                    let mut tags: Vec<String> = mapping
                        .iter()
                        .filter(|(_, v)| {
                            v.as_str() == r || v.rsplit('/').next() == Some(target.as_str())
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    if tags.is_empty() {
                        tags.push(target.clone());
                    }
                    (target, tags)
                }
                None => {
                    let n =
                        p.str_of("title").map(str::to_string).unwrap_or_else(|| {
                            match type_list(p).first() {
                                Some(&"string") => "String".into(),
                                Some(&"integer") => "Integer".into(),
                                Some(&"number") => "Number".into(),
                                Some(&"boolean") => "Boolean".into(),
                                Some(&"array") => "Array".into(),
                                _ => format!("Variant{i}"),
                            }
                        });
                    (n, vec![])
                }
            };
            let ty = self.schema_ty(p, &bptr, &format!("{name}{}", names::camel(&vname)));
            let ident = scope.variant(&vname);
            variants.push(Variant {
                name: ident,
                ty,
                tags,
            });
        }
        ModelKind::OneOf {
            variants,
            discriminator: if tagged { disc } else { None },
        }
    }

    /// Resolve `$ref` to (node, pointer) within the document.
    pub(crate) fn deref(&self, n: &Node) -> Option<(&'a Node, String)> {
        let r = n.str_of("$ref")?;
        let ptr = r.strip_prefix('#')?;
        lookup(self.doc, ptr).map(|t| (t, ptr.to_string()))
    }

    /// Follow `$ref` chains (for parameters, responses, request bodies).
    pub(crate) fn resolve(&mut self, n: &Node, at: &str) -> (Node, String) {
        let mut cur = n.clone();
        let mut ptr = at.to_string();
        for _ in 0..16 {
            match cur.str_of("$ref") {
                Some(r) => match r
                    .strip_prefix('#')
                    .and_then(|p| lookup(self.doc, p).map(|t| (t.clone(), p.to_string())))
                {
                    Some((t, p)) => {
                        cur = t;
                        ptr = p;
                    }
                    None => {
                        self.warn(&ptr, format!("unresolvable $ref `{r}`"));
                        return (Node::Object(Default::default()), ptr);
                    }
                },
                None => return (cur, ptr),
            }
        }
        self.warn(at, "$ref chain too long or circular");
        (Node::Object(Default::default()), ptr)
    }

    #[allow(clippy::too_many_arguments)]
    fn merge_object(
        &mut self,
        schema: &Node,
        ptr: &str,
        owner: &str,
        fields: &mut Vec<Field>,
        scope: &mut Scope,
        additional: &mut Option<Ty>,
        depth: usize,
    ) {
        if depth > 16 {
            self.warn(ptr, "allOf nesting too deep");
            return;
        }
        if let Some(Node::Array(parts)) = schema.get("allOf") {
            for (i, part) in parts.iter().enumerate() {
                let pptr = format!("{ptr}/allOf/{i}");
                let (pnode, pp) = match self.deref(part) {
                    Some((n, p)) => (n.clone(), p),
                    None if part.get("$ref").is_some() => {
                        self.warn(&pptr, "unresolvable $ref in allOf: ignored");
                        continue;
                    }
                    None => (part.clone(), pptr.clone()),
                };
                let objecty = pnode.get("properties").is_some()
                    || pnode.get("allOf").is_some()
                    || type_list(&pnode).contains(&"object")
                    || pnode.get("additionalProperties").is_some();
                let poly = pnode.get("oneOf").is_some() || pnode.get("anyOf").is_some();
                if objecty && !(poly && pnode.get("properties").is_none()) {
                    self.merge_object(&pnode, &pp, owner, fields, scope, additional, depth + 1);
                } else if is_null_schema(&pnode)
                    || pnode.as_object().is_some_and(|m| {
                        m.keys().all(|k| {
                            matches!(
                                k.as_str(),
                                "description"
                                    | "title"
                                    | "nullable"
                                    | "example"
                                    | "deprecated"
                                    | "readOnly"
                                    | "writeOnly"
                                    | "default"
                                    | "required"
                            )
                        })
                    })
                {
                    // annotations only; a bare `required` list applies to merged fields
                    if let Some(Node::Array(req)) = pnode.get("required") {
                        for r in req.iter().filter_map(Node::as_str) {
                            for f in fields.iter_mut().filter(|f| f.wire == r) {
                                if let Ty::Option(inner) = &f.ty {
                                    if f.optional {
                                        if !f.nullable {
                                            f.ty = (**inner).clone();
                                        }
                                        f.optional = false;
                                    }
                                }
                            }
                        }
                    }
                } else {
                    self.warn(&pptr, "allOf part that is not an object (oneOf/primitive): its content is kept in `additional_properties`");
                    *additional = Some(Ty::Any);
                }
            }
        }
        let required: Vec<String> = schema
            .get("required")
            .and_then(Node::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Node::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(Node::Object(props)) = schema.get("properties") {
            for (wire, prop) in props {
                let pptr = format!("{ptr}/properties/{}", escape_token(wire));
                let hint = format!("{owner}{}", names::camel(wire));
                let mut ty = self.schema_ty(prop, &pptr, &hint);
                let read_only = prop.bool_of("readOnly")
                    || self.deref(prop).is_some_and(|(n, _)| n.bool_of("readOnly"));
                let write_only = prop.bool_of("writeOnly");
                let optional = !required.contains(wire) || read_only || write_only;
                let nullable = ty.is_option();
                if optional {
                    ty = ty.optional();
                }
                let field = Field {
                    name: String::new(),
                    wire: wire.clone(),
                    ty,
                    optional,
                    nullable,
                    tri_state: false,
                    // a candidate: `lower` keeps it only where it fits the field's type
                    default: (optional && !nullable && !read_only && !write_only)
                        .then(|| {
                            prop.get("default")
                                .or_else(|| self.deref(prop).and_then(|(n, _)| n.get("default")))
                                .map(Node::to_value)
                        })
                        .flatten(),
                    doc: schema_doc(prop),
                    deprecated: prop.bool_of("deprecated"),
                };
                if let Some(existing) = fields.iter_mut().find(|f| f.wire == *wire) {
                    let name = existing.name.clone();
                    *existing = Field { name, ..field };
                } else {
                    let name = scope.snake(wire);
                    fields.push(Field { name, ..field });
                }
            }
        }
        // required names from a part without properties apply to fields merged earlier
        for f in fields.iter_mut() {
            if required.contains(&f.wire)
                && f.optional
                && schema
                    .get("properties")
                    .and_then(|p| p.get(&f.wire))
                    .is_none()
            {
                if let Ty::Option(inner) = &f.ty {
                    if !f.nullable {
                        f.ty = (**inner).clone();
                    }
                    f.optional = false;
                }
            }
        }
        match schema.get("additionalProperties") {
            Some(Node::Object(m)) if !m.is_empty() => {
                let ap = schema
                    .get("additionalProperties")
                    .cloned()
                    .unwrap_or(Node::Null);
                let t = self.schema_ty(
                    &ap,
                    &format!("{ptr}/additionalProperties"),
                    &format!("{owner}Value"),
                );
                *additional = Some(t);
            }
            Some(Node::Object(_)) | Some(Node::Bool(true)) if additional.is_none() => {
                *additional = Some(Ty::Any);
            }
            _ => {}
        }
    }

    /// The type for a schema used somewhere (property, item, parameter, body).
    pub(crate) fn schema_ty(&mut self, schema: &Node, ptr: &str, hint: &str) -> Ty {
        if self.depth > MAX_DEPTH {
            self.warn(ptr, "schema nesting too deep: using serde_json::Value");
            return Ty::Any;
        }
        self.depth += 1;
        let t = self.schema_ty_inner(schema, ptr, hint);
        self.depth -= 1;
        t
    }

    fn schema_ty_inner(&mut self, schema: &Node, ptr: &str, hint: &str) -> Ty {
        let Node::Object(m) = schema else {
            if !matches!(schema, Node::Bool(true)) {
                self.warn(ptr, "schema is not an object: using serde_json::Value");
            }
            return Ty::Any;
        };
        if let Some(r) = m.get("$ref") {
            let Some(r) = r.as_str() else {
                self.warn(ptr, "$ref is not a string: using serde_json::Value");
                return Ty::Any;
            };
            let nullable_sibling = is_nullable(schema);
            let t = self.ref_ty(r, ptr);
            return if nullable_sibling { t.optional() } else { t };
        }
        let nullable = is_nullable(schema);
        let t = self.non_null_ty(schema, ptr, hint);
        if nullable {
            t.optional()
        } else {
            t
        }
    }

    fn ref_ty(&mut self, r: &str, at: &str) -> Ty {
        let Some(p) = r.strip_prefix('#') else {
            self.warn(
                at,
                format!("external $ref `{r}` not resolved: using serde_json::Value"),
            );
            return Ty::Any;
        };
        if let Some(&id) = self.by_pointer.get(p) {
            return if self.models[id].nullable {
                Ty::Model(id).optional()
            } else {
                Ty::Model(id)
            };
        }
        let Some(target) = lookup(self.doc, p) else {
            self.warn(
                at,
                format!("$ref `{r}` points at nothing: using serde_json::Value"),
            );
            return Ty::Any;
        };
        let hint = p.rsplit('/').next().map(unescape_token).unwrap_or_default();
        let hint = if hint.chars().all(|c| c.is_ascii_digit()) || hint.is_empty() {
            format!("Ref{}", names::camel(p))
        } else {
            hint
        };
        let target = target.clone();
        self.schema_ty(&target, p, &hint)
    }

    /// A schema whose nullability was already handled.
    fn non_null_ty(&mut self, schema: &Node, ptr: &str, hint: &str) -> Ty {
        if needs_model(schema) {
            if let Some(&id) = self.by_pointer.get(ptr) {
                return Ty::Model(id);
            }
            let id = self.new_model(ptr, hint);
            self.fill_model(id, schema, ptr);
            // nullable is applied by the caller for inline schemas
            self.models[id].nullable = false;
            return Ty::Model(id);
        }
        self.inline_ty(schema, ptr, hint)
    }

    /// Types that need no model of their own.
    fn inline_ty(&mut self, schema: &Node, ptr: &str, hint: &str) -> Ty {
        if let Some(r) = schema.str_of("$ref") {
            return self.ref_ty(r, ptr);
        }
        // single-branch allOf/oneOf/anyOf (after dropping null branches)
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(Node::Array(parts)) = schema.get(key) {
                let non_null: Vec<(usize, &Node)> = parts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| !is_null_schema(p))
                    .filter(|(_, p)| key != "allOf" || !is_annotation_only(p))
                    .collect();
                let nulls = non_null.len() < parts.len();
                if let [(i, only)] = non_null.as_slice() {
                    let t = self.schema_ty(only, &format!("{ptr}/{key}/{i}"), hint);
                    return if nulls { t.optional() } else { t };
                }
                if non_null.is_empty() && !parts.is_empty() {
                    return Ty::Any.optional();
                }
            }
        }
        let types: Vec<&str> = type_list(schema)
            .into_iter()
            .filter(|t| *t != "null")
            .collect();
        let ty = match types.as_slice() {
            [one] => *one,
            [] => {
                if schema.get("properties").is_some()
                    || schema.get("additionalProperties").is_some()
                {
                    "object"
                } else if schema.get("items").is_some() {
                    "array"
                } else if let Some(c) = schema.get("const").or_else(|| {
                    schema
                        .get("enum")
                        .and_then(Node::as_array)
                        .and_then(|a| a.first())
                }) {
                    match c {
                        Node::Str(_) => "string",
                        Node::Int(_) => "integer",
                        Node::Float(_) => "number",
                        Node::Bool(_) => "boolean",
                        _ => "",
                    }
                } else {
                    ""
                }
            }
            _ => {
                self.warn(
                    ptr,
                    format!("multiple types {types:?}: using serde_json::Value"),
                );
                return Ty::Any;
            }
        };
        let format = schema.str_of("format");
        match ty {
            "string" => Ty::Primitive(Primitive::String),
            "integer" => Ty::Primitive(int_type(format, schema)),
            "number" => match format {
                Some("float") => Ty::Primitive(Primitive::F32),
                Some("int32") => Ty::Primitive(Primitive::I32),
                Some("int64") => Ty::Primitive(Primitive::I64),
                _ => Ty::Primitive(Primitive::F64),
            },
            "boolean" => Ty::Primitive(Primitive::Bool),
            "array" => {
                let item = match schema.get("items") {
                    Some(items @ Node::Object(_)) => {
                        self.schema_ty(items, &format!("{ptr}/items"), &format!("{hint}Item"))
                    }
                    Some(Node::Array(_)) => {
                        self.warn(
                            ptr,
                            "tuple-style `items` array: items are serde_json::Value",
                        );
                        Ty::Any
                    }
                    _ => Ty::Any,
                };
                Ty::Vec(Box::new(item))
            }
            "object" => match schema.get("additionalProperties") {
                Some(ap @ Node::Object(m)) if !m.is_empty() => {
                    let t = self.schema_ty(
                        ap,
                        &format!("{ptr}/additionalProperties"),
                        &format!("{hint}Value"),
                    );
                    Ty::Map(Box::new(t))
                }
                _ => Ty::Map(Box::new(Ty::Any)),
            },
            "file" => Ty::Primitive(Primitive::String),
            "" => Ty::Any,
            other => {
                self.warn(
                    ptr,
                    format!("unknown type `{other}`: using serde_json::Value"),
                );
                Ty::Any
            }
        }
    }

    /// Wrap struct fields and enum variants that close a cycle of direct containment in `Box`,
    /// and turn aliases that refer to themselves into newtypes.
    pub(crate) fn finish(&mut self) {
        // 1. alias cycles: alias -> all names mentioned
        let n = self.models.len();
        let alias_edges: Vec<Vec<usize>> = self
            .models
            .iter()
            .map(|m| match &m.kind {
                ModelKind::Alias(t) => {
                    let mut v = Vec::new();
                    t.all_models(&mut v);
                    v
                }
                _ => vec![],
            })
            .collect();
        let sccs = tarjan(n, &alias_edges);
        for comp in &sccs {
            let cyclic = comp.len() > 1 || alias_edges[comp[0]].contains(&comp[0]);
            if cyclic {
                for &i in comp {
                    if let ModelKind::Alias(t) = &self.models[i].kind {
                        self.models[i].kind = ModelKind::Newtype(t.clone());
                    }
                }
            }
        }
        // 2. direct containment cycles
        let edges: Vec<Vec<usize>> = self
            .models
            .iter()
            .map(|m| {
                let mut v = Vec::new();
                match &m.kind {
                    ModelKind::Struct { fields, additional } => {
                        fields.iter().for_each(|f| f.ty.direct_models(&mut v));
                        if let Some((_, t)) = additional {
                            t.direct_models(&mut v);
                        }
                    }
                    ModelKind::OneOf { variants, .. } => {
                        variants.iter().for_each(|x| x.ty.direct_models(&mut v))
                    }
                    ModelKind::Alias(t) | ModelKind::Newtype(t) => t.direct_models(&mut v),
                    _ => {}
                }
                v
            })
            .collect();
        let sccs = tarjan(n, &edges);
        let mut comp_of = vec![0usize; n];
        for (ci, comp) in sccs.iter().enumerate() {
            for &i in comp {
                comp_of[i] = ci;
            }
        }
        let boxit = |t: &Ty, me: usize| -> Option<Ty> {
            let mut v = Vec::new();
            t.direct_models(&mut v);
            if v.iter()
                .any(|&x| comp_of[x] == comp_of[me] && (x == me || sccs[comp_of[me]].len() > 1))
            {
                Some(match t {
                    Ty::Option(inner) => Ty::Option(Box::new(Ty::Boxed(inner.clone()))),
                    other => Ty::Boxed(Box::new(other.clone())),
                })
            } else {
                None
            }
        };
        for me in 0..n {
            let mut kind = std::mem::replace(&mut self.models[me].kind, ModelKind::Alias(Ty::Any));
            match &mut kind {
                ModelKind::Struct { fields, .. } => {
                    for f in fields.iter_mut() {
                        if let Some(t) = boxit(&f.ty, me) {
                            f.ty = t;
                        }
                    }
                }
                ModelKind::OneOf { variants, .. } => {
                    for v in variants.iter_mut() {
                        if let Some(t) = boxit(&v.ty, me) {
                            v.ty = t;
                        }
                    }
                }
                ModelKind::Newtype(t) => {
                    if let Some(nt) = boxit(t, me) {
                        *t = nt;
                    }
                }
                _ => {}
            }
            self.models[me].kind = kind;
        }
    }
}

/// Tarjan's strongly connected components (iterative).
fn tarjan(n: usize, edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0;
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(start, 0)];
        index[start] = counter;
        low[start] = counter;
        counter += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei];
                *ei += 1;
                if w >= n {
                    continue;
                }
                if index[w] == usize::MAX {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out
}
