//! Adopting a space: the one path by which a space this device did not
//! create comes to it, whether by joining with a bundle, joining through
//! the relay, or being linked as the person's new device.
//!
//! Each way hands over the same things: a first snapshot of the space
//! checked from its creation (`snapshots::first_snapshot` /
//! `verified_snapshot`), the epoch's key, the mailbox's admin key (and its
//! admin seed, to a coordinator's device), and the member this device is
//! in it. They are persisted in one order, so that a crash at any point
//! leaves either the space as it was (unused keys or an unreferenced
//! sealed document at worst) or the space adopted, never a registry
//! naming what is not on disk:
//!
//! 1. the keys ([`Keys`](super::keys::Keys));
//! 2. the document, under a fresh document id;
//! 3. the registry entry (with whatever else the way of joining settles in
//!    the same write, such as forgetting the pending join), persisted and
//!    then swapped in ([`Shared::update_registry`]);
//! 4. the document in memory;
//! 5. only then, what the device held of the space before (a person
//!    coming back after she left) is deleted.

use super::error::AppResult;
use super::registry::{Registry, SpaceEntry};
use super::shared::{Loaded, Shared};
use super::snapshots::FirstSnapshot;
use crate::model::MemberId;
use crate::protocol::authorship::actor_for_device;
use crate::protocol::{AdminKey, AdminSeed, EpochKey, SpaceId};
use crate::store::DocumentId;

/// What a device is handed to adopt a space.
pub(crate) struct Adoption<'a> {
    /// The space.
    pub(crate) space: SpaceId,
    /// Who this device is in it.
    pub(crate) member: MemberId,
    /// The epoch it comes in at.
    pub(crate) epoch: u32,
    /// That epoch's key.
    pub(crate) epoch_key: &'a EpochKey,
    /// That epoch mailbox's public admin key.
    pub(crate) admin_key: AdminKey,
    /// Its admin seed, handed to a coordinator's device.
    pub(crate) admin_seed: Option<&'a AdminSeed>,
    /// The space as far as it was checked from its creation.
    pub(crate) first: FirstSnapshot,
}

impl Shared {
    /// Adopts a space (see the module docs for the order), replacing what
    /// this device held of it. `settle` makes whatever else the way of
    /// joining changes in the registry part of the same write. The caller
    /// checks first whether this device may hold the space
    /// (`leaving::may_join`).
    pub(crate) fn adopt_space(
        &self,
        loaded: &mut Loaded,
        adoption: Adoption<'_>,
        settle: impl FnOnce(&mut Registry),
    ) -> AppResult<()> {
        let Adoption {
            space,
            member,
            epoch,
            epoch_key,
            admin_key,
            admin_seed,
            first,
        } = adoption;
        // Coming back: what the device held of the space is replaced by the
        // space as it is handed over now (the same history, checked from
        // the creation again), under the new member and epoch. Its own
        // changes there are the ones every member accepted, so its next
        // change follows them; anything it wrote after it left, which
        // nobody accepted, is dropped with the old copy.
        let earlier = loaded
            .registry
            .spaces
            .get(&space)
            .map(|e| (e.document, e.epoch));
        let device = loaded.registry.device.clone();
        let mut doc = first.doc;
        if let Some(actor) = actor_for_device(&device) {
            doc.set_actor(actor);
        }
        let keys = self.keys();
        keys.keep_epoch(space, epoch, epoch_key)?;
        if let Some(seed) = admin_seed {
            keys.keep_admin_seed(space, epoch, seed)?;
        }
        let document = DocumentId::random();
        self.profile.put_snapshot(document, &doc.save())?;
        let mut entry = SpaceEntry::joined(space, document, member, epoch, admin_key, &doc.heads());
        for a in &first.attestations {
            entry.remember(a);
        }
        entry.note_vouched(&device, epoch, &first.vouched, |d| {
            crate::protocol::exchange::device_key(&doc, d).is_some()
        });
        self.update_registry(loaded, |registry, _| {
            registry.spaces.insert(space, entry);
            settle(registry);
            Ok(())
        })?;
        loaded.spaces.insert(space, doc);
        if let Some((document, held_epoch)) = earlier {
            self.delete_space_state(space, document, held_epoch, Some(epoch))?;
            tracing::info!(epoch, "came back to a space this person had left");
        }
        Ok(())
    }
}
