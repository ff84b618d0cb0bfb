//! Private and public keys in every accepted format, and a clear error for
//! the rest. The keys in tests/keys were made with OpenSSL 3.0 for these
//! tests (`openssl genpkey`, `openssl pkcs8 -topk8 -v2 aes-256-cbc` /
//! `-scrypt`, `openssl rsa -traditional`, `openssl ec`).

use keel::signing::keys::{KeyKind, PrivateKey, PublicKey, SignatureAlgorithm};

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_format_loads_and_the_type_decides_the_algorithm() {
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
        let key = PrivateKey::from_bytes(&file(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
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
    }
}

#[test]
fn encrypted_pkcs8_needs_the_right_passphrase() {
    for name in ["p256.enc.pem", "ed25519.scrypt.pem"] {
        let pem = file(name);
        let key = PrivateKey::from_bytes_with_passphrase(&pem, "correct-horse").unwrap();
        assert!(matches!(key.kind(), KeyKind::EcdsaP256 | KeyKind::Ed25519));
        let err = PrivateKey::from_bytes(&pem).unwrap_err().to_string();
        assert!(err.contains("no passphrase was given"), "{err}");
        let err = PrivateKey::from_bytes_with_passphrase(&pem, "wrong")
            .unwrap_err()
            .to_string();
        assert!(err.contains("wrong passphrase"), "{err}");
        assert!(
            !err.contains("correct-horse") && !err.contains("wrong\""),
            "{err}"
        );
    }
}

#[test]
fn unusable_keys_are_clear_errors_naming_the_accepted_formats() {
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
        assert!(matches!(err, keel::Error::InvalidConfig(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(want), "{want}: {text}");
        assert!(text.contains("Accepted: PKCS#8"), "{text}");
    }
    // A key that does not fit an algorithm is refused, not misused.
    let ed = PrivateKey::from_bytes(&file("ed25519.pk8.pem")).unwrap();
    assert!(ed
        .sign_with(SignatureAlgorithm::RsaPssSha512, b"m")
        .is_err());
    // Raw Ed25519 keys: 32-byte seeds and 64-byte seed+public pairs whose halves match.
    let seed = [7u8; 32];
    let k = PrivateKey::ed25519_from_bytes(&seed).unwrap();
    assert_eq!(k.kind(), KeyKind::Ed25519);
    let mut pair = seed.to_vec();
    pair.extend_from_slice(&[0u8; 32]);
    let err = PrivateKey::ed25519_from_bytes(&pair)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match its seed"), "{err}");
    assert!(PrivateKey::ed25519_from_bytes(&[1u8; 31]).is_err());
}

#[test]
fn a_key_file_is_read_and_a_missing_one_is_named() {
    let path = format!("{}/tests/keys/p256.enc.pem", env!("CARGO_MANIFEST_DIR"));
    assert!(PrivateKey::from_file_with_passphrase(&path, "correct-horse").is_ok());
    let err = PrivateKey::from_file("/nonexistent/key.pem")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read the key file /nonexistent/key.pem"),
        "{err}"
    );
}

#[test]
fn an_authenticated_client_takes_a_private_key() {
    let key = PrivateKey::from_bytes(&file("ed25519.pk8.pem")).unwrap();
    let client = keel::HttpAuthenticatedClient::builder("https://api.binance.com")
        .api_key("binance-key")
        .private_key(key)
        .scheme(keel::signing::Scheme::binance())
        .build()
        .unwrap();
    let shown = format!("{client:?}");
    assert!(shown.contains("PrivateKey(ed25519, [redacted])"), "{shown}");
    // The default scheme signs with an HMAC secret: a key is refused at build time.
    let err = keel::HttpAuthenticatedClient::builder("https://api.example.com")
        .api_key("k")
        .private_key(PrivateKey::from_bytes(&file("ed25519.pk8.pem")).unwrap())
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("signs with an HMAC secret"),
        "{err}"
    );
}
