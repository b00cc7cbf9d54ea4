//! [`SpkiPin`]: a relay's public-key pin, the one definition both sides use:
//! the relay prints it (`safespaces-relay pin`, and at start-up), clients
//! compare against it (`pin_verifier.rs`, with the `tls` feature).
//!
//! A pin is the SHA-256 of a certificate's SubjectPublicKeyInfo, the value
//! `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`
//! gives. It is of the key, not the certificate, so a renewal on the same key
//! keeps it (`docs/sync.md`, "Trust").

use std::fmt;

use sha2::{Digest, Sha256};

/// The SHA-256 of a certificate's SubjectPublicKeyInfo: 64 hex digits in
/// configuration and messages, exactly what `safespaces-relay` prints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpkiPin([u8; 32]);

/// A pin that is not 64 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "a pin is 64 hex digits (the SHA-256 of the certificate's public key, as \
     `safespaces-relay pin --cert FILE` prints it), got {len} characters"
)]
pub struct PinParseError {
    /// How many characters the refused pin had, after trimming.
    pub len: usize,
}

impl SpkiPin {
    /// The pin of a DER-encoded SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }

    /// The pin of a DER-encoded certificate's public key. Fails only if the
    /// certificate does not parse.
    #[cfg(feature = "tls")]
    pub fn of_certificate(cert_der: &[u8]) -> Result<Self, rustls::Error> {
        let cert = rustls::pki_types::CertificateDer::from(cert_der);
        let parsed = rustls::server::ParsedCertificate::try_from(&cert)?;
        Ok(Self::of_spki(parsed.subject_public_key_info().as_ref()))
    }

    /// Parses 64 hex digits (either case), ignoring surrounding whitespace
    /// (a pin pasted from a terminal often carries a newline).
    pub fn from_hex(s: &str) -> Result<Self, PinParseError> {
        let s = s.trim();
        let mut raw = [0u8; 32];
        if s.len() != 64 || hex::decode_to_slice(s, &mut raw).is_err() {
            return Err(PinParseError { len: s.len() });
        }
        Ok(Self(raw))
    }

    /// The 64-digit lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for SpkiPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secret: it is the hash of a public key.
        write!(f, "SpkiPin({})", self.to_hex())
    }
}

impl fmt::Display for SpkiPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for SpkiPin {
    type Err = PinParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

/// A list of pins for messages: `a` or `a or b`.
pub fn describe_pins(pins: &[SpkiPin]) -> String {
    pins.iter()
        .map(SpkiPin::to_hex)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Why a pinned handshake failed: the server presented a key none of the
/// pins name. The pin verifier carries it inside the rustls error
/// (`CertificateError::Other`), so a client can downcast it and say which
/// key the server presented instead of a bare "invalid certificate".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the relay presented a certificate with key pin {presented}, not the pinned {}",
    describe_pins(expected)
)]
pub struct PinMismatch {
    /// The pins the client accepts.
    pub expected: Vec<SpkiPin>,
    /// The pin of the public key in the certificate the server presented.
    pub presented: SpkiPin,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_parses_64_hex_digits_only() {
        let pin = SpkiPin::from_hex(&"AB".repeat(32)).expect("valid");
        assert_eq!(pin.to_hex(), "ab".repeat(32));
        assert_eq!(
            SpkiPin::from_hex(&format!(" {}\n", "ab".repeat(32))),
            Ok(pin)
        );
        assert_eq!(SpkiPin::from_hex("abcd"), Err(PinParseError { len: 4 }));
        assert!(SpkiPin::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn a_pin_shows_as_its_hex_digits() {
        let pin = SpkiPin::of_spki(b"");
        // SHA-256 of nothing.
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(pin.to_string(), hex);
        assert_eq!(format!("{pin:?}"), format!("SpkiPin({hex})"));
        assert_eq!(describe_pins(&[pin, pin]), format!("{hex} or {hex}"));
    }
}
