//! ns per signature for each scheme on a 300-byte body, next to the bare
//! primitive (HMAC, or ed25519 for RFC 9421 ed25519) over the same string to
//! sign. Run: `cargo bench -p keel --bench signing` (add `--features
//! aws-sigv4` for AWS SigV4).

use std::time::{Duration, UNIX_EPOCH};

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, Method};
use keel::signing::recipe::SecretEncoding;
use keel::signing::rfc9421::Rfc9421;
use keel::signing::{Credentials, Scheme, SigningRequest};
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

enum Bare {
    Sha256(Vec<u8>),
    Sha512(Vec<u8>),
    Ed25519,
}

fn cases() -> Vec<(&'static str, Scheme, Credentials, Bare)> {
    let name = HeaderName::from_static("api-key");
    let raw = b"0123456789abcdef0123456789abcdef".to_vec();
    let b64 = b"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_vec();
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
            Bare::Sha512(raw.clone()),
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
            Bare::Sha256(raw.clone()),
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
            Bare::Ed25519,
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
    let ed = {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        ed25519_dalek::SigningKey::from_pkcs8_pem(ED25519_PEM).unwrap()
    };

    let mut group = c.benchmark_group("sign-300B-body");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for (name, scheme, creds, bare) in cases() {
        let signer = scheme.signer().clone();
        // The string to sign, for the bare primitive.
        let (mut u, mut h) = (url.clone(), headers.clone());
        let mut req = SigningRequest::new(&Method::POST, &mut u, &mut h, &body, t, 1)
            .capture_string_to_sign(true);
        signer.sign(&mut req, &creds).unwrap();
        let sts = req.string_to_sign().map(<[u8]>::to_vec).unwrap_or_default();

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
                let mut m = Hmac::<sha2::Sha256>::new_from_slice(k).unwrap();
                m.update(black_box(&sts));
                black_box(m.finalize().into_bytes())
            }),
            Bare::Sha512(k) => b.iter(|| {
                let mut m = Hmac::<sha2::Sha512>::new_from_slice(k).unwrap();
                m.update(black_box(&sts));
                black_box(m.finalize().into_bytes())
            }),
            Bare::Ed25519 => b.iter(|| {
                use ed25519_dalek::Signer as _;
                black_box(ed.sign(black_box(&sts)))
            }),
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
