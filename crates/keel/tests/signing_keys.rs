//! Private and public keys in every accepted format, and a clear error for
//! the rest. The keys in tests/keys were made with OpenSSL 3.0 for these
//! tests (`openssl genpkey`, `openssl pkcs8 -topk8 -v2 aes-256-cbc` /
//! `-scrypt`, `openssl rsa -traditional`, `openssl ec`).
//!
//! Every test runs under the shared secret scan (tests/common/secrets.rs):
//! no error, `Debug` or log line shows a private key's PEM text or bytes,
//! nor a passphrase.

mod common;

use common::secrets::{byte_secrets, key_secrets, SecretScan};
use keel::signing::keys::{KeyKind, PrivateKey, PublicKey, SignatureAlgorithm};

/// The passphrase of the encrypted keys (tests/keys/*.enc.pem, *.scrypt.pem).
const PASSPHRASE: &str = "correct-horse";
/// A wrong one, long enough for the scan to look for it.
const WRONG_PASSPHRASE: &str = "wrong-horse-battery";
/// The raw Ed25519 seed of the raw-key test.
const SEED: [u8; 32] = [7u8; 32];

/// Every private key in tests/keys. The encrypted ones hold the keys of
/// p256.pk8.pem and ed25519.pk8.pem (checked with `openssl pkcs8`), so their
/// plaintext is looked for too.
const PRIVATE_KEYS: [&str; 11] = [
    "ed25519.pk8.pem",
    "ed25519.scrypt.pem",
    "p256.enc.pem",
    "p256.pk8.pem",
    "p256.sec1.pem",
    "p384.pem",
    "rsa.pk8.der",
    "rsa.pk8.pem",
    "rsa.pkcs1.pem",
    "rsa1024.pem",
    "rsapss.pk8.pem",
];

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The scan for this file: every private key's material, the passphrases
/// and the raw seed.
fn scan() -> SecretScan {
    let mut all: Vec<String> = PRIVATE_KEYS
        .iter()
        .flat_map(|name| key_secrets(&file(name)))
        .collect();
    all.extend(byte_secrets(&SEED));
    all.push(PASSPHRASE.into());
    all.push(WRONG_PASSPHRASE.into());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    SecretScan::new(&all)
}

#[test]
fn every_format_loads_and_the_type_decides_the_algorithm() {
    let mut scan = scan();
    for (name, kind, alg) in [
        (
            "ed25519.pk8.pem",
            KeyKind::Ed25519,
            SignatureAlgorithm::Ed25519,
        ),
        (
            "p256.pk8.pem",
            KeyKind::EcdsaP256,
            SignatureAlgorithm::EcdsaP256Sha256,
        ),
        (
            "p256.sec1.pem",
            KeyKind::EcdsaP256,
            SignatureAlgorithm::EcdsaP256Sha256,
        ),
        (
            "rsa.pk8.pem",
            KeyKind::Rsa,
            SignatureAlgorithm::RsaPkcs1v15Sha256,
        ),
        (
            "rsa.pkcs1.pem",
            KeyKind::Rsa,
            SignatureAlgorithm::RsaPkcs1v15Sha256,
        ),
        (
            "rsa.pk8.der",
            KeyKind::Rsa,
            SignatureAlgorithm::RsaPkcs1v15Sha256,
        ),
        (
            "rsapss.pk8.pem",
            KeyKind::RsaPss,
            SignatureAlgorithm::RsaPssSha256,
        ),
    ] {
        let key = PrivateKey::from_bytes(&file(name)).unwrap_or_else(|e| {
            scan.error(name, &e);
            panic!("{name}: {e}")
        });
        assert_eq!(key.kind(), kind, "{name}");
        assert_eq!(key.default_algorithm(), alg, "{name}");
        let sig = key.sign(b"message").unwrap();
        assert!(key.public_key().verify(alg, b"message", &sig), "{name}");
        assert!(!key.public_key().verify(alg, b"massage", &sig), "{name}");
        // Never printed.
        assert_eq!(
            format!("{key:?}"),
            format!("PrivateKey({kind}, [redacted])")
        );
        scan.debug(name, &key);
        scan.check(name, format_args!("{} {:?}", key.kind(), key.public_key()));
    }
    // The public halves load from SPKI PEM and match.
    for (private, public) in [
        ("ed25519.pk8.pem", "ed25519.pub.pem"),
        ("p256.sec1.pem", "p256.pub.pem"),
        ("rsa.pkcs1.pem", "rsa.pub.pem"),
    ] {
        let key = PrivateKey::from_bytes(&file(private)).unwrap();
        let public = PublicKey::from_bytes(&file(public)).unwrap();
        let sig = key.sign(b"m").unwrap();
        assert!(
            public.verify(key.default_algorithm(), b"m", &sig),
            "{public:?}"
        );
        scan.debug(private, &key);
        scan.debug(private, &public);
    }
    scan.finish();
}

#[test]
fn encrypted_pkcs8_needs_the_right_passphrase() {
    let mut scan = scan();
    for name in ["p256.enc.pem", "ed25519.scrypt.pem"] {
        let pem = file(name);
        let key = PrivateKey::from_bytes_with_passphrase(&pem, PASSPHRASE).unwrap();
        assert!(matches!(key.kind(), KeyKind::EcdsaP256 | KeyKind::Ed25519));
        scan.debug(name, &key);
        let e = PrivateKey::from_bytes(&pem).unwrap_err();
        scan.error(name, &e);
        let err = e.to_string();
        assert!(err.contains("no passphrase was given"), "{err}");
        let e = PrivateKey::from_bytes_with_passphrase(&pem, WRONG_PASSPHRASE).unwrap_err();
        scan.error(name, &e);
        let err = e.to_string();
        assert!(err.contains("wrong passphrase"), "{err}");
        assert!(
            !err.contains("correct-horse") && !err.contains("wrong\""),
            "{err}"
        );
        assert!(!err.contains(WRONG_PASSPHRASE), "{err}");
    }
    scan.finish();
}

#[test]
fn unusable_keys_are_clear_errors_naming_the_accepted_formats() {
    let mut scan = scan();
    let pkcs8_pub = String::from_utf8(file("ed25519.pub.pem")).unwrap();
    for (input, want) in [
        (b"".to_vec(), "it is empty"),
        (b"hello".to_vec(), "neither PEM nor DER"),
        (pkcs8_pub.into_bytes(), "this is a public key"),
        (file("rsa1024.pem"), "1024 bits; at least 2048"),
        (file("p384.pem"), "not on P-256"),
        (
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
                .to_vec(),
            "ssh-keygen",
        ),
        (
            b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n".to_vec(),
            "the PEM is malformed",
        ),
    ] {
        let err = PrivateKey::from_bytes(&input).unwrap_err();
        scan.error(want, &err);
        assert!(matches!(err, keel::Error::InvalidConfig(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(want), "{want}: {text}");
        assert!(text.contains("Accepted: PKCS#8"), "{text}");
    }
    // A key that does not fit an algorithm is refused, not misused.
    let ed = PrivateKey::from_bytes(&file("ed25519.pk8.pem")).unwrap();
    let misfit = ed.sign_with(SignatureAlgorithm::RsaPssSha512, b"m");
    assert!(misfit.is_err());
    scan.error("a key that does not fit", &misfit.unwrap_err());
    // Raw Ed25519 keys: 32-byte seeds and 64-byte seed+public pairs whose halves match.
    let seed = SEED;
    let k = PrivateKey::ed25519_from_bytes(&seed).unwrap();
    assert_eq!(k.kind(), KeyKind::Ed25519);
    scan.debug("raw ed25519 key", &k);
    let mut pair = seed.to_vec();
    pair.extend_from_slice(&[0u8; 32]);
    let e = PrivateKey::ed25519_from_bytes(&pair).unwrap_err();
    scan.error("a mismatched pair", &e);
    let err = e.to_string();
    assert!(err.contains("does not match its seed"), "{err}");
    let short = PrivateKey::ed25519_from_bytes(&[1u8; 31]);
    assert!(short.is_err());
    scan.error("a short seed", &short.unwrap_err());
    scan.finish();
}

#[test]
fn a_key_file_is_read_and_a_missing_one_is_named() {
    let mut scan = scan();
    let path = format!("{}/tests/keys/p256.enc.pem", env!("CARGO_MANIFEST_DIR"));
    let key = PrivateKey::from_file_with_passphrase(&path, PASSPHRASE);
    assert!(key.is_ok());
    scan.debug("a key from a file", &key.unwrap());
    let e = PrivateKey::from_file_with_passphrase(&path, WRONG_PASSPHRASE).unwrap_err();
    scan.error("a key file with the wrong passphrase", &e);
    let e = PrivateKey::from_file("/nonexistent/key.pem").unwrap_err();
    scan.error("a missing key file", &e);
    let err = e.to_string();
    assert!(
        err.contains("cannot read the key file /nonexistent/key.pem"),
        "{err}"
    );
    scan.finish();
}

#[test]
fn an_authenticated_client_takes_a_private_key() {
    let mut scan = scan();
    let key = PrivateKey::from_bytes(&file("ed25519.pk8.pem")).unwrap();
    let builder = keel::HttpAuthenticatedClient::builder("https://api.binance.com")
        .api_key("binance-key")
        .private_key(key)
        .scheme(keel::signing::Scheme::binance());
    scan.debug("builder", &builder);
    let client = builder.build().unwrap();
    let shown = format!("{client:?}");
    scan.check("client", &shown);
    scan.debug("scheme", client.scheme());
    assert!(shown.contains("PrivateKey(ed25519, [redacted])"), "{shown}");
    // The default scheme signs with an HMAC secret: a key is refused at build time.
    let err = keel::HttpAuthenticatedClient::builder("https://api.example.com")
        .api_key("k")
        .private_key(PrivateKey::from_bytes(&file("ed25519.pk8.pem")).unwrap())
        .build()
        .unwrap_err();
    scan.error("a key for an HMAC scheme", &err);
    assert!(
        err.to_string().contains("signs with an HMAC secret"),
        "{err}"
    );
    scan.finish();
}
