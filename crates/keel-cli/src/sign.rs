//! `keel sign`: print the signed request that would be sent, without
//! sending it; and the signing options shared with `keel request`.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel::signing::recipe::{self, HmacRecipe, SecretEncoding, TimestampFormat};
use keel::signing::rfc9421::{Algorithm, Created, Expires, NonceParam, Rfc9421};
use keel::signing::{Credentials, NonceCounter, PrivateKey, Scheme, SigningRequest};
use keel::{HeaderMap, Method, Url};

/// The signing options shared by `keel sign` and `keel request`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemeArgs {
    /// Signing scheme: default (keel-v2), keel-v1, kraken, binance,
    /// coinbase-exchange (alias coinbase), coinbase-cdp, okx, bybit, kucoin,
    /// gate, rfc9421, aws-sigv4 (when built with that feature), or bearer,
    /// basic, api-key (key only).
    #[arg(long, default_value = "default")]
    pub scheme: String,
    /// Credentials placed elsewhere than the scheme's own header (an API key
    /// that a document's security scheme sends in the query or a cookie):
    /// redacted wherever the request is printed.
    #[arg(skip)]
    pub redact: Vec<String>,
    /// The API key.
    #[arg(long, env = "KEEL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The API secret (prefer the KEEL_API_SECRET environment variable: a
    /// secret on the command line lands in shell history and `ps`).
    #[arg(long, env = "KEEL_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// The API passphrase (coinbase-exchange, okx, kucoin).
    #[arg(long, env = "KEEL_API_PASSPHRASE", hide_env_values = true)]
    pub passphrase: Option<String>,
    /// A private key file (PEM or DER: PKCS#8, encrypted PKCS#8, PKCS#1,
    /// SEC1) for binance, coinbase-cdp and rfc9421; its type decides the
    /// algorithm. A PEM given as the API secret is read the same way.
    #[arg(long, env = "KEEL_PRIVATE_KEY_FILE")]
    pub private_key: Option<std::path::PathBuf>,
    /// The passphrase of an encrypted PKCS#8 private key (prefer the
    /// environment variable).
    #[arg(long, env = "KEEL_PRIVATE_KEY_PASSPHRASE", hide_env_values = true)]
    pub private_key_passphrase: Option<String>,
    /// The receive window in milliseconds (binance: `recvWindow`; bybit:
    /// `X-BAPI-RECV-WINDOW`, default 5000).
    #[arg(long)]
    pub recv_window: Option<u64>,
    /// The header carrying the key for the default scheme.
    #[arg(long, default_value = keel::DEFAULT_AUTH_HEADER_NAME)]
    pub auth_header_name: String,
    /// How the secret is decoded: raw, base64 or hex (default: the scheme's
    /// own).
    #[arg(long, value_parser = ["raw", "base64", "hex"])]
    pub secret_encoding: Option<String>,
    /// RFC 9421: covered components, e.g. '"@method" "@authority" "content-type";sf'.
    #[arg(long)]
    pub components: Option<String>,
    /// RFC 9421: the `created` parameter (seconds since the epoch).
    #[arg(long)]
    pub created: Option<u64>,
    /// RFC 9421: the `expires` parameter (seconds since the epoch).
    #[arg(long)]
    pub expires: Option<u64>,
    /// RFC 9421: the `keyid` parameter.
    #[arg(long)]
    pub key_id: Option<String>,
    /// RFC 9421: the signature label.
    #[arg(long, default_value = "sig1")]
    pub label: String,
    /// RFC 9421: the algorithm (default: the key decides — hmac-sha256 for
    /// a secret, ed25519 / ecdsa-p256-sha256 / rsa-v1_5-sha256 /
    /// rsa-pss-sha512 for a private key).
    #[arg(long, value_parser = ["hmac-sha256", "ed25519", "ecdsa-p256-sha256", "rsa-v1_5-sha256", "rsa-pss-sha512"])]
    pub alg: Option<String>,
    /// RFC 9421: send the `alg` parameter (off by default, as in the RFC's
    /// examples).
    #[arg(long)]
    pub alg_param: bool,
    /// RFC 9421: the `tag` parameter (`--tag` filters `keel call --list`).
    #[arg(long = "sig-tag", id = "sig_tag", value_name = "TAG")]
    pub tag: Option<String>,
    /// RFC 9421: add a Content-Digest (sha-256 or sha-512) for the body.
    #[arg(long, value_parser = ["sha-256", "sha-512"])]
    pub content_digest: Option<String>,
    /// AWS SigV4: the region.
    #[arg(long)]
    pub region: Option<String>,
    /// AWS SigV4: the service name.
    #[arg(long)]
    pub service: Option<String>,
    /// The nonce: a fixed number (kraken), or the RFC 9421 `nonce` parameter.
    #[arg(long)]
    pub nonce: Option<String>,
}

impl SchemeArgs {
    /// Warns on stderr when a secret came from the command line.
    pub fn warn_about_command_line_secrets(&self) {
        for (flag, var) in [
            ("--api-secret", "API_SECRET"),
            ("--passphrase", "API_PASSPHRASE"),
            ("--private-key-passphrase", "PRIVATE_KEY_PASSPHRASE"),
        ] {
            let given = std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
            if given {
                eprintln!(
                    "keel: warning: {flag} on the command line is visible in shell history and to other users (ps); prefer the KEEL_{var} environment variable"
                );
            }
        }
    }

    fn secret_encoding(&self) -> Option<SecretEncoding> {
        self.secret_encoding.as_deref().map(|e| match e {
            "base64" => SecretEncoding::Base64,
            "hex" => SecretEncoding::Hex,
            _ => SecretEncoding::Raw,
        })
    }

    fn recipe(&self, r: HmacRecipe) -> HmacRecipe {
        match self.secret_encoding() {
            Some(e) => r.secret_encoding(e),
            None => r,
        }
    }

    /// The scheme these options describe.
    pub fn scheme(&self) -> Result<Scheme, String> {
        if self.recv_window.is_some() && !matches!(self.scheme.as_str(), "binance" | "bybit") {
            return Err(format!(
                "--recv-window applies to binance and bybit, not {}",
                self.scheme
            ));
        }
        Ok(match self.scheme.as_str() {
            "default" | "keel-v2" => Scheme::hmac(self.recipe(HmacRecipe::keel_default())),
            "keel-v1" => Scheme::hmac(self.recipe(HmacRecipe::keel_v1())),
            "kraken" => Scheme::hmac(self.recipe(HmacRecipe::kraken())),
            "binance" => {
                let mut r = HmacRecipe::binance();
                if let Some(w) = self.recv_window {
                    r = r.recv_window(w);
                }
                Scheme::hmac(self.recipe(r))
            }
            "coinbase" | "coinbase-exchange" => {
                Scheme::hmac(self.recipe(HmacRecipe::coinbase_exchange()))
            }
            "coinbase-cdp" => Scheme::coinbase_cdp(),
            "okx" => Scheme::hmac(self.recipe(HmacRecipe::okx())),
            "bybit" => Scheme::hmac(self.recipe(HmacRecipe::bybit(
                self.recv_window.unwrap_or(5000),
            ))),
            "kucoin" => Scheme::hmac(self.recipe(HmacRecipe::kucoin())),
            "gate" => Scheme::hmac(self.recipe(HmacRecipe::gate())),
            "bearer" => Scheme::bearer(),
            "basic" => Scheme::basic(),
            "api-key" => Scheme::api_key_header(),
            "rfc9421" => Scheme::rfc9421(self.rfc9421()?),
            "aws-sigv4" => self.aws()?,
            other => {
                return Err(format!(
                    "unknown scheme {other:?}; use default, keel-v1, kraken, binance, coinbase-exchange, coinbase-cdp, okx, bybit, kucoin, gate, rfc9421, aws-sigv4, bearer, basic or api-key"
                ))
            }
        })
    }

    #[cfg(feature = "aws-sigv4")]
    fn aws(&self) -> Result<Scheme, String> {
        let region = self.region.clone().ok_or("aws-sigv4 needs --region")?;
        let service = self.service.clone().ok_or("aws-sigv4 needs --service")?;
        Ok(Scheme::aws_sigv4(region, service))
    }

    #[cfg(not(feature = "aws-sigv4"))]
    fn aws(&self) -> Result<Scheme, String> {
        let _ = (&self.region, &self.service);
        Err("this keel was built without the aws-sigv4 feature (cargo install keel-http-cli --features aws-sigv4)".into())
    }

    fn rfc9421(&self) -> Result<Rfc9421, String> {
        let mut r = match self.alg.as_deref() {
            Some(a) => Rfc9421::with_algorithm(
                Algorithm::from_name(a)
                    .ok_or_else(|| format!("unknown --alg {a}; use one of {}", Algorithm::NAMES))?,
            ),
            None => Rfc9421::new(),
        }
        .label(self.label.clone())
        .include_alg(self.alg_param);
        if let Some(c) = &self.components {
            r = r.component_list(
                Rfc9421::parse_components(c).map_err(|e| format!("--components: {e}"))?,
            );
        }
        if let Some(t) = self.created {
            r = r.created(Created::At(t));
        }
        if let Some(t) = self.expires {
            r = r.expires(Some(Expires::At(t)));
        }
        if let Some(k) = &self.key_id {
            r = r.key_id(k.clone());
        }
        if let Some(t) = &self.tag {
            r = r.tag(t.clone());
        }
        if let Some(n) = &self.nonce {
            r = r.nonce(NonceParam::Fixed(n.clone()));
        }
        if let Some(d) = &self.content_digest {
            r = r.content_digest(if d == "sha-512" {
                recipe::Digest::Sha512
            } else {
                recipe::Digest::Sha256
            });
        }
        if let Some(e) = self.secret_encoding() {
            r = r.secret_encoding(e);
        }
        Ok(r)
    }

    /// The numeric nonce, for schemes that use one.
    fn numeric_nonce(&self) -> Result<Option<u64>, String> {
        match (&self.nonce, self.scheme.as_str()) {
            (Some(_), "rfc9421") | (None, _) => Ok(None),
            (Some(n), _) => n
                .parse()
                .map(Some)
                .map_err(|_| format!("--nonce must be a non-negative integer, got {n:?}")),
        }
    }

    /// The private key from `--private-key`, if given.
    pub fn private_key(&self) -> Result<Option<PrivateKey>, String> {
        let Some(path) = &self.private_key else {
            return Ok(None);
        };
        let key = match &self.private_key_passphrase {
            Some(p) => PrivateKey::from_file_with_passphrase(path, p),
            None => PrivateKey::from_file(path),
        };
        key.map(Some).map_err(|e| e.to_string())
    }

    /// An authenticated client builder for `base`, when a key is given.
    pub fn client_builder(
        &self,
        base: &str,
    ) -> Result<Option<keel::HttpAuthenticatedClientBuilder>, String> {
        let Some(key) = &self.api_key else {
            return Ok(None);
        };
        let mut b = keel::HttpAuthenticatedClient::builder(base)
            .api_key(key.clone())
            .auth_header_name(self.auth_header_name.clone())
            .scheme(self.scheme()?);
        if let Some(s) = &self.api_secret {
            b = b.api_secret(s.clone());
        }
        if let Some(p) = &self.passphrase {
            b = b.passphrase(p.clone());
        }
        if let Some(k) = self.private_key()? {
            b = b.private_key(k);
        }
        Ok(Some(b))
    }
}

/// Arguments of `keel sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// The full URL (with any query).
    #[arg(long)]
    pub url: String,
    /// The body, sent as is.
    #[arg(long, short = 'd')]
    pub data: Option<String>,
    /// A header, 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The time to sign at: milliseconds since the epoch, or ISO-8601 UTC
    /// (2020-12-08T09:08:57.715Z). Default: now.
    #[arg(long)]
    pub timestamp: Option<String>,
    /// Print the string to sign on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

/// Parses `-H 'Name: value'` lines into a header map.
pub fn parse_headers(lines: &[String]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for line in lines {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| format!("header {line:?} is not 'Name: value'"))?;
        let name = keel::http::header::HeaderName::from_bytes(n.trim().as_bytes())
            .map_err(|_| format!("{:?} is not a valid header name", n.trim()))?;
        let value = keel::HeaderValue::from_str(v.trim()).map_err(|_| {
            format!(
                "the value of header {:?} is not a valid header value",
                n.trim()
            )
        })?;
        map.append(name, value);
    }
    Ok(map)
}

fn parse_time(t: &str) -> Result<SystemTime, String> {
    if let Ok(ms) = t.parse::<u64>() {
        return Ok(UNIX_EPOCH + Duration::from_millis(ms));
    }
    recipe::parse_timestamp(t, TimestampFormat::Iso8601Millis).ok_or_else(|| {
        format!("--timestamp {t:?} is neither milliseconds since the epoch nor ISO-8601 UTC (2020-12-08T09:08:57.715Z)")
    })
}

fn sign(args: &SignArgs) -> Result<(), String> {
    args.scheme.warn_about_command_line_secrets();
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{:?} is not an HTTP method", args.method))?;
    let mut url = Url::parse(&args.url).map_err(|e| format!("--url {:?}: {e}", args.url))?;
    let mut headers = parse_headers(&args.headers)?;
    let body = args.data.clone().unwrap_or_default().into_bytes();
    let timestamp = match &args.timestamp {
        Some(t) => parse_time(t)?,
        None => SystemTime::now(),
    };
    let nonce = match args.scheme.numeric_nonce()? {
        Some(n) => n,
        None => NonceCounter::new().next(),
    };
    let scheme = args.scheme.scheme()?;
    // RFC 9421 names its key with `keyid`; every other scheme sends the key.
    let key = match (&args.scheme.api_key, args.scheme.scheme.as_str()) {
        (Some(k), _) => k.clone(),
        (None, "rfc9421") => args.scheme.key_id.clone().unwrap_or_default(),
        (None, _) => return Err("an API key is needed: --api-key or KEEL_API_KEY".into()),
    };
    let header_name =
        keel::http::header::HeaderName::from_bytes(args.scheme.auth_header_name.as_bytes())
            .map_err(|_| {
                format!(
                    "{:?} is not a valid header name",
                    args.scheme.auth_header_name
                )
            })?;
    let mut creds = Credentials::new(
        key,
        args.scheme.api_secret.clone().map(String::into_bytes),
        header_name,
    );
    if let Some(p) = &args.scheme.passphrase {
        creds = creds.with_passphrase(p.clone());
    }
    let private_key = args.scheme.private_key()?;
    if let Some(k) = private_key.clone() {
        creds = creds.with_private_key(k);
    }
    if scheme.signer().requires_secret()
        && args.scheme.api_secret.is_none()
        && private_key.is_none()
    {
        return Err(
            "this scheme needs an API secret (KEEL_API_SECRET or --api-secret) or a private key (--private-key FILE)"
                .into(),
        );
    }
    scheme
        .signer()
        .check_credentials(&creds)
        .map_err(|e| e.to_string())?;
    let mut req = SigningRequest::new(&method, &mut url, &mut headers, &body, timestamp, nonce)
        .capture_string_to_sign(args.verbose);
    scheme
        .signer()
        .sign(&mut req, &creds)
        .map_err(|e| e.to_string())?;
    if let Some(s) = req.string_to_sign() {
        eprintln!("string to sign ({} bytes):", s.len());
        eprintln!("{}", printable(s));
    }
    let body = req.replaced_body().map(<[u8]>::to_vec).unwrap_or(body);
    let mut out = std::io::stdout().lock();
    let mut text = format!("{method} {url}\n");
    for (n, v) in &headers {
        text.push_str(&format!(
            "{}: {}\n",
            n,
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    if !body.is_empty() {
        text.push('\n');
    }
    out.write_all(text.as_bytes())
        .and_then(|_| out.write_all(&body))
        .and_then(|_| {
            if body.is_empty() {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .map_err(|e| format!("cannot write the output: {e}"))
}

/// Bytes as text; bytes that are not printable ASCII as `\xNN`.
fn printable(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b == b'\\' {
            s.push_str("\\\\");
        } else if b == b'\n' || (0x20..0x7f).contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// Runs `keel sign`.
pub fn run(args: SignArgs) -> ExitCode {
    match sign(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keel sign: {e}");
            ExitCode::FAILURE
        }
    }
}
