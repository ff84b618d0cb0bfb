//! `--pretty` and the print selection, run as the built binary against a
//! loopback server: to a pipe the body is the server's bytes unless
//! `--pretty` asks otherwise; `format` re-indents JSON keeping key order and
//! every number as received, `colors` only colors, `all` both, `none` the
//! bytes; a binary body under `--pretty` is replaced by a note; `-b` and
//! `-h` print only the body or only the head.

mod common;

use std::process::Output;

use axum::routing::get;
use keel_demo::DemoServer;

const JSON: &str = r#"{"z":1,"a":2.50,"big":123456789012345678901234,"list":[true,null]}"#;

fn keel(args: &[&str]) -> Output {
    common::keel_command()
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .expect("run keel")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `s` without ANSI escape sequences (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn server() -> DemoServer {
    let routes = axum::Router::new()
        .route(
            "/doc",
            get(|| async { ([("content-type", "application/json")], JSON) }),
        )
        .route(
            "/blob",
            get(|| async {
                (
                    [("content-type", "application/octet-stream")],
                    vec![0u8, 159, 146, 150, 0, 1, 2, 255],
                )
            }),
        );
    DemoServer::builder()
        .routes(routes)
        .start_background()
        .expect("server")
}

#[test]
fn pretty_modes_into_a_pipe() {
    let server = server();
    let url = format!("{}/doc", server.url());
    // No flag, and --pretty=none: the bytes as received.
    for args in [
        vec!["request", &url],
        vec!["request", "--pretty=none", &url],
    ] {
        let o = keel(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), JSON, "{args:?}");
    }
    // format: re-indented, key order and numbers kept, no colors.
    let o = keel(&["request", "--pretty=format", &url]);
    let formatted = text(&o.stdout);
    assert!(!formatted.contains('\u{1b}'), "{formatted:?}");
    assert!(formatted.contains("\n    \"z\": 1,\n"), "{formatted}");
    assert!(formatted.contains("\"a\": 2.50"), "{formatted}");
    assert!(
        formatted.contains("\"big\": 123456789012345678901234"),
        "{formatted}"
    );
    assert!(
        formatted.find("\"z\"") < formatted.find("\"a\""),
        "key order kept: {formatted}"
    );
    let squeezed: String = formatted.split_whitespace().collect();
    assert_eq!(squeezed, JSON.replace(' ', ""), "only whitespace changed");
    // colors: escapes, no re-indentation.
    let o = keel(&["request", "--pretty=colors", &url]);
    let colored = text(&o.stdout);
    assert!(colored.contains('\u{1b}'), "{colored:?}");
    assert_eq!(strip_ansi(&colored).trim_end(), JSON);
    // all: both.
    let o = keel(&["request", "--pretty=all", &url]);
    let all = text(&o.stdout);
    assert!(all.contains('\u{1b}'), "{all:?}");
    assert_eq!(strip_ansi(&all), formatted);
    // A bad value is a usage error naming the choices.
    let o = keel(&["request", "--pretty=loud", &url]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("format"), "{}", text(&o.stderr));
}

#[test]
fn a_binary_body_under_pretty_is_a_note_and_raw_otherwise() {
    let server = server();
    let url = format!("{}/blob", server.url());
    let o = keel(&["request", &url]);
    assert_eq!(o.stdout, vec![0u8, 159, 146, 150, 0, 1, 2, 255]);
    let o = keel(&["request", "--pretty=format", &url]);
    assert!(
        text(&o.stdout).contains("binary data not shown"),
        "{:?}",
        o.stdout
    );
    assert!(!o.stdout.contains(&0u8));
}

#[test]
fn body_only_and_headers_only() {
    let server = server();
    let url = format!("{}/doc", server.url());
    let o = keel(&["request", "-b", &url]);
    assert_eq!(text(&o.stdout), JSON);
    let o = keel(&["request", "-h", &url]);
    let head = text(&o.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(!head.contains("\"big\""), "no body: {head}");
    // -p hb: the head, a blank line, the body.
    let o = keel(&["request", "-p", "hb", &url]);
    let both = text(&o.stdout);
    assert!(both.starts_with("HTTP/1.1 200 OK"), "{both}");
    assert!(both.ends_with(JSON), "{both}");
}
