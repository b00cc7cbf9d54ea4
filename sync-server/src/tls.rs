//! TLS: the rustls server configuration (ring provider, TLS 1.3 only),
//! loaded from PEM files in production or from a self-signed certificate
//! generated once in the data directory in development mode; the public-key
//! pin clients compare against; and reloading the files on SIGHUP.
//!
//! # Pins
//!
//! The pin is the SHA-256 of the leaf certificate's SubjectPublicKeyInfo,
//! the value `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der
//! | sha256sum` gives. A renewal on the same key keeps it, so phones that
//! pin the relay keep working across Let's Encrypt renewals
//! (`docs/relay.md`, "TLS"). It is computed by [`SpkiPin`] from the wire
//! crate, the type clients compare against, so what the relay prints and
//! what a client checks cannot drift apart.
//!
//! # Reloading
//!
//! [`ServerTls`] holds the current [`ServerConfig`]; the accept loop takes
//! it afresh for every new connection, so after [`ServerTls::reload`] new
//! handshakes use the new chain and key while established connections keep
//! the session they negotiated. The new files are checked completely (PEM
//! parses, the key matches the certificate, rustls accepts both) before
//! anything is swapped, so a half-written or wrong file leaves the relay
//! serving the old certificate. A reload starts a fresh session cache: no
//! session resumed afterwards skips the new certificate.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use safespaces_wire::SpkiPin;
use tokio_rustls::TlsAcceptor;

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
    /// The private key is not the one the certificate was issued for.
    #[error(
        "the private key in {key} does not belong to the certificate in {cert}; \
         give the key the certificate was issued for"
    )]
    KeyMismatch {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
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

/// A ready server configuration and the pin of its leaf certificate.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// For the acceptor.
    pub config: Arc<ServerConfig>,
    /// 64 lowercase hex digits: SHA-256 of the leaf certificate's
    /// SubjectPublicKeyInfo.
    pub pin: String,
}

/// The pin clients compare against: SHA-256 of the certificate's
/// SubjectPublicKeyInfo, hex. Fails only if the certificate does not parse.
pub fn pin_of(cert: &CertificateDer<'_>) -> Result<String, TlsError> {
    Ok(SpkiPin::of_certificate(cert.as_ref())?.to_hex())
}

/// The pin of the first (leaf) certificate in a PEM file, for
/// `safespaces-relay pin --cert FILE`.
pub fn pin_of_cert_file(path: &Path) -> Result<String, TlsError> {
    let certs = read_certs(path)?;
    let leaf = certs.first().ok_or(TlsError::NoCertificate)?;
    pin_of(leaf).map_err(|e| pem_err("a certificate", path, e))
}

/// The pin a certificate for the private key in a PEM file will have, for
/// `safespaces-relay pin --key FILE`: lets an operator ship the next key's
/// pin to devices before any certificate for it exists.
pub fn pin_of_key_file(path: &Path) -> Result<String, TlsError> {
    let key = read_key(path)?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| pem_err("a private key", path, e))?;
    let spki = signing.public_key().ok_or_else(|| {
        pem_err(
            "a private key",
            path,
            "cannot derive the public key of this key type",
        )
    })?;
    Ok(SpkiPin::of_spki(spki.as_ref()).to_hex())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Where the certificate comes from, remembered for reloads.
#[derive(Debug, Clone)]
enum Source {
    Files { cert: PathBuf, key: PathBuf },
    Dev { data_dir: PathBuf },
}

impl Source {
    fn of(config: &Config) -> Result<Self, TlsError> {
        match (&config.cert, &config.key, config.dev) {
            (Some(cert), Some(key), _) => Ok(Source::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, true) => Ok(Source::Dev {
                data_dir: config.data_dir.clone(),
            }),
            _ => Err(TlsError::NoCertificate),
        }
    }

    fn build(&self) -> Result<TlsMaterial, TlsError> {
        let (cert_path, key_path) = match self {
            Source::Files { cert, key } => (cert.clone(), key.clone()),
            Source::Dev { data_dir } => ensure_dev_certificate(data_dir)?,
        };
        let certs = read_certs(&cert_path)?;
        // Parsed first so a damaged file is named as such, not reported as
        // a key mismatch or an "invalid peer certificate".
        let leaf = certs.first().ok_or(TlsError::NoCertificate)?;
        let pin = pin_of(leaf).map_err(|e| pem_err("a certificate", &cert_path, e))?;
        let key = read_key(&key_path)?;
        let provider = provider();
        let certified = CertifiedKey::from_der(certs, key, &provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: cert_path.display().to_string(),
                key: key_path.display().to_string(),
            },
            other => TlsError::Rustls(other),
        })?;
        // TLS 1.3 only, as the threat model says: no RSA key exchange or CBC
        // suites to downgrade to, and the certificate travels encrypted.
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsMaterial {
            config: Arc::new(server),
            pin,
        })
    }
}

/// The relay's TLS state: the configuration new connections get, which
/// [`ServerTls::reload`] replaces.
#[derive(Debug)]
pub struct ServerTls {
    source: Source,
    current: RwLock<TlsMaterial>,
}

impl ServerTls {
    /// Loads the certificate `config` names (generating the development one
    /// on first use).
    pub fn load(config: &Config) -> Result<Self, TlsError> {
        let source = Source::of(config)?;
        let current = RwLock::new(source.build()?);
        Ok(Self { source, current })
    }

    /// An acceptor with the current certificate, for one new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.material().config)
    }

    /// The current certificate's pin.
    pub fn pin(&self) -> String {
        self.material().pin
    }

    /// Reads the certificate and key files again. On success new handshakes
    /// use them and the new pin is returned; on failure nothing changes and
    /// the relay keeps serving the previous certificate.
    pub fn reload(&self) -> Result<String, TlsError> {
        let fresh = self.source.build()?;
        let pin = fresh.pin.clone();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(pin)
    }

    fn material(&self) -> TlsMaterial {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
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

/// The development certificate's files in `dir`, generated on first use so
/// the pin stays the same across restarts.
fn ensure_dev_certificate(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
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
    Ok((cert_path, key_path))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate and its pin computed by OpenSSL (the same vector as
    /// core's client uses, so both sides agree with OpenSSL).
    const VECTOR_CERT: &str = include_str!("../../core/tests/vectors/spki-pin-cert.pem");
    const VECTOR_PIN: &str = include_str!("../../core/tests/vectors/spki-pin-cert.sha256");

    #[test]
    fn the_pin_of_a_certificate_file_is_what_openssl_computes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, VECTOR_CERT).expect("write");
        assert_eq!(pin_of_cert_file(&path).expect("pin"), VECTOR_PIN.trim());
    }

    #[test]
    fn a_key_file_has_the_pin_of_its_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write");
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write");
        assert_eq!(
            pin_of_key_file(&dir.path().join("key.pem")).expect("pin"),
            pin_of_cert_file(&dir.path().join("cert.pem")).expect("pin")
        );
    }

    #[test]
    fn a_file_without_a_certificate_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let err = pin_of_cert_file(&path).expect_err("refused");
        assert!(err.to_string().contains("cert.pem"), "{err}");
    }
}
