//! Invites: a one-time code that fits a QR code (protocol.md §5).
//!
//! An invite is 16 random bytes, the *secret*. Everything else derives from
//! it, so the code is all the joiner needs besides the relay address:
//!
//! | derived | HKDF info | use |
//! | --- | --- | --- |
//! | drop-box id (32 B) | `safespaces/v1/invite-dropbox` | where the relay holds the package |
//! | package key (32 B) | `safespaces/v1/invite-key` | seals the package (safespaces-key stanza) |
//! | invite id (8 B, hex) | `safespaces/v1/invite-id` | key of `invites/<id>` in the space |
//! | signing key (Ed25519 seed) | `safespaces/v1/invite-signing` | the joiner's proof; its public half is recorded in the space |
//!
//! The relay sees a random drop-box id and a padded blob, claimed once.
//!
//! ```
//! use safespaces_core::protocol::invite::InviteSecret;
//!
//! let secret = InviteSecret::generate();
//! let code = secret.code();
//! assert!(code.starts_with("ss1-"));
//! let parsed = InviteSecret::parse(&code.to_uppercase()).unwrap();
//! assert_eq!(parsed.invite_id(), secret.invite_id());
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::code::CodeSecret;
use super::envelope::SpaceId;
use super::epoch::EpochKey;
use crate::crypto::SymmetricKey;
use crate::model::{DeviceId, MemberId, Role, Timestamp};
use crate::store::padding::{open_padded, seal_padded};

const CODE_PREFIX: &str = "ss1-";
const JOIN_CONTEXT: &[u8] = b"safespaces/v1/join";
/// How long an invite works unless the inviter says otherwise.
pub const DEFAULT_INVITE_SECS: i64 = 7 * 24 * 60 * 60;

/// Why an invite could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InviteError {
    /// The text is not an invite code.
    #[error("not an invite code: expected `ss1-` followed by 26 letters and digits")]
    BadCode,
    /// The package does not open with this code, or is damaged.
    #[error("the invite could not be opened; check the code")]
    Undecryptable,
    /// The invite expired.
    #[error("this invite has expired; ask for a new one")]
    Expired,
    /// The join proof does not verify.
    #[error("the join was not made with a valid invite")]
    BadProof,
}

/// The secret of one invite. Zeroized on drop.
#[derive(Clone)]
pub struct InviteSecret(CodeSecret);

impl std::fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteSecret(..)")
    }
}

impl InviteSecret {
    /// Draws a fresh invite secret.
    pub fn generate() -> Self {
        Self(CodeSecret::generate())
    }

    /// The code to hand over: `ss1-` and 26 base32 characters in groups of
    /// five, easy to read aloud and small enough for any QR code.
    pub fn code(&self) -> String {
        self.0.to_code(CODE_PREFIX)
    }

    /// Parses a code, forgiving case, spaces and dashes.
    pub fn parse(code: &str) -> Result<Self, InviteError> {
        CodeSecret::parse(CODE_PREFIX, code)
            .map(Self)
            .ok_or(InviteError::BadCode)
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        self.0.derive(label)
    }

    /// The relay drop-box id, hex.
    pub fn dropbox_id(&self) -> String {
        hex::encode(*self.derive(b"safespaces/v1/invite-dropbox"))
    }

    /// The id under which the space records this invite.
    pub fn invite_id(&self) -> String {
        hex::encode(&self.derive(b"safespaces/v1/invite-id")[..8])
    }

    fn package_key(&self) -> SymmetricKey {
        SymmetricKey::from_bytes(*self.derive(b"safespaces/v1/invite-key"))
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.derive(b"safespaces/v1/invite-signing"))
    }

    /// The public key the space records for this invite, hex.
    pub fn verifying_key_hex(&self) -> String {
        hex::encode(self.signing_key().verifying_key().to_bytes())
    }

    /// The joiner's proof that they hold this invite, bound to the member and
    /// device they join as.
    pub fn prove_join(&self, member: &MemberId, device: &DeviceId) -> [u8; 64] {
        let message = join_message(&self.invite_id(), member, device);
        self.signing_key().sign(&message).to_bytes()
    }
}

fn join_message(invite_id: &str, member: &MemberId, device: &DeviceId) -> Vec<u8> {
    let mut m = JOIN_CONTEXT.to_vec();
    for part in [invite_id, member.as_str(), device.as_str()] {
        m.push(0);
        m.extend_from_slice(part.as_bytes());
    }
    m
}

/// Checks a join proof against the verifying key recorded with the invite.
pub fn verify_join(
    verifying_key_hex: &str,
    invite_id: &str,
    member: &MemberId,
    device: &DeviceId,
    proof: &[u8; 64],
) -> Result<(), InviteError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(verifying_key_hex, &mut key).map_err(|_| InviteError::BadProof)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| InviteError::BadProof)?;
    key.verify(
        &join_message(invite_id, member, device),
        &Signature::from_bytes(proof),
    )
    .map_err(|_| InviteError::BadProof)
}

/// What the invitee receives through the drop-box: enough to find and read
/// the space's mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitePackage {
    /// The space.
    pub space: SpaceId,
    /// Its space name, to show the invitee what they are joining.
    pub space_name: String,
    /// The current epoch number.
    pub epoch: u32,
    /// The current epoch key.
    pub epoch_key: EpochKey,
    /// When the invite stops working.
    pub expires_at: Timestamp,
    /// The role the joiner will have.
    pub role: Role,
}

#[derive(Serialize, Deserialize)]
struct PackageWire {
    v: u8,
    space: String,
    name: String,
    epoch: u32,
    epoch_key: String,
    expires_at: i64,
    role: Role,
}

impl InvitePackage {
    /// Seals the package for the drop-box.
    pub fn seal(&self, secret: &InviteSecret) -> Result<Vec<u8>, crate::crypto::SealError> {
        let wire = PackageWire {
            v: 1,
            space: self.space.to_hex(),
            name: self.space_name.clone(),
            epoch: self.epoch,
            epoch_key: hex::encode(self.epoch_key.expose_bytes()),
            expires_at: self.expires_at.0,
            role: self.role,
        };
        let json = Zeroizing::new(serde_json::to_vec(&wire).unwrap_or_default());
        seal_padded(&secret.package_key(), &json)
    }

    /// Opens a package claimed from the drop-box, refusing expired ones.
    pub fn open(sealed: &[u8], secret: &InviteSecret, now: Timestamp) -> Result<Self, InviteError> {
        let json =
            open_padded(&secret.package_key(), sealed).map_err(|_| InviteError::Undecryptable)?;
        let wire: PackageWire =
            serde_json::from_slice(&json).map_err(|_| InviteError::Undecryptable)?;
        if wire.v != 1 {
            return Err(InviteError::Undecryptable);
        }
        let mut space = [0u8; 16];
        hex::decode_to_slice(&wire.space, &mut space).map_err(|_| InviteError::Undecryptable)?;
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(&wire.epoch_key, key.as_mut())
            .map_err(|_| InviteError::Undecryptable)?;
        if now.0 >= wire.expires_at {
            return Err(InviteError::Expired);
        }
        Ok(InvitePackage {
            space: SpaceId(space),
            space_name: wire.name,
            epoch: wire.epoch,
            epoch_key: EpochKey::from_bytes(*key),
            expires_at: Timestamp(wire.expires_at),
            role: wire.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_forgive_formatting() {
        let secret = InviteSecret::generate();
        let code = secret.code();
        assert_eq!(code.len(), 4 + 26 + 5);
        let sloppy = code.to_uppercase().replace('-', " ").replacen(' ', "-", 1);
        let parsed = InviteSecret::parse(&sloppy).unwrap();
        assert_eq!(parsed.dropbox_id(), secret.dropbox_id());
        assert!(matches!(
            InviteSecret::parse("ss1-abc"),
            Err(InviteError::BadCode)
        ));
        assert!(InviteSecret::parse("hello").is_err());
        assert!(InviteSecret::parse("ss1-11111-11111-11111-11111-111111").is_err());
    }

    #[test]
    fn derived_values_are_unrelated() {
        let secret = InviteSecret::generate();
        assert_ne!(secret.dropbox_id()[..16], secret.invite_id());
        assert_ne!(secret.verifying_key_hex(), secret.dropbox_id());
    }

    fn package() -> InvitePackage {
        InvitePackage {
            space: SpaceId([1; 16]),
            space_name: "Tuesday group".into(),
            epoch: 2,
            epoch_key: EpochKey::from_bytes([9; 32]),
            expires_at: Timestamp(1_000),
            role: Role::Member,
        }
    }

    #[test]
    fn package_opens_with_its_code_until_it_expires() {
        let secret = InviteSecret::generate();
        let sealed = package().seal(&secret).unwrap();
        assert_eq!(
            InvitePackage::open(&sealed, &secret, Timestamp(999)).unwrap(),
            package()
        );
        assert_eq!(
            InvitePackage::open(&sealed, &secret, Timestamp(1_000)),
            Err(InviteError::Expired)
        );
        assert_eq!(
            InvitePackage::open(&sealed, &InviteSecret::generate(), Timestamp(0)),
            Err(InviteError::Undecryptable)
        );
    }

    #[test]
    fn join_proof_binds_member_and_device() {
        let secret = InviteSecret::generate();
        let (member, device) = (MemberId::random(), DeviceId::random());
        let proof = secret.prove_join(&member, &device);
        let key = secret.verifying_key_hex();
        let id = secret.invite_id();
        assert_eq!(verify_join(&key, &id, &member, &device, &proof), Ok(()));
        assert!(verify_join(&key, &id, &MemberId::random(), &device, &proof).is_err());
        assert!(verify_join(&key, &id, &member, &DeviceId::random(), &proof).is_err());
        let other = InviteSecret::generate();
        assert!(verify_join(&other.verifying_key_hex(), &id, &member, &device, &proof).is_err());
    }
}
