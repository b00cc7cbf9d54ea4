//! The profile object: life cycle, keys, spaces, invites and bundles.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use safespaces_core::{app, profile};
use secrecy::SecretString;

use crate::convert::convert_all;
use crate::error::SafeSpacesError;
use crate::invites::{BundleReport, JoinRequestFile, PendingJoin};
use crate::journal::Journal;
use crate::secret::{KeystoreAction, ProfileOptions, UnlockSecret, core_options, keystore_bytes};
use crate::space::Space;
use crate::time::timestamp;

/// A space as listed on this device.
#[derive(uniffi::Record)]
pub struct SpaceSummary {
    /// The space's id (32 hex digits), for `SafeSpaces.space`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// This person is no longer in it (left, removed, or this device was
    /// removed): show it as a past group, to forget (`forgetSpace`) or come
    /// back to with a new invite.
    pub left: bool,
}

impl From<app::SpaceSummary> for SpaceSummary {
    fn from(s: app::SpaceSummary) -> Self {
        SpaceSummary {
            id: s.id,
            name: s.name,
            left: s.left,
        }
    }
}

/// Whether `dir` holds a profile, to choose between `open` and `create`.
#[uniffi::export]
pub fn profile_exists(dir: String) -> bool {
    profile::Profile::exists(Path::new(&dir))
}

/// 32 fresh random bytes for `UnlockSecret.keystore`, to keep in the
/// platform keystore.
#[uniffi::export]
pub fn generate_keystore_secret() -> Vec<u8> {
    profile::generate_keystore_secret().to_vec()
}

/// A device's profile with its spaces and journal. Everything decrypted
/// lives only inside it while unlocked; `lock()` drops it all from memory,
/// and any handle used after that throws `Locked`.
#[derive(uniffi::Object)]
pub struct SafeSpaces {
    pub(crate) inner: Arc<app::SafeSpaces>,
}

impl From<app::SafeSpaces> for SafeSpaces {
    fn from(inner: app::SafeSpaces) -> Self {
        SafeSpaces {
            inner: Arc::new(inner),
        }
    }
}

#[uniffi::export]
impl SafeSpaces {
    /// Creates a new profile in the empty directory `dir`, protected by
    /// `secret`, and returns it unlocked. Leave `options` out outside tests.
    #[uniffi::constructor(default(options = None))]
    pub fn create(
        dir: String,
        secret: Arc<UnlockSecret>,
        options: Option<ProfileOptions>,
    ) -> Result<Self, SafeSpacesError> {
        Ok(app::SafeSpaces::create(
            Path::new(&dir),
            profile::UnlockSecret::from(&*secret),
            core_options(options),
        )?
        .into())
    }

    /// Opens the profile in `dir`, locked.
    #[uniffi::constructor(default(options = None))]
    pub fn open(dir: String, options: Option<ProfileOptions>) -> Result<Self, SafeSpacesError> {
        Ok(app::SafeSpaces::open(Path::new(&dir), core_options(options))?.into())
    }

    /// Restores a backup (from `exportBackup`) into the empty directory
    /// `dir`, protected by `secret` from now on, and returns it unlocked.
    #[uniffi::constructor(default(options = None))]
    pub fn restore_backup(
        backup: Vec<u8>,
        backup_passphrase: String,
        dir: String,
        secret: Arc<UnlockSecret>,
        options: Option<ProfileOptions>,
    ) -> Result<Self, SafeSpacesError> {
        let dir = Path::new(&dir);
        let backup_passphrase = SecretString::from(backup_passphrase);
        // core restores a `Profile`; the app object opens it again (a second
        // key derivation for a passphrase). A `SafeSpaces::restore_backup`
        // in core would save that.
        drop(profile::Profile::restore_backup(
            &backup,
            &backup_passphrase,
            dir,
            profile::UnlockSecret::from(&*secret),
            core_options(options),
        )?);
        let app = app::SafeSpaces::open(dir, core_options(options))?;
        app.unlock(&profile::UnlockSecret::from(&*secret))?;
        Ok(app.into())
    }

    /// Unlocks with the keystore secret or passphrase. The duress
    /// passphrase opens an empty profile that looks like a fresh one (and
    /// wipes the real one). Throws `WrongSecret`; after too many failures
    /// (see `setAttemptLimit`) the profile wipes itself and throws
    /// `NoProfile` from then on (delete the keystore item then). The answer
    /// says what to do with the keystore item: `Delete` after a duress
    /// unlock or when there is no keystore unlock.
    pub fn unlock(
        &self,
        secret: Arc<UnlockSecret>,
    ) -> Result<Arc<KeystoreAction>, SafeSpacesError> {
        Ok(Arc::new(
            self.inner
                .unlock(&profile::UnlockSecret::from(&*secret))?
                .into(),
        ))
    }

    /// Drops every decrypted document and key from memory.
    pub fn lock(&self) {
        self.inner.lock()
    }

    /// Whether the profile is locked.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Destroys the keys, then every file. Cannot be undone; idempotent.
    /// Always answers `Delete`: delete the keystore item.
    pub fn wipe(&self) -> Result<Arc<KeystoreAction>, SafeSpacesError> {
        Ok(Arc::new(self.inner.wipe()?.into()))
    }

    /// Replaces the passphrase and rotates the master key. With keystore
    /// unlock on, the answer is `Replace` with the new keystore secret to
    /// store in place of the old item.
    pub fn set_passphrase(
        &self,
        passphrase: String,
    ) -> Result<Arc<KeystoreAction>, SafeSpacesError> {
        Ok(Arc::new(
            self.inner
                .profile()
                .set_passphrase(&SecretString::from(passphrase))?
                .into(),
        ))
    }

    /// Sets or replaces the keystore secret (32 bytes), turning keystore
    /// unlock on, and rotates the profile's master key. `passphrase` is the
    /// current passphrase, required when the profile has one (throws
    /// `WrongSecret` if it is missing or wrong); `null` for a profile that
    /// unlocks only through the keystore. Throws `InvalidInput` while the
    /// profile requires the passphrase. Answers `Keep`: the item holding
    /// `secret` is the one.
    pub fn set_keystore_secret(
        &self,
        secret: Vec<u8>,
        passphrase: Option<String>,
    ) -> Result<Arc<KeystoreAction>, SafeSpacesError> {
        let passphrase = passphrase.map(SecretString::from);
        Ok(Arc::new(
            self.inner
                .profile()
                .set_keystore_secret(&*keystore_bytes(&secret)?, passphrase.as_ref())?
                .into(),
        ))
    }

    /// Turns "passphrase only" on or off (`passphrase` is the current one;
    /// throws `WrongSecret` otherwise). On, nothing but the passphrase opens
    /// the profile, so a forced fingerprint or face opens nothing; the answer
    /// is `Delete`.
    pub fn set_require_passphrase(
        &self,
        passphrase: String,
        require: bool,
    ) -> Result<Arc<KeystoreAction>, SafeSpacesError> {
        Ok(Arc::new(
            self.inner
                .profile()
                .set_require_passphrase(&SecretString::from(passphrase), require)?
                .into(),
        ))
    }

    /// Whether the profile requires the passphrase (no keystore unlock).
    pub fn requires_passphrase(&self) -> Result<bool, SafeSpacesError> {
        Ok(self.inner.profile().requires_passphrase()?)
    }

    /// Sets (or with `null` removes) the duress passphrase: unlocking with
    /// it later wipes this profile and opens an empty one. It must differ
    /// from the passphrase, and the profile must have one. Answers `Keep`.
    pub fn set_duress_passphrase(
        &self,
        passphrase: Option<String>,
    ) -> Result<Arc<KeystoreAction>, SafeSpacesError> {
        Ok(Arc::new(
            self.inner
                .profile()
                .set_duress_passphrase(passphrase.map(SecretString::from).as_ref())?
                .into(),
        ))
    }

    /// Sets (n ≥ 1) or with `null` removes the number of consecutive failed
    /// unlocks after which the profile wipes itself.
    pub fn set_attempt_limit(&self, limit: Option<u32>) -> Result<(), SafeSpacesError> {
        Ok(self.inner.profile().set_attempt_limit(limit)?)
    }

    /// The whole profile as one standard age file under `passphrase`
    /// (stock `age -d` opens it). Restore it with `restoreBackup`.
    pub fn export_backup(&self, passphrase: String) -> Result<Vec<u8>, SafeSpacesError> {
        Ok(self
            .inner
            .profile()
            .export_backup(&SecretString::from(passphrase))?)
    }

    /// This device's id.
    pub fn device_id(&self) -> Result<String, SafeSpacesError> {
        Ok(self.inner.device_id()?.to_string())
    }

    /// Creates a space whose group meets in `time_zone` (an IANA name such
    /// as `Europe/London`: pass the device's, `TimeZone.current.identifier`
    /// or `ZoneId.systemDefault().id`, unless the person chose another);
    /// this person becomes its first coordinator under `pseudonym`.
    pub fn create_space(
        &self,
        name: String,
        pseudonym: String,
        time_zone: String,
        now: SystemTime,
    ) -> Result<Arc<Space>, SafeSpacesError> {
        let zone = safespaces_core::model::SpaceZone::parse(&time_zone)?;
        Ok(Arc::new(
            self.inner
                .create_space_in(&name, &pseudonym, &zone, timestamp(now, "now")?)?
                .into(),
        ))
    }

    /// The spaces on this device, by name.
    pub fn spaces(&self) -> Result<Vec<SpaceSummary>, SafeSpacesError> {
        Ok(convert_all(self.inner.spaces()?))
    }

    /// One space, by id.
    pub fn space(&self, id: String) -> Result<Arc<Space>, SafeSpacesError> {
        Ok(Arc::new(self.inner.space(&id)?.into()))
    }

    /// Deletes a space this person is no longer in (`SpaceSummary.left`)
    /// from the device. Refused while she is a member: leave first.
    pub fn forget_space(&self, id: String) -> Result<(), SafeSpacesError> {
        Ok(self.inner.forget_space(&id)?)
    }

    /// The private journal.
    pub fn journal(&self) -> Arc<Journal> {
        Arc::new(self.inner.journal().into())
    }

    /// Imports a bundle (from `Space.exportBundle` on another member's
    /// device) into the space it belongs to. Importing twice changes nothing.
    pub fn import_bundle(
        &self,
        bundle: Vec<u8>,
        now: SystemTime,
    ) -> Result<BundleReport, SafeSpacesError> {
        Ok(self
            .inner
            .import_bundle(&bundle, timestamp(now, "now")?)?
            .into())
    }

    /// Asks to join a space without the relay: opens the invite's package
    /// (a file from the inviter) with its code and returns a request, as
    /// `pseudonym`, to hand back to the inviter (`Space.admit` on their
    /// device). Nothing of the space is readable yet: the package holds no
    /// key, only the space's name and the role (in the returned record).
    /// The join waits in `pendingJoins` until `join`.
    pub fn request_join(
        &self,
        code: String,
        sealed_package: Vec<u8>,
        pseudonym: String,
        now: SystemTime,
    ) -> Result<JoinRequestFile, SafeSpacesError> {
        Ok(self
            .inner
            .request_join(&code, &sealed_package, &pseudonym, timestamp(now, "now")?)?
            .into())
    }

    /// Completes a join asked for with `requestJoin`, with the inviter's
    /// welcome (from `Space.admit`) and a bundle from a member made after
    /// the admission (the inviter's `Space.exportBundle`). The space is
    /// checked from its creation and kept only once it shows this
    /// device's admission: a bundle from before it throws
    /// `InviteUnusable` (ask for a newer one).
    pub fn join(
        &self,
        welcome: Vec<u8>,
        bundle: Vec<u8>,
        now: SystemTime,
    ) -> Result<Arc<Space>, SafeSpacesError> {
        Ok(Arc::new(
            self.inner
                .join(&welcome, &bundle, timestamp(now, "now")?)?
                .into(),
        ))
    }

    /// Joins this device asked for (`requestJoin`, `joinViaRelay`) that no
    /// inviter has answered yet, to show as "waiting to be let in": the
    /// space itself is not on this device until its welcome comes.
    pub fn pending_joins(&self) -> Result<Vec<PendingJoin>, SafeSpacesError> {
        Ok(convert_all(self.inner.pending_joins()?))
    }
}
