//! Which server certificates the relay client trusts: a SHA-256 pin of the
//! one certificate to accept, or operator-provided CA certificates.
//!
//! Why no built-in web PKI roots: a relay run by a student society usually
//! has a self-signed certificate (the relay's `--dev` mode prints its pin),
//! and bundling the webpki root store would add a data crate and a few
//! hundred KiB to every phone build for a case the operator can cover by
//! handing out its CA file. A pin is also the stronger setting: a network
//! observer with a mis-issued certificate from any public CA gets nowhere.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::error::RelayError;

/// The SHA-256 of a certificate's DER encoding: 64 hex digits on the wire
/// and in configuration, exactly what `safespaces-relay --dev` prints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificatePin([u8; 32]);

impl CertificatePin {
    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, RelayError> {
        let s = s.trim();
        let mut raw = [0u8; 32];
        if s.len() != 64 || hex::decode_to_slice(s, &mut raw).is_err() {
            return Err(RelayError::Config(format!(
                "a certificate pin is 64 hex digits (the SHA-256 the relay prints), got {} characters",
                s.len()
            )));
        }
        Ok(Self(raw))
    }

    /// The pin of a DER-encoded certificate.
    pub fn of_certificate(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The 64-digit lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secret: it is the hash of a public certificate.
        write!(f, "CertificatePin({})", self.to_hex())
    }
}

impl fmt::Display for CertificatePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// How the client decides that it is talking to the right relay.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Trust {
    /// Accept exactly the certificate with this SHA-256, whatever its name,
    /// issuer or dates: the pin *is* the identity.
    Pin(CertificatePin),
    /// Verify the chain and the host name against these CA certificates
    /// (DER), as a browser would against its roots.
    Roots(Vec<CertificateDer<'static>>),
}

impl Trust {
    /// Trust the CA certificates in a PEM file's contents (one or more
    /// `BEGIN CERTIFICATE` blocks).
    pub fn roots_from_pem(pem: &[u8]) -> Result<Self, RelayError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RelayError::Config(format!("the CA file is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(RelayError::Config(
                "the CA file holds no BEGIN CERTIFICATE block".into(),
            ));
        }
        Ok(Self::Roots(certs))
    }

    /// The rustls configuration for this trust setting, speaking HTTP/1.1.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, RelayError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| RelayError::Config(format!("TLS setup failed: {e}")))?;
        let mut config = match self {
            Trust::Pin(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinVerifier {
                    pin: *pin,
                    provider,
                }))
                .with_no_client_auth(),
            Trust::Roots(certs) => {
                let mut roots = RootCertStore::empty();
                for cert in certs {
                    roots.add(cert.clone()).map_err(|e| {
                        RelayError::Config(format!("a CA certificate is not usable: {e}"))
                    })?;
                }
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| RelayError::Config(format!("TLS setup failed: {e}")))?;
                builder.with_webpki_verifier(verifier).with_no_client_auth()
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Carried inside the rustls error so the client can say which certificate
/// the relay presented instead of a bare "invalid certificate".
#[derive(Debug, thiserror::Error)]
#[error("the relay presented the certificate with pin {presented}, not the pinned {expected}")]
pub(crate) struct PinMismatch {
    pub(crate) expected: CertificatePin,
    pub(crate) presented: CertificatePin,
}

/// Accepts exactly one certificate. Handshake signatures are still checked,
/// so the server must hold that certificate's private key.
#[derive(Debug)]
struct PinVerifier {
    pin: CertificatePin,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = CertificatePin::of_certificate(end_entity.as_ref());
        // Not secret, so no constant-time comparison is needed.
        if presented == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch {
                    expected: self.pin,
                    presented,
                }))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_parses_64_hex_digits_only() {
        let pin = CertificatePin::from_hex(&"AB".repeat(32)).expect("valid");
        assert_eq!(pin.to_hex(), "ab".repeat(32));
        assert!(CertificatePin::from_hex("abcd").is_err());
        assert!(CertificatePin::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn ca_file_without_certificates_is_refused() {
        assert!(Trust::roots_from_pem(b"not pem at all").is_err());
    }

    #[test]
    fn pinned_config_builds() {
        let trust = Trust::Pin(CertificatePin::of_certificate(b"x"));
        assert!(trust.client_config().is_ok());
    }
}
