//! The keyring: every secret the device holds, in one place.
//!
//! - the device's age X25519 identity (how epoch keys reach this device),
//! - its Ed25519 signing key (authorship, design decision 3),
//! - the storage key that seals the local document store,
//! - the symmetric keys of spaces and the journal, by [`KeyId`].
//!
//! On disk the keyring is one padded file sealed with a subkey of the
//! profile's master key; the master key itself is what the unlock slots wrap.
//! In memory every secret zeroizes on drop, and `Profile::lock` drops the
//! keyring.
//!
//! Serialized layout (little-endian), inside the seal:
//!
//! ```text
//! "SSK2" | u8 unlock policy (bit 0 keystore slot in use, bit 1 passphrase
//! slot in use, bit 2 passphrase required) | u16 identity length | age X25519 identity (Bech32) |
//! 32-byte Ed25519 seed | 32-byte storage key | u32 key count |
//! per key: 16-byte key id | 32-byte key
//! ```

use std::collections::BTreeMap;
use std::str::FromStr;

use age_core::secrecy::ExposeSecret;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use super::error::ProfileError;
use crate::crypto::SymmetricKey;

const MAGIC: &[u8; 4] = b"SSK2";

/// Which unlock slots are real. Kept inside the sealed keyring, never in
/// the slots file: decoys must stay indistinguishable from real slots on
/// disk, yet a rotation has to know whether to re-wrap the keystore slot
/// (and hand the app a new secret) or leave a decoy there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UnlockPolicy {
    /// Slot 0 wraps the master key under a keystore secret the app holds.
    pub keystore: bool,
    /// Slot 1 wraps the master key under a passphrase.
    pub passphrase: bool,
    /// The person chose "passphrase only": slot 0 stays a decoy and
    /// `set_keystore_secret` is refused, so a forced fingerprint or face
    /// opens nothing.
    pub require_passphrase: bool,
}

impl UnlockPolicy {
    fn to_byte(self) -> u8 {
        u8::from(self.keystore)
            | u8::from(self.passphrase) << 1
            | u8::from(self.require_passphrase) << 2
    }

    fn from_byte(byte: u8) -> Option<Self> {
        (byte & !0b111 == 0).then_some(Self {
            keystore: byte & 1 != 0,
            passphrase: byte & 2 != 0,
            require_passphrase: byte & 4 != 0,
        })
    }
}

/// Names a symmetric key in the keyring, e.g. a space's epoch key or the
/// journal key. The protocol layer decides how ids are derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 16]);

/// The device's secrets. Obtain one through `Profile::with_keyring`.
pub struct Keyring {
    device_identity: age::x25519::Identity,
    signing_key: SigningKey,
    storage_key: SymmetricKey,
    keys: BTreeMap<KeyId, SymmetricKey>,
    pub(crate) policy: UnlockPolicy,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("device_recipient", &self.device_recipient().to_string())
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A fresh keyring with new device keys and no space keys.
    pub(crate) fn generate(policy: UnlockPolicy) -> Self {
        Self {
            device_identity: age::x25519::Identity::generate(),
            signing_key: SigningKey::generate(&mut OsRng),
            storage_key: SymmetricKey::generate(),
            keys: BTreeMap::new(),
            policy,
        }
    }

    /// Builds a keyring from restored device keys, with a new storage key.
    pub(crate) fn from_parts(
        device_identity: age::x25519::Identity,
        signing_key: SigningKey,
        keys: BTreeMap<KeyId, SymmetricKey>,
    ) -> Self {
        Self {
            device_identity,
            signing_key,
            storage_key: SymmetricKey::generate(),
            keys,
            policy: UnlockPolicy::default(),
        }
    }

    /// The device's age X25519 identity, to open key envelopes sent to it.
    pub fn device_identity(&self) -> &age::x25519::Identity {
        &self.device_identity
    }

    /// The device's age recipient, to publish to the space.
    pub fn device_recipient(&self) -> age::x25519::Recipient {
        self.device_identity.to_public()
    }

    /// The device's Ed25519 signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The device's Ed25519 public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// Signs `message` with the device key.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing_key.sign(message)
    }

    /// A space or journal key by id.
    pub fn key(&self, id: &KeyId) -> Option<&SymmetricKey> {
        self.keys.get(id)
    }

    /// The ids of all space and journal keys.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.keys().copied().collect()
    }

    pub(crate) fn keys(&self) -> &BTreeMap<KeyId, SymmetricKey> {
        &self.keys
    }

    pub(crate) fn insert_key(&mut self, id: KeyId, key: SymmetricKey) {
        self.keys.insert(id, key);
    }

    pub(crate) fn remove_key(&mut self, id: &KeyId) -> bool {
        self.keys.remove(id).is_some()
    }

    pub(crate) fn storage_key(&self) -> &SymmetricKey {
        &self.storage_key
    }

    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let identity = self.device_identity.to_string();
        let identity = identity.expose_secret().as_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(128 + self.keys.len() * 48));
        out.extend_from_slice(MAGIC);
        out.push(self.policy.to_byte());
        out.extend_from_slice(&(identity.len() as u16).to_le_bytes());
        out.extend_from_slice(identity);
        out.extend_from_slice(self.signing_key.as_bytes());
        out.extend_from_slice(self.storage_key.expose_bytes());
        out.extend_from_slice(&(self.keys.len() as u32).to_le_bytes());
        for (id, key) in &self.keys {
            out.extend_from_slice(&id.0);
            out.extend_from_slice(key.expose_bytes());
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, ProfileError> {
        let bad = |what: &str| ProfileError::Corrupt(format!("keyring {what}"));
        let mut r = bytes;
        let mut take = |n: usize| -> Result<&[u8], ProfileError> {
            if r.len() < n {
                return Err(bad("is truncated"));
            }
            let (head, tail) = r.split_at(n);
            r = tail;
            Ok(head)
        };
        if take(4)? != MAGIC {
            return Err(bad("has an unknown format"));
        }
        let policy = UnlockPolicy::from_byte(take(1)?[0])
            .ok_or_else(|| bad("has an unknown unlock policy"))?;
        let id_len = u16::from_le_bytes([take(1)?[0], take(1)?[0]]) as usize;
        let identity =
            std::str::from_utf8(take(id_len)?).map_err(|_| bad("identity is not text"))?;
        let device_identity = age::x25519::Identity::from_str(identity)
            .map_err(|_| bad("identity is not an age X25519 identity"))?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(take(32)?);
        let signing_key = SigningKey::from_bytes(&seed);
        let mut storage = Zeroizing::new([0u8; 32]);
        storage.copy_from_slice(take(32)?);
        let storage_key = SymmetricKey::from_bytes(*storage);
        let mut count = [0u8; 4];
        count.copy_from_slice(take(4)?);
        let mut keys = BTreeMap::new();
        for _ in 0..u32::from_le_bytes(count) {
            let mut id = [0u8; 16];
            id.copy_from_slice(take(16)?);
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(take(32)?);
            keys.insert(KeyId(id), SymmetricKey::from_bytes(*key));
        }
        if !r.is_empty() {
            return Err(bad("has trailing bytes"));
        }
        Ok(Self {
            device_identity,
            signing_key,
            storage_key,
            keys,
            policy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier;

    #[test]
    fn keyring_round_trips_every_secret() {
        let policy = UnlockPolicy {
            keystore: false,
            passphrase: true,
            require_passphrase: true,
        };
        let mut ring = Keyring::generate(policy);
        ring.insert_key(KeyId([9; 16]), SymmetricKey::from_bytes([3; 32]));
        let decoded = Keyring::decode(&ring.encode()).expect("decode");
        assert_eq!(
            decoded.device_recipient().to_string(),
            ring.device_recipient().to_string()
        );
        assert_eq!(decoded.verifying_key(), ring.verifying_key());
        assert_eq!(
            decoded.storage_key().expose_bytes(),
            ring.storage_key().expose_bytes()
        );
        assert_eq!(
            decoded.key(&KeyId([9; 16])).map(|k| *k.expose_bytes()),
            Some([3; 32])
        );
        assert_eq!(decoded.policy, policy);
        let sig = decoded.sign(b"m");
        assert!(ring.verifying_key().verify(b"m", &sig).is_ok());
    }

    #[test]
    fn truncated_keyring_is_corrupt() {
        let bytes = Keyring::generate(UnlockPolicy::default()).encode();
        for cut in [0, 3, 10, bytes.len() - 1] {
            assert!(matches!(
                Keyring::decode(&bytes[..cut]),
                Err(ProfileError::Corrupt(_))
            ));
        }
    }
}
