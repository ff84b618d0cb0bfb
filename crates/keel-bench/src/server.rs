//! The demo server as a separate process, pinned to core 0 where `taskset`
//! exists, so the server and the clients do not compete for one core.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// What the server prints first on stdout: `listening <port>`.
const READY: &str = "listening ";

/// `keel-bench --server`: serves the demo API on `127.0.0.1:0` on a
/// single-threaded runtime, prints the port, and stops when stdin closes
/// (when the parent exits, or drops its end).
pub fn run() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the server runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{READY}{port}")?;
            out.flush()?;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let mut buf = [0u8; 64];
                let mut stdin = std::io::stdin().lock();
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
                let _ = tx.send(());
            })?;
        keel_demo::serve(listener, async {
            let _ = rx.await;
        })
        .await?;
        Ok(())
    })
}

/// The server child process; stopped (stdin closed, then killed if needed)
/// when dropped.
pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// The CPU list it is pinned to, if pinned.
    pub pinned_to: Option<String>,
}

impl ServerProcess {
    /// Starts `<this exe> --server`, under `taskset -c <cpu>` when `cpu` is given.
    pub fn spawn(cpu: Option<&str>) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.arg("--server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .context("cannot start the demo server process")?;
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            bail!("the server process has no stdout");
        };
        // Read the port on a helper thread so a stuck server cannot hang us.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(r);
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => {
                let _ = child.kill();
                return Err(e).context("cannot read the server's port");
            }
            Err(_) => {
                let _ = child.kill();
                bail!("the server did not report its port within 20 s");
            }
        };
        let port = line
            .trim()
            .strip_prefix(READY)
            .and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            bail!("unexpected first line from the server: {line:?}");
        };
        Ok(ServerProcess {
            child,
            stdin,
            port,
            pinned_to: cpu.map(str::to_owned),
        })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
