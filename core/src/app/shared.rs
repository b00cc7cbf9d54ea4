//! [`Shared`]: what a profile's handles share (the profile, its decrypted
//! [`Loaded`] state while unlocked, the progress callback), and loading it
//! after an unlock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use rand::RngCore;
use rand::rngs::OsRng;

use super::error::{AppError, AppResult};
use super::progress_slot;
use super::registry::{self, REGISTRY_VERSION, Registry};
use crate::model::{DeviceId, DeviceKeys, JournalDoc, SessionId, SpaceDoc, TicketId};
use crate::profile::Profile;
use crate::protocol::SpaceId;
use crate::protocol::attendance;
use crate::protocol::authorship::actor_for_device;
use crate::store::DocumentId;

/// Decrypted state, present only while unlocked.
pub(crate) struct Loaded {
    pub(crate) registry: Registry,
    pub(crate) spaces: BTreeMap<SpaceId, SpaceDoc>,
    pub(crate) journal: JournalDoc,
    /// This person's ticket in each session asked for so far. Deriving one
    /// is a scalar multiplication, and every receive looks up the person's
    /// ticket in every session (`settle_pending`); gone with the rest of
    /// the decrypted state on lock.
    pub(crate) tickets: HashMap<(SpaceId, SessionId), TicketId>,
}

/// This person's ticket in `session` of `space`
/// ([`attendance::ticket_for`]), derived once per unlock into `tickets`
/// ([`Loaded::tickets`]; a free function, so a walk can hold a document of
/// the same `Loaded` meanwhile).
pub(crate) fn ticket_in(
    tickets: &mut HashMap<(SpaceId, SessionId), TicketId>,
    secret: &[u8; 32],
    space: SpaceId,
    session: &SessionId,
) -> TicketId {
    tickets
        .entry((space, session.clone()))
        .or_insert_with(|| attendance::ticket_for(secret, space, session))
        .clone()
}

pub(crate) struct Shared {
    pub(crate) profile: Profile,
    pub(crate) state: Mutex<Option<Loaded>>,
    /// Told how far a sync has come; replaceable while shared.
    pub(crate) progress: progress_slot::ProgressSlot,
    /// Woken by a local edit to a space, so live updates push it soon
    /// instead of on their next tick (`drive/live.rs`).
    pub(crate) edited: tokio::sync::Notify,
}

impl Shared {
    pub(crate) fn lock_state(&self) -> MutexGuard<'_, Option<Loaded>> {
        // A panic while holding the lock leaves the state as it was before
        // the failed write (writes persist before mutating the registry), so
        // continuing past poisoning is safe.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops every decrypted document. automerge's own memory (the
    /// documents' op sets, caches) is freed, not zeroized: it is not ours to
    /// wipe (`docs/threat-model.md`). The bytes this crate read from the
    /// store were zeroized as soon as automerge had loaded them.
    pub(crate) fn drop_state(&self) {
        *self.lock_state() = None;
    }

    pub(crate) fn with_loaded<R>(
        &self,
        f: impl FnOnce(&mut Loaded) -> AppResult<R>,
    ) -> AppResult<R> {
        let mut state = self.lock_state();
        match state.as_mut() {
            Some(loaded) if !self.profile.is_locked() => f(loaded),
            _ => {
                *state = None;
                Err(AppError::Locked)
            }
        }
    }

    /// This device's public keys for `device`'s entry in a space, with
    /// its binding (its own signature over them), which every receiver
    /// requires of a new device entry.
    pub(crate) fn device_keys(&self, device: &DeviceId) -> AppResult<DeviceKeys> {
        let mut keys = DeviceKeys {
            age_recipient: self.profile.device_recipient()?,
            signing_key: hex::encode(self.profile.signing_public_key()?),
            binding: None,
        };
        let signing = self.keys().signing()?;
        keys.binding = Some(crate::protocol::invite::bind_device(
            device, &keys, &signing,
        ));
        Ok(keys)
    }

    /// Reads everything into memory after an unlock; initialises a fresh
    /// profile (first use, or after a duress unlock, which must look the
    /// same).
    pub(crate) fn load(&self) -> AppResult<()> {
        let loaded = match self.read_registry()? {
            None => self.initialise()?,
            Some(registry) => {
                let actor = actor_for_device(&registry.device);
                let mut journal =
                    JournalDoc::load(&self.read_document(registry.journal_document)?)?;
                if let Some(actor) = &actor {
                    journal.set_actor(actor.clone());
                }
                let mut spaces = BTreeMap::new();
                for (space, entry) in &registry.spaces {
                    if entry.space != *space {
                        return Err(AppError::damaged("the registry's space entry"));
                    }
                    let mut doc = SpaceDoc::load(&self.read_document(entry.document)?)?;
                    if let Some(actor) = &actor {
                        doc.set_actor(actor.clone());
                    }
                    spaces.insert(*space, doc);
                }
                Loaded {
                    registry,
                    spaces,
                    journal,
                    tickets: HashMap::new(),
                }
            }
        };
        *self.lock_state() = Some(loaded);
        Ok(())
    }

    /// A document's snapshot and increments, joined into one loadable blob
    /// (automerge loads concatenated saves). Decrypted bytes: the blob and
    /// the parts it was joined from are zeroized when dropped, and the blob
    /// is allocated once at its final size so no reallocation leaves a copy.
    pub(crate) fn read_document(&self, id: DocumentId) -> AppResult<zeroize::Zeroizing<Vec<u8>>> {
        let stored = self
            .profile
            .get_document(id)?
            .ok_or_else(|| AppError::damaged("a document the registry lists"))?;
        let snapshot = zeroize::Zeroizing::new(stored.snapshot.unwrap_or_default());
        let increments = zeroize::Zeroizing::new(stored.increments);
        let len = snapshot.len() + increments.iter().map(Vec::len).sum::<usize>();
        let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(len));
        bytes.extend_from_slice(&snapshot);
        for increment in increments.iter() {
            bytes.extend_from_slice(increment);
        }
        Ok(bytes)
    }

    fn initialise(&self) -> AppResult<Loaded> {
        let mut device = [0u8; 8];
        OsRng.fill_bytes(&mut device);
        let device = DeviceId::from(hex::encode(device));
        let mut person_secret = zeroize::Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(person_secret.as_mut());
        let person_key = self.keys().keep_person_secret(&person_secret)?;
        let mut journal = JournalDoc::new();
        if let Some(actor) = actor_for_device(&device) {
            journal.set_actor(actor);
        }
        let journal_document = DocumentId::random();
        self.profile
            .put_snapshot(journal_document, &journal.save())?;
        let own = registry::OwnDevice {
            keys: self.device_keys(&device)?,
            name: None,
            last_seen: None,
            removed_at: None,
        };
        let registry = Registry {
            v: REGISTRY_VERSION,
            device: device.clone(),
            person_key,
            journal_document,
            spaces: BTreeMap::new(),
            journal_sync: false,
            journal_cursor: 0,
            journal_pushed_heads: Vec::new(),
            joins: Vec::new(),
            own_devices: BTreeMap::from([(device.clone(), own)]),
            journal_epoch: registry::JournalEpoch::default(),
        };
        self.save_first_registry(&registry)?;
        Ok(Loaded {
            registry,
            spaces: BTreeMap::new(),
            journal,
            tickets: HashMap::new(),
        })
    }
}
