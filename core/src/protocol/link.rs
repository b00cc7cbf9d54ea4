//! Linking a second device to a person's profile (protocol.md §8).
//!
//! The new device shows a **link code** (`sl1-` and 26 base32 characters);
//! the person types it into a device they already use. The code's secret
//! derives two relay drop-boxes and two keys:
//!
//! 1. the new device puts its public keys ([`LinkRequest`]) in the *request*
//!    drop-box, sealed with the request key;
//! 2. the old device claims it, shows the new device's fingerprint so the
//!    person can compare it with the new screen, records the new device
//!    under the person's member entry in every space (and their journal),
//!    and puts a [`LinkPackage`] (the person's secret and, per space, member
//!    id and current epoch key) in the *package* drop-box;
//! 3. the new device claims the package and syncs every space.
//!
//! The relay sees two random drop-box ids and two padded blobs, each claimed
//! once. Whoever sees the code during those minutes could race for the
//! package; the fingerprint comparison in step 2 is what stops a swapped
//! request, and the short lifetime of the drop-boxes bounds the window.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::code::CodeSecret;
use super::envelope::SpaceId;
use super::epoch::EpochKey;
use crate::crypto::SymmetricKey;
use crate::model::{DeviceId, DeviceKeys, MemberId};
use crate::store::padding::{open_padded, seal_padded};

const CODE_PREFIX: &str = "sl1-";

/// Why linking failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// Not a link code.
    #[error("not a link code: expected `sl1-` followed by 26 letters and digits")]
    BadCode,
    /// The drop-box content does not open with this code, or is damaged.
    #[error("the link data could not be opened; check the code on the new device")]
    Undecryptable,
}

/// The secret behind one link code. Zeroized on drop.
#[derive(Clone)]
pub struct LinkSecret(CodeSecret);

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(..)")
    }
}

impl LinkSecret {
    /// Draws a fresh secret (on the new device).
    pub fn generate() -> Self {
        Self(CodeSecret::generate())
    }

    /// The code the new device shows.
    pub fn code(&self) -> String {
        self.0.to_code(CODE_PREFIX)
    }

    /// Parses a typed code, forgiving case, spaces and dashes.
    pub fn parse(code: &str) -> Result<Self, LinkError> {
        CodeSecret::parse(CODE_PREFIX, code)
            .map(Self)
            .ok_or(LinkError::BadCode)
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        self.0.derive(label)
    }

    /// Drop-box for the new device's request, hex.
    pub fn request_dropbox(&self) -> String {
        hex::encode(*self.derive(b"safespaces/v1/link-request-dropbox"))
    }

    /// Drop-box for the old device's package, hex.
    pub fn package_dropbox(&self) -> String {
        hex::encode(*self.derive(b"safespaces/v1/link-package-dropbox"))
    }

    fn request_key(&self) -> SymmetricKey {
        SymmetricKey::from_bytes(*self.derive(b"safespaces/v1/link-request-key"))
    }

    fn package_key(&self) -> SymmetricKey {
        SymmetricKey::from_bytes(*self.derive(b"safespaces/v1/link-package-key"))
    }
}

/// The new device's public keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRequest {
    /// Its device id.
    pub device: DeviceId,
    /// Its public keys.
    pub keys: DeviceKeys,
}

impl LinkRequest {
    /// Seals the request for its drop-box.
    pub fn seal(&self, secret: &LinkSecret) -> Result<Vec<u8>, crate::crypto::SealError> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        seal_padded(&secret.request_key(), &json)
    }

    /// Opens a claimed request.
    pub fn open(sealed: &[u8], secret: &LinkSecret) -> Result<Self, LinkError> {
        let json =
            open_padded(&secret.request_key(), sealed).map_err(|_| LinkError::Undecryptable)?;
        serde_json::from_slice(&json).map_err(|_| LinkError::Undecryptable)
    }

    /// A short fingerprint of the new device's keys, to compare on both
    /// screens before handing over any key: four groups of four hex digits.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(format!(
            "{}|{}|{}",
            self.device, self.keys.age_recipient, self.keys.signing_key
        ));
        hex::encode(&digest[..8])
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One space the person belongs to, as handed to their new device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedSpace {
    /// The space.
    pub space: SpaceId,
    /// The person's member id in it.
    pub member: MemberId,
    /// Its current epoch.
    pub epoch: u32,
    /// That epoch's key.
    pub epoch_key: EpochKey,
}

/// Everything the new device needs: the person's own secret (journal key,
/// ticket derivation) and every space's current key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkPackage {
    /// The secret only the person's devices share.
    pub person_secret: [u8; 32],
    /// The person's spaces (their journal space among them).
    pub spaces: Vec<LinkedSpace>,
}

#[derive(Serialize, Deserialize)]
struct PackageWire {
    v: u8,
    person_secret: String,
    spaces: Vec<(String, MemberId, u32, String)>,
}

impl LinkPackage {
    /// Seals the package for its drop-box.
    pub fn seal(&self, secret: &LinkSecret) -> Result<Vec<u8>, crate::crypto::SealError> {
        let wire = PackageWire {
            v: 1,
            person_secret: hex::encode(self.person_secret),
            spaces: self
                .spaces
                .iter()
                .map(|s| {
                    (
                        s.space.to_hex(),
                        s.member.clone(),
                        s.epoch,
                        hex::encode(s.epoch_key.expose_bytes()),
                    )
                })
                .collect(),
        };
        let json = Zeroizing::new(serde_json::to_vec(&wire).unwrap_or_default());
        seal_padded(&secret.package_key(), &json)
    }

    /// Opens a claimed package.
    pub fn open(sealed: &[u8], secret: &LinkSecret) -> Result<Self, LinkError> {
        let json =
            open_padded(&secret.package_key(), sealed).map_err(|_| LinkError::Undecryptable)?;
        let wire: PackageWire =
            serde_json::from_slice(&json).map_err(|_| LinkError::Undecryptable)?;
        if wire.v != 1 {
            return Err(LinkError::Undecryptable);
        }
        let mut person_secret = [0u8; 32];
        hex::decode_to_slice(&wire.person_secret, &mut person_secret)
            .map_err(|_| LinkError::Undecryptable)?;
        let mut spaces = Vec::new();
        for (space, member, epoch, key) in wire.spaces {
            let mut id = [0u8; 16];
            hex::decode_to_slice(&space, &mut id).map_err(|_| LinkError::Undecryptable)?;
            let mut k = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(&key, k.as_mut()).map_err(|_| LinkError::Undecryptable)?;
            spaces.push(LinkedSpace {
                space: SpaceId(id),
                member,
                epoch,
                epoch_key: EpochKey::from_bytes(*k),
            });
        }
        Ok(LinkPackage {
            person_secret,
            spaces,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, SpaceDoc, Timestamp};
    use crate::protocol::authorship::{actor_for_device, check_batch};

    fn request() -> LinkRequest {
        LinkRequest {
            device: DeviceId::random(),
            keys: DeviceKeys {
                age_recipient: age::x25519::Identity::generate().to_public().to_string(),
                signing_key: "11".repeat(32),
                binding: None,
            },
        }
    }

    #[test]
    fn codes_round_trip_and_are_not_invite_codes() {
        let secret = LinkSecret::generate();
        let parsed = LinkSecret::parse(&secret.code().to_uppercase()).unwrap();
        assert_eq!(parsed.package_dropbox(), secret.package_dropbox());
        assert_ne!(secret.request_dropbox(), secret.package_dropbox());
        assert_eq!(
            LinkSecret::parse(&crate::protocol::invite::InviteSecret::generate().code())
                .unwrap_err(),
            LinkError::BadCode
        );
    }

    #[test]
    fn request_and_package_open_only_with_the_code() {
        let secret = LinkSecret::generate();
        let req = request();
        let sealed = req.seal(&secret).unwrap();
        assert_eq!(LinkRequest::open(&sealed, &secret).unwrap(), req);
        assert_eq!(
            LinkRequest::open(&sealed, &LinkSecret::generate()).unwrap_err(),
            LinkError::Undecryptable
        );
        assert_eq!(req.fingerprint().len(), 19);

        let package = LinkPackage {
            person_secret: [5; 32],
            spaces: vec![LinkedSpace {
                space: SpaceId([1; 16]),
                member: MemberId::random(),
                epoch: 3,
                epoch_key: EpochKey::from_bytes([6; 32]),
            }],
        };
        let sealed = package.seal(&secret).unwrap();
        assert_eq!(LinkPackage::open(&sealed, &secret).unwrap(), package);
        assert!(LinkPackage::open(&sealed, &LinkSecret::generate()).is_err());
        // The request key does not open the package and vice versa.
        assert!(LinkRequest::open(&sealed, &secret).is_err());
    }

    #[test]
    fn a_linked_device_writes_as_its_person() {
        let (mut doc, me) = SpaceDoc::create("Group", "Robin", Timestamp(0)).unwrap();
        let old = DeviceId::random();
        doc.add_device(&me, &old, request().keys).unwrap();
        doc.add_member(&me, "Sam", Role::Member, Timestamp(1))
            .unwrap();
        // The old device records the new one under the same member.
        let new = request();
        let mut on_old = doc.fork();
        on_old.set_actor(actor_for_device(&old).unwrap());
        on_old
            .add_device(&me, &new.device, new.keys.clone())
            .unwrap();
        doc.merge(&mut on_old).unwrap();
        // The new device's own changes now pass authorship checks as `me`.
        let mut on_new = doc.fork();
        on_new.set_actor(actor_for_device(&new.device).unwrap());
        let since = on_new.heads();
        on_new.set_pseudonym(&me, "Robin (laptop)").unwrap();
        let changes: Vec<automerge::Change> = on_new
            .changes_since(&since)
            .into_iter()
            .map(|b| automerge::Change::from_bytes(b).unwrap())
            .collect();
        assert_eq!(check_batch(&doc, &new.device, &changes), Ok(()));
    }
}
