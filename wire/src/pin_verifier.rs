//! [`PinVerifier`]: the rustls certificate check for a pinned relay, used by
//! core's relay client and by the relay's own test client (`tls` feature).
//!
//! It accepts a certificate whose public key is pinned, whatever its name,
//! issuer or dates: the key *is* the identity. The handshake signature is
//! still verified against that key, so only whoever holds the private key
//! gets through. TLS 1.2 is refused: the relay and its clients speak TLS 1.3
//! only, and refusing here keeps it so if someone widens a config's versions
//! by mistake.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::pin::{PinMismatch, SpkiPin};

/// Accepts a server certificate whose public key has one of its pins. On a
/// mismatch the handshake fails with
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))` holding a
/// [`PinMismatch`], which a client downcasts to name both keys.
#[derive(Debug)]
pub struct PinVerifier {
    pins: Vec<SpkiPin>,
    provider: Arc<CryptoProvider>,
}

impl PinVerifier {
    /// A verifier for `pins` (the current key and, during a key change, the
    /// next) that checks handshake signatures with `provider`'s algorithms.
    /// An empty set accepts nothing; callers refuse it before building one.
    pub fn new(pins: Vec<SpkiPin>, provider: Arc<CryptoProvider>) -> Self {
        Self { pins, provider }
    }
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
        // A certificate that does not parse has no key to compare.
        let presented = SpkiPin::of_certificate(end_entity.as_ref())?;
        // Not secret, so no constant-time comparison is needed.
        if self.pins.contains(&presented) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch {
                    expected: self.pins.clone(),
                    presented,
                }))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Unreachable while the config allows TLS 1.3 only; refusing here
        // keeps it so if someone widens the versions by mistake.
        Err(rustls::Error::General(
            "TLS 1.2 is not accepted from the relay".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // `cert` is the end-entity certificate whose key was just found in
        // the pin set: the signature is checked against the pinned key.
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
    use rustls::pki_types::pem::PemObject as _;
    use sha2::{Digest, Sha256};

    use super::*;

    /// A certificate and its pin computed by OpenSSL:
    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`.
    /// The relay's `pin` command is checked against the same files.
    const VECTOR_CERT: &str = include_str!("../../core/tests/vectors/spki-pin-cert.pem");
    const VECTOR_PIN: &str = include_str!("../../core/tests/vectors/spki-pin-cert.sha256");

    fn vector() -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(VECTOR_CERT.as_bytes()).expect("PEM")
    }

    fn verifier(pins: Vec<SpkiPin>) -> PinVerifier {
        PinVerifier::new(pins, Arc::new(rustls::crypto::ring::default_provider()))
    }

    fn check(verifier: &PinVerifier) -> Result<ServerCertVerified, rustls::Error> {
        let name = ServerName::try_from("relay.example").expect("name");
        verifier.verify_server_cert(&vector(), &[], &name, &[], UnixTime::now())
    }

    #[test]
    fn the_pin_is_the_sha256_of_the_public_key_as_openssl_computes_it() {
        let der = vector();
        let pin = SpkiPin::of_certificate(der.as_ref()).expect("a certificate");
        assert_eq!(pin.to_hex(), VECTOR_PIN.trim());
        // Not the hash of the whole certificate, which every renewal changes.
        assert_ne!(pin.to_hex(), hex::encode(Sha256::digest(der.as_ref())));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(SpkiPin::of_certificate(b"not DER").is_err());
    }

    #[test]
    fn a_certificate_with_a_pinned_key_is_accepted() {
        let pinned = SpkiPin::from_hex(VECTOR_PIN).expect("pin");
        let other = SpkiPin::of_spki(b"another key");
        assert!(check(&verifier(vec![other, pinned])).is_ok());
    }

    #[test]
    fn a_mismatch_names_the_expected_and_presented_pins() {
        let other = SpkiPin::of_spki(b"another key");
        let err = check(&verifier(vec![other])).expect_err("not pinned");
        let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(inner)) = err else {
            panic!("expected a certificate error carrying the mismatch, got {err:?}");
        };
        let mismatch = inner
            .0
            .downcast_ref::<PinMismatch>()
            .expect("a PinMismatch");
        assert_eq!(mismatch.expected, vec![other]);
        assert_eq!(mismatch.presented.to_hex(), VECTOR_PIN.trim());
    }
}
