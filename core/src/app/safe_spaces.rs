//! [`SafeSpaces`]: the profile's life cycle (create, unlock, lock, wipe)
//! and its spaces.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::error::{AppError, AppResult};
use super::journal_handle::Journal;
use super::progress_slot;
use super::registry::{self, SpaceEntry};
use super::shared::Shared;
use super::space_handle::Space;
use super::standing::{Standing, standing};
use crate::model::{DeviceId, SpaceDoc, SpaceZone, Timestamp};
use crate::profile::{KeystoreAction, Profile, ProfileOptions, UnlockSecret};
use crate::protocol::{EpochKey, SpaceId};
use crate::store::DocumentId;

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

/// A device's profile with its spaces and journal.
pub struct SafeSpaces {
    pub(super) shared: Arc<Shared>,
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
                progress: progress_slot::ProgressSlot::default(),
                edited: tokio::sync::Notify::new(),
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
                progress: progress_slot::ProgressSlot::default(),
                edited: tokio::sync::Notify::new(),
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
                    left: standing(loaded, *id) != Some(Standing::Member),
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
