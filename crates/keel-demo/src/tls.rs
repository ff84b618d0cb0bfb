//! A throw-away certificate authority and server certificate, generated at
//! start with `rcgen`, and the rustls (ring) configuration that serves them.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// TLS material for one demo server.
#[derive(Debug, Clone)]
pub struct DemoTls {
    config: Arc<rustls::ServerConfig>,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("demo TLS setup failed ({what}): {e}"))
}

impl DemoTls {
    /// Generate a fresh CA and a server certificate for `localhost` and
    /// `127.0.0.1` signed by it, and a rustls server configuration (ring
    /// provider, ALPN `h2` and `http/1.1`) that serves the certificate.
    ///
    /// ```
    /// let tls = keel_demo::DemoTls::generate()?;
    /// assert!(tls.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn generate() -> io::Result<Self> {
        Self::generate_with(false)
    }

    /// Like [`generate`](Self::generate); with `require_client_cert`, the
    /// server accepts only clients that present a certificate signed by the
    /// same CA (mutual TLS), such as [`client_identity_pem`](Self::client_identity_pem).
    pub fn generate_with(require_client_cert: bool) -> io::Result<Self> {
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_err("CA params", e))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Keel demo test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().map_err(|e| tls_err("CA key", e))?;
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| tls_err("CA certificate", e))?;

        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(|e| tls_err("server params", e))?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().map_err(|e| tls_err("server key", e))?;
        let leaf_cert = leaf_params
            .signed_by(&leaf_key, &Issuer::from_params(&ca_params, &ca_key))
            .map_err(|e| tls_err("server certificate", e))?;

        let mut client_params = CertificateParams::new(vec!["keel-demo-client".to_owned()])
            .map_err(|e| tls_err("client params", e))?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "keel demo client");
        client_params.is_ca = IsCa::ExplicitNoCa;
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().map_err(|e| tls_err("client key", e))?;
        let client_cert = client_params
            .signed_by(&client_key, &Issuer::from_params(&ca_params, &ca_key))
            .map_err(|e| tls_err("client certificate", e))?;

        let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("protocol versions", e))?;
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(ca_cert.der().clone())
                .map_err(|e| tls_err("client CA", e))?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| tls_err("client verifier", e))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| tls_err("server certificate", e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            ca_pem: ca_cert.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// The PEM of the certificate authority that signed the server
    /// certificate: what a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client certificate signed by the demo CA and its private key (PKCS#8),
    /// both PEM: what a client presents to a server that requires client
    /// certificates.
    pub fn client_identity_pem(&self) -> (&str, &str) {
        (&self.client_cert_pem, &self.client_key_pem)
    }

    /// The rustls server configuration.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }
}
