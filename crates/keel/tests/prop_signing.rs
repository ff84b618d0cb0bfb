//! Property tests for signing: every signing scheme Keel ships signs a
//! request with an arbitrary method, path, query and body; the signature is
//! checked, and a changed request is refused. Every error and log line is
//! scanned for the secrets.
//!
//! | scheme | sign → verify | tampering |
//! |---|---|---|
//! | the HMAC presets: default (`keel-v2`), `keel-v1`, Kraken, Binance (with and without `recvWindow`), Coinbase Exchange, OKX, Bybit, KuCoin, Gate.io | Keel's [`Verifier`], **and** an independent HMAC (the `hmac`/`sha2` crates) of the string to sign each provider documents; the bound (`Scheme::prepare`) and unbound signers agree | body, path, stale timestamp |
//! | Binance with Ed25519 and RSA keys | the public key, with `ed25519-dalek` / `rsa` directly | body, query |
//! | RFC 9421: `hmac-sha256`, `ed25519`, `ecdsa-p256-sha256`, `rsa-v1_5-sha256`, `rsa-pss-sha512` | `rfc9421::verify`, **and** the signature base rebuilt here from RFC 9421 §2 checked with the RustCrypto crates (or `hmac`) directly | method, `Content-Digest`, `created` |
//! | Coinbase CDP JWT (ES256, EdDSA) | the JWT parsed and its signature checked with `p256` / `ed25519-dalek`; claims as Coinbase documents | method, path, expiry, signature and claims bytes |
//! | AWS SigV4 (feature `aws-sigv4`) | an independent SigV4 from AWS's documented algorithm (including S3's exceptions) | body, path, method |
//! | API key (header, query), Bearer, Basic | the credential is exactly where the scheme puts it, nothing else changes | — (nothing is signed) |
//!
//! Plus: the RFC 9421 structured-field parsing never panics and reads back
//! what it wrote.
//!
//! Case counts: `common::prop::config`; `scripts/proptest-long.sh` runs 100x.

mod common;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, Method};
use keel::signing::recipe::Digest;
use keel::signing::rfc9421::{self, Algorithm, Rfc9421, VerifyKey};
use keel::signing::verify::{Verifier, VerifyRequest};
use keel::signing::{
    Credentials, HmacRecipe, PrivateKey, PublicKey, Scheme, Signer, SigningRequest,
};
use keel::Url;
use pkcs8::DecodePublicKey as _;
use proptest::prelude::*;
use sha2::Digest as _;

use common::prop::config;
use common::secrets::SecretScan;

const KEY: &str = "prop-key-Zr81Qw";
const SECRET: &str = "prop-secret-Lx47Pn-0123456789";
/// Kraken and Coinbase Exchange take a base64 secret; this decodes to the
/// 64 bytes both issue.
const SECRET_B64: &str =
    "cHJvcC1zZWNyZXQtYmFzZTY0LUxrMjItMDEyMzQ1Njc4OS1hYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMg==";
const PASSPHRASE: &str = "prop-pass-Yt55Ud";
const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
";
const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
";
const HOST: &str = "api.example.test";

/// Makes the key a received signature is checked with.
type KeyFn = fn() -> VerifyKey<'static>;

fn scan() -> SecretScan {
    SecretScan::new(&[SECRET, SECRET_B64, PASSPHRASE])
}

/// The scan for tests that sign with the key files: also the first line of
/// each private key's base64 body (the key material).
fn key_scan(files: &[&str]) -> SecretScan {
    let lines: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = String::from_utf8(key_file(f)).ok()?;
            text.lines()
                .find(|l| !l.starts_with("-----") && !l.contains(':') && !l.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let mut all: Vec<&str> = vec![SECRET, SECRET_B64, PASSPHRASE];
    all.extend(lines.iter().map(String::as_str));
    SecretScan::new(&all)
}

fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key_text(name: &str) -> String {
    String::from_utf8(key_file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A private key from tests/keys, parsed once per test binary (RSA keys are
/// slow to load in a debug build).
fn private_key(name: &'static str) -> PrivateKey {
    static KEYS: OnceLock<Mutex<HashMap<&'static str, PrivateKey>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    keys.entry(name)
        .or_insert_with(|| {
            PrivateKey::from_bytes(&key_file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .clone()
}

/// Each HMAC preset, as the scheme a user picks: a label, the scheme, the
/// same recipe for the verifier, the secret it takes and whether its body is
/// a form (Kraken adds its nonce as a form field).
fn recipes() -> Vec<(&'static str, Scheme, HmacRecipe, &'static str, bool)> {
    vec![
        (
            "default",
            Scheme::default_hmac(),
            HmacRecipe::keel_default(),
            SECRET,
            false,
        ),
        (
            "keel-v1",
            Scheme::keel_v1(),
            HmacRecipe::keel_v1(),
            SECRET,
            false,
        ),
        (
            "kraken",
            Scheme::kraken(),
            HmacRecipe::kraken(),
            SECRET_B64,
            true,
        ),
        (
            "binance",
            Scheme::binance(),
            HmacRecipe::binance(),
            SECRET,
            false,
        ),
        (
            "binance+recvWindow",
            Scheme::hmac(HmacRecipe::binance().recv_window(5000)),
            HmacRecipe::binance().recv_window(5000),
            SECRET,
            false,
        ),
        (
            "coinbase-exchange",
            Scheme::coinbase_exchange(),
            HmacRecipe::coinbase_exchange(),
            SECRET_B64,
            false,
        ),
        ("okx", Scheme::okx(), HmacRecipe::okx(), SECRET, false),
        (
            "bybit",
            Scheme::bybit(),
            HmacRecipe::bybit(5000),
            SECRET,
            false,
        ),
        (
            "kucoin",
            Scheme::kucoin(),
            HmacRecipe::kucoin(),
            SECRET,
            false,
        ),
        ("gate", Scheme::gate(), HmacRecipe::gate(), SECRET, false),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::PATCH),
        Just(Method::HEAD),
    ]
}

/// A path of 0..5 segments of arbitrary text, percent-encoded as a client
/// would send it.
fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(".{0,12}", 0..5).prop_map(|segs| {
        let mut p = String::new();
        for s in segs {
            p.push('/');
            p.push_str(&keel::encode_path_segment(&s));
        }
        if p.is_empty() {
            p.push('/');
        }
        p
    })
}

/// Query pairs of arbitrary text (names never empty).
fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-zA-Z][a-zA-Z0-9_.]{0,8}", ".{0,16}"), 0..4)
}

fn form(pairs: &[(String, String)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs)
        .unwrap_or_default()
        .into_bytes()
}

#[derive(Debug, PartialEq)]
struct Sent {
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// What a request is made of, before signing.
#[derive(Clone, Copy)]
struct Parts<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a [(String, String)],
    body: &'a [u8],
}

fn sign(
    signer: &dyn Signer,
    creds: &Credentials,
    parts: Parts<'_>,
    at: SystemTime,
    nonce: u64,
) -> keel::Result<Sent> {
    let Parts {
        method,
        path,
        query,
        body,
    } = parts;
    let mut url = Url::parse(&format!("https://{HOST}"))
        .map_err(|e| keel::Error::InvalidConfig(format!("test URL: {e}")))?;
    url.set_path(path);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let mut headers = HeaderMap::new();
    let mut req = SigningRequest::new(method, &mut url, &mut headers, body, at, nonce);
    signer.sign(&mut req, creds)?;
    let body = req
        .replaced_body()
        .map(<[u8]>::to_vec)
        .unwrap_or(body.to_vec());
    Ok(Sent { url, headers, body })
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn fail(why: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(why.into())
}

fn header<'a>(sent: &'a Sent, name: &str) -> Result<&'a str, TestCaseError> {
    sent.headers
        .get(name)
        .ok_or_else(|| fail(format!("no {name} header in {:?}", sent.headers.keys())))?
        .to_str()
        .map_err(|_| fail(format!("{name} is not text")))
}

// ---------------------------------------------------------------------------
// Independent computations (RustCrypto and the documented algorithms; no
// Keel code).
// ---------------------------------------------------------------------------

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn hmac_sha512(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64_decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("test data is base64")
}

/// `2021-04-20T02:07:53.123Z` (OKX).
fn iso_millis(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("a time in range");
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .expect("formats")
}

/// A signature algorithm, for the independent check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Ed25519,
    EcdsaP256,
    RsaPkcs1v15Sha256,
    RsaPssSha512,
}

/// Whether `sig` is a valid `alg` signature of `msg` under the public key in
/// `public_pem` (SPKI), checked with the RustCrypto crates directly.
fn public_verifies(alg: Alg, public_pem: &str, msg: &[u8], sig: &[u8]) -> bool {
    use rsa::signature::Verifier as _;
    match alg {
        Alg::Ed25519 => {
            let k = ed25519_dalek::VerifyingKey::from_public_key_pem(public_pem)
                .expect("an Ed25519 SPKI PEM");
            ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| k.verify_strict(msg, &s).is_ok())
        }
        Alg::EcdsaP256 => {
            let k = p256::ecdsa::VerifyingKey::from_public_key_pem(public_pem)
                .expect("a P-256 SPKI PEM");
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        Alg::RsaPkcs1v15Sha256 => {
            let k = rsa::PublicKey::from_public_key_pem(public_pem).expect("an RSA SPKI PEM");
            let v = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(k);
            rsa::pkcs1v15::Signature::try_from(sig).is_ok_and(|s| v.verify(msg, &s).is_ok())
        }
        Alg::RsaPssSha512 => {
            let k = rsa::PublicKey::from_public_key_pem(public_pem).expect("an RSA SPKI PEM");
            let v = rsa::pss::VerifyingKey::<rsa::sha2::Sha512>::new(k);
            rsa::pss::Signature::try_from(sig).is_ok_and(|s| v.verify(msg, &s).is_ok())
        }
    }
}

/// One signed HMAC request and what it was made from.
struct HmacCase<'a> {
    label: &'a str,
    method: &'a Method,
    sent: &'a Sent,
    now_ms: u64,
    nonce: u64,
    /// The caller's query or form already names a parameter the scheme
    /// adds (then the caller's value is used, as documented).
    caller_has: &'a dyn Fn(&str) -> bool,
}

/// Recomputes each preset's signature from the string to sign its provider
/// documents (see the recipe docs for the sources), with `hmac`/`sha2`.
fn documented_hmac(c: &HmacCase<'_>) -> Result<(), TestCaseError> {
    let sent = c.sent;
    let m = c.method.as_str().as_bytes();
    let path = sent.url.path();
    let query = sent.url.query().unwrap_or("");
    let pq = path_and_query(&sent.url);
    let body = sent.body.as_slice();
    let ms = c.now_ms.to_string();
    let secs = (c.now_ms / 1000).to_string();
    let raw = SECRET.as_bytes();
    let label = c.label;
    match label {
        "default" => {
            prop_assert_eq!(header(sent, "api-key")?, KEY);
            let ts = header(sent, "api-timestamp")?;
            prop_assert_eq!(ts, ms.as_str());
            let nonce = header(sent, "api-nonce")?;
            let want_nonce = c.nonce.to_string();
            prop_assert_eq!(nonce, want_nonce.as_str());
            let msg = [
                ts.as_bytes(),
                b"\n",
                nonce.as_bytes(),
                b"\n",
                m,
                b"\n",
                pq.as_bytes(),
                b"\n",
                body,
            ]
            .concat();
            prop_assert_eq!(
                header(sent, "api-signature")?,
                hex::encode(hmac_sha256(raw, &msg))
            );
        }
        "keel-v1" => {
            prop_assert_eq!(header(sent, "api-key")?, KEY);
            let ts = header(sent, "api-timestamp")?;
            prop_assert_eq!(ts, ms.as_str());
            prop_assert!(sent.headers.get("api-nonce").is_none());
            let msg = [ts.as_bytes(), m, pq.as_bytes(), body].concat();
            prop_assert_eq!(
                header(sent, "api-signature")?,
                hex::encode(hmac_sha256(raw, &msg))
            );
        }
        "kraken" => {
            // API-Sign = base64(HMAC-SHA512(base64-decoded secret,
            //   URI path + SHA256(nonce + POST data)))
            prop_assert_eq!(header(sent, "api-key")?, KEY);
            let nonce = form_urlencoded::parse(body)
                .find(|(k, _)| k == "nonce")
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| fail("kraken: no nonce form field"))?;
            if !(c.caller_has)("nonce") {
                prop_assert_eq!(&nonce, &c.nonce.to_string());
            }
            let inner = sha2::Sha256::digest([nonce.as_bytes(), body].concat());
            let msg = [path.as_bytes(), inner.as_slice()].concat();
            prop_assert_eq!(
                header(sent, "api-sign")?,
                b64(&hmac_sha512(&b64_decode(SECRET_B64), &msg))
            );
        }
        "binance" | "binance+recvWindow" => {
            // signature = hex(HMAC-SHA256(secret, totalParams)), totalParams =
            // the query string (without the signature) + the body.
            prop_assert_eq!(header(sent, "x-mbx-apikey")?, KEY);
            let (signed, sig) = query
                .rsplit_once("&signature=")
                .ok_or_else(|| fail(format!("binance: no signature last in {query}")))?;
            let pairs: Vec<(String, String)> = form_urlencoded::parse(signed.as_bytes())
                .into_owned()
                .collect();
            if !(c.caller_has)("timestamp") {
                prop_assert!(
                    pairs.contains(&("timestamp".into(), ms.clone())),
                    "{signed}"
                );
            }
            if label == "binance+recvWindow" && !(c.caller_has)("recvWindow") {
                prop_assert!(
                    pairs.contains(&("recvWindow".into(), "5000".into())),
                    "{signed}"
                );
            }
            let msg = [signed.as_bytes(), body].concat();
            prop_assert_eq!(sig, hex::encode(hmac_sha256(raw, &msg)));
        }
        "coinbase-exchange" => {
            // CB-ACCESS-SIGN = base64(HMAC-SHA256(base64-decoded secret,
            //   timestamp + method + requestPath + body))
            prop_assert_eq!(header(sent, "cb-access-key")?, KEY);
            prop_assert_eq!(header(sent, "cb-access-passphrase")?, PASSPHRASE);
            let ts = header(sent, "cb-access-timestamp")?;
            prop_assert_eq!(ts, secs.as_str());
            let msg = [ts.as_bytes(), m, pq.as_bytes(), body].concat();
            prop_assert_eq!(
                header(sent, "cb-access-sign")?,
                b64(&hmac_sha256(&b64_decode(SECRET_B64), &msg))
            );
        }
        "okx" => {
            // OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + method +
            //   requestPath + body)), timestamp ISO-8601 with milliseconds.
            prop_assert_eq!(header(sent, "ok-access-key")?, KEY);
            prop_assert_eq!(header(sent, "ok-access-passphrase")?, PASSPHRASE);
            let ts = header(sent, "ok-access-timestamp")?;
            let want_ts = iso_millis(c.now_ms);
            prop_assert_eq!(ts, want_ts.as_str());
            let msg = [ts.as_bytes(), m, pq.as_bytes(), body].concat();
            prop_assert_eq!(
                header(sent, "ok-access-sign")?,
                b64(&hmac_sha256(raw, &msg))
            );
        }
        "bybit" => {
            // X-BAPI-SIGN = hex(HMAC-SHA256(secret, timestamp + api_key +
            //   recv_window + (queryString | jsonBodyString)))
            prop_assert_eq!(header(sent, "x-bapi-api-key")?, KEY);
            prop_assert_eq!(header(sent, "x-bapi-recv-window")?, "5000");
            let ts = header(sent, "x-bapi-timestamp")?;
            prop_assert_eq!(ts, ms.as_str());
            let msg = [
                ts.as_bytes(),
                KEY.as_bytes(),
                b"5000",
                query.as_bytes(),
                body,
            ]
            .concat();
            prop_assert_eq!(
                header(sent, "x-bapi-sign")?,
                hex::encode(hmac_sha256(raw, &msg))
            );
        }
        "kucoin" => {
            // KC-API-SIGN = base64(HMAC-SHA256(secret, timestamp + method +
            //   endpoint + body)); KC-API-PASSPHRASE = base64(HMAC-SHA256(
            //   secret, passphrase)); KC-API-KEY-VERSION 2.
            prop_assert_eq!(header(sent, "kc-api-key")?, KEY);
            prop_assert_eq!(header(sent, "kc-api-key-version")?, "2");
            prop_assert_eq!(
                header(sent, "kc-api-passphrase")?,
                b64(&hmac_sha256(raw, PASSPHRASE.as_bytes()))
            );
            let ts = header(sent, "kc-api-timestamp")?;
            prop_assert_eq!(ts, ms.as_str());
            let msg = [ts.as_bytes(), m, pq.as_bytes(), body].concat();
            prop_assert_eq!(header(sent, "kc-api-sign")?, b64(&hmac_sha256(raw, &msg)));
        }
        "gate" => {
            // SIGN = hex(HMAC-SHA512(secret, METHOD\nPATH\nQUERY\n
            //   hex(SHA512(body))\nTIMESTAMP)), timestamp in seconds.
            prop_assert_eq!(header(sent, "key")?, KEY);
            let ts = header(sent, "timestamp")?;
            prop_assert_eq!(ts, secs.as_str());
            let msg = format!(
                "{}\n{path}\n{query}\n{}\n{ts}",
                c.method.as_str(),
                hex::encode(sha2::Sha512::digest(body))
            );
            prop_assert_eq!(
                header(sent, "sign")?,
                hex::encode(hmac_sha512(raw, msg.as_bytes()))
            );
        }
        other => return Err(fail(format!("no documented computation for {other}"))),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn every_hmac_recipe_round_trips_and_rejects_tampering(
        method in method(),
        path in path(),
        query in query(),
        raw_body in prop::collection::vec(any::<u8>(), 0..64),
        form_body in prop::collection::vec(("[a-z]{1,6}", ".{0,10}"), 0..3),
        now_ms in 1_600_000_000_000u64..1_900_000_000_000,
        nonce in 1u64..u64::MAX / 2,
        flip in any::<prop::sample::Index>(),
    ) {
        let mut scan = scan();
        for (label, scheme, recipe, secret, form_bodied) in recipes() {
            let name = recipe.name().to_owned();
            let body = if form_bodied { form(&form_body) } else { raw_body.clone() };
            let creds = Credentials::new(
                KEY,
                Some(secret.as_bytes().to_vec()),
                HeaderName::from_static("api-key"),
            )
            .with_passphrase(PASSPHRASE);
            let parts = Parts { method: &method, path: &path, query: &query, body: &body };
            // The signer a client uses (bound to the credentials) …
            let bound = match scheme.prepare(&creds) {
                Ok(b) => b,
                Err(e) => {
                    scan.error(&format!("{label}: prepare error"), &e);
                    return Err(fail(format!("{label}: prepare failed: {e}")));
                }
            };
            let sent = match sign(&*bound, &creds, parts, at(now_ms), nonce) {
                Ok(s) => s,
                Err(e) => {
                    scan.error(&format!("{label}: signing error"), &e);
                    return Err(fail(format!("{label}: signing failed: {e}")));
                }
            };
            // … signs exactly as the unbound one (tools, `keel sign`).
            let unbound = sign(&**scheme.signer(), &creds, parts, at(now_ms), nonce)
                .map_err(|e| fail(format!("{label}: unbound signing failed: {e}")))?;
            prop_assert_eq!(&unbound, &sent, "{}: bound and unbound signers differ", label);
            scan.debug(&format!("{label}: signed headers"), &sent.headers.keys().collect::<Vec<_>>());

            // The signature is the one the provider documents.
            let caller_has = |n: &str| {
                query.iter().any(|(k, _)| k == n)
                    || (form_bodied && form_body.iter().any(|(k, _)| k == n))
            };
            documented_hmac(&HmacCase {
                label,
                method: &method,
                sent: &sent,
                now_ms,
                nonce,
                caller_has: &caller_has,
            })?;

            // Keel's verifier accepts it.
            let verifier = Verifier::builder(recipe.clone())
                .key(KEY, secret)
                .window(Duration::from_secs(30))
                .build();
            let pq = path_and_query(&sent.url);
            let ok = verifier.verify_at(
                &VerifyRequest::new(&method, &pq, &sent.headers, &sent.body),
                at(now_ms + 1_000),
            );
            prop_assert!(ok.is_ok(), "{label}: {method} {pq} rejected: {:?}", ok.err());
            prop_assert_eq!(ok.unwrap().api_key, KEY);

            // A changed body byte (a signed part for every recipe) is rejected.
            if !sent.body.is_empty() {
                let mut tampered = sent.body.clone();
                let i = flip.index(tampered.len());
                tampered[i] ^= 0x01;
                let r = Verifier::builder(recipe.clone())
                    .key(KEY, secret)
                    .build()
                    .verify_at(&VerifyRequest::new(&method, &pq, &sent.headers, &tampered), at(now_ms));
                prop_assert!(r.is_err(), "{label}: a tampered body was accepted");
                if let Err(e) = r {
                    scan.error(&format!("{label}: rejection"), &e);
                }
            }
            // Another path is rejected by every recipe that signs the path
            // (Binance and Bybit sign only the query and body, as documented).
            if !matches!(name.as_str(), "binance" | "bybit") {
                let other = format!("{}/x", sent.url.path().trim_end_matches('/'));
                let other_pq = match sent.url.query() {
                    Some(q) => format!("{other}?{q}"),
                    None => other,
                };
                let r = Verifier::builder(recipe.clone())
                    .key(KEY, secret)
                    .build()
                    .verify_at(&VerifyRequest::new(&method, &other_pq, &sent.headers, &sent.body), at(now_ms));
                prop_assert!(r.is_err(), "{label}: accepted under another path {other_pq}");
            }
            // A stale timestamp is rejected (recipes that carry one).
            if name != "kraken" {
                let r = verifier.verify_at(
                    &VerifyRequest::new(&method, &pq, &sent.headers, &sent.body),
                    at(now_ms + 120_000),
                );
                prop_assert!(r.is_err(), "{label}: a 2-minute-old signature was accepted");
            }
        }
        scan.finish();
    }

    #[test]
    fn rfc9421_round_trips_for_hmac_and_ed25519_and_rejects_tampering(
        method in method(),
        path in path(),
        query in query(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        created in 1_600_000_000u64..1_750_000_000,
        nonce in 1u64..u64::MAX / 2,
        key_id in "[ -~]{0,20}",
        label in "[a-z][a-z0-9]{0,5}",
    ) {
        let mut scan = scan();
        let components = ["@method", "@authority", "@path", "@query", "content-digest"];
        let digest = Digest::Sha256;
        let cases: Vec<(Rfc9421, &str, KeyFn)> = vec![
            (
                Rfc9421::hmac_sha256().components(components).content_digest(digest).key_id(key_id.clone()).label(label.clone()),
                SECRET,
                || VerifyKey::HmacSha256(SECRET.as_bytes()),
            ),
            (
                // The key decides: a plain secret signs hmac-sha256.
                Rfc9421::new().components(components).content_digest(digest).key_id(key_id.clone()).label(label.clone()),
                SECRET,
                || VerifyKey::HmacSha256(SECRET.as_bytes()),
            ),
            (
                Rfc9421::ed25519().components(components).content_digest(digest).key_id(key_id.clone()).label(label.clone()),
                ED25519_PRIVATE,
                || VerifyKey::Ed25519PublicPem(ED25519_PUBLIC),
            ),
        ];
        for (config, secret, key) in cases {
            let creds = Credentials::new(
                KEY,
                Some(secret.as_bytes().to_vec()),
                HeaderName::from_static("api-key"),
            );
            let sent = match sign(&config, &creds, Parts { method: &method, path: &path, query: &query, body: &body }, UNIX_EPOCH + Duration::from_secs(created), nonce) {
                Ok(s) => s,
                Err(e) => {
                    // Only a key id that cannot be an sf-string may be refused.
                    scan.error("rfc9421 signing error", &e);
                    prop_assert!(
                        key_id.contains(['"', '\\']),
                        "signing failed for key id {key_id:?}: {e}"
                    );
                    continue;
                }
            };
            let v = rfc9421::verify(&label, &method, &sent.url, &sent.headers, key());
            prop_assert!(v.is_ok(), "{method} {} rejected: {:?} ({:?})", sent.url, v.err(), sent.headers);
            let v = v.unwrap();
            prop_assert_eq!(v.created, Some(created));
            // The structured fields read back exactly what was written.
            prop_assert_eq!(v.key_id.as_deref(), Some(key_id.as_str()));
            scan.check("signature base", &v.base);

            // The body is covered through Content-Digest: a changed digest
            // header is rejected, and so is another method.
            let mut headers = sent.headers.clone();
            let changed = rfc9421::content_digest(digest, b"other body");
            headers.insert("content-digest", changed.parse().unwrap());
            let r = rfc9421::verify(&label, &method, &sent.url, &headers, key());
            if headers.get("content-digest") != sent.headers.get("content-digest") {
                prop_assert!(r.is_err(), "a changed Content-Digest was accepted");
            }
            let other = if method == Method::GET { Method::POST } else { Method::GET };
            let r = rfc9421::verify(&label, &other, &sent.url, &sent.headers, key());
            prop_assert!(r.is_err(), "accepted under {other}");
            if let Err(e) = r {
                scan.check("rfc9421 rejection", e);
            }
        }
        scan.finish();
    }

    #[test]
    fn rfc9421_component_lists_read_back_what_they_list(
        names in prop::collection::vec(
            prop_oneof![
                Just("@method".to_owned()),
                Just("@path".to_owned()),
                Just("@query".to_owned()),
                Just("@authority".to_owned()),
                Just("@target-uri".to_owned()),
                "[a-z][a-z0-9-]{0,15}",
            ],
            0..8,
        ),
        spaces in 1usize..3,
    ) {
        let sep = " ".repeat(spaces);
        let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(&sep);
        let parsed = Rfc9421::parse_components(&list)
            .map_err(|e| TestCaseError::fail(format!("{list}: {e}")))?;
        let parsed: Vec<String> = parsed.iter().map(|c| c.name().to_owned()).collect();
        prop_assert_eq!(&parsed, &names);
    }

    #[test]
    fn rfc9421_parsing_never_panics_on_arbitrary_headers(
        list in ".{0,80}",
        input in ".{0,120}",
        signature in ".{0,120}",
        label in "[a-z0-9]{1,6}",
    ) {
        let _ = Rfc9421::parse_components(&list);
        let mut headers = HeaderMap::new();
        if let (Ok(i), Ok(s)) = (input.parse(), signature.parse()) {
            headers.insert("signature-input", i);
            headers.insert("signature", s);
        }
        let url = Url::parse("https://api.example.test/a?b=c").unwrap();
        let r = rfc9421::verify(&label, &Method::GET, &url, &headers, VerifyKey::HmacSha256(SECRET.as_bytes()));
        prop_assert!(r.is_err(), "an arbitrary header verified: {input} / {signature}");
        // Well-formed structure around arbitrary content.
        let mut headers = HeaderMap::new();
        let wrapped_input = format!("{label}=(\"@method\" \"{}\");created=1", list.replace(['"', '\\'], ""));
        let wrapped_sig = format!("{label}=:{}:", signature.replace(':', ""));
        if let (Ok(i), Ok(s)) = (wrapped_input.parse(), wrapped_sig.parse()) {
            headers.insert("signature-input", i);
            headers.insert("signature", s);
            let r = rfc9421::verify(&label, &Method::GET, &url, &headers, VerifyKey::HmacSha256(SECRET.as_bytes()));
            prop_assert!(r.is_err());
        }
    }
}

// ---------------------------------------------------------------------------
// Key-based schemes. RSA signing is slow in a debug build: fewer cases.
// ---------------------------------------------------------------------------

/// The signature base of RFC 9421 §2.5 for the components the key-type test
/// covers, rebuilt from the request as sent (no Keel code): `@method`,
/// `@authority`, `@path`, `@query` (`?` plus the query, `?` alone when there
/// is none) and `content-digest`, then `@signature-params` as sent in
/// `Signature-Input`.
fn rfc9421_base(method: &Method, url: &Url, headers: &HeaderMap) -> Result<String, TestCaseError> {
    let input = headers
        .get("signature-input")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| fail("no Signature-Input"))?;
    let params = input
        .strip_prefix("sig1=")
        .ok_or_else(|| fail(format!("Signature-Input {input}")))?;
    let digest = headers
        .get("content-digest")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| fail("no Content-Digest"))?;
    Ok(format!(
        "\"@method\": {}\n\"@authority\": {}\n\"@path\": {}\n\"@query\": ?{}\n\"content-digest\": {digest}\n\"@signature-params\": {params}",
        method.as_str(),
        url.host_str().unwrap_or_default(),
        url.path(),
        url.query().unwrap_or(""),
    ))
}

fn rfc9421_signature(headers: &HeaderMap) -> Result<Vec<u8>, TestCaseError> {
    let v = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| fail("no Signature"))?;
    let inner = v
        .strip_prefix("sig1=:")
        .and_then(|s| s.strip_suffix(':'))
        .ok_or_else(|| fail(format!("Signature {v}")))?;
    base64::engine::general_purpose::STANDARD
        .decode(inner)
        .map_err(|e| fail(format!("Signature {v}: {e}")))
}

/// A JWT as Coinbase CDP's "JWT Authentication" guide builds it, checked
/// independently: ES256 (`r || s`) or EdDSA over `header.claims`, `kid` and
/// `sub` the key name, `iss` `cdp`, `nbf` the signing time, `exp` two
/// minutes later, `uri` = METHOD, a space, the host and the path, and a
/// 32-hex-digit `nonce`. Returns the nonce.
fn check_cdp(
    jwt: &str,
    method: &Method,
    url: &Url,
    now_s: u64,
    key_name: &str,
    public_pem: &str,
    alg: Alg,
) -> Result<String, String> {
    let b64url = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [head, claims, sig] = parts[..] else {
        return Err(format!("{} parts", parts.len()));
    };
    let sig = b64url.decode(sig).map_err(|e| format!("signature: {e}"))?;
    if !public_verifies(alg, public_pem, format!("{head}.{claims}").as_bytes(), &sig) {
        return Err("bad signature".into());
    }
    let json = |part: &str| -> Result<serde_json::Value, String> {
        let bytes = b64url.decode(part).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let (head, claims) = (json(head)?, json(claims)?);
    let alg_name = if alg == Alg::EcdsaP256 {
        "ES256"
    } else {
        "EdDSA"
    };
    let nonce = head["nonce"].as_str().unwrap_or_default().to_owned();
    let nbf = claims["nbf"].as_u64().unwrap_or(u64::MAX);
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let uri = format!(
        "{} {}{}",
        method.as_str(),
        url.host_str().unwrap_or_default(),
        url.path()
    );
    let checks = [
        (head["alg"] == alg_name, "alg"),
        (head["kid"] == key_name, "kid"),
        (head["typ"] == "JWT", "typ"),
        (
            nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()),
            "nonce",
        ),
        (claims["sub"] == key_name, "sub"),
        (claims["iss"] == "cdp", "iss"),
        (exp == nbf.saturating_add(120), "a 2-minute lifetime"),
        (nbf <= now_s && now_s <= exp, "the time window"),
        (claims["uri"] == uri.as_str(), "uri"),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, what)) => Err(format!("{what} does not match: {head} {claims}")),
        None => Ok(nonce),
    }
}

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn binance_key_signatures_verify_with_the_public_key(
        method in method(),
        path in path(),
        query in query(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        now_ms in 1_600_000_000_000u64..1_900_000_000_000,
        flip in any::<prop::sample::Index>(),
    ) {
        let mut scan = key_scan(&["ed25519.pk8.pem", "rsa.pkcs1.pem", "rsa.pk8.pem"]);
        // Binance: base64 of the Ed25519 / RSASSA-PKCS1-v1_5 SHA-256
        // signature of the same payload as HMAC (query + body), URL-encoded
        // in `signature`. The key is given as a key, or as a PEM in the API
        // secret (Binance's own flow).
        let cases: [(&'static str, &str, Alg, bool); 4] = [
            ("ed25519.pk8.pem", "ed25519.pub.pem", Alg::Ed25519, false),
            ("ed25519.pk8.pem", "ed25519.pub.pem", Alg::Ed25519, true),
            ("rsa.pkcs1.pem", "rsa.pub.pem", Alg::RsaPkcs1v15Sha256, false),
            ("rsa.pk8.pem", "rsa.pub.pem", Alg::RsaPkcs1v15Sha256, true),
        ];
        for (private, public, alg, as_secret) in cases {
            let creds = if as_secret {
                Credentials::new(KEY, Some(key_file(private)), HeaderName::from_static("api-key"))
            } else {
                Credentials::with_key_pair(KEY, private_key(private), HeaderName::from_static("api-key"))
            };
            let signer = Scheme::binance()
                .prepare(&creds)
                .map_err(|e| fail(format!("{private}: {e}")))?;
            let sent = sign(&*signer, &creds, Parts { method: &method, path: &path, query: &query, body: &body }, at(now_ms), 1)
                .map_err(|e| { scan.error("binance key signing", &e); fail(format!("{private}: {e}")) })?;
            prop_assert_eq!(header(&sent, "x-mbx-apikey")?, KEY);
            let q = sent.url.query().unwrap_or("");
            let (signed, sig) = q
                .rsplit_once("&signature=")
                .ok_or_else(|| fail(format!("no signature last in {q}")))?;
            // URL-encoded on the wire: base64's + / = never appear raw.
            prop_assert!(!sig.contains(['+', '/', '=']), "{sig}");
            let sig_text: String = form_urlencoded::parse(format!("s={sig}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default();
            let sig = base64::engine::general_purpose::STANDARD
                .decode(&sig_text)
                .map_err(|e| fail(format!("{private}: signature {sig_text}: {e}")))?;
            let msg = [signed.as_bytes(), &sent.body].concat();
            prop_assert!(public_verifies(alg, &key_text(public), &msg, &sig), "{private}: {method} {q}");
            // The same key signs the same payload the same way (both algorithms
            // are deterministic).
            let unbound = sign(&**Scheme::binance().signer(), &creds, Parts { method: &method, path: &path, query: &query, body: &body }, at(now_ms), 1)
                .map_err(|e| fail(format!("{private}: {e}")))?;
            prop_assert_eq!(&unbound, &sent);

            // A changed body byte or query is rejected by the public key.
            let mut tampered = msg.clone();
            if sent.body.is_empty() {
                tampered.extend_from_slice(b"&x=1");
            } else {
                let i = signed.len() + flip.index(sent.body.len());
                tampered[i] ^= 0x01;
            }
            prop_assert!(!public_verifies(alg, &key_text(public), &tampered, &sig), "{private}: tampered body");
            let other_query = [signed.as_bytes(), b"&side=SELL", &sent.body].concat();
            prop_assert!(!public_verifies(alg, &key_text(public), &other_query, &sig), "{private}: tampered query");
        }
        scan.finish();
    }

    #[test]
    fn rfc9421_every_key_type_round_trips_and_rejects_tampering(
        method in method(),
        path in path(),
        query in query(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        created in 1_600_000_000u64..1_750_000_000,
        key_id in "[a-zA-Z0-9_./-]{0,20}",
        include_alg in any::<bool>(),
    ) {
        let mut scan = key_scan(&["p256.pk8.pem", "p256.sec1.pem", "rsa.pkcs1.pem", "rsa.pk8.pem", "rsapss.pk8.pem", "ed25519.pk8.pem"]);
        let components = ["@method", "@authority", "@path", "@query", "content-digest"];
        let base = |r: Rfc9421| r.components(components).content_digest(Digest::Sha256).key_id(key_id.clone()).include_alg(include_alg);
        // (private key file, public key file, signer, the algorithm, as a PEM
        // in the API secret or as a key)
        let cases: [(&'static str, &str, Rfc9421, Algorithm, Alg, bool); 6] = [
            ("p256.pk8.pem", "p256.pub.pem", base(Rfc9421::new()), Algorithm::EcdsaP256Sha256, Alg::EcdsaP256, true),
            ("p256.sec1.pem", "p256.pub.pem", base(Rfc9421::new()), Algorithm::EcdsaP256Sha256, Alg::EcdsaP256, false),
            ("rsa.pkcs1.pem", "rsa.pub.pem", base(Rfc9421::new()), Algorithm::RsaV15Sha256, Alg::RsaPkcs1v15Sha256, true),
            // PSS with an rsaEncryption key is not what the key decides, so
            // the verifier learns it only from `alg`: always sent here.
            ("rsa.pk8.pem", "rsa.pub.pem", base(Rfc9421::with_algorithm(Algorithm::RsaPssSha512)).include_alg(true), Algorithm::RsaPssSha512, Alg::RsaPssSha512, false),
            ("rsapss.pk8.pem", "rsapss.pub.pem", base(Rfc9421::new()), Algorithm::RsaPssSha512, Alg::RsaPssSha512, true),
            ("ed25519.pk8.pem", "ed25519.pub.pem", base(Rfc9421::new()), Algorithm::Ed25519, Alg::Ed25519, false),
        ];
        for (private, public_file, signer, alg, independent, as_secret) in cases {
            let creds = if as_secret {
                Credentials::new(KEY, Some(key_file(private)), HeaderName::from_static("api-key"))
            } else {
                Credentials::with_key_pair(KEY, private_key(private), HeaderName::from_static("api-key"))
            };
            let bound = Scheme::rfc9421(signer)
                .prepare(&creds)
                .map_err(|e| fail(format!("{private}: {e}")))?;
            let sent = sign(&*bound, &creds, Parts { method: &method, path: &path, query: &query, body: &body }, UNIX_EPOCH + Duration::from_secs(created), 1)
                .map_err(|e| { scan.error("rfc9421 key signing", &e); fail(format!("{private}: {e}")) })?;
            prop_assert_eq!(
                header(&sent, "content-digest")?,
                format!("sha-256=:{}:", b64(&sha2::Sha256::digest(&body)))
            );
            let input = header(&sent, "signature-input")?;
            let alg_sent = include_alg || private == "rsa.pk8.pem";
            prop_assert_eq!(input.contains(&format!(";alg=\"{}\"", alg.name())), alg_sent, "{}", input);

            // Keel's verifier, with the public key.
            let public = PublicKey::from_bytes(&key_file(public_file)).map_err(|e| fail(e.to_string()))?;
            let v = rfc9421::verify("sig1", &method, &sent.url, &sent.headers, VerifyKey::Public(&public));
            prop_assert!(v.is_ok(), "{private}: {method} {} rejected: {:?}", sent.url, v.err());
            let v = v.unwrap();
            prop_assert_eq!(v.alg, alg);
            prop_assert_eq!(v.created, Some(created));
            prop_assert_eq!(v.key_id.as_deref(), Some(key_id.as_str()));

            // Independently: the base rebuilt here, the signature checked with
            // the RustCrypto crate of the algorithm.
            let expected_base = rfc9421_base(&method, &sent.url, &sent.headers)?;
            prop_assert_eq!(&v.base, &expected_base);
            let sig = rfc9421_signature(&sent.headers)?;
            prop_assert!(public_verifies(independent, &key_text(public_file), expected_base.as_bytes(), &sig), "{private}");

            // Tampering: another method, another Content-Digest, another created.
            let other = if method == Method::GET { Method::POST } else { Method::GET };
            prop_assert!(rfc9421::verify("sig1", &other, &sent.url, &sent.headers, VerifyKey::Public(&public)).is_err(), "{private}: accepted under {other}");
            let mut h = sent.headers.clone();
            h.insert("content-digest", rfc9421::content_digest(Digest::Sha256, &[&body[..], b"!"].concat()).parse().unwrap());
            prop_assert!(rfc9421::verify("sig1", &method, &sent.url, &h, VerifyKey::Public(&public)).is_err(), "{private}: another Content-Digest");
            let mut h = sent.headers.clone();
            h.insert("signature-input", input.replace(&format!("created={created}"), &format!("created={}", created + 1)).parse().unwrap());
            let r = rfc9421::verify("sig1", &method, &sent.url, &h, VerifyKey::Public(&public));
            prop_assert!(r.is_err(), "{private}: another created");
            if let Err(e) = r {
                scan.check("rfc9421 rejection", e);
            }
            prop_assert!(!public_verifies(independent, &key_text(public_file), expected_base.replace("\"@method\": ", "\"@method\": X").as_bytes(), &sig));
        }
        scan.finish();
    }

    #[test]
    fn coinbase_cdp_jwts_verify_with_the_public_key(
        method in method(),
        path in path(),
        query in query(),
        body in prop::collection::vec(any::<u8>(), 0..32),
        now_ms in 1_600_000_000_000u64..1_900_000_000_000,
        key_name in "[ -~]{1,40}",
        flip in any::<prop::sample::Index>(),
    ) {
        let mut scan = key_scan(&["p256.sec1.pem", "ed25519.pk8.pem"]);
        // The EC key as the CDP portal shows it: one line, with \n escapes.
        let escaped = key_text("p256.sec1.pem").replace('\n', "\\n");
        let cases = [
            (Credentials::with_key_pair(key_name.clone(), private_key("p256.sec1.pem"), HeaderName::from_static("api-key")), "p256.pub.pem", Alg::EcdsaP256),
            (Credentials::new(key_name.clone(), Some(escaped.into_bytes()), HeaderName::from_static("api-key")), "p256.pub.pem", Alg::EcdsaP256),
            (Credentials::with_key_pair(key_name.clone(), private_key("ed25519.pk8.pem"), HeaderName::from_static("api-key")), "ed25519.pub.pem", Alg::Ed25519),
        ];
        let now_s = now_ms / 1000;
        for (creds, public_file, alg) in cases {
            let public = key_text(public_file);
            let signer = Scheme::coinbase_cdp()
                .prepare(&creds)
                .map_err(|e| fail(format!("{public_file}: {e}")))?;
            let parts = Parts { method: &method, path: &path, query: &query, body: &body };
            let sent = sign(&*signer, &creds, parts, at(now_ms), 1)
                .map_err(|e| { scan.error("cdp signing", &e); fail(format!("{public_file}: {e}")) })?;
            let auth = header(&sent, "authorization")?;
            let jwt = auth.strip_prefix("Bearer ").ok_or_else(|| fail(format!("authorization {auth}")))?;
            let nonce = check_cdp(jwt, &method, &sent.url, now_s, &key_name, &public, alg);
            prop_assert!(nonce.is_ok(), "{public_file}: {method} {}: {:?}", sent.url, nonce);
            // The URL and body go out unchanged (CDP signs neither the query
            // nor the body, as Coinbase documents).
            prop_assert_eq!(sent.body.as_slice(), body.as_slice());
            prop_assert_eq!(sent.headers.len(), 1);

            // A second token for the same request has another nonce.
            let again = sign(&*signer, &creds, parts, at(now_ms), 1)
                .map_err(|e| fail(format!("{public_file}: {e}")))?;
            let again = header(&again, "authorization")?.trim_start_matches("Bearer ").to_owned();
            prop_assert_ne!(
                check_cdp(&again, &method, &sent.url, now_s, &key_name, &public, alg).ok(),
                nonce.ok()
            );

            // Tampering: another method, another path, after the expiry, a
            // changed byte of the claims or the signature.
            let other = if method == Method::GET { Method::POST } else { Method::GET };
            prop_assert!(check_cdp(jwt, &other, &sent.url, now_s, &key_name, &public, alg).is_err());
            let mut elsewhere = sent.url.clone();
            elsewhere.set_path(&format!("{}/x", sent.url.path().trim_end_matches('/')));
            prop_assert!(check_cdp(jwt, &method, &elsewhere, now_s, &key_name, &public, alg).is_err());
            prop_assert!(check_cdp(jwt, &method, &sent.url, now_s + 121, &key_name, &public, alg).is_err());
            let dots: Vec<usize> = jwt.match_indices('.').map(|(i, _)| i).collect();
            for (start, end) in [(dots[0] + 1, dots[1]), (dots[1] + 1, jwt.len())] {
                let mut bytes = jwt.as_bytes().to_vec();
                let i = start + flip.index(end - start);
                // Another base64url character at that position.
                bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                let changed = String::from_utf8(bytes).unwrap_or_default();
                let r = check_cdp(&changed, &method, &sent.url, now_s, &key_name, &public, alg);
                prop_assert!(r.is_err(), "{public_file}: a changed token was accepted");
            }
        }
        scan.finish();
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// The schemes that sign nothing put the credential exactly where they
    /// say, and change nothing else.
    #[test]
    fn credential_only_schemes_place_exactly_the_credential(
        method in method(),
        path in path(),
        query in query(),
        body in prop::collection::vec(any::<u8>(), 0..32),
        key in "[!-~]{1,40}",
        param in "[a-z_]{1,10}",
    ) {
        let mut scan = scan();
        let creds = Credentials::new(key.clone(), Some(SECRET.as_bytes().to_vec()), HeaderName::from_static("x-api-key"));
        let parts = Parts { method: &method, path: &path, query: &query, body: &body };
        let plain = sign(&**Scheme::api_key_header().signer(), &Credentials::new("", None, HeaderName::from_static("x-unused")), parts, UNIX_EPOCH, 1)
            .map_err(|e| fail(e.to_string()))?;
        let cases: [(&str, Scheme); 4] = [
            ("api-key-header", Scheme::api_key_header()),
            ("api-key-query", Scheme::api_key_query(&param)),
            ("bearer", Scheme::bearer()),
            ("basic", Scheme::basic()),
        ];
        for (label, scheme) in cases {
            let signer = scheme.prepare(&creds).map_err(|e| fail(format!("{label}: {e}")))?;
            let sent = sign(&*signer, &creds, parts, UNIX_EPOCH, 1)
                .map_err(|e| { scan.error(label, &e); fail(format!("{label}: {e}")) })?;
            prop_assert_eq!(sent.body.as_slice(), body.as_slice(), "{}", label);
            prop_assert_eq!(sent.url.path(), plain.url.path(), "{}", label);
            match label {
                "api-key-query" => {
                    prop_assert!(sent.headers.is_empty(), "{}", label);
                    let pairs: Vec<(String, String)> = sent.url.query_pairs().into_owned().collect();
                    prop_assert_eq!(pairs.last(), Some(&(param.clone(), key.clone())));
                    prop_assert_eq!(&pairs[..pairs.len() - 1], &query[..]);
                }
                _ => {
                    prop_assert_eq!(sent.url.query(), plain.url.query(), "{}", label);
                    prop_assert_eq!(sent.headers.len(), 1, "{}", label);
                    let (name, want) = match label {
                        "api-key-header" => ("x-api-key", key.clone()),
                        "bearer" => ("authorization", format!("Bearer {key}")),
                        _ => ("authorization", format!("Basic {}", b64(format!("{key}:{SECRET}").as_bytes()))),
                    };
                    prop_assert_eq!(header(&sent, name)?, want.as_str(), "{}", label);
                    prop_assert!(sent.headers[name].is_sensitive(), "{}: not marked sensitive", label);
                }
            }
        }
        scan.finish();
    }
}

// ---------------------------------------------------------------------------
// AWS Signature Version 4 (feature `aws-sigv4`).
// ---------------------------------------------------------------------------

/// SigV4 from AWS's documentation ("Create a signed AWS API request",
/// "Elements of an AWS API request signature"), written from the text and
/// not from the `aws-sigv4` crate:
///
/// - canonical URI: the path as sent (already URI-encoded once), with
///   redundant (`//`) and relative (`.`, `..`) segments removed and encoded
///   a second time — except for S3, whose path is used as sent;
/// - canonical query: each name and value URI-encoded (RFC 3986 unreserved
///   characters kept), sorted by name then value;
/// - signed headers `host`, `x-amz-date`, `x-amz-security-token` with a
///   session token, and for S3 `x-amz-content-sha256` (S3 requires it);
/// - string to sign `AWS4-HMAC-SHA256 \n date \n scope \n hex(SHA256(creq))`,
///   key `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
///   "aws4_request")`.
#[cfg(feature = "aws-sigv4")]
mod sigv4 {
    use super::*;
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

    pub struct Request<'a> {
        pub method: &'a Method,
        pub url: &'a Url,
        pub body: &'a [u8],
        pub time: SystemTime,
    }

    pub struct Identity<'a> {
        pub access_key: &'a str,
        pub secret: &'a str,
        pub token: Option<&'a str>,
        pub region: &'a str,
        pub service: &'a str,
    }

    fn remove_redundant_segments(path: &str) -> String {
        let mut out: Vec<&str> = Vec::new();
        for seg in path.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                s => out.push(s),
            }
        }
        let mut p = format!("/{}", out.join("/"));
        if path.ends_with('/') && !p.ends_with('/') {
            p.push('/');
        }
        p
    }

    fn canonical_uri(path: &str, s3: bool) -> String {
        if s3 {
            return if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            };
        }
        utf8_percent_encode(&remove_redundant_segments(path), UNRESERVED_AND_SLASH).to_string()
    }

    fn canonical_query(url: &Url) -> String {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                (
                    utf8_percent_encode(&k, UNRESERVED).to_string(),
                    utf8_percent_encode(&v, UNRESERVED).to_string(),
                )
            })
            .collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The `X-Amz-Date` and `Authorization` values.
    pub fn expected(r: &Request<'_>, id: &Identity<'_>) -> (String, String) {
        let t = time::OffsetDateTime::from(r.time);
        let amz_date = t
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .expect("formats");
        let date = &amz_date[..8];
        let s3 = id.service == "s3";
        let payload = hex::encode(sha2::Sha256::digest(r.body));
        let mut headers: Vec<(&str, String)> = vec![
            ("host", r.url.host_str().unwrap_or_default().to_owned()),
            ("x-amz-date", amz_date.clone()),
        ];
        if s3 {
            headers.push(("x-amz-content-sha256", payload.clone()));
        }
        if let Some(token) = id.token {
            headers.push(("x-amz-security-token", token.to_owned()));
        }
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let signed_headers = headers
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(";");
        let creq = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload}",
            r.method.as_str(),
            canonical_uri(r.url.path(), s3),
            canonical_query(r.url),
        );
        let scope = format!("{date}/{}/{}/aws4_request", id.region, id.service);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(sha2::Sha256::digest(creq.as_bytes()))
        );
        let k_date = hmac_sha256(format!("AWS4{}", id.secret).as_bytes(), date.as_bytes());
        let k_region = hmac_sha256(&k_date, id.region.as_bytes());
        let k_service = hmac_sha256(&k_region, id.service.as_bytes());
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        let signature = hex::encode(hmac_sha256(&k_signing, to_sign.as_bytes()));
        (
            amz_date,
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                id.access_key
            ),
        )
    }
}

#[cfg(feature = "aws-sigv4")]
const AWS_SECRET: &str = "prop-aws-secret/Kq93+Zx0EXAMPLEKEY";

#[cfg(feature = "aws-sigv4")]
proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn aws_sigv4_matches_an_independent_computation(
        method in method(),
        path in path(),
        query in query(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        now_ms in 1_600_000_000_000u64..1_900_000_000_000,
        region in prop_oneof![Just("us-east-1"), Just("eu-west-3"), Just("ap-southeast-2")],
        service in prop_oneof![Just("execute-api"), Just("sts"), Just("dynamodb"), Just("s3")],
        token in proptest::option::of("[A-Za-z0-9/+=]{16,40}"),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut secrets = vec![AWS_SECRET];
        if let Some(t) = &token {
            secrets.push(t.as_str());
        }
        let mut scan = SecretScan::new(&secrets);
        let mut creds = Credentials::new("AKIDPROPTEST", Some(AWS_SECRET.as_bytes().to_vec()), HeaderName::from_static("api-key"));
        if let Some(t) = &token {
            creds = creds.with_passphrase(t.clone());
        }
        let scheme = Scheme::aws_sigv4(region, service);
        let signer = scheme.prepare(&creds).map_err(|e| fail(e.to_string()))?;
        let parts = Parts { method: &method, path: &path, query: &query, body: &body };
        let sent = sign(&*signer, &creds, parts, at(now_ms), 1)
            .map_err(|e| { scan.error("aws signing", &e); fail(format!("{e}")) })?;
        let id = sigv4::Identity { access_key: "AKIDPROPTEST", secret: AWS_SECRET, token: token.as_deref(), region, service };
        let (amz_date, authorization) = sigv4::expected(
            &sigv4::Request { method: &method, url: &sent.url, body: &body, time: at(now_ms) },
            &id,
        );
        prop_assert_eq!(header(&sent, "x-amz-date")?, amz_date.as_str());
        prop_assert_eq!(header(&sent, "authorization")?, authorization.as_str(), "{} {} {}", service, method, sent.url);
        if let Some(t) = &token {
            prop_assert_eq!(header(&sent, "x-amz-security-token")?, t.as_str());
        }
        if service == "s3" {
            prop_assert_eq!(header(&sent, "x-amz-content-sha256")?, hex::encode(sha2::Sha256::digest(&body)));
        }
        // The URL and body go out as they were.
        let unsigned = Url::parse(&format!("https://{HOST}{path}")).map_err(|e| fail(e.to_string()))?;
        prop_assert_eq!(sent.url.path(), unsigned.path());
        prop_assert_eq!(sent.body.as_slice(), body.as_slice());

        // Tampering: the signature of another body, path or method differs.
        let signed = |m: &Method, url: &Url, b: &[u8]| {
            sigv4::expected(&sigv4::Request { method: m, url, body: b, time: at(now_ms) }, &id).1
        };
        let mut other_body = body.clone();
        if other_body.is_empty() {
            other_body.push(b'x');
        } else {
            let i = flip.index(other_body.len());
            other_body[i] ^= 0x01;
        }
        prop_assert_ne!(signed(&method, &sent.url, &other_body), authorization.clone());
        let mut elsewhere = sent.url.clone();
        elsewhere.set_path(&format!("{}/x", sent.url.path().trim_end_matches('/')));
        prop_assert_ne!(signed(&method, &elsewhere, &body), authorization.clone());
        let other = if method == Method::GET { Method::POST } else { Method::GET };
        prop_assert_ne!(signed(&other, &sent.url, &body), authorization.clone());
        scan.finish();
    }
}
