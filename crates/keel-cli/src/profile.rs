//! Profiles in `keel.toml` (the working directory or its parents): a base
//! URL, a signing scheme, the *names* of the environment variables holding
//! the credentials, and default headers. A literal secret is refused.
//!
//! ```toml
//! [profiles.demo]
//! base_url = "http://127.0.0.1:8080"
//! scheme = "default"
//! api_key_env = "DEMO_API_KEY"
//! api_secret_env = "DEMO_API_SECRET"
//! headers = { "X-Team" = "payments" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::errors::Failure;

/// The file name looked for.
pub const FILE_NAME: &str = "keel.toml";

/// One profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Joined with a request path that starts with `/`.
    pub base_url: Option<String>,
    /// The signing scheme (as `--scheme`).
    pub scheme: Option<String>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// The environment variable holding the API secret.
    pub api_secret_env: Option<String>,
    /// The environment variable holding the passphrase.
    pub passphrase_env: Option<String>,
    /// A private key file (a path, not a secret).
    pub private_key_file: Option<PathBuf>,
    /// The header carrying the key (as `--auth-header-name`).
    pub auth_header_name: Option<String>,
    /// Default headers (never credentials).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    profiles: BTreeMap<String, toml::Table>,
}

/// Keys that would hold a secret itself.
const SECRET_KEYS: [&str; 9] = [
    "api_key",
    "api_secret",
    "secret",
    "passphrase",
    "password",
    "token",
    "private_key",
    "private_key_passphrase",
    "key",
];

/// Header names whose value is a credential.
fn is_credential_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || n.contains("secret")
        || n.contains("token")
        || n.contains("passphrase")
        || n.contains("api-key")
        || n.contains("apikey")
        || n.ends_with("-key")
        || n.contains("signature")
}

/// The nearest `keel.toml` from `dir` upwards.
pub fn find(dir: &Path) -> Option<PathBuf> {
    let mut cur = Some(dir);
    let mut depth = 0;
    while let Some(d) = cur {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        cur = d.parent();
        depth += 1;
        if depth > 64 {
            break;
        }
    }
    None
}

/// Loads profile `name` from `path`, refusing literal secrets.
pub fn load(path: &Path, name: &str) -> Result<Profile, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::io(format!("cannot read {}: {e}", path.display())))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "{} is not a valid keel.toml: {}",
            path.display(),
            e.message()
        ))
    })?;
    let Some(table) = file.profiles.get(name) else {
        let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
        return Err(Failure::usage(format!(
            "{} has no profile {name:?} (it has: {})",
            path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    for key in table.keys() {
        if SECRET_KEYS.contains(&key.as_str()) {
            return Err(Failure::usage(format!(
                "profile {name:?} in {} holds a literal `{key}`: keel.toml is meant to be committed, so it names environment variables instead of holding secrets; write `{key}_env = \"MY_VARIABLE\"` and export MY_VARIABLE",
                path.display()
            )));
        }
    }
    let profile: Profile =
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                Failure::usage(format!(
                    "profile {name:?} in {}: {}",
                    path.display(),
                    e.message()
                ))
            })?;
    for header in profile.headers.keys() {
        if is_credential_header(header) {
            return Err(Failure::usage(format!(
                "profile {name:?} in {}: header {header:?} would hold a credential in the file; pass it with -H at the call, or use api_key_env / api_secret_env and a --scheme",
                path.display()
            )));
        }
    }
    Ok(profile)
}

/// Reads the variable a profile names.
pub fn env_value(profile: &str, field: &str, var: &str) -> Result<String, Failure> {
    std::env::var(var).map_err(|_| {
        Failure::usage(format!(
            "profile {profile:?}: {field} names the environment variable {var}, which is not set; export it"
        ))
    })
}

/// Finds and loads `name` from the nearest keel.toml.
pub fn resolve(name: &str) -> Result<Profile, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::io(format!("cannot read the working directory: {e}")))?;
    let path = find(&cwd).ok_or_else(|| {
        Failure::usage(format!(
            "--profile {name}: no keel.toml in {} or its parents",
            cwd.display()
        ))
    })?;
    load(&path, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's keel.toml (`tests/data/keel.toml`, checked against the
    /// README block) loads as documented.
    #[test]
    fn the_readme_profile_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keel.toml");
        let p = load(&path, "demo").unwrap();
        assert_eq!(p.base_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(p.api_secret_env.as_deref(), Some("DEMO_API_SECRET"));
        assert_eq!(
            p.headers.get("X-Team").map(String::as_str),
            Some("payments")
        );
        assert!(load(&path, "other").is_err());
    }
}
