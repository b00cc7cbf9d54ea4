//! Members of a space and their roles.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::ids::DeviceId;
use super::time::Timestamp;

/// What a member may do in a space.
///
/// The project is "centralised but non-hierarchical": coordinators keep the
/// space safe (roles, training records, removals), leads plan sessions and
/// keep the signposting directory, and every member can sign up and volunteer.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Reconcile,
    Hydrate,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Attends sessions, may volunteer to lead.
    #[autosurgeon(rename = "member")]
    Member,
    /// Plans sessions and keeps the signposting directory.
    #[autosurgeon(rename = "lead")]
    Lead,
    /// Keeps the space safe: roles, training records, membership.
    #[autosurgeon(rename = "coordinator")]
    Coordinator,
}

impl Role {
    /// The role's stable name, as stored and as shown by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Lead => "lead",
            Role::Coordinator => "coordinator",
        }
    }

    /// The role stored under `name` (the inverse of [`Role::as_str`]), for
    /// checks that read the document without hydrating it.
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "member" => Some(Role::Member),
            "lead" => Some(Role::Lead),
            "coordinator" => Some(Role::Coordinator),
            _ => None,
        }
    }

    /// Whether this role includes everything `other` may do.
    pub fn at_least(self, other: Role) -> bool {
        self >= other
    }
}

/// The public keys of one of a member's devices. Filled by the protocol layer.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct DeviceKeys {
    /// The device's age X25519 recipient (`age1...`), used to seal epoch keys to it.
    pub age_recipient: String,
    /// The device's Ed25519 verifying key, hex, used to check its signatures.
    pub signing_key: String,
    /// The device's own signature over its member, id and keys, hex
    /// (`protocol::invite::bind_device`): proof that whoever listed these
    /// keys holds them. Required of every device a joiner is admitted with.
    #[autosurgeon(missing = "Option::default")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
}

/// The member-entry key under which the removal of one of the member's
/// devices is written: `removed_device_<device id>` = when (protocol.md §6).
/// A flat key on the member's own map rather than a nested map, so two
/// devices removed concurrently can never hide each other behind two
/// conflicting maps.
pub const REMOVED_DEVICE_PREFIX: &str = "removed_device_";

/// The member-entry key recording `device`'s removal.
pub fn removed_device_key(device: &DeviceId) -> String {
    format!("{REMOVED_DEVICE_PREFIX}{device}")
}

/// The device a member-entry key records the removal of, if it is one: a
/// well-formed device id (16 hex digits) after the prefix.
pub fn removed_device_of(key: &str) -> Option<DeviceId> {
    let id = key.strip_prefix(REMOVED_DEVICE_PREFIX)?;
    (id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then(|| DeviceId::from(id.to_string()))
}

impl DeviceKeys {
    /// What a person compares between two screens to know a device is the
    /// one she holds: the first 8 bytes of SHA-256 over
    /// `device|age_recipient|signing_key`, hex in groups of four
    /// (protocol.md §8). Linking shows it, and so does the device list.
    pub fn fingerprint(&self, device: &DeviceId) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!(
            "{}|{}|{}",
            device, self.age_recipient, self.signing_key
        ));
        let hex = hex::encode(&digest[..8]);
        hex.as_bytes()
            .chunks(4)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A member as stored in the space document.
#[derive(Clone, Debug, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Member {
    /// The name the member chose for this space. Never a legal name unless
    /// they choose so.
    pub pseudonym: String,
    /// What the member may do.
    pub role: Role,
    /// When the member joined.
    pub joined_at: Timestamp,
    /// The member's devices, by device id.
    pub devices: BTreeMap<DeviceId, DeviceKeys>,
    /// Set when the member left or was removed. Kept (rather than deleting the
    /// member) so that their past changes still verify and their sign-ups can
    /// be ignored deterministically.
    pub removed_at: Option<Timestamp>,
    /// The invite the member joined with, if any. An invite admits one
    /// joiner: of concurrent joins with one invite, only the one the
    /// invite's `used_by` shows (the same on every replica) is a member.
    #[autosurgeon(missing = "Option::default")]
    pub invite: Option<String>,
}

impl Member {
    /// Whether the member currently belongs to the space.
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }
}
