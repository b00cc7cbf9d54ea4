//! Linking a second device to a person's profile (protocol.md §8).
//!
//! The new device shows a **link code** (`sl1-` and 26 base32 characters);
//! the person types it into a device they already use. The code's secret
//! derives two relay drop-boxes and two keys:
//!
//! 1. the new device puts its public keys ([`LinkRequest`]) in the *request*
//!    drop-box, sealed with the request key;
//! 2. the old device claims it and shows the new device's
//!    [fingerprint](LinkRequest::fingerprint); nothing leaves it until the
//!    person confirms that the new device's screen shows the same one;
//! 3. only then does it record the new device under the person's member
//!    entry in every space and put a [`LinkPackage`] in the *package*
//!    drop-box: the package's JSON sealed first to the new device's own
//!    X25519 recipient (from its request), and that age file sealed with
//!    the package key;
//! 4. the new device claims the package, opens both layers and syncs.
//!
//! Anyone who saw the code can poll both drop-boxes and claim the package,
//! but opens only its outer layer: what is inside is sealed to a key the
//! code does not give. What the code does give him, and what stops it, is
//! in protocol.md §8 ("Who holds the code").
//!
//! ```
//! use safespaces_core::protocol::link::{LinkError, LinkPackage, LinkSecret};
//!
//! let code = LinkSecret::generate();
//! let new_device = age::x25519::Identity::generate();
//! let package = LinkPackage::new([7; 32]);
//! let sealed = package
//!     .seal(&code, &new_device.to_public().to_string())
//!     .unwrap();
//! // With the code alone, only the outer layer opens.
//! assert!(LinkPackage::open_outer(&sealed, &code).is_ok());
//! let stranger = age::x25519::Identity::generate();
//! assert_eq!(
//!     LinkPackage::open(&sealed, &code, &stranger).unwrap_err(),
//!     LinkError::NotForThisDevice
//! );
//! // The new device opens both.
//! assert_eq!(LinkPackage::open(&sealed, &code, &new_device).unwrap(), package);
//! ```

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::code::CodeSecret;
use super::devices::{age_recipient, verify_binding};
use super::envelope::SpaceId;
use super::epoch::{AdminKey, AdminSeed, EpochKey};
use crate::crypto::padding::{open_padded, seal_padded};
use crate::crypto::{DeviceSealError, SymmetricKey, open_as_device, seal_to_devices};
use crate::model::{DeviceId, DeviceKeys, MemberId, Timestamp};

const CODE_PREFIX: &str = "sl1-";

/// The package format this version writes and the only one it reads.
/// Version 1 (the JSON sealed with the code's key alone) had no deployed
/// users and has no reader.
pub const PACKAGE_VERSION: u8 = 3;

/// At most this many spaces or devices in a package: a person has a
/// handful of each, and a hostile package must not make the new device
/// allocate much.
const MAX_ITEMS: usize = 4096;

/// Why linking failed. Each message says what the person can do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// Not a link code.
    #[error("not a link code: expected `sl1-` followed by 26 letters and digits")]
    BadCode,
    /// The drop-box content does not open with this code, or is damaged.
    #[error("the link data could not be opened; check the code on the new device")]
    Undecryptable,
    /// The package's inner layer is sealed to another device: someone
    /// else holding the code put it there.
    #[error(
        "this link package was not sealed to this device: someone else holding the code \
         interfered; do not use it, and start linking again with a new code"
    )]
    NotForThisDevice,
    /// The package was written by another version of the app.
    #[error(
        "the other device wrote link package version {0}, this one reads only version \
         {PACKAGE_VERSION}: update both devices to the same version, then link again"
    )]
    UnsupportedVersion(u8),
    /// No request waits under this code.
    #[error(
        "no new device is waiting under this code: it was typed wrong, it expired (codes \
         last 15 minutes), or someone else used it; check the code, or start again on the \
         new device"
    )]
    NoRequest,
    /// The new device waited past its deadline without a package.
    #[error(
        "no answer from your other device in time: it was not confirmed there, or the \
         answer was taken by someone else holding the code; start linking again"
    )]
    NoPackage,
    /// This link was already confirmed or declined (or is being confirmed).
    #[error("this link was already answered; to link a device again, start over on it")]
    AlreadyAnswered,
    /// The fingerprint the person confirmed is not the request's.
    #[error(
        "the fingerprint does not match the one this request carries: nothing was sent; \
         if the new device's screen shows another one, someone else may be answering in \
         its place: decline, and start again on the new device"
    )]
    FingerprintMismatch,
    /// Something already waits in the package drop-box: someone else
    /// holding the code wrote there.
    #[error(
        "someone else holding the code already answered the new device: do not use what \
         the new device received; wipe it and start linking again with a new code"
    )]
    PackageSlotTaken,
    /// The request comes from this device itself, or from one of the
    /// person's devices that was removed.
    #[error(
        "this request comes from this device or from a device you removed; a removed \
         device must be wiped and linked anew"
    )]
    NotANewDevice,
    /// The package could not be sealed (a bad recipient in the request).
    #[error("the link package could not be sealed: {0}")]
    Seal(String),
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
    /// Its public keys, with their binding (the device's own signature).
    pub keys: DeviceKeys,
}

impl LinkRequest {
    /// Seals the request for its drop-box.
    pub fn seal(&self, secret: &LinkSecret) -> Result<Vec<u8>, crate::crypto::SealError> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        seal_padded(&secret.request_key(), &json)
    }

    /// Opens a claimed request. Refuses one whose device id is malformed,
    /// whose recipient is not an X25519 recipient (the package could not be
    /// sealed to it) or whose binding is not the device's own signature
    /// (no receiver would take its entry in a space).
    pub fn open(sealed: &[u8], secret: &LinkSecret) -> Result<Self, LinkError> {
        let json =
            open_padded(&secret.request_key(), sealed).map_err(|_| LinkError::Undecryptable)?;
        let request: LinkRequest =
            serde_json::from_slice(&json).map_err(|_| LinkError::Undecryptable)?;
        let well_formed = DeviceId::parse(request.device.as_str()).is_ok()
            && age_recipient(&request.keys.age_recipient).is_some()
            && verify_binding(&request.device, &request.keys).is_ok();
        if !well_formed {
            return Err(LinkError::Undecryptable);
        }
        Ok(request)
    }

    /// A short fingerprint of the new device's keys, to compare on both
    /// screens before handing over any key: four groups of four hex digits
    /// (the same text the device list shows).
    pub fn fingerprint(&self) -> String {
        self.keys.fingerprint(&self.device)
    }
}

/// Whether a fingerprint the person typed or confirmed is `expected`,
/// ignoring spaces, dashes and case (people copy it in groups).
pub fn fingerprints_match(typed: &str, expected: &str) -> bool {
    let normal = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let expected = normal(expected);
    !expected.is_empty() && normal(typed) == expected
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
    /// The public admin key of that epoch's mailbox (protocol.md §1).
    pub admin_key: AdminKey,
    /// Its admin seed, when the linking device holds it (the person is a
    /// coordinator there): the new device may then compact the mailbox too.
    pub admin_seed: Option<AdminSeed>,
}

/// The journal's epoch as the linking device holds it (protocol.md §6,
/// "The journal's epochs"): what the new device needs to follow the
/// journal from where the person's devices are, not from epoch 0.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LinkedJournal {
    /// The current journal epoch.
    pub epoch: u32,
    /// Its key; `None` in epoch 0, whose key derives from the person secret.
    pub key: Option<EpochKey>,
    /// The key of the epoch before, when the linking device still reads
    /// it for handovers competing with the one it adopted (`adopted` set,
    /// epoch 2 or later; epoch 0's key derives).
    pub previous_key: Option<EpochKey>,
    /// Removed devices the current key was kept from.
    pub answered: Vec<DeviceId>,
    /// The handover the linking device moved into this epoch by: its
    /// signer and rank (hex SHA-256 of its body).
    pub adopted: Option<(DeviceId, String)>,
}

/// One of the person's devices, as handed to their new device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedDevice {
    /// Its id.
    pub device: DeviceId,
    /// Its public keys.
    pub keys: DeviceKeys,
    /// When it was removed, if it was: it stays removed on the new device.
    pub removed_at: Option<Timestamp>,
}

/// Everything the new device needs: the person's own secret (tickets, the
/// journal's first key), every space's current key, where the journal's
/// epochs stand, and the person's devices (removed ones marked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkPackage {
    /// The secret only the person's devices share.
    pub person_secret: [u8; 32],
    /// The person's spaces.
    pub spaces: Vec<LinkedSpace>,
    /// The journal's current epoch and key.
    pub journal: LinkedJournal,
    /// The person's devices the linking device knows, itself and the new
    /// one included.
    pub devices: Vec<LinkedDevice>,
}

impl Drop for LinkPackage {
    fn drop(&mut self) {
        // Epoch keys zeroize themselves; the person secret is plain bytes.
        self.person_secret.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceWire {
    space: String,
    member: MemberId,
    epoch: u32,
    key: String,
    admin_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin_seed: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct PackageWire {
    v: u8,
    person_secret: String,
    spaces: Vec<SpaceWire>,
    journal: JournalWire,
    devices: Vec<DeviceWire>,
}

#[derive(Serialize, Deserialize)]
struct JournalWire {
    epoch: u32,
    key: Option<String>,
    previous_key: Option<String>,
    answered: Vec<DeviceId>,
    adopted: Option<AdoptedWire>,
}

#[derive(Serialize, Deserialize)]
struct AdoptedWire {
    author: DeviceId,
    rank: String,
}

#[derive(Serialize, Deserialize)]
struct DeviceWire {
    id: DeviceId,
    keys: DeviceKeys,
    removed_at: Option<Timestamp>,
}

/// Only the version, read first, so another version is named as such
/// rather than as damage.
#[derive(Deserialize)]
struct Versioned {
    v: u8,
}

impl Drop for PackageWire {
    fn drop(&mut self) {
        self.person_secret.zeroize();
        for space in &mut self.spaces {
            space.key.zeroize();
            if let Some(seed) = &mut space.admin_seed {
                seed.zeroize();
            }
        }
        for key in [&mut self.journal.key, &mut self.journal.previous_key]
            .into_iter()
            .flatten()
        {
            key.zeroize();
        }
    }
}

fn key_from_hex(text: &str) -> Result<EpochKey, LinkError> {
    let mut k = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, k.as_mut()).map_err(|_| LinkError::Undecryptable)?;
    Ok(EpochKey::from_bytes(*k))
}

fn device_id(id: &DeviceId) -> Result<DeviceId, LinkError> {
    DeviceId::parse(id.as_str()).map_err(|_| LinkError::Undecryptable)
}

impl LinkPackage {
    /// A package with the person's secret and nothing else: no space, the
    /// journal in epoch 0, no device.
    pub fn new(person_secret: [u8; 32]) -> Self {
        LinkPackage {
            person_secret,
            spaces: Vec::new(),
            journal: LinkedJournal::default(),
            devices: Vec::new(),
        }
    }

    /// Seals the package for its drop-box: the JSON to the new device's
    /// X25519 `recipient` (from its request), that age file with the code's
    /// package key, padded.
    pub fn seal(&self, secret: &LinkSecret, recipient: &str) -> Result<Vec<u8>, LinkError> {
        let recipient: age::x25519::Recipient = recipient
            .parse()
            .map_err(|e: &str| LinkError::Seal(format!("the new device's recipient: {e}")))?;
        let json = self.to_json();
        let inner =
            seal_to_devices(&[recipient], &json).map_err(|e| LinkError::Seal(e.to_string()))?;
        seal_padded(&secret.package_key(), &inner).map_err(|e| LinkError::Seal(e.to_string()))
    }

    /// Opens the outer layer with the code alone: what anyone who claims
    /// the package with the code gets, an age file sealed to the new
    /// device.
    pub fn open_outer(sealed: &[u8], secret: &LinkSecret) -> Result<Zeroizing<Vec<u8>>, LinkError> {
        open_padded(&secret.package_key(), sealed).map_err(|_| LinkError::Undecryptable)
    }

    /// Opens a claimed package with the code and this device's `identity`.
    pub fn open(
        sealed: &[u8],
        secret: &LinkSecret,
        identity: &age::x25519::Identity,
    ) -> Result<Self, LinkError> {
        let inner = Self::open_outer(sealed, secret)?;
        // A version 1 package is JSON right inside the outer layer.
        if let Ok(Versioned { v }) = serde_json::from_slice::<Versioned>(&inner) {
            return Err(LinkError::UnsupportedVersion(v));
        }
        let json = open_as_device(identity, &inner).map_err(|e| match e {
            DeviceSealError::NotARecipient => LinkError::NotForThisDevice,
            _ => LinkError::Undecryptable,
        })?;
        Self::from_json(&json)
    }

    fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let hex_key = |k: &EpochKey| hex::encode(k.expose_bytes());
        let wire = PackageWire {
            v: PACKAGE_VERSION,
            person_secret: hex::encode(self.person_secret),
            spaces: self
                .spaces
                .iter()
                .map(|s| SpaceWire {
                    space: s.space.to_hex(),
                    member: s.member.clone(),
                    epoch: s.epoch,
                    key: hex_key(&s.epoch_key),
                    admin_key: s.admin_key.to_hex(),
                    admin_seed: s.admin_seed.as_ref().map(|k| hex::encode(k.expose_bytes())),
                })
                .collect(),
            journal: JournalWire {
                epoch: self.journal.epoch,
                key: self.journal.key.as_ref().map(hex_key),
                previous_key: self.journal.previous_key.as_ref().map(hex_key),
                answered: self.journal.answered.clone(),
                adopted: self
                    .journal
                    .adopted
                    .as_ref()
                    .map(|(author, rank)| AdoptedWire {
                        author: author.clone(),
                        rank: rank.clone(),
                    }),
            },
            devices: self
                .devices
                .iter()
                .map(|d| DeviceWire {
                    id: d.device.clone(),
                    keys: d.keys.clone(),
                    removed_at: d.removed_at,
                })
                .collect(),
        };
        // Plain data with string keys: serializing it cannot fail.
        Zeroizing::new(serde_json::to_vec(&wire).unwrap_or_default())
    }

    fn from_json(json: &[u8]) -> Result<Self, LinkError> {
        let Versioned { v } = serde_json::from_slice(json).map_err(|_| LinkError::Undecryptable)?;
        if v != PACKAGE_VERSION {
            return Err(LinkError::UnsupportedVersion(v));
        }
        let wire: PackageWire =
            serde_json::from_slice(json).map_err(|_| LinkError::Undecryptable)?;
        if wire.spaces.len() > MAX_ITEMS
            || wire.devices.len() > MAX_ITEMS
            || wire.journal.answered.len() > MAX_ITEMS
        {
            return Err(LinkError::Undecryptable);
        }
        let mut person_secret = [0u8; 32];
        hex::decode_to_slice(&wire.person_secret, &mut person_secret)
            .map_err(|_| LinkError::Undecryptable)?;
        let mut spaces = Vec::new();
        for s in &wire.spaces {
            let mut id = [0u8; 16];
            hex::decode_to_slice(&s.space, &mut id).map_err(|_| LinkError::Undecryptable)?;
            let admin_key = AdminKey::from_hex(&s.admin_key).ok_or(LinkError::Undecryptable)?;
            let admin_seed = match &s.admin_seed {
                Some(h) => {
                    let seed = AdminSeed::from_bytes(*key_from_hex(h)?.expose_bytes());
                    // A seed that does not sign for this mailbox is damage.
                    if seed.public() != admin_key {
                        return Err(LinkError::Undecryptable);
                    }
                    Some(seed)
                }
                None => None,
            };
            spaces.push(LinkedSpace {
                space: SpaceId(id),
                member: MemberId::parse(s.member.as_str()).map_err(|_| LinkError::Undecryptable)?,
                epoch: s.epoch,
                epoch_key: key_from_hex(&s.key)?,
                admin_key,
                admin_seed,
            });
        }
        let j = &wire.journal;
        // Epoch 0's key derives from the person secret; any later one must
        // come with the package, or the new device could not follow.
        if (j.epoch == 0) != j.key.is_none() {
            return Err(LinkError::Undecryptable);
        }
        let adopted = match &j.adopted {
            Some(a) => {
                let mut rank = [0u8; 32];
                hex::decode_to_slice(&a.rank, &mut rank).map_err(|_| LinkError::Undecryptable)?;
                Some((device_id(&a.author)?, hex::encode(rank)))
            }
            None => None,
        };
        let journal = LinkedJournal {
            epoch: j.epoch,
            key: j.key.as_deref().map(key_from_hex).transpose()?,
            previous_key: j.previous_key.as_deref().map(key_from_hex).transpose()?,
            answered: j.answered.iter().map(device_id).collect::<Result<_, _>>()?,
            adopted,
        };
        let devices = wire
            .devices
            .iter()
            .map(|d| {
                Ok(LinkedDevice {
                    device: device_id(&d.id)?,
                    keys: d.keys.clone(),
                    removed_at: d.removed_at,
                })
            })
            .collect::<Result<_, LinkError>>()?;
        Ok(LinkPackage {
            person_secret,
            spaces,
            journal,
            devices,
        })
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
