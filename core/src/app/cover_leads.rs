//! A cover lead sees who is coming. Sign-up holders are sealed to the
//! devices of a session's cleared leads as they stood when each was
//! recorded; when that set changes (a lead steps in or stands down, a
//! clearance starts or lapses), a device of a lead who can open them seals
//! them again to the new set, before anything of the space leaves it.
//! Which set each session's holders were last sealed to, as this device
//! knows it, is kept in the registry as a fingerprint. The same pass frees
//! the places of holders who have left or were removed (only a lead can
//! tell who they are).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::error::{AppError, AppResult};
use super::shared::{Loaded, Shared};
use super::space_handle::entry;
use crate::model::Timestamp;
use crate::protocol::SpaceId;
use crate::protocol::attendance::{free_departed, lead_recipients, reseal};

impl Shared {
    /// Re-seals the sign-ups of every session this device's member leads
    /// whose set of lead devices changed since this device last sealed
    /// them, and frees departed members' places. Only when the document
    /// moved since the last look; two lead devices doing it at once write
    /// the same holders (and marks) twice, harmlessly.
    pub(crate) fn reseal_for_leads(&self, space: SpaceId, now: Timestamp) -> AppResult<()> {
        let identity = self.keys().identity()?;
        self.with_loaded(|loaded| {
            let heads = doc_heads(loaded, space)?;
            let current = entry(loaded, space)?;
            if current.led_heads == heads {
                return Ok(());
            }
            // Leading nothing, with nothing sealed to leads before: nothing
            // to seal again or free, and no registry write for a seal by
            // one of the many members who lead nothing.
            let member = current.member.clone();
            let sealed_before = !current.sealed_leads.is_empty();
            let leads_nothing = loaded
                .spaces
                .get(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?
                .sessions_led_by(&member)?
                .is_empty();
            if leads_nothing && !sealed_before {
                return Ok(());
            }
            self.update_space(loaded, space, |e, loaded| {
                let doc = loaded
                    .spaces
                    .get_mut(&space)
                    .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
                let mut sealed_to = BTreeMap::new();
                let mut wrote = 0;
                // Only the sessions this member leads are read in full.
                for id in doc.sessions_led_by(&e.member)? {
                    if !doc.has_signups(&id) {
                        continue;
                    }
                    // Places of people who left or were removed go to the
                    // people waiting, while the session is still to come.
                    // A session this build cannot read (written in a shape
                    // the checks did not know) is skipped: it must not stop
                    // everything else this device sends.
                    let upcoming = match doc.session(&id) {
                        Ok(session) => session.is_upcoming(now),
                        Err(err) => {
                            tracing::warn!(%err, "skipped a led session that does not read");
                            continue;
                        }
                    };
                    if upcoming {
                        match free_departed(doc, &e.member, &identity, &id) {
                            Ok(n) if n > 0 => {
                                wrote += n;
                                tracing::info!(places = n, "freed the places of departed members");
                            }
                            Ok(_) => {}
                            Err(err) => {
                                tracing::warn!(%err, "could not free departed members' places")
                            }
                        }
                    }
                    // No cleared lead at all: nobody to seal to; the holders
                    // stay as they are until one is.
                    let Ok(recipients) = lead_recipients(doc, &id) else {
                        continue;
                    };
                    let fingerprint = fingerprint(&recipients);
                    if e.sealed_leads.get(id.as_str()) != Some(&fingerprint) {
                        // A failure here must not stop the sync: it is logged
                        // and tried again at the next seal.
                        match reseal(doc, &e.member, &identity, &id) {
                            Ok(n) => wrote += n,
                            Err(err) => {
                                tracing::warn!(%err, "could not re-seal sign-ups to the leads");
                                continue;
                            }
                        }
                    }
                    sealed_to.insert(id.to_string(), fingerprint);
                }
                // The document first: a crash before the registry is written
                // re-seals once more, and loses nothing.
                if wrote > 0 {
                    self.persist_space(loaded, space)?;
                    tracing::info!(holders = wrote, "re-sealed sign-ups to a new set of leads");
                }
                e.sealed_leads = sealed_to;
                // After our own writes: they need no second look.
                e.led_heads = doc_heads(loaded, space)?;
                Ok(())
            })
        })
    }
}

fn doc_heads(loaded: &mut Loaded, space: SpaceId) -> AppResult<Vec<automerge::ChangeHash>> {
    Ok(loaded
        .spaces
        .get_mut(&space)
        .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?
        .heads())
}

/// The set of recipients, order-free, as hex of its SHA-256.
pub(crate) fn fingerprint(recipients: &[age::x25519::Recipient]) -> String {
    let mut keys: Vec<String> = recipients.iter().map(ToString::to_string).collect();
    keys.sort();
    keys.dedup();
    let mut hash = Sha256::new();
    for key in &keys {
        hash.update(key.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}
