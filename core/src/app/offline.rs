//! Invites and offline bundles at the app level: everything two devices
//! need to join and converge with no network, by passing files.
//!
//! The relay (sync engine) moves the same bytes: an invite's package goes
//! into its drop-box, bundles' envelopes into the mailbox.

use std::sync::Arc;

use super::bundle::{open_bundle, seal_bundle};
use super::bundle_report::BundleReport;
use super::error::{AppError, AppResult, InputSource};
use super::receive::{receive_envelopes, request_envelope};
use super::registry::PendingRequest;
use super::safe_spaces::SafeSpaces;
use super::shared::{Loaded, Shared, ticket_in};
use super::space_handle::Space;
use super::space_handle::entry;
use crate::engine::settle;
use crate::model::{SessionId, SignUpState, Timestamp};
use crate::protocol::snapshot::SnapshotBody;
use crate::protocol::{Envelope, EnvelopeKind, SpaceId};

impl Shared {
    /// The relay credential of a space's epoch mailbox
    /// ([`Keys::credential`](super::keys::Keys::credential)), for a caller
    /// not holding the loaded state.
    pub(crate) fn credential(
        &self,
        space: SpaceId,
        epoch: u32,
    ) -> AppResult<crate::relay::MailboxCredential> {
        self.with_loaded(|loaded| self.keys().credential(space, entry(loaded, space)?, epoch))
    }

    pub(crate) fn persist_space(&self, loaded: &mut Loaded, space: SpaceId) -> AppResult<()> {
        let document = entry(loaded, space)?.document;
        if let Some(doc) = loaded.spaces.get_mut(&space) {
            doc.save_incremental_then(|increment, doc| {
                if increment.is_empty() {
                    return Ok(());
                }
                self.profile
                    .append_increment_of(document, increment, || doc.save())
            })?;
        }
        Ok(())
    }
}

impl Space {
    /// Everything this device can tell another member of the space, as one
    /// age file: its whole document and the sign-ups it is still waiting to
    /// have recorded.
    pub fn export_bundle(&self) -> AppResult<Vec<u8>> {
        let signing = self.shared.keys().signing()?;
        let shared = Arc::clone(&self.shared);
        let space = self.id;
        // Sign-up holders before the rotation (see `seal_outbox`); a
        // removal never leaves this device without its rotation.
        self.shared.reseal_for_leads(space, Timestamp::now())?;
        self.shared.rotate_if_needed(space)?;
        self.shared.with_loaded(|loaded| {
            let secret = shared.keys().person_secret(&loaded.registry)?;
            let device = loaded.registry.device.clone();
            let entry = entry(loaded, space)?.clone();
            let key = shared.keys().epoch(space, entry.epoch)?;
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
                let cut = &entry.epoch_cut;
                if cut.iter().all(|h| doc.has_change(h)) && !cut.is_empty() {
                    let old_key = shared.keys().epoch(space, previous)?;
                    let doc_at_cut = doc.save_at(cut)?;
                    envelopes.push(
                        Envelope {
                            kind: EnvelopeKind::Snapshot,
                            space,
                            epoch: previous,
                            author: device.clone(),
                            sequence: 0,
                            body: SnapshotBody {
                                document: doc_at_cut,
                                attestations: entry.cut_attestations.clone(),
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
                envelopes.push(handover.0.clone());
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
                envelopes.push(grant.0.clone());
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
                (false, Some(prev)) => Some(shared.keys().epoch(space, prev)?.content_key()),
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
        let identity = self.shared.keys().identity()?;
        let shared = Arc::clone(&self.shared);
        self.shared
            .with_loaded(|loaded| {
                let mut found = None;
                'spaces: for (&id, entry) in &loaded.registry.spaces {
                    // The current epoch's key, and the previous one: a bundle from
                    // a device that rotated opens with either while it passes the
                    // handover on.
                    for epoch in [Some(entry.epoch), entry.epoch.checked_sub(1)]
                        .into_iter()
                        .flatten()
                    {
                        let Ok(key) = shared.keys().epoch(id, epoch) else {
                            continue;
                        };
                        if let Some(contents) = open_bundle(&key.content_key(), bundle) {
                            found = Some((id, contents?));
                            break 'spaces;
                        }
                    }
                }
                let (space, contents) = found.ok_or_else(|| {
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
                // The entry learns from every import (attestations, an epoch).
                // The same receive as relay sync, settled the same way: an
                // envelope that needs a later one in the bundle waits for it.
                shared.update_space(loaded, space, |entry, loaded| {
                    settle(contents.envelopes.clone(), |queue| {
                        let fates = receive_envelopes(
                            &shared,
                            loaded,
                            space,
                            entry,
                            queue,
                            &identity,
                            now,
                            &mut report,
                            None,
                        )?;
                        AppResult::Ok((fates, false))
                    })
                })?;
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
        let secret = self.keys().person_secret(&loaded.registry)?;
        if !loaded.registry.spaces.contains_key(&space) {
            return Ok(());
        }
        self.update_space(loaded, space, |entry, loaded| {
            let Loaded {
                spaces, tickets, ..
            } = loaded;
            let Some(doc) = spaces.get_mut(&space) else {
                return Ok(());
            };
            let mut ticket_of = |id: &SessionId| ticket_in(tickets, &secret, space, id);
            entry.pending_requests.retain(|pending| {
                let ticket = ticket_of(&pending.session);
                let recorded = doc.signup(&pending.session, &ticket).ok().flatten();
                // Recorded, or overtaken by a newer statement of the ticket (the
                // person's other device), or asked for what already stands.
                !recorded.is_some_and(|s| {
                    s.counter >= pending.counter
                        || (s.state == pending.state
                            && s.state == SignUpState::Attending
                            && !s.freed)
                })
            });
            // A place freed while this person is still a member (a lead took
            // her for gone, or made it up): ask again at the original time, so
            // the place comes back where it was. One who left asks nothing.
            if !doc.member(&entry.member).is_ok_and(|m| m.is_active()) {
                return Ok(());
            }
            // Only the sessions changed since the last look (a place is
            // freed by a change to its session), each ticket derived once
            // per unlock.
            for (id, s) in doc.signups_under_changed(&mut ticket_of)? {
                if !s.freed || entry.pending_requests.iter().any(|p| p.session == id) {
                    continue;
                }
                if !doc
                    .session(&id)
                    .is_ok_and(|session| session.signups_open(s.at))
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
            }
            Ok(())
        })
    }
}
