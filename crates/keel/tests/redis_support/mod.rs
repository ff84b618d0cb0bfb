//! A real Redis server for tests: Debian's `redis-server`, started on a free
//! loopback port with persistence off, stopped when dropped.
//!
//! When no `redis-server` binary is found the tests skip, saying so — unless
//! `KEEL_REQUIRE_REDIS=1` is set (as `.ci/run` does after installing it),
//! where a missing server is a failure.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KEEL_REDIS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            "/usr/bin".into(),
            "/usr/sbin".into(),
            "/usr/local/bin".into(),
        ])
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Sends `PING` and waits for `+PONG`, within `within`.
fn pong(port: u16, within: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), within) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(within));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl RedisServer {
    /// Starts a server, or returns `None` (after printing why) when there is
    /// no `redis-server` to start.
    pub fn start(test: &str) -> Option<RedisServer> {
        let Some(bin) = binary() else {
            if std::env::var_os("KEEL_REQUIRE_REDIS").is_some_and(|v| v == "1") {
                panic!("{test}: KEEL_REQUIRE_REDIS=1 but no redis-server was found (apt-get install redis-server)");
            }
            eprintln!("skipping {test}: no redis-server binary (install Debian's redis-server, or set KEEL_REDIS_SERVER)");
            return None;
        };
        // A port that was free a moment ago may be taken by the time Redis
        // binds it: a few tries.
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--dir", &std::env::temp_dir().to_string_lossy()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let mut server = RedisServer {
                child: Some(child),
                port,
            };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if pong(port, Duration::from_millis(200)) {
                    return Some(server);
                }
                if let Some(c) = server.child.as_mut() {
                    if let Ok(Some(_)) = c.try_wait() {
                        break; // exited: the port was taken
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            server.kill();
        }
        panic!("{test}: redis-server did not start on a loopback port in 5 tries");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers,
    /// so calls time out.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Stops the server for good (connections are refused from then on).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
