//! Removing someone, at the app level: the removal and a new epoch together
//! (protocol.md §6).
//!
//! The coordinator's device writes the removal, draws the next epoch's key,
//! seals it to every remaining device in a handover envelope (sealed under
//! the *old* key, so every remaining member can open the envelope, and only
//! the remaining devices the key inside), and from then on seals everything
//! under the new key. Bundles carry the handover, and their outer layer
//! opens with either key while a handover is being passed on; the removed
//! device opens the outer layer and the handover envelope, but not the key
//! inside, nor anything of the new epoch, so it stays where it was.

use std::sync::Arc;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::registry::epoch_key_id;
use super::space_handle::entry;
use super::{AppError, AppResult, Space};
use crate::model::{MemberId, Timestamp};
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, Handover};

impl Space {
    /// Removes a member (coordinators) and moves the space to a new epoch
    /// whose key only the remaining devices receive.
    pub fn remove_member(&self, member: &MemberId, now: Timestamp) -> AppResult<()> {
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        self.shared.with_loaded(|loaded| {
            let me = entry(loaded, space)?.member.clone();
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            doc.remove_member(&me, member, now)?;
            shared.persist_space(loaded, space)?;
            Ok(())
        })?;
        self.rotate()
    }

    /// Starts a new epoch: a fresh key sealed to every active device, e.g.
    /// after a member left or a device was lost. Coordinators only.
    pub fn rotate(&self) -> AppResult<()> {
        let signing = self
            .shared
            .profile
            .with_keyring(|k| k.signing_key().clone())?;
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        self.shared.with_loaded(|loaded| {
            let device = loaded.registry.device.clone();
            let current = entry(loaded, space)?.clone();
            let doc = loaded
                .spaces
                .get(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            if !doc
                .member(&current.member)?
                .role
                .at_least(crate::model::Role::Coordinator)
            {
                return Err(crate::model::ModelError::NotPermitted {
                    action: "start a new epoch",
                    required: "coordinator",
                }
                .into());
            }
            let old_key = shared.epoch_key(space, current.epoch)?;
            let next = current
                .epoch
                .checked_add(1)
                .ok_or_else(|| AppError::Corrupt("epoch overflow".into()))?;
            let new_key = EpochKey::generate();
            let handover = Handover::create(doc, next, &new_key)
                .map_err(|e| AppError::Corrupt(e.to_string()))?;
            let envelope = Envelope {
                kind: EnvelopeKind::EpochHandover,
                space,
                epoch: current.epoch,
                author: device,
                sequence: current.next_sequence,
                body: handover.encode(),
            }
            .seal(&old_key.content_key(), &signing)
            .map_err(|e| AppError::Corrupt(e.to_string()))?;
            // Key first: a crash after this leaves an unused key, never a
            // registry pointing at a key that is not there.
            shared
                .profile
                .insert_key(epoch_key_id(space, next), *new_key.expose_bytes())?;
            let mut registry = loaded.registry.clone();
            if let Some(e) = registry.spaces.get_mut(&space.to_hex()) {
                e.epoch = next;
                e.next_sequence = e.next_sequence.saturating_add(1);
                e.handovers = vec![BASE64_STANDARD.encode(&envelope)];
                // Through the relay, the handover goes to the old mailbox,
                // which every remaining device is still reading.
                e.outbox.push(super::registry::OutboxItem {
                    epoch: current.epoch,
                    envelope: BASE64_STANDARD.encode(&envelope),
                });
            }
            shared.save_registry(&registry)?;
            loaded.registry = registry;
            Ok(())
        })
    }
}
