//! Invites: a one-time code that fits a QR code, and the three messages of
//! a join (protocol.md §5).
//!
//! An invite is 16 random bytes, the *secret*. Everything else derives from
//! it, so the code is all the joiner needs besides the relay address:
//!
//! | derived | HKDF info | use |
//! | --- | --- | --- |
//! | package drop-box id (32 B) | `safespaces/v2/invite-package` | where the relay holds the package |
//! | request drop-box id (32 B) | `safespaces/v2/invite-request` | where the joiner leaves its request |
//! | welcome drop-box id (32 B) | `safespaces/v2/invite-welcome` | where the inviter leaves the welcome |
//! | package key (32 B) | `safespaces/v2/invite-key` | seals the package (safespaces-key stanza) |
//! | invite id (8 B, hex) | `safespaces/v2/invite-id` | key of `invites/<id>` in the space |
//! | signing key (Ed25519 seed) | `safespaces/v2/invite-signing` | the joiner's proof; its public half is recorded in the space |
//!
//! The package holds no key to the space: whoever claims it learns the
//! space's name and where to ask. The joiner's [`JoinRequest`] is sealed to
//! the inviter's devices, which admit one joiner per invite in the space
//! document and only then seal a [`Welcome`] (the epoch key) to the joiner's
//! own device. So an intercepted code, or a package claimed by someone
//! else, reads nothing; what it can do is ask to join, in plain sight of
//! the inviter.
//!
//! ```
//! use safespaces_core::protocol::invite::InviteSecret;
//!
//! let secret = InviteSecret::generate();
//! let code = secret.code();
//! assert!(code.starts_with("ss2-"));
//! let parsed = InviteSecret::parse(&code.to_uppercase()).unwrap();
//! assert_eq!(parsed.invite_id(), secret.invite_id());
//! ```

use ed25519_dalek::{Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::code::CodeSecret;
pub use super::devices::{bind_device, verify_binding};
use super::devices::{decode_signature, framed, recipients, verifying_key};
use super::envelope::SpaceId;
use super::epoch::{AdminKey, EpochKey};
pub use super::error::InviteError;
use crate::crypto::SymmetricKey;
use crate::crypto::device_seal::{open_as_device, seal_to_devices};
use crate::crypto::padding::{open_padded, pad_json, seal_padded};
use crate::model::{DeviceId, DeviceKeys, MemberId, Role, Timestamp};

const CODE_PREFIX: &str = "ss2-";
const JOIN_CONTEXT: &[u8] = b"safespaces/v2/join";
/// How long an invite works unless the inviter says otherwise.
pub const DEFAULT_INVITE_SECS: i64 = 7 * 24 * 60 * 60;
/// Requests and welcomes are padded to this many bytes before sealing, so
/// their size does not give away a pseudonym's or a name's length.
const SEALED_FRAME: usize = 1024;
/// The most inviter devices a package lists (and a request is sealed to).
const MAX_INVITER_DEVICES: usize = 16;

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

    /// The code to hand over: `ss2-` and 26 base32 characters in groups of
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

    /// The relay drop-box id of the package, hex.
    pub fn dropbox_id(&self) -> String {
        hex::encode(*self.derive(b"safespaces/v2/invite-package"))
    }

    /// The relay drop-box id where the joiner leaves its request, hex.
    pub fn request_dropbox_id(&self) -> String {
        hex::encode(*self.derive(b"safespaces/v2/invite-request"))
    }

    /// The relay drop-box id where the inviter leaves the welcome, hex.
    pub fn welcome_dropbox_id(&self) -> String {
        hex::encode(*self.derive(b"safespaces/v2/invite-welcome"))
    }

    /// The id under which the space records this invite.
    pub fn invite_id(&self) -> String {
        hex::encode(&self.derive(b"safespaces/v2/invite-id")[..8])
    }

    fn package_key(&self) -> SymmetricKey {
        SymmetricKey::from_bytes(*self.derive(b"safespaces/v2/invite-key"))
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.derive(b"safespaces/v2/invite-signing"))
    }

    /// The public key the space records for this invite, hex.
    pub fn verifying_key_hex(&self) -> String {
        hex::encode(self.signing_key().verifying_key().to_bytes())
    }

    /// The joiner's proof that they hold this invite, bound to the member,
    /// the device and the device's keys they join with, so the inviter who
    /// writes the admission cannot change any of them.
    pub fn prove_join(&self, member: &MemberId, device: &DeviceId, keys: &DeviceKeys) -> [u8; 64] {
        let message = join_message(&self.invite_id(), member, device, keys);
        self.signing_key().sign(&message).to_bytes()
    }
}

fn join_message(
    invite_id: &str,
    member: &MemberId,
    device: &DeviceId,
    keys: &DeviceKeys,
) -> Vec<u8> {
    framed(
        JOIN_CONTEXT,
        &[
            invite_id,
            member.as_str(),
            device.as_str(),
            &keys.age_recipient,
            &keys.signing_key,
        ],
    )
}

/// Checks a join proof against the verifying key recorded with the invite.
pub fn verify_join(
    verifying_key_hex: &str,
    invite_id: &str,
    member: &MemberId,
    device: &DeviceId,
    keys: &DeviceKeys,
    proof_hex: &str,
) -> Result<(), InviteError> {
    let key = verifying_key(verifying_key_hex).ok_or(InviteError::BadProof)?;
    let proof = decode_signature(proof_hex).ok_or(InviteError::BadProof)?;
    key.verify(&join_message(invite_id, member, device, keys), &proof)
        .map_err(|_| InviteError::BadProof)
}

/// What the invitee receives through the package drop-box (or as a file):
/// what they are joining and whom to ask. It holds no key to the space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitePackage {
    /// The space.
    pub space: SpaceId,
    /// Its name, to show the invitee what they are joining.
    pub space_name: String,
    /// When the invite stops working (the inviter's clock decides).
    pub expires_at: Timestamp,
    /// The role the joiner will have.
    pub role: Role,
    /// The age recipients of the inviter's devices, to which the request is
    /// sealed.
    pub inviter_devices: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct PackageWire {
    v: u8,
    space: String,
    name: String,
    expires_at: i64,
    role: Role,
    inviter_devices: Vec<String>,
}

impl InvitePackage {
    /// Seals the package for the drop-box.
    pub fn seal(&self, secret: &InviteSecret) -> Result<Vec<u8>, crate::crypto::SealError> {
        let wire = PackageWire {
            v: 2,
            space: self.space.to_hex(),
            name: self.space_name.clone(),
            expires_at: self.expires_at.0,
            role: self.role,
            inviter_devices: self.inviter_devices.clone(),
        };
        let json = Zeroizing::new(serde_json::to_vec(&wire).unwrap_or_default());
        seal_padded(&secret.package_key(), &json)
    }

    /// Opens a package, refusing expired ones (by this device's clock: a
    /// hint, since the inviter's device decides when it admits).
    pub fn open(sealed: &[u8], secret: &InviteSecret, now: Timestamp) -> Result<Self, InviteError> {
        let json =
            open_padded(&secret.package_key(), sealed).map_err(|_| InviteError::Undecryptable)?;
        let wire: PackageWire =
            serde_json::from_slice(&json).map_err(|_| InviteError::Undecryptable)?;
        if wire.v != 2
            || wire.inviter_devices.is_empty()
            || wire.inviter_devices.len() > MAX_INVITER_DEVICES
        {
            return Err(InviteError::Undecryptable);
        }
        recipients(&wire.inviter_devices)?;
        let mut space = [0u8; 16];
        hex::decode_to_slice(&wire.space, &mut space).map_err(|_| InviteError::Undecryptable)?;
        if now.0 >= wire.expires_at {
            return Err(InviteError::Expired);
        }
        Ok(InvitePackage {
            space: SpaceId(space),
            space_name: wire.name,
            expires_at: Timestamp(wire.expires_at),
            role: wire.role,
            inviter_devices: wire.inviter_devices,
        })
    }
}

/// A joiner's request to be admitted: who they will be in the space and
/// the keys of the device they join with, with the invite's proof and the
/// device's own binding. Sealed to the inviter's devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The space the joiner asks to join.
    pub space: String,
    /// The invite's id.
    pub invite: String,
    /// The member id the joiner drew.
    pub member: MemberId,
    /// The name they chose for this space.
    pub pseudonym: String,
    /// Their device.
    pub device: DeviceId,
    /// Its public keys, with its binding.
    pub keys: DeviceKeys,
    /// The invite key's signature ([`InviteSecret::prove_join`]), hex.
    pub proof: String,
}

impl JoinRequest {
    /// Makes a request for `secret`'s invite into `space`, signed with the
    /// device's own key (the binding) and the invite key (the proof).
    pub fn new(
        secret: &InviteSecret,
        space: SpaceId,
        pseudonym: &str,
        device: &DeviceId,
        keys: &DeviceKeys,
        signer: &SigningKey,
    ) -> Self {
        let member = MemberId::random();
        let mut keys = keys.clone();
        keys.binding = Some(bind_device(device, &keys, signer));
        let proof = hex::encode(secret.prove_join(&member, device, &keys));
        JoinRequest {
            space: space.to_hex(),
            invite: secret.invite_id(),
            member,
            pseudonym: pseudonym.to_string(),
            device: device.clone(),
            keys,
            proof,
        }
    }

    /// Seals the request to the inviter's devices (the package lists them).
    pub fn seal(&self, package: &InvitePackage) -> Result<Vec<u8>, InviteError> {
        let json = serde_json::to_vec(self).map_err(|_| InviteError::Undecryptable)?;
        seal_to_devices(
            &recipients(&package.inviter_devices)?,
            &pad_json(json, SEALED_FRAME),
        )
        .map_err(|_| InviteError::Undecryptable)
    }

    /// Opens a request with one of the inviter's device identities and
    /// checks what needs no document: the device's binding. The proof is
    /// checked against the invite the space records.
    pub fn open(identity: &age::x25519::Identity, sealed: &[u8]) -> Result<Self, InviteError> {
        let json = open_as_device(identity, sealed).map_err(|_| InviteError::Undecryptable)?;
        Self::decode(&json)
    }

    /// Parses an opened request's plaintext and checks its binding: the
    /// part of [`JoinRequest::open`] after decryption, on its own so it can
    /// be fuzzed.
    pub fn decode(json: &[u8]) -> Result<Self, InviteError> {
        let request: JoinRequest =
            serde_json::from_slice(json).map_err(|_| InviteError::Undecryptable)?;
        verify_binding(&request.device, &request.keys)?;
        Ok(request)
    }
}

/// The inviter's answer once the joiner is admitted: the key to read the
/// space. Sealed to the joiner's device alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The space.
    pub space: SpaceId,
    /// The invite it answers.
    pub invite: String,
    /// The epoch at admission.
    pub epoch: u32,
    /// Its key.
    pub epoch_key: EpochKey,
    /// The public admin key of that epoch's mailbox, which with the key
    /// names it (protocol.md §1).
    pub admin_key: AdminKey,
}

#[derive(Serialize, Deserialize)]
struct WelcomeWire {
    v: u8,
    space: String,
    invite: String,
    epoch: u32,
    epoch_key: String,
    admin_key: String,
}

impl Welcome {
    /// Seals the welcome to the joiner's device recipient.
    pub fn seal(&self, recipient: &str) -> Result<Vec<u8>, InviteError> {
        let wire = WelcomeWire {
            v: 3,
            space: self.space.to_hex(),
            invite: self.invite.clone(),
            epoch: self.epoch,
            epoch_key: hex::encode(self.epoch_key.expose_bytes()),
            admin_key: self.admin_key.to_hex(),
        };
        let json = serde_json::to_vec(&wire).map_err(|_| InviteError::Undecryptable)?;
        seal_to_devices(
            &recipients(&[recipient.to_string()])?,
            &pad_json(json, SEALED_FRAME),
        )
        .map_err(|_| InviteError::Undecryptable)
    }

    /// Opens a welcome with this device's identity.
    pub fn open(identity: &age::x25519::Identity, sealed: &[u8]) -> Result<Self, InviteError> {
        let json = open_as_device(identity, sealed).map_err(|_| InviteError::Undecryptable)?;
        Self::decode(&json)
    }

    /// Parses an opened welcome's plaintext: the part of [`Welcome::open`]
    /// after decryption, on its own so it can be fuzzed.
    pub fn decode(json: &[u8]) -> Result<Self, InviteError> {
        let wire: WelcomeWire =
            serde_json::from_slice(json).map_err(|_| InviteError::Undecryptable)?;
        if wire.v != 3 {
            return Err(InviteError::Undecryptable);
        }
        let admin_key = AdminKey::from_hex(&wire.admin_key).ok_or(InviteError::Undecryptable)?;
        let mut space = [0u8; 16];
        hex::decode_to_slice(&wire.space, &mut space).map_err(|_| InviteError::Undecryptable)?;
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(&wire.epoch_key, key.as_mut())
            .map_err(|_| InviteError::Undecryptable)?;
        Ok(Welcome {
            space: SpaceId(space),
            invite: wire.invite,
            epoch: wire.epoch,
            epoch_key: EpochKey::from_bytes(*key),
            admin_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Device {
        id: DeviceId,
        identity: age::x25519::Identity,
        signer: SigningKey,
    }

    impl Device {
        fn new() -> Self {
            Device {
                id: DeviceId::random(),
                identity: age::x25519::Identity::generate(),
                signer: SigningKey::from_bytes(&rand::random()),
            }
        }

        fn keys(&self) -> DeviceKeys {
            DeviceKeys {
                age_recipient: self.identity.to_public().to_string(),
                signing_key: hex::encode(self.signer.verifying_key().to_bytes()),
                binding: None,
            }
        }
    }

    #[test]
    fn codes_round_trip_and_forgive_formatting() {
        let secret = InviteSecret::generate();
        let code = secret.code();
        assert_eq!(code.len(), 4 + 26 + 5);
        let sloppy = code.to_uppercase().replace('-', " ").replacen(' ', "-", 1);
        let parsed = InviteSecret::parse(&sloppy).unwrap();
        assert_eq!(parsed.dropbox_id(), secret.dropbox_id());
        assert!(matches!(
            InviteSecret::parse("ss2-abc"),
            Err(InviteError::BadCode)
        ));
        assert!(InviteSecret::parse("hello").is_err());
        assert!(InviteSecret::parse("ss2-11111-11111-11111-11111-111111").is_err());
    }

    #[test]
    fn derived_values_are_unrelated() {
        let secret = InviteSecret::generate();
        let ids = [
            secret.dropbox_id(),
            secret.request_dropbox_id(),
            secret.welcome_dropbox_id(),
            secret.verifying_key_hex(),
        ];
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b);
            }
            assert_ne!(a[..16], secret.invite_id());
        }
    }

    fn package(inviter: &Device) -> InvitePackage {
        InvitePackage {
            space: SpaceId([1; 16]),
            space_name: "Tuesday group".into(),
            expires_at: Timestamp(1_000),
            role: Role::Member,
            inviter_devices: vec![inviter.keys().age_recipient],
        }
    }

    #[test]
    fn package_opens_with_its_code_until_it_expires_and_holds_no_key() {
        let secret = InviteSecret::generate();
        let inviter = Device::new();
        let sealed = package(&inviter).seal(&secret).unwrap();
        assert_eq!(
            InvitePackage::open(&sealed, &secret, Timestamp(999)).unwrap(),
            package(&inviter)
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
    fn a_request_opens_only_for_the_inviter_and_binds_its_keys() {
        let secret = InviteSecret::generate();
        let (inviter, joiner, stranger) = (Device::new(), Device::new(), Device::new());
        let package = package(&inviter);
        let request = JoinRequest::new(
            &secret,
            package.space,
            "Sam",
            &joiner.id,
            &joiner.keys(),
            &joiner.signer,
        );
        let sealed = request.seal(&package).unwrap();
        // The plaintext is one frame whatever the pseudonym's length (age
        // adds its own random-length grease around it).
        let long = JoinRequest {
            pseudonym: "S".repeat(64),
            ..request.clone()
        };
        let frame = |r: &JoinRequest| pad_json(serde_json::to_vec(r).unwrap(), SEALED_FRAME).len();
        assert_eq!(frame(&long), frame(&request));
        assert_eq!(frame(&request), SEALED_FRAME);
        assert!(JoinRequest::open(&stranger.identity, &sealed).is_err());
        let opened = JoinRequest::open(&inviter.identity, &sealed).unwrap();
        assert_eq!(opened, request);
        verify_join(
            &secret.verifying_key_hex(),
            &secret.invite_id(),
            &opened.member,
            &opened.device,
            &opened.keys,
            &opened.proof,
        )
        .unwrap();
        // Another device's keys under this binding, or another member, fail.
        let mut swapped = opened.keys.clone();
        swapped.age_recipient = stranger.keys().age_recipient;
        assert!(verify_binding(&opened.device, &swapped).is_err());
        assert!(verify_binding(&DeviceId::random(), &opened.keys).is_err());
        assert!(
            verify_join(
                &secret.verifying_key_hex(),
                &secret.invite_id(),
                &opened.member,
                &opened.device,
                &swapped,
                &opened.proof,
            )
            .is_err()
        );
        // A binding made with a key the entry does not list fails.
        let mut forged = joiner.keys();
        forged.binding = Some(bind_device(&joiner.id, &forged, &stranger.signer));
        assert!(verify_binding(&joiner.id, &forged).is_err());
    }

    #[test]
    fn a_welcome_opens_only_for_the_joiner() {
        let (joiner, other) = (Device::new(), Device::new());
        let welcome = Welcome {
            space: SpaceId([3; 16]),
            invite: "0011223344556677".into(),
            epoch: 4,
            epoch_key: EpochKey::from_bytes([9; 32]),
            admin_key: super::super::epoch::AdminSeed::from_bytes([8; 32]).public(),
        };
        let sealed = welcome.seal(&joiner.keys().age_recipient).unwrap();
        assert_eq!(Welcome::open(&joiner.identity, &sealed).unwrap(), welcome);
        assert!(Welcome::open(&other.identity, &sealed).is_err());
        assert!(Welcome::open(&joiner.identity, b"not age").is_err());
    }
}
