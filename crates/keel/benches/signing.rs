//! ns per signature for each scheme on a 300-byte body, next to the bare
//! primitive (HMAC keyed for the call, or the key's signature) over the same
//! string to sign. Each scheme signs as a client family does: with the
//! signer bound to its credentials once (`Scheme::prepare`: the HMAC key
//! absorbed once, header values cached). Run: `cargo bench -p keel-http
//! --bench signing` (add `--features aws-sigv4` for AWS SigV4).

use std::time::{Duration, UNIX_EPOCH};

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, Method};
use keel::signing::recipe::HmacRecipe;
use keel::signing::recipe::SecretEncoding;
use keel::signing::rfc9421::Rfc9421;
use keel::signing::{Credentials, PrivateKey, Scheme, SignatureAlgorithm, SigningRequest};
use keel::Url;

const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
";

fn body() -> Vec<u8> {
    let mut b = br#"{"symbol":"XBTUSD","side":"buy","type":"limit","price":"37500.0","qty":"1.25","note":""#.to_vec();
    while b.len() < 298 {
        b.push(b'x');
    }
    b.extend_from_slice(b"\"}");
    assert_eq!(b.len(), 300);
    b
}

const P256_PEM: &str = include_str!("../tests/keys/p256.sec1.pem");
const RSA_PEM: &str = include_str!("../tests/keys/rsa.pk8.pem");

enum Bare {
    Sha256(Vec<u8>),
    Sha512(Vec<u8>),
    Key(PrivateKey, SignatureAlgorithm),
}

fn key(pem: &str) -> PrivateKey {
    PrivateKey::from_bytes(pem.as_bytes()).unwrap()
}

fn cases() -> Vec<(&'static str, Scheme, Credentials, Bare)> {
    let name = HeaderName::from_static("api-key");
    let raw = b"0123456789abcdef0123456789abcdef".to_vec();
    // Kraken and Coinbase Exchange issue 64-byte secrets, base64-encoded.
    let raw64 = [raw.as_slice(), raw.as_slice()].concat();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(&raw64)
            .into_bytes()
    };
    let creds = |s: &[u8]| {
        Credentials::new("key-123", Some(s.to_vec()), name.clone()).with_passphrase("pass")
    };
    #[allow(unused_mut)]
    let mut v = vec![
        (
            "default",
            Scheme::default_hmac(),
            creds(&raw),
            Bare::Sha256(raw.clone()),
        ),
        (
            "kraken",
            Scheme::kraken(),
            creds(&b64),
            Bare::Sha512(raw64.clone()),
        ),
        (
            "binance",
            Scheme::binance(),
            creds(&raw),
            Bare::Sha256(raw.clone()),
        ),
        (
            "coinbase",
            Scheme::coinbase(),
            creds(&b64),
            Bare::Sha256(raw64.clone()),
        ),
        ("okx", Scheme::okx(), creds(&raw), Bare::Sha256(raw.clone())),
        (
            "bybit",
            Scheme::bybit(),
            creds(&raw),
            Bare::Sha256(raw.clone()),
        ),
        (
            "rfc9421-hmac-sha256",
            Scheme::rfc9421(
                Rfc9421::hmac_sha256()
                    .components([
                        "@method",
                        "@authority",
                        "@path",
                        "content-type",
                        "content-digest",
                    ])
                    .key_id("k")
                    .content_digest(keel::signing::recipe::Digest::Sha256)
                    .secret_encoding(SecretEncoding::Raw),
            ),
            creds(&raw),
            Bare::Sha256(raw.clone()),
        ),
        (
            "rfc9421-ed25519",
            Scheme::rfc9421(
                Rfc9421::ed25519()
                    .components([
                        "@method",
                        "@authority",
                        "@path",
                        "content-type",
                        "content-digest",
                    ])
                    .key_id("k")
                    .content_digest(keel::signing::recipe::Digest::Sha256),
            ),
            creds(ED25519_PEM.as_bytes()),
            Bare::Key(key(ED25519_PEM), SignatureAlgorithm::Ed25519),
        ),
        (
            "rfc9421-ecdsa-p256",
            Scheme::rfc9421(
                Rfc9421::new()
                    .components([
                        "@method",
                        "@authority",
                        "@path",
                        "content-type",
                        "content-digest",
                    ])
                    .key_id("k")
                    .content_digest(keel::signing::recipe::Digest::Sha256),
            ),
            creds(P256_PEM.as_bytes()),
            Bare::Key(key(P256_PEM), SignatureAlgorithm::EcdsaP256Sha256),
        ),
        (
            "keel-v1",
            Scheme::keel_v1(),
            creds(&raw),
            Bare::Sha256(raw.clone()),
        ),
        (
            "binance-recv-window",
            Scheme::hmac(HmacRecipe::binance().recv_window(5000)),
            creds(&raw),
            Bare::Sha256(raw.clone()),
        ),
        (
            "binance-ed25519",
            Scheme::binance(),
            creds(ED25519_PEM.as_bytes()),
            Bare::Key(key(ED25519_PEM), SignatureAlgorithm::Ed25519),
        ),
        (
            "binance-rsa2048",
            Scheme::binance(),
            creds(RSA_PEM.as_bytes()),
            Bare::Key(key(RSA_PEM), SignatureAlgorithm::RsaPkcs1v15Sha256),
        ),
        (
            "kucoin",
            Scheme::kucoin(),
            creds(&raw),
            Bare::Sha256(raw.clone()),
        ),
        (
            "gate",
            Scheme::gate(),
            creds(&raw),
            Bare::Sha512(raw.clone()),
        ),
        (
            // The bare primitive: ES256 over the string to sign (the JWT's
            // signing input is about as long).
            "coinbase-cdp-es256",
            Scheme::coinbase_cdp(),
            creds(P256_PEM.as_bytes()),
            Bare::Key(key(P256_PEM), SignatureAlgorithm::EcdsaP256Sha256),
        ),
    ];
    #[cfg(feature = "aws-sigv4")]
    v.push((
        "aws-sigv4",
        Scheme::aws_sigv4("us-east-1", "execute-api"),
        creds(&raw),
        Bare::Sha256(raw.clone()),
    ));
    v
}

fn bench(c: &mut Criterion) {
    let body = body();
    let url =
        Url::parse("https://api.example.com/0/private/AddOrder?symbol=XBTUSD&limit=5").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);

    let mut group = c.benchmark_group("sign-300B-body");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for (name, scheme, creds, bare) in cases() {
        // Bound once, as a client family binds it.
        let signer = scheme.prepare(&creds).unwrap();
        // The string to sign, for the bare primitive.
        let (mut u, mut h) = (url.clone(), headers.clone());
        let mut req = SigningRequest::new(&Method::POST, &mut u, &mut h, &body, t, 1)
            .capture_string_to_sign(true);
        signer.sign(&mut req, &creds).unwrap();
        let sts = req.string_to_sign().map(<[u8]>::to_vec).unwrap_or_default();
        let sts = if sts.len() < 64 { body.clone() } else { sts };

        group.bench_function(format!("{name}/scheme"), |b| {
            b.iter_batched(
                || (url.clone(), headers.clone()),
                |(mut u, mut h)| {
                    let mut req = SigningRequest::new(&Method::POST, &mut u, &mut h, &body, t, 1);
                    signer.sign(&mut req, &creds).unwrap();
                    black_box(h)
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/bare"), |b| match &bare {
            Bare::Sha256(k) => b.iter(|| {
                let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(k).unwrap();
                m.update(black_box(&sts));
                black_box(m.finalize().into_bytes())
            }),
            Bare::Sha512(k) => b.iter(|| {
                let mut m = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(k).unwrap();
                m.update(black_box(&sts));
                black_box(m.finalize().into_bytes())
            }),
            Bare::Key(k, alg) => b.iter(|| black_box(k.sign_with(*alg, black_box(&sts)).unwrap())),
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
