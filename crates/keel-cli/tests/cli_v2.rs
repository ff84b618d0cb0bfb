//! `keel request` v2, run as the built binary against the demo server:
//! byte-exactness, request items, output control, exit codes, streaming
//! downloads in constant memory, resume, live chunks, profiles,
//! completions and the man page, and a pseudo-terminal session (colors and
//! the progress bar).
//!
//! The runs given a secret (a bearer token, an API secret, a profile's
//! secret variable, a literal secret in keel.toml) go through the secret
//! check (tests/common): stdout and stderr never show it.

mod common;

use std::io::{Read as _, Write as _};
use std::process::{Command, Output, Stdio};

use common::ScanOutput as _;
use keel_demo::{pattern_byte, DemoServer, DEMO_API_KEY, DEMO_API_SECRET};

/// The literal secret of the `leaky` profile, which keel refuses.
const LITERAL_SECRET: &str = "hunter2-literal";

fn cmd() -> Command {
    common::keel_command()
}

fn keel(args: &[&str]) -> Output {
    cmd().args(args).output().expect("run keel")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn echo_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)))
}

const BODY: &str =
    r#"{"z":1,"a":2.50,"big":123456789012345678901234,"nested":{"y":[1.0,2e3],"b":null}}"#;

#[test]
fn json_bodies_and_piped_responses_are_byte_exact() {
    let server = DemoServer::start_background().expect("demo server");
    let url = format!("{}/echo", server.url());
    let o = keel(&["request", "POST", &url, "--json", BODY]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v = echo_json(&o);
    assert_eq!(v["body"], BODY, "the body is sent exactly as given");
    assert_eq!(v["content_type"], "application/json");
    // Into a pipe the response is not re-printed: no newline is added.
    assert_eq!(o.stdout.last(), Some(&b'}'));

    // The same from a file, and from stdin.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("body.json");
    std::fs::write(&file, BODY).expect("write");
    let o = keel(&["request", "PUT", &url, &format!("@{}", file.display())]);
    assert_eq!(echo_json(&o)["body"], BODY);
    assert_eq!(echo_json(&o)["method"], "PUT");
    let o = keel(&["request", &url, "--data", &format!("@{}", file.display())]);
    assert_eq!(echo_json(&o)["body"], BODY);
    assert_eq!(echo_json(&o)["method"], "POST", "a body makes it a POST");

    let mut child = cmd()
        .args(["request", &url, "Content-Type:application/vnd.test+json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(BODY.as_bytes()).expect("write stdin");
    drop(stdin);
    let o = child.wait_with_output().expect("wait");
    assert_eq!(echo_json(&o)["body"], BODY);
    assert_eq!(echo_json(&o)["content_type"], "application/vnd.test+json");

    // Binary bytes out: exactly the server's, no newline appended.
    let o = keel(&["request", &format!("{}/bytes/70000", server.url())]);
    assert!(o.status.success());
    assert_eq!(o.stdout.len(), 70_000);
    assert!(o
        .stdout
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(i as u64)));

    // Invalid JSON is refused before anything is sent.
    let o = keel(&["request", "POST", &url, "--json", "{\"a\":"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--json is not valid JSON"));
}

#[test]
fn request_items_and_url_shorthands() {
    let server = DemoServer::start_background().expect("demo server");
    let port = server.addr().port();
    let short = format!(":{port}/echo");
    let o = keel(&[
        "request",
        &short,
        "name=keel",
        "price:=2.50",
        "big:=123456789012345678901234",
        "tags:=[\"a\",\"b\"]",
        "X-Trace:abc 123",
        "q==a b&c",
        "page==2",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v = echo_json(&o);
    assert_eq!(v["method"], "POST");
    assert_eq!(
        v["body"],
        r#"{"name": "keel", "price": 2.50, "big": 123456789012345678901234, "tags": ["a","b"]}"#
    );
    assert_eq!(v["headers"]["x-trace"][0], "abc 123");
    assert_eq!(v["headers"]["host"][0], format!("localhost:{port}"));
    assert_eq!(
        v["query_pairs"],
        serde_json::json!([["q", "a b&c"], ["page", "2"]])
    );
    assert_eq!(
        v["headers"]["user-agent"][0],
        format!("keel/{}", env!("CARGO_PKG_VERSION"))
    );

    // localhost/path and an explicit method; no body: GET.
    let o = keel(&[
        "request",
        "delete",
        &format!("localhost:{port}/echo"),
        "a==1",
    ]);
    let v = echo_json(&o);
    assert_eq!(v["method"], "DELETE");
    assert_eq!(v["body_length"], 0);

    // --form: urlencoded; with a file item: multipart.
    let o = keel(&["request", "-f", &short, "a=1", "b=x y"]);
    let v = echo_json(&o);
    assert_eq!(v["body"], "a=1&b=x+y");
    assert_eq!(v["content_type"], "application/x-www-form-urlencoded");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("note.txt");
    std::fs::write(&file, b"hello\x00world").expect("write");
    let o = keel(&[
        "request",
        "-f",
        &short,
        "title=report",
        &format!("doc@{}", file.display()),
    ]);
    let v = echo_json(&o);
    let ct = v["content_type"].as_str().unwrap_or_default();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = v["body"].as_str().unwrap_or_default();
    assert!(body.contains("name=\"title\"\r\n\r\nreport\r\n"), "{body}");
    assert!(
        body.contains("name=\"doc\"; filename=\"note.txt\""),
        "{body}"
    );
    assert!(body.contains("Content-Type: text/plain"), "{body}");

    // Bad items are refused with the syntax.
    let o = keel(&["request", &short, "nonsense"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("name:=json"),
        "{}",
        text(&o.stderr)
    );
    let o = keel(&["request", &short, "n:=not-json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("is not JSON"),
        "{}",
        text(&o.stderr)
    );
    let o = keel(&["request", &short, "a=1", "--json", "{}"]);
    assert!(text(&o.stderr).contains("give the body one way"));
}

#[test]
fn print_selection_verbose_and_offline() {
    let server = DemoServer::start_background().expect("demo server");
    let url = format!("{}/items", server.url());
    let o = keel(&["request", "-h", &url]);
    let out = text(&o.stdout);
    assert!(out.starts_with("HTTP/1.1 200 OK\n"), "{out}");
    assert!(out.contains("content-type: application/json\n"), "{out}");
    assert!(out.ends_with("\n\n"), "only the head: {out}");
    let o = keel(&["request", "-p", "Hh", &url, "limit==1"]);
    let out = text(&o.stdout);
    assert!(out.starts_with("GET /items?limit=1 HTTP/1.1\n"), "{out}");
    assert!(out.contains("\nHTTP/1.1 200 OK\n"), "{out}");
    assert!(!out.contains("widget"), "{out}");
    let o = keel(&["request", "-p", "x", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--print"));

    // --offline: nothing is sent (port 1 has no server), signed or not,
    // and secrets never show.
    let o = keel(&[
        "request",
        "--offline",
        "http://127.0.0.1:1/orders",
        "qty:=2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("POST /orders HTTP/1.1\nhost: 127.0.0.1:1\n"),
        "{out}"
    );
    assert!(out.ends_with("\n\n{\"qty\": 2}\n"), "{out}");
    let o = cmd()
        .args([
            "request",
            "--offline",
            "--scheme",
            "bearer",
            "http://127.0.0.1:1/me",
        ])
        .env("KEEL_API_KEY", "tok-very-secret")
        .scanned_output_with(&["tok-very-secret"]);
    let out = text(&o.stdout);
    assert!(out.contains("authorization: <redacted>"), "{out}");
    assert!(!out.contains("tok-very-secret"), "{out}");
    let o = cmd()
        .args([
            "request",
            "--offline",
            "POST",
            "http://127.0.0.1:1/signed/orders",
            "a=1",
        ])
        .env("KEEL_API_KEY", DEMO_API_KEY)
        .env("KEEL_API_SECRET", DEMO_API_SECRET)
        .scanned_output();
    let out = text(&o.stdout);
    assert!(out.contains("api-signature: <redacted>"), "{out}");
    assert!(out.contains("api-timestamp: "), "{out}");
    assert!(!out.contains(DEMO_API_SECRET), "{out}");
}

#[test]
fn exit_codes_and_flag_hints() {
    let server = DemoServer::start_background().expect("demo server");
    let base = server.url();
    let code = |args: &[&str]| keel(args).status.code();
    assert_eq!(code(&["request", &format!("{base}/status/404")]), Some(0));
    assert_eq!(
        code(&["request", "--check-status", &format!("{base}/status/404")]),
        Some(4)
    );
    assert_eq!(
        code(&[
            "request",
            "--check-status",
            "--retries",
            "0",
            &format!("{base}/status/500")
        ]),
        Some(5)
    );
    assert_eq!(
        code(&[
            "request",
            "--check-status",
            &format!("{base}/redirect?to=/health")
        ]),
        Some(3)
    );
    assert_eq!(
        code(&[
            "request",
            "--check-status",
            "-F",
            &format!("{base}/redirect?to=/health")
        ]),
        Some(0)
    );
    let o = keel(&[
        "request",
        "-F",
        "--max-redirects",
        "2",
        &format!("{base}/redirect/5"),
    ]);
    assert_eq!(o.status.code(), Some(6));
    assert!(
        text(&o.stderr).contains("--max-redirects"),
        "{}",
        text(&o.stderr)
    );
    let o = keel(&[
        "request",
        "--timeout",
        "0.2",
        "--retries",
        "0",
        &format!("{base}/slow?ms=3000"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("raise --timeout"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        !text(&o.stderr).contains("with_timeout"),
        "{}",
        text(&o.stderr)
    );
    let o = keel(&["request", "--retries", "1", "http://127.0.0.1:1/"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("could not connect") && err.contains("--retries"),
        "{err}"
    );
    // A stalled body: the read timeout, not the attempt timeout.
    let o = keel(&[
        "request",
        "--read-timeout",
        "0.3",
        &format!("{base}/drip?chunks=3&delay_ms=1&stall_after=1&stall_ms=3000"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("--read-timeout"),
        "{}",
        text(&o.stderr)
    );
}

/// Peak resident memory of a running child, from /proc (VmHWM), polled
/// until it exits.
fn run_measuring_peak_rss(mut c: Command) -> (Output, Option<u64>) {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = None;
    let started = std::time::Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = Some(peak.unwrap_or(0).max(kb));
            }
        }
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < std::time::Duration::from_secs(300) => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child.wait_with_output().expect("wait");
    (out, peak)
}

#[test]
fn download_200_mib_in_constant_memory() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc to read the peak RSS from");
        return;
    }
    let server = DemoServer::start_background().expect("demo server");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("big.bin");
    const N: u64 = 200 << 20;
    let mut c = cmd();
    c.args([
        "request",
        "-d",
        "-o",
        &file.display().to_string(),
        &format!("{}/bytes/{N}?chunk=1048576", server.url()),
    ]);
    let (o, peak_kb) = run_measuring_peak_rss(c);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let peak_kb = peak_kb.expect("VmHWM read");
    eprintln!("peak RSS of `keel request -d` for 200 MiB: {} KiB", peak_kb);
    assert!(peak_kb <= 32 * 1024, "peak RSS {peak_kb} KiB > 32 MiB");
    let meta = std::fs::metadata(&file).expect("file");
    assert_eq!(meta.len(), N);
    // Spot checks across the file (a full compare would dominate the test).
    let mut f = std::fs::File::open(&file).expect("open");
    let mut buf = vec![0u8; 4096];
    for i in 0..50u64 {
        let off = (N / 50) * i + i * 7;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(off)).expect("seek");
        f.read_exact(&mut buf).expect("read");
        assert!(buf
            .iter()
            .enumerate()
            .all(|(j, b)| *b == pattern_byte(off + j as u64)));
    }
    assert!(text(&o.stderr).contains(&format!("saved {N} bytes")));
}

#[test]
fn continue_resumes_with_a_range_and_refuses_error_statuses() {
    let server = DemoServer::start_background().expect("demo server");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("part.bin");
    let partial: Vec<u8> = (0..1000u64).map(pattern_byte).collect();
    std::fs::write(&file, &partial).expect("write");
    let url = format!("{}/bytes/5000", server.url());
    let path = file.display().to_string();
    let o = keel(&["request", "-c", "-o", &path, &url]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("resumed at byte 1000"),
        "{}",
        text(&o.stderr)
    );
    let got = std::fs::read(&file).expect("read");
    assert_eq!(got.len(), 5000);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(i as u64)));
    // Complete already: the server answers 416; nothing changes.
    let o = keel(&["request", "-c", "-o", &path, &url]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&file).expect("read").len(), 5000);
    // An error status saves nothing.
    let missing = dir.path().join("missing.bin");
    let o = keel(&[
        "request",
        "-o",
        &missing.display().to_string(),
        &format!("{}/status/404", server.url()),
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert!(!missing.exists());
    let o = keel(&["request", "-c", &url]);
    assert!(text(&o.stderr).contains("-c/--continue needs -o FILE"));
}

#[test]
fn chunks_are_printed_as_they_arrive() {
    let server = DemoServer::start_background().expect("demo server");
    // 4 chunks, 1.5 s apart: the first must be out long before the end.
    let mut child = cmd()
        .args([
            "request",
            "-S",
            &format!("{}/drip?chunks=4&size=8&delay_ms=1500", server.url()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 8];
    stdout.read_exact(&mut first).expect("first chunk");
    assert_eq!(&first, b"xxxxxxxx");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the first chunk arrived only after the stream ended"
    );
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).expect("rest");
    assert_eq!(rest.len(), 24);
    assert!(child.wait().expect("wait").success());
}

#[test]
fn profiles_name_environment_variables_and_refuse_literal_secrets() {
    let server = DemoServer::start_background().expect("demo server");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("keel.toml"),
        format!(
            "[profiles.demo]\nbase_url = \"{}\"\napi_key_env = \"DEMO_KEY_VAR\"\napi_secret_env = \"DEMO_SECRET_VAR\"\nheaders = {{ \"X-Team\" = \"cli\" }}\n\n[profiles.leaky]\nbase_url = \"{}\"\napi_secret = \"{}\"\n",
            server.url(),
            server.url(),
            LITERAL_SECRET
        ),
    )
    .expect("write keel.toml");
    let sub = dir.path().join("nested/deeper");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let o = cmd()
        .current_dir(&sub)
        .args(["request", "--profile", "demo", "/signed/whoami"])
        .env("DEMO_KEY_VAR", DEMO_API_KEY)
        .env("DEMO_SECRET_VAR", DEMO_API_SECRET)
        .scanned_output();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(echo_json(&o)["key"], DEMO_API_KEY);
    let o = cmd()
        .current_dir(&sub)
        .args(["request", "--profile", "demo", "/echo"])
        .env("DEMO_KEY_VAR", DEMO_API_KEY)
        .env("DEMO_SECRET_VAR", DEMO_API_SECRET)
        .scanned_output();
    assert_eq!(echo_json(&o)["headers"]["x-team"][0], "cli");
    // A variable that is not set, a literal secret, an unknown profile.
    let o = cmd()
        .current_dir(&sub)
        .args(["request", "--profile", "demo", "/echo"])
        .env_remove("DEMO_KEY_VAR")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("DEMO_KEY_VAR, which is not set"),
        "{}",
        text(&o.stderr)
    );
    let o = cmd()
        .current_dir(&sub)
        .args(["request", "--profile", "leaky", "/echo"])
        .scanned_output_with(&[LITERAL_SECRET]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("literal `api_secret`") && err.contains("api_secret_env"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    let o = cmd()
        .current_dir(&sub)
        .args(["request", "--profile", "nope", "/echo"])
        .output()
        .expect("run");
    assert!(text(&o.stderr).contains("has no profile \"nope\" (it has: demo, leaky)"));
}

#[test]
fn completions_and_man_page_generate() {
    for (shell, marker) in [
        ("bash", "_keel()"),
        ("zsh", "#compdef keel"),
        ("fish", "complete -c keel"),
    ] {
        let o = keel(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o.stderr));
        let s = text(&o.stdout);
        assert!(s.contains(marker), "{shell}: {s:.200}");
        assert!(
            s.contains("check-status"),
            "{shell} completes request flags"
        );
    }
    let o = keel(&["man"]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout).starts_with(".ie"),
        "{:.200}",
        text(&o.stdout)
    );
    assert!(text(&o.stdout).contains(".TH keel"));
    let o = keel(&["man", "request"]);
    assert!(
        text(&o.stdout).contains("check\\-status"),
        "{:.300}",
        text(&o.stdout)
    );
    assert_eq!(keel(&["man", "nope"]).status.code(), Some(1));
}

/// Runs `keel ARGS` under a pseudo-terminal with `script`; `None` (and a
/// printed reason) when `script` is not installed.
fn in_pty(args: &[&str]) -> Option<String> {
    let which = Command::new("script").arg("--version").output();
    if which.map(|o| !o.status.success()).unwrap_or(true) {
        assert!(
            std::env::var_os("KEEL_REQUIRE_PTY").is_none(),
            "KEEL_REQUIRE_PTY is set but `script` (util-linux) is not installed"
        );
        eprintln!("skipped: `script` (util-linux) is not installed; apt-get install bsdutils");
        return None;
    }
    let mut line = String::from(env!("CARGO_BIN_EXE_keel"));
    for a in args {
        line.push_str(" '");
        line.push_str(&a.replace('\'', "'\\''"));
        line.push('\'');
    }
    let o = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env_remove("KEEL_API_KEY")
        .env_remove("KEEL_API_SECRET")
        .env_remove("KEEL_PROFILE")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "120")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(text(&o.stdout))
}

#[test]
fn a_terminal_gets_colors_pretty_json_and_a_progress_bar() {
    let server = DemoServer::start_background().expect("demo server");
    let Some(out) = in_pty(&[
        "request",
        &format!("{}/echo", server.url()),
        "big:=123456789012345678901234",
        "z=1",
    ]) else {
        return;
    };
    assert!(out.contains("\x1b["), "colors on a terminal: {out:?}");
    assert!(out.contains("HTTP/1.1 200 OK"), "{out:?}");
    // Pretty-printed, in the server's key order, the number untouched.
    assert!(out.contains("123456789012345678901234"), "{out:?}");
    assert!(out.contains("\r\n    \x1b["), "indented members: {out:?}");
    // A binary body is refused with a hint.
    let Some(out) = in_pty(&["request", &format!("{}/bytes/4096", server.url())]) else {
        return;
    };
    assert!(out.contains("binary data not shown"), "{out:?}");
    assert!(out.contains("-o FILE"), "{out:?}");
    // --pretty=none: no colors.
    let Some(out) = in_pty(&[
        "request",
        "--pretty",
        "none",
        &format!("{}/health", server.url()),
    ]) else {
        return;
    };
    assert!(!out.contains("\x1b["), "{out:?}");
    // A download draws a progress bar on the terminal.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("p.bin");
    let Some(out) = in_pty(&[
        "request",
        "-d",
        "-o",
        &file.display().to_string(),
        &format!("{}/bytes/3000000?chunk=100000&delay_ms=20", server.url()),
    ]) else {
        return;
    };
    assert!(
        out.contains("2.86 MiB/2.86 MiB"),
        "the finished bar: {out:?}"
    );
    assert!(out.contains('█'), "{out:?}");
    assert_eq!(std::fs::metadata(&file).expect("file").len(), 3_000_000);
}

/// A one-connection HTTP/1.1 server on loopback that streams two
/// server-sent events and sends the second only after `go` fires, so the
/// test can show the first was printed before the stream ended (no timing).
fn sse_server(go: std::sync::mpsc::Receiver<()>) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
            match conn.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let chunk = |s: &str| format!("{:x}\r\n{s}\r\n", s.len());
        let _ = conn.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        let _ = conn.write_all(chunk("event: tick\ndata: {\"n\":1}\n\n").as_bytes());
        let _ = conn.flush();
        // Wait (bounded) for the test to have seen the first event.
        let _ = go.recv_timeout(std::time::Duration::from_secs(60));
        let _ = conn.write_all(chunk("event: tick\ndata: {\"n\":2}\n\n").as_bytes());
        let _ = conn.write_all(b"0\r\n\r\n");
        let _ = conn.flush();
    });
    (url, handle)
}

#[test]
fn server_sent_events_are_printed_as_they_arrive() {
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let (url, server) = sse_server(go_rx);
    // No -S: text/event-stream streams by itself.
    let mut child = cmd()
        .args(["request", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let first = b"event: tick\ndata: {\"n\":1}\n\n";
    let mut got = vec![0u8; first.len()];
    stdout.read_exact(&mut got).expect("the first event");
    assert_eq!(got, first);
    // The server has not sent the second event yet: the stream is open.
    go_tx.send(()).expect("release the second event");
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).expect("rest");
    assert_eq!(rest, b"event: tick\ndata: {\"n\":2}\n\n");
    assert!(child.wait().expect("wait").success());
    server.join().expect("server thread");
}

#[test]
fn server_sent_events_stream_on_a_terminal_too() {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("KEEL_REQUIRE_PTY").is_none(),
            "KEEL_REQUIRE_PTY is set but `script` (util-linux) is not installed"
        );
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let (url, server) = sse_server(go_rx);
    let line = format!("{} request '{url}'", env!("CARGO_BIN_EXE_keel"));
    let mut child = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // On a terminal a JSON body would be collected and formatted; an event
    // stream is printed as it arrives.
    for _ in 0..10_000 {
        if text(&seen).contains("{\"n\":1}") {
            break;
        }
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    assert!(text(&seen).contains("{\"n\":1}"), "{:?}", text(&seen));
    assert!(!text(&seen).contains("{\"n\":2}"), "{:?}", text(&seen));
    go_tx.send(()).expect("release the second event");
    stdout.read_to_end(&mut seen).expect("rest");
    assert!(text(&seen).contains("{\"n\":2}"), "{:?}", text(&seen));
    assert!(child.wait().expect("wait").success());
    server.join().expect("server thread");
}

#[test]
fn generate_lists_the_crates_features() {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keel-codegen/tests/specs/features.yaml"
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("shop");
    let o = keel(&["generate", spec, "-o", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("cargo features (one per tag, all on by default; `default-features = false, features = [..]` picks some): pets (2 operations), store (2 operations), users (1 operation), type (1 operation), keel_2 (1 operation), default-tag (1 operation)\n"),
        "{stdout}"
    );
    let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(cargo.contains("\n[features]\n"), "{cargo}");
}

#[test]
fn generate_reports_paginated_operations_and_event_streams() {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keel-codegen/tests/specs/paging.yaml"
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("paging");
    let o = keel(&["generate", spec, "-o", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    for line in [
        "paginated: listByCursor (cursor `cursor` from `next_cursor`): paginate()\n",
        "paginated: listCharges (has_more + starting_after): paginate()\n",
        "paginated: listCustom (cursor `from` from `continue_at`): paginate()\n",
        "paginated: listLinked (Link: rel=\"next\"): paginate()\n",
        "server-sent events: watchItems: events()\n",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    assert_eq!(stdout.matches("paginated: ").count(), 6, "{stdout}");
    assert!(
        !stdout.contains("searchOnce"),
        "x-keel-pagination: false: {stdout}"
    );
    assert!(!stdout.contains("createItems"), "a POST: {stdout}");
}
