//! RFC 9421 against the RFC's own examples, byte for byte.
//!
//! Source: RFC 9421 "HTTP Message Signatures" (rfc-editor.org/rfc/rfc9421), Appendix B.1.4
//! (`test-key-ed25519`), B.1.5 (`test-shared-secret`), B.2 (the `test-request` message),
//! B.2.5 (hmac-sha256, label `sig-b25`) and B.2.6 (ed25519, label `sig-b26`). The
//! `Content-Digest` of the test request is the one printed in B.2 (RFC 9530 sha-512).

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, Method};
use keel::signing::recipe::{Digest, SecretEncoding};
use keel::signing::rfc9421::{self, Created, NonceParam, Rfc9421, VerifyKey};
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

fn sign(signer: &Rfc9421, secret: &[u8]) -> (HeaderMap, String, Url) {
    let mut url = Url::parse("https://example.com/foo?param=Value&Pet=dog").unwrap();
    let mut headers = test_request_headers();
    let creds = Credentials::new(
        "unused",
        Some(secret.to_vec()),
        HeaderName::from_static("api-key"),
    );
    let scheme = Scheme::rfc9421(signer.clone());
    let t = UNIX_EPOCH + Duration::from_secs(1618884473);
    let mut req = SigningRequest::new(&Method::POST, &mut url, &mut headers, BODY, t, 7)
        .capture_string_to_sign(true);
    scheme.signer().sign(&mut req, &creds).unwrap();
    let base = String::from_utf8(req.string_to_sign().unwrap().to_vec()).unwrap();
    (headers, base, url)
}

#[test]
fn content_digest_of_the_test_request() {
    assert_eq!(
        rfc9421::content_digest(Digest::Sha512, BODY),
        CONTENT_DIGEST
    );
}

#[test]
fn b25_hmac_sha256() {
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
    let v = rfc9421::verify(
        "sig-b25",
        &Method::POST,
        &url,
        &headers,
        VerifyKey::HmacSha256(&key),
    )
    .unwrap();
    assert_eq!(v.created, Some(1618884473));
    assert_eq!(v.key_id.as_deref(), Some("test-shared-secret"));
    let mut tampered = headers.clone();
    tampered.insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(
        rfc9421::verify(
            "sig-b25",
            &Method::POST,
            &url,
            &tampered,
            VerifyKey::HmacSha256(&key)
        )
        .unwrap_err(),
        "bad signature"
    );
}

#[test]
fn b26_ed25519() {
    let signer = Rfc9421::ed25519()
        .components(Rfc9421::parse_components(
            r#""date" "@method" "@path" "@authority" "content-type" "content-length""#,
        ))
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
    rfc9421::verify(
        "sig-b26",
        &Method::POST,
        &url,
        &headers,
        VerifyKey::Ed25519PublicPem(ED25519_PUBLIC),
    )
    .unwrap();
    assert!(rfc9421::verify(
        "sig-b26",
        &Method::PUT,
        &url,
        &headers,
        VerifyKey::Ed25519PublicPem(ED25519_PUBLIC)
    )
    .is_err());
}

#[test]
fn all_parameters_and_derived_components() {
    let signer = Rfc9421::hmac_sha256()
        .components(["@method", "@target-uri", "@query", "@path"])
        .key_id("k")
        .created(Created::At(100))
        .expires(Some(rfc9421::Expires::At(200)))
        .nonce(NonceParam::Fixed("n-1".into()))
        .include_alg(true)
        .tag("app")
        .content_digest(Digest::Sha256);
    let (headers, base, _) = sign(&signer, b"secret");
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
}

#[test]
fn a_missing_covered_header_is_a_clear_error() {
    let signer = Rfc9421::hmac_sha256().components(["x-missing"]);
    let mut url = Url::parse("https://example.com/").unwrap();
    let mut headers = HeaderMap::new();
    let creds = Credentials::new("k", Some(b"s".to_vec()), HeaderName::from_static("api-key"));
    let mut req = SigningRequest::new(&Method::GET, &mut url, &mut headers, b"", UNIX_EPOCH, 1);
    let err = Scheme::rfc9421(signer)
        .signer()
        .sign(&mut req, &creds)
        .unwrap_err();
    assert!(
        err.to_string().contains("\"x-missing\" is not a header"),
        "{err}"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
