//! Asymmetric keys, in pure Rust (RustCrypto): Ed25519, ECDSA P-256 and RSA.
//!
//! A [`PrivateKey`] is read from PEM or DER in any of the formats keys are
//! handed out in:
//!
//! | format | PEM label |
//! |---|---|
//! | PKCS#8 (Ed25519, P-256, RSA, RSA-PSS) | `-----BEGIN PRIVATE KEY-----` |
//! | passphrase-encrypted PKCS#8 (PBES2: PBKDF2 or scrypt, AES) | `-----BEGIN ENCRYPTED PRIVATE KEY-----` |
//! | PKCS#1 (RSA) | `-----BEGIN RSA PRIVATE KEY-----` |
//! | SEC1 (P-256) | `-----BEGIN EC PRIVATE KEY-----` |
//!
//! plus a raw Ed25519 seed (32 bytes, or the 64-byte seed-and-public-key
//! form Coinbase CDP hands out) through [`PrivateKey::ed25519_from_bytes`].
//!
//! The key's type decides the algorithm ([`PrivateKey::default_algorithm`]):
//! Ed25519 signs `ed25519`, P-256 signs ECDSA with SHA-256 (`ES256`), RSA
//! signs PKCS#1 v1.5 with SHA-256 (an RSA-PSS key, OID `id-RSASSA-PSS`,
//! signs PSS). An RSA key may also sign PSS when a scheme asks for it
//! ([`SignatureAlgorithm::RsaPssSha256`], [`SignatureAlgorithm::RsaPssSha512`]).
//!
//! Key material lives in the RustCrypto key types, which wipe it on drop
//! (`ZeroizeOnDrop`); decoded PEM and decrypted PKCS#8 documents are wiped
//! too. `Debug` shows only the key type.
//!
//! ```
//! use keel::signing::keys::{KeyKind, PrivateKey};
//! let key = PrivateKey::from_pem(
//!     "-----BEGIN PRIVATE KEY-----\n\
//!      MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n\
//!      -----END PRIVATE KEY-----\n",
//! )?;
//! assert_eq!(key.kind(), KeyKind::Ed25519);
//! assert_eq!(format!("{key:?}"), "PrivateKey(ed25519, [redacted])");
//! # Ok::<(), keel::Error>(())
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use pkcs8::der::Decode as _;
use pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, ObjectIdentifier};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _};
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The formats a private key is accepted in (for error messages).
pub const ACCEPTED_PRIVATE_KEY_FORMATS: &str = "PKCS#8 (-----BEGIN PRIVATE KEY-----), passphrase-encrypted PKCS#8 (-----BEGIN ENCRYPTED PRIVATE KEY-----, with the passphrase), PKCS#1 RSA (-----BEGIN RSA PRIVATE KEY-----) or SEC1 P-256 (-----BEGIN EC PRIVATE KEY-----), as PEM or DER, holding an Ed25519, ECDSA P-256 or RSA (2048 bits or more) key";

/// The formats a public key is accepted in (for error messages).
pub const ACCEPTED_PUBLIC_KEY_FORMATS: &str = "SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----) or PKCS#1 RSA (-----BEGIN RSA PUBLIC KEY-----), as PEM or DER, holding an Ed25519, ECDSA P-256 or RSA key";

/// The type of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// Ed25519.
    Ed25519,
    /// ECDSA on NIST P-256 (secp256r1).
    EcdsaP256,
    /// RSA (PKCS#1 v1.5 by default; PSS when asked).
    Rsa,
    /// RSA restricted to PSS (PKCS#8 algorithm `id-RSASSA-PSS`).
    RsaPss,
}

impl KeyKind {
    /// A short name: `ed25519`, `ecdsa-p256`, `rsa`, `rsa-pss`.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => "ed25519",
            KeyKind::EcdsaP256 => "ecdsa-p256",
            KeyKind::Rsa => "rsa",
            KeyKind::RsaPss => "rsa-pss",
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signature algorithm an asymmetric key signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// Ed25519 (RFC 8032), 64-byte signatures.
    Ed25519,
    /// ECDSA P-256 with SHA-256, deterministic (RFC 6979); the signature is
    /// the 64-byte `r || s` (JWS `ES256`, RFC 9421 `ecdsa-p256-sha256`).
    EcdsaP256Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWS `RS256`, RFC 9421
    /// `rsa-v1_5-sha256`).
    RsaPkcs1v15Sha256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt (JWS `PS256`).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, 64-byte salt (RFC 9421
    /// `rsa-pss-sha512`).
    RsaPssSha512,
}

impl SignatureAlgorithm {
    /// Whether a key of `kind` can sign with this algorithm.
    pub fn fits(self, kind: KeyKind) -> bool {
        matches!(
            (self, kind),
            (SignatureAlgorithm::Ed25519, KeyKind::Ed25519)
                | (SignatureAlgorithm::EcdsaP256Sha256, KeyKind::EcdsaP256)
                | (SignatureAlgorithm::RsaPkcs1v15Sha256, KeyKind::Rsa)
                | (
                    SignatureAlgorithm::RsaPssSha256 | SignatureAlgorithm::RsaPssSha512,
                    KeyKind::Rsa | KeyKind::RsaPss
                )
        )
    }

    /// A short name for messages (`ed25519`, `ecdsa-p256-sha256`,
    /// `rsa-v1_5-sha256`, `rsa-pss-sha256`, `rsa-pss-sha512`).
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Ed25519 => "ed25519",
            SignatureAlgorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            SignatureAlgorithm::RsaPkcs1v15Sha256 => "rsa-v1_5-sha256",
            SignatureAlgorithm::RsaPssSha256 => "rsa-pss-sha256",
            SignatureAlgorithm::RsaPssSha512 => "rsa-pss-sha512",
        }
    }
}

enum PrivateInner {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Rsa {
        key: rsa::PrivateKey,
        pss_only: bool,
    },
}

/// A private key for signing: Ed25519, ECDSA P-256 or RSA. Cheap to clone
/// (shared); the key material is wiped when the last clone is dropped, and
/// it is never printed.
#[derive(Clone)]
pub struct PrivateKey {
    inner: Arc<PrivateInner>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.kind())
    }
}

fn bad_key(why: impl fmt::Display) -> Error {
    Error::config(format!(
        "the private key could not be read: {why}. Accepted: {ACCEPTED_PRIVATE_KEY_FORMATS}"
    ))
}

fn bad_public(why: impl fmt::Display) -> Error {
    Error::config(format!(
        "the public key could not be read: {why}. Accepted: {ACCEPTED_PUBLIC_KEY_FORMATS}"
    ))
}

/// Whether `bytes` look like PEM text (after leading whitespace).
pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN ")
}

impl PrivateKey {
    /// Reads a key from PEM or DER bytes (see the [module docs](self) for
    /// the formats). An encrypted PKCS#8 key needs
    /// [`from_bytes_with_passphrase`](Self::from_bytes_with_passphrase).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::read(bytes, None)
    }

    /// Reads a key from PEM or DER bytes; an encrypted PKCS#8 key is
    /// decrypted with `passphrase` (an unencrypted key ignores it).
    pub fn from_bytes_with_passphrase(bytes: &[u8], passphrase: impl AsRef<[u8]>) -> Result<Self> {
        Self::read(bytes, Some(passphrase.as_ref()))
    }

    /// Reads a key from PEM text.
    pub fn from_pem(pem: &str) -> Result<Self> {
        if !looks_like_pem(pem.as_bytes()) {
            return Err(bad_key("the text is not PEM (no -----BEGIN ...----- line)"));
        }
        Self::read(pem.as_bytes(), None)
    }

    /// Reads a key from DER bytes.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        Self::from_der_inner(der, None)
    }

    /// Reads a key from a file (PEM or DER).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::read(&read_file(path.as_ref())?, None)
    }

    /// Reads a possibly encrypted key from a file (PEM or DER).
    pub fn from_file_with_passphrase(
        path: impl AsRef<Path>,
        passphrase: impl AsRef<[u8]>,
    ) -> Result<Self> {
        Self::read(&read_file(path.as_ref())?, Some(passphrase.as_ref()))
    }

    /// An Ed25519 key from its raw bytes: the 32-byte seed, or the 64-byte
    /// seed followed by the public key (the form Coinbase CDP and libsodium
    /// use; the public half must match the seed).
    pub fn ed25519_from_bytes(bytes: &[u8]) -> Result<Self> {
        let key = match bytes.len() {
            32 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                seed.copy_from_slice(bytes);
                ed25519_dalek::SigningKey::from_bytes(&seed)
            }
            64 => {
                let mut pair = Zeroizing::new([0u8; 64]);
                pair.copy_from_slice(bytes);
                ed25519_dalek::SigningKey::from_keypair_bytes(&pair).map_err(|_| {
                    bad_key("the 64-byte Ed25519 key's public half does not match its seed")
                })?
            }
            n => {
                return Err(bad_key(format!(
                    "a raw Ed25519 key is 32 bytes (seed) or 64 bytes (seed + public key), not {n}"
                )))
            }
        };
        Ok(Self::new(PrivateInner::Ed25519(key)))
    }

    fn new(inner: PrivateInner) -> Self {
        PrivateKey {
            inner: Arc::new(inner),
        }
    }

    fn read(bytes: &[u8], passphrase: Option<&[u8]>) -> Result<Self> {
        if bytes.trim_ascii().is_empty() {
            return Err(bad_key("it is empty"));
        }
        if !looks_like_pem(bytes) {
            return Self::from_der_inner(bytes, passphrase);
        }
        let (label, der) = pkcs8::der::pem::decode_vec(bytes.trim_ascii())
            .map_err(|e| bad_key(format!("the PEM is malformed ({e})")))?;
        let der = Zeroizing::new(der);
        match label {
            "PRIVATE KEY" => Self::from_pkcs8(&der),
            "ENCRYPTED PRIVATE KEY" => Self::from_encrypted_pkcs8(&der, passphrase),
            "RSA PRIVATE KEY" => Self::from_pkcs1(&der),
            "EC PRIVATE KEY" => Self::from_sec1(&der),
            "OPENSSH PRIVATE KEY" => Err(bad_key(
                "OpenSSH keys are not read; convert it with `ssh-keygen -p -m PKCS8 -f FILE`",
            )),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(bad_key(
                "this is a public key; signing needs the private key",
            )),
            other => Err(bad_key(format!(
                "the PEM label {other:?} is not a private key format"
            ))),
        }
    }

    fn from_der_inner(der: &[u8], passphrase: Option<&[u8]>) -> Result<Self> {
        if pkcs8::PrivateKeyInfoRef::from_der(der).is_ok() {
            return Self::from_pkcs8(der);
        }
        if pkcs8::EncryptedPrivateKeyInfoRef::from_der(der).is_ok() {
            return Self::from_encrypted_pkcs8(der, passphrase);
        }
        if let Ok(k) = Self::from_pkcs1(der) {
            return Ok(k);
        }
        if let Ok(k) = Self::from_sec1(der) {
            return Ok(k);
        }
        Err(bad_key("it is neither PEM nor DER in a known format"))
    }

    fn from_encrypted_pkcs8(der: &[u8], passphrase: Option<&[u8]>) -> Result<Self> {
        let pass = passphrase
            .ok_or_else(|| bad_key("it is an encrypted PKCS#8 key and no passphrase was given"))?;
        let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der)
            .map_err(|e| bad_key(format!("the encrypted PKCS#8 structure is malformed ({e})")))?;
        let doc = info.decrypt(pass).map_err(|_| {
            bad_key("the encrypted PKCS#8 key could not be decrypted: wrong passphrase, or an unsupported cipher (PBES2 with PBKDF2 or scrypt and AES is supported)")
        })?;
        Self::from_pkcs8(doc.as_bytes())
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let info = pkcs8::PrivateKeyInfoRef::from_der(der)
            .map_err(|e| bad_key(format!("the PKCS#8 structure is malformed ({e})")))?;
        let oid = info.algorithm.oid;
        if oid == OID_ED25519 {
            let k = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map_err(|e| bad_key(format!("the Ed25519 PKCS#8 key is malformed ({e})")))?;
            Ok(Self::new(PrivateInner::Ed25519(k)))
        } else if oid == OID_EC_PUBLIC_KEY {
            let k = p256::SecretKey::from_pkcs8_der(der).map_err(|_| {
                bad_key("it is an elliptic-curve key, but not on P-256 (only P-256 is supported)")
            })?;
            Ok(Self::new(PrivateInner::P256(k.into())))
        } else if oid == OID_RSA || oid == OID_RSA_PSS {
            let k = rsa::PrivateKey::from_pkcs8_der(der)
                .map_err(|e| bad_key(format!("the RSA PKCS#8 key is malformed ({e})")))?;
            Self::rsa(k, oid == OID_RSA_PSS)
        } else {
            Err(bad_key(format!(
                "the PKCS#8 key's algorithm {oid} is not Ed25519, EC P-256 or RSA"
            )))
        }
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self> {
        let k = rsa::PrivateKey::from_pkcs1_der(der)
            .map_err(|e| bad_key(format!("the PKCS#1 RSA key is malformed ({e})")))?;
        Self::rsa(k, false)
    }

    fn from_sec1(der: &[u8]) -> Result<Self> {
        let k = p256::SecretKey::from_sec1_der(der).map_err(|_| {
            bad_key("the SEC1 EC key is malformed or not on P-256 (only P-256 is supported)")
        })?;
        Ok(Self::new(PrivateInner::P256(k.into())))
    }

    fn rsa(key: rsa::PrivateKey, pss_only: bool) -> Result<Self> {
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(bad_key(format!(
                "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are needed"
            )));
        }
        Ok(Self::new(PrivateInner::Rsa { key, pss_only }))
    }

    /// The key's type.
    pub fn kind(&self) -> KeyKind {
        match &*self.inner {
            PrivateInner::Ed25519(_) => KeyKind::Ed25519,
            PrivateInner::P256(_) => KeyKind::EcdsaP256,
            PrivateInner::Rsa {
                pss_only: false, ..
            } => KeyKind::Rsa,
            PrivateInner::Rsa { pss_only: true, .. } => KeyKind::RsaPss,
        }
    }

    /// The algorithm the key's type decides: Ed25519 → `ed25519`, P-256 →
    /// ECDSA SHA-256, RSA → PKCS#1 v1.5 SHA-256, RSA-PSS → PSS SHA-256.
    pub fn default_algorithm(&self) -> SignatureAlgorithm {
        match self.kind() {
            KeyKind::Ed25519 => SignatureAlgorithm::Ed25519,
            KeyKind::EcdsaP256 => SignatureAlgorithm::EcdsaP256Sha256,
            KeyKind::Rsa => SignatureAlgorithm::RsaPkcs1v15Sha256,
            KeyKind::RsaPss => SignatureAlgorithm::RsaPssSha256,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let inner = match &*self.inner {
            PrivateInner::Ed25519(k) => PublicInner::Ed25519(k.verifying_key()),
            PrivateInner::P256(k) => PublicInner::P256(*k.verifying_key()),
            PrivateInner::Rsa { key, pss_only } => PublicInner::Rsa {
                key: key.to_public_key(),
                pss_only: *pss_only,
            },
        };
        PublicKey { inner }
    }

    /// Signs `message` with the key's [default algorithm](Self::default_algorithm).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.sign_with(self.default_algorithm(), message)
    }

    /// Signs `message` with `alg`, which must fit the key's type.
    pub fn sign_with(&self, alg: SignatureAlgorithm, message: &[u8]) -> Result<Vec<u8>> {
        if !alg.fits(self.kind()) {
            return Err(Error::Signing(format!(
                "a {} key cannot sign {}; use a key of the matching type or another algorithm",
                self.kind(),
                alg.name()
            )));
        }
        let failed = |e: rsa::signature::Error| {
            Error::Signing(format!("the {} signature failed ({e})", alg.name()))
        };
        Ok(match (&*self.inner, alg) {
            (PrivateInner::Ed25519(k), _) => {
                ed25519_dalek::Signer::sign(k, message).to_bytes().to_vec()
            }
            (PrivateInner::P256(k), _) => {
                let sig: p256::ecdsa::Signature =
                    p256::ecdsa::signature::Signer::try_sign(k, message).map_err(failed)?;
                sig.to_bytes().to_vec()
            }
            (PrivateInner::Rsa { key, .. }, SignatureAlgorithm::RsaPkcs1v15Sha256) => {
                rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key.clone())
                    .try_sign(message)
                    .map_err(failed)?
                    .to_vec()
            }
            (PrivateInner::Rsa { key, .. }, SignatureAlgorithm::RsaPssSha512) => {
                rsa::pss::SigningKey::<rsa::sha2::Sha512>::new(key.clone())
                    .try_sign(message)
                    .map_err(failed)?
                    .to_vec()
            }
            (PrivateInner::Rsa { key, .. }, _) => {
                rsa::pss::SigningKey::<rsa::sha2::Sha256>::new(key.clone())
                    .try_sign(message)
                    .map_err(failed)?
                    .to_vec()
            }
        })
    }
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| Error::config(format!("cannot read the key file {}: {e}", path.display())))
}

#[derive(Clone)]
enum PublicInner {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Rsa { key: rsa::PublicKey, pss_only: bool },
}

/// A public key, for verifying signatures: Ed25519, ECDSA P-256 or RSA.
#[derive(Clone)]
pub struct PublicKey {
    inner: PublicInner,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.kind())
    }
}

impl PublicKey {
    /// Reads a public key from PEM or DER bytes (SPKI, or PKCS#1 for RSA).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.trim_ascii().is_empty() {
            return Err(bad_public("it is empty"));
        }
        if !looks_like_pem(bytes) {
            return Self::from_der(bytes);
        }
        let (label, der) = pkcs8::der::pem::decode_vec(bytes.trim_ascii())
            .map_err(|e| bad_public(format!("the PEM is malformed ({e})")))?;
        match label {
            "PUBLIC KEY" => Self::from_spki(&der),
            "RSA PUBLIC KEY" => Self::from_pkcs1(&der),
            "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => Err(
                bad_public("this is a private key; give the public key (openssl pkey -pubout)"),
            ),
            other => Err(bad_public(format!(
                "the PEM label {other:?} is not a public key format"
            ))),
        }
    }

    /// Reads a public key from PEM text.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_bytes(pem.as_bytes())
    }

    /// Reads a public key from DER (SPKI, or PKCS#1 for RSA).
    pub fn from_der(der: &[u8]) -> Result<Self> {
        Self::from_spki(der).or_else(|e| Self::from_pkcs1(der).map_err(|_| e))
    }

    /// An Ed25519 public key from its 32 raw bytes.
    pub fn ed25519_from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            bad_public(format!(
                "a raw Ed25519 public key is 32 bytes, not {}",
                bytes.len()
            ))
        })?;
        let k = ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|_| bad_public("the 32 bytes are not an Ed25519 point"))?;
        Ok(PublicKey {
            inner: PublicInner::Ed25519(k),
        })
    }

    fn from_spki(der: &[u8]) -> Result<Self> {
        let info = pkcs8::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| bad_public(format!("the SubjectPublicKeyInfo is malformed ({e})")))?;
        let oid = info.algorithm.oid;
        let inner = if oid == OID_ED25519 {
            PublicInner::Ed25519(
                ed25519_dalek::VerifyingKey::from_public_key_der(der)
                    .map_err(|e| bad_public(format!("the Ed25519 key is malformed ({e})")))?,
            )
        } else if oid == OID_EC_PUBLIC_KEY {
            PublicInner::P256(p256::ecdsa::VerifyingKey::from_public_key_der(der).map_err(
                |_| {
                    bad_public(
                        "it is an elliptic-curve key, but not on P-256 (only P-256 is supported)",
                    )
                },
            )?)
        } else if oid == OID_RSA || oid == OID_RSA_PSS {
            PublicInner::Rsa {
                key: rsa::PublicKey::from_public_key_der(der)
                    .map_err(|e| bad_public(format!("the RSA key is malformed ({e})")))?,
                pss_only: oid == OID_RSA_PSS,
            }
        } else {
            return Err(bad_public(format!(
                "the key's algorithm {oid} is not Ed25519, EC P-256 or RSA"
            )));
        };
        Ok(PublicKey { inner })
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self> {
        let key = rsa::PublicKey::from_pkcs1_der(der)
            .map_err(|e| bad_public(format!("the PKCS#1 RSA public key is malformed ({e})")))?;
        Ok(PublicKey {
            inner: PublicInner::Rsa {
                key,
                pss_only: false,
            },
        })
    }

    /// The key's type.
    pub fn kind(&self) -> KeyKind {
        match &self.inner {
            PublicInner::Ed25519(_) => KeyKind::Ed25519,
            PublicInner::P256(_) => KeyKind::EcdsaP256,
            PublicInner::Rsa {
                pss_only: false, ..
            } => KeyKind::Rsa,
            PublicInner::Rsa { pss_only: true, .. } => KeyKind::RsaPss,
        }
    }

    /// The algorithm the key's type decides (as for [`PrivateKey::default_algorithm`]).
    pub fn default_algorithm(&self) -> SignatureAlgorithm {
        match self.kind() {
            KeyKind::Ed25519 => SignatureAlgorithm::Ed25519,
            KeyKind::EcdsaP256 => SignatureAlgorithm::EcdsaP256Sha256,
            KeyKind::Rsa => SignatureAlgorithm::RsaPkcs1v15Sha256,
            KeyKind::RsaPss => SignatureAlgorithm::RsaPssSha256,
        }
    }

    /// Whether `signature` is a valid `alg` signature of `message` under
    /// this key (Ed25519 is checked strictly; an algorithm that does not fit
    /// the key is `false`).
    pub fn verify(&self, alg: SignatureAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        if !alg.fits(self.kind()) {
            return false;
        }
        match (&self.inner, alg) {
            (PublicInner::Ed25519(k), _) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
            (PublicInner::P256(k), _) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| p256::ecdsa::signature::Verifier::verify(k, message, &s).is_ok()),
            (PublicInner::Rsa { key, .. }, SignatureAlgorithm::RsaPkcs1v15Sha256) => {
                rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|s| {
                    rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key.clone())
                        .verify(message, &s)
                        .is_ok()
                })
            }
            (PublicInner::Rsa { key, .. }, SignatureAlgorithm::RsaPssSha512) => {
                rsa::pss::Signature::try_from(signature).is_ok_and(|s| {
                    rsa::pss::VerifyingKey::<rsa::sha2::Sha512>::new(key.clone())
                        .verify(message, &s)
                        .is_ok()
                })
            }
            (PublicInner::Rsa { key, .. }, _) => rsa::pss::Signature::try_from(signature)
                .is_ok_and(|s| {
                    rsa::pss::VerifyingKey::<rsa::sha2::Sha256>::new(key.clone())
                        .verify(message, &s)
                        .is_ok()
                }),
        }
    }
}
