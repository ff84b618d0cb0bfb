//! Lowering, part two: paths and operations → IR groups and operations.

use indexmap::IndexMap;

use crate::examples;
use crate::model::{schema_doc, Ctx, Primitive, Ty};
use crate::names::{self, Scope};
use crate::node::{escape_token, Node};

pub(crate) const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub(crate) use crate::ir::{
    AuthKind, Body, BodyKind, Encoding, Group, Location as Loc, MultipartField as MpField,
    Operation, Param, PartKind, Response as Resp, ResponseBody as RespBody, SecurityScheme,
    StatusKey, Style,
};

/// What lowering the paths yields.
pub(crate) struct Lowered {
    pub groups: Vec<Group>,
    pub schemes: Vec<SecurityScheme>,
    /// the scheme most operations use
    pub primary_scheme: Option<usize>,
}

/// Names a group's client accessor or module may not take.
const RESERVED_ACCESSORS: &[&str] = &[
    "mod",
    "super",
    "self",
    "crate",
    "models",
    "auth",
    "new",
    "http",
    "from_url",
    "clone",
    "fmt",
    "with_http",
    // crates the generated code names by path (`keel::…`, `serde::…`): a module of that
    // name at the crate root would shadow them
    "keel",
    "serde",
    "serde_json",
    "std",
    "core",
    "alloc",
];

/// Names a builder's setters may not take (its own methods).
const RESERVED_SETTERS: &[&str] = &[
    "send",
    "send_blocking",
    "detailed",
    "detailed_blocking",
    "build",
    "rb",
    "into_request",
];

/// Count operations the way the generator must cover them.
pub(crate) fn count_operations(doc: &Node) -> usize {
    let Some(Node::Object(paths)) = doc.get("paths") else {
        return 0;
    };
    paths
        .values()
        .map(|item| match item {
            Node::Object(m) => m.keys().filter(|k| METHODS.contains(&k.as_str())).count(),
            _ => 0,
        })
        .sum()
}

fn reason(code: u16) -> Option<&'static str> {
    Some(match code {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        204 => "NoContent",
        301 => "MovedPermanently",
        302 => "Found",
        304 => "NotModified",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => return None,
    })
}

fn is_json(ct: &str) -> bool {
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct == "application/json" || ct.ends_with("+json") || ct == "text/json"
}

fn is_text(ct: &str) -> bool {
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/") || ct.contains("xml")
}

/// `{}`, or a schema with nothing but annotations: it says nothing about the body.
fn is_empty_schema(s: &Node) -> bool {
    s.as_object().is_some_and(|m| {
        m.keys()
            .all(|k| matches!(k.as_str(), "description" | "title" | "example" | "examples"))
    })
}

fn is_binary_schema(s: &Node) -> bool {
    matches!(s.str_of("format"), Some("binary") | Some("byte"))
        || s.get("contentMediaType").is_some()
        || s.get("contentEncoding").is_some()
        || s.str_of("type") == Some("file")
}

impl Ctx<'_> {
    pub(crate) fn build_api(&mut self) -> Lowered {
        let schemes = self.security_schemes();
        let global_security = self.doc.get("security").cloned();
        let tag_docs: Vec<(String, String)> = self
            .doc
            .get("tags")
            .and_then(Node::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| {
                        Some((
                            t.str_of("name")?.to_string(),
                            t.str_of("description")?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut groups: IndexMap<String, Group> = IndexMap::new();
        let mut module_scope = Scope::new();
        module_scope.reserve(RESERVED_ACCESSORS);
        let mut op_scope = Scope::new();
        let mut type_scopes: IndexMap<String, Scope> = IndexMap::new();
        let mut uses: Vec<usize> = vec![0; schemes.len()];
        let paths: Vec<(String, Node)> = match self.doc.get("paths") {
            Some(Node::Object(p)) => p.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => {
                self.warn("/paths", "`paths` is not an object: no operations");
                vec![]
            }
            None => vec![],
        };
        for (path, item) in paths {
            let item_ptr = format!("/paths/{}", escape_token(&path));
            let (item, _) = self.resolve(&item, &item_ptr);
            let Node::Object(item_map) = &item else {
                self.warn(&item_ptr, "path item is not an object: skipped");
                continue;
            };
            let path_params = item_map.get("parameters").cloned();
            for (method, op) in item_map {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let ptr = format!("{item_ptr}/{method}");
                let empty = Node::Object(IndexMap::new());
                let op = if matches!(op, Node::Object(_)) {
                    op
                } else {
                    self.warn(
                        &ptr,
                        "operation is not an object: generated without parameters",
                    );
                    &empty
                };
                let tag = op
                    .get("tags")
                    .and_then(Node::as_array)
                    .and_then(|t| t.first())
                    .and_then(Node::as_str)
                    .unwrap_or("default")
                    .to_string();
                if !groups.contains_key(&tag) {
                    let module = module_scope.snake(&tag);
                    let mut scope = Scope::new();
                    let type_name = scope.type_name(&format!("{tag}_api"));
                    type_scopes.insert(module.clone(), scope);
                    let doc = tag_docs
                        .iter()
                        .find(|(n, _)| *n == tag)
                        .map(|(_, d)| d.clone());
                    groups.insert(
                        tag.clone(),
                        Group {
                            tag: tag.clone(),
                            accessor: module.clone(),
                            module,
                            type_name,
                            doc,
                            operations: Vec::new(),
                        },
                    );
                }
                let module = groups[&tag].module.clone();
                let base = match op.str_of("operationId") {
                    Some(id) if !names::snake(id).is_empty() => names::snake(id),
                    _ => names::snake(&format!("{method} {path}")),
                };
                let name = op_scope.snake(&base);
                let mut type_scope = type_scopes.shift_remove(&module).unwrap_or_default();
                let builder = type_scope.type_name(&name);
                let response_type = type_scope.type_name(&format!("{name}_response"));
                let security = op_security(op, global_security.as_ref(), &schemes);
                for s in &security {
                    if let Some(i) = schemes.iter().position(|x| &x.wire == s) {
                        uses[i] += 1;
                    }
                }
                let o = self.operation(
                    op,
                    &ptr,
                    method,
                    &path,
                    path_params.as_ref(),
                    (name, builder, response_type),
                    security,
                    &mut type_scope,
                );
                type_scopes.insert(module.clone(), type_scope);
                if let Some(g) = groups.get_mut(&tag) {
                    g.operations.push(o);
                }
            }
        }
        let primary_scheme = uses
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .max_by_key(|(i, n)| (**n, usize::MAX - i))
            .map(|(i, _)| i)
            .or(if schemes.is_empty() { None } else { Some(0) });
        Lowered {
            groups: groups.into_values().collect(),
            schemes,
            primary_scheme,
        }
    }

    fn security_schemes(&mut self) -> Vec<SecurityScheme> {
        let Some(Node::Object(defs)) = crate::node::lookup(self.doc, "/components/securitySchemes")
        else {
            return vec![];
        };
        let defs = defs.clone();
        let mut scope = Scope::new();
        let mut out = Vec::new();
        for (name, d) in defs {
            let ptr = format!("/components/securitySchemes/{}", escape_token(&name));
            let (d, _) = self.resolve(&d, &ptr);
            let kind = match d.str_of("type") {
                Some("apiKey") => {
                    let param = d.str_of("name").unwrap_or("X-API-Key").to_string();
                    match d.str_of("in") {
                        Some("query") => AuthKind::ApiKeyQuery(param),
                        Some("cookie") => AuthKind::ApiKeyCookie(param),
                        _ => AuthKind::ApiKeyHeader(param),
                    }
                }
                Some("http") => match d.str_of("scheme").map(str::to_ascii_lowercase).as_deref() {
                    Some("basic") => AuthKind::Basic,
                    Some("bearer") => AuthKind::Bearer,
                    other => AuthKind::Unsupported(format!("http scheme {other:?}")),
                },
                Some("oauth2") => {
                    let flow = d.get("flows").and_then(|f| f.get("clientCredentials"));
                    match flow.and_then(|f| f.str_of("tokenUrl")) {
                        Some(url) if !url.trim().is_empty() => AuthKind::OAuth2ClientCredentials {
                            token_url: url.trim().to_string(),
                            scopes: match flow.and_then(|f| f.get("scopes")) {
                                Some(Node::Object(s)) => s.keys().cloned().collect(),
                                _ => Vec::new(),
                            },
                        },
                        _ => AuthKind::OAuth2,
                    }
                }
                Some("openIdConnect") => AuthKind::OAuth2,
                other => AuthKind::Unsupported(format!("type {other:?}")),
            };
            match &kind {
                AuthKind::Unsupported(what) => self.warn(&ptr, format!("unsupported security scheme ({what}): no constructor generated; build a keel::HttpAuthenticatedClient yourself")),
                AuthKind::ApiKeyCookie(_) => self.warn(&ptr, "apiKey in a cookie: the generated constructor sets the cookie on the client"),
                _ => {}
            }
            out.push(SecurityScheme {
                name: scope.snake(&name),
                wire: name,
                kind,
                doc: d.str_of("description").map(str::to_string),
            });
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn operation(
        &mut self,
        op: &Node,
        ptr: &str,
        method: &str,
        path: &str,
        path_params: Option<&Node>,
        (name, builder, response_type): (String, String, String),
        security: Vec<String>,
        type_scope: &mut Scope,
    ) -> Operation {
        let op_camel = names::camel(&name);
        let mut doc_parts = Vec::new();
        if let Some(s) = op.str_of("summary") {
            doc_parts.push(s.trim().to_string());
        }
        if let Some(d) = op.str_of("description") {
            if Some(d.trim()) != op.str_of("summary").map(str::trim) {
                doc_parts.push(d.trim().to_string());
            }
        }
        doc_parts.push(format!("`{} {}`", method.to_ascii_uppercase(), path));

        let params = self.parameters(op, ptr, path, path_params, &op_camel);
        let body = match op.get("requestBody") {
            Some(rb) => self.request_body(rb, &format!("{ptr}/requestBody"), &op_camel, type_scope),
            None => None,
        };
        let responses = self.responses(op, ptr, &op_camel);
        let event_stream = self.event_stream(op, ptr, &op_camel);
        let mut accept: Vec<String> = Vec::new();
        for r in &responses {
            if let Some(mt) = &r.media_type {
                if !accept.contains(mt) {
                    accept.push(mt.clone());
                }
            }
        }
        Operation {
            operation_id: op.str_of("operationId").map(str::to_string),
            pointer: ptr.to_string(),
            name,
            builder,
            response_type,
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            doc: Some(doc_parts.join("\n\n")),
            deprecated: op.bool_of("deprecated"),
            params,
            body,
            responses,
            security,
            accept,
            event_stream,
            pagination_override: op.get("x-keel-pagination").map(Node::to_value),
        }
    }

    /// The `text/event-stream` success response of an operation, if any,
    /// with the type of its events' data (`itemSchema` as OpenAPI 3.2
    /// writes it, or `x-keel-event-schema`).
    fn event_stream(
        &mut self,
        op: &Node,
        ptr: &str,
        op_camel: &str,
    ) -> Option<crate::ir::EventStream> {
        let Some(Node::Object(rs)) = op.get("responses") else {
            return None;
        };
        let rs = rs.clone();
        for (code, r) in rs {
            if !code.starts_with('2') {
                continue;
            }
            let rptr = format!("{ptr}/responses/{}", escape_token(&code));
            let (r, rp) = self.resolve(&r, &rptr);
            let Some(Node::Object(content)) = r.get("content") else {
                continue;
            };
            let Some((ct, m)) = content.iter().find(|(ct, _)| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("text/event-stream")
            }) else {
                continue;
            };
            let (ct, m) = (ct.clone(), m.clone());
            let schema = m
                .get("itemSchema")
                .or_else(|| m.get("x-keel-event-schema"))
                .cloned();
            let data = schema.map(|s| {
                let key = if m.get("itemSchema").is_some() {
                    "itemSchema"
                } else {
                    "x-keel-event-schema"
                };
                self.schema_ty(
                    &s,
                    &format!("{rp}/content/{}/{key}", escape_token(&ct)),
                    &format!("{op_camel}Event"),
                )
            });
            return Some(crate::ir::EventStream { data });
        }
        None
    }

    fn parameters(
        &mut self,
        op: &Node,
        ptr: &str,
        path: &str,
        path_params: Option<&Node>,
        op_camel: &str,
    ) -> Vec<Param> {
        // parameters: path-level, overridden by operation-level (same name + in)
        let mut raw: Vec<(Node, String)> = Vec::new();
        for (list, lptr) in [
            (
                path_params,
                ptr.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string() + "/parameters",
            ),
            (op.get("parameters"), format!("{ptr}/parameters")),
        ] {
            let Some(list) = list else { continue };
            let Some(items) = list.as_array() else {
                self.warn(&lptr, "`parameters` is not an array: ignored");
                continue;
            };
            for (i, p) in items.iter().enumerate() {
                let (p, pp) = self.resolve(p, &format!("{lptr}/{i}"));
                let key = (
                    p.str_of("name").map(str::to_string),
                    p.str_of("in").map(str::to_string),
                );
                raw.retain(|(q, _)| {
                    (
                        q.str_of("name").map(str::to_string),
                        q.str_of("in").map(str::to_string),
                    ) != key
                });
                raw.push((p, pp));
            }
        }
        let mut scope = Scope::new();
        scope.reserve(RESERVED_SETTERS);
        scope.reserve(&["body", "self"]);
        let mut params = Vec::new();
        for (p, pp) in raw {
            let Some(wire) = p.str_of("name").map(str::to_string) else {
                self.warn(&pp, "parameter without a name: skipped");
                continue;
            };
            let loc = match p.str_of("in") {
                Some("path") => Loc::Path,
                Some("query") => Loc::Query,
                Some("header") if wire.eq_ignore_ascii_case("cookie") => Loc::CookieHeader,
                Some("header")
                    if ["accept", "content-type", "authorization"]
                        .contains(&wire.to_ascii_lowercase().as_str()) =>
                {
                    // OpenAPI: such header parameters SHALL be ignored (the client sets them)
                    self.warn(
                        &pp,
                        format!("header parameter `{wire}` is set by the client (OpenAPI ignores it): not generated"),
                    );
                    continue;
                }
                Some("header") => Loc::Header,
                Some("cookie") => Loc::Cookie,
                other => {
                    self.warn(
                        &pp,
                        format!("parameter location {other:?} not supported: skipped"),
                    );
                    continue;
                }
            };
            let schema = match p.get("schema") {
                Some(s) => Some((s.clone(), format!("{pp}/schema"))),
                None => p
                    .get("content")
                    .and_then(Node::as_object)
                    .and_then(|c| c.iter().next())
                    .and_then(|(ct, m)| {
                        m.get("schema").map(|s| {
                            (
                                s.clone(),
                                format!("{pp}/content/{}/schema", escape_token(ct)),
                            )
                        })
                    }),
            };
            let example = examples::given_fitting(self.doc, &p, schema.as_ref().map(|(s, _)| s))
                .or_else(|| {
                    schema
                        .as_ref()
                        .map(|(s, _)| examples::for_schema(self.doc, s, true))
                });
            let mut ty = match &schema {
                Some((s, sp)) => {
                    self.schema_ty(s, sp, &format!("{op_camel}{}", names::camel(&wire)))
                }
                None => {
                    self.warn(&pp, "parameter without schema: typed as String");
                    Ty::Primitive(Primitive::String)
                }
            };
            if let Ty::Option(inner) = ty {
                ty = *inner;
            }
            if loc == Loc::CookieHeader {
                ty = Ty::Primitive(Primitive::String);
            }
            let required = loc == Loc::Path || p.bool_of("required");
            let default_style = match loc {
                Loc::Query | Loc::Cookie => Style::Form,
                _ => Style::Simple,
            };
            let style = match p.str_of("style") {
                Some(st) => match Style::parse(st) {
                    Some(s) => s,
                    None => {
                        self.warn(&pp, format!("unknown style `{st}`: the default is used"));
                        default_style
                    }
                },
                None => default_style,
            };
            let explode = p
                .get("explode")
                .and_then(Node::as_bool)
                .unwrap_or(style == Style::Form);
            let mut doc = p.str_of("description").map(str::to_string);
            if let Some(sd) = p.get("schema").and_then(schema_doc) {
                doc = Some(match doc {
                    Some(d) => format!("{d}\n\n{sd}"),
                    None => sd,
                });
            }
            params.push(Param {
                name: scope.snake(&wire),
                wire,
                location: loc,
                ty,
                required,
                style,
                explode,
                doc,
                deprecated: p.bool_of("deprecated"),
                example,
            });
        }
        // template placeholders must all be parameters
        for placeholder in template_names(path) {
            if !params
                .iter()
                .any(|p| p.location == Loc::Path && p.wire == placeholder)
            {
                self.warn(ptr, format!("path placeholder `{{{placeholder}}}` is not a declared path parameter: added as a string parameter"));
                params.push(Param {
                    name: scope.snake(&placeholder),
                    wire: placeholder,
                    location: Loc::Path,
                    ty: Ty::Primitive(Primitive::String),
                    required: true,
                    style: Style::Simple,
                    explode: false,
                    doc: None,
                    deprecated: false,
                    example: Some(serde_json::Value::String("example".into())),
                });
            }
        }
        let tpl = template_names(path);
        params.retain(|p| p.location != Loc::Path || tpl.contains(&p.wire));
        // order: path (template order), then required, then optional
        params.sort_by_key(|p| match p.location {
            Loc::Path => (0, tpl.iter().position(|t| *t == p.wire).unwrap_or(0)),
            _ if p.required => (1, 0),
            _ => (2, 0),
        });
        params
    }

    fn responses(&mut self, op: &Node, ptr: &str, op_camel: &str) -> Vec<Resp> {
        let mut responses = Vec::new();
        let mut vscope = Scope::new();
        match op.get("responses") {
            Some(Node::Object(rs)) => {
                let rs = rs.clone();
                let any_success = rs.keys().any(|k| k.starts_with(['1', '2', '3']));
                for (code, r) in rs {
                    let rptr = format!("{ptr}/responses/{}", escape_token(&code));
                    let key = match parse_status(&code) {
                        Some(k) => k,
                        None => {
                            if !code.starts_with("x-") {
                                self.warn(
                                    &rptr,
                                    format!("response key `{code}` is not a status code: ignored"),
                                );
                            }
                            continue;
                        }
                    };
                    let (r, rp) = self.resolve(&r, &rptr);
                    let is_error = match key {
                        StatusKey::Code(c) => c >= 400,
                        StatusKey::Class(c) => c >= 4,
                        StatusKey::Default => any_success,
                    };
                    let variant = match key {
                        StatusKey::Code(c) => reason(c)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("Status{c}")),
                        StatusKey::Class(c) => format!("Status{c}xx"),
                        StatusKey::Default => "Default".to_string(),
                    };
                    if responses.iter().any(|r: &Resp| r.status == key) {
                        self.warn(&rptr, format!("duplicate response key `{code}`: ignored"));
                        continue;
                    }
                    let variant = vscope.variant(&variant);
                    let (body, media_type, example) =
                        self.response_body(&r, &rp, &format!("{op_camel}{variant}"), !is_error);
                    let doc = r.str_of("description").map(str::to_string);
                    responses.push(Resp {
                        status: key,
                        variant,
                        body,
                        is_error,
                        doc,
                        media_type,
                        example,
                    });
                }
            }
            _ => self.warn(
                ptr,
                "operation has no `responses`: every status is accepted as raw bytes",
            ),
        }
        if responses.is_empty() {
            responses.push(Resp {
                status: StatusKey::Default,
                variant: "Default".into(),
                body: RespBody::Bytes,
                is_error: false,
                doc: Some("No response documented: the raw body.".into()),
                media_type: None,
                example: None,
            });
        }
        responses
    }

    /// The body a response decodes into, its media type, and (JSON with a schema, when
    /// `with_example`) a value built from the schema.
    fn response_body(
        &mut self,
        r: &Node,
        rp: &str,
        hint: &str,
        with_example: bool,
    ) -> (RespBody, Option<String>, Option<serde_json::Value>) {
        let Some(Node::Object(content)) = r.get("content") else {
            return (RespBody::None, None, None);
        };
        if content.is_empty() {
            return (RespBody::None, None, None);
        }
        if let Some((ct, m)) = content.iter().find(|(ct, _)| is_json(ct)) {
            let (body, example) = match m.get("schema") {
                Some(s) if !is_empty_schema(s) => {
                    let s = s.clone();
                    let t = self.schema_ty(
                        &s,
                        &format!("{rp}/content/{}/schema", escape_token(ct)),
                        hint,
                    );
                    let example = with_example.then(|| examples::for_schema(self.doc, &s, false));
                    (RespBody::Json(t), example)
                }
                // a documented media type without a schema: any value, or no body at all
                _ => (RespBody::AnyJson, None),
            };
            return (body, Some(ct.clone()), example);
        }
        if let Some(ct) = content.keys().find(|ct| is_text(ct)) {
            return (RespBody::Text, Some(ct.clone()), None);
        }
        let ct = content.keys().next().cloned();
        (RespBody::Bytes, ct.filter(|c| !c.contains('*')), None)
    }

    fn request_body(
        &mut self,
        rb: &Node,
        ptr: &str,
        op_camel: &str,
        type_scope: &mut Scope,
    ) -> Option<Body> {
        let (rb, bp) = self.resolve(rb, ptr);
        let Some(Node::Object(content)) = rb.get("content") else {
            self.warn(&bp, "request body without `content`: ignored");
            return None;
        };
        let content = content.clone();
        let required = rb.bool_of("required");
        let doc = rb.str_of("description").map(str::to_string);
        let pick = |pred: &dyn Fn(&str) -> bool| {
            content
                .iter()
                .find(|(ct, _)| pred(ct))
                .map(|(c, m)| (c.clone(), m.clone()))
        };
        let hint = format!("{op_camel}Body");
        let example_of = |ctx: &Self, m: &Node| {
            examples::given_fitting(ctx.doc, m, m.get("schema")).or_else(|| {
                m.get("schema")
                    .map(|s| examples::for_schema(ctx.doc, s, true))
            })
        };
        if let Some((ct, m)) = pick(&|c| is_json(c)) {
            let ty = match m.get("schema") {
                Some(s) => self.schema_ty(
                    s,
                    &format!("{bp}/content/{}/schema", escape_token(&ct)),
                    &hint,
                ),
                None => Ty::Any,
            };
            return Some(Body {
                example: example_of(self, &m),
                kind: BodyKind::Json(ty),
                media_type: ct,
                required,
                doc,
            });
        }
        if let Some((ct, m)) = pick(&|c| c.starts_with("multipart/")) {
            let example = example_of(self, &m);
            let (fields, derive_default) = self.multipart_fields(&m, &bp, &ct, op_camel);
            let type_name = type_scope.type_name(&format!("{op_camel}Body"));
            return Some(Body {
                kind: BodyKind::Multipart {
                    type_name,
                    fields,
                    derive_default,
                },
                example,
                media_type: ct,
                required,
                doc,
            });
        }
        if let Some((ct, m)) = pick(&|c| c.starts_with("application/x-www-form-urlencoded")) {
            let ty = match m.get("schema") {
                Some(s) => self.schema_ty(
                    s,
                    &format!("{bp}/content/{}/schema", escape_token(&ct)),
                    &hint,
                ),
                None => Ty::Map(Box::new(Ty::Any)),
            };
            let mut encodings = Vec::new();
            if let Some(Node::Object(enc)) = m.get("encoding") {
                for (prop, e) in enc {
                    let style = e.str_of("style").and_then(Style::parse);
                    let explode = e.get("explode").and_then(Node::as_bool);
                    if style.is_none() && explode.is_none() {
                        continue;
                    }
                    let style = style.unwrap_or(Style::Form);
                    encodings.push(Encoding {
                        property: prop.clone(),
                        style,
                        explode: explode.unwrap_or(style == Style::Form),
                    });
                }
            }
            return Some(Body {
                example: example_of(self, &m),
                kind: BodyKind::Form { ty, encodings },
                media_type: ct,
                required,
                doc,
            });
        }
        // text and raw bodies: the example (or one built from the schema: a `format: byte`
        // body's is base64) when it is a string
        let text_example =
            |ctx: &Self, m: &Node| example_of(ctx, m).filter(serde_json::Value::is_string);
        if let Some((ct, m)) = pick(&|c| c.starts_with("text/")) {
            return Some(Body {
                kind: BodyKind::Text,
                media_type: ct,
                required,
                doc,
                example: Some(
                    text_example(self, &m)
                        .unwrap_or_else(|| serde_json::Value::String("example".into())),
                ),
            });
        }
        if let Some((ct, m)) = content.iter().next() {
            let ct = if ct.contains('*') {
                "application/octet-stream".to_string()
            } else {
                ct.clone()
            };
            return Some(Body {
                kind: BodyKind::Bytes,
                media_type: ct,
                required,
                doc,
                example: text_example(self, m),
            });
        }
        self.warn(&bp, "request body with empty `content`: ignored");
        None
    }

    fn multipart_fields(
        &mut self,
        m: &Node,
        bp: &str,
        ct: &str,
        op_camel: &str,
    ) -> (Vec<MpField>, bool) {
        let sp = format!("{bp}/content/{}/schema", escape_token(ct));
        let schema = m
            .get("schema")
            .cloned()
            .unwrap_or(Node::Object(IndexMap::new()));
        let (schema, sp) = self.resolve(&schema, &sp);
        let mut fields = Vec::new();
        let mut scope = Scope::new();
        let required_list: Vec<String> = schema
            .get("required")
            .and_then(Node::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Node::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let props = schema
            .get("properties")
            .and_then(Node::as_object)
            .cloned()
            .unwrap_or_default();
        if props.is_empty() {
            self.warn(&sp, "multipart body without properties: the struct has no fields; add parts with a raw keel::RequestBuilder");
        }
        for (wire, prop) in props {
            let pptr = format!("{sp}/properties/{}", escape_token(&wire));
            let (pnode, _) = self.resolve(&prop, &pptr);
            let items_binary = pnode.str_of("type") == Some("array")
                && pnode
                    .get("items")
                    .is_some_and(|i| is_binary_schema(&self.resolve(i, &pptr).0));
            let (kind, ty) = if is_binary_schema(&pnode) {
                (PartKind::File, Ty::Bytes)
            } else if items_binary {
                (PartKind::Files, Ty::Vec(Box::new(Ty::Bytes)))
            } else {
                let mut t =
                    self.schema_ty(&prop, &pptr, &format!("{op_camel}{}", names::camel(&wire)));
                if let Ty::Option(inner) = t {
                    t = *inner;
                }
                (PartKind::Value, t)
            };
            fields.push(MpField {
                name: scope.snake(&wire),
                required: required_list.contains(&wire),
                doc: schema_doc(&pnode),
                wire,
                kind,
                ty,
            });
        }
        let derive_default = fields.iter().all(|f| !f.required);
        (fields, derive_default)
    }
}

fn parse_status(code: &str) -> Option<StatusKey> {
    let c = code.trim();
    if c.eq_ignore_ascii_case("default") {
        return Some(StatusKey::Default);
    }
    if c.len() == 3 && c[1..].eq_ignore_ascii_case("xx") {
        let d = c[..1].parse::<u16>().ok()?;
        return (1..=5).contains(&d).then_some(StatusKey::Class(d));
    }
    let n = c.parse::<u16>().ok()?;
    (100..=599).contains(&n).then_some(StatusKey::Code(n))
}

/// `{name}` placeholders in a path template, in order.
pub(crate) fn template_names(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.is_empty() && !out.iter().any(|n: &String| n == name) {
            out.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    out
}

fn op_security(op: &Node, global: Option<&Node>, schemes: &[SecurityScheme]) -> Vec<String> {
    let reqs = op.get("security").or(global);
    let Some(Node::Array(alts)) = reqs else {
        return vec![];
    };
    if alts.is_empty()
        || alts
            .iter()
            .any(|a| a.as_object().is_none_or(|m| m.is_empty()))
    {
        return vec![];
    }
    let mut out = Vec::new();
    for a in alts {
        if let Some(m) = a.as_object() {
            for k in m.keys() {
                if !out.contains(k)
                    && schemes
                        .iter()
                        .any(|s| &s.wire == k && !matches!(s.kind, AuthKind::Unsupported(_)))
                {
                    out.push(k.clone());
                }
            }
        }
    }
    out
}
