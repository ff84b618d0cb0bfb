//! Micro-benchmarks of the client's pure, per-request work: deriving a
//! client and joining a URL. No network.
//!
//! Run: `cargo bench -p keel --bench client`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use keel::HttpClient;

fn derive(c: &mut Criterion) {
    let client = HttpClient::builder("https://api.example.com/v1")
        .header("User-Agent", "bench/1")
        .header("Accept", "application/json")
        .cookie("region", "eu")
        .build()
        .expect("valid client");
    c.bench_function("derive/with_headers(1)", |b| {
        b.iter(|| {
            black_box(&client)
                .with_headers([("X-Trace", "abc")])
                .expect("valid header")
        })
    });
    c.bench_function("derive/with_cookies(1)", |b| {
        b.iter(|| {
            black_box(&client)
                .with_cookies([("session", "abc")])
                .expect("valid cookie")
        })
    });
    c.bench_function("derive/with_timeout", |b| {
        b.iter(|| black_box(&client).with_timeout(std::time::Duration::from_secs(5)))
    });
}

fn url(c: &mut Criterion) {
    // A client parses its base URL once, when it is built.
    let base = keel::Url::parse("https://api.example.com/v1").expect("valid base URL");
    let params = vec![("id".to_owned(), "42".to_owned())];
    let query = vec![
        ("expand".to_owned(), "owner".to_owned()),
        ("limit".to_owned(), "10".to_owned()),
    ];
    c.bench_function("url/join_plain", |b| {
        b.iter(|| {
            keel::__private::build_url(black_box(&base), None, black_box("/items"), &[], &[])
                .expect("valid URL")
        })
    });
    c.bench_function("url/join_param_query", |b| {
        b.iter(|| {
            keel::__private::build_url(
                black_box(&base),
                Some("tenant=t1"),
                black_box("/items/{id}"),
                &params,
                &query,
            )
            .expect("valid URL")
        })
    });
    c.bench_function("url/encode_and_join", |b| {
        b.iter(|| {
            let p = [(
                "id".to_owned(),
                keel::encode_path_segment(black_box("a b/c?d#é")),
            )];
            keel::__private::build_url(&base, None, "/items/{id}", &p, &[]).expect("valid URL")
        })
    });
}

criterion_group!(benches, derive, url);
criterion_main!(benches);
