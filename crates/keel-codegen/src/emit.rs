//! Stage four: IR → Rust source, built with `quote` and printed with `prettyplease`. Reads
//! only the [`ir::Api`](crate::ir::Api).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};

use crate::ir::{
    Api, AuthKind, BodyKind, Group, Location, ModelKind, MultipartField, Operation, PartKind,
    Primitive, ResponseBody, StatusKey, Type,
};
use crate::names::ident;
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

/// Doc attributes from free text (the generated crate sets `doctest = false`: descriptions
/// are prose, not Rust).
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

fn first_line(text: Option<&str>) -> String {
    text.and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("")
        .to_string()
}

fn deprecated(yes: bool) -> TokenStream {
    if yes {
        quote!(#[deprecated])
    } else {
        quote!()
    }
}

/// `item` with `#[cfg(predicate)]` on each of its top-level items (`item` is one or more
/// items: a type and its impls). Without a predicate, `item` unchanged.
fn gate(item: TokenStream, predicate: Option<&str>) -> TokenStream {
    let Some(predicate) = predicate else {
        return item;
    };
    let Ok(cfg) = predicate.parse::<TokenStream>() else {
        return item;
    };
    // Tokens that are not items are left as they are; `render` reports them.
    let Ok(file) = syn::parse2::<syn::File>(item.clone()) else {
        return item;
    };
    let mut out = TokenStream::new();
    for mut it in file.items {
        let attr: syn::Attribute = syn::parse_quote!(#[cfg(#cfg)]);
        let attrs = match &mut it {
            syn::Item::Struct(i) => Some(&mut i.attrs),
            syn::Item::Enum(i) => Some(&mut i.attrs),
            syn::Item::Type(i) => Some(&mut i.attrs),
            syn::Item::Impl(i) => Some(&mut i.attrs),
            syn::Item::Fn(i) => Some(&mut i.attrs),
            syn::Item::Const(i) => Some(&mut i.attrs),
            _ => None,
        };
        match attrs {
            // after the doc comment, before the derives: as a person writes it
            Some(attrs) => {
                let at = attrs
                    .iter()
                    .position(|a| !a.path().is_ident("doc"))
                    .unwrap_or(attrs.len());
                attrs.insert(at, attr);
                out.extend(quote!(#it));
            }
            None => out.extend(quote!(#attr #it)),
        }
    }
    out
}

pub(crate) struct Emitter<'a> {
    pub api: &'a Api,
    /// The crate's Cargo features (`None`: fewer than two groups, no features).
    pub features: Option<crate::features::Plan>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(api: &'a Api) -> Self {
        Emitter {
            api,
            features: crate::features::plan(api),
        }
    }

    /// The feature of the group with this index, when the crate has features.
    fn group_feature(&self, index: usize) -> Option<&str> {
        self.features
            .as_ref()
            .and_then(|f| f.group_features.get(index))
            .map(String::as_str)
    }

    /// The `cfg` predicate a model is compiled under (`None`: always).
    fn model_cfg(&self, id: usize) -> Option<String> {
        let plan = self.features.as_ref()?;
        let groups = plan.model_groups.get(id)?.as_ref()?;
        Some(plan.cfg_predicate(groups))
    }

    /// Type tokens; `local` = inside the models module.
    pub(crate) fn ty(&self, t: &Type, local: bool) -> TokenStream {
        match t {
            Type::Model(i) => {
                let n = format_ident!("{}", self.api.models[*i].name);
                if local {
                    quote!(#n)
                } else {
                    quote!(models::#n)
                }
            }
            Type::Primitive(p) => {
                let n = format_ident!("{}", p.rust_name());
                quote!(#n)
            }
            Type::Any => quote!(serde_json::Value),
            Type::Bytes => quote!(keel::Bytes),
            Type::Vec(t) => {
                let t = self.ty(t, local);
                quote!(Vec<#t>)
            }
            Type::Map(t) => {
                let t = self.ty(t, local);
                quote!(::std::collections::BTreeMap<String, #t>)
            }
            Type::Option(t) => {
                let t = self.ty(t, local);
                quote!(Option<#t>)
            }
            Type::Boxed(t) => {
                let t = self.ty(t, local);
                quote!(Box<#t>)
            }
        }
    }

    /// Follow aliases to what a type really is.
    fn unalias<'t>(&'t self, t: &'t Type) -> &'t Type {
        let mut cur = t;
        for _ in 0..32 {
            match cur {
                Type::Model(i) => match &self.api.models[*i].kind {
                    ModelKind::Alias(inner) => cur = inner,
                    _ => return cur,
                },
                _ => return cur,
            }
        }
        cur
    }

    /// A documented default as an expression of type `t`, and whether it equals the type's
    /// own `Default` (then `#[serde(default)]` says it). `None` when it cannot be written.
    fn default_expr(&self, t: &Type, v: &serde_json::Value) -> Option<(TokenStream, bool)> {
        use serde_json::Value as V;
        Some(match (self.unalias(t), v) {
            (Type::Model(i), V::String(s)) => match &self.api.models[*i].kind {
                ModelKind::StringEnum { variants } => {
                    let n = format_ident!("{}", self.api.models[*i].name);
                    let (variant, _) = variants.iter().find(|(_, w)| w == s)?;
                    let variant = format_ident!("{}", variant);
                    (quote!(#n::#variant), false)
                }
                _ => return None,
            },
            (Type::Primitive(Primitive::String), V::String(s)) => {
                (quote!(#s.to_owned()), s.is_empty())
            }
            (Type::Primitive(Primitive::Bool), V::Bool(b)) => (quote!(#b), !*b),
            (Type::Primitive(Primitive::F32 | Primitive::F64), V::Number(n)) => {
                let f = n.as_f64()?;
                (Literal::f64_unsuffixed(f).into_token_stream(), f == 0.0)
            }
            (Type::Primitive(_), V::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    (Literal::u64_unsuffixed(u).into_token_stream(), u == 0)
                } else {
                    let i = n.as_i64()?;
                    let abs = Literal::u64_unsuffixed(i.unsigned_abs());
                    (quote!(-#abs), false)
                }
            }
            (Type::Vec(_), V::Array(a)) if a.is_empty() => (quote!(Vec::new()), true),
            (Type::Map(_), V::Object(o)) if o.is_empty() => {
                (quote!(::std::collections::BTreeMap::new()), true)
            }
            _ => return None,
        })
    }

    fn is_string(&self, t: &Type) -> bool {
        matches!(self.unalias(t), Type::Primitive(Primitive::String))
    }

    /// How a value of type `t` is taken by a method or setter: `(argument type, conversion)`.
    fn arg(&self, t: &Type) -> (TokenStream, TokenStream) {
        if self.is_string(t) {
            (quote!(impl Into<String>), quote!(.into()))
        } else {
            (self.ty(t, false), quote!())
        }
    }

    // ---------------------------------------------------------------- models

    pub(crate) fn models_file(&self) -> TokenStream {
        let mut items = TokenStream::new();
        for id in 0..self.api.models.len() {
            items.extend(gate(self.model(id), self.model_cfg(id).as_deref()));
        }
        let gated = if self.features.is_some() {
            quote! {
                //!
                //! A type only some tags' operations use is compiled only with those tags' features
                //! (`#[cfg(any(feature = …))]`); types every tag uses, or no operation does, always are.
            }
        } else {
            quote!()
        };
        quote! {
            //! Data types: one per schema of the API document, plus the inline schemas
            //! (named after where they appear).
            #gated
            //!
            //! Formats `date-time`, `date`, `uuid`, `uri`, `byte` and `binary` are kept as `String`
            //! so the crate depends only on `serde`/`serde_json`; parse them with the crate of your choice.
            //! `Default` is derived only for types none of whose fields is required.
            #![allow(deprecated)]
            #items
        }
    }

    fn model(&self, id: usize) -> TokenStream {
        let m = &self.api.models[id];
        let name = format_ident!("{}", m.name);
        let doc = doc_attrs(m.doc.as_deref());
        let mdep = deprecated(m.deprecated);
        let default = if m.derive_default {
            quote!(Default,)
        } else {
            quote!()
        };
        match &m.kind {
            ModelKind::Alias(t) => {
                let t = self.ty(t, true);
                quote! { #doc #mdep pub type #name = #t; }
            }
            ModelKind::Newtype(t) => {
                let t = self.ty(t, true);
                quote! {
                    #doc #mdep
                    #[derive(Debug, Clone, PartialEq, #default serde::Serialize, serde::Deserialize)]
                    #[serde(transparent)]
                    pub struct #name(pub #t);
                }
            }
            ModelKind::Struct { fields, additional } => {
                let mut fs = TokenStream::new();
                // documented defaults written as functions (`#[serde(default = "…")]`)
                let mut default_fns = TokenStream::new();
                // the expression each field takes in a hand-written `Default`
                let mut default_values = Vec::new();
                let mut custom_default = false;
                for f in fields {
                    let mut text = f.doc.clone().unwrap_or_default();
                    if f.tri_state {
                        if !text.is_empty() {
                            text.push_str("\n\n");
                        }
                        text.push_str("Optional and nullable: `None` is not sent, `Some(None)` is sent as `null`.");
                    }
                    if let Some(d) = f.default.as_ref().filter(|_| !text.contains("Default: `")) {
                        // the default of a referenced schema
                        if !text.is_empty() {
                            text.push_str("\n\n");
                        }
                        text.push_str(&format!("Default: `{}`.", d.to_string().replace('`', "'")));
                    }
                    let fdoc = doc_attrs(Some(&text));
                    let fid = ident(&f.name);
                    let t = self.ty(&f.ty, true);
                    let rename = if f.name != f.wire {
                        let w = &f.wire;
                        quote!(#[serde(rename = #w)])
                    } else {
                        quote!()
                    };
                    let mut default_value = quote!(::std::default::Default::default());
                    let skip = if f.tri_state {
                        quote!(#[serde(default, deserialize_with = "keel::codegen_support::present", skip_serializing_if = "Option::is_none")])
                    } else if f.optional && f.ty.is_option() {
                        quote!(#[serde(default, skip_serializing_if = "Option::is_none")])
                    } else if let Some(d) = &f.default {
                        match self.default_expr(&f.ty, d) {
                            Some((_, true)) => quote!(#[serde(default)]),
                            Some((expr, false)) => {
                                let fname =
                                    format_ident!("default_{}", f.name.trim_start_matches("r#"));
                                let path = format!("{}::{fname}", m.name);
                                let t = self.ty(&f.ty, true);
                                default_fns.extend(quote! {
                                    fn #fname() -> #t { #expr }
                                });
                                default_value = quote!(Self::#fname());
                                custom_default = true;
                                quote!(#[serde(default = #path)])
                            }
                            None => quote!(#[serde(default)]),
                        }
                    } else {
                        quote!()
                    };
                    let dep = deprecated(f.deprecated);
                    fs.extend(quote! { #fdoc #dep #rename #skip pub #fid: #t, });
                    default_values.push(quote!(#fid: #default_value));
                }
                if let Some((aname, t)) = additional {
                    let aid = ident(aname);
                    let t = self.ty(t, true);
                    fs.extend(quote! {
                        /// Properties not listed in the schema.
                        #[serde(flatten)]
                        pub #aid: ::std::collections::BTreeMap<String, #t>,
                    });
                    default_values.push(quote!(#aid: ::std::collections::BTreeMap::new()));
                }
                // a documented default other than the type's own rules out `derive(Default)`
                let (derive, default_impl) = if m.derive_default && custom_default {
                    (
                        quote!(),
                        quote! {
                            impl Default for #name {
                                fn default() -> Self {
                                    Self { #(#default_values,)* }
                                }
                            }
                        },
                    )
                } else {
                    (default, quote!())
                };
                let fns = if default_fns.is_empty() {
                    quote!()
                } else {
                    quote! { impl #name { #default_fns } }
                };
                quote! {
                    #doc #mdep
                    #[derive(Debug, Clone, PartialEq, #derive serde::Serialize, serde::Deserialize)]
                    pub struct #name { #fs }
                    #fns
                    #default_impl
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
                    #doc #mdep
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
                    .map(|v| format_ident!("{}", v.name))
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
                    #doc #mdep
                    #[derive(Debug, Clone, PartialEq, serde::Serialize, #derive_de)]
                    #[serde(untagged)]
                    pub enum #name {
                        #( #vids(#vtys), )*
                        #[doc = #other_doc]
                        Other(serde_json::Value),
                    }
                };
                if let Some(prop) = discriminator {
                    let mut seen = std::collections::HashSet::new();
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
                        let vid = format_ident!("{}", v.name);
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

    // ---------------------------------------------------------------- groups

    pub(crate) fn group_file(&self, group: &Group) -> TokenStream {
        let gty = format_ident!("{}", group.type_name);
        let head = format!(" Operations tagged `{}`.", group.tag);
        let gdoc = doc_attrs(group.doc.as_deref());
        let mut public = TokenStream::new();
        let mut secured = TokenStream::new();
        let mut items = TokenStream::new();
        for op in &group.operations {
            let (method, item) = self.operation(group, op);
            if op.security.is_empty() {
                public.extend(method);
            } else {
                secured.extend(method);
            }
            items.extend(item);
        }
        let secured = if secured.is_empty() {
            quote!()
        } else {
            quote! {
                /// Operations that need credentials: available on a client built with them.
                impl<'c> #gty<'c, keel::HttpAuthenticatedClient> { #secured }
            }
        };
        let public = if public.is_empty() {
            quote!()
        } else {
            quote! {
                /// Operations that need no credentials.
                impl<'c, A: keel::AuthState> #gty<'c, keel::Client<A>> { #public }
            }
        };
        let accessor = &group.accessor;
        let gdoc_line = format!(" Operations tagged `{}`: `client.{accessor}()`.", group.tag);
        let feature = self
            .api
            .groups
            .iter()
            .position(|g| g.module == group.module)
            .and_then(|i| self.group_feature(i))
            .map(|f| {
                let line = format!(
                    " Compiled with the crate's `{f}` feature (on by default): `default-features = false, features = [\"{f}\"]` compiles only this tag and the types it uses."
                );
                quote!(#![doc = ""] #![doc = #line])
            })
            .unwrap_or_default();
        quote! {
            #![doc = #head]
            #feature
            #![allow(deprecated, unused_imports)]
            use crate::models;

            #[doc = #gdoc_line]
            #gdoc
            pub struct #gty<'c, C> {
                http: &'c C,
            }
            impl<'c, C> #gty<'c, C> {
                pub(crate) fn new(http: &'c C) -> Self {
                    Self { http }
                }
            }
            #public
            #secured
            #items
        }
    }

    /// The group method that starts an operation, and the operation's items (builder,
    /// response enum, multipart struct).
    fn operation(&self, group: &Group, op: &Operation) -> (TokenStream, TokenStream) {
        let mname = ident(&op.name);
        let bty = format_ident!("{}", op.builder);
        let rty = format_ident!("{}", op.response_type);
        let doc = doc_attrs(op.doc.as_deref());
        let dep = deprecated(op.deprecated);
        let method = format_ident!("{}", op.method);
        let path = &op.path;

        // --- fields, method arguments, setters, request building
        let mut fields = TokenStream::new();
        let mut args = Vec::new();
        let mut inits = Vec::new();
        let mut setters = TokenStream::new();
        let mut build = TokenStream::new();
        for p in &op.params {
            let pid = ident(&p.name);
            let t = self.ty(&p.ty, false);
            let (arg_ty, conv) = self.arg(&p.ty);
            let wire = &p.wire;
            let style = format_ident!("{}", p.style.name());
            let explode = p.explode;
            let apply = match p.location {
                Location::Path => {
                    quote!(rb = keel::codegen_support::path(rb, #wire, v, keel::codegen_support::Style::#style, #explode)?;)
                }
                Location::Query => {
                    quote!(rb = keel::codegen_support::query(rb, #wire, v, keel::codegen_support::Style::#style, #explode)?;)
                }
                Location::Header => {
                    quote!(rb = keel::codegen_support::header(rb, #wire, v, #explode)?;)
                }
                Location::Cookie => {
                    quote!(rb = keel::codegen_support::cookie(rb, #wire, v, #explode)?;)
                }
                Location::CookieHeader => {
                    quote!(rb = keel::codegen_support::cookie_header(rb, v)?;)
                }
            };
            let where_ = match p.location {
                Location::Path => "path",
                Location::Query => "query",
                Location::Header | Location::CookieHeader => "header",
                Location::Cookie => "cookie",
            };
            let mut text = format!("The {where_} parameter `{wire}`.");
            if let Some(d) = &p.doc {
                text = format!("{d}\n\n{text}");
            }
            let pdoc = doc_attrs(Some(&text));
            let pdep = deprecated(p.deprecated);
            if p.required {
                fields.extend(quote!(#pid: #t,));
                args.push(quote!(#pid: #arg_ty));
                inits.push(if conv.is_empty() {
                    quote!(#pid)
                } else {
                    quote!(#pid: #pid #conv)
                });
                build.extend(quote!({ let v = &self.#pid; #apply }));
            } else {
                fields.extend(quote!(#pid: Option<#t>,));
                inits.push(quote!(#pid: None));
                setters.extend(quote! {
                    #pdoc #pdep
                    pub fn #pid(mut self, value: #arg_ty) -> Self {
                        self.#pid = Some(value #conv);
                        self
                    }
                });
                build.extend(quote!(if let Some(v) = &self.#pid { #apply }));
            }
        }
        let mut extra = TokenStream::new();
        if let Some(body) = &op.body {
            let mt = &body.media_type;
            let (t, arg_ty, conv, apply) = match &body.kind {
                BodyKind::Json(t) => {
                    let tt = self.ty(t, false);
                    let (a, c) = self.arg(t);
                    (tt, a, c, quote!(rb = rb.json(v);))
                }
                BodyKind::Form { ty, encodings } => {
                    let tt = self.ty(ty, false);
                    let (a, c) = self.arg(ty);
                    let encs: Vec<TokenStream> = encodings
                        .iter()
                        .map(|e| {
                            let prop = &e.property;
                            let st = format_ident!("{}", e.style.name());
                            let ex = e.explode;
                            quote!(keel::codegen_support::Encoding { property: #prop, style: keel::codegen_support::Style::#st, explode: #ex })
                        })
                        .collect();
                    (
                        tt,
                        a,
                        c,
                        quote!(rb = keel::codegen_support::form_body(rb, v, &[#(#encs),*])?;),
                    )
                }
                BodyKind::Multipart {
                    type_name,
                    fields: mfields,
                    derive_default,
                } => {
                    extra.extend(self.multipart_struct(op, type_name, mfields, *derive_default));
                    let sid = format_ident!("{}", type_name);
                    (
                        quote!(#sid),
                        quote!(#sid),
                        quote!(),
                        quote!(rb = rb.multipart(v.to_multipart()?);),
                    )
                }
                BodyKind::Bytes => (
                    quote!(keel::Bytes),
                    quote!(impl Into<keel::Bytes>),
                    quote!(.into()),
                    quote!(rb = rb.body(v.clone(), #mt);),
                ),
                BodyKind::Text => (
                    quote!(String),
                    quote!(impl Into<String>),
                    quote!(.into()),
                    quote!(rb = rb.body(v.clone(), #mt);),
                ),
            };
            let text = format!(
                "The `{mt}` request body.{}",
                body.doc
                    .as_deref()
                    .map(|d| format!("\n\n{d}"))
                    .unwrap_or_default()
            );
            let bdoc = doc_attrs(Some(&text));
            if body.required {
                fields.extend(quote!(body: #t,));
                let pos = op.params.iter().filter(|p| p.required).count();
                args.insert(pos, quote!(body: #arg_ty));
                inits.push(if conv.is_empty() {
                    quote!(body)
                } else {
                    quote!(body: body #conv)
                });
                build.extend(quote!({ let v = &self.body; #apply }));
            } else {
                fields.extend(quote!(body: Option<#t>,));
                inits.push(quote!(body: None));
                setters.extend(quote! {
                    #bdoc
                    pub fn body(mut self, value: #arg_ty) -> Self {
                        self.body = Some(value #conv);
                        self
                    }
                });
                build.extend(quote!(if let Some(v) = &self.body { #apply }));
            }
        }
        let accept = if op.accept.is_empty() {
            quote!()
        } else {
            let a = op.accept.join(", ");
            quote!(let rb = rb.header("Accept", #a);)
        };
        let documented: Vec<TokenStream> = op
            .responses
            .iter()
            .map(|r| match r.status {
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

        let (response_enum, ok_ty, err_ty) = self.response_enum(op);
        let summary = first_line(op.doc.as_deref());
        let accessor = &group.accessor;
        let needs = if op.security.is_empty() {
            String::new()
        } else {
            format!(
                "\n\nNeeds credentials ({}): available on `Client<keel::HttpAuthenticatedClient>`.",
                op.security
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        let mdoc_tail = doc_attrs(Some(&format!(
            "Returns a [`{b}`]: set optional parameters on it, then `.send().await` (or `.send_blocking()`, `.detailed()`, `.detailed_blocking()`).{needs}",
            b = op.builder
        )));
        let group_method = quote! {
            #doc
            #[doc = ""]
            #mdoc_tail
            #dep
            pub fn #mname(&self, #(#args),*) -> #bty {
                #bty {
                    rb: self.http.request(keel::Method::#method, #path),
                    #(#inits,)*
                }
            }
        };
        let bdoc = format!(
            "{summary}\n\nBuilt by `client.{accessor}().{}(…)`; nothing is sent until [`send`](Self::send), [`send_blocking`](Self::send_blocking), [`detailed`](Self::detailed) or [`detailed_blocking`](Self::detailed_blocking).",
            op.name.trim_start_matches("r#")
        );
        let bind = if build.is_empty() {
            quote!(let rb = self.rb;)
        } else {
            quote!(let mut rb = self.rb;)
        };
        let events = match &op.event_stream {
            None => quote!(),
            Some(es) => match &es.data {
                Some(t) => {
                    let t = self.ty(t, false);
                    quote! {
                        /// The response as server-sent events, each event's data parsed; a dropped
                        /// connection is resumed with `Last-Event-ID` (see [`keel::sse`]). Read it with
                        /// `next().await` or `next_blocking()`.
                        pub fn events(self) -> keel::Result<keel::sse::TypedEventStream<#t>> {
                            Ok(keel::sse::EventSource::from_request(self.into_request()?)?.connect_typed())
                        }
                        /// [`events`](Self::events) with the source's settings (terminator, retry,
                        /// reconnection bound) to adjust before connecting.
                        pub fn event_source(self) -> keel::Result<keel::sse::EventSource> {
                            keel::sse::EventSource::from_request(self.into_request()?)
                        }
                    }
                }
                None => quote! {
                    /// The response as server-sent events; a dropped connection is resumed with
                    /// `Last-Event-ID` (see [`keel::sse`]).
                    pub fn events(self) -> keel::Result<keel::sse::EventStream> {
                        Ok(keel::sse::EventSource::from_request(self.into_request()?)?.connect())
                    }
                    /// [`events`](Self::events) with the source's settings to adjust before
                    /// connecting.
                    pub fn event_source(self) -> keel::Result<keel::sse::EventSource> {
                        keel::sse::EventSource::from_request(self.into_request()?)
                    }
                },
            },
        };
        let paginate = match crate::paging::plan(self.api, op) {
            None => quote!(),
            Some(plan) => {
                let item = self.ty(&plan.item, false);
                let strategy = match &plan.strategy {
                    crate::paging::Strategy::Cursor { param, field } => {
                        quote!(keel::pagination::Pagination::cursor(#param, #field))
                    }
                    crate::paging::Strategy::StartingAfter => {
                        quote!(keel::pagination::Pagination::starting_after())
                    }
                    crate::paging::Strategy::Offset { limit } => {
                        quote!(keel::pagination::Pagination::offset(#limit))
                    }
                    crate::paging::Strategy::Page => {
                        quote!(keel::pagination::Pagination::page_number())
                    }
                    crate::paging::Strategy::Link => {
                        quote!(keel::pagination::Pagination::link_header())
                    }
                };
                let items_at = &plan.items_at;
                let pdoc = format!(
                    " Every page of this list ({}), as a [`keel::pagination::Pager`]: `next_item().await`, `items()`, `pages()`, `items_blocking()`; at most 1000 pages unless `max_pages` says otherwise.",
                    plan.strategy.describe()
                );
                quote! {
                    #[doc = #pdoc]
                    pub fn paginate(self) -> keel::Result<keel::pagination::Pager<#item>> {
                        Ok(keel::pagination::Pager::from_request(self.into_request()?, #strategy)?.items_at(#items_at))
                    }
                }
            }
        };
        let detailed_doc = format!(" Sends the request and returns the whole response (status, headers, raw body), the body parsed into [`{}`] (`parsed` is `None` for an undocumented status when the client does not raise on those).", op.response_type);
        let bdoc = doc_attrs(Some(&bdoc));
        let item = quote! {
            #bdoc
            #[derive(Debug)]
            #[must_use = "a request does nothing until it is sent"]
            pub struct #bty {
                rb: keel::RequestBuilder,
                #fields
            }
            impl #bty {
                #setters
                /// The request as Keel sends it (parameters laid out by their documented styles).
                pub fn into_request(self) -> keel::Result<keel::RequestBuilder> {
                    #bind
                    #build
                    #accept
                    Ok(rb.documented([#(#documented),*]))
                }
                /// Sends the request; a documented success gives its body, a documented error status
                /// [`keel::ApiError::Status`] with its parsed body.
                pub async fn send(self) -> Result<#ok_ty, keel::ApiError<#err_ty>> {
                    keel::ApiError::from_response(self.detailed().await?)
                }
                #[doc = #detailed_doc]
                pub async fn detailed(self) -> keel::Result<keel::Response<#rty>> {
                    self.into_request()?.send_with(#rty::parse).await
                }
                /// [`send`](Self::send) for blocking callers (outside an async runtime).
                pub fn send_blocking(self) -> Result<#ok_ty, keel::ApiError<#err_ty>> {
                    keel::ApiError::from_response(self.detailed_blocking()?)
                }
                /// [`detailed`](Self::detailed) for blocking callers (outside an async runtime).
                pub fn detailed_blocking(self) -> keel::Result<keel::Response<#rty>> {
                    self.into_request()?.send_with_blocking(#rty::parse)
                }
                #events
                #paginate
            }
            #response_enum
            #extra
        };
        (group_method, item)
    }

    fn resp_ty(&self, b: &ResponseBody) -> TokenStream {
        match b {
            ResponseBody::None => quote!(()),
            ResponseBody::Json(t) => self.ty(t, false),
            ResponseBody::AnyJson => quote!(Option<serde_json::Value>),
            ResponseBody::Text => quote!(String),
            ResponseBody::Bytes => quote!(keel::Bytes),
        }
    }

    /// The response enum, its parser and its split; returns (items, success type, error type).
    fn response_enum(&self, op: &Operation) -> (TokenStream, TokenStream, TokenStream) {
        let rty = format_ident!("{}", op.response_type);
        let mut variants = TokenStream::new();
        let mut code_arms = TokenStream::new();
        let mut class_arms = TokenStream::new();
        let mut default_arm = None;
        for r in &op.responses {
            let v = format_ident!("{}", r.variant);
            let rdoc = doc_attrs(r.doc.as_deref());
            let (decl, value) = match &r.body {
                ResponseBody::None => (quote!(#v), quote!(Self::#v)),
                ResponseBody::Json(t) => {
                    let t = self.ty(t, false);
                    (
                        quote!(#v(#t)),
                        quote!(Self::#v(keel::codegen_support::json(resp)?)),
                    )
                }
                ResponseBody::AnyJson => (
                    quote!(#v(Option<serde_json::Value>)),
                    quote!(Self::#v(keel::codegen_support::any_json(resp)?)),
                ),
                ResponseBody::Text => (
                    quote!(#v(String)),
                    quote!(Self::#v(keel::codegen_support::text(resp)?)),
                ),
                ResponseBody::Bytes => (
                    quote!(#v(keel::Bytes)),
                    quote!(Self::#v(keel::codegen_support::bytes(resp))),
                ),
            };
            variants.extend(quote!(#rdoc #decl,));
            match r.status {
                StatusKey::Code(c) => {
                    let c = Literal::u16_unsuffixed(c);
                    code_arms.extend(quote!(#c => #value,));
                }
                StatusKey::Class(c) => {
                    let lo = Literal::u16_unsuffixed(c * 100);
                    let hi = Literal::u16_unsuffixed(c * 100 + 99);
                    class_arms.extend(quote!(#lo..=#hi => #value,));
                }
                StatusKey::Default => default_arm = Some(quote!(_ => #value,)),
            }
        }
        let fallback = default_arm
            .unwrap_or_else(|| quote!(_ => return Err(keel::codegen_support::unexpected(resp)),));
        let (ok_ty, ok_arms) = self.side(op, false);
        let (err_ty, err_arms) = self.side(op, true);
        let rdoc = format!(
            " Responses of `{}`, one variant per documented status.",
            op.name.trim_start_matches("r#")
        );
        let items = quote! {
            #[doc = #rdoc]
            #[derive(Debug, Clone)]
            pub enum #rty { #variants }
            impl #rty {
                /// Parses a response whose status is documented.
                pub fn parse(resp: &keel::Response) -> keel::Result<Self> {
                    Ok(match resp.status.as_u16() {
                        #code_arms
                        #class_arms
                        #fallback
                    })
                }
            }
            impl keel::codegen_support::DocumentedResponse for #rty {
                type Success = #ok_ty;
                type Failure = #err_ty;
                fn into_result(self) -> Result<#ok_ty, #err_ty> {
                    match self {
                        #ok_arms
                        #err_arms
                    }
                }
            }
        };
        (items, ok_ty, err_ty)
    }

    /// The success (`errors = false`) or error type of an operation and its split arms.
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
        let mut arms = TokenStream::new();
        if rs.iter().all(|r| &r.body == first) {
            for r in &rs {
                let v = format_ident!("{}", r.variant);
                arms.extend(match r.body {
                    ResponseBody::None => quote!(Self::#v => #outcome(()),),
                    _ => quote!(Self::#v(v) => #outcome(v),),
                });
            }
            (self.resp_ty(first), arms)
        } else {
            for r in &rs {
                let v = format_ident!("{}", r.variant);
                arms.extend(match r.body {
                    ResponseBody::None => quote!(Self::#v => #outcome(Self::#v),),
                    _ => quote!(Self::#v(v) => #outcome(Self::#v(v)),),
                });
            }
            let rty = format_ident!("{}", op.response_type);
            (quote!(#rty), arms)
        }
    }

    fn multipart_struct(
        &self,
        op: &Operation,
        name: &str,
        fields: &[MultipartField],
        derive_default: bool,
    ) -> TokenStream {
        let sid = format_ident!("{}", name);
        let mut decls = TokenStream::new();
        let mut adds = TokenStream::new();
        for f in fields {
            let fid = ident(&f.name);
            let wire = &f.wire;
            let fdoc = doc_attrs(f.doc.as_deref());
            let (t, add) = match f.kind {
                PartKind::File => (
                    quote!(keel::codegen_support::FilePart),
                    quote!(form = keel::codegen_support::multipart_file(form, #wire, v);),
                ),
                PartKind::Files => (
                    quote!(Vec<keel::codegen_support::FilePart>),
                    quote!(for p in v { form = keel::codegen_support::multipart_file(form, #wire, p); }),
                ),
                PartKind::Value => (
                    self.ty(&f.ty, false),
                    quote!(form = keel::codegen_support::multipart_value(form, #wire, v)?;),
                ),
            };
            if f.required || f.kind == PartKind::Files {
                decls.extend(quote!(#fdoc pub #fid: #t,));
                adds.extend(quote!({ let v = &self.#fid; #add }));
            } else {
                decls.extend(quote!(#fdoc pub #fid: Option<#t>,));
                adds.extend(quote!(if let Some(v) = &self.#fid { #add }));
            }
        }
        let doc = format!(
            " The `multipart/form-data` body of `{}`.",
            op.name.trim_start_matches("r#")
        );
        let default = if derive_default {
            quote!(Default,)
        } else {
            quote!()
        };
        let mut_form = if fields.is_empty() {
            quote!(let form = keel::Multipart::new();)
        } else {
            quote!(let mut form = keel::Multipart::new();)
        };
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, #default)]
            pub struct #sid { #decls }
            impl #sid {
                /// The parts, in document order.
                pub fn to_multipart(&self) -> keel::Result<keel::Multipart> {
                    #mut_form
                    #adds
                    Ok(form)
                }
            }
        }
    }

    // ---------------------------------------------------------------- crate files

    /// `(arguments, builder setup, description, argument names)` of a scheme's constructor.
    fn scheme_parts(kind: &AuthKind) -> Option<(TokenStream, TokenStream, String, TokenStream)> {
        Some(match kind {
            AuthKind::ApiKeyHeader(h) => (
                quote!(api_key: &str),
                quote!(.api_key(api_key).auth_header_name(#h).scheme(keel::signing::Scheme::api_key_header())),
                format!("API key sent in the `{h}` header"),
                quote!(api_key),
            ),
            AuthKind::ApiKeyQuery(q) => (
                quote!(api_key: &str),
                quote!(.api_key(api_key).scheme(keel::signing::Scheme::api_key_query(#q))),
                format!("API key sent as the `{q}` query parameter"),
                quote!(api_key),
            ),
            AuthKind::ApiKeyCookie(c) => (
                quote!(api_key: &str),
                quote!(.api_key(api_key).cookie(#c, api_key).scheme(keel::signing::Scheme::api_key_header()).auth_header_name("X-Keel-Unused-Api-Key")),
                format!("API key sent as the `{c}` cookie"),
                quote!(api_key),
            ),
            AuthKind::Bearer => (
                quote!(token: &str),
                quote!(.api_key(token).scheme(keel::signing::Scheme::bearer())),
                "HTTP bearer token".to_string(),
                quote!(token),
            ),
            AuthKind::OAuth2 => (
                quote!(access_token: &str),
                quote!(.api_key(access_token).scheme(keel::signing::Scheme::bearer())),
                "OAuth2 / OpenID Connect access token (obtained elsewhere), sent as a bearer token"
                    .to_string(),
                quote!(access_token),
            ),
            AuthKind::Basic => (
                quote!(username: &str, password: &str),
                quote!(.api_key(username).api_secret(password).scheme(keel::signing::Scheme::basic())),
                "HTTP basic authentication".to_string(),
                quote!(username, password),
            ),
            // Built by `oauth2_parts` (its builder is fallible).
            AuthKind::OAuth2ClientCredentials { .. } | AuthKind::Unsupported(_) => return None,
        })
    }

    /// The token URL and scopes of an OAuth2 client-credentials scheme.
    fn oauth2_parts(kind: &AuthKind) -> Option<(TokenStream, String)> {
        let AuthKind::OAuth2ClientCredentials { token_url, scopes } = kind else {
            return None;
        };
        let what = format!(
            "OAuth2 client credentials: tokens from `{token_url}`{}, renewed before they expire",
            if scopes.is_empty() {
                String::new()
            } else {
                format!(" for the scopes `{}`", scopes.join(" "))
            }
        );
        Some((
            quote!(keel::codegen_support::oauth2_client_credentials(base_url, #token_url, client_id, client_secret, &[#(#scopes),*])?),
            what,
        ))
    }

    pub(crate) fn auth_file(&self) -> TokenStream {
        let mut items = TokenStream::new();
        for s in &self.api.security_schemes {
            if let Some((provider, what)) = Self::oauth2_parts(&s.kind) {
                let builder_fn = ident(&format!("{}_builder", s.name));
                let d1 = format!(
                    " A Keel client builder for the `{}` security scheme: {what}. Configure it further, build it, and wrap it with [`crate::Client::new`].",
                    s.wire
                );
                let with_token = ident(&format!("{}_token_builder", s.name));
                let d2 = format!(
                    " A Keel client builder for the `{}` security scheme with an access token obtained elsewhere, sent as a bearer token.",
                    s.wire
                );
                items.extend(quote! {
                    #[doc = #d1]
                    pub fn #builder_fn(base_url: &str, client_id: &str, client_secret: &str) -> keel::Result<keel::HttpAuthenticatedClientBuilder> {
                        let provider = #provider;
                        Ok(keel::HttpClient::builder(base_url).oauth2(provider))
                    }
                    #[doc = #d2]
                    pub fn #with_token(base_url: &str, access_token: &str) -> keel::HttpAuthenticatedClientBuilder {
                        keel::HttpAuthenticatedClient::builder(base_url).api_key(access_token).scheme(keel::signing::Scheme::bearer())
                    }
                });
                continue;
            }
            let Some((args, setup, what, _)) = Self::scheme_parts(&s.kind) else {
                continue;
            };
            let builder_fn = ident(&format!("{}_builder", s.name));
            let d1 = format!(
                " A Keel client builder for the `{}` security scheme: {what}. Configure it further, build it, and wrap it with [`crate::Client::new`].",
                s.wire
            );
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
            });
        }
        quote! {
            //! Keel client builders for the API's security schemes.
            #items
        }
    }

    /// The crate docs' section on its Cargo features (empty without features).
    fn features_doc(&self) -> TokenStream {
        let Some(plan) = &self.features else {
            return quote!();
        };
        let mut lines = vec![
            String::new(),
            "# Cargo features".to_string(),
            String::new(),
            "One feature per tag, all on by default. A program that uses only some tags compiles"
                .to_string(),
            "only those (their modules, their accessors on [`Client`] and the types only they use),"
                .to_string(),
            "for example `default-features = false, features = [\"…\"]`:".to_string(),
            String::new(),
        ];
        for (g, f) in self.api.groups.iter().zip(&plan.group_features) {
            let n = g.operations.len();
            lines.push(format!(
                "- `{f}`: `client.{}()`, the operations tagged `{}` ({n} operation{})",
                g.accessor,
                g.tag.replace('`', "'"),
                if n == 1 { "" } else { "s" }
            ));
        }
        let lines = lines.iter().map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!(" {l}")
            }
        });
        quote!(#( #![doc = #lines] )*)
    }

    pub(crate) fn lib_file(&self, has_auth: bool) -> TokenStream {
        let api = self.api;
        let head = format!(
            " Client for {} (API version {}), generated by keel-codegen. Do not edit by hand.",
            api.title, api.version
        );
        let desc = match &api.description {
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
        let secured = api.has_security();
        let default_client = if secured {
            quote!(keel::HttpAuthenticatedClient)
        } else {
            quote!(keel::HttpClient)
        };
        let example = api
            .operations()
            .next()
            .map(|(g, o)| {
                let args: Vec<&str> = o
                    .params
                    .iter()
                    .filter(|p| p.required)
                    .map(|p| p.name.as_str())
                    .collect();
                format!(
                    " `client.{}().{}({}).send().await?`",
                    g.accessor,
                    o.name.trim_start_matches("r#"),
                    args.join(", ")
                )
            })
            .unwrap_or_default();
        let cfg_of = |i: usize| match self.group_feature(i) {
            Some(f) => quote!(#[cfg(feature = #f)]),
            None => quote!(),
        };
        let mods: Vec<TokenStream> = api
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let m = ident(&g.module);
                let cfg = cfg_of(i);
                quote!(#cfg pub mod #m;)
            })
            .collect();
        let accessors: Vec<TokenStream> = api
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let m = ident(&g.module);
                let a = ident(&g.accessor);
                let t = format_ident!("{}", g.type_name);
                let d = match self.group_feature(i) {
                    Some(f) => format!(" Operations tagged `{}` (feature `{f}`).", g.tag),
                    None => format!(" Operations tagged `{}`.", g.tag),
                };
                let cfg = cfg_of(i);
                quote! {
                    #[doc = #d]
                    #cfg
                    pub fn #a(&self) -> #m::#t<'_, keel::Client<A>> {
                        #m::#t::new(&self.http)
                    }
                }
            })
            .collect();
        let features_doc = self.features_doc();
        let mut ctors = TokenStream::new();
        for s in &api.security_schemes {
            if let Some((_, what)) = Self::oauth2_parts(&s.kind) {
                let f = ident(&format!("with_{}", s.name));
                let b = ident(&format!("{}_builder", s.name));
                let ft = ident(&format!("with_{}_token", s.name));
                let bt = ident(&format!("{}_token_builder", s.name));
                let d = format!(
                    " A client for `base_url` authenticated with the `{}` scheme ({what}).",
                    s.wire
                );
                let dt = format!(
                    " A client for `base_url` authenticated with the `{}` scheme, with an access token obtained elsewhere.",
                    s.wire
                );
                ctors.extend(quote! {
                    #[doc = #d]
                    pub fn #f(base_url: &str, client_id: &str, client_secret: &str) -> keel::Result<Self> {
                        auth::#b(base_url, client_id, client_secret)?.build().map(Self::new)
                    }
                    #[doc = #dt]
                    pub fn #ft(base_url: &str, access_token: &str) -> keel::Result<Self> {
                        auth::#bt(base_url, access_token).build().map(Self::new)
                    }
                });
                continue;
            }
            let Some((args, _, what, names)) = Self::scheme_parts(&s.kind) else {
                continue;
            };
            let f = ident(&format!("with_{}", s.name));
            let b = ident(&format!("{}_builder", s.name));
            let d = format!(
                " A client for `base_url` authenticated with the `{}` scheme ({what}).",
                s.wire
            );
            ctors.extend(quote! {
                #[doc = #d]
                pub fn #f(base_url: &str, #args) -> keel::Result<Self> {
                    auth::#b(base_url, #names).build().map(Self::new)
                }
            });
        }
        let ctors = if ctors.is_empty() {
            quote!()
        } else {
            quote!(impl Client<keel::HttpAuthenticatedClient> { #ctors })
        };
        let auth = if has_auth {
            quote!(
                pub mod auth;
            )
        } else {
            quote!()
        };
        let base_url = &api.base_url;
        let from_url_doc = if secured {
            " A client without credentials for `base_url` (see [`DEFAULT_BASE_URL`]): it offers the operations that need none; the `with_…` constructors give one with credentials."
        } else {
            " A client for `base_url` (see [`DEFAULT_BASE_URL`])."
        };
        quote! {
            #![doc = #head]
            #desc
            #![doc = ""]
            #![doc = " [`Client`] wraps a Keel client and groups the operations by tag; each operation"]
            #![doc = " takes its required parameters and returns a request builder with a setter per"]
            #![doc = " optional parameter. For example:"]
            #![doc = #example]
            #![doc = " Data types are in [`models`]."]
            #features_doc
            #![allow(clippy::large_enum_variant, clippy::enum_variant_names, clippy::module_inception, clippy::doc_lazy_continuation, clippy::derivable_impls, clippy::too_many_arguments, clippy::new_without_default)]

            #auth
            pub mod models;
            #(#mods)*

            pub use keel::codegen_support::FilePart;

            /// The first server URL of the API document.
            pub const DEFAULT_BASE_URL: &str = #base_url;

            /// The API's client: a Keel client (its base URL, timeouts, resilience and credentials)
            /// with one accessor per tag. `Client<keel::HttpClient>` offers the operations that need
            /// no credentials; `Client<keel::HttpAuthenticatedClient>` offers all of them.
            #[derive(Debug, Clone)]
            pub struct Client<C = #default_client> {
                http: C,
            }

            impl<A: keel::AuthState> Client<keel::Client<A>> {
                /// Wraps a configured Keel client.
                pub fn new(http: keel::Client<A>) -> Self {
                    Self { http }
                }
                /// The Keel client underneath.
                pub fn http(&self) -> &keel::Client<A> {
                    &self.http
                }
                #(#accessors)*
            }

            impl Client<keel::HttpClient> {
                #[doc = #from_url_doc]
                pub fn from_url(base_url: &str) -> keel::Result<Self> {
                    keel::HttpClient::new(base_url).map(Self::new)
                }
            }

            #ctors
        }
    }
}
