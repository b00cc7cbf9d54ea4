//! The journal's epochs: how removing a lost phone locks it out of the
//! person's journal (protocol.md §6, "The journal's epochs").
//!
//! The journal travels between a person's own devices through a mailbox
//! derived from the *journal key*, which is not the person secret: the
//! person secret never changes (tickets derive from it), but the journal
//! key does, each time a device is removed. The device that removes one
//! draws the next journal key and seals it, in one age file, to the X25519
//! recipient of every remaining device of the person: that, with the epoch
//! it leaves and the devices it removes, is a [`JournalHandover`], signed by
//! its author's device key and appended to the *old* mailbox. Remaining
//! devices open it and move to the new mailbox; the removed device (and
//! any copy of its keys restored from a backup) cannot open it, nor find
//! the new mailbox, whose id derives from the new key.
//!
//! Who may hand over is decided by each receiver against the devices it
//! knows of the person ([`JournalHandover::accepted`]): a device it knows
//! that is not removed, and not removed by another handover out of the same
//! epoch (removal wins: the thief's handover out of the epoch whose key he
//! holds counts for nothing once the owner's handover removes his device,
//! whichever arrives first). Of several that count, the lowest
//! [`JournalHandover::rank`] wins on every device.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::devices::age_recipient;
use super::epoch::EpochKey;
use crate::crypto::{DeviceSealError, open_as_device, seal_to_devices};
use crate::model::DeviceId;

/// Why a journal handover could not be made or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalEpochError {
    /// No remaining device would receive the key.
    #[error("no remaining device to hand the new journal key to")]
    NobodyLeft,
    /// The journal is at the last epoch a handover can leave.
    #[error("the journal cannot move past epoch {0}")]
    LastEpoch(u32),
    /// The bytes are damaged or not a journal handover.
    #[error("malformed journal handover: {0}")]
    Malformed(String),
}

/// At most this many device ids in either list: a person has a handful of
/// devices, and a hostile body must not make a receiver allocate much.
const MAX_DEVICES: usize = 256;

/// A new journal key, sealed to the person's remaining devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalHandover {
    /// The epoch it leaves; it hands over to the next one, never further.
    pub from_epoch: u32,
    /// Every device of the person its author knew to be removed: none of
    /// them is a recipient, and receivers take them as removed too.
    pub removed: Vec<DeviceId>,
    /// Every device that can open it.
    pub recipients: Vec<DeviceId>,
    /// The age file (X25519 recipients) holding the 32-byte key.
    pub sealed_key: Vec<u8>,
}

impl JournalHandover {
    /// Seals `key` to `recipients` (device id, age recipient), leaving
    /// `from_epoch` and removing `removed`. A recipient that is also
    /// removed is left out; one whose recipient does not parse is skipped.
    pub fn create(
        from_epoch: u32,
        removed: &BTreeSet<DeviceId>,
        recipients: &[(DeviceId, String)],
        key: &EpochKey,
    ) -> Result<Self, JournalEpochError> {
        if from_epoch.checked_add(1).is_none() {
            return Err(JournalEpochError::LastEpoch(from_epoch));
        }
        let mut ids = Vec::new();
        let mut age_recipients = Vec::new();
        for (device, recipient) in recipients {
            if removed.contains(device) || ids.contains(device) {
                continue;
            }
            let Some(r) = age_recipient(recipient) else {
                continue;
            };
            ids.push(device.clone());
            age_recipients.push(r);
        }
        if ids.len() > MAX_DEVICES || removed.len() > MAX_DEVICES {
            return Err(JournalEpochError::Malformed("too many devices".into()));
        }
        let sealed_key =
            seal_to_devices(&age_recipients, key.expose_bytes()).map_err(|e| match e {
                DeviceSealError::NoRecipients => JournalEpochError::NobodyLeft,
                other => JournalEpochError::Malformed(other.to_string()),
            })?;
        Ok(JournalHandover {
            from_epoch,
            removed: removed.iter().cloned().collect(),
            recipients: ids,
            sealed_key,
        })
    }

    /// The epoch this hands over to.
    pub fn to_epoch(&self) -> u32 {
        self.from_epoch.saturating_add(1)
    }

    /// The new key, if this device is a recipient.
    pub fn open(&self, identity: &age::x25519::Identity) -> Option<EpochKey> {
        let bytes = open_as_device(identity, &self.sealed_key).ok()?;
        let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(EpochKey::from_bytes(key))
    }

    /// Encodes it as an envelope body: `from_epoch u32 | removed count u16
    /// | device id [8]* | recipient count u16 | device id [8]* | age file`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            8 + 8 * (self.removed.len() + self.recipients.len()) + self.sealed_key.len(),
        );
        out.extend_from_slice(&self.from_epoch.to_be_bytes());
        for list in [&self.removed, &self.recipients] {
            out.extend_from_slice(&(list.len().min(MAX_DEVICES) as u16).to_be_bytes());
            for device in list.iter().take(MAX_DEVICES) {
                let mut id = [0u8; 8];
                // Device ids are 16 hex digits; anything else encodes as
                // zeros and names no device.
                let _ = hex::decode_to_slice(device.as_str(), &mut id);
                out.extend_from_slice(&id);
            }
        }
        out.extend_from_slice(&self.sealed_key);
        out
    }

    /// Decodes an envelope body made by [`JournalHandover::encode`].
    pub fn decode(body: &[u8]) -> Result<Self, JournalEpochError> {
        let bad = |what: &str| JournalEpochError::Malformed(what.to_string());
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], JournalEpochError> {
            let slice = body
                .get(at..at.saturating_add(n))
                .ok_or_else(|| bad("truncated"))?;
            at += n;
            Ok(slice)
        };
        let mut four = [0u8; 4];
        four.copy_from_slice(take(4)?);
        let from_epoch = u32::from_be_bytes(four);
        if from_epoch.checked_add(1).is_none() {
            return Err(bad("no epoch follows this one"));
        }
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let mut two = [0u8; 2];
            two.copy_from_slice(take(2)?);
            let count = u16::from_be_bytes(two) as usize;
            if count > MAX_DEVICES {
                return Err(bad("too many devices"));
            }
            for _ in 0..count {
                list.push(DeviceId::from(hex::encode(take(8)?)));
            }
        }
        let [removed, recipients] = lists;
        if recipients.is_empty() {
            return Err(bad("no recipient"));
        }
        if recipients.iter().any(|r| removed.contains(r)) {
            return Err(bad("a removed device is a recipient"));
        }
        let sealed_key = body.get(at..).unwrap_or_default().to_vec();
        if sealed_key.is_empty() {
            return Err(bad("no key"));
        }
        Ok(JournalHandover {
            from_epoch,
            removed,
            recipients,
            sealed_key,
        })
    }

    /// SHA-256 of the encoded body: of the handovers out of one epoch that
    /// count, the lowest wins on every device.
    pub fn rank(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }

    /// Which of `handovers` (each with the device that signed it, all out
    /// of the same epoch and checked against `known` devices of the person
    /// that are not removed) counts, removal winning: one signed by a
    /// device that another of them removes counts for nothing. Of those
    /// left, the lowest rank, with its signer. `None` if none counts (two
    /// devices removed each other: both are out, and the device reading
    /// this rotates on its own).
    pub fn accepted<'a>(
        handovers: &'a [(DeviceId, JournalHandover)],
        known: &BTreeSet<DeviceId>,
    ) -> Option<&'a (DeviceId, JournalHandover)> {
        let removed: BTreeSet<&DeviceId> = handovers
            .iter()
            .flat_map(|(_, h)| h.removed.iter())
            .collect();
        handovers
            .iter()
            .filter(|(author, _)| known.contains(author) && !removed.contains(author))
            .min_by_key(|(_, h)| h.rank())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u8) -> (DeviceId, age::x25519::Identity) {
        (
            DeviceId::from(format!("{n:016x}")),
            age::x25519::Identity::generate(),
        )
    }

    fn recipients(of: &[&(DeviceId, age::x25519::Identity)]) -> Vec<(DeviceId, String)> {
        of.iter()
            .map(|(d, i)| (d.clone(), i.to_public().to_string()))
            .collect()
    }

    #[test]
    fn a_removed_device_cannot_open_the_next_journal_key() {
        let (a, b, lost) = (device(1), device(2), device(3));
        let key = EpochKey::generate();
        let removed = BTreeSet::from([lost.0.clone()]);
        let h = JournalHandover::create(4, &removed, &recipients(&[&a, &b, &lost]), &key).unwrap();
        assert_eq!(h.recipients, vec![a.0.clone(), b.0.clone()]);
        assert_eq!(h.to_epoch(), 5);
        let decoded = JournalHandover::decode(&h.encode()).unwrap();
        assert_eq!(decoded, h);
        assert_eq!(
            decoded.open(&b.1).map(|k| *k.expose_bytes()),
            Some(*key.expose_bytes())
        );
        assert!(decoded.open(&lost.1).is_none());
    }

    #[test]
    fn damaged_journal_handovers_are_refused_not_panicked_on() {
        let (a, lost) = (device(1), device(3));
        let h = JournalHandover::create(
            0,
            &BTreeSet::from([lost.0.clone()]),
            &recipients(&[&a]),
            &EpochKey::generate(),
        )
        .unwrap();
        let body = h.encode();
        // Everything up to the age file; a cut inside the age file decodes
        // but opens for nobody.
        let header = 4 + 2 + 8 + 2 + 8;
        for cut in 0..=header {
            assert!(
                JournalHandover::decode(&body[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let cut = JournalHandover::decode(&body[..header + 10]).unwrap();
        assert!(cut.open(&a.1).is_none());
        let mut last = body.clone();
        last[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(JournalHandover::decode(&last).is_err());
        // A removed device listed as a recipient too.
        let mut both = Vec::new();
        both.extend_from_slice(&0u32.to_be_bytes());
        both.extend_from_slice(&1u16.to_be_bytes());
        both.extend_from_slice(&[7; 8]);
        both.extend_from_slice(&1u16.to_be_bytes());
        both.extend_from_slice(&[7; 8]);
        both.extend_from_slice(b"age");
        assert!(JournalHandover::decode(&both).is_err());
        assert_eq!(
            JournalHandover::create(0, &BTreeSet::new(), &[], &EpochKey::generate()),
            Err(JournalEpochError::NobodyLeft)
        );
    }

    #[test]
    fn the_thiefs_handover_counts_for_nothing_once_the_owner_removes_his_device() {
        let (a, b, lost) = (device(1), device(2), device(3));
        let known = BTreeSet::from([a.0.clone(), b.0.clone(), lost.0.clone()]);
        let owner = JournalHandover::create(
            0,
            &BTreeSet::from([lost.0.clone()]),
            &recipients(&[&a, &b]),
            &EpochKey::generate(),
        )
        .unwrap();
        // The thief hands over to a key he holds, to the owner's devices.
        let thief = JournalHandover::create(
            0,
            &BTreeSet::new(),
            &recipients(&[&a, &b, &lost]),
            &EpochKey::generate(),
        )
        .unwrap();
        for order in [
            vec![
                (lost.0.clone(), thief.clone()),
                (a.0.clone(), owner.clone()),
            ],
            vec![
                (a.0.clone(), owner.clone()),
                (lost.0.clone(), thief.clone()),
            ],
        ] {
            assert_eq!(
                JournalHandover::accepted(&order, &known).map(|(_, h)| h),
                Some(&owner)
            );
        }
        // Alone, before the owner acts, the thief's would count: the owner's
        // removal moves everyone on again (the receiver rotates).
        let alone = [(lost.0.clone(), thief.clone())];
        assert_eq!(
            JournalHandover::accepted(&alone, &known).map(|(_, h)| h),
            Some(&thief)
        );
        // A device nobody knows counts for nothing.
        let stranger = [(DeviceId::from("00000000000000ff".to_string()), thief)];
        assert_eq!(JournalHandover::accepted(&stranger, &known), None);
    }

    #[test]
    fn two_devices_removing_each_other_are_both_out() {
        let (a, b, c) = (device(1), device(2), device(3));
        let known = BTreeSet::from([a.0.clone(), b.0.clone(), c.0.clone()]);
        let by_a = JournalHandover::create(
            0,
            &BTreeSet::from([b.0.clone()]),
            &recipients(&[&a, &c]),
            &EpochKey::generate(),
        )
        .unwrap();
        let by_b = JournalHandover::create(
            0,
            &BTreeSet::from([a.0.clone()]),
            &recipients(&[&b, &c]),
            &EpochKey::generate(),
        )
        .unwrap();
        let both = [(a.0.clone(), by_a), (b.0.clone(), by_b)];
        assert_eq!(JournalHandover::accepted(&both, &known), None);
    }
}
