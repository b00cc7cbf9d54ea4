//! Invites and offline bundles at the app level: everything two devices
//! need to join and converge with no network, by passing files.
//!
//! The relay (sync engine) moves the same bytes: an invite's package goes
//! into its drop-box, bundles' envelopes into the mailbox.

use std::sync::Arc;

use ed25519_dalek::SigningKey;

use super::bundle::{open_bundle, seal_bundle};
use super::receive::{receive_envelopes, request_envelope};
use super::registry::{PendingRequest, decode_attestations, epoch_key_id};
use super::space_handle::entry;
use super::{AppError, AppResult, InputSource, Loaded, SafeSpaces, Shared, Space};
use crate::model::{SignUpState, Timestamp};
use crate::protocol::attendance;
use crate::protocol::snapshot::SnapshotBody;
use crate::protocol::{AdminSeed, Envelope, EnvelopeKind, EpochKey, SpaceId};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

/// What importing a bundle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleReport {
    /// The space it was for, hex.
    pub space: String,
    /// Changes applied.
    pub applied: usize,
    /// Changes refused (not their author's to make).
    pub refused: usize,
    /// Attendance requests this device recorded as a lead.
    pub requests_recorded: usize,
    /// The epoch this device moved to, if the bundle carried a handover.
    pub new_epoch: Option<u32>,
    /// A handover left this device out: it was removed from the space.
    pub left_out: bool,
    /// Envelopes this device holds no key for (a later epoch it was not given).
    pub unreadable: usize,
    /// Envelopes of an epoch this device has moved on from, left unapplied
    /// (their authors seal what they still need to send again).
    pub stale: usize,
}

impl Shared {
    pub(crate) fn epoch_key(&self, space: SpaceId, epoch: u32) -> AppResult<EpochKey> {
        self.profile
            .with_keyring(|k| {
                k.key(&epoch_key_id(space, epoch))
                    .map(|key| *key.expose_bytes())
            })?
            .map(EpochKey::from_bytes)
            .ok_or_else(|| AppError::damaged("the keyring's space key"))
    }

    /// The admin seed of `epoch`'s mailbox, if this device holds it (a
    /// coordinator's device given it by the epoch's handover or link).
    pub(crate) fn admin_seed(&self, space: SpaceId, epoch: u32) -> AppResult<Option<AdminSeed>> {
        Ok(self
            .profile
            .with_keyring(|k| {
                k.key(&super::registry::admin_seed_id(space, epoch))
                    .map(|key| *key.expose_bytes())
            })?
            .map(AdminSeed::from_bytes))
    }

    /// Keeps the admin seed of `epoch`'s mailbox in the keyring.
    pub(crate) fn keep_admin_seed(
        &self,
        space: SpaceId,
        epoch: u32,
        seed: &AdminSeed,
    ) -> AppResult<()> {
        self.profile.insert_key(
            super::registry::admin_seed_id(space, epoch),
            *seed.expose_bytes(),
        )?;
        Ok(())
    }

    /// The relay credential of a space's epoch mailbox: its member key, its
    /// admin key as this device knows it, and the admin seed if held here.
    pub(crate) fn credential(
        &self,
        space: SpaceId,
        epoch: u32,
    ) -> AppResult<crate::relay::MailboxCredential> {
        self.with_loaded(|loaded| self.credential_in(loaded, space, epoch))
    }

    /// [`Shared::credential`] for a caller already holding the loaded state.
    pub(crate) fn credential_in(
        &self,
        loaded: &Loaded,
        space: SpaceId,
        epoch: u32,
    ) -> AppResult<crate::relay::MailboxCredential> {
        let key = self.epoch_key(space, epoch)?;
        let admin = entry(loaded, space)?
            .admin_key(epoch)
            .ok_or_else(|| AppError::damaged("the registry's mailbox admin key"))?;
        let seed = self.admin_seed(space, epoch)?;
        Ok(crate::relay::MailboxCredential::for_epoch(
            &key,
            admin,
            seed.as_ref(),
        ))
    }

    pub(crate) fn signing_key(&self) -> AppResult<SigningKey> {
        Ok(self.profile.with_keyring(|k| k.signing_key().clone())?)
    }

    fn identity(&self) -> AppResult<age::x25519::Identity> {
        Ok(self.profile.with_keyring(|k| k.device_identity().clone())?)
    }

    pub(crate) fn persist_space(&self, loaded: &mut Loaded, space: SpaceId) -> AppResult<()> {
        let document = entry(loaded, space)?
            .document_id()
            .ok_or_else(|| AppError::damaged("the registry's document id"))?;
        if let Some(doc) = loaded.spaces.get_mut(&space) {
            let increment = doc.save_incremental();
            if !increment.is_empty() {
                self.profile.append_increment(document, &increment)?;
            }
        }
        Ok(())
    }
}

impl Space {
    /// Everything this device can tell another member of the space, as one
    /// age file: its whole document and the sign-ups it is still waiting to
    /// have recorded.
    pub fn export_bundle(&self) -> AppResult<Vec<u8>> {
        let signing = self.shared.signing_key()?;
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        // Sign-up holders before the rotation (see `seal_outbox`); a
        // removal never leaves this device without its rotation.
        self.shared.reseal_for_leads(space, Timestamp::now())?;
        self.shared.rotate_if_needed(space)?;
        self.shared.with_loaded(|loaded| {
            let secret = shared.person_secret(&loaded.registry)?;
            let device = loaded.registry.device.clone();
            let entry = entry(loaded, space)?.clone();
            let key = shared.epoch_key(space, entry.epoch)?;
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let mut envelopes = Vec::new();
            // Handovers first: an importer still in the previous epoch needs
            // the new key before it can open the snapshot, and before them
            // the state they are checked against (the rotation's cut), under
            // the previous key.
            if let (false, Some(previous)) =
                (entry.handovers.is_empty(), entry.epoch.checked_sub(1))
            {
                let cut: Vec<automerge::ChangeHash> = entry
                    .epoch_cut
                    .iter()
                    .filter_map(|h| h.parse().ok())
                    .collect();
                if cut.iter().all(|h| doc.has_change(h)) && !cut.is_empty() {
                    let old_key = shared.epoch_key(space, previous)?;
                    let doc_at_cut = doc.save_at(&cut)?;
                    envelopes.push(
                        Envelope {
                            kind: EnvelopeKind::Snapshot,
                            space,
                            epoch: previous,
                            author: device.clone(),
                            sequence: 0,
                            body: SnapshotBody {
                                document: doc_at_cut,
                                attestations: decode_attestations(&entry.cut_attestations),
                                // Whoever takes it moves on to the new
                                // epoch at once: the old one's numbers
                                // are no longer checked there.
                                vouched: Vec::new(),
                            }
                            .encode(),
                        }
                        .seal(&old_key.content_key(), &signing)
                        .map_err(|e| AppError::internal("sealing a handover", e))?,
                    );
                }
            }
            // Then the keys granted to devices the handover missed, which
            // still open only the previous epoch's envelopes.
            for handover in entry.handovers.iter().chain(&entry.grants) {
                envelopes.push(
                    BASE64_STANDARD
                        .decode(handover)
                        .map_err(|e| AppError::damaged_by("the registry's handover", e))?,
                );
            }
            let snapshot = Envelope {
                kind: EnvelopeKind::Snapshot,
                space,
                epoch: entry.epoch,
                author: device.clone(),
                // Snapshots are unnumbered: a bundle's never reaches the
                // mailbox, so a number here would be a gap there.
                sequence: 0,
                body: super::snapshots::current_snapshot(doc, &entry, space, &device, &signing),
            };
            envelopes.push(
                snapshot
                    .seal(&key.content_key(), &signing)
                    .map_err(|e| AppError::internal("sealing a snapshot", e))?,
            );
            // The admin seed granted to coordinators' devices that lacked
            // it, under the current key.
            for grant in &entry.admin_grants {
                envelopes.push(
                    BASE64_STANDARD
                        .decode(grant)
                        .map_err(|e| AppError::damaged_by("the registry's admin grant", e))?,
                );
            }
            for pending in &entry.pending_requests {
                // No cleared lead yet: it stays pending for a later bundle.
                if let Some(envelope) = request_envelope(
                    doc,
                    &secret,
                    space,
                    entry.epoch,
                    &key,
                    &entry.member,
                    &device,
                    pending,
                    &signing,
                )? {
                    envelopes.push(envelope);
                }
            }
            // While a handover is being passed on, devices still in the
            // previous epoch must be able to open the bundle to find it.
            let previous = match (entry.handovers.is_empty(), entry.epoch.checked_sub(1)) {
                (false, Some(prev)) => Some(shared.epoch_key(space, prev)?.content_key()),
                _ => None,
            };
            let content = key.content_key();
            let mut keys = vec![&content];
            keys.extend(previous.as_ref());
            seal_bundle(&keys, space, entry.epoch, &envelopes)
        })
    }
}

impl SafeSpaces {
    /// Imports a bundle from another member's device into the space it
    /// belongs to. Every change is checked on its own; attendance requests
    /// are recorded if this device is a cleared lead of their session.
    pub fn import_bundle(&self, bundle: &[u8], now: Timestamp) -> AppResult<BundleReport> {
        let identity = self.shared.identity()?;
        let shared = Arc::clone(&self.shared);
        self.shared
            .with_loaded(|loaded| {
                let mut found = None;
                'spaces: for (space, entry) in &loaded.registry.spaces {
                    let Some(id) = entry.space_id() else { continue };
                    // The current epoch's key, and the previous one: a bundle from
                    // a device that rotated opens with either while it passes the
                    // handover on.
                    for epoch in [Some(entry.epoch), entry.epoch.checked_sub(1)]
                        .into_iter()
                        .flatten()
                    {
                        let Ok(key) = shared.epoch_key(id, epoch) else {
                            continue;
                        };
                        if let Some(contents) = open_bundle(&key.content_key(), bundle) {
                            found = Some((space.clone(), id, entry.clone(), contents?));
                            break 'spaces;
                        }
                    }
                }
                let (_, space, mut entry, contents) = found.ok_or_else(|| {
                    AppError::refused(InputSource::Bundle, "it is for no space on this device")
                })?;
                if contents.space != space {
                    return Err(AppError::refused(
                        InputSource::Bundle,
                        "it belongs to another space",
                    ));
                }
                let mut report = BundleReport {
                    space: space.to_hex(),
                    ..BundleReport::default()
                };
                receive_envelopes(
                    &shared,
                    loaded,
                    space,
                    &mut entry,
                    &contents.envelopes,
                    &identity,
                    now,
                    &mut report,
                    None,
                )?;
                // The entry learns from every import (attestations, an epoch).
                if loaded.registry.spaces.get(&space.to_hex()) != Some(&entry) {
                    let mut registry = loaded.registry.clone();
                    registry.spaces.insert(space.to_hex(), entry);
                    shared.save_registry(&registry)?;
                    loaded.registry = registry;
                }
                shared.persist_space(loaded, space)?;
                shared.settle_pending(loaded, space)?;
                Ok((report, space))
            })
            .and_then(|(report, space)| {
                // A coordinator's device answers a removal the bundle brought at
                // once, not when something next leaves it: a rotation's cut
                // snapshot goes out under the old key, so whatever this device
                // wrote in between would reach the one who left.
                self.shared.rotate_if_needed(space)?;
                Ok(report)
            })
    }
}

impl Shared {
    /// Drops pending attendance requests that a lead has now recorded, and
    /// asks again for a place a lead freed while this person is a member.
    pub(crate) fn settle_pending(&self, loaded: &mut Loaded, space: SpaceId) -> AppResult<()> {
        let secret = self.person_secret(&loaded.registry)?;
        let Some(doc) = loaded.spaces.get(&space) else {
            return Ok(());
        };
        let mut registry = loaded.registry.clone();
        let Some(entry) = registry.spaces.get_mut(&space.to_hex()) else {
            return Ok(());
        };
        let before = entry.pending_requests.len();
        entry.pending_requests.retain(|pending| {
            let ticket = attendance::ticket_for(&secret, space, &pending.session);
            let recorded = doc.signup(&pending.session, &ticket).ok().flatten();
            // Recorded, or overtaken by a newer statement of the ticket (the
            // person's other device), or asked for what already stands.
            !recorded.is_some_and(|s| {
                s.counter >= pending.counter
                    || (s.state == pending.state && s.state == SignUpState::Attending && !s.freed)
            })
        });
        let mut changed = entry.pending_requests.len() != before;
        // A place freed while this person is still a member (a lead took
        // her for gone, or made it up): ask again at the original time, so
        // the place comes back where it was. One who left asks nothing.
        let here = doc.member(&entry.member).is_ok_and(|m| m.is_active());
        for (id, session) in doc.sessions()? {
            let ticket = attendance::ticket_for(&secret, space, &id);
            let Some(s) = session.signups.get(&ticket) else {
                continue;
            };
            if !here
                || !s.freed
                || !session.signups_open(s.at)
                || entry.pending_requests.iter().any(|p| p.session == id)
            {
                continue;
            }
            entry.pending_requests.push(PendingRequest {
                session: id.clone(),
                state: SignUpState::Attending,
                at: s.at,
                counter: s.counter + 1,
                sent_at: None,
                sent_to: None,
                sent: false,
            });
            changed = true;
        }
        if changed {
            self.save_registry(&registry)?;
            loaded.registry = registry;
        }
        Ok(())
    }
}
