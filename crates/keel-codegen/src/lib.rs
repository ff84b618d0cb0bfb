//! OpenAPI 3.0/3.1 (and Swagger 2.0) → a typed Rust client crate built on Keel.
//!
//! ```no_run
//! use keel_codegen::{generate, GenerateOptions, KeelDependency};
//! use std::path::Path;
//!
//! let options = GenerateOptions::new("petstore-client")
//!     .keel(KeelDependency::Version("0.1".into()));
//! let generated = generate(Path::new("petstore.yaml"), &options)?;
//! for w in &generated.warnings {
//!     eprintln!("warning: {w}");
//! }
//! generated.write_to(Path::new("out/petstore-client"))?;
//! # Ok::<(), keel_codegen::CodegenError>(())
//! ```
//!
//! # Design
//!
//! * **Parser: an own IR over a generic document tree**, not the `openapiv3` crate. `openapiv3`
//!   rejects OpenAPI 3.1 (type arrays, `const`, `webhooks`) and refuses real documents that break
//!   the schema in harmless ways (binance's `description: null`, xero's `default: "false"` on a
//!   boolean, deepl's mismatching defaults). Reading the document as a tree lets the generator
//!   be lenient where the intent is clear and warn with a JSON pointer instead of failing.
//! * **Loading**: JSON goes through `serde_json`, YAML through `yaml-rust2` (YAML 1.2 core
//!   schema), both into an insertion-ordered tree, so generated fields and operations follow
//!   the document. Unquoted dates (xero, spotify) stay strings; integers outside i64 (OpenAI's
//!   `minimum: -9223372036854776000`) are read as f64 instead of failing the document; integer keys (deepl's `200:`) are turned into
//!   their text. `$ref`s into other local files are resolved when loading: schemas under
//!   `components/schemas` (or `definitions`) of another file are hoisted into this document's
//!   components (so they keep their names and may be recursive), anything else is inlined.
//! * **Swagger 2.0** is converted to the 3.0 shape on the tree (body/formData parameters become
//!   request bodies, `collectionFormat` becomes style/explode, `securityDefinitions` become
//!   security schemes, host + basePath become the server).
//! * **Models** ([`model`](crate)): every schema becomes a `Ty`; objects, string enums and
//!   oneOf/anyOf get named models. Cycles of direct containment are broken with `Box`,
//!   self-referential aliases become newtypes.
//! * **Output** is built with `quote` and printed with `prettyplease`, so it is always valid
//!   syntax and deterministic (document order, no hash-map iteration).
//!
//! # Stages
//!
//! `load` (JSON/YAML, `$ref`s into other files) → `normalize` (Swagger 2.0 and 3.0 into one
//! shape) → [`lower`] (into the plain-data [`ir`], every name chosen once) → emit (from the
//! IR only). [`generate`] runs all four; [`lower`] stops at the IR, for tools that read
//! documents without generating code.
//!
//! # The generated crate
//!
//! ```text
//! let client = petstore::Client::with_api_key(petstore::DEFAULT_BASE_URL, "k-123")?;
//! let pet = client.pets().get_pet_by_id(42).send().await?;          // models::Pet
//! let pets = client.pets().find_pets_by_status().status("sold").send_blocking()?;
//! let resp = client.pets().get_pet_by_id(42).detailed().await?;      // keel::Response<GetPetByIdResponse>
//! ```
//!
//! One module per tag with a request builder per operation (required parameters in the call,
//! optional ones as setters), `models` for the data types, `auth` for the security schemes;
//! the helpers they call live in `keel::codegen_support`.
//!
//! A document with two tags or more gets one Cargo feature per tag (named like its module),
//! all of them in `default`; a feature gates its module, its accessor on `Client`, and the
//! models that only some tags' operations reach (transitively, through fields, variants and
//! aliases): `#[cfg(any(feature = "pets", feature = "store"))]`. Models every tag reaches,
//! or no operation does, are always compiled. So `default-features = false, features =
//! ["pets"]` compiles one tag of a large API. [`Generated::features`] lists them.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod emit;
mod examples;
mod features;
pub mod ir;
mod lower;
mod model;
mod names;
mod node;
mod normalize;
mod ops;
mod paging;
mod swagger2;

use std::fmt;
use std::path::{Path, PathBuf};

/// Where the generated crate gets `keel` from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeelDependency {
    /// `keel = { path = "..." }`
    Path(PathBuf),
    /// `keel = "..."` (a version requirement)
    Version(String),
}

/// Options for [`generate`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GenerateOptions {
    /// The package name of the generated crate. Empty: derived from the document's title.
    pub crate_name: String,
    /// How the generated crate depends on `keel`.
    pub keel: KeelDependency,
    /// Add an empty `[workspace]` table so the crate builds on its own even inside another
    /// workspace's directory tree.
    pub standalone_workspace: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            crate_name: String::new(),
            keel: KeelDependency::Version(default_keel_version()),
            standalone_workspace: false,
        }
    }
}

impl GenerateOptions {
    /// Options with a crate name and the default keel dependency (version `0.1`).
    pub fn new(crate_name: impl Into<String>) -> Self {
        GenerateOptions {
            crate_name: crate_name.into(),
            ..Default::default()
        }
    }
    /// Set the keel dependency.
    pub fn keel(mut self, keel: KeelDependency) -> Self {
        self.keel = keel;
        self
    }
    /// Set [`GenerateOptions::standalone_workspace`].
    pub fn standalone_workspace(mut self, yes: bool) -> Self {
        self.standalone_workspace = yes;
        self
    }
}

/// A problem in the document that generation worked around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// JSON pointer to the construct (`/paths/~1pets/get/responses/200`).
    pub pointer: String,
    /// What was wrong and what the generator did instead.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        let pointer = pointer.into();
        Warning {
            pointer: if pointer.is_empty() {
                "/".to_string()
            } else {
                pointer
            },
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// The spec (or an output file) could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        message: String,
    },
    /// The file is not JSON or YAML.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message (with line/column).
        message: String,
    },
    /// The document is not an OpenAPI/Swagger document the generator can use.
    #[error("invalid document at {pointer}: {message}")]
    Invalid {
        /// JSON pointer to the problem.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A bug in the generator (the output did not parse as Rust).
    #[error("internal error: {message}")]
    Internal {
        /// Details.
        message: String,
    },
}

/// One file of the generated crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the crate root (`src/models.rs`).
    pub path: PathBuf,
    /// The file's text.
    pub contents: String,
}

/// A generated crate, ready to be written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Generated {
    /// The package name used.
    pub crate_name: String,
    /// Files, in a fixed order.
    pub files: Vec<GeneratedFile>,
    /// Everything generation worked around.
    pub warnings: Vec<Warning>,
    /// Operations in the document (under `paths`).
    pub spec_operations: usize,
    /// Operations generated (always equal to `spec_operations`).
    pub operations: usize,
    /// Schemas in `components/schemas` (or `definitions`).
    pub schemas: usize,
    /// Models generated (schemas plus named inline schemas).
    pub models: usize,
    /// Operations that got a `paginate()` (`operationId` or method name, and
    /// the strategy).
    pub paginated: Vec<(String, String)>,
    /// Operations whose response is a server-sent event stream (`events()`).
    pub event_streams: Vec<String>,
    /// The generated crate's Cargo features, one per tag, all in `default` (empty for a
    /// document with fewer than two tags).
    pub features: Vec<Feature>,
}

/// A Cargo feature of a generated crate: one tag's module, its accessor on `Client`, and the
/// models only some tags use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Feature {
    /// The feature's name: the tag's module name (`default-tag` for the `default` group,
    /// since Cargo reserves `default`).
    pub name: String,
    /// The tag as the document writes it.
    pub tag: String,
    /// The operations it enables.
    pub operations: usize,
    /// The models compiled only when it (or another tag's feature using them) is on.
    pub gated_models: usize,
}

impl Generated {
    /// Write the crate into `dir` (created if needed). Files whose text changed are
    /// overwritten (unchanged ones are left as they are, so cargo does not rebuild them);
    /// other files in `dir` are left alone.
    pub fn write_to(&self, dir: &Path) -> Result<(), CodegenError> {
        for f in &self.files {
            let path = dir.join(&f.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| CodegenError::Io {
                    path: parent.to_path_buf(),
                    message: e.to_string(),
                })?;
            }
            if std::fs::read(&path).is_ok_and(|old| old == f.contents.as_bytes()) {
                continue;
            }
            std::fs::write(&path, &f.contents).map_err(|e| CodegenError::Io {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// The text of one generated file, by relative path.
    pub fn file(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.path == Path::new(path))
            .map(|f| f.contents.as_str())
    }
}

/// Load, normalize and lower the document at `spec_path` (JSON or YAML; OpenAPI 3.0/3.1 or
/// Swagger 2.0; `$ref`s into other local files resolved relative to it) into the IR that the
/// emitter reads. Also returns what lowering worked around.
pub fn lower(spec_path: &Path) -> Result<(ir::Api, Vec<Warning>), CodegenError> {
    let mut warnings = Vec::new();
    let doc = node::load_document(spec_path, &mut warnings)?;
    let doc = normalize::normalize(doc, &mut warnings)?;
    let api = lower::lower_doc(&doc, &mut warnings)?;
    Ok((api, warnings))
}

/// Parse a document's text (JSON or YAML 1.2) into a JSON value, as the generator reads it:
/// YAML keys that are not strings become their text, merge keys are applied, and numbers
/// outside the 64-bit integer range become floating-point numbers.
pub fn parse_document(text: &str) -> Result<serde_json::Value, CodegenError> {
    Ok(node::parse_text(text, "<input>")?.to_value())
}

/// [`lower`] for a document's text (no external `$ref`s).
pub fn lower_str(text: &str) -> Result<(ir::Api, Vec<Warning>), CodegenError> {
    let mut warnings = Vec::new();
    let doc = node::parse_text(text, "<input>")?;
    let doc = normalize::normalize(doc, &mut warnings)?;
    let api = lower::lower_doc(&doc, &mut warnings)?;
    Ok((api, warnings))
}

/// Generate a client crate from the document at `spec_path` (JSON or YAML; OpenAPI 3.0/3.1 or
/// Swagger 2.0). `$ref`s into other local files are resolved relative to it.
pub fn generate(spec_path: &Path, options: &GenerateOptions) -> Result<Generated, CodegenError> {
    let (api, warnings) = lower(spec_path)?;
    emit_crate(&api, warnings, options)
}

/// Generate a client crate from a document's text (no external `$ref`s).
pub fn generate_from_str(text: &str, options: &GenerateOptions) -> Result<Generated, CodegenError> {
    let (api, warnings) = lower_str(text)?;
    emit_crate(&api, warnings, options)
}

/// Emit the crate for a lowered API (the last stage of [`generate`]).
pub fn emit_crate(
    api: &ir::Api,
    warnings: Vec<Warning>,
    options: &GenerateOptions,
) -> Result<Generated, CodegenError> {
    let crate_name = crate_name(&options.crate_name, &api.title);
    let emitter = emit::Emitter::new(api);
    let has_auth = api
        .security_schemes
        .iter()
        .any(|s| !matches!(s.kind, ir::AuthKind::Unsupported(_)));
    let features: Vec<Feature> = match &emitter.features {
        None => Vec::new(),
        Some(plan) => api
            .groups
            .iter()
            .zip(&plan.group_features)
            .enumerate()
            .map(|(i, (g, f))| Feature {
                name: f.clone(),
                tag: g.tag.clone(),
                operations: g.operations.len(),
                gated_models: plan.gated_models_of(i),
            })
            .collect(),
    };
    let mut files = vec![GeneratedFile {
        path: "Cargo.toml".into(),
        contents: cargo_toml(&crate_name, &api.title, &features, options),
    }];
    files.push(GeneratedFile {
        path: "src/lib.rs".into(),
        contents: emit::render(emitter.lib_file(has_auth), "src/lib.rs")?,
    });
    files.push(GeneratedFile {
        path: "src/models.rs".into(),
        contents: emit::render(emitter.models_file(), "src/models.rs")?,
    });
    if has_auth {
        files.push(GeneratedFile {
            path: "src/auth.rs".into(),
            contents: emit::render(emitter.auth_file(), "src/auth.rs")?,
        });
    }
    for group in &api.groups {
        let file = format!(
            "src/{}.rs",
            names::ident(&group.module)
                .to_string()
                .trim_start_matches("r#")
        );
        let text = emit::render(emitter.group_file(group), &file)?;
        files.push(GeneratedFile {
            path: file.into(),
            contents: text,
        });
    }
    let operations = api.groups.iter().map(|g| g.operations.len()).sum();
    let op_label = |o: &ir::Operation| o.operation_id.clone().unwrap_or_else(|| o.name.clone());
    let paginated = api
        .operations()
        .filter_map(|(_, o)| paging::plan(api, o).map(|p| (op_label(o), p.strategy.describe())))
        .collect();
    let event_streams = api
        .operations()
        .filter(|(_, o)| o.event_stream.is_some())
        .map(|(_, o)| op_label(o))
        .collect();
    Ok(Generated {
        crate_name,
        files,
        warnings,
        spec_operations: api.spec_operations,
        operations,
        schemas: api.schemas,
        models: api.models.len(),
        paginated,
        event_streams,
        features,
    })
}

fn crate_name(requested: &str, title: &str) -> String {
    let raw = if requested.trim().is_empty() {
        format!("{}-client", names::snake(title))
    } else {
        requested.trim().to_string()
    };
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s = format!("api-{s}");
    }
    s
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The version requirement generated crates put on `keel-http` by default:
/// the release line of this generator (`0.1` for 0.1.x), so a generated
/// client uses the library it was generated for.
pub fn default_keel_version() -> String {
    let v = env!("CARGO_PKG_VERSION");
    let mut parts = v.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        _ => v.to_owned(),
    }
}

/// The `[features]` table: one feature per tag, all of them in `default` (empty without
/// features).
fn features_table(features: &[Feature]) -> String {
    if features.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n[features]\n# One feature per tag: its module, its accessor on `Client` and the models only it uses.\n# All on by default; `default-features = false, features = [\"…\"]` picks some.\n",
    );
    let names: Vec<String> = features.iter().map(|f| toml_str(&f.name)).collect();
    let one_line = format!("default = [{}]", names.join(", "));
    if one_line.len() <= 100 {
        out.push_str(&one_line);
        out.push('\n');
    } else {
        out.push_str("default = [\n");
        for n in &names {
            out.push_str(&format!("    {n},\n"));
        }
        out.push_str("]\n");
    }
    for f in features {
        let key = if f
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            f.name.clone()
        } else {
            toml_str(&f.name)
        };
        out.push_str(&format!(
            "# {} operation{} tagged {}\n{key} = []\n",
            f.operations,
            if f.operations == 1 { "" } else { "s" },
            toml_str(&f.tag)
        ));
    }
    out
}

fn cargo_toml(name: &str, title: &str, features: &[Feature], options: &GenerateOptions) -> String {
    let keel = match &options.keel {
        KeelDependency::Path(p) => format!(
            "{{ package = \"keel-http\", path = {} }}",
            toml_str(&p.display().to_string())
        ),
        KeelDependency::Version(v) => {
            format!("{{ package = \"keel-http\", version = {} }}", toml_str(v))
        }
    };
    let desc = toml_str(&format!("Client for {title}, generated by keel-codegen."));
    let features = features_table(features);
    let workspace = if options.standalone_workspace {
        "\n[workspace]\n"
    } else {
        ""
    };
    format!(
        "# Generated by keel-codegen. Do not edit by hand.\n[package]\nname = {}\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\ndescription = {desc}\n\n[lib]\n# descriptions from the API document are prose, not Rust examples\ndoctest = false\n\n[dependencies]\nkeel = {keel}\nserde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n{features}{workspace}",
        toml_str(name)
    )
}
