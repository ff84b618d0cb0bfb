//! Helpers shared by the CLI's integration tests.
//!
//! The secret check: a `keel` run's stdout and stderr never show a secret
//! it was given, raw, hex, base64 (standard or URL-safe), percent-encoded
//! (every byte but letters and digits, or as a URL query / form value
//! encodes it) or, for a PEM private key, any line of its body.
//! [`ScanOutput::scanned_output`] runs a command and finds its secrets
//! itself: the values of environment variables whose name says `SECRET` or
//! `PASSPHRASE` (`KEEL_API_SECRET`, `KEEL_API_PASSPHRASE`,
//! `KEEL_PRIVATE_KEY_PASSPHRASE`, `KEEL_WEBHOOK_SECRET`, a profile's
//! `api_secret_env` variable), of the secret flags, and the key files
//! named by `--private-key` / `KEEL_PRIVATE_KEY_FILE`. An API key is sent
//! and printed on purpose (`keel sign` shows it), so it is a secret only
//! where a test says so ([`ScanOutput::scanned_output_with`]).
//!
//! The same check as `crates/keel/tests/common/secrets.rs`, written out
//! here because that file needs `base64` and `tracing-subscriber`, which
//! are not dev-dependencies of this package.
#![allow(dead_code)]

use std::process::{Command, Output};

/// The flags whose value is a secret.
const SECRET_FLAGS: [&str; 4] = [
    "--api-secret",
    "--passphrase",
    "--private-key-passphrase",
    "--secret",
];

/// Runs a command and checks its output for the secrets it was given.
pub trait ScanOutput {
    /// Runs the command (as `Command::output`) and fails if its stdout or
    /// stderr shows a secret found in its arguments or environment.
    fn scanned_output(&mut self) -> Output;
    /// The same, with `extra` secrets too (a bearer token or an API key
    /// that must not show).
    fn scanned_output_with(&mut self, extra: &[&str]) -> Output;
}

impl ScanOutput for Command {
    fn scanned_output(&mut self) -> Output {
        self.scanned_output_with(&[])
    }

    fn scanned_output_with(&mut self, extra: &[&str]) -> Output {
        let mut secrets = secrets_of(self);
        secrets.extend(extra.iter().map(|s| s.to_string()));
        let what = format!("keel {}", args_of(self).join(" "));
        let o = self.output().expect("run keel");
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_no_secret(&what, &o, &secrets);
        o
    }
}

fn args_of(cmd: &Command) -> Vec<String> {
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The secrets a command is given: see the module documentation.
pub fn secrets_of(cmd: &Command) -> Vec<String> {
    let mut out = Vec::new();
    let mut key_files = Vec::new();
    for (name, value) in cmd.get_envs() {
        let (name, Some(value)) = (name.to_string_lossy().to_uppercase(), value) else {
            continue;
        };
        let value = value.to_string_lossy().into_owned();
        if name.contains("SECRET") || name.contains("PASSPHRASE") {
            out.push(value);
        } else if name == "KEEL_PRIVATE_KEY_FILE" {
            key_files.push(value);
        }
    }
    let args = args_of(cmd);
    for (i, arg) in args.iter().enumerate() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let value = || inline.clone().or_else(|| args.get(i + 1).cloned());
        if SECRET_FLAGS.contains(&flag) {
            out.extend(value());
        } else if flag == "--private-key" {
            key_files.extend(value());
        }
    }
    for path in key_files {
        // A key file that cannot be read is the test's own business (an
        // error case): there is nothing of it to look for.
        if let Ok(text) = std::fs::read_to_string(&path) {
            out.push(text);
        }
    }
    out
}

/// Fails if `o`'s stdout or stderr shows one of `secrets` in any form.
pub fn assert_no_secret(what: &str, o: &Output, secrets: &[&str]) {
    assert_no_secret_in(&format!("stdout of {what}"), &o.stdout, secrets);
    assert_no_secret_in(&format!("stderr of {what}"), &o.stderr, secrets);
}

/// Fails if `text` (one output stream) shows one of `secrets` in any form.
/// Secrets shorter than 8 bytes are refused: they would match by accident.
pub fn assert_no_secret_in(what: &str, text: &[u8], secrets: &[&str]) {
    let text = String::from_utf8_lossy(text);
    for secret in secrets {
        for (form, needle) in forms(secret) {
            assert!(
                !text.contains(needle.as_str()),
                "{what} shows the secret {secret:?} ({form}):\n{text}"
            );
        }
    }
}

/// Every form of `secret` looked for, each with its name.
fn forms(secret: &str) -> Vec<(&'static str, String)> {
    assert!(
        secret.len() >= 8,
        "secret {secret:?} is too short to scan for"
    );
    let b = secret.as_bytes();
    let mut out = vec![
        ("raw", secret.to_owned()),
        ("hex", b.iter().map(|x| format!("{x:02x}")).collect()),
        ("base64", base64(b, STANDARD)),
        ("base64url", base64(b, URL_SAFE)),
        (
            "percent-encoded",
            percent(b, |c| c.is_ascii_alphanumeric(), "%20"),
        ),
        ("URL-encoded", percent(b, unreserved, "%20")),
        ("form-encoded", percent(b, unreserved, "+")),
    ];
    if secret.contains("-----BEGIN") {
        for line in secret.lines() {
            let line = line.trim();
            if line.len() >= 16 && !line.starts_with("-----") {
                out.push(("a line of the PEM body", line.to_owned()));
            }
        }
    }
    out.retain(|(form, needle)| *form == "raw" || needle != secret);
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~".contains(&c)
}

/// Percent-encodes every byte `keep` refuses (upper-case hex), a space as
/// `space`.
fn percent(b: &[u8], keep: impl Fn(u8) -> bool, space: &str) -> String {
    b.iter()
        .map(|&c| match c {
            _ if keep(c) => char::from(c).to_string(),
            b' ' => space.to_owned(),
            _ => format!("%{c:02X}"),
        })
        .collect()
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 without padding (so a padded text contains it too).
fn base64(b: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | (u32::from(x) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[test]
fn the_encodings_are_the_usual_ones() {
    assert_eq!(base64(b"hello world!", STANDARD), "aGVsbG8gd29ybGQh");
    assert_eq!(base64(b"hello", STANDARD), "aGVsbG8");
    assert_eq!(base64(b"\xfb\xff\xfe", STANDARD), "+//+");
    assert_eq!(base64(b"\xfb\xff\xfe", URL_SAFE), "-__-");
    let f = forms("a b/c-d~e");
    let get = |name: &str| f.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    assert_eq!(get("hex").unwrap(), "6120622f632d647e65");
    assert_eq!(get("percent-encoded").unwrap(), "a%20b%2Fc%2Dd%7Ee");
    assert_eq!(get("URL-encoded").unwrap(), "a%20b%2Fc-d~e");
    assert_eq!(get("form-encoded").unwrap(), "a+b%2Fc-d~e");
}

#[test]
fn every_form_of_a_secret_is_found() {
    let secret = "s3cret value/with+marks";
    for (form, needle) in forms(secret) {
        let text = format!("before {needle} after");
        let found = std::panic::catch_unwind(|| {
            assert_no_secret_in("text", text.as_bytes(), &[secret]);
        });
        assert!(found.is_err(), "the {form} form {needle:?} was not found");
    }
    assert_no_secret_in("text", b"nothing to see", &[secret]);
}

#[test]
fn the_secrets_of_a_command_are_its_secret_variables_flags_and_key_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqV\n-----END PRIVATE KEY-----\n")
        .expect("write key");
    let mut cmd = Command::new("keel");
    cmd.args([
        "sign",
        "--api-secret",
        "flag-secret",
        "--secret=inline-secret",
    ])
    .arg("--private-key")
    .arg(&key)
    .env("KEEL_API_KEY", "an-api-key")
    .env("KEEL_API_SECRET", "env-secret")
    .env("DEMO_SECRET_VAR", "profile-secret")
    .env_remove("KEEL_API_PASSPHRASE");
    let mut got = secrets_of(&cmd);
    got.sort();
    assert_eq!(got.len(), 5, "{got:?}");
    for want in [
        "flag-secret",
        "inline-secret",
        "env-secret",
        "profile-secret",
        "MC4CAQAw",
    ] {
        assert!(got.iter().any(|s| s.contains(want)), "{want} in {got:?}");
    }
    assert!(!got.iter().any(|s| s == "an-api-key"), "{got:?}");
}

/// The built `keel` binary in a clean environment: none of the
/// credential, key, profile or proxy variables of the machine running the
/// tests reaches it.
pub fn keel_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_keel"));
    for v in [
        "KEEL_API_KEY",
        "KEEL_API_SECRET",
        "KEEL_API_PASSPHRASE",
        "KEEL_PRIVATE_KEY_FILE",
        "KEEL_PRIVATE_KEY_PASSPHRASE",
        "KEEL_PROFILE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(v);
    }
    c
}
