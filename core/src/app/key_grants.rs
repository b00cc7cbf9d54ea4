//! Granting the current epoch's key to devices its handover missed
//! (protocol.md §6, "Devices a handover missed"; `protocol::key_grant`).
//!
//! A phone linked, or a member admitted, while a coordinator rotated holds
//! the old epoch's key only: the handover was sealed to the devices at its
//! cut. A device that holds the current key and sees such a device among
//! those that should hold it ([`key_holders`]) seals the key to it and
//! appends the grant to the old epoch's mailbox (and to every bundle),
//! once per device and epoch. Only a coordinator's device grants, or a
//! device of the missed device's own person (her old phone, for the phone
//! she just linked): the receiver checks the key against the handover's
//! commitment, so the rule only keeps the number of grants down.

use std::collections::BTreeSet;

use super::error::{AppError, AppResult};
use super::registry::{OutboxItem, Sealed, SpaceEntry};
use super::shared::{Loaded, Shared};
use super::space_handle::entry;
use crate::model::{DeviceId, Role};
use crate::protocol::admin_grant::AdminGrant;
use crate::protocol::key_grant::KeyGrant;
use crate::protocol::removal::{admin_holders, key_holders};
use crate::protocol::{Envelope, EnvelopeKind, EpochKey, Handover, SpaceId};

impl Shared {
    /// Grants the current epoch's key to every device that should hold it
    /// and that the handover into the epoch did not cover, if this device
    /// may grant to it. Nothing to do in the first epoch, or for a device
    /// that joined or was linked into the current one (it does not hold
    /// the handover).
    pub(crate) fn grant_missed(&self, space: SpaceId) -> AppResult<()> {
        self.with_loaded(|loaded| {
            let device = loaded.registry.device.clone();
            let current = entry(loaded, space)?.clone();
            let (Some(body), Some(previous)) =
                (current.handover_body.as_ref(), current.epoch.checked_sub(1))
            else {
                return Ok(());
            };
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            // Nothing new since the last seal (every idle sync pass): every
            // device listed then was looked at before that seal.
            if current.sealed_heads == doc.heads() {
                return Ok(());
            }
            let handover = Handover::decode(body.bytes())
                .map_err(|_| AppError::damaged("the registry's adopted handover"))?;
            let coordinator = doc
                .member(&current.member)
                .is_ok_and(|m| m.is_active() && m.role.at_least(Role::Coordinator));
            let own: BTreeSet<DeviceId> = doc
                .active_devices(&current.member)
                .unwrap_or_default()
                .into_keys()
                .collect();
            let candidate = |d: &DeviceId| {
                *d != device
                    && !handover.recipients.contains(d)
                    && !current.granted.contains(d)
                    && (coordinator || own.contains(d))
            };
            // The cheap look first (every sync pass comes here): only if
            // some listed device is not covered is the history scanned for
            // who should really hold the key.
            let listed = doc.members().unwrap_or_default();
            let any = listed.iter().filter(|(_, m)| m.is_active()).any(|(id, _)| {
                doc.active_devices(id)
                    .unwrap_or_default()
                    .keys()
                    .any(candidate)
            });
            if !any {
                return Ok(());
            }
            let missed: Vec<(DeviceId, String)> = key_holders(doc)
                .into_iter()
                .filter(|(d, _)| candidate(d))
                .collect();
            if missed.is_empty() {
                return Ok(());
            }
            let key = self.keys().epoch(space, current.epoch)?;
            let old_key = self.keys().epoch(space, previous)?;
            // A coordinator's device it missed is given the admin seed too,
            // if this device holds it.
            let seed = self.keys().admin_seed(space, current.epoch)?;
            let admins: Vec<(DeviceId, String)> = admin_holders(doc)
                .into_iter()
                .filter(|(d, _)| missed.iter().any(|(m, _)| m == d))
                .collect();
            let admin = seed.as_ref().map(|s| (s, admins.as_slice()));
            let grant = match KeyGrant::create(&handover, &key, &missed, admin) {
                Ok(grant) => grant,
                Err(e) => {
                    tracing::warn!(error = %e, "could not grant the key to a device the handover missed");
                    return Ok(());
                }
            };
            // In the old mailbox, which the missed device still reads; the
            // device waiting for it knows it is missing.
            let sealing = Sealing {
                author: &device,
                kind: EnvelopeKind::KeyGrant,
                epoch: previous,
                key: &old_key,
            };
            self.keep_grant(loaded, space, sealing, grant.encode(), |e| {
                e.granted.extend(grant.recipients.iter().cloned());
                &mut e.grants
            })?;
            tracing::info!(
                devices = grant.recipients.len(),
                epoch = current.epoch,
                "granted the key to devices the handover missed"
            );
            Ok(())
        })
    }

    /// Grants the current epoch mailbox's admin seed, if this device holds
    /// it, to every coordinator's device that should hold it
    /// ([`admin_holders`]) and is not known to: neither covered by the
    /// handover into the epoch nor granted by this device before (a
    /// coordinator who joined by invite, a member promoted, since the epoch
    /// began). Once per device and epoch; the receiver checks the seed
    /// against the admin key it holds (`protocol::admin_grant`).
    pub(crate) fn grant_admin(&self, space: SpaceId) -> AppResult<()> {
        self.with_loaded(|loaded| {
            let device = loaded.registry.device.clone();
            let sealed_heads = entry(loaded, space)?.sealed_heads.clone();
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            // Nothing new since the last seal (every idle sync pass), as in
            // `grant_missed`; then only a device holding the seed grants.
            if sealed_heads == doc.heads() {
                return Ok(());
            }
            let current = entry(loaded, space)?.clone();
            let Some(seed) = self.keys().admin_seed(space, current.epoch)? else {
                return Ok(());
            };
            if current.admin_key(current.epoch) != Some(seed.public()) {
                return Ok(());
            }
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let covered: BTreeSet<DeviceId> = current
                .handover_body
                .as_ref()
                .and_then(|b| Handover::decode(b.bytes()).ok())
                .map(|h| h.admin_recipients)
                .unwrap_or_default()
                .into_iter()
                .chain(current.admin_granted.iter().cloned())
                .chain(std::iter::once(device.clone()))
                .collect();
            // The cheap look first: only if some coordinator's device is not
            // covered is the history scanned for who should really hold it.
            let listed = doc.members().unwrap_or_default();
            let any = listed
                .iter()
                .filter(|(_, m)| m.is_active() && m.role == Role::Coordinator)
                .any(|(id, _)| {
                    doc.active_devices(id)
                        .unwrap_or_default()
                        .keys()
                        .any(|d| !covered.contains(d))
                });
            if !any {
                return Ok(());
            }
            let missing: Vec<(DeviceId, String)> = admin_holders(doc)
                .into_iter()
                .filter(|(d, _)| !covered.contains(d))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let grant = match AdminGrant::create(current.epoch, &seed, &missing) {
                Ok(grant) => grant,
                Err(e) => {
                    tracing::warn!(error = %e, "could not grant the mailbox admin key");
                    return Ok(());
                }
            };
            let epoch = current.epoch;
            let key = self.keys().epoch(space, epoch)?;
            let sealing = Sealing {
                author: &device,
                kind: EnvelopeKind::AdminGrant,
                epoch,
                key: &key,
            };
            self.keep_grant(loaded, space, sealing, grant.encode(), |e| {
                e.admin_granted.extend(grant.recipients.iter().cloned());
                &mut e.admin_grants
            })?;
            tracing::info!(
                devices = grant.recipients.len(),
                epoch,
                "granted the mailbox admin key to coordinators' devices"
            );
            Ok(())
        })
    }

    /// Seals a grant's `body` and keeps it: queued in the entry's outbox
    /// and in the list `kept` names (after it records the recipients),
    /// which bundles carry. Grants are unnumbered (protocol.md §3,
    /// "Sequence numbers"): one is re-sent, never part of the author's run.
    fn keep_grant(
        &self,
        loaded: &mut Loaded,
        space: SpaceId,
        sealing: Sealing<'_>,
        body: Vec<u8>,
        kept: impl FnOnce(&mut SpaceEntry) -> &mut Vec<Sealed>,
    ) -> AppResult<()> {
        let sealed = Sealed(
            Envelope {
                kind: sealing.kind,
                space,
                epoch: sealing.epoch,
                author: sealing.author.clone(),
                sequence: 0,
                body,
            }
            .seal(&sealing.key.content_key(), &self.keys().signing()?)
            .map_err(|e| AppError::internal("sealing a grant", e))?,
        );
        self.update_space(loaded, space, |e, _| {
            e.outbox.push(OutboxItem {
                epoch: sealing.epoch,
                envelope: sealed.clone(),
            });
            kept(e).push(sealed);
            Ok(())
        })
    }
}

/// How a grant is sealed: by whom, as what, for which epoch's mailbox,
/// under which key.
struct Sealing<'a> {
    author: &'a DeviceId,
    kind: EnvelopeKind,
    epoch: u32,
    key: &'a EpochKey,
}
