//! IR → Rust source, built with `quote` and formatted with `prettyplease`.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::{HashMap, HashSet};

use crate::model::{Ctx, ModelKind, Ty};
use crate::names::ident;
use crate::ops::{Api, AuthKind, BodyKind, Loc, MpKind, Operation, RespBody, StatusKey};
use crate::CodegenError;

/// Parse tokens as a file and pretty-print them.
pub(crate) fn render(tokens: TokenStream, what: &str) -> Result<String, CodegenError> {
    let file: syn::File = syn::parse2(tokens).map_err(|e| CodegenError::Internal {
        message: format!(
            "generated {what} is not valid Rust ({e}); please report this with the spec"
        ),
    })?;
    Ok(prettyplease::unparse(&file))
}

/// Doc attributes from free text. `quote` escapes the string literal; the text is also kept from
/// becoming doctests (the generated crate sets `doctest = false` too).
pub(crate) fn doc_attrs(text: Option<&str>) -> TokenStream {
    let Some(text) = text else { return quote!() };
    let text = text.trim();
    if text.is_empty() {
        return quote!();
    }
    let mut out = TokenStream::new();
    for line in text.lines() {
        let line = line.trim_end().replace('\r', "");
        let l = format!(" {line}");
        out.extend(quote!(#[doc = #l]));
    }
    out
}

pub(crate) struct Emitter<'c, 'a> {
    pub ctx: &'c Ctx<'a>,
    defaults: HashMap<usize, bool>,
}

impl<'c, 'a> Emitter<'c, 'a> {
    pub(crate) fn new(ctx: &'c Ctx<'a>) -> Self {
        let mut e = Emitter {
            ctx,
            defaults: HashMap::new(),
        };
        for i in 0..ctx.models.len() {
            let mut visiting = HashSet::new();
            let d = e.has_default(i, &mut visiting);
            e.defaults.insert(i, d);
        }
        e
    }

    fn has_default(&mut self, id: usize, visiting: &mut HashSet<usize>) -> bool {
        if let Some(d) = self.defaults.get(&id) {
            return *d;
        }
        if !visiting.insert(id) {
            return true;
        }
        let kind = self.ctx.models[id].kind.clone();
        let d = match &kind {
            ModelKind::Struct { fields, .. } => {
                fields.iter().all(|f| self.ty_default(&f.ty, visiting))
            }
            ModelKind::Alias(t) | ModelKind::Newtype(t) => self.ty_default(t, visiting),
            _ => false,
        };
        visiting.remove(&id);
        self.defaults.insert(id, d);
        d
    }

    fn ty_default(&mut self, t: &Ty, visiting: &mut HashSet<usize>) -> bool {
        match t {
            Ty::Named(i) => self.has_default(*i, visiting),
            Ty::Boxed(t) => self.ty_default(t, visiting),
            _ => true,
        }
    }

    /// Type tokens; `local` = inside the models module.
    pub(crate) fn ty(&self, t: &Ty, local: bool) -> TokenStream {
        match t {
            Ty::Named(i) => {
                let n = format_ident!("{}", self.ctx.models[*i].name);
                if local {
                    quote!(#n)
                } else {
                    quote!(crate::models::#n)
                }
            }
            Ty::Prim(p) => {
                let n = format_ident!("{}", p);
                quote!(#n)
            }
            Ty::Value => quote!(serde_json::Value),
            Ty::Bytes => quote!(keel::Bytes),
            Ty::Vec(t) => {
                let t = self.ty(t, local);
                quote!(Vec<#t>)
            }
            Ty::Map(t) => {
                let t = self.ty(t, local);
                quote!(::std::collections::BTreeMap<String, #t>)
            }
            Ty::Option(t) => {
                let t = self.ty(t, local);
                quote!(Option<#t>)
            }
            Ty::Boxed(t) => {
                let t = self.ty(t, local);
                quote!(Box<#t>)
            }
        }
    }

    // ---------------------------------------------------------------- models

    pub(crate) fn models_file(&self) -> TokenStream {
        let mut items = TokenStream::new();
        for id in 0..self.ctx.models.len() {
            items.extend(self.model(id));
        }
        quote! {
            //! Data types: one per schema of the API document, plus the inline schemas
            //! (named after where they appear).
            //!
            //! Formats `date-time`, `date`, `uuid`, `uri`, `byte` and `binary` are kept as `String`
            //! so the crate depends only on `serde`/`serde_json`; parse them with the crate of your choice.
            #![allow(deprecated)]
            #items
        }
    }

    fn model(&self, id: usize) -> TokenStream {
        let m = &self.ctx.models[id];
        let name = format_ident!("{}", m.name);
        let doc = doc_attrs(m.doc.as_deref());
        let deprecated = if m.deprecated {
            quote!(#[deprecated])
        } else {
            quote!()
        };
        let default = if self.defaults.get(&id).copied().unwrap_or(false) {
            quote!(Default,)
        } else {
            quote!()
        };
        match &m.kind {
            ModelKind::Pending => quote!(),
            ModelKind::Alias(t) => {
                let t = self.ty(t, true);
                quote! { #doc #deprecated pub type #name = #t; }
            }
            ModelKind::Newtype(t) => {
                let t = self.ty(t, true);
                quote! {
                    #doc #deprecated
                    #[derive(Debug, Clone, PartialEq, #default serde::Serialize, serde::Deserialize)]
                    #[serde(transparent)]
                    pub struct #name(pub #t);
                }
            }
            ModelKind::Struct { fields, additional } => {
                let mut fs = TokenStream::new();
                for f in fields {
                    let fdoc = doc_attrs(f.doc.as_deref());
                    let fid = ident(&f.ident);
                    let t = self.ty(&f.ty, true);
                    let rename = if f.ident != f.wire {
                        let w = &f.wire;
                        quote!(#[serde(rename = #w)])
                    } else {
                        quote!()
                    };
                    let skip = if f.optional && f.ty.is_option() {
                        quote!(#[serde(default, skip_serializing_if = "Option::is_none")])
                    } else {
                        quote!()
                    };
                    let dep = if f.deprecated {
                        quote!(#[deprecated])
                    } else {
                        quote!()
                    };
                    fs.extend(quote! { #fdoc #dep #rename #skip pub #fid: #t, });
                }
                if let Some((aname, t)) = additional {
                    let aid = ident(aname);
                    let t = self.ty(t, true);
                    fs.extend(quote! {
                        /// Properties not listed in the schema.
                        #[serde(flatten)]
                        pub #aid: ::std::collections::BTreeMap<String, #t>,
                    });
                }
                quote! {
                    #doc #deprecated
                    #[derive(Debug, Clone, PartialEq, #default serde::Serialize, serde::Deserialize)]
                    pub struct #name { #fs }
                }
            }
            ModelKind::StringEnum { variants } => {
                let idents: Vec<_> = variants
                    .iter()
                    .map(|(i, _)| format_ident!("{}", i))
                    .collect();
                let wires: Vec<_> = variants.iter().map(|(_, w)| w.clone()).collect();
                let vdocs: Vec<_> = wires
                    .iter()
                    .map(|w| format!(" `{}`", w.replace('`', "'")))
                    .collect();
                quote! {
                    #doc #deprecated
                    #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
                    pub enum #name {
                        #( #[doc = #vdocs] #idents, )*
                        /// A value this client does not know (the server is newer than the API document).
                        Other(String),
                    }
                    impl #name {
                        /// The value as sent on the wire.
                        pub fn as_str(&self) -> &str {
                            match self {
                                #( Self::#idents => #wires, )*
                                Self::Other(s) => s.as_str(),
                            }
                        }
                    }
                    impl ::std::fmt::Display for #name {
                        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                            f.write_str(self.as_str())
                        }
                    }
                    impl From<&str> for #name {
                        fn from(s: &str) -> Self {
                            match s {
                                #( #wires => Self::#idents, )*
                                other => Self::Other(other.to_owned()),
                            }
                        }
                    }
                    impl ::std::str::FromStr for #name {
                        type Err = ::std::convert::Infallible;
                        fn from_str(s: &str) -> Result<Self, Self::Err> {
                            Ok(Self::from(s))
                        }
                    }
                    impl serde::Serialize for #name {
                        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                            serializer.serialize_str(self.as_str())
                        }
                    }
                    impl<'de> serde::Deserialize<'de> for #name {
                        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                            let s = <String as serde::Deserialize>::deserialize(deserializer)?;
                            Ok(Self::from(s.as_str()))
                        }
                    }
                }
            }
            ModelKind::OneOf {
                variants,
                discriminator,
            } => {
                let vids: Vec<_> = variants
                    .iter()
                    .map(|v| format_ident!("{}", v.ident))
                    .collect();
                let vtys: Vec<_> = variants.iter().map(|v| self.ty(&v.ty, true)).collect();
                let other_doc = if discriminator.is_some() {
                    " A variant this client does not know (unknown discriminator value)."
                } else {
                    " A value matching none of the variants."
                };
                let derive_de = if discriminator.is_some() {
                    quote!()
                } else {
                    quote!(serde::Deserialize,)
                };
                let mut out = quote! {
                    #doc #deprecated
                    #[derive(Debug, Clone, PartialEq, serde::Serialize, #derive_de)]
                    #[serde(untagged)]
                    pub enum #name {
                        #( #vids(#vtys), )*
                        #[doc = #other_doc]
                        Other(serde_json::Value),
                    }
                };
                if let Some(prop) = discriminator {
                    let mut seen = HashSet::new();
                    let mut arms = TokenStream::new();
                    for v in variants {
                        let tags: Vec<&String> = v
                            .tags
                            .iter()
                            .filter(|t| seen.insert((*t).clone()))
                            .collect();
                        if tags.is_empty() {
                            continue;
                        }
                        let vid = format_ident!("{}", v.ident);
                        arms.extend(quote! {
                            #( Some(#tags) )|* => serde_json::from_value(value).map(Self::#vid).map_err(serde::de::Error::custom),
                        });
                    }
                    out.extend(quote! {
                        impl<'de> serde::Deserialize<'de> for #name {
                            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                                let tag = value.get(#prop).and_then(serde_json::Value::as_str).map(str::to_owned);
                                match tag.as_deref() {
                                    #arms
                                    _ => Ok(Self::Other(value)),
                                }
                            }
                        }
                    });
                }
                out
            }
        }
    }

    // ---------------------------------------------------------------- operations

    fn resp_body_ty(&self, b: &RespBody) -> TokenStream {
        match b {
            RespBody::None => quote!(()),
            RespBody::Json(t) => self.ty(t, false),
            RespBody::Text => quote!(String),
            RespBody::Bytes => quote!(keel::Bytes),
        }
    }

    /// Is a value of this type `Display` (so it can go straight into a URL or header)?
    fn is_display(&self, t: &Ty) -> bool {
        match self.ctx.unalias(t) {
            Ty::Prim(_) => true,
            Ty::Named(i) => self.ctx.is_string_enum(*i),
            _ => false,
        }
    }

    /// Parameter type in a function signature (borrowed where that is natural).
    fn param_ty(&self, t: &Ty, required: bool) -> TokenStream {
        let base = match self.ctx.unalias(t) {
            Ty::Prim("String") => quote!(&str),
            Ty::Prim(p) => {
                let p = format_ident!("{}", p);
                quote!(#p)
            }
            Ty::Vec(inner) => {
                let inner = self.ty(inner, false);
                quote!(&[#inner])
            }
            _ => {
                let t = self.ty(t, false);
                quote!(&#t)
            }
        };
        if required {
            base
        } else {
            quote!(Option<#base>)
        }
    }

    pub(crate) fn module_file(&self, module: &str, ops: &[Operation]) -> TokenStream {
        let mut items = TokenStream::new();
        for op in ops {
            items.extend(self.operation(op));
        }
        let doc = format!(" Operations tagged `{module}`.");
        quote! {
            #![doc = #doc]
            #![allow(deprecated)]
            #items
        }
    }

    fn operation(&self, op: &Operation) -> TokenStream {
        let name = &op.name;
        let f_parsed = ident(name);
        let f_detailed = ident(&format!("{name}_detailed"));
        let f_blocking = ident(&format!("{name}_blocking"));
        let f_blocking_detailed = ident(&format!("{name}_blocking_detailed"));
        let f_request = ident(&format!("{name}_request"));
        let resp_ty = format_ident!("{}", op.response_type);
        let doc = doc_attrs(op.doc.as_deref());
        let deprecated = if op.deprecated {
            quote!(#[deprecated])
        } else {
            quote!()
        };

        // --- response enum
        let mut variants = TokenStream::new();
        let mut code_arms = TokenStream::new();
        let mut class_arms = TokenStream::new();
        let mut default_arm = None;
        for r in &op.responses {
            let v = format_ident!("{}", r.variant);
            let rdoc = doc_attrs(r.doc.as_deref());
            let (decl, value) = match &r.body {
                RespBody::None => (quote!(#v), quote!(Self::#v)),
                RespBody::Json(t) => {
                    let t = self.ty(t, false);
                    (quote!(#v(#t)), quote!(Self::#v(resp.json()?)))
                }
                RespBody::Text => (quote!(#v(String)), quote!(Self::#v(resp.text()?))),
                RespBody::Bytes => (
                    quote!(#v(keel::Bytes)),
                    quote!(Self::#v(resp.content.clone())),
                ),
            };
            variants.extend(quote!(#rdoc #decl,));
            match r.key {
                StatusKey::Code(c) => {
                    let c = Literal::u16_unsuffixed(c);
                    code_arms.extend(quote!(#c => Ok(#value),));
                }
                StatusKey::Class(c) => {
                    let lo = Literal::u16_unsuffixed(c * 100);
                    let hi = Literal::u16_unsuffixed(c * 100 + 99);
                    class_arms.extend(quote!(#lo..=#hi => Ok(#value),));
                }
                StatusKey::Default => default_arm = Some(quote!(_ => Ok(#value),)),
            }
        }
        let fallback = default_arm.unwrap_or_else(|| {
            quote! {
                _ => Err(keel::Error::UnexpectedStatus {
                    status: resp.status,
                    url: resp.url().to_string(),
                    body_excerpt: String::from_utf8_lossy(&resp.content[..resp.content.len().min(512)]).into_owned(),
                }),
            }
        });
        let documented: Vec<TokenStream> = op
            .responses
            .iter()
            .map(|r| match r.key {
                StatusKey::Code(c) => {
                    let c = Literal::u16_unsuffixed(c);
                    quote!(keel::StatusMatch::Code(#c))
                }
                StatusKey::Class(c) => {
                    let c = Literal::u16_unsuffixed(c);
                    quote!(keel::StatusMatch::Class(#c))
                }
                StatusKey::Default => quote!(keel::StatusMatch::Default),
            })
            .collect();

        // --- success / error types and the split
        let (t_ty, t_arms) = self.side(op, false);
        let (e_ty, e_arms) = self.side(op, true);

        let resp_doc = format!(
            " Responses of [`{}`], one variant per documented status.",
            name.trim_start_matches("r#")
        );
        let response_enum = quote! {
            #[doc = #resp_doc]
            #[derive(Debug, Clone)]
            pub enum #resp_ty { #variants }
            impl #resp_ty {
                /// Parses a response whose status is documented.
                pub fn parse(resp: &keel::Response) -> keel::Result<Self> {
                    match resp.status.as_u16() {
                        #code_arms
                        #class_arms
                        #fallback
                    }
                }
                fn split(self) -> crate::support::Outcome<#t_ty, #e_ty> {
                    match self {
                        #t_arms
                        #e_arms
                    }
                }
            }
        };

        // --- parameters
        let mut sig = Vec::new();
        let mut args = Vec::new();
        let mut build = TokenStream::new();
        let mut extra_items = TokenStream::new();
        let client_ty = if op.security.is_empty() {
            quote!(&keel::Client<impl keel::AuthState>)
        } else {
            quote!(&keel::HttpAuthenticatedClient)
        };
        let mut param_docs = Vec::new();
        for p in &op.params {
            let pid = ident(&p.ident);
            let pty = self.param_ty(&p.ty, p.required);
            sig.push(quote!(#pid: #pty));
            args.push(quote!(#pid));
            let wire = &p.wire;
            let line = format!(
                "- `{}`: {} parameter `{}`{}",
                p.ident,
                match p.loc {
                    Loc::Path => "path",
                    Loc::Query => "query",
                    Loc::Header => "header",
                    Loc::Cookie => "cookie",
                },
                wire,
                p.doc
                    .as_deref()
                    .map(|d| format!(": {}", d.lines().next().unwrap_or("").trim()))
                    .unwrap_or_default()
            );
            param_docs.push(line);
            let apply = self.apply_param(p, quote!(v));
            if p.required {
                build.extend(quote!(let rb = { let v = #pid; #apply };));
            } else {
                build.extend(quote!(let rb = match #pid { Some(v) => #apply, None => rb };));
            }
        }
        if let Some(body) = &op.body {
            let ct = &body.content_type;
            let (bty, apply) = match &body.kind {
                BodyKind::Json(t) => (self.param_ty(t, true), quote!(rb.json(v))),
                BodyKind::Form(t) => (self.param_ty(t, true), quote!(rb.form(v))),
                BodyKind::Multipart(fields, sname) => {
                    let sid = format_ident!("{}", sname);
                    extra_items.extend(self.multipart_struct(sname, fields));
                    (quote!(&#sid), quote!(rb.multipart(v.to_multipart())))
                }
                BodyKind::Bytes => (
                    if body.required {
                        quote!(impl Into<keel::Bytes>)
                    } else {
                        quote!(keel::Bytes)
                    },
                    quote!(rb.body(v, #ct)),
                ),
                BodyKind::Text => (quote!(&str), quote!(rb.body(v.to_owned(), #ct))),
            };
            let bty = if body.required {
                bty
            } else {
                quote!(Option<#bty>)
            };
            // body goes after required params, before optional ones
            let pos = op.params.iter().filter(|p| p.required).count();
            sig.insert(pos, quote!(body: #bty));
            args.insert(pos, quote!(body));
            param_docs.insert(
                pos,
                format!(
                    "- `body`: `{ct}` request body{}",
                    body.doc
                        .as_deref()
                        .map(|d| format!(": {}", d.lines().next().unwrap_or("").trim()))
                        .unwrap_or_default()
                ),
            );
            if body.required {
                build.extend(quote!(let rb = { let v = body; #apply };));
            } else {
                build.extend(quote!(let rb = match body { Some(v) => #apply, None => rb };));
            }
        }
        let pdoc = if param_docs.is_empty() {
            quote!()
        } else {
            let text = format!("Arguments:\n{}", param_docs.join("\n"));
            let attrs = doc_attrs(Some(&text));
            quote!(#[doc = ""] #attrs)
        };
        let method = format_ident!("{}", op.method);
        let path = &op.path;
        let plain = name.trim_start_matches("r#");
        let summary = op
            .doc
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or("")
            .trim()
            .to_string();
        let summary = format!(" {summary}");
        let detailed_doc = format!(" Like [`{plain}`], but returns the whole response (status, headers, raw body) with the body parsed into [`{}`] (`parsed` is `None` for an undocumented status when the client does not raise on them).", op.response_type);
        let blocking_doc =
            format!(" The blocking variant of [`{plain}`] (for callers outside an async runtime).");
        let blocking_detailed_doc = format!(
            " The blocking variant of [`{plain}_detailed`] (for callers outside an async runtime)."
        );
        quote! {
            #response_enum
            #extra_items

            #doc #pdoc #deprecated
            pub async fn #f_parsed(client: #client_ty, #(#sig),*) -> Result<#t_ty, keel::ApiError<#e_ty>> {
                crate::support::finish(#f_detailed(client, #(#args),*).await?, #resp_ty::split)
            }

            #[doc = #summary] #[doc = ""] #[doc = #detailed_doc] #deprecated
            pub async fn #f_detailed(client: #client_ty, #(#sig),*) -> keel::Result<keel::Response<#resp_ty>> {
                #f_request(client, #(#args),*).send_with(#resp_ty::parse).await
            }

            #[doc = #summary] #[doc = ""] #[doc = #blocking_doc] #deprecated
            pub fn #f_blocking(client: #client_ty, #(#sig),*) -> Result<#t_ty, keel::ApiError<#e_ty>> {
                crate::support::finish(#f_blocking_detailed(client, #(#args),*)?, #resp_ty::split)
            }

            #[doc = #summary] #[doc = ""] #[doc = #blocking_detailed_doc] #deprecated
            pub fn #f_blocking_detailed(client: #client_ty, #(#sig),*) -> keel::Result<keel::Response<#resp_ty>> {
                #f_request(client, #(#args),*).send_with_blocking(#resp_ty::parse)
            }

            fn #f_request(client: &keel::Client<impl keel::AuthState>, #(#sig),*) -> keel::RequestBuilder {
                let rb = client.request(keel::Method::#method, #path);
                #build
                rb.documented([#(#documented),*])
            }
        }
    }

    /// The success (`errors = false`) or error type of an operation and the `split` arms for it.
    fn side(&self, op: &Operation, errors: bool) -> (TokenStream, TokenStream) {
        let rs: Vec<_> = op
            .responses
            .iter()
            .filter(|r| r.is_error == errors)
            .collect();
        let outcome = if errors { quote!(Err) } else { quote!(Ok) };
        if rs.is_empty() {
            return (quote!(()), quote!());
        }
        let first = &rs[0].body;
        if rs.iter().all(|r| &r.body == first) {
            let t = self.resp_body_ty(first);
            let mut arms = TokenStream::new();
            for r in rs {
                let v = format_ident!("{}", r.variant);
                arms.extend(match r.body {
                    RespBody::None => quote!(Self::#v => crate::support::Outcome::#outcome(()),),
                    _ => quote!(Self::#v(v) => crate::support::Outcome::#outcome(v),),
                });
            }
            (t, arms)
        } else {
            let resp_ty = format_ident!("{}", op.response_type);
            let mut arms = TokenStream::new();
            for r in rs {
                let v = format_ident!("{}", r.variant);
                arms.extend(match r.body {
                    RespBody::None => {
                        quote!(Self::#v => crate::support::Outcome::#outcome(Self::#v),)
                    }
                    _ => quote!(Self::#v(v) => crate::support::Outcome::#outcome(Self::#v(v)),),
                });
            }
            (quote!(#resp_ty), arms)
        }
    }

    /// Expression adding one parameter value `v` to `rb`.
    fn apply_param(&self, p: &crate::ops::Param, v: TokenStream) -> TokenStream {
        let wire = &p.wire;
        let t = self.ctx.unalias(&p.ty);
        let method = match p.loc {
            Loc::Path => quote!(path_param),
            Loc::Query => quote!(query),
            Loc::Header => quote!(header),
            Loc::Cookie => quote!(cookie),
        };
        if self.is_display(&p.ty) {
            return quote!(rb.#method(#wire, #v));
        }
        let item_display = matches!(t, Ty::Vec(inner) if self.is_display(inner));
        if p.loc == Loc::Query {
            if item_display {
                if p.explode {
                    return quote!(crate::support::query_each(rb, #wire, #v));
                }
                let sep = match p.style.as_str() {
                    "spaceDelimited" => " ",
                    "pipeDelimited" => "|",
                    _ => ",",
                };
                return quote!(rb.query(#wire, crate::support::join(#v, #sep)));
            }
            let objecty = matches!(t, Ty::Map(_) | Ty::Value)
                || matches!(t, Ty::Named(i) if matches!(self.ctx.models[*i].kind, ModelKind::Struct { .. }));
            if objecty && p.style == "deepObject" {
                return quote!(crate::support::query_deep(rb, #wire, #v));
            }
            if objecty && p.explode {
                return quote!(crate::support::query_object(rb, #v));
            }
            return quote!(rb.query(#wire, crate::support::param_string(#v)));
        }
        if item_display {
            return quote!(rb.#method(#wire, crate::support::join(#v, ",")));
        }
        quote!(rb.#method(#wire, crate::support::param_string(#v)))
    }

    fn multipart_struct(&self, sname: &str, fields: &[crate::ops::MpField]) -> TokenStream {
        let sid = format_ident!("{}", sname);
        let mut decls = TokenStream::new();
        let mut adds = TokenStream::new();
        for f in fields {
            let fid = ident(&f.ident);
            let wire = &f.wire;
            let fdoc = doc_attrs(f.doc.as_deref());
            let (t, add) = match f.kind {
                MpKind::File => (
                    quote!(crate::FilePart),
                    quote!(form.bytes(#wire, v.data.clone(), v.filename.as_deref(), v.content_type.as_deref())),
                ),
                MpKind::Files => (
                    quote!(Vec<crate::FilePart>),
                    quote!(v.iter().fold(form, |form, p| form.bytes(#wire, p.data.clone(), p.filename.as_deref(), p.content_type.as_deref()))),
                ),
                MpKind::Text => (
                    self.ty(&f.ty, false),
                    quote!(form.text(#wire, v.to_string())),
                ),
                MpKind::Json => (
                    self.ty(&f.ty, false),
                    quote!(form.bytes(#wire, serde_json::to_vec(v).unwrap_or_default(), None, Some("application/json"))),
                ),
            };
            let t = if f.required { t } else { quote!(Option<#t>) };
            decls.extend(quote!(#fdoc pub #fid: #t,));
            if f.required {
                adds.extend(quote!(let form = { let v = &self.#fid; #add };));
            } else {
                adds.extend(quote!(let form = match &self.#fid { Some(v) => #add, None => form };));
            }
        }
        let doc = format!(" The `multipart/form-data` body of [`{}`].", sname);
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Default)]
            pub struct #sid { #decls }
            impl #sid {
                /// The parts, in document order.
                pub fn to_multipart(&self) -> keel::Multipart {
                    let form = keel::Multipart::new();
                    #adds
                    form
                }
            }
        }
    }

    // ---------------------------------------------------------------- crate files

    pub(crate) fn auth_file(&self, api: &Api) -> TokenStream {
        let mut items = TokenStream::new();
        for (i, s) in api.schemes.iter().enumerate() {
            let (args, setup, what): (TokenStream, TokenStream, String) = match &s.kind {
                AuthKind::ApiKeyHeader(h) => (
                    quote!(api_key: &str),
                    quote!(.api_key(api_key).auth_header_name(#h).scheme(keel::signing::Scheme::api_key_header())),
                    format!("API key sent in the `{h}` header"),
                ),
                AuthKind::ApiKeyQuery(q) => (
                    quote!(api_key: &str),
                    quote!(.api_key(api_key).scheme(keel::signing::Scheme::api_key_query(#q))),
                    format!("API key sent as the `{q}` query parameter"),
                ),
                AuthKind::ApiKeyCookie(c) => (
                    quote!(api_key: &str),
                    quote!(.api_key(api_key).cookie(#c, api_key).scheme(keel::signing::Scheme::api_key_header()).auth_header_name("X-Keel-Unused-Api-Key")),
                    format!("API key sent as the `{c}` cookie"),
                ),
                AuthKind::Bearer => (
                    quote!(token: &str),
                    quote!(.api_key(token).scheme(keel::signing::Scheme::bearer())),
                    "HTTP bearer token".to_string(),
                ),
                AuthKind::OAuthBearer => (
                    quote!(access_token: &str),
                    quote!(.api_key(access_token).scheme(keel::signing::Scheme::bearer())),
                    "OAuth2 / OpenID Connect access token (obtained elsewhere), sent as a bearer token".to_string(),
                ),
                AuthKind::Basic => (
                    quote!(username: &str, password: &str),
                    quote!(.api_key(username).api_secret(password).scheme(keel::signing::Scheme::basic())),
                    "HTTP basic authentication".to_string(),
                ),
                AuthKind::Unsupported(_) => continue,
            };
            let builder_fn = ident(&format!("{}_builder", s.ident));
            let client_fn = ident(&format!("{}_client", s.ident));
            let arg_names: Vec<TokenStream> = match &s.kind {
                AuthKind::Basic => vec![quote!(username), quote!(password)],
                AuthKind::Bearer => vec![quote!(token)],
                AuthKind::OAuthBearer => vec![quote!(access_token)],
                _ => vec![quote!(api_key)],
            };
            let d1 = format!(
                " A client builder for the `{}` security scheme: {what}.",
                s.wire
            );
            let d2 = format!(" A client for the `{}` security scheme: {what}.", s.wire);
            let sdoc = match s.doc.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => {
                    let a = doc_attrs(Some(d));
                    quote!(#[doc = ""] #a)
                }
                None => quote!(),
            };
            items.extend(quote! {
                #[doc = #d1]
                #sdoc
                pub fn #builder_fn(base_url: &str, #args) -> keel::HttpAuthenticatedClientBuilder {
                    keel::HttpAuthenticatedClient::builder(base_url) #setup
                }
                #[doc = #d2]
                pub fn #client_fn(base_url: &str, #args) -> keel::Result<keel::HttpAuthenticatedClient> {
                    #builder_fn(base_url, #(#arg_names),*).build()
                }
            });
            if api.primary_scheme == Some(i) {
                let d = format!(
                    " A client authenticated with `{}` ({what}), the scheme most operations use; see the other functions of this module for the rest.",
                    s.wire
                );
                items.extend(quote! {
                    #[doc = #d]
                    pub fn authenticated_client(base_url: &str, #args) -> keel::Result<keel::HttpAuthenticatedClient> {
                        #client_fn(base_url, #(#arg_names),*)
                    }
                });
            }
        }
        quote! {
            //! Clients configured for the API's security schemes.
            #items
        }
    }

    pub(crate) fn lib_file(
        &self,
        title: &str,
        version: &str,
        description: Option<&str>,
        base_url: &str,
        has_auth: bool,
    ) -> TokenStream {
        let head = format!(" Client for {title} (API version {version}), generated by keel-codegen. Do not edit by hand.");
        let desc = match description {
            Some(d) => {
                let mut ts = TokenStream::new();
                for line in d.trim().lines() {
                    let l = format!(" {}", line.trim_end().replace('\r', ""));
                    ts.extend(quote!(#![doc = #l]));
                }
                quote!(#![doc = ""] #ts)
            }
            None => quote!(),
        };
        let auth = if has_auth {
            quote!(
                pub mod auth;
            )
        } else {
            quote!()
        };
        quote! {
            #![doc = #head]
            #desc
            #![doc = ""]
            #![doc = " Modules: [`models`] (data types), [`api`] (one module per tag; each operation has"]
            #![doc = " `op`, `op_detailed`, `op_blocking` and `op_blocking_detailed` functions)."]
            // Long parameter lists mirror the API's operations; large response enums are the API's.
            #![allow(clippy::too_many_arguments, clippy::large_enum_variant, clippy::enum_variant_names, clippy::module_inception, clippy::doc_lazy_continuation, clippy::derivable_impls)]

            pub mod api;
            #auth
            pub mod models;
            #[doc(hidden)]
            pub mod support;

            /// The first server URL of the API document.
            pub const DEFAULT_BASE_URL: &str = #base_url;

            /// One file in a `multipart/form-data` body.
            #[derive(Debug, Clone, Default)]
            pub struct FilePart {
                /// The content.
                pub data: keel::Bytes,
                /// The file name sent with the part.
                pub filename: Option<String>,
                /// The part's content type.
                pub content_type: Option<String>,
            }

            impl FilePart {
                /// A part with this content, named `file`.
                pub fn new(data: impl Into<keel::Bytes>) -> Self {
                    Self { data: data.into(), filename: Some("file".to_owned()), content_type: None }
                }
                /// Set the file name.
                pub fn filename(mut self, name: impl Into<String>) -> Self {
                    self.filename = Some(name.into());
                    self
                }
                /// Set the content type.
                pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
                    self.content_type = Some(content_type.into());
                    self
                }
            }
        }
    }

    pub(crate) fn api_mod_file(&self, modules: &[String]) -> TokenStream {
        let ids: Vec<_> = modules.iter().map(|m| ident(m)).collect();
        quote! {
            //! Operations, one module per tag of the API document.
            #( pub mod #ids; )*
        }
    }
}

/// The support module every generated crate carries (fixed text).
pub(crate) fn support_file() -> TokenStream {
    quote! {
        //! Helpers used by the generated operations.

        /// How a parsed response maps onto `Result<T, ApiError<E>>`.
        pub enum Outcome<T, E> {
            /// A success status with its body.
            Ok(T),
            /// A documented error status with its body.
            Err(E),
        }

        /// Turn a detailed response into the parsed variant's result.
        pub fn finish<R, T, E>(resp: keel::Response<R>, split: impl FnOnce(R) -> Outcome<T, E>) -> Result<T, keel::ApiError<E>> {
            let status = resp.status;
            let headers = resp.headers.clone();
            let content = resp.content.clone();
            match resp.into_parsed().map(split) {
                Some(Outcome::Ok(v)) => Ok(v),
                Some(Outcome::Err(parsed)) => Err(keel::ApiError::Status { status, headers, content, parsed }),
                None => Err(keel::ApiError::UnexpectedStatus { status, content }),
            }
        }

        /// A value as URL/header text: strings bare, arrays comma-joined, anything else as JSON.
        pub fn param_string<T: serde::Serialize + ?Sized>(value: &T) -> String {
            fn scalar(v: &serde_json::Value) -> String {
                match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                }
            }
            match serde_json::to_value(value) {
                Ok(serde_json::Value::Array(items)) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
                Ok(v) => scalar(&v),
                Err(_) => String::new(),
            }
        }

        /// Items joined with a separator.
        pub fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
            items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
        }

        /// One `name=item` pair per item (`explode: true`).
        pub fn query_each<T: std::fmt::Display>(rb: keel::RequestBuilder, name: &str, items: &[T]) -> keel::RequestBuilder {
            items.iter().fold(rb, |rb, item| rb.query(name, item))
        }

        /// `name[key]=value` pairs (`style: deepObject`).
        pub fn query_deep<T: serde::Serialize + ?Sized>(rb: keel::RequestBuilder, name: &str, value: &T) -> keel::RequestBuilder {
            match serde_json::to_value(value) {
                Ok(serde_json::Value::Object(map)) => map.iter().filter(|(_, v)| !v.is_null()).fold(rb, |rb, (k, v)| {
                    rb.query(&format!("{name}[{k}]"), param_string(v))
                }),
                Ok(other) => rb.query(name, param_string(&other)),
                Err(_) => rb,
            }
        }

        /// `key=value` pairs for each property (`style: form, explode: true`).
        pub fn query_object<T: serde::Serialize + ?Sized>(rb: keel::RequestBuilder, value: &T) -> keel::RequestBuilder {
            match serde_json::to_value(value) {
                Ok(serde_json::Value::Object(map)) => map.iter().filter(|(_, v)| !v.is_null()).fold(rb, |rb, (k, v)| rb.query(k, param_string(v))),
                _ => rb,
            }
        }
    }
}
