//! `keel request`'s network flags, run as the built binary: `--proxy`,
//! `--cacert`, `--cert`/`--cert-key` (mutual TLS), `--http-version`,
//! `--connect-timeout`; and the retry defaults of issue 14 (a DNS failure is
//! tried once; `--timeout 1` against a slow endpoint ends after about one
//! second, not after every retry's timeout).
//!
//! Everything runs on loopback (the demo server, plain and TLS, and a
//! recording proxy written here) or against the reserved `.invalid` domain:
//! nothing reaches the internet. Every run of the binary is bounded (it is
//! killed after [`LIMIT`]).

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keel_demo::DemoServer;

/// The longest any one run of the binary may take before it is killed.
const LIMIT: Duration = Duration::from_secs(60);

fn cmd() -> Command {
    let mut c = common::keel_command();
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `keel ARGS` (killed after [`LIMIT`]) and returns its output and how
/// long it ran.
fn keel(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = cmd().args(args).spawn().expect("run keel");
    // Drain stdout and stderr on threads so a chatty child never blocks.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let s = child.wait().expect("wait");
            panic!("keel {args:?} ran longer than {LIMIT:?} and was killed ({s})");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let o = Output {
        status,
        stdout: out_t.join().expect("stdout thread"),
        stderr: err_t.join().expect("stderr thread"),
    };
    (o, elapsed)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&o.stdout),
            text(&o.stderr)
        )
    })
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, contents).expect("write");
    p.display().to_string()
}

/// What the proxy saw of one connection: its first request line and the
/// `Proxy-Authorization` value, if any.
type Seen = (String, Option<String>);

/// A loopback HTTP proxy that records the first request line (and the
/// `Proxy-Authorization` header) of each connection, then forwards it: a
/// `CONNECT` becomes a byte tunnel (TLS stays end to end), any other
/// request (absolute-form) is passed to its host as is. At most 32
/// connections; every read is bounded by a timeout.
struct RecordingProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RecordingProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(32) {
                let Ok(conn) = conn else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = proxy_one(conn, &log);
                });
            }
        });
        RecordingProxy { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("proxy log").clone()
    }
}

fn proxy_one(mut client: TcpStream, log: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 || head.len() > 64 << 10 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head_text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head_text.split("\r\n");
    let first = lines.next().unwrap_or_default().to_owned();
    let auth = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.trim().to_owned());
    log.lock().expect("proxy log").push((first.clone(), auth));
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let upstream_addr = if method == "CONNECT" {
        target.to_owned()
    } else {
        let rest = target.strip_prefix("http://").unwrap_or(target);
        rest.split('/').next().unwrap_or_default().to_owned()
    };
    let mut upstream = TcpStream::connect(upstream_addr)?;
    upstream.set_read_timeout(Some(Duration::from_secs(20)))?;
    if method == "CONNECT" {
        client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    } else {
        // The proxy's credentials are for the proxy: not forwarded.
        let forwarded: String = head_text
            .split_inclusive("\r\n")
            .filter(|l| !l.to_ascii_lowercase().starts_with("proxy-authorization:"))
            .collect();
        upstream.write_all(forwarded.as_bytes())?;
    }
    // Splice both ways until either side closes (or a read times out).
    let (mut c2, mut u2) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
    Ok(())
}

/// `--proxy`: a plain-http request goes to the proxy in absolute form with
/// the proxy's credentials (which the server never sees); an https request
/// goes through a CONNECT tunnel with TLS end to end (HTTP/2 by ALPN through
/// the tunnel); an unreachable proxy is an error that names `--proxy`.
#[test]
fn proxy_sends_the_request_through_a_recording_proxy() {
    let server = DemoServer::start_background().expect("demo server");
    let proxy = RecordingProxy::start();
    let with_auth = format!("http://user:pa%24%24@{}", proxy.addr);
    let (o, _) = keel(&[
        "request",
        "--proxy",
        &with_auth,
        &format!("{}/echo", server.url()),
        "q==1",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = json(&o);
    assert_eq!(e["path"], "/echo");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "one connection through the proxy: {seen:?}");
    assert!(
        seen[0]
            .0
            .starts_with(&format!("GET {}/echo?q=1 HTTP/1.1", server.url())),
        "absolute-form to a forwarding proxy: {seen:?}"
    );
    // The URL's user:pa$$ goes to the proxy in Basic form.
    assert_eq!(seen[0].1.as_deref(), Some("Basic dXNlcjpwYSQk"));

    // Without --proxy (and no proxy in the environment) it goes direct.
    let (o, _) = keel(&["request", &format!("{}/health", server.url())]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(proxy.seen().len(), 1, "{:?}", proxy.seen());

    // https: a CONNECT tunnel, TLS (and ALPN) end to end.
    let tls = DemoServer::start_tls_background().expect("TLS demo server");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = write(dir.path(), "ca.pem", &tls.ca_pem());
    let (o, _) = keel(&[
        "request",
        "--proxy",
        &proxy.url(),
        "--cacert",
        &ca,
        &format!("{}/echo", tls.localhost_url()),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(json(&o)["version"], "HTTP/2");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[1]
            .0
            .starts_with(&format!("CONNECT localhost:{} HTTP/1.1", tls.addr().port())),
        "{seen:?}"
    );

    // A proxy that is not there: the error says which flag to check.
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let (o, _) = keel(&[
        "request",
        "--retries",
        "0",
        "--proxy",
        &dead_url,
        &format!("{}/health", server.url()),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the connection to the proxy failed") && err.contains("--proxy"),
        "the proxy, not the server, is named: {err}"
    );
    assert!(!err.contains("is the server running"), "{err}");
}

/// `--cacert`: without it the TLS demo server's private CA is not trusted,
/// the command fails at once (one attempt: certificate errors are not
/// retried) with an error that names `--cacert`; with it the request
/// succeeds, the host name (`localhost` and `127.0.0.1`) verified too. A
/// CA from another server does not help.
#[test]
fn cacert_trusts_the_demo_servers_private_ca() {
    let server = DemoServer::start_tls_background().expect("TLS demo server");
    let other = DemoServer::start_tls_background().expect("TLS demo server");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = write(dir.path(), "ca.pem", &server.ca_pem());
    let wrong_ca = write(dir.path(), "other-ca.pem", &other.ca_pem());
    let health = format!("{}/health", server.url());

    let (o, _) = keel(&["request", "-v", &health]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert_eq!(
        last.matches("--cacert").count(),
        1,
        "names the flag to use, once: {err}"
    );
    // Not in the error, nor in -v's attempt lines.
    assert!(
        !err.contains("ca_pem") && !err.contains("verify_ssl"),
        "no library method names in the CLI's output: {err}"
    );
    assert_eq!(
        err.matches("* attempt ").count(),
        1,
        "a certificate error is not retried: {err}"
    );

    for url in [&health, &format!("{}/health", server.localhost_url())] {
        let (o, _) = keel(&["request", "--cacert", &ca, url]);
        assert!(o.status.success(), "{url}: {}", text(&o.stderr));
        assert_eq!(json(&o)["status"], "ok");
    }

    let (o, _) = keel(&["request", "--cacert", &wrong_ca, &health]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));

    // A file that is not there is a clear error, before anything is sent.
    let missing = dir.path().join("missing.pem").display().to_string();
    let (o, _) = keel(&["request", "--cacert", &missing, &health]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("missing.pem"),
        "{}",
        text(&o.stderr)
    );
}

/// `--cert`/`--cert-key`: a TLS server that requires a client certificate
/// refuses a client without one and accepts the demo CA's client
/// certificate, given as two files or as one file holding both.
#[test]
fn cert_and_cert_key_present_a_client_certificate() {
    let server = DemoServer::builder()
        .client_auth(true)
        .start_background()
        .expect("mTLS demo server");
    let (cert, key) = server.client_identity_pem().expect("client identity");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = write(dir.path(), "ca.pem", &server.ca_pem());
    let cert_file = write(dir.path(), "client.pem", &cert);
    let key_file = write(dir.path(), "client.key", &key);
    let both = write(dir.path(), "client-and-key.pem", &format!("{cert}{key}"));
    let url = format!("{}/echo", server.url());

    // No client certificate: the server refuses it (exit 1, no response).
    // Only that is asserted: with TLS 1.3 the refusal arrives after the
    // handshake, as a broken pipe or a `CertificateRequired` alert, which
    // the library reports as a transport error (retried, and not naming
    // --cert).
    let (o, _) = keel(&["request", "--retries", "0", "--cacert", &ca, &url]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));

    let (o, _) = keel(&[
        "request",
        "--cacert",
        &ca,
        "--cert",
        &cert_file,
        "--cert-key",
        &key_file,
        &url,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(json(&o)["path"], "/echo");

    let (o, _) = keel(&["request", "--cacert", &ca, "--cert", &both, &url]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(json(&o)["path"], "/echo");

    // --cert-key alone is a usage error (clap: exit 2) naming --cert.
    let (o, _) = keel(&["request", "--cert-key", &key_file, &url]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--cert"), "{}", text(&o.stderr));
}

/// `--http-version`: the server's echo reports the version that arrived.
/// Plain http: HTTP/1.1 by default, HTTP/2 (prior knowledge, h2c) with
/// `--http-version 2`. TLS: HTTP/2 by default (the server offers it by
/// ALPN), HTTP/1.1 with `--http-version 1.1`. `-h` shows the version of
/// the response, and a value that is not 1.1 or 2 is refused.
#[test]
fn http_version_chooses_the_protocol() {
    let plain = DemoServer::start_background().expect("demo server");
    let tls = DemoServer::start_tls_background().expect("TLS demo server");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = write(dir.path(), "ca.pem", &tls.ca_pem());
    let plain_echo = format!("{}/echo", plain.url());
    let tls_echo = format!("{}/echo", tls.url());

    let version = |extra: &[&str], url: &str| {
        let mut args = vec!["request"];
        args.extend_from_slice(extra);
        args.push(url);
        let (o, _) = keel(&args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        json(&o)["version"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(version(&[], &plain_echo), "HTTP/1.1");
    assert_eq!(version(&["--http-version", "2"], &plain_echo), "HTTP/2");
    assert_eq!(version(&["--http-version", "1.1"], &plain_echo), "HTTP/1.1");
    assert_eq!(version(&["--cacert", &ca], &tls_echo), "HTTP/2");
    assert_eq!(
        version(&["--cacert", &ca, "--http-version", "1.1"], &tls_echo),
        "HTTP/1.1"
    );
    assert_eq!(
        version(&["--cacert", &ca, "--http-version", "2"], &tls_echo),
        "HTTP/2"
    );

    // The printed response head names the version that was used.
    let (o, _) = keel(&["request", "-h", "--http-version", "2", &plain_echo]);
    assert!(
        text(&o.stdout).starts_with("HTTP/2.0 200 OK\n"),
        "{}",
        text(&o.stdout)
    );

    let (o, _) = keel(&["request", "--http-version", "3", &plain_echo]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("--http-version") && err.contains("1.1") && err.contains('2'),
        "{err}"
    );
}

/// A loopback listener whose accept queue is full: Linux drops further
/// SYNs, so a connection attempt to it hangs in the handshake until the
/// client gives up. This is a real connect timeout on loopback (a listener
/// that merely never calls `accept` would complete handshakes in the
/// kernel). Returns the address and the connections that fill the queue
/// (keep them alive), or `None` when the queue could not be filled.
fn listener_with_a_full_backlog() -> Option<(SocketAddr, TcpListener, Vec<TcpStream>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let listener = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        // Backlog 1: two connections fill the accept queue.
        socket
            .listen(1)
            .expect("listen")
            .into_std()
            .expect("std listener")
    });
    let addr = listener.local_addr().expect("addr");
    let mut fill = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => fill.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Some((addr, listener, fill));
            }
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    None
}

/// `--connect-timeout`: against a listener whose accept queue is full the
/// TCP handshake never completes; with `--connect-timeout 0.3` the command
/// ends with a connect timeout (exit 2, the message names
/// `--connect-timeout`) well before the 20 s `--timeout`. A value that is
/// not a number, or is negative, is a clear usage error.
#[test]
fn connect_timeout_bounds_the_tcp_handshake() {
    let (o, _) = keel(&["request", "--connect-timeout", "abc", "http://127.0.0.1:1/"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--connect-timeout"),
        "{}",
        text(&o.stderr)
    );
    let (o, _) = keel(&["request", "--connect-timeout=-1", "http://127.0.0.1:1/"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--connect-timeout must be a number of seconds"),
        "{}",
        text(&o.stderr)
    );

    let Some((addr, _listener, _fill)) = listener_with_a_full_backlog() else {
        panic!("could not fill a loopback listener's accept queue (16 connections accepted)");
    };
    let url = format!("http://{addr}/");
    let (o, took) = keel(&[
        "request",
        "--retries",
        "0",
        "--timeout",
        "20",
        "--connect-timeout",
        "0.3",
        &url,
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "a timeout exits 2: {err}");
    assert!(err.contains("--connect-timeout"), "{err}");
    assert!(
        !err.contains("raise --timeout"),
        "the connect timeout, not the attempt timeout: {err}"
    );
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}, the --timeout of 20 s would be the only other bound"
    );
}

/// A DNS failure is tried once (not 3 times, whatever `--retries` says)
/// and reported as a DNS failure. The proof is the attempt count from -v;
/// the time bound is loose because the resolver's speed is not ours.
#[test]
fn a_dns_failure_is_not_retried() {
    for retries in [None, Some("5")] {
        let mut args = vec!["request", "-v"];
        if let Some(n) = retries {
            args.extend(["--retries", n]);
        }
        args.push("http://no-such-host.invalid/health");
        let (o, took) = keel(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.matches("* attempt ").count(), 1, "{args:?}: {err}");
        assert!(!err.contains("retrying"), "{args:?}: {err}");
        assert!(!err.contains("gave up after"), "{args:?}: {err}");
        assert!(
            err.to_lowercase().contains("dns"),
            "{args:?}: says it is a DNS failure: {err}"
        );
        assert!(err.contains("not retried"), "{args:?}: {err}");
        assert!(took < Duration::from_secs(20), "{args:?}: took {took:?}");
    }
}

/// `--timeout 1` against an endpoint that takes 10 s ends after about one
/// second (bound: < 3 s for the whole run; before the fix the default 2
/// retries made it ~3.2 s: one full timeout per attempt), with one attempt,
/// exit 2 and an error naming `--timeout`. With `--deadline` the user has
/// set a total budget, and timed-out attempts are retried within it.
#[test]
fn timeout_one_second_against_a_slow_endpoint_ends_in_about_a_second() {
    let server = DemoServer::start_background().expect("demo server");
    let url = format!("{}/slow?ms=10000", server.url());
    let (o, took) = keel(&["request", "--timeout", "1", &url]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("raise --timeout"), "{err}");
    assert!(!err.contains("gave up after"), "{err}");
    assert!(took >= Duration::from_millis(900), "took {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}: {err}");

    let (o, _) = keel(&["request", "-v", "--timeout", "1", &url]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("* attempt ").count(), 1, "{err}");
    assert!(
        err.contains("a timeout is retried only within --deadline"),
        "{err}"
    );
    assert!(!err.contains("with_timeout"), "{err}");

    // With --deadline, timed-out attempts are retried until it passes.
    let (o, took) = keel(&[
        "request",
        "-v",
        "--retries",
        "10",
        "--timeout",
        "0.3",
        "--deadline",
        "1.5",
        &url,
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.matches("* attempt ").count() >= 2, "{err}");
    assert!(err.contains("raise --deadline"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {err}");
}
