//! Bad builder input: a clear `Error::InvalidConfig` at `build()`, never a
//! panic, and never the secret that was given.

use std::time::Duration;

use keel::{Error, HttpClient, HttpClientBuilder};

fn config_error(builder: HttpClientBuilder) -> String {
    match builder.build() {
        Err(Error::InvalidConfig(msg)) => msg,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn an_invalid_base_url_is_refused() {
    for raw in [
        "not a url",
        "",
        "/relative/path",
        "http://",
        "https://exa mple.com",
    ] {
        let msg = config_error(HttpClient::builder(raw));
        assert!(
            msg.contains("base URL")
                && (msg.contains("https://api.example.com") || msg.contains("host")),
            "{raw:?}: {msg}"
        );
    }
}

#[test]
fn a_non_http_scheme_is_refused() {
    for raw in [
        "ftp://example.com",
        "file:///etc/passwd",
        "ws://example.com",
    ] {
        let msg = config_error(HttpClient::builder(raw));
        assert!(msg.contains("must use http or https"), "{raw}: {msg}");
    }
}

#[test]
fn a_base_url_with_credentials_or_fragment_is_refused_without_echoing_them() {
    let msg = config_error(HttpClient::builder("https://user:s3cret@example.com/v1"));
    assert!(msg.contains("user:password"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
    let msg = config_error(HttpClient::builder("https://example.com/v1#frag"));
    assert!(msg.contains("fragment"), "{msg}");
    // A URL that does not parse is shown without its query.
    let msg = config_error(HttpClient::builder(
        "https://exa mple.com/v1?api_key=s3cret",
    ));
    assert!(!msg.contains("s3cret"), "{msg}");
    let msg = config_error(HttpClient::builder("https://u:s3cret@exa mple.com/"));
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[test]
fn a_header_name_with_a_space_is_refused() {
    let msg = config_error(HttpClient::builder("https://example.com").header("X Bad", "v"));
    assert!(
        msg.contains("\"X Bad\" is not a valid header name"),
        "{msg}"
    );
}

#[test]
fn a_header_value_with_a_newline_is_refused_without_echoing_it() {
    let msg = config_error(
        HttpClient::builder("https://example.com").header("Authorization", "Bearer s3cret\r\nX: y"),
    );
    assert!(msg.contains("not a valid header value"), "{msg}");
    assert!(msg.contains("Authorization"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[test]
fn invalid_cookies_are_refused() {
    let msg = config_error(HttpClient::builder("https://example.com").cookie("bad name", "v"));
    assert!(msg.contains("cookie name \"bad name\""), "{msg}");
    let msg = config_error(HttpClient::builder("https://example.com").cookie("", "v"));
    assert!(msg.contains("cookie name"), "{msg}");
    let msg = config_error(HttpClient::builder("https://example.com").cookie("sid", "a;b=c"));
    assert!(msg.contains("\"sid\""), "{msg}");
    assert!(msg.contains("percent-encode"), "{msg}");
    let msg = config_error(HttpClient::builder("https://example.com").cookie("sid", "é"));
    assert!(msg.contains("non-ASCII"), "{msg}");
}

#[test]
fn zero_timeouts_are_refused() {
    let msg = config_error(HttpClient::builder("https://example.com").timeout(Duration::ZERO));
    assert!(msg.contains("zero timeout"), "{msg}");
    assert!(msg.contains("no_timeout()"), "{msg}");
    let msg =
        config_error(HttpClient::builder("https://example.com").connect_timeout(Duration::ZERO));
    assert!(msg.contains("zero connect timeout"), "{msg}");
}

#[test]
fn a_bad_ca_is_refused() {
    let msg = config_error(HttpClient::builder("https://example.com").ca_pem("garbage"));
    assert!(msg.contains("PEM"), "{msg}");
}

#[test]
fn the_first_error_is_reported_and_nothing_panics() {
    // Many bad settings at once: one clear error, no panic.
    let msg = config_error(
        HttpClient::builder("ftp://x")
            .header("bad name", "v")
            .cookie("bad name", "v")
            .timeout(Duration::ZERO),
    );
    assert!(msg.contains("http or https"), "{msg}");
    // Display carries the kind of error.
    let err = HttpClient::builder("nope").build().unwrap_err();
    assert!(
        err.to_string().starts_with("invalid configuration: "),
        "{err}"
    );
}

#[test]
fn good_input_builds() {
    let client = HttpClient::builder("  https://api.example.com/v1/  ")
        .header("User-Agent", "t/1")
        .cookie("region", "eu")
        .cookie("quoted", "\"a b\"".replace(' ', ""))
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "https://api.example.com/v1");
}

/// Every duration, count and size a builder takes, at its extremes: each
/// is refused with `InvalidConfig` or works — nothing panics, at build time
/// or at the first request.
#[test]
fn extreme_values_are_refused_or_work_and_never_panic() {
    use keel::resilience::{CircuitBreaker, OnLimit, RateLimit, RetryBudget};
    let server = keel_demo::DemoServer::start_background().unwrap();
    let url = server.url();
    let extremes = [Duration::ZERO, Duration::from_nanos(1), Duration::MAX];

    let mut refused = 0;
    let mut worked = 0;
    let mut check = |what: &str, built: keel::Result<HttpClient>| match built {
        Err(Error::InvalidConfig(m)) => {
            assert!(!m.is_empty(), "{what}");
            refused += 1;
        }
        Err(other) => panic!("{what}: {other:?}"),
        Ok(client) => {
            // The first request must not panic either (a tiny timeout may
            // time out, which is fine).
            let _ = client.get("/health").send_blocking();
            worked += 1;
        }
    };
    for d in extremes {
        check("timeout", HttpClient::builder(&url).timeout(d).build());
        check(
            "connect_timeout",
            HttpClient::builder(&url).connect_timeout(d).build(),
        );
        check(
            "read_timeout",
            HttpClient::builder(&url).read_timeout(d).build(),
        );
        for policy in [
            keel::Resilience::builder().deadline(d).build(),
            keel::Resilience::builder().backoff(d, d).build(),
            keel::Resilience::builder()
                .backoff(Duration::ZERO, d)
                .build(),
            keel::Resilience::builder().max_retry_after(d).build(),
            keel::Resilience::builder()
                .circuit_breaker(CircuitBreaker::new().open_for(d))
                .build(),
            keel::Resilience::builder()
                .circuit_breaker(CircuitBreaker::new().failure_ratio(0.5, d, 1))
                .build(),
            keel::Resilience::builder()
                .rate_limit(RateLimit::new(1, d))
                .build(),
            keel::Resilience::builder()
                .rate_limit(RateLimit::new(u32::MAX, d))
                .build(),
            keel::Resilience::builder()
                .rate_limit(RateLimit::per_second(1).on_limit(OnLimit::Wait { max_wait: d }))
                .build(),
        ] {
            check(
                "resilience",
                policy.map(|p| HttpClient::new(&url).unwrap().with_resilience(p)),
            );
        }
        let client = HttpClient::new(&url).unwrap();
        match client.with_timeout(d) {
            Err(Error::InvalidConfig(_)) => {}
            Ok(c) => {
                let _ = c.get("/health").send_blocking();
            }
            Err(e) => panic!("{e:?}"),
        }
        match client.get("/health").timeout(d).send_blocking() {
            Ok(_) | Err(Error::InvalidRequest(_)) | Err(Error::Timeout { .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    for n in [0, 1, u32::MAX] {
        check(
            "retry budget",
            keel::Resilience::builder()
                .retry_budget(
                    RetryBudget::new(n)
                        .retry_cost(n)
                        .timeout_cost(n)
                        .success_refund(n),
                )
                .build()
                .map(|p| HttpClient::new(&url).unwrap().with_resilience(p)),
        );
        check(
            "max_attempts",
            keel::Resilience::builder()
                .max_attempts(n)
                .build()
                .map(|p| HttpClient::new(&url).unwrap().with_resilience(p)),
        );
        check(
            "breaker counts",
            keel::Resilience::builder()
                .circuit_breaker(
                    CircuitBreaker::new()
                        .consecutive_failures(n)
                        .half_open_probes(n),
                )
                .build()
                .map(|p| HttpClient::new(&url).unwrap().with_resilience(p)),
        );
        check(
            "burst",
            keel::Resilience::builder()
                .rate_limit(RateLimit::per_second(1).burst(n))
                .build()
                .map(|p| HttpClient::new(&url).unwrap().with_resilience(p)),
        );
    }
    for size in [0, 1, u64::MAX] {
        check(
            "max_response_size",
            HttpClient::builder(&url).max_response_size(size).build(),
        );
    }
    for hops in [0, 1, usize::MAX] {
        check(
            "max_redirects",
            HttpClient::builder(&url).max_redirects(hops).build(),
        );
    }
    check(
        "clock offset",
        keel::HttpAuthenticatedClient::builder(&url)
            .api_key("k")
            .api_secret("s")
            .clock_offset_ms(i64::MIN)
            .build()
            .map(|c| c.unauthenticated()),
    );
    assert!(
        refused > 10 && worked > 10,
        "{refused} refused, {worked} worked"
    );
}

#[test]
fn a_timeout_of_almost_a_year_is_accepted_and_works_blocking() {
    let server = keel_demo::DemoServer::start_background().unwrap();
    let year = Duration::from_secs(364 * 24 * 3600);
    let client = HttpClient::builder(server.url())
        .timeout(year)
        .read_timeout(year)
        .connect_timeout(year)
        .build()
        .unwrap();
    assert_eq!(client.get("/health").send_blocking().unwrap().status, 200);
}
