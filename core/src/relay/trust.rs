//! Which server certificates the relay client trusts: a set of public-key
//! pins, operator-provided CA certificates, or the web PKI (Mozilla's root
//! store, compiled in).
//!
//! # Pins are of the public key, not the certificate
//!
//! A pin is the SHA-256 of the certificate's SubjectPublicKeyInfo (SPKI),
//! the same value as
//! `openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`
//! and as `safespaces-relay pin --cert cert.pem` prints. A renewal that keeps
//! the key (Let's Encrypt with `--reuse-key`, or the same key in a new
//! self-signed certificate) keeps the pin; only a key change needs a new
//! one. A client holds a *set* of pins so an operator can ship the next key's
//! pin before switching to it (`docs/deploy.md`, "Certificates, pins and
//! renewal"). Name, issuer and dates are not checked with a pin: the key *is*
//! the identity, and the handshake signature is still verified against that
//! key, so only whoever holds the private key gets through.
//!
//! # Why web PKI through `webpki-roots`, not the platform verifier
//!
//! `rustls-platform-verifier` asks the operating system, which on Android
//! needs a JNI hook initialised from the app's `Context` and a Kotlin
//! component shipped next to the crate, and on every platform trusts CAs a
//! person (or whoever holds her phone, or her institution's device
//! management) installed. `webpki-roots` is the Mozilla root store as data:
//! the same answer on every phone and in every test, no platform set-up, and
//! a CA slipped onto the device is not trusted. It costs about 73 KiB of
//! library size (measured as `docs/sync.md`, "Trust", says) and its roots
//! are as fresh as the app build, which app updates keep current. Pins stay the
//! stronger setting: a mis-issued certificate from any public CA gets
//! nowhere against a pin.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{ClientConfig, RootCertStore};
use safespaces_wire::PinVerifier;
pub use safespaces_wire::SpkiPin;

use super::error::RelayError;

/// Parses 64 hex digits (either case) into a pin, with the message a person
/// who pasted the wrong thing needs.
fn pin_from_hex(s: &str) -> Result<SpkiPin, RelayError> {
    SpkiPin::from_hex(s).map_err(|e| RelayError::Config(e.to_string()))
}

/// How the client decides that it is talking to the right relay.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Trust {
    /// Accept a certificate whose public key has one of these pins (the
    /// current key and, during a key change, the next), whatever its name,
    /// issuer or dates. Must not be empty.
    Pins(Vec<SpkiPin>),
    /// Verify the chain and the host name against these CA certificates
    /// (DER), as a browser would against its roots.
    Roots(Vec<CertificateDer<'static>>),
    /// Verify the chain and the host name against the public web PKI:
    /// Mozilla's root store, compiled into the library (`webpki-roots`), so
    /// a CA someone installed on the device is not trusted. For a relay
    /// with a certificate from a public CA such as Let's Encrypt.
    WebPki,
}

impl Trust {
    /// Trust certificates whose public key has one of `pins` (64 hex digits
    /// each). At least one pin is needed.
    pub fn pins_from_hex<I, S>(pins: I) -> Result<Self, RelayError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let pins = pins
            .into_iter()
            .map(|p| pin_from_hex(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if pins.is_empty() {
            return Err(RelayError::Config(
                "give at least one pin (the relay's current key; add the next key's pin before a key change)"
                    .into(),
            ));
        }
        Ok(Self::Pins(pins))
    }

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

    /// The rustls configuration for this trust setting: TLS 1.3 only,
    /// speaking HTTP/1.1.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, RelayError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let setup = |e: rustls::Error| RelayError::Config(format!("TLS setup failed: {e}"));
        // TLS 1.3 only, as the threat model promises: no RSA key exchange
        // or CBC suites to downgrade to, and the certificate is encrypted.
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(setup)?;
        let webpki = |roots: RootCertStore| {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| RelayError::Config(format!("TLS setup failed: {e}")))
        };
        let mut config = match self {
            Trust::Pins(pins) => {
                if pins.is_empty() {
                    return Err(RelayError::Config(
                        "a pinned relay needs at least one pin".into(),
                    ));
                }
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(PinVerifier::new(
                        pins.clone(),
                        provider.clone(),
                    )))
                    .with_no_client_auth()
            }
            Trust::Roots(certs) => {
                let mut roots = RootCertStore::empty();
                for cert in certs {
                    roots.add(cert.clone()).map_err(|e| {
                        RelayError::Config(format!("a CA certificate is not usable: {e}"))
                    })?;
                }
                builder
                    .with_webpki_verifier(webpki(roots)?)
                    .with_no_client_auth()
            }
            Trust::WebPki => {
                let roots = RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                builder
                    .with_webpki_verifier(webpki(roots)?)
                    .with_no_client_auth()
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate (its pin is checked against OpenSSL's with the pin
    /// type, in `safespaces_wire::pin_verifier`).
    const VECTOR_CERT: &str = include_str!("../../tests/vectors/spki-pin-cert.pem");

    #[test]
    fn a_pin_that_is_not_64_hex_digits_is_a_config_error_saying_what_a_pin_is() {
        let err = Trust::pins_from_hex(["abcd"]).expect_err("too short");
        assert!(
            matches!(&err, RelayError::Config(why) if why.contains("64 hex digits") && why.contains("got 4 characters")),
            "{err:?}"
        );
        assert!(Trust::pins_from_hex([&"zz".repeat(32)]).is_err());
        assert!(Trust::pins_from_hex([&"AB".repeat(32)]).is_ok());
    }

    #[test]
    fn ca_file_without_certificates_is_refused() {
        assert!(Trust::roots_from_pem(b"not pem at all").is_err());
    }

    #[test]
    fn an_empty_pin_set_is_refused() {
        assert!(Trust::pins_from_hex(Vec::<String>::new()).is_err());
        assert!(Trust::Pins(vec![]).client_config().is_err());
        assert!(Trust::pins_from_hex([&"00".repeat(32), "bad"]).is_err());
    }

    #[test]
    fn every_trust_setting_builds() {
        // That TLS 1.2 servers are refused is shown against a real one in
        // `tests/tests/tls_versions.rs`.
        let pins = Trust::pins_from_hex([&"00".repeat(32), &"11".repeat(32)]).expect("pins");
        let roots = Trust::roots_from_pem(VECTOR_CERT.as_bytes()).expect("roots");
        for trust in [pins, roots, Trust::WebPki] {
            assert!(trust.client_config().is_ok(), "{trust:?}");
        }
    }
}
