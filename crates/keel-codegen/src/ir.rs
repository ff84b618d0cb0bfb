//! The intermediate representation: what a document means for a client, as plain data.
//!
//! [`lower`](crate::lower) produces an [`Api`] from a loaded and normalized document; the
//! emitter reads only this (never the document), and other tools can too (the CLI's
//! OpenAPI-aware calls read documents through it). Nothing here refers back into the
//! document except by JSON pointer (for messages); every Rust name is chosen once, during
//! lowering, and is unique in its scope.
//!
//! ```no_run
//! let (api, warnings) = keel_codegen::lower(std::path::Path::new("petstore.yaml"))?;
//! for group in &api.groups {
//!     for op in &group.operations {
//!         println!("{} {} -> client.{}().{}(…)", op.method, op.path, group.accessor, op.name);
//!     }
//! }
//! # let _ = warnings;
//! # Ok::<(), keel_codegen::CodegenError>(())
//! ```

/// Index of a [`Model`] in [`Api::models`].
pub type ModelId = usize;

/// A whole API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Api {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// `info.description`.
    pub description: Option<String>,
    /// The first server URL, variables replaced by their defaults (`/` when none).
    pub base_url: String,
    /// Every named type: component schemas first (in document order), then inline schemas
    /// that needed a name.
    pub models: Vec<Model>,
    /// Operations grouped by their first tag (`default` without one), in first-seen order.
    pub groups: Vec<Group>,
    /// `components.securitySchemes`, in document order.
    pub security_schemes: Vec<SecurityScheme>,
    /// The scheme most operations use (index into `security_schemes`).
    pub default_scheme: Option<usize>,
    /// Operations under `paths` in the document.
    pub spec_operations: usize,
    /// Entries of `components.schemas`.
    pub schemas: usize,
}

impl Api {
    /// Every operation, group by group.
    pub fn operations(&self) -> impl Iterator<Item = (&Group, &Operation)> {
        self.groups
            .iter()
            .flat_map(|g| g.operations.iter().map(move |o| (g, o)))
    }

    /// The operation with this `operationId` (or, for operations without one, the
    /// generated method name).
    pub fn operation(&self, id: &str) -> Option<(&Group, &Operation)> {
        self.operations()
            .find(|(_, o)| o.operation_id.as_deref() == Some(id))
            .or_else(|| self.operations().find(|(_, o)| o.name == id))
    }

    /// Whether any operation needs credentials.
    pub fn has_security(&self) -> bool {
        self.operations().any(|(_, o)| !o.security.is_empty())
    }
}

/// A Rust type in the generated crate.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// A generated model.
    Model(ModelId),
    /// A scalar.
    Primitive(Primitive),
    /// Any JSON value (`serde_json::Value`): what cannot be expressed otherwise.
    Any,
    /// Raw bytes (`keel::Bytes`); only in bodies, never inside a model.
    Bytes,
    /// `Vec<T>`.
    Vec(Box<Type>),
    /// `BTreeMap<String, T>`.
    Map(Box<Type>),
    /// `Option<T>`: nullable, or not required.
    Option(Box<Type>),
    /// `Box<T>`: breaks a cycle of direct containment.
    Boxed(Box<Type>),
}

impl Type {
    /// Whether this is `Option<_>`.
    pub fn is_option(&self) -> bool {
        matches!(self, Type::Option(_))
    }
    /// `Option<self>` (unchanged when already an option).
    pub fn optional(self) -> Type {
        if self.is_option() {
            self
        } else {
            Type::Option(Box::new(self))
        }
    }
    /// The type without its outer `Option`.
    pub fn required(&self) -> &Type {
        match self {
            Type::Option(t) => t,
            t => t,
        }
    }
    /// Models this type mentions without indirection (for recursion boxing).
    pub(crate) fn direct_models(&self, out: &mut Vec<ModelId>) {
        match self {
            Type::Model(i) => out.push(*i),
            Type::Option(t) => t.direct_models(out),
            _ => {}
        }
    }
    /// Every model this type mentions.
    pub fn all_models(&self, out: &mut Vec<ModelId>) {
        match self {
            Type::Model(i) => out.push(*i),
            Type::Option(t) | Type::Vec(t) | Type::Map(t) | Type::Boxed(t) => t.all_models(out),
            _ => {}
        }
    }
}

/// A scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Primitive {
    String,
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
}

impl Primitive {
    /// The Rust type's name (`i64`, `String`).
    pub fn rust_name(self) -> &'static str {
        match self {
            Primitive::String => "String",
            Primitive::Bool => "bool",
            Primitive::I8 => "i8",
            Primitive::I16 => "i16",
            Primitive::I32 => "i32",
            Primitive::I64 => "i64",
            Primitive::U8 => "u8",
            Primitive::U16 => "u16",
            Primitive::U32 => "u32",
            Primitive::U64 => "u64",
            Primitive::F32 => "f32",
            Primitive::F64 => "f64",
        }
    }
}

/// A named type of `crate::models`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Model {
    /// The Rust type name.
    pub name: String,
    /// JSON pointer of its schema.
    pub pointer: String,
    /// Doc text (description, format, default, read/write-only notes).
    pub doc: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// References to this model are `Option<_>` (a nullable component).
    pub nullable: bool,
    /// Whether `Default` is derived: only when no field is required.
    pub derive_default: bool,
    /// Whether a request body can contain it (optional nullable fields are then tri-state).
    pub in_request: bool,
    /// What it is.
    pub kind: ModelKind,
}

/// The shape of a [`Model`].
#[derive(Debug, Clone)]
pub enum ModelKind {
    /// A struct.
    Struct {
        /// Its fields, in document order (`allOf` parts merged).
        fields: Vec<Field>,
        /// A flattened map of the properties the schema does not list (field name, value type).
        additional: Option<(String, Type)>,
    },
    /// A string enum; an `Other(String)` variant keeps values the document does not list.
    StringEnum {
        /// (variant name, wire value).
        variants: Vec<(String, String)>,
    },
    /// `oneOf` / `anyOf`; `Other(serde_json::Value)` keeps a value matching no variant.
    OneOf {
        /// The variants.
        variants: Vec<Variant>,
        /// The discriminator property, when every variant is a reference.
        discriminator: Option<String>,
    },
    /// `pub type X = T;`
    Alias(Type),
    /// `pub struct X(pub T);` (an alias that would be recursive).
    Newtype(Type),
}

/// A struct field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Field {
    /// The Rust field name.
    pub name: String,
    /// The property name on the wire.
    pub wire: String,
    /// Its type, `Option<_>` when not required (or nullable).
    pub ty: Type,
    /// Not in `required` (or read/write-only): left out when `None`.
    pub optional: bool,
    /// The schema allows `null`.
    pub nullable: bool,
    /// Optional and nullable in a request model: `Option<Option<T>>`, where `None` is not
    /// sent and `Some(None)` is sent as `null`.
    pub tri_state: bool,
    /// The schema's documented `default`, applied when the property is absent: the field is
    /// then `T` (not `Option<T>`) and decoding a value without it yields this. Set only for
    /// optional, non-nullable, non-read/write-only fields whose default fits the field's type
    /// (a scalar, a string enum value, an empty array or object), in models no request body
    /// contains (there `None` stays "not sent", and the server applies the default).
    pub default: Option<serde_json::Value>,
    /// Doc text.
    pub doc: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
}

/// A `oneOf`/`anyOf` variant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Variant {
    /// The variant name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Discriminator values selecting it.
    pub tags: Vec<String>,
}

/// Operations sharing a tag: `client.pets().get_pet(…)`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Group {
    /// The tag as written.
    pub tag: String,
    /// The module holding the group's builders and response types.
    pub module: String,
    /// The accessor method on the client (`pets`).
    pub accessor: String,
    /// The group's type name (`Pets`).
    pub type_name: String,
    /// The tag's description.
    pub doc: Option<String>,
    /// Its operations, in document order.
    pub operations: Vec<Operation>,
}

/// One operation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Operation {
    /// `operationId`, when the document gives one.
    pub operation_id: Option<String>,
    /// JSON pointer of the operation (`/paths/~1pets/get`).
    pub pointer: String,
    /// `GET`, `POST`, … (upper case).
    pub method: String,
    /// The path template (`/pets/{petId}`).
    pub path: String,
    /// The method name on the group (`get_pet`).
    pub name: String,
    /// The request builder's type name (`GetPet`).
    pub builder: String,
    /// The response enum's type name (`GetPetResponse`).
    pub response_type: String,
    /// Summary and description.
    pub doc: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// Parameters: path (template order), then required, then optional ones.
    pub params: Vec<Param>,
    /// The request body.
    pub body: Option<Body>,
    /// Documented responses.
    pub responses: Vec<Response>,
    /// Security schemes accepted (wire names; any one suffices); empty = public.
    pub security: Vec<String>,
    /// Media types the client decodes, sent as `Accept`.
    pub accept: Vec<String>,
    /// A success response is `text/event-stream`: the operation also gets
    /// `events()`, typed by the event schema when the document gives one.
    pub event_stream: Option<EventStream>,
    /// The operation's `x-keel-pagination` extension, as JSON (`false` turns
    /// detection off; an object names the strategy).
    pub pagination_override: Option<serde_json::Value>,
}

/// A `text/event-stream` response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EventStream {
    /// The type of each event's data (`itemSchema`, or `x-keel-event-schema`),
    /// when the document gives one.
    pub data: Option<Type>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path placeholder.
    Path,
    /// The query string.
    Query,
    /// A header.
    Header,
    /// A cookie.
    Cookie,
    /// A header parameter named `Cookie`: a whole cookie string, sent as cookies.
    CookieHeader,
}

/// How a parameter is laid out (OpenAPI `style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Style {
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
    Simple,
    Label,
    Matrix,
}

impl Style {
    /// From the document's `style`.
    pub fn parse(s: &str) -> Option<Style> {
        Some(match s {
            "form" => Style::Form,
            "spaceDelimited" => Style::SpaceDelimited,
            "pipeDelimited" => Style::PipeDelimited,
            "deepObject" => Style::DeepObject,
            "simple" => Style::Simple,
            "label" => Style::Label,
            "matrix" => Style::Matrix,
            _ => return None,
        })
    }
    /// The variant name of `keel::codegen_support::Style`.
    pub fn name(self) -> &'static str {
        match self {
            Style::Form => "Form",
            Style::SpaceDelimited => "SpaceDelimited",
            Style::PipeDelimited => "PipeDelimited",
            Style::DeepObject => "DeepObject",
            Style::Simple => "Simple",
            Style::Label => "Label",
            Style::Matrix => "Matrix",
        }
    }
}

/// A parameter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Param {
    /// The name on the wire.
    pub wire: String,
    /// The Rust name (argument or setter).
    pub name: String,
    /// Where it goes.
    pub location: Location,
    /// Its type (without the `Option` of an optional parameter).
    pub ty: Type,
    /// Required (path parameters always are).
    pub required: bool,
    /// Its style.
    pub style: Style,
    /// `explode`.
    pub explode: bool,
    /// Doc text.
    pub doc: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// A value from the document's examples, or built from its schema.
    pub example: Option<serde_json::Value>,
}

/// A request body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Body {
    /// The media type sent.
    pub media_type: String,
    /// `required: true`.
    pub required: bool,
    /// Doc text.
    pub doc: Option<String>,
    /// What it holds.
    pub kind: BodyKind,
    /// A value from the document's examples, or built from its schema.
    pub example: Option<serde_json::Value>,
}

/// The content of a request body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BodyKind {
    /// JSON of this type.
    Json(Type),
    /// `application/x-www-form-urlencoded`.
    Form {
        /// The fields' type.
        ty: Type,
        /// Per-property encodings from the document.
        encodings: Vec<Encoding>,
    },
    /// `multipart/form-data`, as a generated struct.
    Multipart {
        /// The struct's name (in the group's module).
        type_name: String,
        /// Its parts.
        fields: Vec<MultipartField>,
        /// Whether `Default` is derived (no part is required).
        derive_default: bool,
    },
    /// Raw bytes.
    Bytes,
    /// Text.
    Text,
}

/// One `encoding` entry of a form body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Encoding {
    /// The property.
    pub property: String,
    /// Its style.
    pub style: Style,
    /// `explode`.
    pub explode: bool,
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MultipartField {
    /// The Rust field name.
    pub name: String,
    /// The part name.
    pub wire: String,
    /// What the part holds.
    pub kind: PartKind,
    /// The value type (for [`PartKind::Value`]).
    pub ty: Type,
    /// In the schema's `required`.
    pub required: bool,
    /// Doc text.
    pub doc: Option<String>,
}

/// What a multipart part holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// One file.
    File,
    /// Several files under one name.
    Files,
    /// A value: text for scalars, JSON otherwise.
    Value,
}

/// Which statuses a response covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKey {
    /// One status.
    Code(u16),
    /// A class (`4` for `4XX`).
    Class(u16),
    /// `default`.
    Default,
}

/// A documented response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response {
    /// The statuses it covers.
    pub status: StatusKey,
    /// The variant name in the response enum.
    pub variant: String,
    /// What its body decodes into.
    pub body: ResponseBody,
    /// Whether it is an error (4xx/5xx, or `default` next to success statuses).
    pub is_error: bool,
    /// Its description.
    pub doc: Option<String>,
    /// The media type decoded.
    pub media_type: Option<String>,
    /// For a success with a JSON body and a schema: a value built from that schema (its own
    /// examples where they fit it), for tests and mock servers.
    pub example: Option<serde_json::Value>,
}

/// What a response body decodes into. (Non-exhaustive: server-sent event streams are the
/// next kind.)
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResponseBody {
    /// No content documented.
    None,
    /// JSON of this type.
    Json(Type),
    /// A JSON media type without a schema: any value, or none for an empty body.
    AnyJson,
    /// Text.
    Text,
    /// Raw bytes.
    Bytes,
}

/// A security scheme.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SecurityScheme {
    /// Its name in `components.securitySchemes`.
    pub wire: String,
    /// The Rust name used for its constructors.
    pub name: String,
    /// What it is.
    pub kind: AuthKind,
    /// Its description.
    pub doc: Option<String>,
}

/// The kind of a security scheme. (Non-exhaustive: OAuth2 flows with a token endpoint are
/// the next kind.)
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AuthKind {
    /// An API key in this header.
    ApiKeyHeader(String),
    /// An API key in this query parameter.
    ApiKeyQuery(String),
    /// An API key in this cookie.
    ApiKeyCookie(String),
    /// HTTP bearer.
    Bearer,
    /// HTTP basic.
    Basic,
    /// OAuth2 or OpenID Connect: an access token sent as a bearer token.
    OAuth2,
    /// OAuth2 with a `clientCredentials` flow: a client id and secret buy
    /// tokens at `token_url` (Keel's token provider; an access token the
    /// user has works through [`AuthKind::OAuth2`]'s constructor too).
    OAuth2ClientCredentials {
        /// `tokenUrl`, as written (may be relative to the server).
        token_url: String,
        /// The flow's scopes, in document order.
        scopes: Vec<String>,
    },
    /// Not supported (the reason).
    Unsupported(String),
}
