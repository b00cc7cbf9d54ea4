//! TLS: the rustls server configuration (ring provider), loaded from PEM
//! files in production or from a self-signed certificate generated once in
//! the data directory in development mode, and the certificate's pin.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::config::Config;

/// File name of the development certificate inside the data directory.
pub const DEV_CERT_FILE: &str = "dev-cert.pem";
/// File name of the development key inside the data directory.
pub const DEV_KEY_FILE: &str = "dev-key.pem";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Neither `--dev` nor `--cert`/`--key` was given.
    #[error(
        "give --cert and --key (PEM files), or --dev for a self-signed development certificate"
    )]
    NoCertificate,
    /// A PEM file could not be read or parsed.
    #[error("could not read {what} from {path}: {detail}")]
    Pem {
        /// Certificate or key.
        what: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// Generating the development certificate failed.
    #[error("could not generate the development certificate: {0}")]
    Generate(String),
    /// Writing the development certificate failed.
    #[error("could not write the development certificate: {0}")]
    Io(#[from] std::io::Error),
    /// rustls refused the certificate or key.
    #[error("rustls refused the certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A ready server configuration and the SHA-256 pin of its leaf certificate.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// For the acceptor.
    pub config: Arc<ServerConfig>,
    /// 64 lowercase hex digits: SHA-256 of the leaf certificate's DER.
    pub pin: String,
}

/// The pin clients compare against: SHA-256 of the certificate DER, hex.
pub fn pin_of(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

/// Builds the TLS configuration `config` asks for.
pub fn load(config: &Config) -> Result<TlsMaterial, TlsError> {
    let (certs, key) = match (&config.cert, &config.key, config.dev) {
        (Some(c), Some(k), _) => (read_certs(c)?, read_key(k)?),
        (_, _, true) => dev_certificate(&config.data_dir)?,
        _ => return Err(TlsError::NoCertificate),
    };
    let pin = certs.first().map(pin_of).ok_or(TlsError::NoCertificate)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        config: Arc::new(server),
        pin,
    })
}

fn pem_err(what: &'static str, path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        what,
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err("certificates", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err("certificates", path, e))?;
    if certs.is_empty() {
        return Err(pem_err("certificates", path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_err("a private key", path, e))
}

/// Reuses the development certificate in `dir`, generating it on first use so
/// the pin stays the same across restarts.
fn dev_certificate(
    dir: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let cert_path = dir.join(DEV_CERT_FILE);
    let key_path = dir.join(DEV_KEY_FILE);
    if !(cert_path.exists() && key_path.exists()) {
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .map_err(|e| TlsError::Generate(e.to_string()))?;
        write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
        write_private(&cert_path, generated.cert.pem().as_bytes())?;
    }
    Ok((read_certs(&cert_path)?, read_key(&key_path)?))
}

/// Writes via a temporary file and rename so a crash never leaves half a key.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
