//! A space this person is no longer in (protocol.md §5 "Coming back", §6):
//! what her app sees of it, forgetting it, and making room for coming back.
//!
//! After she leaves (or is removed, or this device is removed from her
//! entry) the space stays on the device as it stood: its history up to the
//! new epoch, which this device holds no key to. Syncing it reads nothing
//! new and reports it in `SyncReport::left_out`; [`SpaceSummary::left`]
//! tells the app to show it as a past group. She may forget it
//! ([`SafeSpaces::forget_space`]) or come back with a new invite, which
//! replaces what the device held of it with the space as the welcome shows
//! it.

use super::error::{AppError, AppResult};
use super::invite_use_error::InviteUseError;
use super::safe_spaces::SafeSpaces;
use super::shared::{Loaded, Shared};
use super::standing::{Standing, standing};
use crate::protocol::SpaceId;
use crate::store::DocumentId;

/// Why this device may not join `space` again, if it may not: it is still
/// in it, or it was removed from it as a device.
pub(crate) fn may_join(loaded: &Loaded, space: SpaceId) -> AppResult<()> {
    match standing(loaded, space) {
        None | Some(Standing::Left) => Ok(()),
        Some(Standing::Member) => Err(AppError::AlreadyMember),
        Some(Standing::DeviceRemoved) => Err(InviteUseError::DeviceRemoved.into()),
    }
}

impl Shared {
    /// Deletes what this device held of a space it no longer holds in its
    /// registry (already saved without it, so a crash in between leaves an
    /// unreferenced sealed document, never a registry naming a deleted
    /// one): the document and every epoch key up to `epoch`, except
    /// `keep` (the epoch a rejoin was welcomed into, whose key id is the
    /// same).
    pub(crate) fn delete_space_state(
        &self,
        space: SpaceId,
        document: DocumentId,
        epoch: u32,
        keep: Option<u32>,
    ) -> AppResult<()> {
        self.keys().forget_epochs(space, epoch, keep)?;
        self.profile.delete_document(document)?;
        Ok(())
    }
}

impl SafeSpaces {
    /// Forgets a space this person left (or was removed from, or this
    /// device was removed from): its document and keys are deleted from the
    /// device. Refused while she is a member there: leave first, or the
    /// others would keep handing this device keys. She can still come back
    /// later with a new invite.
    pub fn forget_space(&self, id: &str) -> AppResult<()> {
        let space = super::registry::parse16(id)
            .map(SpaceId)
            .ok_or_else(|| AppError::UnknownSpace(id.to_string()))?;
        let (document, epoch) = self.shared.with_loaded(|loaded| {
            match standing(loaded, space) {
                None => return Err(AppError::UnknownSpace(id.to_string())),
                Some(Standing::Member) => {
                    return Err(AppError::Model(crate::model::ModelError::NotPermitted {
                        action: "forget a space you are a member of",
                        required: "leave it first",
                    }));
                }
                Some(Standing::Left | Standing::DeviceRemoved) => {}
            }
            let entry = self.shared.update_registry(loaded, |registry, _| {
                registry
                    .spaces
                    .remove(&space)
                    .ok_or_else(|| AppError::UnknownSpace(id.to_string()))
            })?;
            loaded.spaces.remove(&space);
            Ok((entry.document, entry.epoch))
        })?;
        self.shared
            .delete_space_state(space, document, epoch, None)?;
        tracing::info!("forgot a space this person left");
        Ok(())
    }
}
