//! The person's own devices: listing them, naming them, and removing one
//! (the lost or stolen phone) from every space and from the journal
//! (protocol.md §6).
//!
//! Removing a device writes its removal into the person's member entry in
//! every space it is listed in, and moves the journal to a new key sealed
//! to the remaining devices only. In each space, the first coordinator's
//! device that sees the removal answers it with a new epoch (this one at
//! once, if the person is a coordinator there), so from then on the
//! removed device, and any copy of its keys restored from a backup, can
//! read nothing new: not the space, not the journal.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::error::{AppError, AppResult};
use super::registry::OwnDevice;
use super::safe_spaces::SafeSpaces;
use super::shared::{Loaded, Shared};
use crate::model::{DeviceId, ModelError, Timestamp};
use crate::protocol::EpochKey;
use crate::protocol::journal_epoch::JournalHandover;

/// The longest name a person may give a device.
const MAX_DEVICE_NAME: usize = 64;

/// One of the person's devices, as this device knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Its id.
    pub id: DeviceId,
    /// What to compare with the device's own screen (the same text linking
    /// showed).
    pub fingerprint: String,
    /// The name the person gave it on this device.
    pub name: Option<String>,
    /// Whether it is the device this runs on.
    pub this_device: bool,
    /// When this device last received something it signed (`None` for
    /// this device, or never).
    pub last_seen: Option<Timestamp>,
    /// When it was removed, if it was.
    pub removed_at: Option<Timestamp>,
}

impl SafeSpaces {
    /// The person's devices this device knows of, this one first, then by
    /// name and id; removed ones stay listed, marked.
    pub fn devices(&self) -> AppResult<Vec<DeviceInfo>> {
        self.shared.with_loaded(|loaded| {
            self.shared.refresh_own_devices(loaded)?;
            let me = loaded.registry.device.clone();
            let mut out: Vec<DeviceInfo> = loaded
                .registry
                .own_devices
                .iter()
                .map(|(id, d)| DeviceInfo {
                    id: id.clone(),
                    fingerprint: d.keys.fingerprint(id),
                    name: d.name.clone(),
                    this_device: *id == me,
                    last_seen: if *id == me { None } else { d.last_seen },
                    removed_at: d.removed_at,
                })
                .collect();
            out.sort_by(|a, b| {
                b.this_device
                    .cmp(&a.this_device)
                    .then(a.name.cmp(&b.name))
                    .then(a.id.cmp(&b.id))
            });
            Ok(out)
        })
    }

    /// Gives one of the person's devices a name on this device ("work
    /// phone"); `None` clears it. The name never leaves this device.
    pub fn name_device(&self, device: &DeviceId, name: Option<&str>) -> AppResult<()> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = name {
            if n.chars().count() > MAX_DEVICE_NAME || n.chars().any(char::is_control) {
                return Err(ModelError::InvalidInput {
                    field: "device name",
                    reason: format!(
                        "at most {MAX_DEVICE_NAME} characters, without control characters"
                    ),
                }
                .into());
            }
        }
        self.shared.with_loaded(|loaded| {
            self.shared.refresh_own_devices(loaded)?;
            self.shared.update_registry(loaded, |registry, _| {
                let entry = registry
                    .own_devices
                    .get_mut(device)
                    .ok_or_else(|| unknown_device(device))?;
                entry.name = name.map(str::to_string);
                Ok(())
            })
        })
    }

    /// Removes one of the person's other devices (a lost or stolen phone):
    /// from every space it is in, each of which then moves to a new epoch
    /// without it, and from the journal, which moves to a new key sealed to
    /// the remaining devices. Returns how many spaces it was removed from.
    /// Nothing it writes from then on counts anywhere. The next sync
    /// publishes it all; until then it is persisted here.
    pub fn remove_device(&self, device: &DeviceId, now: Timestamp) -> AppResult<usize> {
        let shared = Arc::clone(&self.shared);
        let spaces = self.shared.with_loaded(|loaded| {
            shared.refresh_own_devices(loaded)?;
            if *device == loaded.registry.device {
                return Err(ModelError::InvalidInput {
                    field: "device",
                    reason: "this is the device you are using; to stop using it, wipe it".into(),
                }
                .into());
            }
            if !loaded.registry.own_devices.contains_key(device) {
                return Err(unknown_device(device));
            }
            let mut touched = Vec::new();
            let entries: Vec<_> = loaded.registry.spaces.values().cloned().collect();
            for e in entries {
                let space = e.space;
                let Some(doc) = loaded.spaces.get_mut(&space) else {
                    continue;
                };
                let listed = doc
                    .member(&e.member)
                    .is_ok_and(|m| m.is_active() && m.devices.contains_key(device));
                if !listed || doc.removed_devices(&e.member).contains_key(device) {
                    continue;
                }
                doc.remove_device(&e.member, device, now)?;
                shared.persist_space(loaded, space)?;
                touched.push(space);
            }
            shared.update_registry(loaded, |registry, _| {
                if let Some(d) = registry.own_devices.get_mut(device) {
                    d.removed_at.get_or_insert(now);
                }
                Ok(())
            })?;
            shared.rotate_journal_if_needed(loaded)?;
            Ok(touched)
        })?;
        // Where this person coordinates, the new epoch is made at once.
        for space in &spaces {
            self.shared.rotate_if_needed(*space)?;
        }
        tracing::info!(spaces = spaces.len(), "removed one of the person's devices");
        Ok(spaces.len())
    }
}

fn unknown_device(device: &DeviceId) -> AppError {
    ModelError::InvalidInput {
        field: "device",
        reason: format!("{device} is not one of your devices known here"),
    }
    .into()
}

impl Shared {
    /// Adds to the registry's list of the person's devices every device her
    /// member entries list in her spaces (one linked by another of her
    /// devices shows up there first), and marks those removed there.
    pub(crate) fn refresh_own_devices(&self, loaded: &mut Loaded) -> AppResult<()> {
        self.update_registry(loaded, |registry, loaded| {
            let me = registry.device.clone();
            if !registry.own_devices.contains_key(&me) {
                let keys = self.device_keys(&me)?;
                registry.own_devices.insert(
                    me.clone(),
                    OwnDevice {
                        keys,
                        name: None,
                        last_seen: None,
                        removed_at: None,
                    },
                );
            }
            for (space, e) in &loaded.registry.spaces {
                let Some(doc) = loaded.spaces.get(space) else {
                    continue;
                };
                let Ok(member) = doc.member(&e.member) else {
                    continue;
                };
                // Only while the person is in the space: after she left, its
                // list is no longer hers to read devices from.
                if !member.is_active() || !member.devices.contains_key(&me) {
                    continue;
                }
                let removed = doc.removed_devices(&e.member);
                for (id, keys) in member.devices {
                    let d = registry.own_devices.entry(id.clone()).or_insert(OwnDevice {
                        keys,
                        name: None,
                        last_seen: None,
                        removed_at: None,
                    });
                    if let Some(at) = removed.get(&id) {
                        d.removed_at = Some(d.removed_at.map_or(*at, |r| r.min(*at)));
                    }
                }
            }
            Ok(())
        })
    }

    /// Moves the journal to a new key if a device of the person is removed
    /// that the current key was not kept from (rotation is derived, as for
    /// spaces: a crash between a removal and this still ends in it at the
    /// next sync). The handover waits in the registry's journal outbox for
    /// the next sync to append to the old mailbox. Returns whether it
    /// rotated.
    pub(crate) fn rotate_journal_if_needed(&self, loaded: &mut Loaded) -> AppResult<bool> {
        let removed: BTreeSet<DeviceId> = loaded
            .registry
            .own_devices
            .iter()
            .filter(|(_, d)| d.removed_at.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        let answered: BTreeSet<&DeviceId> = loaded.registry.journal_epoch.answered.iter().collect();
        if removed.iter().all(|d| answered.contains(d)) {
            return Ok(false);
        }
        let from = loaded.registry.journal_epoch.epoch;
        let to = from
            .checked_add(1)
            .ok_or(AppError::damaged("the journal's epoch"))?;
        let recipients: Vec<(DeviceId, String)> = loaded
            .registry
            .own_devices
            .iter()
            .filter(|(id, _)| !removed.contains(*id))
            .map(|(id, d)| (id.clone(), d.keys.age_recipient.clone()))
            .collect();
        let old_key = self.keys().journal(&loaded.registry, from)?;
        let new_key = EpochKey::generate();
        let handover = JournalHandover::create(from, &removed, &recipients, &new_key)
            .map_err(|e| AppError::internal("making a journal handover", e))?;
        let signing = self.keys().signing()?;
        let sealed = super::journal_sync::seal_handover(
            &handover,
            &old_key,
            &loaded.registry.device,
            &signing,
        )?;
        // Key first: a crash after this leaves an unused key, never a
        // registry pointing at a key that is not there.
        self.keys().keep_journal(to, &new_key)?;
        self.update_registry(loaded, |registry, _| {
            let j = &mut registry.journal_epoch;
            j.outbox.push(super::registry::OutboxItem {
                epoch: from,
                envelope: sealed.into(),
            });
            j.epoch = to;
            j.answered = removed.into_iter().collect();
            j.adopted = None;
            j.previous_cursor = registry.journal_cursor;
            registry.journal_cursor = 0;
            // The new mailbox is empty: the journal goes there whole.
            registry.journal_pushed_heads.clear();
            Ok(())
        })?;
        tracing::info!(from_epoch = from, "moved the journal to a new key");
        Ok(true)
    }
}

/// The journal's first key, `HKDF(person secret,
/// "safespaces/v2/journal-key/0")`: apart from the person secret itself, so
/// the journal's mailbox id says nothing that ties it to the tickets the
/// same secret derives.
pub(crate) fn first_journal_key(person_secret: &[u8; 32]) -> EpochKey {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, person_secret);
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand(b"safespaces/v2/journal-key/0", key.as_mut());
    EpochKey::from_bytes(*key)
}
