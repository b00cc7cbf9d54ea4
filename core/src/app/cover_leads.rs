//! A cover lead sees who is coming. Sign-up holders are sealed to the
//! devices of a session's cleared leads as they stood when each was
//! recorded; when that set changes (a lead steps in or stands down, a
//! clearance starts or lapses), a device of a lead who can open them seals
//! them again to the new set, before anything of the space leaves it.
//! Which set each session's holders were last sealed to, as this device
//! knows it, is kept in the registry as a fingerprint.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::space_handle::entry;
use super::{AppError, AppResult, Shared};
use crate::protocol::SpaceId;
use crate::protocol::attendance::{lead_recipients, reseal};

impl Shared {
    /// Re-seals the sign-ups of every session this device's member leads
    /// whose set of lead devices changed since this device last sealed
    /// them. Only when the document moved since the last seal; two lead
    /// devices doing it at once write the same holders twice, harmlessly.
    pub(crate) fn reseal_for_leads(&self, space: SpaceId) -> AppResult<()> {
        let identity = self.profile.with_keyring(|k| k.device_identity().clone())?;
        self.with_loaded(|loaded| {
            let mut e = entry(loaded, space)?.clone();
            let doc = loaded
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            let since = e.sealed_heads();
            if since == doc.heads() {
                return Ok(());
            }
            let mut sealed_to = BTreeMap::new();
            let mut wrote = 0;
            for (id, session) in doc.sessions()? {
                if session.signups.is_empty() || !doc.is_session_lead(&id, &e.member)? {
                    continue;
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
            if sealed_to != e.sealed_leads {
                e.sealed_leads = sealed_to;
                self.store_entry(loaded, space, e)?;
            }
            Ok(())
        })
    }
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
