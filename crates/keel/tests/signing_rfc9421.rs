//! RFC 9421 against the RFC's own examples, byte for byte.
//!
//! Source: RFC 9421 "HTTP Message Signatures" (rfc-editor.org/rfc/rfc9421), Appendix B.1.4
//! (`test-key-ed25519`), B.1.5 (`test-shared-secret`), B.2 (the `test-request` message),
//! B.2.5 (hmac-sha256, label `sig-b25`) and B.2.6 (ed25519, label `sig-b26`). The
//! `Content-Digest` of the test request is the one printed in B.2 (RFC 9530 sha-512).
//!
//! Every test runs under the shared secret scan (tests/common/secrets.rs):
//! no credentials, signer, verification result, rejection, error or log line
//! shows an HMAC secret (as given or decoded) or a private key's PEM text or
//! bytes.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::secrets::{byte_secrets, key_secrets, SecretScan};

use http::{HeaderMap, HeaderName, Method};
use keel::signing::recipe::{Digest, SecretEncoding};
use keel::signing::rfc9421::{
    self, Created, NonceParam, Rfc9421, SignatureRejection, VerifyKey, VerifyOptions,
};
use keel::signing::{Credentials, Scheme, SigningRequest};
use keel::Url;

const SHARED_SECRET_B64: &str =
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
";
const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
";
/// The HMAC secrets of the tests that are not the RFC's (each long enough
/// for the scan to look for it; no published value depends on them).
const HMAC_SECRETS: [&str; 6] = [
    "policy-hmac-secret",
    "other-shared-secret",
    "all-parameters-secret",
    "missing-header-secret",
    "structured-field-secret",
    "plain secret",
];
/// The private keys from tests/keys these tests sign with.
const KEY_FILES: [&str; 5] = [
    "p256.sec1.pem",
    "rsa.pkcs1.pem",
    "rsapss.pk8.pem",
    "ed25519.pk8.pem",
    "rsa.pk8.pem",
];
const BODY: &[u8] = br#"{"hello": "world"}"#;
const CONTENT_DIGEST: &str =
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

fn test_request_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", "example.com".parse().unwrap());
    h.insert("date", "Tue, 20 Apr 2021 02:07:55 GMT".parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    h.insert("content-digest", CONTENT_DIGEST.parse().unwrap());
    h.insert("content-length", "18".parse().unwrap());
    h
}

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The scan for this file: every secret and private key its tests use.
fn scan() -> SecretScan {
    let mut all: Vec<String> = HMAC_SECRETS.iter().map(|s| s.to_string()).collect();
    all.push(SHARED_SECRET_B64.into());
    all.extend(byte_secrets(&base64_decode(SHARED_SECRET_B64)));
    all.extend(key_secrets(ED25519_PRIVATE.as_bytes()));
    for name in KEY_FILES {
        all.extend(key_secrets(&key_file(name)));
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    SecretScan::new(&all)
}

/// Passes a result through the scan (its `Debug`, or the error's whole
/// chain) and returns it unchanged.
fn seen<T: std::fmt::Debug, E: std::error::Error + 'static>(r: Result<T, E>) -> Result<T, E> {
    let mut scan = scan();
    let what = std::any::type_name::<Result<T, E>>();
    match &r {
        Ok(v) => scan.debug(what, v),
        Err(e) => scan.error(what, e),
    }
    scan.finish();
    r
}

fn sign(signer: &Rfc9421, secret: &[u8]) -> (HeaderMap, String, Url) {
    let mut scan = scan();
    let mut url = Url::parse("https://example.com/foo?param=Value&Pet=dog").unwrap();
    let mut headers = test_request_headers();
    let creds = Credentials::new(
        "unused",
        Some(secret.to_vec()),
        HeaderName::from_static("api-key"),
    );
    let scheme = Scheme::rfc9421(signer.clone());
    scan.check(
        "credentials and scheme",
        format_args!("{creds:?} {scheme:?}"),
    );
    seen(scheme.prepare(&creds)).unwrap();
    let t = UNIX_EPOCH + Duration::from_secs(1618884473);
    let mut req = SigningRequest::new(&Method::POST, &mut url, &mut headers, BODY, t, 7)
        .capture_string_to_sign(true);
    seen(scheme.signer().sign(&mut req, &creds)).unwrap();
    scan.debug("signing request", &req);
    let base = String::from_utf8(req.string_to_sign().unwrap().to_vec()).unwrap();
    scan.finish();
    (headers, base, url)
}

#[test]
fn content_digest_of_the_test_request() {
    let scan = scan();
    assert_eq!(
        rfc9421::content_digest(Digest::Sha512, BODY),
        CONTENT_DIGEST
    );
    scan.finish();
}

#[test]
fn b25_hmac_sha256() {
    let scan = scan();
    let signer = Rfc9421::hmac_sha256()
        .components(["date", "@authority", "content-type"])
        .key_id("test-shared-secret")
        .label("sig-b25")
        .secret_encoding(SecretEncoding::Base64);
    let (headers, base, url) = sign(&signer, SHARED_SECRET_B64.as_bytes());
    assert_eq!(
        base,
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\
         \"@authority\": example.com\n\
         \"content-type\": application/json\n\
         \"@signature-params\": (\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\""
    );
    assert_eq!(
        headers["signature-input"],
        "sig-b25=(\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\""
    );
    assert_eq!(
        headers["signature"],
        "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
    );

    // And the verifier accepts it, and rejects a tampered message.
    let key = base64_decode(SHARED_SECRET_B64);
    let v = seen(rfc9421::verify(
        "sig-b25",
        &Method::POST,
        &url,
        &headers,
        VerifyKey::HmacSha256(&key),
    ))
    .unwrap();
    assert_eq!(v.created, Some(1618884473));
    assert_eq!(v.key_id.as_deref(), Some("test-shared-secret"));
    let mut tampered = headers.clone();
    tampered.insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(
        seen(rfc9421::verify(
            "sig-b25",
            &Method::POST,
            &url,
            &tampered,
            VerifyKey::HmacSha256(&key)
        ))
        .unwrap_err(),
        SignatureRejection::BadSignature
    );
    scan.finish();
}

#[test]
fn b26_ed25519() {
    let scan = scan();
    let signer = Rfc9421::ed25519()
        .component_list(
            Rfc9421::parse_components(
                r#""date" "@method" "@path" "@authority" "content-type" "content-length""#,
            )
            .unwrap(),
        )
        .key_id("test-key-ed25519")
        .label("sig-b26");
    let (headers, base, url) = sign(&signer, ED25519_PRIVATE.as_bytes());
    assert_eq!(
        base,
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\
         \"@method\": POST\n\
         \"@path\": /foo\n\
         \"@authority\": example.com\n\
         \"content-type\": application/json\n\
         \"content-length\": 18\n\
         \"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
    );
    assert_eq!(
        headers["signature-input"],
        "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
    );
    assert_eq!(
        headers["signature"],
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
    );
    seen(rfc9421::verify(
        "sig-b26",
        &Method::POST,
        &url,
        &headers,
        VerifyKey::Ed25519PublicPem(ED25519_PUBLIC),
    ))
    .unwrap();
    assert!(seen(rfc9421::verify(
        "sig-b26",
        &Method::PUT,
        &url,
        &headers,
        VerifyKey::Ed25519PublicPem(ED25519_PUBLIC)
    ))
    .is_err());
    scan.finish();
}

#[test]
fn all_parameters_and_derived_components() {
    let scan = scan();
    let signer = Rfc9421::hmac_sha256()
        .components(["@method", "@target-uri", "@query", "@path"])
        .key_id("k")
        .created(Created::At(100))
        .expires(Some(rfc9421::Expires::At(200)))
        .nonce(NonceParam::Fixed("n-1".into()))
        .include_alg(true)
        .tag("app")
        .content_digest(Digest::Sha256);
    let (headers, base, _) = sign(&signer, b"all-parameters-secret");
    assert_eq!(
        base,
        "\"@method\": POST\n\
         \"@target-uri\": https://example.com/foo?param=Value&Pet=dog\n\
         \"@query\": ?param=Value&Pet=dog\n\
         \"@path\": /foo\n\
         \"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n\
         \"@signature-params\": (\"@method\" \"@target-uri\" \"@query\" \"@path\" \"content-digest\");created=100;expires=200;keyid=\"k\";nonce=\"n-1\";alg=\"hmac-sha256\";tag=\"app\""
    );
    assert_eq!(
        headers["content-digest"],
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );
    scan.finish();
}

#[test]
fn a_missing_covered_header_is_a_clear_error() {
    let scan = scan();
    let signer = Rfc9421::hmac_sha256().components(["x-missing"]);
    let mut url = Url::parse("https://example.com/").unwrap();
    let mut headers = HeaderMap::new();
    let creds = Credentials::new(
        "k",
        Some(b"missing-header-secret".to_vec()),
        HeaderName::from_static("api-key"),
    );
    let mut req = SigningRequest::new(&Method::GET, &mut url, &mut headers, b"", UNIX_EPOCH, 1);
    let err = Scheme::rfc9421(signer)
        .signer()
        .sign(&mut req, &creds)
        .unwrap_err();
    let mut scan = scan;
    scan.error("a missing covered header", &err);
    scan.check("credentials and request", format_args!("{creds:?} {req:?}"));
    assert!(
        err.to_string()
            .contains("\"x-missing\" is not part of this request"),
        "{err}"
    );
    scan.finish();
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn b26_signer() -> Rfc9421 {
    Rfc9421::new()
        .component_list(
            Rfc9421::parse_components(
                r#""date" "@method" "@path" "@authority" "content-type" "content-length""#,
            )
            .unwrap(),
        )
        .key_id("test-key-ed25519")
        .label("sig-b26")
}

#[test]
fn the_key_decides_the_algorithm_and_alg_is_sent_only_when_asked() {
    let scan = scan();
    // No algorithm named: the Ed25519 key signs ed25519, and B.2.6 comes out
    // byte for byte (no `alg` parameter).
    let (headers, _, _) = sign(&b26_signer(), ED25519_PRIVATE.as_bytes());
    assert_eq!(
        headers["signature"],
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
    );
    // Asked for: `alg` is added (and signed).
    let (headers, base, url) = sign(&b26_signer().include_alg(true), ED25519_PRIVATE.as_bytes());
    assert!(
        base.ends_with(";created=1618884473;keyid=\"test-key-ed25519\";alg=\"ed25519\""),
        "{base}"
    );
    let v = seen(rfc9421::verify(
        "sig-b26",
        &Method::POST,
        &url,
        &headers,
        VerifyKey::Ed25519PublicPem(ED25519_PUBLIC),
    ))
    .unwrap();
    assert_eq!(v.alg, rfc9421::Algorithm::Ed25519);
    // A secret that is not a key signs hmac-sha256.
    let (_, base, _) = sign(&Rfc9421::new().include_alg(true), b"plain secret");
    assert!(base.ends_with(";alg=\"hmac-sha256\""), "{base}");
    scan.finish();
}

#[test]
fn a_pem_where_an_hmac_secret_is_expected_is_an_error() {
    let scan = scan();
    let creds = Credentials::new(
        "k",
        Some(ED25519_PRIVATE.as_bytes().to_vec()),
        HeaderName::from_static("api-key"),
    );
    let err = Scheme::rfc9421(Rfc9421::hmac_sha256())
        .signer()
        .check_credentials(&creds)
        .unwrap_err();
    let mut scan = scan;
    scan.error("a PEM for hmac-sha256", &err);
    scan.debug("credentials", &creds);
    assert!(matches!(err, keel::Error::InvalidConfig(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("a PEM private key was given where an hmac-sha256 secret is expected"),
        "{err}"
    );
    // And an algorithm that does not fit the key.
    let err = Scheme::rfc9421(Rfc9421::with_algorithm(rfc9421::Algorithm::EcdsaP256Sha256))
        .signer()
        .check_credentials(&creds)
        .unwrap_err();
    scan.error("an algorithm that does not fit the key", &err);
    assert!(
        err.to_string().contains("does not fit the ed25519 key"),
        "{err}"
    );
    // A secret that decodes to nothing.
    let empty = Credentials::new(
        "k",
        Some(b"  \n".to_vec()),
        HeaderName::from_static("api-key"),
    );
    let err = Scheme::rfc9421(Rfc9421::new())
        .signer()
        .check_credentials(&empty)
        .unwrap_err();
    scan.error("an empty secret", &err);
    assert!(err.to_string().contains("decodes to nothing"), "{err}");
    scan.finish();
}

/// RFC 9421 §2.1.1-2.1.2 (`Example-Dict`) and §2.2.8 (`@query-param`): the
/// component values the RFC prints.
#[test]
fn structured_field_components_as_the_rfc_prints_them() {
    let scan = scan();
    let mut url = Url::parse(
        "https://example.com/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something",
    )
    .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "example-dict",
        " a=1,    b=2;x=1;y=2,   c=(a   b   c)".parse().unwrap(),
    );
    headers.insert("content-type", "application/json".parse().unwrap());
    let components = Rfc9421::parse_components(
        r#""example-dict";sf "example-dict";key="a" "example-dict";key="b" "example-dict";key="c" "content-type";sf "@query-param";name="var" "@query-param";name="bar" "@query-param";name="fa%C3%A7ade%22%3A%20""#,
    )
    .unwrap();
    let signer = Rfc9421::hmac_sha256()
        .component_list(components)
        .created(Created::Omit);
    let creds = Credentials::new(
        "k",
        Some(b"structured-field-secret".to_vec()),
        HeaderName::from_static("api-key"),
    );
    let mut req = SigningRequest::new(&Method::GET, &mut url, &mut headers, b"", UNIX_EPOCH, 1)
        .capture_string_to_sign(true);
    Scheme::rfc9421(signer)
        .signer()
        .sign(&mut req, &creds)
        .unwrap();
    let base = String::from_utf8(req.string_to_sign().unwrap().to_vec()).unwrap();
    let lines: Vec<&str> = base.lines().collect();
    assert_eq!(
        &lines[..8],
        &[
            "\"example-dict\";sf: a=1, b=2;x=1;y=2, c=(a b c)",
            "\"example-dict\";key=\"a\": 1",
            "\"example-dict\";key=\"b\": 2;x=1;y=2",
            "\"example-dict\";key=\"c\": (a b c)",
            "\"content-type\";sf: application/json",
            "\"@query-param\";name=\"var\": this%20is%20a%20big%0Avalue",
            "\"@query-param\";name=\"bar\": with%20plus%20whitespace",
            "\"@query-param\";name=\"fa%C3%A7ade%22%3A%20\": something",
        ]
    );
    // The parameters are serialized as the RFC does.
    assert!(lines[8]
        .starts_with("\"@signature-params\": (\"example-dict\";sf \"example-dict\";key=\"a\""));
    // And a received `"content-type";sf` parses (it used to break the parser).
    assert!(seen(rfc9421::verify(
        "sig1",
        &Method::GET,
        &Url::parse("https://example.com/parameters").unwrap(),
        &headers,
        VerifyKey::HmacSha256(b"structured-field-secret")
    ))
    .is_err());
    let v = seen(rfc9421::verify(
        "sig1",
        &Method::GET,
        &url,
        &headers,
        VerifyKey::HmacSha256(b"structured-field-secret"),
    ))
    .unwrap();
    assert!(v.base.contains("\"content-type\";sf: application/json"));
    scan.finish();
}

#[test]
fn component_identifiers_that_are_not_valid_are_refused() {
    let scan = scan();
    for bad in [r#""Content-Type""#, r#""x";=1"#, r#""unterminated"#, "\"\""] {
        assert!(rfc9421::Component::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        rfc9421::Component::parse("content-type;sf")
            .unwrap()
            .identifier()
            .unwrap(),
        "\"content-type\";sf"
    );
    scan.finish();
}

/// Signs with `signer` at `created`, for the verification policy tests.
fn signed_at(signer: Rfc9421) -> (HeaderMap, Url) {
    let (headers, _, url) = sign(&signer, b"policy-hmac-secret");
    (headers, url)
}

fn check(
    headers: &HeaderMap,
    url: &Url,
    opts: &VerifyOptions,
) -> Result<rfc9421::VerifiedSignature, SignatureRejection> {
    seen(rfc9421::verify_with(
        "sig1",
        &Method::POST,
        url,
        headers,
        VerifyKey::HmacSha256(b"policy-hmac-secret"),
        opts,
    ))
}

#[test]
fn verification_enforces_age_expiry_components_and_replays() {
    let scan = scan();
    let t0 = UNIX_EPOCH + Duration::from_secs(1618884473);
    let base = || Rfc9421::hmac_sha256().components(["@method", "@authority", "@path"]);

    // Maximum age from `created`.
    let (h, url) = signed_at(base());
    let opts = VerifyOptions::new().max_age(Duration::from_secs(60));
    assert!(check(&h, &url, &opts.clone().at(t0 + Duration::from_secs(60))).is_ok());
    assert_eq!(
        check(&h, &url, &opts.clone().at(t0 + Duration::from_secs(61))).unwrap_err(),
        SignatureRejection::TooOld { age_secs: 61 }
    );
    assert_eq!(
        check(&h, &url, &opts.clone().at(t0 - Duration::from_secs(5))).unwrap_err(),
        SignatureRejection::CreatedInFuture
    );
    assert!(check(
        &h,
        &url,
        &opts
            .clone()
            .allowed_skew(Duration::from_secs(5))
            .at(t0 - Duration::from_secs(5))
    )
    .is_ok());

    // A maximum age needs `created`.
    let (h, url) = signed_at(base().created(Created::Omit));
    assert_eq!(
        check(&h, &url, &opts.clone().at(t0)).unwrap_err(),
        SignatureRejection::MissingCreated
    );

    // `expires`.
    let (h, url) =
        signed_at(base().expires(Some(rfc9421::Expires::After(Duration::from_secs(10)))));
    assert!(check(
        &h,
        &url,
        &VerifyOptions::new().at(t0 + Duration::from_secs(10))
    )
    .is_ok());
    assert_eq!(
        check(
            &h,
            &url,
            &VerifyOptions::new().at(t0 + Duration::from_secs(11))
        )
        .unwrap_err(),
        SignatureRejection::Expired
    );
    assert!(check(
        &h,
        &url,
        &VerifyOptions::new()
            .ignore_expires(true)
            .at(t0 + Duration::from_secs(11))
    )
    .is_ok());

    // Required components.
    let (h, url) = signed_at(base());
    let need = VerifyOptions::new()
        .require_components(["@method", "content-digest"])
        .unwrap()
        .at(t0);
    assert_eq!(
        check(&h, &url, &need).unwrap_err(),
        SignatureRejection::MissingComponent("\"content-digest\"".into())
    );

    // Nonce replay.
    let store = std::sync::Arc::new(keel::signing::verify::MemoryReplayStore::new(100));
    let replay = VerifyOptions::new().reject_replays(store).at(t0);
    assert_eq!(
        check(&h, &url, &replay).unwrap_err(),
        SignatureRejection::MissingNonce
    );
    let (h1, url) = signed_at(base().nonce(NonceParam::Fixed("n-1".into())));
    let (h2, _) = signed_at(base().nonce(NonceParam::Fixed("n-2".into())));
    assert!(check(&h1, &url, &replay).is_ok());
    assert!(check(&h2, &url, &replay).is_ok());
    assert_eq!(
        check(&h1, &url, &replay).unwrap_err(),
        SignatureRejection::ReplayedNonce
    );
    scan.finish();
}

#[test]
fn malformed_and_mismatched_signatures_are_rejected_with_a_reason() {
    let scan = scan();
    let (h, url) = signed_at(Rfc9421::hmac_sha256().include_alg(true));
    // Another label.
    assert_eq!(
        seen(rfc9421::verify(
            "sig2",
            &Method::POST,
            &url,
            &h,
            VerifyKey::HmacSha256(b"policy-hmac-secret")
        ))
        .unwrap_err(),
        SignatureRejection::NoSuchLabel("sig2".into())
    );
    // `alg` names another algorithm than the key's.
    let public = keel::signing::PublicKey::from_pem(ED25519_PUBLIC).unwrap();
    assert_eq!(
        seen(rfc9421::verify(
            "sig1",
            &Method::POST,
            &url,
            &h,
            VerifyKey::Public(&public)
        ))
        .unwrap_err(),
        SignatureRejection::AlgorithmMismatch {
            alg: "hmac-sha256".into(),
            key: "ed25519"
        }
    );
    // A header that is not a structured field.
    let mut bad = h.clone();
    bad.insert("signature-input", "sig1=(\"@method\"".parse().unwrap());
    assert!(matches!(
        seen(rfc9421::verify(
            "sig1",
            &Method::POST,
            &url,
            &bad,
            VerifyKey::HmacSha256(b"policy-hmac-secret")
        )),
        Err(SignatureRejection::Malformed(_))
    ));
    let mut bad = h.clone();
    bad.remove("signature");
    assert_eq!(
        seen(rfc9421::verify(
            "sig1",
            &Method::POST,
            &url,
            &bad,
            VerifyKey::HmacSha256(b"policy-hmac-secret")
        ))
        .unwrap_err(),
        SignatureRejection::MissingHeader("signature")
    );
    // A wrong key.
    assert_eq!(
        seen(rfc9421::verify(
            "sig1",
            &Method::POST,
            &url,
            &h,
            VerifyKey::HmacSha256(b"other-shared-secret")
        ))
        .unwrap_err(),
        SignatureRejection::BadSignature
    );
    scan.finish();
}

#[test]
fn every_key_type_signs_and_verifies() {
    let scan = scan();
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/");
    assert!(KEY_FILES
        .iter()
        .all(|f| std::path::Path::new(keys).join(f).exists()));
    for (private, public, alg) in [
        (
            "p256.sec1.pem",
            "p256.pub.pem",
            rfc9421::Algorithm::EcdsaP256Sha256,
        ),
        (
            "rsa.pkcs1.pem",
            "rsa.pub.pem",
            rfc9421::Algorithm::RsaV15Sha256,
        ),
        (
            "rsapss.pk8.pem",
            "rsapss.pub.pem",
            rfc9421::Algorithm::RsaPssSha512,
        ),
        (
            "ed25519.pk8.pem",
            "ed25519.pub.pem",
            rfc9421::Algorithm::Ed25519,
        ),
    ] {
        let pem = std::fs::read(format!("{keys}{private}")).unwrap();
        let (headers, _, url) = sign(&Rfc9421::new().include_alg(true), &pem);
        let public = keel::signing::PublicKey::from_bytes(
            &std::fs::read(format!("{keys}{public}")).unwrap(),
        )
        .unwrap();
        let v = seen(rfc9421::verify(
            "sig1",
            &Method::POST,
            &url,
            &headers,
            VerifyKey::Public(&public),
        ))
        .unwrap_or_else(|e| panic!("{private}: {e}"));
        assert_eq!(v.alg, alg, "{private}");
        let mut tampered = headers.clone();
        tampered.insert(
            "signature-input",
            headers["signature-input"]
                .to_str()
                .unwrap()
                .replace("created=1618884473", "created=1618884474")
                .parse()
                .unwrap(),
        );
        assert_eq!(
            seen(rfc9421::verify(
                "sig1",
                &Method::POST,
                &url,
                &tampered,
                VerifyKey::Public(&public)
            ))
            .unwrap_err(),
            SignatureRejection::BadSignature,
            "{private}"
        );
    }
    // RSA signs PSS when asked.
    let pem = std::fs::read(format!("{keys}rsa.pk8.pem")).unwrap();
    let (headers, _, url) = sign(
        &Rfc9421::with_algorithm(rfc9421::Algorithm::RsaPssSha512),
        &pem,
    );
    let public =
        keel::signing::PublicKey::from_bytes(&std::fs::read(format!("{keys}rsa.pub.pem")).unwrap())
            .unwrap();
    assert!(
        seen(rfc9421::verify_with(
            "sig1",
            &Method::POST,
            &url,
            &headers,
            VerifyKey::Public(&public),
            &VerifyOptions::new()
        ))
        .is_err(),
        "without alg, an RSA key verifies rsa-v1_5-sha256"
    );
    // Told the algorithm agreed for the key, the verifier checks PSS.
    let v = seen(rfc9421::verify(
        "sig1",
        &Method::POST,
        &url,
        &headers,
        VerifyKey::PublicWith(&public, rfc9421::Algorithm::RsaPssSha512),
    ))
    .unwrap();
    assert_eq!(v.alg, rfc9421::Algorithm::RsaPssSha512);
    // A signature whose `alg` names another algorithm is refused …
    let (with_alg, _, url) = sign(&Rfc9421::new().include_alg(true), &pem);
    assert!(matches!(
        seen(rfc9421::verify(
            "sig1",
            &Method::POST,
            &url,
            &with_alg,
            VerifyKey::PublicWith(&public, rfc9421::Algorithm::RsaPssSha512),
        )),
        Err(SignatureRejection::AlgorithmMismatch { .. })
    ));
    // … and an algorithm the key cannot verify is a clear error.
    match seen(rfc9421::verify(
        "sig1",
        &Method::POST,
        &url,
        &headers,
        VerifyKey::PublicWith(&public, rfc9421::Algorithm::Ed25519),
    )) {
        Err(SignatureRejection::Unsupported(m)) => assert!(m.contains("ed25519"), "{m}"),
        other => panic!("{other:?}"),
    }
    scan.finish();
}
