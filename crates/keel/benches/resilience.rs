//! The cost of the resilience decisions, without a network:
//! `cargo bench -p keel --bench resilience`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use keel::resilience::{parse_retry_after, BenchDecider, Resilience};
use keel::StatusCode;

fn decisions(c: &mut Criterion) {
    let url = "http://127.0.0.1:8080/items/42";
    let none = BenchDecider::new(Resilience::none(), url).unwrap();
    let standard = BenchDecider::new(Resilience::standard(), url).unwrap();
    let limited = BenchDecider::new(
        Resilience::rate_limited(
            keel::resilience::RateLimit::per_second(1_000_000_000).burst(1_000_000),
        )
        .unwrap(),
        url,
    )
    .unwrap();
    let mut g = c.benchmark_group("attempt decision");
    g.bench_function("none, 200", |b| {
        b.iter(|| none.attempt(black_box(StatusCode::OK), None))
    });
    g.bench_function("standard, 200", |b| {
        b.iter(|| standard.attempt(black_box(StatusCode::OK), None))
    });
    g.bench_function("standard, 503 -> retry with backoff", |b| {
        // Successes refill the budget between retries so it never runs dry.
        b.iter(|| {
            let d = standard.attempt(black_box(StatusCode::SERVICE_UNAVAILABLE), None);
            standard.attempt(StatusCode::OK, None);
            d
        })
    });
    g.bench_function("standard, 429 + Retry-After: 2", |b| {
        b.iter(|| {
            let d = standard.attempt(black_box(StatusCode::TOO_MANY_REQUESTS), Some("2"));
            standard.attempt(StatusCode::OK, None);
            d
        })
    });
    g.bench_function("rate_limited preset, 200", |b| {
        b.iter(|| limited.attempt(black_box(StatusCode::OK), None))
    });
    g.finish();
}

fn retry_after(c: &mut Criterion) {
    let now = SystemTime::now();
    let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
    let mut g = c.benchmark_group("Retry-After parsing");
    g.bench_function("seconds", |b| {
        b.iter(|| parse_retry_after(black_box("120"), now))
    });
    g.bench_function("HTTP-date", |b| {
        b.iter(|| parse_retry_after(black_box(&date), now))
    });
    g.bench_function("garbage", |b| {
        b.iter(|| parse_retry_after(black_box("soon, maybe"), now))
    });
    g.finish();
}

criterion_group!(benches, decisions, retry_after);
criterion_main!(benches);
