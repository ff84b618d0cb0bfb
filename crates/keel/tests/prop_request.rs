//! Property tests for what a request is built from, checked against what the
//! demo server's `/echo` received over loopback: URL joining, path
//! parameters and query parameters arrive exactly as given; header and
//! cookie values are either refused with a clear error or arrive unchanged
//! (never a panic, never a header split in two); `Retry-After` parsing.
//!
//! Case counts: `common::prop::config`; `scripts/proptest-long.sh` runs 100x.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel::resilience::parse_retry_after;
use keel::{Error, HttpClient};
use keel_demo::DemoServer;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use serde_json::Value;

use common::prop::config;

/// One demo server for the whole binary (its own runtime thread).
fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let server = DemoServer::start_background().expect("demo server");
        let url = server.url();
        // Kept running until the test process exits.
        std::mem::forget(server);
        url
    })
}

fn client(base: &str) -> HttpClient {
    HttpClient::new(base).expect("a loopback base URL builds")
}

fn echo_of(resp: keel::Result<keel::Response<()>>) -> Result<Value, TestCaseError> {
    let resp = resp.map_err(|e| TestCaseError::fail(format!("request failed: {e}")))?;
    prop_assert_eq!(resp.status, 200, "echo answered {:?}", resp);
    resp.json::<Value>()
        .map_err(|e| TestCaseError::fail(format!("echo JSON: {e}")))
}

/// A path segment of safe characters (so the expected joined path is plain).
fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_~-][a-zA-Z0-9._~-]{0,8}"
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn joining_keeps_the_base_path_and_exactly_one_slash(
        base_segs in prop::collection::vec(segment(), 0..3),
        rel_segs in prop::collection::vec(segment(), 1..4),
        base_trailing in any::<bool>(),
        rel_leading in 0usize..3,
    ) {
        let mut base = format!("{}/echo", server_url().trim_end_matches('/'));
        for s in &base_segs {
            base.push('/');
            base.push_str(s);
        }
        if base_trailing {
            base.push('/');
        }
        let rel = format!("{}{}", "/".repeat(rel_leading), rel_segs.join("/"));
        let e = echo_of(client(&base).get(&rel).send_blocking())?;
        let mut expected = String::from("/echo");
        for s in base_segs.iter().chain(&rel_segs) {
            expected.push('/');
            expected.push_str(s);
        }
        prop_assert_eq!(e["path"].as_str(), Some(expected.as_str()), "base {} + {}", base, rel);
    }

    #[test]
    fn a_path_parameter_arrives_as_exactly_one_segment(value in ".{0,24}") {
        let base = format!("{}/echo/p", server_url().trim_end_matches('/'));
        let r = client(&base).get("/items/{id}").path_param("id", &value).send_blocking();
        if value == "." || value == ".." {
            prop_assert!(matches!(r, Err(Error::InvalidRequest(_))), "dot segment {value:?}: {r:?}");
            return Ok(());
        }
        let e = echo_of(r)?;
        let path = e["path"].as_str().unwrap_or_default().to_owned();
        let seg = path.strip_prefix("/echo/p/items/");
        prop_assert!(seg.is_some(), "{value:?} arrived as {path}");
        let seg = seg.unwrap_or_default();
        prop_assert!(!seg.contains('/'), "{value:?} became several segments: {path}");
        let decoded = percent_decode_str(seg).decode_utf8_lossy().into_owned();
        prop_assert_eq!(decoded, value);
    }

    #[test]
    fn query_parameters_arrive_unchanged_and_in_order(
        pairs in prop::collection::vec((".{1,10}", ".{0,16}"), 0..5),
    ) {
        let mut rb = client(server_url()).get("/echo");
        for (k, v) in &pairs {
            rb = rb.query(k, v);
        }
        let e = echo_of(rb.send_blocking())?;
        let seen: Vec<(String, String)> = e["query_pairs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        prop_assert_eq!(seen, pairs);
    }

    #[test]
    fn a_header_is_refused_clearly_or_arrives_unchanged(
        name in prop_oneof!["[A-Za-z][A-Za-z0-9-]{0,12}", ".{0,12}"],
        value in prop_oneof!["[ -~]{0,24}", ".{0,24}", "[a-z]{1,4}[\r\n][a-z]{1,8}: x"],
    ) {
        // Client-wide (builder) and per request: the same rule.
        let built = HttpClient::builder(server_url()).header(&name, &value).build();
        let sent = client(server_url()).get("/echo").header(&name, &value).send_blocking();
        let token = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        // RFC 9110 field values: visible ASCII, space, tab and obs-text (0x80-0xFF).
        let clean = value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80);
        match (&built, token && clean) {
            (Err(Error::InvalidConfig(msg)), false) => {
                prop_assert!(!msg.is_empty());
                prop_assert!(sent.is_err(), "per-request header {name:?}: {value:?} was sent");
            }
            (Ok(_), true) => {
                let reserved = ["host", "content-length", "transfer-encoding", "connection", "cookie"];
                if reserved.contains(&name.to_ascii_lowercase().as_str()) {
                    return Ok(());
                }
                let e = echo_of(sent)?;
                let got = &e["headers"][name.to_ascii_lowercase()];
                prop_assert_eq!(got[0].as_str(), Some(value.trim_matches([' ', '\t'])), "{}: {:?}", name, value);
                prop_assert_eq!(got.as_array().map(Vec::len), Some(1));
            }
            (Err(_), true) => {} // a reserved or otherwise refused header: refused, not sent
            (Ok(_), false) => prop_assert!(false, "accepted the invalid header {name:?}: {value:?}"),
            (Err(e), false) => prop_assert!(false, "wrong error kind for {name:?}: {e:?}"),
        }
    }

    #[test]
    fn a_cookie_is_refused_clearly_or_arrives_unchanged(
        name in prop_oneof!["[A-Za-z][A-Za-z0-9_]{0,8}", ".{0,8}"],
        value in prop_oneof!["[A-Za-z0-9_.~-]{0,16}", ".{0,16}"],
    ) {
        match HttpClient::builder(server_url()).cookie(&name, &value).build() {
            Err(Error::InvalidConfig(msg)) => prop_assert!(!msg.is_empty()),
            Err(e) => prop_assert!(false, "wrong error kind: {e:?}"),
            Ok(c) => {
                let e = echo_of(c.get("/echo").send_blocking())?;
                let cookies = e["cookies"].as_object().cloned().unwrap_or_default();
                // Exactly one cookie arrived, the one we set.
                prop_assert_eq!(cookies.len(), 1, "{:?}={:?} arrived as {:?}", name, value, cookies);
                prop_assert_eq!(cookies.get(name.trim()).and_then(Value::as_str), Some(value.trim()));
            }
        }
    }
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let s = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(s)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn retry_after_seconds_are_read_exactly(n in any::<u32>(), pad_l in " {0,2}", pad_r in " {0,2}") {
        let now = SystemTime::now();
        prop_assert_eq!(
            parse_retry_after(&format!("{pad_l}{n}{pad_r}"), now),
            Some(Duration::from_secs(n.into()))
        );
    }

    #[test]
    fn retry_after_dates_are_relative_to_now(
        now_s in 1_000_000_000u64..4_000_000_000,
        ahead in -100_000i64..100_000,
    ) {
        let now = UNIX_EPOCH + Duration::from_secs(now_s);
        let when = whole_seconds(UNIX_EPOCH + Duration::from_secs(now_s.saturating_add_signed(ahead)));
        let text = httpdate::fmt_http_date(when);
        let expected = Duration::from_secs(ahead.max(0) as u64);
        prop_assert_eq!(parse_retry_after(&text, now), Some(expected), "{}", text);
    }

    #[test]
    fn retry_after_never_panics_and_rejects_non_values(text in ".{0,40}") {
        let r = parse_retry_after(&text, SystemTime::now());
        let t = text.trim();
        if t.starts_with('-') || t.is_empty() {
            prop_assert_eq!(r, None, "{:?}", text);
        }
    }
}
