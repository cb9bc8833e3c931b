//! TLS settings for the SCU: the certificate authority the server's certificate must chain to, an
//! optional client certificate, and the name checked in the server's certificate.

use crate::error::{Error, Result, TlsFailure};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

/// TLS 1.2/1.3 settings of an [`Scu`](super::Scu) (rustls with the *ring* provider).
///
/// The server's certificate is verified against the given certificate authorities only (not the
/// system's), and must name the host connected to (or the name set with
/// [`with_server_name`](TlsOptions::with_server_name)) and be within its validity period.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    roots: RootCertStore,
    config: Arc<ClientConfig>,
    server_name: Option<String>,
    client_certificate: bool,
}

fn pem_error(name: &'static str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(name, what.to_string(), e)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Unsupported {
            name: "tls",
            requested: "TLS 1.2 and 1.3 with the ring provider".into(),
            available: e.to_string(),
        })
}

impl TlsOptions {
    /// Trusts the certificate authorities in `ca_pem` (one or more PEM `CERTIFICATE` blocks); no
    /// client certificate. Errors: [`Error::InvalidParameter`] naming `ca_pem` when it holds no
    /// usable certificate. Cost: parsing the PEM.
    pub fn new(ca_pem: &[u8]) -> Result<TlsOptions> {
        let mut roots = RootCertStore::empty();
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| pem_error("ca_pem", "PEM certificates", e))?;
            roots
                .add(cert)
                .map_err(|e| pem_error("ca_pem", "valid CA certificates", e))?;
            n += 1;
        }
        if n == 0 {
            return Err(Error::invalid("ca_pem", "at least one PEM CERTIFICATE block", "none"));
        }
        let config = builder()?.with_root_certificates(roots.clone()).with_no_client_auth();
        Ok(TlsOptions {
            roots,
            config: Arc::new(config),
            server_name: None,
            client_certificate: false,
        })
    }

    /// [`new`](TlsOptions::new) with the PEM file at `path`. Errors: also [`Error::Io`].
    pub fn from_ca_file(path: impl AsRef<Path>) -> Result<TlsOptions> {
        Self::new(&read(path.as_ref())?)
    }

    /// Presents a client certificate: `chain_pem` (the certificate first, then any intermediates)
    /// and its private key `key_pem` (PKCS#8, PKCS#1 or SEC1 PEM). Errors:
    /// [`Error::InvalidParameter`] naming `client_chain_pem` or `client_key_pem`.
    pub fn with_client_certificate(self, chain_pem: &[u8], key_pem: &[u8]) -> Result<TlsOptions> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| pem_error("client_chain_pem", "PEM certificates", e))?;
        if chain.is_empty() {
            return Err(Error::invalid(
                "client_chain_pem",
                "at least one PEM CERTIFICATE block",
                "none",
            ));
        }
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| pem_error("client_key_pem", "a PEM private key", e))?;
        let config = builder()?
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(chain, key)
            .map_err(|e| pem_error("client_key_pem", "the private key of the client certificate", e))?;
        Ok(TlsOptions {
            config: Arc::new(config),
            client_certificate: true,
            ..self
        })
    }

    /// [`with_client_certificate`](TlsOptions::with_client_certificate) with PEM files.
    pub fn with_client_certificate_files(self, chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<TlsOptions> {
        let chain = read(chain.as_ref())?;
        let key = read(key.as_ref())?;
        self.with_client_certificate(&chain, &key)
    }

    /// Checks the server's certificate for `name` (a DNS name or an IP address) instead of the host
    /// connected to. Errors: [`Error::InvalidParameter`] naming `server_name`.
    pub fn with_server_name(self, name: &str) -> Result<TlsOptions> {
        ServerName::try_from(name.to_string())
            .map_err(|e| Error::invalid("server_name", "a DNS name or an IP address", e))?;
        Ok(TlsOptions {
            server_name: Some(name.to_string()),
            ..self
        })
    }

    /// The name checked in the server's certificate, when set.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// Whether a client certificate is presented.
    pub fn has_client_certificate(&self) -> bool {
        self.client_certificate
    }

    pub(super) fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}

/// The typed reason of a rustls error.
pub(super) fn failure(e: &rustls::Error, server_name: &str) -> TlsFailure {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => TlsFailure::UnknownIssuer,
            C::Expired | C::ExpiredContext { .. } => TlsFailure::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => TlsFailure::NotYetValid,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::WrongHostName {
                expected: server_name.to_string(),
            },
            other => TlsFailure::BadCertificate {
                message: other.to_string(),
            },
        },
        rustls::Error::AlertReceived(alert) => TlsFailure::AlertReceived {
            alert: format!("{alert:?}"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => TlsFailure::NotTls,
        other => TlsFailure::Other {
            message: other.to_string(),
        },
    }
}
