//! Epoch rotation: how a removal or a departure locks someone out
//! (protocol.md §6).
//!
//! The member starting the rotation draws a new epoch key and seals it, in
//! one standard age file, to the X25519 recipient of **every device of every
//! remaining active member**. That file, with the list of devices it covers,
//! is the *handover*. A device that is not in the list (the removed member's,
//! or one that joined concurrently) cannot open it; everything of the new
//! epoch (content key, mailbox, relay credential) derives from the new key,
//! so the removed device can neither read nor find what comes after.
//!
//! Completeness: [`Handover::missing_devices`] lists active devices the
//! handover does not cover. Such a device keeps writing to the old mailbox
//! (which remaining members still read) and asks for a re-seal, so nobody is
//! silently left without the key. Concurrent rotations are settled by
//! [`Handover::prefer`]: every device picks the same one.

use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::epoch::EpochKey;
use crate::crypto::{DeviceSealError, open_as_device, seal_to_devices};
use crate::model::{DeviceId, SpaceDoc};

/// Why a handover could not be made or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// This device is not among the handover's recipients.
    #[error("this device was not given the new key")]
    NotARecipient,
    /// A member device has an unusable age recipient in the space document.
    #[error("device {0} has an invalid age recipient")]
    BadRecipient(String),
    /// Nobody would remain to receive the key.
    #[error("no remaining device to hand the new key to")]
    NobodyLeft,
    /// The handover bytes are damaged or not a handover.
    #[error("malformed handover: {0}")]
    Malformed(String),
}

/// A new epoch's key, sealed to the remaining devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// The epoch this hands over to.
    pub to_epoch: u32,
    /// Every device that can open it.
    pub recipients: Vec<DeviceId>,
    /// The age file (X25519 recipients) holding the 32-byte key.
    pub sealed_key: Vec<u8>,
}

impl Handover {
    /// Seals `key` for epoch `to_epoch` to every device of every active
    /// member of `doc` (which must already record the removal, so the
    /// removed member is not active).
    pub fn create(doc: &SpaceDoc, to_epoch: u32, key: &EpochKey) -> Result<Self, RotationError> {
        let mut recipients = Vec::new();
        let mut age_recipients: Vec<age::x25519::Recipient> = Vec::new();
        let members = doc
            .members()
            .map_err(|e| RotationError::Malformed(e.to_string()))?;
        for (_, member) in members.into_iter().filter(|(_, m)| m.is_active()) {
            for (device, keys) in member.devices {
                let r = age::x25519::Recipient::from_str(&keys.age_recipient)
                    .map_err(|_| RotationError::BadRecipient(device.to_string()))?;
                recipients.push(device);
                age_recipients.push(r);
            }
        }
        if age_recipients.is_empty() {
            return Err(RotationError::NobodyLeft);
        }
        let sealed_key =
            seal_to_devices(&age_recipients, key.expose_bytes()).map_err(|e| match e {
                DeviceSealError::NoRecipients => RotationError::NobodyLeft,
                other => RotationError::Malformed(other.to_string()),
            })?;
        Ok(Handover {
            to_epoch,
            recipients,
            sealed_key,
        })
    }

    /// Opens the handover with this device's identity.
    pub fn open(&self, identity: &age::x25519::Identity) -> Result<EpochKey, RotationError> {
        let key = open_as_device(identity, &self.sealed_key).map_err(|e| match e {
            DeviceSealError::NotARecipient => RotationError::NotARecipient,
            other => RotationError::Malformed(other.to_string()),
        })?;
        let bytes: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| RotationError::Malformed("key is not 32 bytes".into()))?;
        Ok(EpochKey::from_bytes(bytes))
    }

    /// Active devices in `doc` that this handover does not cover: they must
    /// be re-sealed to before the old epoch can be retired.
    pub fn missing_devices(&self, doc: &SpaceDoc) -> Vec<DeviceId> {
        let Ok(members) = doc.members() else {
            return Vec::new();
        };
        members
            .into_iter()
            .filter(|(_, m)| m.is_active())
            .flat_map(|(_, m)| m.devices.into_keys())
            .filter(|d| !self.recipients.contains(d))
            .collect()
    }

    /// Encodes the handover as an envelope body:
    /// `to_epoch u32 | count u16 | count × device id [8] | age file`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + 8 * self.recipients.len() + self.sealed_key.len());
        out.extend_from_slice(&self.to_epoch.to_be_bytes());
        out.extend_from_slice(&(self.recipients.len() as u16).to_be_bytes());
        for device in &self.recipients {
            let mut id = [0u8; 8];
            // Device ids in a handover come from the space document, where
            // a malformed one would already have been refused; write zeros
            // rather than panic if one slipped through.
            let _ = hex::decode_to_slice(device.as_str(), &mut id);
            out.extend_from_slice(&id);
        }
        out.extend_from_slice(&self.sealed_key);
        out
    }

    /// Decodes an envelope body written by [`Handover::encode`].
    pub fn decode(body: &[u8]) -> Result<Self, RotationError> {
        let bad = |what: &str| RotationError::Malformed(what.to_string());
        if body.len() < 6 {
            return Err(bad("too short"));
        }
        let to_epoch = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let count = u16::from_be_bytes([body[4], body[5]]) as usize;
        let ids_end = 6 + 8 * count;
        if body.len() < ids_end {
            return Err(bad("device list truncated"));
        }
        let recipients = body[6..ids_end]
            .chunks(8)
            .map(|c| DeviceId::from(hex::encode(c)))
            .collect();
        Ok(Handover {
            to_epoch,
            recipients,
            sealed_key: body[ids_end..].to_vec(),
        })
    }

    /// Of two concurrent handovers to the same epoch, the one every device
    /// keeps: the lower SHA-256 of the encoded body.
    pub fn prefer<'a>(a: &'a Handover, b: &'a Handover) -> &'a Handover {
        if Sha256::digest(a.encode()) <= Sha256::digest(b.encode()) {
            a
        } else {
            b
        }
    }
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
