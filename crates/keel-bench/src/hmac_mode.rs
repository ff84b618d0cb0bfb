//! `keel-bench --hmac N` / `--hmac-keyed N` / `--hmac-post N`: N bare
//! HMAC-SHA256 signatures of the string a signed `GET /bench` signs under
//! Keel's default scheme, `keel-v2` (`timestamp \n nonce \n GET \n /bench
//! \n`, 42 bytes with a 13-digit timestamp and a 16-digit nonce), or for
//! `--hmac-post` a signed `POST /bench` with the bench's 300-byte body (343
//! bytes), with the demo secret. Run under
//! callgrind beside the contenders (`scripts/instructions.sh`), the
//! marginal count per signature is the floor for what signing can cost in
//! that run: under valgrind SHA-256 runs without the SHA-NI instructions.
//!
//! - `--hmac`: the HMAC keyed once, its keyed state cloned per signature
//!   (two SHA-256 compressions for this short string). This is the
//!   baseline of the target (Keel pre-keys once per client family).
//! - `--hmac-keyed`: `Hmac::new_from_slice` per signature (four
//!   compressions), what an implementation that keys per request pays.
//! - `--hmac-post`: keyed once, over the POST's string to sign (six + one
//!   compressions).

use std::hint::black_box;

use anyhow::{Context, Result};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The string to sign of one signed `GET /bench`.
pub const STRING_TO_SIGN: &str = "1700000000123\n1700000000123456\nGET\n/bench\n";

/// The string to sign of one signed `POST /bench` with the bench's body.
pub fn post_string_to_sign() -> String {
    format!(
        "1700000000123\n1700000000123456\nPOST\n/bench\n{}",
        crate::contenders::POST_BODY
    )
}

/// Computes `n` signatures of `msg`; `keyed_each` keys the HMAC for every
/// one. Returns the last tag's first byte (so nothing is optimised away).
pub fn run(n: usize, keyed_each: bool, msg: &[u8]) -> Result<u8> {
    let secret = keel_demo::DEMO_API_SECRET.as_bytes();
    let keyed = Hmac::<Sha256>::new_from_slice(secret).context("HMAC rejected the key")?;
    let msg = black_box(msg);
    let mut last = 0u8;
    for _ in 0..n {
        let mut mac = if keyed_each {
            Hmac::<Sha256>::new_from_slice(black_box(secret)).context("HMAC rejected the key")?
        } else {
            black_box(&keyed).clone()
        };
        mac.update(msg);
        let tag = mac.finalize().into_bytes();
        last = black_box(tag[0]);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strings_to_sign_have_the_lengths_the_docs_state() {
        assert_eq!(STRING_TO_SIGN.len(), 42);
        assert_eq!(post_string_to_sign().len(), 343);
    }
}
