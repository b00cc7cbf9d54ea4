//! The objects an app holds: a profile with its spaces and journal, shaped
//! for the FFI (`Send + Sync`, `&self` methods, no lifetimes, owned values).
//!
//! # Layout
//! - [`SafeSpaces`] (this file): the profile's life cycle (create, unlock,
//!   lock, wipe) and its spaces.
//! - [`Space`] (`space_handle.rs`): one space: members, sessions, sign-ups,
//!   training, signposting, conflicts.
//! - [`Journal`] (`journal_handle.rs`): the private journal.
//! - `offline.rs` and `bundle.rs`: invites, joining, and offline bundles
//!   (syncing face to face by passing one age file).
//! - `journal_sync.rs`: opt-in journal sync between a person's own devices.
//! - `linking.rs`: linking a person's second device through the relay.
//! - `own_devices.rs`: the person's own devices: listing and naming them,
//!   removing a lost one from every space and the journal.
//! - `leaving.rs`: a space this person is no longer in: how it shows,
//!   forgetting it, coming back.
//! - `space_sync.rs`: the device's half of a sync pass (sealing the outbox,
//!   the snapshot envelope, receiving pulled blobs), and [`SyncReport`].
//! - `drive/`: the drivers of the engine (`core/src/engine/`): the relay
//!   driver behind [`SafeSpaces::sync`] and live updates
//!   ([`SafeSpaces::live`], a listener told which space changed).
//! - `receive.rs`: what each received envelope does, for bundles and relay alike.
//! - `author_sequences.rs`: each author's envelope numbers, checked for
//!   envelopes the relay withheld and numbers used twice.
//! - `rotation.rs`: removing a member and moving to a new epoch.
//! - `key_grants.rs`: granting the current key to devices a handover missed,
//!   and the mailbox admin seed to coordinators' devices that lack it.
//! - `snapshots.rs`: the snapshots this device signs, and the first one a
//!   joining or newly linked device checks from the space's creation.
//! - `registry.rs`: what the device persists about its spaces, typed (its
//!   format, version 4).
//! - `device_state.rs`: the one way to change it: persist first, then swap
//!   memory (`Shared::update_registry`, `Shared::update_space`).
//! - `keys.rs`: where every key this device holds is found (`Keys`).
//! - `adopting.rs`: adopting a space, the one path for joining by bundle,
//!   joining through the relay and linking.
//! - `sync_log.rs`: what the sync engine logs about a pass (counts only).
//! - [`ProgressWatch`] (`progress.rs`): the sync progress callback and the
//!   guard that removes it.
//! - [`AppError`] (`error.rs`): what went wrong; [`ErrorClass`]
//!   (`error_class.rs`): the one classification apps and the CLI act on.
//!
//! Decrypted documents live only inside [`SafeSpaces`] while unlocked.
//! Handles hold no document of their own, so [`SafeSpaces::lock`] really
//! drops every document and key from memory: a handle used after locking
//! answers [`AppError::Locked`].
//!
//! Every write is persisted (as an automerge increment, sealed by the
//! store) before it returns, so a write that returned survives a crash.

mod adopting;
mod author_sequences;
mod bundle;
mod cover_leads;
mod device_state;
mod drive;
mod error;
mod error_class;
mod joining;
mod journal_handle;
mod journal_sync;
mod key_grants;
mod keys;
mod leaving;
mod linking;
mod offline;
mod own_devices;
mod progress;
mod receive;
mod registry;
mod rotation;
mod snapshots;
mod space_handle;
mod space_sync;
mod sync_log;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::RngCore;
use rand::rngs::OsRng;

pub use author_sequences::{MailboxNumbers, SequenceAlert, SequenceCounts, SequenceStatus};
pub use drive::live::{LIVE_PUSH_INTERVAL, LiveSync, SpaceListener};
pub use error::{AppError, AppResult, BoxError, InputSource};
pub use error_class::ErrorClass;
pub use joining::{Invitation, InviteStatus, JoinRequestFile, PendingJoinStatus};
pub use journal_handle::Journal;
pub use linking::{LINK_TTL, LinkOffer, PendingLink};
pub use offline::BundleReport;
pub use own_devices::DeviceInfo;
pub use progress::ProgressWatch;
pub use space_sync::{Progress, ProgressFn, SpaceSyncFailure, SyncReport};
// The engine's rules, where apps and tests looked for them before.
pub use crate::engine::{COMPACT_AFTER_BLOBS, HOLD_REQUESTS_SECS, RESEND_REQUEST_AFTER_SECS};
pub use space_handle::{Blocked, MyPlace, RosterView, Space};

use crate::model::{DeviceId, DeviceKeys, JournalDoc, SpaceDoc, SpaceZone, Timestamp};
use crate::profile::{KeystoreAction, Profile, ProfileOptions, UnlockSecret};
use crate::protocol::authorship::actor_for_device;
use crate::protocol::{EpochKey, SpaceId};
use crate::store::DocumentId;
use registry::{REGISTRY_VERSION, Registry, SpaceEntry};

/// A space as listed on this device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceSummary {
    /// The space's id (hex), to open it with [`SafeSpaces::space`].
    pub id: String,
    /// Its name.
    pub name: String,
    /// This person is no longer in it (she left, was removed, or this
    /// device was removed from it): it shows what was there until then and
    /// nothing new. Show it as a past group, to forget
    /// ([`SafeSpaces::forget_space`]) or come back to with a new invite.
    pub left: bool,
}

/// Decrypted state, present only while unlocked.
pub(crate) struct Loaded {
    pub(crate) registry: Registry,
    pub(crate) spaces: BTreeMap<SpaceId, SpaceDoc>,
    pub(crate) journal: JournalDoc,
}

pub(crate) struct Shared {
    pub(crate) profile: Profile,
    pub(crate) state: Mutex<Option<Loaded>>,
    /// Told how far a sync has come; replaceable while shared.
    pub(crate) progress: progress::ProgressSlot,
}

/// A device's profile with its spaces and journal.
pub struct SafeSpaces {
    shared: Arc<Shared>,
}

impl SafeSpaces {
    /// Creates a new profile in `dir`, protected by `secret`, and returns it
    /// unlocked with an empty journal and no spaces.
    pub fn create(dir: &Path, secret: UnlockSecret, options: ProfileOptions) -> AppResult<Self> {
        let profile = Profile::create_with_options(dir, secret, options)?;
        let app = SafeSpaces {
            shared: Arc::new(Shared {
                profile,
                state: Mutex::new(None),
                progress: progress::ProgressSlot::default(),
            }),
        };
        app.shared.load()?;
        Ok(app)
    }

    /// Opens the profile in `dir`, locked.
    pub fn open(dir: &Path, options: ProfileOptions) -> AppResult<Self> {
        let profile = Profile::open_with_options(dir, options)?;
        Ok(SafeSpaces {
            shared: Arc::new(Shared {
                profile,
                state: Mutex::new(None),
                progress: progress::ProgressSlot::default(),
            }),
        })
    }

    /// Unlocks with the keystore secret or passphrase. The duress passphrase
    /// opens a profile indistinguishable from a fresh one. The answer says
    /// what to do with the app's keystore item ([`Profile::unlock`]).
    pub fn unlock(&self, secret: &UnlockSecret) -> AppResult<KeystoreAction> {
        self.shared.drop_state();
        let action = self.shared.profile.unlock(secret)?;
        self.shared.load()?;
        Ok(action)
    }

    /// Drops every decrypted document and key from memory.
    pub fn lock(&self) {
        self.shared.drop_state();
        self.shared.profile.lock();
    }

    /// Whether the profile is locked.
    pub fn is_locked(&self) -> bool {
        self.shared.profile.is_locked()
    }

    /// Destroys key material, then every file. Idempotent. Answers
    /// [`KeystoreAction::Delete`]: the app's keystore item opens nothing now.
    pub fn wipe(&self) -> AppResult<KeystoreAction> {
        self.shared.drop_state();
        Ok(self.shared.profile.wipe()?)
    }

    /// The device profile, for key and backup management.
    pub fn profile(&self) -> &Profile {
        &self.shared.profile
    }

    /// This device's id.
    pub fn device_id(&self) -> AppResult<DeviceId> {
        self.shared.with_loaded(|l| Ok(l.registry.device.clone()))
    }

    /// Creates a space in this device's time zone; this person becomes its
    /// first coordinator under `pseudonym`.
    pub fn create_space(&self, name: &str, pseudonym: &str, now: Timestamp) -> AppResult<Space> {
        self.create_space_in(name, pseudonym, &SpaceZone::device(), now)
    }

    /// Creates a space whose group meets in `zone` (times are typed and
    /// shown in it); this person becomes its first coordinator.
    pub fn create_space_in(
        &self,
        name: &str,
        pseudonym: &str,
        zone: &SpaceZone,
        now: Timestamp,
    ) -> AppResult<Space> {
        let keys = self.shared.device_keys(&self.device_id()?)?;
        let epoch_key = EpochKey::generate();
        // The first epoch's mailbox admin seed: this device, the space's
        // first coordinator, holds it (protocol.md §1).
        let admin_seed = crate::protocol::AdminSeed::generate();
        let space = self.shared.with_loaded(|loaded| {
            let device = loaded.registry.device.clone();
            // One change creates the space, and the space's id is derived
            // from it: a joiner checks the history it is handed from there.
            let (mut doc, member) = SpaceDoc::genesis(name, pseudonym, zone, now, &device, keys)?;
            let genesis = doc
                .heads()
                .first()
                .copied()
                .ok_or_else(|| AppError::bug("creating a space: no creation change"))?;
            let space = crate::protocol::genesis::space_id_for(&genesis);
            if loaded.spaces.contains_key(&space) {
                return Err(AppError::bug("creating a space: its new id is taken"));
            }
            let document = DocumentId::random();
            let keys = self.shared.keys();
            keys.keep_epoch(space, 0, &epoch_key)?;
            keys.keep_admin_seed(space, 0, &admin_seed)?;
            self.shared.profile.put_snapshot(document, &doc.save())?;
            self.shared.update_registry(loaded, |registry, _| {
                let entry = SpaceEntry::new(space, document, member, 0, admin_seed.public());
                registry.spaces.insert(space, entry);
                Ok(())
            })?;
            loaded.spaces.insert(space, doc);
            Ok(space)
        })?;
        Ok(Space::new(Arc::clone(&self.shared), space))
    }

    /// The spaces on this device, by name.
    pub fn spaces(&self) -> AppResult<Vec<SpaceSummary>> {
        self.shared.with_loaded(|loaded| {
            let mut out: Vec<SpaceSummary> = loaded
                .spaces
                .iter()
                .map(|(id, doc)| SpaceSummary {
                    id: id.to_hex(),
                    name: doc.name().unwrap_or_default(),
                    left: leaving::standing(loaded, *id) != Some(leaving::Standing::Member),
                })
                .collect();
            out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            Ok(out)
        })
    }

    /// A handle on one space, by id (hex).
    pub fn space(&self, id: &str) -> AppResult<Space> {
        let space = registry::parse16(id)
            .map(SpaceId)
            .ok_or_else(|| AppError::UnknownSpace(id.to_string()))?;
        self.shared.with_loaded(|loaded| {
            if loaded.spaces.contains_key(&space) {
                Ok(())
            } else {
                Err(AppError::UnknownSpace(id.to_string()))
            }
        })?;
        Ok(Space::new(Arc::clone(&self.shared), space))
    }

    /// The private journal.
    pub fn journal(&self) -> Journal {
        Journal::new(Arc::clone(&self.shared))
    }
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
    fn drop_state(&self) {
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
    fn load(&self) -> AppResult<()> {
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
        })
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
