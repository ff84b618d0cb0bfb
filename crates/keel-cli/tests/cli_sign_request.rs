//! `keel sign` and `keel request`, run as the built binary.
//!
//! Every run goes through the secret check (tests/common): its stdout and
//! stderr never show the secret, passphrase or private key it was given.

mod common;

use std::process::{Command, Output};

use common::ScanOutput as _;
use keel_demo::{DemoServer, DEMO_API_KEY, DEMO_API_SECRET};

/// The Standard Webhooks test vector's secret.
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn keel(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(args)
        .env_remove("KEEL_API_KEY")
        .env_remove("KEEL_API_SECRET")
        .env_remove("KEEL_API_PASSPHRASE")
        .env_remove("KEEL_PRIVATE_KEY_FILE")
        .env_remove("KEEL_PRIVATE_KEY_PASSPHRASE")
        .env_remove("KEEL_WEBHOOK_SECRET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.scanned_output()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}
fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

// Binance spot docs, "SIGNED Endpoint Examples for POST /api/v3/order", Example 1.
#[test]
fn sign_binance_is_deterministic_and_matches_the_docs() {
    let o = keel(
        &[
            "sign", "--scheme", "binance", "--method", "POST", "--url",
            "https://api.binance.com/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000",
            "--timestamp", "1499827319559",
        ],
        &[
            ("KEEL_API_KEY", "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"),
            ("KEEL_API_SECRET", "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "POST https://api.binance.com/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71\n\
         x-mbx-apikey: vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A\n"
    );
    assert!(
        !stderr(&o).contains("warning"),
        "no warning for a secret from the environment"
    );
}

// Kraken "Spot REST Authentication", Examples; the nonce is added by keel sign.
#[test]
fn sign_kraken_with_a_fixed_nonce_and_verbose() {
    let secret =
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    let o = keel(
        &[
            "sign",
            "--scheme",
            "kraken",
            "-X",
            "POST",
            "--url",
            "https://api.kraken.com/0/private/AddOrder",
            "--data",
            "ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
            "--nonce",
            "1616492376594",
            "--api-key",
            "pub",
            "--api-secret",
            secret,
            "-v",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "POST https://api.kraken.com/0/private/AddOrder\n\
         api-key: pub\n\
         content-type: application/x-www-form-urlencoded\n\
         api-sign: 4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==\n\
         \n\
         nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25\n"
    );
    let err = stderr(&o);
    assert!(
        err.contains("warning: --api-secret on the command line"),
        "{err}"
    );
    assert!(err.contains("string to sign"), "{err}");
    assert!(err.contains("/0/private/AddOrder"), "{err}");
}

// RFC 9421 Appendix B.2.5 through the CLI.
#[test]
fn sign_rfc9421_b25() {
    let o = keel(
        &[
            "sign", "--scheme", "rfc9421", "-X", "POST", "--url", "https://example.com/foo?param=Value&Pet=dog",
            "-H", "Date: Tue, 20 Apr 2021 02:07:55 GMT", "-H", "Content-Type: application/json",
            "--data", r#"{"hello": "world"}"#, "--components", r#""date" "@authority" "content-type""#,
            "--created", "1618884473", "--key-id", "test-shared-secret", "--label", "sig-b25",
            "--secret-encoding", "base64",
        ],
        &[
            ("KEEL_API_KEY", "unused"),
            ("KEEL_API_SECRET", "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("signature: sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:\n"),
        "{out}"
    );
    assert!(out.contains("signature-input: sig-b25=(\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\"\n"), "{out}");
    assert!(out.ends_with("\n\n{\"hello\": \"world\"}\n"), "{out}");
}

#[test]
fn sign_reports_bad_input_clearly() {
    let o = keel(
        &["sign", "--scheme", "nope", "--url", "https://x.test/"],
        &[("KEEL_API_KEY", "k")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown scheme \"nope\""),
        "{}",
        stderr(&o)
    );
    let o = keel(
        &["sign", "--url", "https://x.test/"],
        &[("KEEL_API_KEY", "k")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("needs an API secret"), "{}", stderr(&o));
}

#[test]
fn request_signed_against_the_demo_server() {
    let server = DemoServer::start_background().unwrap();
    let url = server.url();
    let env = [
        ("KEEL_API_KEY", DEMO_API_KEY),
        ("KEEL_API_SECRET", DEMO_API_SECRET),
    ];

    let o = keel(&["request", "GET", &format!("{url}/signed/whoami")], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Into a pipe: the body byte for byte.
    assert_eq!(stdout(&o), format!("{{\"key\":\"{DEMO_API_KEY}\"}}"));

    let o = keel(
        &["request", "GET", &format!("{url}/signed/whoami"), "-v"],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // One `* attempt` line per attempt (resilience events) on stderr.
    assert!(
        stderr(&o).starts_with("* attempt 1: GET "),
        "{}",
        stderr(&o)
    );
    // The request as sent (the signature redacted), then the response.
    let out = stdout(&o);
    assert!(out.starts_with("GET /signed/whoami HTTP/1.1\n"), "{out}");
    assert!(out.contains("api-signature: <redacted>\n"), "{out}");
    assert!(!out.contains(DEMO_API_SECRET), "{out}");
    assert!(out.contains("\nHTTP/1.1 200 OK\n"), "{out}");
    assert!(out.contains("content-type: application/json"), "{out}");
    assert!(
        out.ends_with(&format!("{{\"key\":\"{DEMO_API_KEY}\"}}")),
        "{out}"
    );

    let o = keel(
        &[
            "request",
            "POST",
            &format!("{url}/signed/orders"),
            "--json",
            r#"{"symbol":"XBTUSD","qty":2}"#,
            "--fail",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v, serde_json::json!({"symbol": "XBTUSD", "qty": 2}));

    // A wrong secret: a 401 is a response, so exit 0 — or 4 with --fail.
    let bad = [
        ("KEEL_API_KEY", DEMO_API_KEY),
        ("KEEL_API_SECRET", "wrong-secret-value"),
    ];
    let o = keel(&["request", "GET", &format!("{url}/signed/whoami")], &bad);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("\"bad signature\""), "{}", stdout(&o));
    let o = keel(
        &["request", "GET", &format!("{url}/signed/whoami"), "--fail"],
        &bad,
    );
    assert_eq!(o.status.code(), Some(4));

    // Unsigned (no key): a plain HttpClient.
    let o = keel(
        &["request", "GET", &format!("{url}/status/503"), "--fail"],
        &[],
    );
    assert_eq!(o.status.code(), Some(5));
    let o = keel(&["request", "GET", &format!("{url}/status/503")], &[]);
    assert_eq!(o.status.code(), Some(0));
    let o = keel(
        &[
            "request",
            "POST",
            &format!("{url}/echo?x=1"),
            "--data",
            "a=1",
            "-H",
            "X-Test: yes",
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["body"], "a=1");
    assert_eq!(v["headers"]["x-test"][0], "yes");
    assert_eq!(
        v["headers"]["content-type"][0],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(v["query_pairs"][0][0], "x");

    // Redirects are followed only when asked.
    let o = keel(
        &["request", "GET", &format!("{url}/redirect?to=/health")],
        &[],
    );
    assert!(!stdout(&o).contains("\"ok\""), "{}", stdout(&o));
    let o = keel(
        &[
            "request",
            "GET",
            &format!("{url}/redirect?to=/health"),
            "-L",
        ],
        &[],
    );
    assert!(stdout(&o).contains("\"ok\""), "{}", stdout(&o));
}

#[test]
fn request_transport_errors_exit_1_with_one_line() {
    let o = keel(
        &["request", "GET", "http://127.0.0.1:1/", "--timeout", "5"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("keel request: "), "{err}");
    assert!(err.contains("could not connect"), "{err}");
    let o = keel(&["request", "GET", "not a url"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let o = keel(
        &["request", "POST", "http://127.0.0.1:1/", "--json", "{oops"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--json is not valid JSON"),
        "{}",
        stderr(&o)
    );
}

const RFC_ED25519: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
";

fn b26_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "sign",
        "--scheme",
        "rfc9421",
        "-X",
        "POST",
        "--url",
        "https://example.com/foo?param=Value&Pet=dog",
        "-H",
        "Date: Tue, 20 Apr 2021 02:07:55 GMT",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Content-Length: 18",
        "--data",
        r#"{"hello": "world"}"#,
        "--components",
        r#""date" "@method" "@path" "@authority" "content-type" "content-length""#,
        "--created",
        "1618884473",
        "--key-id",
        "test-key-ed25519",
        "--label",
        "sig-b26",
    ];
    v.extend_from_slice(extra);
    v
}

// RFC 9421 Appendix B.2.6 through the CLI, exactly: the key (given as a file or as the
// secret) decides the algorithm, and no `alg` parameter is sent unless asked.
#[test]
fn sign_rfc9421_b26_exactly() {
    const SIG: &str = "signature: sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:\n";
    const INPUT: &str = "signature-input: sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"\n";
    let dir = std::env::temp_dir().join(format!("keel-b26-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("test-key-ed25519.pem");
    std::fs::write(&key, RFC_ED25519).unwrap();
    let key = key.to_str().unwrap().to_owned();
    for (args, env) in [
        (b26_args(&["--private-key", &key]), vec![]),
        (b26_args(&[]), vec![("KEEL_API_SECRET", RFC_ED25519)]),
        (
            b26_args(&["--alg", "ed25519"]),
            vec![("KEEL_API_SECRET", RFC_ED25519)],
        ),
    ] {
        let o = keel(&args, &env);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains(SIG), "{out}");
        assert!(out.contains(INPUT), "{out}");
    }
    // --alg-param adds it (and the signature changes with it).
    let o = keel(
        &b26_args(&["--alg-param"]),
        &[("KEEL_API_SECRET", RFC_ED25519)],
    );
    let out = stdout(&o);
    assert!(
        out.contains(";keyid=\"test-key-ed25519\";alg=\"ed25519\"\n"),
        "{out}"
    );
    assert!(!out.contains(SIG), "{out}");
    // A PEM where an hmac-sha256 secret is named is an error, never a silent HMAC.
    let o = keel(
        &b26_args(&["--alg", "hmac-sha256"]),
        &[("KEEL_API_SECRET", RFC_ED25519)],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("a PEM private key was given where an hmac-sha256 secret is expected"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_webhook_reads_the_body_from_a_file_or_stdin() {
    use std::io::Write as _;
    let body = br#"{"test": 2432232314}"#;
    let dir = std::env::temp_dir().join(format!("keel-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.json");
    std::fs::write(&file, body).unwrap();
    let common = [
        "verify-webhook",
        "--scheme",
        "standard",
        "-H",
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
        "-H",
        "webhook-timestamp: 1614265330",
        "-H",
        "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "--now",
        "1614265330",
    ];
    let env = [("KEEL_WEBHOOK_SECRET", WEBHOOK_SECRET)];
    let mut args = common.to_vec();
    args.extend_from_slice(&["--body", file.to_str().unwrap()]);
    let o = keel(&args, &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "verified: standard signature over 20 bytes, id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330\n"
    );
    // From stdin, with one byte changed: rejected with the reason.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(common)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"test": 2432232315}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    common::assert_no_secret("keel verify-webhook (stdin)", &o, &[WEBHOOK_SECRET]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "keel verify-webhook: rejected: no signature matches\n"
    );
    // Too old.
    let mut args = common.to_vec();
    args.extend_from_slice(&["--body", file.to_str().unwrap()]);
    let mut late = args.clone();
    let i = late.iter().position(|a| *a == "--now").unwrap();
    late[i + 1] = "1614266330";
    let o = keel(&late, &env);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("rejected: timestamp outside the tolerance (1000 s old)"),
        "{}",
        stderr(&o)
    );
    // GitHub, no secret, unknown scheme.
    let o = keel(
        &[
            "verify-webhook",
            "--scheme",
            "github",
            "--body",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        stderr(&o).contains("a webhook secret is needed"),
        "{}",
        stderr(&o)
    );
    let o = keel(
        &[
            "verify-webhook",
            "--scheme",
            "paypal",
            "--body",
            file.to_str().unwrap(),
        ],
        &env,
    );
    assert!(
        stderr(&o).contains("unknown scheme \"paypal\""),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
