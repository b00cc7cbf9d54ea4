//! Epoch keys and everything derived from them (protocol.md §1).
//!
//! A space's epoch key is the only secret members share. The content key
//! that seals envelopes, the relay mailbox id, and the key that authorises
//! relay requests are all derived from it, so a new epoch (after a removal)
//! is at once a new key, a new mailbox and a new relay credential.

use age_core::primitives::hkdf;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::SymmetricKey;

const CONTENT_LABEL: &[u8] = b"safespaces/v1/content";
const MAILBOX_ID_LABEL: &[u8] = b"safespaces/v1/mailbox-id";
const MAILBOX_SIGNING_LABEL: &[u8] = b"safespaces/v1/mailbox-signing";
const ANONYMOUS_LABEL: &[u8] = b"safespaces/v1/anonymous-member";

/// The author device id of envelopes signed with the anonymous member key
/// (attendance requests): all zeros, never a real device's.
pub const ANONYMOUS_DEVICE: &str = "0000000000000000";

/// A relay mailbox id: 32 bytes that look random to the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MailboxId(pub [u8; 32]);

impl MailboxId {
    /// Lowercase hex, as the relay API carries it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// One epoch's key. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EpochKey([u8; 32]);

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochKey(..)")
    }
}

impl EpochKey {
    /// Draws a fresh epoch key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// Wraps key bytes received in an invite or a handover.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key, to seal it to another device or store it in the keyring.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key that seals and opens this epoch's envelopes.
    pub fn content_key(&self) -> SymmetricKey {
        let derived = Zeroizing::new(hkdf(&[], CONTENT_LABEL, &self.0));
        SymmetricKey::from_bytes(*derived)
    }

    /// This epoch's relay mailbox.
    pub fn mailbox_id(&self) -> MailboxId {
        MailboxId(hkdf(&[], MAILBOX_ID_LABEL, &self.0))
    }

    /// The key that signs this epoch's relay requests. The relay holds only
    /// its public half, registered when the mailbox is created.
    pub fn mailbox_signing_key(&self) -> SigningKey {
        let seed = Zeroizing::new(hkdf(&[], MAILBOX_SIGNING_LABEL, &self.0));
        SigningKey::from_bytes(&seed)
    }

    /// The key every member of this epoch shares for envelopes whose author
    /// must stay unknown to other members (attendance requests): its
    /// signature says only "a member wrote this". The real author signs
    /// inside, for the leads' eyes only.
    pub fn anonymous_signing_key(&self) -> SigningKey {
        let seed = Zeroizing::new(hkdf(&[], ANONYMOUS_LABEL, &self.0));
        SigningKey::from_bytes(&seed)
    }

    /// The public half of [`EpochKey::mailbox_signing_key`].
    pub fn mailbox_verifying_key(&self) -> VerifyingKey {
        self.mailbox_signing_key().verifying_key()
    }
}

impl PartialEq for EpochKey {
    /// Constant-time, as any comparison of secrets should be.
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for EpochKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_deterministic_and_independent() {
        let key = EpochKey::from_bytes([7; 32]);
        let again = EpochKey::from_bytes([7; 32]);
        assert_eq!(key.mailbox_id(), again.mailbox_id());
        assert_eq!(key.content_key().key_id(), again.content_key().key_id());
        assert_eq!(key.mailbox_verifying_key(), again.mailbox_verifying_key());
        let other = EpochKey::from_bytes([8; 32]);
        assert_ne!(key.mailbox_id(), other.mailbox_id());
        assert_ne!(
            key.content_key().expose_bytes(),
            other.content_key().expose_bytes()
        );
        // The mailbox id reveals nothing usable as the content key.
        assert_ne!(&key.mailbox_id().0, key.content_key().expose_bytes());
    }

    #[test]
    fn derivation_matches_committed_vector() {
        // protocol.md §1 with E = 32 bytes of 0x07, computed independently
        // (Python hmac/hashlib HKDF-SHA-256, empty salt).
        let key = EpochKey::from_bytes([7; 32]);
        assert_eq!(
            key.mailbox_id().to_hex(),
            "836eb8283f9400c5001ce3614d67fadd0e9b0a48a860828c21b6cce9f5320072"
        );
        assert_eq!(
            hex::encode(key.content_key().expose_bytes()),
            "9ee9babc0c6281306f023a2c991527544aa68e5124abf645f4f24e0484e5bf3d"
        );
    }
}
