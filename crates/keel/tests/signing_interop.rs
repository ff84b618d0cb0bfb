//! RFC 9421 interop with an independent implementation: the Python package
//! `http-message-signatures` (pyauth, pinned below) verifies Keel's
//! signatures, and Keel verifies its signatures, for hmac-sha256 and
//! ed25519 (plus ecdsa-p256-sha256 and rsa-v1_5-sha256).
//!
//! The test installs the package into a virtualenv under the target
//! directory (once; later runs reuse it). Without Python 3 with `venv` and
//! `pip`, or without access to the package registry, it prints why and
//! skips — unless `KEEL_REQUIRE_INTEROP=1` (set by `.ci/run`), which makes
//! a missing peer a failure.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use keel::signing::recipe::Digest;
use keel::signing::rfc9421::{self, NonceParam, Rfc9421, VerifyKey};
use keel::signing::{Credentials, PublicKey, Scheme, SigningRequest};
use keel::Url;

const PACKAGES: &[&str] = &["http-message-signatures==3.0.0", "requests==2.34.2"];

const RFC_ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
";
const RFC_ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
";
const HMAC_SECRET: &[u8] = b"interop-shared-secret-0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))
    }
}

/// The virtualenv's python with the package, made on first use.
fn peer() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rfc9421-interop-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join(format!("installed-{}", PACKAGES.join("+")));
    if marker.exists() {
        return Ok(python);
    }
    let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&system)
        .args(["-m", "venv", "--clear"])
        .arg(&venv))
    .map_err(|e| format!("no Python 3 virtualenv ({e})"))?;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(PACKAGES);
    run(&mut pip).map_err(|e| format!("cannot install {} ({e})", PACKAGES.join(", ")))?;
    std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
    Ok(python)
}

fn python_or_skip() -> Option<PathBuf> {
    // Both tests share one virtualenv, made once.
    static PEER: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    match PEER.get_or_init(peer).clone() {
        Ok(p) => Some(p),
        Err(why) => {
            if std::env::var("KEEL_REQUIRE_INTEROP").is_ok_and(|v| v == "1") {
                panic!("the RFC 9421 interop peer is required (KEEL_REQUIRE_INTEROP=1) but unavailable: {why}");
            }
            println!("skipped: RFC 9421 interop with Python http-message-signatures: {why}");
            None
        }
    }
}

fn ask(python: &Path, job: serde_json::Value) -> serde_json::Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/rfc9421_interop.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interop peer starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn header_list(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect()
}

const URL: &str = "https://api.example.com/v1/orders?limit=5&side=buy";
const BODY: &[u8] = br#"{"symbol":"BTC-USD","qty":"1.5"}"#;

fn base_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "date",
        HeaderValue::from_static("Tue, 20 Apr 2021 02:07:55 GMT"),
    );
    h
}

/// The keys of each algorithm: (name, signing key for Keel, key for the
/// peer's verifier, signing key for the peer, key for Keel's verifier).
fn cases() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/");
    let read = |n: &str| std::fs::read(format!("{keys}{n}")).unwrap();
    vec![
        ("hmac-sha256", HMAC_SECRET.to_vec(), HMAC_SECRET.to_vec()),
        (
            "ed25519",
            RFC_ED25519_PRIVATE.as_bytes().to_vec(),
            RFC_ED25519_PUBLIC.as_bytes().to_vec(),
        ),
        (
            "ecdsa-p256-sha256",
            read("p256.pk8.pem"),
            read("p256.pub.pem"),
        ),
        ("rsa-v1_5-sha256", read("rsa.pk8.pem"), read("rsa.pub.pem")),
    ]
}

#[test]
fn python_verifies_keel_signatures() {
    let Some(python) = python_or_skip() else {
        return;
    };
    for (alg, private, public) in cases() {
        for include_alg in [false, true] {
            let signer = Rfc9421::new()
                .components([
                    "@method",
                    "@authority",
                    "@path",
                    "@query",
                    "content-type",
                    "date",
                ])
                .content_digest(Digest::Sha256)
                .key_id(format!("test-{alg}"))
                .nonce(NonceParam::Counter)
                .include_alg(include_alg);
            let mut url = Url::parse(URL).unwrap();
            let mut headers = base_headers();
            let creds = Credentials::new(
                "unused",
                Some(private.clone()),
                HeaderName::from_static("api-key"),
            );
            let now = std::time::SystemTime::now();
            let mut req =
                SigningRequest::new(&Method::POST, &mut url, &mut headers, BODY, now, 4242);
            Scheme::rfc9421(signer)
                .signer()
                .sign(&mut req, &creds)
                .unwrap();
            let answer = ask(
                &python,
                serde_json::json!({
                    "mode": "verify", "alg": alg, "key": b64(&public),
                    "method": "POST", "url": url.as_str(), "headers": header_list(&headers), "body": b64(BODY),
                }),
            );
            assert_eq!(
                answer["ok"], true,
                "{alg} (alg param: {include_alg}): {answer}"
            );
            assert_eq!(answer["params"]["nonce"], "4242", "{answer}");
            // And a tampered message is refused by the peer too.
            let mut tampered = headers.clone();
            tampered.insert("content-type", HeaderValue::from_static("text/plain"));
            let answer = ask(
                &python,
                serde_json::json!({
                    "mode": "verify", "alg": alg, "key": b64(&public),
                    "method": "POST", "url": url.as_str(), "headers": header_list(&tampered), "body": b64(BODY),
                }),
            );
            assert_eq!(answer["ok"], false, "{alg}: {answer}");
        }
    }
}

#[test]
fn keel_verifies_python_signatures() {
    let Some(python) = python_or_skip() else {
        return;
    };
    for (alg, private, public) in cases() {
        for include_alg in [true, false] {
            let answer = ask(
                &python,
                serde_json::json!({
                    "mode": "sign", "alg": alg, "key": b64(&private), "key_id": format!("py-{alg}"),
                    "created": 1_618_884_473u64, "nonce": "py-nonce-1", "include_alg": include_alg,
                    "components": ["@method", "@authority", "@target-uri", "content-type", "\"@query-param\";name=\"limit\""],
                    "method": "POST", "url": URL,
                    "headers": header_list(&base_headers()), "body": b64(BODY),
                }),
            );
            let mut headers = HeaderMap::new();
            for pair in answer["headers"].as_array().unwrap() {
                headers.append(
                    HeaderName::from_bytes(pair[0].as_str().unwrap().as_bytes()).unwrap(),
                    HeaderValue::from_str(pair[1].as_str().unwrap()).unwrap(),
                );
            }
            let url = Url::parse(URL).unwrap();
            let public_key =
                (alg != "hmac-sha256").then(|| PublicKey::from_bytes(&public).unwrap());
            let key_of = || match &public_key {
                None => VerifyKey::HmacSha256(&public),
                Some(k) => VerifyKey::Public(k),
            };
            let key = key_of();
            let opts = rfc9421::VerifyOptions::new()
                .max_age(Duration::from_secs(60))
                .at(UNIX_EPOCH + Duration::from_secs(1_618_884_473 + 10));
            let v = rfc9421::verify_with("pyhms", &Method::POST, &url, &headers, key, &opts)
                .unwrap_or_else(|e| panic!("{alg} (alg param: {include_alg}): {e}\n{headers:?}"));
            assert_eq!(v.alg.name(), alg);
            assert_eq!(v.key_id.as_deref(), Some(format!("py-{alg}").as_str()));
            assert_eq!(v.nonce.as_deref(), Some("py-nonce-1"));
            assert!(
                v.base.contains("\"@query-param\";name=\"limit\": 5"),
                "{}",
                v.base
            );
            // Keel refuses it on another method.
            let key = key_of();
            assert!(
                rfc9421::verify_with("pyhms", &Method::PUT, &url, &headers, key, &opts).is_err()
            );
        }
    }
}
