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
