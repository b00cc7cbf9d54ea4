//! Removing someone, at the app level: the removal and a new epoch together
//! (protocol.md §6).
//!
//! A rotation is derived from the document, not remembered: a coordinator's
//! device that holds a removal the current epoch has not answered
//! ([`crate::protocol::removal::unanswered_removal`]) rotates. It does so
//! right after writing a removal, and again before anything of the space
//! leaves the device (relay sync, bundles), so a removal that was persisted
//! and a crash before the rotation was stored still end in a rotation, and
//! the removal never travels without one. Whichever coordinator device
//! sees a departure first answers it.
//!
//! Rotating publishes, under the *old* key, a snapshot of the document at
//! the rotation's cut and then the handover: every remaining member can
//! open both, checks the handover against the snapshot's state (the removal
//! it answers, its author's role there), and takes the new key; the removed
//! device opens the envelopes but not the key inside, nor anything of the
//! new epoch.

use std::sync::Arc;

use super::error::{AppError, AppResult};
use super::registry::{AdoptedHandover, OutboxItem, SpaceEntry};
use super::shared::Shared;
use super::space_handle::Space;
use super::space_handle::entry;
use crate::model::{MemberId, ModelError, Role, Timestamp};
use crate::protocol::attestation::Attestation;
use crate::protocol::removal::{VoidedAuthority, unanswered_removal, voided_authority};
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, Handover, RotationError, SpaceId};

impl Space {
    /// Removes a member (coordinators) and moves the space to a new epoch
    /// whose key only the remaining devices receive.
    pub fn remove_member(&self, member: &MemberId, now: Timestamp) -> AppResult<()> {
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        self.shared.with_loaded(|loaded| {
            let e = entry(loaded, space)?;
            let (me, epoch) = (e.member.clone(), e.epoch);
            // What would make the rotation impossible is refused before
            // the removal is written.
            if epoch.checked_add(1).is_none() {
                return Err(AppError::Rotation(RotationError::LastEpoch(epoch)));
            }
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            doc.remove_member(&me, member, now)?;
            shared.persist_space(loaded, space)?;
            Ok(())
        })?;
        self.shared.rotate_if_needed(space)?;
        Ok(())
    }

    /// Answers a removal or departure that the current epoch has not
    /// answered yet with a new epoch (coordinators). Sync and bundles do
    /// this on their own; an app calls it to rotate at once, e.g. after a
    /// member left.
    pub fn rotate(&self) -> AppResult<()> {
        let coordinator = self.shared.with_loaded(|loaded| {
            let e = entry(loaded, self.id)?;
            let doc = loaded
                .spaces
                .get(&self.id)
                .ok_or_else(|| AppError::UnknownSpace(self.id.to_hex()))?;
            Ok(doc.member(&e.member)?.role.at_least(Role::Coordinator))
        })?;
        if !coordinator {
            return Err(ModelError::NotPermitted {
                action: "start a new epoch",
                required: "coordinator",
            }
            .into());
        }
        if self.shared.rotate_if_needed(self.id)? {
            Ok(())
        } else {
            Err(ModelError::InvalidInput {
                field: "rotation",
                reason: "every removal is answered by the current epoch already".into(),
            }
            .into())
        }
    }
}

impl Shared {
    /// If this device is a coordinator's and the space holds a removal the
    /// current epoch has not answered, moves the space to the next epoch:
    /// the key first, then the registry with the envelopes for the old
    /// mailbox. Returns whether it rotated. Then grants the current key to
    /// devices the epoch's handover missed ([`Shared::grant_missed`]), and
    /// the mailbox's admin seed to coordinators' devices that lack it
    /// ([`Shared::grant_admin`]).
    pub(crate) fn rotate_if_needed(&self, space: SpaceId) -> AppResult<bool> {
        let rotated = self.rotate_only(space)?;
        self.grant_missed(space)?;
        self.grant_admin(space)?;
        Ok(rotated)
    }

    fn rotate_only(&self, space: SpaceId) -> AppResult<bool> {
        let signing = self.keys().signing()?;
        self.with_loaded(|loaded| {
            let device = loaded.registry.device.clone();
            let current = entry(loaded, space)?.clone();
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let coordinator = doc
                .member(&current.member)
                .is_ok_and(|m| m.is_active() && m.role.at_least(Role::Coordinator));
            // Removal wins in the document too: what exists only through a
            // removed member's back-dated changes is taken back first (by
            // a coordinator, and a session's sign-ups by its leads), and
            // the removals that takes are answered below. The history is
            // scanned only when what arrived since the last seal (a removal,
            // a change by a removed member's device) could void anything.
            let since = current.sealed_heads.clone();
            let may_take_back = |doc: &crate::model::SpaceDoc| {
                coordinator
                    || doc
                        .sessions_led_by(&current.member)
                        .is_ok_and(|led| !led.is_empty())
            };
            // Nothing new since the last seal (every idle sync pass): no
            // work, not even the lead check.
            if since != doc.heads() && may_take_back(doc) {
                // A session this device leads now but has not sealed
                // sign-ups of yet (a cover lead, also for a session whose
                // only lead was removed): what was voided there is looked
                // for from the start, since it may have arrived long ago.
                let new_lead = doc.sessions_led_by(&current.member).is_ok_and(|led| {
                    led.iter().any(|id| {
                        !current.sealed_leads.contains_key(id.as_str()) && doc.has_signups(id)
                    })
                });
                let known = (!since.is_empty() && !new_lead).then_some(&since[..]);
                let undo = voided_authority(doc, known);
                if !undo.is_empty() {
                    undo_voided(doc, &current.member, coordinator, undo);
                    self.persist_space(loaded, space)?;
                }
            }
            if !coordinator {
                return Ok(false);
            }
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let Some(removal) = unanswered_removal(doc, current.cut()) else {
                return Ok(false);
            };
            let old_key = self.keys().epoch(space, current.epoch)?;
            let new_key = EpochKey::generate();
            // The new mailbox's admin seed: this coordinator's device holds
            // it, and the handover seals it to the other coordinators'.
            let admin_seed = crate::protocol::AdminSeed::generate();
            let handover =
                Handover::create(doc, current.epoch, removal.change, &new_key, &admin_seed)
                    .map_err(AppError::Rotation)?;
            let next = handover.to_epoch();
            let seal = |kind, sequence, body| {
                Envelope {
                    kind,
                    space,
                    epoch: current.epoch,
                    author: device.clone(),
                    sequence,
                    body,
                }
                .seal(&old_key.content_key(), &signing)
                .map_err(|e| AppError::internal("sealing a handover", e))
            };
            // The state the handover is checked against, then the handover.
            // The snapshot vouches for this device's numbers so far: its
            // outbox items of this epoch that are dropped below (never
            // pushed) are in it.
            let body = super::snapshots::current_snapshot(doc, &current, space, &device, &signing);
            let snapshot = seal(EnvelopeKind::Snapshot, 0, body)?;
            let sealed = seal(
                EnvelopeKind::EpochHandover,
                current.next_sequence,
                handover.encode(),
            )?;
            // Key first: a crash after this leaves an unused key, never a
            // registry pointing at a key that is not there.
            let keys = self.keys();
            keys.keep_epoch(space, next, &new_key)?;
            keys.keep_admin_seed(space, next, &admin_seed)?;
            let at_cut = super::snapshots::attestations_at_cut(
                doc,
                &current,
                &handover.cut,
                space,
                &device,
                &signing,
            );
            self.update_space(loaded, space, |e, _| {
                e.next_sequence = e.next_sequence.saturating_add(1);
                let cursor = e.cursor;
                enter_epoch(e, &handover, &sealed, cursor, None, &at_cut);
                for envelope in [snapshot, sealed.clone()] {
                    e.outbox.push(OutboxItem {
                        epoch: current.epoch,
                        envelope: envelope.into(),
                    });
                }
                Ok(())
            })?;
            tracing::info!(from_epoch = current.epoch, "rotated a space to a new epoch");
            Ok(true)
        })
    }
}

/// Writes what removal wins takes back, as `me`: as a coordinator, removes
/// the members a removed member's back-dated changes made, puts back the
/// roles they wrote and every value they (or those they made or promoted)
/// wrote; as a lead, the sign-ups of the sessions `me` leads (only
/// their leads may write those). What cannot be written (the last
/// coordinator) stays, and is logged.
fn undo_voided(
    doc: &mut crate::model::SpaceDoc,
    me: &MemberId,
    coordinator: bool,
    mut undo: VoidedAuthority,
) {
    undo.writes.retain(|w| match &w.signups_of {
        Some(session) => doc.is_session_lead(session, me).unwrap_or(false),
        None => coordinator,
    });
    if !coordinator {
        undo.members.clear();
        undo.roles.clear();
    }
    if undo.is_empty() {
        return;
    }
    let now = Timestamp::now();
    for member in &undo.members {
        if doc.remove_member(me, member, now).is_err() {
            tracing::warn!(
                "could not remove a member made by a removed member's back-dated change"
            );
        }
    }
    for (member, role) in &undo.roles {
        if doc.set_role(me, member, *role).is_err() {
            tracing::warn!("could not put back a role a removed member's back-dated change wrote");
        }
    }
    if doc.restore(me, &undo.writes).is_err() {
        tracing::warn!("could not put back what a removed member's back-dated changes wrote");
    }
    tracing::info!(
        members = undo.members.len(),
        roles = undo.roles.len(),
        writes = undo.writes.len(),
        "took back what a removed member's back-dated changes granted"
    );
}

/// Moves a registry entry into the epoch `handover` leads to: the new
/// mailbox is read from its start, the old one from `previous_cursor` for
/// competing handovers; sign-ups waiting for a lead are sent again; and
/// whatever was sealed under the epoch left (or under a losing key for the
/// new one) and not pushed yet is dropped from the outbox and sealed again
/// under the new key: this device's changes that are not causally before
/// the cut (from `first_own_after`, the lowest sequence number of its own
/// changes after the cut, if any) count as not sent. Its envelope numbers
/// start again at 1 in the new mailbox (`author_sequences`).
pub(crate) fn enter_epoch(
    entry: &mut SpaceEntry,
    handover: &Handover,
    sealed: &[u8],
    previous_cursor: u64,
    first_own_after: Option<u64>,
    at_cut: &[Attestation],
) {
    // Into the winner of two handovers out of the same epoch, from the
    // loser's mailbox: the epoch left is still the previous one.
    let competing = entry.epoch == handover.to_epoch();
    entry.enter_mailbox(competing);
    entry.cut_attestations = at_cut.to_vec();
    let from = handover.from_epoch;
    entry.epoch = handover.to_epoch();
    entry
        .mailbox_admins
        .insert(handover.to_epoch(), handover.admin_key);
    entry.adopted = Some(AdoptedHandover {
        rank: hex::encode(handover.rank()),
    });
    entry.epoch_cut = handover.cut.clone();
    entry.handovers = vec![sealed.to_vec().into()];
    entry.handover_body = Some(handover.encode().into());
    entry.granted.clear();
    entry.admin_granted.clear();
    entry.admin_grants.clear();
    entry.grants.clear();
    entry.awaiting_grant = None;
    entry.previous_cursor = previous_cursor;
    entry.cursor = 0;
    entry.snapshot_seq = 0;
    // Sequence numbers of the mailbox left behind.
    entry.held_requests.clear();
    entry.sealed_heads = entry.epoch_cut.clone();
    if let Some(seq) = first_own_after {
        entry.sealed_own_seq = entry.sealed_own_seq.min(seq.saturating_sub(1));
    }
    entry.outbox.retain(|item| item.epoch < from);
    for pending in &mut entry.pending_requests {
        pending.sent = false;
    }
}
