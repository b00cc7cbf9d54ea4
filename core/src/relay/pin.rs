//! [`SpkiPin`]: a relay's public-key pin (`trust.rs` says why the key and
//! not the certificate), and the mismatch a pinned handshake fails with.

use std::fmt;

use sha2::{Digest, Sha256};

/// The SHA-256 of a certificate's SubjectPublicKeyInfo: 64 hex digits in
/// configuration and messages, exactly what `safespaces-relay` prints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpkiPin(pub(super) [u8; 32]);

impl SpkiPin {
    /// The pin of a DER-encoded SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
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

/// A list of pins for messages: `a` or `a or b`.
pub(crate) fn describe_pins(pins: &[SpkiPin]) -> String {
    pins.iter()
        .map(SpkiPin::to_hex)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Carried inside the rustls error so the client can say which key the
/// relay presented instead of a bare "invalid certificate".
#[derive(Debug, thiserror::Error)]
#[error(
    "the relay presented a certificate with key pin {presented}, not the pinned {}",
    describe_pins(expected)
)]
pub(crate) struct PinMismatch {
    pub(crate) expected: Vec<SpkiPin>,
    pub(crate) presented: SpkiPin,
}
