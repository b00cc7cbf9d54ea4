//! Every key this device holds, found in one place.
//!
//! Keys live in the profile's keyring, never in the registry
//! (storage.md, "Key hierarchy"). Most are found by an id derived from what
//! they are for (a space's epoch key, its mailbox's admin seed, the
//! journal's key in an epoch: `registry::epoch_key_id` and its siblings),
//! so they need no registry field; the person's secret is found by the id
//! the registry names; the device's own identity and signing key are the
//! keyring's fixed ones.
//!
//! A key is always written before the registry names or implies it: a
//! crash in between leaves an unused key, never a registry pointing at a
//! key that is not there.

use ed25519_dalek::SigningKey;

use super::error::{AppError, AppResult};
use super::registry::{Registry, SpaceEntry, admin_seed_id, epoch_key_id, journal_key_id};
use super::shared::Shared;
use crate::profile::{KeyId, Profile};
use crate::protocol::{AdminSeed, EpochKey, SpaceId};
use crate::relay::MailboxCredential;

/// The keyring as this device's state reads it (see the module docs).
pub(crate) struct Keys<'a>(&'a Profile);

impl Shared {
    /// The keys this device holds.
    pub(crate) fn keys(&self) -> Keys<'_> {
        Keys(&self.profile)
    }
}

impl Keys<'_> {
    /// A space's key in `epoch`; missing is damage (the registry says the
    /// device is in that epoch only after the key was kept).
    pub(crate) fn epoch(&self, space: SpaceId, epoch: u32) -> AppResult<EpochKey> {
        self.held(epoch_key_id(space, epoch))?
            .map(EpochKey::from_bytes)
            .ok_or_else(|| AppError::damaged("the keyring's space key"))
    }

    /// Keeps a space's key for `epoch`.
    pub(crate) fn keep_epoch(&self, space: SpaceId, epoch: u32, key: &EpochKey) -> AppResult<()> {
        Ok(self
            .0
            .insert_key(epoch_key_id(space, epoch), *key.expose_bytes())?)
    }

    /// Deletes a space's keys for epochs `0..=through`, except `keep` (the
    /// epoch a rejoin was welcomed into, whose key id is the same).
    pub(crate) fn forget_epochs(
        &self,
        space: SpaceId,
        through: u32,
        keep: Option<u32>,
    ) -> AppResult<()> {
        let held = self.0.with_keyring(|k| k.key_ids())?;
        for n in 0..=through {
            let id = epoch_key_id(space, n);
            if Some(n) != keep && held.contains(&id) {
                self.0.remove_key(id)?;
            }
        }
        Ok(())
    }

    /// The admin seed of `epoch`'s mailbox, if this device holds it (a
    /// coordinator's device given it by the epoch's handover, a grant or a
    /// link).
    pub(crate) fn admin_seed(&self, space: SpaceId, epoch: u32) -> AppResult<Option<AdminSeed>> {
        Ok(self
            .held(admin_seed_id(space, epoch))?
            .map(AdminSeed::from_bytes))
    }

    /// Keeps the admin seed of `epoch`'s mailbox.
    pub(crate) fn keep_admin_seed(
        &self,
        space: SpaceId,
        epoch: u32,
        seed: &AdminSeed,
    ) -> AppResult<()> {
        Ok(self
            .0
            .insert_key(admin_seed_id(space, epoch), *seed.expose_bytes())?)
    }

    /// The relay credential of a space's epoch mailbox: its member key, its
    /// admin key as `entry` knows it, and the admin seed if held here.
    pub(crate) fn credential(
        &self,
        space: SpaceId,
        entry: &SpaceEntry,
        epoch: u32,
    ) -> AppResult<MailboxCredential> {
        let key = self.epoch(space, epoch)?;
        let admin = entry
            .admin_key(epoch)
            .ok_or_else(|| AppError::damaged("the admin key of a space's mailbox"))?;
        let seed = self.admin_seed(space, epoch)?;
        Ok(MailboxCredential::for_epoch(&key, admin, seed.as_ref()))
    }

    /// The person's secret (tickets, the journal's first key), under the id
    /// the registry names.
    pub(crate) fn person_secret(
        &self,
        registry: &Registry,
    ) -> AppResult<zeroize::Zeroizing<[u8; 32]>> {
        self.held(registry.person_key)?
            .map(zeroize::Zeroizing::new)
            .ok_or_else(|| AppError::damaged("the keyring's person key"))
    }

    /// Keeps the person's secret under a fresh id, which the registry is to
    /// name next.
    pub(crate) fn keep_person_secret(&self, secret: &[u8; 32]) -> AppResult<KeyId> {
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        self.0.insert_key(KeyId(id), *secret)?;
        Ok(KeyId(id))
    }

    /// The journal's key in `epoch`: derived from the person secret in the
    /// first epoch (so every linked device holds it), drawn at random and
    /// kept in the keyring after that.
    pub(crate) fn journal(&self, registry: &Registry, epoch: u32) -> AppResult<EpochKey> {
        if epoch == 0 {
            let secret = self.person_secret(registry)?;
            return Ok(super::own_devices::first_journal_key(&secret));
        }
        self.held(journal_key_id(epoch))?
            .map(EpochKey::from_bytes)
            .ok_or_else(|| AppError::damaged("the keyring's journal key"))
    }

    /// Keeps the journal's key for `epoch`.
    pub(crate) fn keep_journal(&self, epoch: u32, key: &EpochKey) -> AppResult<()> {
        Ok(self
            .0
            .insert_key(journal_key_id(epoch), *key.expose_bytes())?)
    }

    /// This device's signing key (envelopes, snapshots, attestations).
    pub(crate) fn signing(&self) -> AppResult<SigningKey> {
        Ok(self.0.with_keyring(|k| k.signing_key().clone())?)
    }

    /// This device's age identity (what is sealed to this device: welcomes,
    /// handovers, grants, link packages).
    pub(crate) fn identity(&self) -> AppResult<age::x25519::Identity> {
        Ok(self.0.with_keyring(|k| k.device_identity().clone())?)
    }

    fn held(&self, id: KeyId) -> AppResult<Option<[u8; 32]>> {
        Ok(self
            .0
            .with_keyring(|k| k.key(&id).map(|key| *key.expose_bytes()))?)
    }
}
