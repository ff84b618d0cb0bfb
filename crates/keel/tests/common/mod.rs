//! Helpers shared by Keel's integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

pub mod prop;
pub mod secrets;

/// The JSON `/echo` answered with.
pub fn echo(resp: &keel::Response<impl std::fmt::Debug>) -> Value {
    assert_eq!(resp.status, 200, "echo answered {resp:?}");
    resp.json::<Value>().expect("echo answers JSON")
}

/// The values `/echo` saw for one header (lower-case name).
pub fn header_values(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The one value `/echo` saw for a header, failing if it saw none or several.
pub fn header(echo: &Value, name: &str) -> String {
    let values = header_values(echo, name);
    assert_eq!(values.len(), 1, "header {name}: {values:?} in {echo}");
    values[0].clone()
}

/// A loopback TCP forwarder in front of `target` that counts the connections
/// it accepts: evidence of connection reuse that does not depend on the
/// server's cooperation. Threads are bounded: one acceptor plus two per
/// connection; everything stops when the listener is dropped with the test
/// process, and each copy loop ends when either side closes.
pub struct CountingProxy {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl CountingProxy {
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        thread::spawn(move || {
            // At most 64 connections: every test here opens a handful.
            for stream in listener.incoming().take(64) {
                let Ok(client) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                thread::spawn(move || pipe(client, server));
                thread::spawn(move || pipe(s2, c2));
            }
        });
        CountingProxy { addr, accepted }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = from.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A path in the temp directory unique to this process and `name`.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("keel-test-{}-{name}", std::process::id()))
}

/// A tiny HTTP proxy on loopback, for tests: `CONNECT host:port` opens a
/// tunnel; any other request (absolute-form, as sent to a forwarding proxy)
/// is forwarded to the host it names. It records the first request line of
/// each connection and whether it carried `Proxy-Authorization`, then only
/// copies bytes. Bounded: at most 64 connections, each copy loop ends when a
/// side closes or after 30 s without data.
pub struct TinyProxy {
    addr: SocketAddr,
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
}

/// What the proxy saw of one connection: its first request line and the
/// `Proxy-Authorization` value, if any.
pub type Seen = (String, Option<String>);

impl TinyProxy {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming().take(64) {
                let Ok(client) = stream else { continue };
                let log = log.clone();
                thread::spawn(move || {
                    let _ = proxy_one(client, &log);
                });
            }
        });
        TinyProxy { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `(first request line, Proxy-Authorization value)` per connection.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn proxy_one(mut client: TcpStream, log: &std::sync::Mutex<Vec<Seen>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // Read the head byte by byte up to the blank line (heads are small).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default().to_owned();
    let auth = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.trim().to_owned());
    log.lock().unwrap().push((first.clone(), auth));
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    if method == "CONNECT" {
        let upstream = TcpStream::connect(target)?;
        client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
        splice(client, upstream);
        return Ok(());
    }
    let rest = target.strip_prefix("http://").unwrap_or(target);
    let host = rest.split('/').next().unwrap_or_default();
    let mut upstream = TcpStream::connect(host)?;
    // A proxy's credentials are for the proxy: not forwarded.
    let forwarded: String = text
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("proxy-authorization:"))
        .collect();
    upstream.write_all(forwarded.as_bytes())?;
    splice(client, upstream);
    Ok(())
}

fn splice(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    thread::spawn(move || pipe(a, b2));
    pipe(b, a2);
}
