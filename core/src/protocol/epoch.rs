//! Epoch keys and everything derived from them (protocol.md §1).
//!
//! A space's epoch key is the only secret members share. The content key
//! that seals envelopes and the member key that authorises relay requests
//! are derived from it, so a new epoch (after a removal) is at once a new
//! key, a new mailbox and a new relay credential.
//!
//! Beside it, each epoch has an **admin seed** ([`AdminSeed`]), drawn by
//! the coordinator's device that made the epoch and sealed only to
//! coordinators' devices: its key alone may compact or delete the epoch's
//! mailbox on the relay, so a member (or a removed member, who keeps the
//! old epoch key) can read and append but never destroy what others wrote.
//! Its public half ([`AdminKey`]) travels with the epoch key to every
//! member device, because the mailbox id is the hash of both public keys
//! (`safespaces_wire::mailbox::mailbox_id_for_keys`).

use age_core::primitives::hkdf;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::SymmetricKey;

const CONTENT_LABEL: &[u8] = b"safespaces/v1/content";
const ADMIN_LABEL: &[u8] = b"safespaces/v3/mailbox-admin";
const DERIVED_ADMIN_LABEL: &[u8] = b"safespaces/v3/derived-mailbox-admin";
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

    /// This epoch's relay mailbox, bound to its member key and `admin`.
    pub fn mailbox_id(&self, admin: &AdminKey) -> MailboxId {
        let member = self.mailbox_verifying_key();
        MailboxId(
            *safespaces_wire::mailbox::mailbox_id_for_keys(member.as_bytes(), &admin.0).as_bytes(),
        )
    }

    /// An admin seed derived from this key, for a mailbox every holder of
    /// the key may administer: the journal's, which only the person's own
    /// devices hold. A space's epochs never use it (their seed is drawn
    /// apart, for coordinators only).
    pub fn derived_admin_seed(&self) -> AdminSeed {
        AdminSeed(hkdf(&[], DERIVED_ADMIN_LABEL, &self.0))
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

/// The seed of an epoch mailbox's admin key: 32 random bytes per epoch,
/// held by coordinators' devices only. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AdminSeed([u8; 32]);

impl std::fmt::Debug for AdminSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminSeed(..)")
    }
}

impl AdminSeed {
    /// Draws a fresh seed, for a new epoch.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        Self(seed)
    }

    /// Wraps seed bytes from the keyring, a handover or a link package.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw seed, to seal it to a coordinator's device or keep it.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key that signs compact and delete requests on the mailbox.
    pub fn signing_key(&self) -> SigningKey {
        let seed = Zeroizing::new(hkdf(&[], ADMIN_LABEL, &self.0));
        SigningKey::from_bytes(&seed)
    }

    /// Its public half: what every member device knows of it.
    pub fn public(&self) -> AdminKey {
        AdminKey(self.signing_key().verifying_key().to_bytes())
    }
}

impl PartialEq for AdminSeed {
    /// Constant-time, as for [`EpochKey`].
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for AdminSeed {}

/// The public admin key of an epoch's mailbox. Not secret: every member
/// device needs it to find the mailbox, and the relay learns it at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdminKey(pub [u8; 32]);

impl AdminKey {
    /// Lowercase hex, as kept in the registry and sent to the relay.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Wraps raw key bytes; `None` unless they are a valid Ed25519 public key.
    pub fn from_bytes(raw: [u8; 32]) -> Option<Self> {
        VerifyingKey::from_bytes(&raw).ok()?;
        Some(Self(raw))
    }

    /// Parses [`AdminKey::to_hex`]; `None` unless 64 hex digits of a valid
    /// Ed25519 public key.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(s, &mut raw).ok()?;
        Self::from_bytes(raw)
    }
}

impl PartialEq for EpochKey {
    /// Constant-time, as any comparison of secrets should be.
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for EpochKey {}

/// Compares two secrets in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_deterministic_and_independent() {
        let key = EpochKey::from_bytes([7; 32]);
        let again = EpochKey::from_bytes([7; 32]);
        let admin = AdminSeed::from_bytes([9; 32]).public();
        assert_eq!(key.mailbox_id(&admin), again.mailbox_id(&admin));
        assert_eq!(key.content_key().key_id(), again.content_key().key_id());
        assert_eq!(key.mailbox_verifying_key(), again.mailbox_verifying_key());
        let other = EpochKey::from_bytes([8; 32]);
        assert_ne!(key.mailbox_id(&admin), other.mailbox_id(&admin));
        // Another admin key names another mailbox.
        let other_admin = AdminSeed::from_bytes([10; 32]).public();
        assert_ne!(key.mailbox_id(&admin), key.mailbox_id(&other_admin));
        assert_ne!(
            key.content_key().expose_bytes(),
            other.content_key().expose_bytes()
        );
        // The mailbox id reveals nothing usable as the content key.
        assert_ne!(&key.mailbox_id(&admin).0, key.content_key().expose_bytes());
        // The journal's derived admin seed is not the member key.
        assert_ne!(
            key.derived_admin_seed().signing_key().verifying_key(),
            key.mailbox_verifying_key()
        );
    }

    #[test]
    fn admin_keys_parse_only_as_valid_public_keys() {
        let admin = AdminSeed::from_bytes([9; 32]).public();
        assert_eq!(AdminKey::from_hex(&admin.to_hex()), Some(admin));
        assert_eq!(AdminKey::from_hex("00"), None);
        assert_eq!(AdminKey::from_hex(&"zz".repeat(32)), None);
    }

    #[test]
    fn derivation_matches_committed_vector() {
        // protocol.md §1 with E = 32 bytes of 0x07 and admin seed 0x09 × 32,
        // computed independently (Python hmac/hashlib HKDF-SHA-256 with an
        // empty salt, `cryptography` Ed25519, hashlib SHA-256).
        let key = EpochKey::from_bytes([7; 32]);
        let admin = AdminSeed::from_bytes([9; 32]).public();
        assert_eq!(
            key.mailbox_id(&admin).to_hex(),
            "809071b2fedde058065a7d29c876f7b60cbb018d42b20ae8e0ee5ee540a84fc1"
        );
        assert_eq!(
            hex::encode(key.content_key().expose_bytes()),
            "9ee9babc0c6281306f023a2c991527544aa68e5124abf645f4f24e0484e5bf3d"
        );
    }
}
