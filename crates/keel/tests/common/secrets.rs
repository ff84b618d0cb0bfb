//! The secret scan: a test that handles secrets makes a [`SecretScan`] with
//! the secrets it uses, runs, passes every error and formatted value it
//! sees through [`SecretScan::check`] / [`SecretScan::error`], and ends
//! with [`SecretScan::finish`], which scans every log line captured while
//! the test ran. A secret (raw, hex, base64 or percent-encoded) anywhere
//! fails the test, so a future leak into a log field, an error message or a
//! `Debug` impl is caught where it is introduced.
//!
//! Log capture: the first scan in a test binary installs a global `tracing`
//! subscriber at TRACE level with span open/close events (so span fields
//! are printed too), writing into one buffer. Tests of one binary run in
//! parallel, so a scan also sees other tests' lines: that only makes it
//! stricter.

use std::fmt;
use std::io;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<bool> = OnceLock::new();

#[derive(Clone, Copy)]
struct Capture;

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut log = LOG.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a runaway test cannot grow the buffer past 256 MiB.
        if log.len() < 256 << 20 {
            log.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        Capture
    }
}

/// Whether this binary's log capture is active (false when another global
/// subscriber was installed first; the scan then says so and fails).
fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_writer(Capture)
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
            .try_init()
            .is_ok()
    })
}

fn log_len() -> usize {
    LOG.lock().unwrap_or_else(|p| p.into_inner()).len()
}

/// The secrets of one test, and where its share of the log starts.
pub struct SecretScan {
    needles: Vec<(String, String)>,
    log_start: usize,
    checked: usize,
    finished: bool,
}

impl SecretScan {
    /// Starts a scan for `secrets` (each also looked for hex-, base64- and
    /// percent-encoded). Secrets shorter than 8 bytes are refused: they
    /// would match by accident.
    pub fn new(secrets: &[&str]) -> Self {
        assert!(
            install(),
            "the secret scan needs its own tracing subscriber, but another was installed first"
        );
        let mut needles = Vec::new();
        for s in secrets {
            assert!(s.len() >= 8, "secret {s:?} is too short to scan for");
            let b = s.as_bytes();
            needles.push((s.to_string(), s.to_string()));
            needles.push((format!("{s} (hex)"), hex::encode(b)));
            needles.push((
                format!("{s} (base64)"),
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(b),
            ));
            let pct = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
            if pct != *s {
                needles.push((format!("{s} (percent-encoded)"), pct));
            }
        }
        SecretScan {
            needles,
            log_start: log_len(),
            checked: 0,
            finished: false,
        }
    }

    fn scan(&self, what: &str, text: &str) {
        for (name, needle) in &self.needles {
            assert!(
                !text.contains(needle.as_str()),
                "{what} shows the secret {name}:\n{text}"
            );
        }
    }

    /// Checks one piece of text a user could see (a formatted value, a
    /// message); `what` names it in the failure.
    pub fn check(&mut self, what: &str, text: impl fmt::Display) {
        self.checked += 1;
        self.scan(what, &text.to_string());
    }

    /// Checks an error: its `Display`, its `Debug` and every `source()` in
    /// its chain.
    pub fn error(&mut self, what: &str, e: &(dyn std::error::Error + 'static)) {
        self.check(what, format_args!("{e} | {e:?}"));
        let mut source = e.source();
        let mut depth = 0;
        while let Some(s) = source {
            self.check(what, format_args!("caused by: {s} | {s:?}"));
            source = s.source();
            depth += 1;
            assert!(depth < 64, "{what}: an error chain of 64 sources");
        }
    }

    /// Checks the `Debug` form of a value.
    pub fn debug(&mut self, what: &str, value: &impl fmt::Debug) {
        self.check(what, format_args!("{value:?}"));
    }

    /// Scans every log line captured since the scan started and returns how
    /// many lines that was, so a test can assert that it logged at all.
    pub fn finish(mut self) -> usize {
        self.finished = true;
        self.scan_log()
    }

    /// The log text captured since the scan started.
    pub fn log_text(&self) -> String {
        let log = LOG.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&log[self.log_start.min(log.len())..]).into_owned()
    }

    fn scan_log(&self) -> usize {
        let mine = self.log_text();
        for (n, line) in mine.lines().enumerate() {
            self.scan(&format!("captured log line {n}"), line);
        }
        mine.lines().count()
    }

    /// How many texts were checked so far.
    pub fn checked(&self) -> usize {
        self.checked
    }
}

impl Drop for SecretScan {
    fn drop(&mut self) {
        // A test that forgets `finish` still gets its log scanned.
        if !self.finished && !std::thread::panicking() {
            self.scan_log();
        }
    }
}

/// What a leak of `bytes` looks like besides the encodings the scan adds
/// itself: hex, base64 (standard and URL-safe) and the `Debug` of the bytes.
pub fn byte_secrets(bytes: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    vec![
        hex::encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
        format!("{bytes:?}"),
    ]
}

/// The secret parts of a private key (PEM or DER): each line of its base64
/// body, its DER bytes, and the EC scalar or Ed25519 seed.
pub fn key_secrets(key: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::STANDARD;
    let der = match std::str::from_utf8(key) {
        Ok(pem) if pem.contains("-----BEGIN") => {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            STANDARD.decode(body).expect("a PEM body is base64")
        }
        _ => key.to_vec(),
    };
    let b64 = STANDARD.encode(&der);
    let mut out: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .filter(|line| line.len() >= 16)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect();
    out.extend(byte_secrets(&der));
    if let Some(scalar) = private_scalar(&der) {
        out.extend(byte_secrets(scalar));
    }
    out
}

/// The EC private scalar (SEC1 `ECPrivateKey`, also inside PKCS#8) or the
/// Ed25519 seed (PKCS#8) of a small key's DER; RSA keys are left whole.
fn private_scalar(der: &[u8]) -> Option<&[u8]> {
    if der.len() > 300 {
        return None;
    }
    der.windows(5).enumerate().find_map(|(i, w)| {
        let (start, len) = match *w {
            [0x04, 0x22, 0x04, 0x20, _] => (i + 4, 32),
            [0x02, 0x01, 0x01, 0x04, len] => (i + 5, usize::from(len)),
            _ => return None,
        };
        der.get(start..start + len)
    })
}
