//! The device profile: one directory, one unlock, one keyring, one store.
//!
//! See the module documentation of [`crate::profile`] for the life cycle and
//! `docs/storage.md` for the on-disk format.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use age_core::secrecy::SecretString;
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, Zeroizing};

use super::attempts::{ATTEMPTS_FILE, Attempts};
use super::backup;
use super::error::ProfileError;
use super::keyring::{KeyId, Keyring, UnlockPolicy};
use super::passphrase::{PassphraseWork, open_with_passphrase};
use super::unlock_slots::{
    PassphraseMatch, SLOTS_FILE, UnlockSlots, decoy_keystore_slot, decoy_passphrase_slot,
    keystore_slot, passphrase_slot,
};
use crate::crypto::SymmetricKey;
use crate::crypto::padding::{open_padded, seal_padded};
use crate::store::{DocumentId, DocumentStore, StoredDocument, atomic_file, is_sweepable_name};

/// What opens a profile.
pub enum UnlockSecret {
    /// 32 random bytes the app keeps in the platform keystore (iOS Keychain,
    /// Android Keystore), typically released by biometrics.
    Keystore([u8; 32]),
    /// A passphrase the person types. Costs one scrypt per slot tried.
    Passphrase(SecretString),
}

impl UnlockSecret {
    /// A passphrase secret from a string.
    pub fn passphrase(passphrase: impl Into<String>) -> Self {
        UnlockSecret::Passphrase(SecretString::from(passphrase.into()))
    }
}

impl Drop for UnlockSecret {
    fn drop(&mut self) {
        if let UnlockSecret::Keystore(bytes) = self {
            bytes.zeroize();
        }
    }
}

impl std::fmt::Debug for UnlockSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnlockSecret::Keystore(_) => "UnlockSecret::Keystore(..)",
            UnlockSecret::Passphrase(_) => "UnlockSecret::Passphrase(..)",
        })
    }
}

/// What the app must do with the platform keystore (Keychain, Android
/// Keystore) item that holds this profile's keystore secret, after an
/// operation that may have changed the unlock slots.
///
/// Every unlock, slot change and wipe answers one, because only the profile
/// knows (sealed in its keyring) whether slot 0 is real: an item that opens
/// nothing is a tell that a duress unlock happened or that the person chose
/// "passphrase only", and an item whose slot was replaced must not stay
/// around to open an old copy of the slots recovered from flash.
pub enum KeystoreAction {
    /// The item the app holds (if any) is the right one; leave it.
    Keep,
    /// No keystore item must exist for this profile: delete it if there is
    /// one (deleting a missing item is fine).
    Delete,
    /// Store this new secret in place of the old item, now: the old one no
    /// longer opens anything. Until it is stored, the passphrase opens the
    /// profile (operations that draw a new secret always have one).
    Replace(Zeroizing<[u8; 32]>),
}

impl std::fmt::Debug for KeystoreAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeystoreAction::Keep => "KeystoreAction::Keep",
            KeystoreAction::Delete => "KeystoreAction::Delete",
            KeystoreAction::Replace(_) => "KeystoreAction::Replace(..)",
        })
    }
}

impl KeystoreAction {
    /// What an unlocked profile with this policy wants from the app: its
    /// item kept if slot 0 is real, deleted otherwise.
    fn for_policy(policy: UnlockPolicy) -> Self {
        if policy.keystore {
            KeystoreAction::Keep
        } else {
            KeystoreAction::Delete
        }
    }
}

/// Tuning that is not part of the on-disk format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileOptions {
    /// scrypt cost for passphrase slots, backups and exports. Leave at the
    /// default outside tests and benchmarks.
    pub passphrase_work: PassphraseWork,
}

/// A device profile. `Send + Sync`; methods take `&self` so the FFI can hold
/// it in an `Arc`.
pub struct Profile {
    dir: PathBuf,
    options: ProfileOptions,
    // Shared with the thread that destroys a replaced profile's files
    // after a duress unlock (see `destroy_in_background`).
    state: Arc<Mutex<State>>,
    cleanup: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Profile {
    fn drop(&mut self) {
        self.finish_cleanup();
    }
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("dir", &self.dir)
            .field("locked", &self.is_locked())
            .finish_non_exhaustive()
    }
}

enum State {
    Locked,
    Unlocked(Box<Session>),
    Wiped,
}

/// Everything that exists only while unlocked; dropping it zeroizes every key.
struct Session {
    master: SymmetricKey,
    keyring: Keyring,
    store: DocumentStore,
}

fn keyring_file_name(master: &SymmetricKey) -> String {
    hex::encode(&master.keyed_name(b"profile/keyring")[..16])
}

fn keyring_seal_key(master: &SymmetricKey) -> SymmetricKey {
    master.derive(b"profile/keyring")
}

impl Profile {
    /// Whether `dir` holds a profile (possibly a wiped-but-not-deleted one).
    pub fn exists(dir: &Path) -> bool {
        dir.join(SLOTS_FILE).exists()
    }

    /// Creates a new profile in `dir` (created if missing), protected by
    /// `secret`, and returns it unlocked.
    pub fn create(dir: &Path, secret: UnlockSecret) -> Result<Self, ProfileError> {
        Self::create_with_options(dir, secret, ProfileOptions::default())
    }

    /// [`Profile::create`] with explicit options.
    pub fn create_with_options(
        dir: &Path,
        secret: UnlockSecret,
        options: ProfileOptions,
    ) -> Result<Self, ProfileError> {
        Self::create_from(dir, &secret, options, None, |_| Ok(()))
    }

    /// Opens the profile in `dir`, locked. Fails with
    /// [`ProfileError::NotFound`] if there is none.
    pub fn open(dir: &Path) -> Result<Self, ProfileError> {
        Self::open_with_options(dir, ProfileOptions::default())
    }

    /// [`Profile::open`] with explicit options.
    pub fn open_with_options(dir: &Path, options: ProfileOptions) -> Result<Self, ProfileError> {
        if !Self::exists(dir) {
            return Err(ProfileError::NotFound(dir.to_owned()));
        }
        Ok(Self::with_state(dir, options, State::Locked))
    }

    /// The scrypt cost this profile uses for passphrases and exports.
    pub fn passphrase_work(&self) -> PassphraseWork {
        self.options.passphrase_work
    }

    /// The profile's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unlocks with a keystore secret or passphrase.
    ///
    /// A wrong secret returns [`ProfileError::WrongSecret`] and changes
    /// nothing on disk, except the failed-attempt counter when a limit is set;
    /// reaching the limit wipes the profile, and that call and every later
    /// one report [`ProfileError::Wiped`] (the app deletes its keystore
    /// item: [`Profile::wipe`]'s answer, `Delete`).
    ///
    /// The duress passphrase wipes the real data and unlocks an empty profile
    /// that behaves like a freshly created one.
    ///
    /// Calling `unlock` on an unlocked profile locks it first and checks the
    /// secret from scratch, so a wrong secret leaves it locked.
    ///
    /// The answer says what to do with the app's keystore item: `Keep` when
    /// slot 0 is real, `Delete` when it is a decoy (always after a duress
    /// unlock, whose fresh-looking profile has no keystore slot).
    ///
    /// A duress unlock destroys the key material synchronously (the slots,
    /// through a scrub) and the replaced profile's files on a background
    /// thread, so it takes the same time whatever the profile held; see
    /// [`Profile::finish_cleanup`].
    pub fn unlock(&self, secret: &UnlockSecret) -> Result<KeystoreAction, ProfileError> {
        // Lock first: a duress cleanup still running stops at its next
        // batch, so waiting for it costs at most one batch; this unlock's
        // sweep then finishes what is left, synchronously (the one case
        // where an unlock's time grows with the old profile's size).
        self.lock();
        self.finish_cleanup();
        let mut state = self.state();
        if matches!(*state, State::Wiped) {
            return Err(ProfileError::Wiped);
        }
        // Unlocking again re-checks the secret from scratch.
        *state = State::Locked;
        // A crash in the middle of a slot change may have left the replaced
        // slots under a second name; destroy them before anything else.
        atomic_file::finish_scrubbing(&self.dir, SLOTS_FILE).map_err(ProfileError::io(
            "overwrite replaced unlock slots",
            self.dir.join(SLOTS_FILE),
        ))?;
        let slots = UnlockSlots::read(&self.dir)?;
        let mut duress = false;
        let session = match secret {
            UnlockSecret::Keystore(bytes) => match slots.open_keystore(bytes) {
                Some(master) => Some(self.open_session(master)?),
                None => None,
            },
            UnlockSecret::Passphrase(passphrase) => match slots.open_passphrase(passphrase) {
                PassphraseMatch::Real(master) => Some(self.open_session(master)?),
                PassphraseMatch::Duress(master) => {
                    duress = true;
                    Some(self.enter_duress(&slots, master)?)
                }
                PassphraseMatch::None => None,
            },
        };
        match session {
            Some(session) => {
                Attempts::record_success(&self.dir)?;
                let action = KeystoreAction::for_policy(session.keyring.policy);
                *state = State::Unlocked(Box::new(session));
                drop(state);
                if duress {
                    self.destroy_in_background();
                }
                Ok(action)
            }
            None => {
                if Attempts::record_failure(&self.dir)? {
                    wipe_dir(&self.dir, &[])?;
                    *state = State::Wiped;
                    // Said at once, not at the next attempt: the app must
                    // delete its keystore item now (it opens nothing, and
                    // a left-over item tells there was a profile).
                    return Err(ProfileError::Wiped);
                }
                Err(ProfileError::WrongSecret)
            }
        }
    }

    /// Drops every key from memory (they zeroize on drop). Nothing can be
    /// read or written until the next [`Profile::unlock`].
    pub fn lock(&self) {
        let mut state = self.state();
        if matches!(*state, State::Unlocked(_)) {
            *state = State::Locked;
        }
    }

    /// Whether the profile is locked (or wiped).
    pub fn is_locked(&self) -> bool {
        !matches!(*self.state(), State::Unlocked(_))
    }

    /// Destroys the profile: first the key material (the unlock slots, the
    /// keyring and the manifest are overwritten in place with random bytes),
    /// then every file. Idempotent, works locked or unlocked, and safe to
    /// call at any moment: the profile's lock serialises it with writes, and
    /// once the slots are overwritten nothing left on disk decrypts, even if
    /// the process dies before the files are deleted (calling `wipe` again
    /// finishes the job).
    ///
    /// The answer is always [`KeystoreAction::Delete`]: the app's keystore
    /// item opens nothing any more, and a left-over item is a tell.
    pub fn wipe(&self) -> Result<KeystoreAction, ProfileError> {
        let mut state = self.state();
        let known = match &*state {
            State::Unlocked(session) => {
                let mut known = vec![keyring_file_name(&session.master)];
                known.extend(DocumentStore::manifest_file_names(
                    session.keyring.storage_key(),
                ));
                known
            }
            _ => Vec::new(),
        };
        // Drop keys from memory before touching the disk.
        *state = State::Wiped;
        wipe_dir(&self.dir, &known)?;
        Ok(KeystoreAction::Delete)
    }

    /// Sets or replaces the passphrase, and rotates the master key: the
    /// keyring is re-sealed under a new one, every slot that wrapped the old
    /// one is replaced and the replaced slots file and keyring are
    /// overwritten in place, so the old passphrase opens nothing in a copy
    /// of the directory taken afterwards. If keystore unlock is on, slot 0
    /// gets a new secret, returned as [`KeystoreAction::Replace`] for the
    /// app to store; otherwise the answer is `Delete`.
    pub fn set_passphrase(
        &self,
        passphrase: &SecretString,
    ) -> Result<KeystoreAction, ProfileError> {
        self.with_session(|dir, _options, session| {
            let slots = UnlockSlots::read(dir)?;
            if open_with_passphrase(passphrase, &slots.duress).is_some() {
                return Err(ProfileError::InvalidInput(
                    "the passphrase must differ from the duress passphrase".into(),
                ));
            }
            let policy = UnlockPolicy {
                passphrase: true,
                ..session.keyring.policy
            };
            let keystore = NewKeystoreSlot::fresh_if(policy.keystore);
            rotate(dir, session, &slots, Some(passphrase), keystore, policy)
        })
    }

    /// Sets or replaces the keystore-secret slot, turning keystore unlock on,
    /// and rotates the master key (as in [`Profile::set_passphrase`]): a
    /// keystore slot recovered from an old copy of the slots, with the
    /// keychain item it answered to (a device backup keeps deleted items),
    /// then opens nothing. `passphrase` must be the current passphrase when
    /// the profile has one (the new master key is wrapped under it too, and
    /// it proves the change is the person's: an unlocked phone taken from
    /// her hand cannot quietly add a keystore unlock); `None` for a profile
    /// that only unlocks through the keystore. Refused while the profile
    /// requires the passphrase. Answers `Keep`: the item holding `secret` is
    /// the one.
    pub fn set_keystore_secret(
        &self,
        secret: &[u8; 32],
        passphrase: Option<&SecretString>,
    ) -> Result<KeystoreAction, ProfileError> {
        self.with_session(|dir, _options, session| {
            let policy = session.keyring.policy;
            if policy.require_passphrase {
                return Err(ProfileError::InvalidInput(
                    "this profile requires the passphrase; turn that off (set_require_passphrase) before adding a keystore secret".into(),
                ));
            }
            let slots = UnlockSlots::read(dir)?;
            let passphrase = match (policy.passphrase, passphrase) {
                (true, Some(p)) => {
                    let opens = open_with_passphrase(p, &slots.passphrase)
                        .is_some_and(|plain| plain.as_slice() == session.master.expose_bytes());
                    if !opens {
                        return Err(ProfileError::WrongSecret);
                    }
                    Some(p)
                }
                (true, None) => return Err(ProfileError::WrongSecret),
                (false, Some(_)) => {
                    return Err(ProfileError::InvalidInput(
                        "this profile has no passphrase; set one with set_passphrase".into(),
                    ));
                }
                (false, None) => None,
            };
            let policy = UnlockPolicy {
                keystore: true,
                ..policy
            };
            rotate(
                dir,
                session,
                &slots,
                passphrase,
                NewKeystoreSlot::Given(secret),
                policy,
            )
        })
    }

    /// Turns "passphrase only" on or off. On, slot 0 becomes a decoy, keystore
    /// unlock is refused until it is turned off again, and the answer is
    /// `Delete`: a forced fingerprint or face then opens nothing, and no
    /// keychain item is left to give away that there was one. Either way
    /// the master key rotates (as in [`Profile::set_passphrase`]), so a
    /// keystore slot recovered from an old copy of the slots, together
    /// with a keychain item that outlived its deletion (a device backup),
    /// opens nothing. `passphrase` must be the current passphrase: it is
    /// needed to re-wrap the new master key, and it proves the change is
    /// the person's.
    pub fn set_require_passphrase(
        &self,
        passphrase: &SecretString,
        require: bool,
    ) -> Result<KeystoreAction, ProfileError> {
        self.with_session(|dir, _options, session| {
            let slots = UnlockSlots::read(dir)?;
            let opens = open_with_passphrase(passphrase, &slots.passphrase)
                .is_some_and(|plain| plain.as_slice() == session.master.expose_bytes());
            if !opens {
                return Err(ProfileError::WrongSecret);
            }
            let policy = UnlockPolicy {
                keystore: session.keyring.policy.keystore && !require,
                passphrase: true,
                require_passphrase: require,
            };
            let keystore = NewKeystoreSlot::fresh_if(policy.keystore);
            rotate(dir, session, &slots, Some(passphrase), keystore, policy)
        })
    }

    /// Whether the profile requires the passphrase (no keystore unlock).
    pub fn requires_passphrase(&self) -> Result<bool, ProfileError> {
        self.with_session(|_, _, s| Ok(s.keyring.policy.require_passphrase))
    }

    /// Sets (`Some`) or removes (`None`) the duress passphrase. Unlocking with
    /// it later wipes this profile and opens an empty one, protected by the
    /// duress passphrase. It must differ from the unlock passphrase, and the
    /// profile must have a passphrase (duress is typed at the unlock prompt).
    ///
    /// The master key does not rotate: the duress slot never wraps it (it
    /// wraps the future master key of the replacement profile, and a
    /// replaced one wraps a key nothing is sealed under). The replaced slots
    /// file is overwritten in place. Answers `Keep` (slot 0 is unchanged).
    pub fn set_duress_passphrase(
        &self,
        passphrase: Option<&SecretString>,
    ) -> Result<KeystoreAction, ProfileError> {
        self.with_session(|dir, _options, session| {
            if passphrase.is_some() && !session.keyring.policy.passphrase {
                return Err(ProfileError::InvalidInput(
                    "set a passphrase before a duress passphrase: duress is typed where the passphrase is".into(),
                ));
            }
            let mut slots = UnlockSlots::read(dir)?;
            let log_n = slots_log_n(&slots)?;
            slots.duress = match passphrase {
                Some(passphrase) => {
                    if open_with_passphrase(passphrase, &slots.passphrase).is_some() {
                        return Err(ProfileError::InvalidInput(
                            "the duress passphrase must differ from the unlock passphrase".into(),
                        ));
                    }
                    // The future master key of the replacement profile.
                    let future = SymmetricKey::generate();
                    passphrase_slot(passphrase, PassphraseWork::exact(log_n), &future)?.0
                }
                None => decoy_passphrase_slot(log_n)?,
            };
            slots.write(dir)?;
            Ok(KeystoreAction::Keep)
        })
    }

    /// Waits until the files of a profile replaced by a duress unlock are
    /// overwritten and deleted (see [`Profile::unlock`]). Apps need not call
    /// it: the work runs on its own thread, dropping the profile waits for
    /// it, and if the process dies first the next unlock finishes it. Tests,
    /// benchmarks and short-lived processes (the CLI) call it.
    pub fn finish_cleanup(&self) {
        let handle = self
            .cleanup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            // A panic in the cleanup leaves files the next sweep removes.
            let _ = handle.join();
        }
    }

    /// Sets (`Some(n)`, n ≥ 1) or removes (`None`) the limit of consecutive
    /// failed unlocks after which the profile wipes itself.
    pub fn set_attempt_limit(&self, limit: Option<u32>) -> Result<(), ProfileError> {
        if limit == Some(0) {
            return Err(ProfileError::InvalidInput(
                "the attempt limit must be at least 1, or None for no limit".into(),
            ));
        }
        self.with_session(|dir, _, _| Attempts { failures: 0, limit }.write(dir))
    }

    /// Reads a document's stored bytes, or `None` if it was never stored.
    pub fn get_document(&self, id: DocumentId) -> Result<Option<StoredDocument>, ProfileError> {
        self.with_session(|_, _, s| Ok(s.store.get(id)?))
    }

    /// Stores a full snapshot (`AutoCommit::save()`), replacing the
    /// document's history. Durable when this returns.
    pub fn put_snapshot(&self, id: DocumentId, snapshot: &[u8]) -> Result<(), ProfileError> {
        self.with_session(|_, _, s| Ok(s.store.put_snapshot(id, snapshot)?))
    }

    /// Appends incremental changes (`AutoCommit::save_incremental()`);
    /// compacts the document when increments have grown. Durable when this
    /// returns.
    pub fn append_increment(&self, id: DocumentId, increment: &[u8]) -> Result<(), ProfileError> {
        self.with_session(|_, _, s| Ok(s.store.append_increment(id, increment)?))
    }

    /// [`Profile::append_increment`] for a caller holding the whole
    /// document: a due compaction takes `whole()` (the document with this
    /// increment, saved) instead of replaying the stored chunks
    /// ([`crate::store::DocumentStore::append_increment_of`]).
    pub fn append_increment_of(
        &self,
        id: DocumentId,
        increment: &[u8],
        whole: impl FnOnce() -> Vec<u8>,
    ) -> Result<(), ProfileError> {
        self.with_session(|_, _, s| Ok(s.store.append_increment_of(id, increment, whole)?))
    }

    /// [`Profile::append_increment_of`] and [`Profile::put_snapshot`] of
    /// another document in one commit: both durable when this returns, or
    /// neither ([`crate::store::DocumentStore::append_increment_with_snapshot`]).
    pub fn append_increment_with_snapshot(
        &self,
        id: DocumentId,
        increment: &[u8],
        whole: impl FnOnce() -> Vec<u8>,
        other: DocumentId,
        snapshot: &[u8],
    ) -> Result<(), ProfileError> {
        self.with_session(|_, _, s| {
            Ok(s.store
                .append_increment_with_snapshot(id, increment, whole, other, snapshot)?)
        })
    }

    /// Folds a document's increments into one snapshot now.
    pub fn compact_document(&self, id: DocumentId) -> Result<(), ProfileError> {
        self.with_session(|_, _, s| Ok(s.store.compact(id)?))
    }

    /// Deletes a document and its files.
    pub fn delete_document(&self, id: DocumentId) -> Result<(), ProfileError> {
        self.with_session(|_, _, s| Ok(s.store.delete(id)?))
    }

    /// The ids of all stored documents.
    pub fn document_ids(&self) -> Result<Vec<DocumentId>, ProfileError> {
        self.with_session(|_, _, s| Ok(s.store.document_ids()))
    }

    /// Runs `f` with the keyring (device keys, space and journal keys).
    /// The profile's lock is held meanwhile: `f` must not call back into this
    /// profile.
    pub fn with_keyring<R>(&self, f: impl FnOnce(&Keyring) -> R) -> Result<R, ProfileError> {
        self.with_session(|_, _, s| Ok(f(&s.keyring)))
    }

    /// The device's age recipient (`age1…`), to publish to spaces; a
    /// closure-free accessor for the FFI.
    pub fn device_recipient(&self) -> Result<String, ProfileError> {
        self.with_keyring(|k| k.device_recipient().to_string())
    }

    /// The device's Ed25519 public key; a closure-free accessor for the FFI.
    pub fn signing_public_key(&self) -> Result<[u8; 32], ProfileError> {
        self.with_keyring(|k| k.verifying_key().to_bytes())
    }

    /// Adds or replaces a space/journal key; durable when this returns.
    pub fn insert_key(&self, id: KeyId, key: [u8; 32]) -> Result<(), ProfileError> {
        let key = SymmetricKey::from_bytes(key);
        self.with_session(|dir, _, s| {
            let previous = s.keyring.key(&id).cloned();
            s.keyring.insert_key(id, key);
            let written = write_keyring(dir, &s.master, &s.keyring);
            if written.is_err() {
                match previous {
                    Some(previous) => s.keyring.insert_key(id, previous),
                    None => {
                        s.keyring.remove_key(&id);
                    }
                }
            }
            written
        })
    }

    /// Removes a space/journal key; durable when this returns. Returns
    /// whether it was present.
    pub fn remove_key(&self, id: KeyId) -> Result<bool, ProfileError> {
        self.with_session(|dir, _, s| {
            let Some(previous) = s.keyring.key(&id).cloned() else {
                return Ok(false);
            };
            s.keyring.remove_key(&id);
            if let Err(e) = write_keyring(dir, &s.master, &s.keyring) {
                s.keyring.insert_key(id, previous);
                return Err(e);
            }
            Ok(true)
        })
    }

    /// Writes the whole profile (keyring and documents) as one standard age
    /// file under `passphrase` (scrypt). Stock `age -d` decrypts it; the
    /// archive inside is described in `docs/storage.md`.
    pub fn export_backup(&self, passphrase: &SecretString) -> Result<Vec<u8>, ProfileError> {
        self.with_session(|_, options, s| {
            backup::export(&s.keyring, &s.store, passphrase, options.passphrase_work)
        })
    }

    /// Restores a backup into `dir` (which must not hold a profile) as a new
    /// profile protected by `secret`, and returns it unlocked. The device keys
    /// and space keys come from the backup; the storage key is new.
    pub fn restore_backup(
        backup: &[u8],
        passphrase: &SecretString,
        dir: &Path,
        secret: UnlockSecret,
        options: ProfileOptions,
    ) -> Result<Self, ProfileError> {
        let archive = backup::open(backup, passphrase)?;
        let (keyring, documents) = archive.into_parts()?;
        Self::create_from(dir, &secret, options, Some(keyring), |store| {
            for doc in documents {
                if let Some(snapshot) = &doc.snapshot {
                    store.put_snapshot(doc.id, snapshot)?;
                }
                for increment in &doc.increments {
                    store.append_increment(doc.id, increment)?;
                }
            }
            Ok(())
        })
    }

    fn with_state(dir: &Path, options: ProfileOptions, state: State) -> Self {
        Self {
            dir: dir.to_owned(),
            options,
            state: Arc::new(Mutex::new(state)),
            cleanup: Mutex::new(None),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock_state(&self.state)
    }

    /// Starts destroying the files a duress unlock left behind: the old
    /// keyring and manifest (whose names only the old master key could
    /// compute, so they cannot be picked out) and every chunk. Each stale
    /// file is overwritten, then unlinked, in small batches under the
    /// profile's lock, so the new profile's writes interleave and the set
    /// of files it references is exact when each batch decides. Running it
    /// off the unlock path is what makes a duress unlock take the same time
    /// whatever the profile held.
    fn destroy_in_background(&self) {
        let dir = self.dir.clone();
        let state = Arc::clone(&self.state);
        let spawned = std::thread::Builder::new()
            .name("safespaces-duress-cleanup".into())
            .spawn(move || destroy_stale_files(&dir, &state));
        match spawned {
            Ok(handle) => {
                *self.cleanup.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
            }
            // No thread: do it now (slower, but nothing is left behind).
            Err(_) => destroy_stale_files(&self.dir, &self.state),
        }
    }

    fn with_session<R>(
        &self,
        f: impl FnOnce(&Path, &ProfileOptions, &mut Session) -> Result<R, ProfileError>,
    ) -> Result<R, ProfileError> {
        let mut state = self.state();
        match &mut *state {
            State::Unlocked(session) => f(&self.dir, &self.options, session),
            State::Locked => Err(ProfileError::Locked),
            State::Wiped => Err(ProfileError::Wiped),
        }
    }

    /// Builds a profile: keyring and store first, the slots file last. The
    /// slots file is the commit point: until it exists `dir` holds no
    /// profile, and the files written so far are unreachable.
    fn create_from(
        dir: &Path,
        secret: &UnlockSecret,
        options: ProfileOptions,
        restored: Option<Keyring>,
        fill: impl FnOnce(&mut DocumentStore) -> Result<(), crate::store::StoreError>,
    ) -> Result<Self, ProfileError> {
        fs::create_dir_all(dir).map_err(ProfileError::io("create profile directory", dir))?;
        if Self::exists(dir) {
            return Err(ProfileError::AlreadyExists(dir.to_owned()));
        }
        let master = SymmetricKey::generate();
        let mut keyring = restored.unwrap_or_else(|| Keyring::generate(UnlockPolicy::default()));
        keyring.policy = UnlockPolicy {
            keystore: matches!(secret, UnlockSecret::Keystore(_)),
            passphrase: matches!(secret, UnlockSecret::Passphrase(_)),
            require_passphrase: false,
        };
        let slots = match secret {
            UnlockSecret::Keystore(bytes) => {
                let log_n = options.passphrase_work.log_n();
                UnlockSlots {
                    keystore: keystore_slot(bytes, &master)?,
                    passphrase: decoy_passphrase_slot(log_n)?,
                    duress: decoy_passphrase_slot(log_n)?,
                }
            }
            UnlockSecret::Passphrase(passphrase) => {
                let (slot, log_n) = passphrase_slot(passphrase, options.passphrase_work, &master)?;
                UnlockSlots {
                    keystore: decoy_keystore_slot()?,
                    passphrase: slot,
                    duress: decoy_passphrase_slot(log_n)?,
                }
            }
        };
        let session = build_session(dir, master, keyring, fill)?;
        Attempts::default().write(dir)?;
        slots.write(dir)?;
        sweep(dir, &session)?;
        Ok(Self::with_state(
            dir,
            options,
            State::Unlocked(Box::new(session)),
        ))
    }

    fn open_session(&self, master: SymmetricKey) -> Result<Session, ProfileError> {
        let path = self.dir.join(keyring_file_name(&master));
        let sealed = fs::read(&path).map_err(ProfileError::io("read keyring", &path))?;
        let plain = open_padded(&keyring_seal_key(&master), &sealed)
            .map_err(|e| ProfileError::Corrupt(format!("the keyring does not open: {e}")))?;
        let keyring = Keyring::decode(&plain)?;
        let store = DocumentStore::open(&self.dir, keyring.storage_key().clone())?;
        let session = Session {
            master,
            keyring,
            store,
        };
        // Also destroys what a crash in a rotation or a duress cleanup left.
        sweep(&self.dir, &session)?;
        Ok(session)
    }

    /// The duress transition. A new, empty profile is built under the master
    /// key the duress slot wrapped; the new slots file (keystore decoy, the
    /// duress slot moved into the passphrase position, a fresh decoy in the
    /// duress position) is the atomic commit point, written with the replaced
    /// file kept under a second name (`unlock.old`) and then overwritten in
    /// place. A kill before the commit leaves the old profile (the duress
    /// passphrase still triggers duress); after it, the new one, and the next
    /// unlock finishes the scrub. The old keyring, manifest and chunks are
    /// destroyed afterwards, off the unlock path (`destroy_in_background`).
    fn enter_duress(
        &self,
        old: &UnlockSlots,
        master: SymmetricKey,
    ) -> Result<Session, ProfileError> {
        let log_n = slots_log_n(old)?;
        // The replacement must look freshly created with this passphrase.
        let policy = UnlockPolicy {
            passphrase: true,
            ..UnlockPolicy::default()
        };
        let session = build_session(&self.dir, master, Keyring::generate(policy), |_| Ok(()))?;
        let slots = UnlockSlots {
            keystore: decoy_keystore_slot()?,
            passphrase: old.duress.clone(),
            duress: decoy_passphrase_slot(log_n)?,
        };
        slots.write(&self.dir)?;
        Attempts::default().write(&self.dir)?;
        Ok(session)
    }
}

fn lock_state(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the state half-updated
    // (every transition is a single assignment), so recover the guard.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// What slot 0 holds after a master-key rotation.
enum NewKeystoreSlot<'a> {
    /// A new secret, handed to the app to store (`KeystoreAction::Replace`).
    Fresh,
    /// The secret the app just chose and holds (`KeystoreAction::Keep`).
    Given(&'a [u8; 32]),
    /// A decoy: keystore unlock is off (`KeystoreAction::Delete`).
    Off,
}

impl NewKeystoreSlot<'_> {
    fn fresh_if(keystore: bool) -> Self {
        if keystore { Self::Fresh } else { Self::Off }
    }
}

/// Replaces every slot that wraps the master key with one wrapping a new
/// master key, re-sealing the keyring under it. `passphrase` is the
/// passphrase slot's (new or current) passphrase, `None` for a profile
/// without one (its slot stays a decoy); the duress slot is kept (it never
/// wraps this master key).
///
/// Order, so that a crash anywhere leaves a profile that opens with the old
/// secret or the new one, never neither (`docs/storage.md`, "Rotating the
/// master key"):
/// 1. the keyring sealed under the new master key, written under its own
///    name beside the old one (the old slots still reach the old keyring);
/// 2. the old slots file gets a second name, `unlock.old` (hard link);
/// 3. the new slots file replaces `unlock` (tmp, fsync, rename, fsync the
///    directory): the commit point;
/// 4. `unlock.old` is overwritten in place, fsynced and deleted;
/// 5. the old keyring is overwritten in place, fsynced and deleted.
///
/// A crash before 3 leaves a new keyring nothing reaches (the next unlock's
/// sweep overwrites and deletes it) and `unlock.old` naming the live file
/// (deleted, not scrubbed). A crash after 3 leaves `unlock.old` with the old
/// bytes (the next unlock scrubs it) and the old keyring unreferenced (the
/// sweep scrubs it).
fn rotate(
    dir: &Path,
    session: &mut Session,
    old: &UnlockSlots,
    passphrase: Option<&SecretString>,
    keystore: NewKeystoreSlot<'_>,
    policy: UnlockPolicy,
) -> Result<KeystoreAction, ProfileError> {
    let log_n = slots_log_n(old)?;
    let master = SymmetricKey::generate();
    let passphrase_slot = match passphrase {
        Some(p) => passphrase_slot(p, PassphraseWork::exact(log_n), &master)?.0,
        None => decoy_passphrase_slot(log_n)?,
    };
    let (keystore, action) = match keystore {
        NewKeystoreSlot::Fresh => {
            let secret = generate_keystore_secret();
            (
                keystore_slot(&secret, &master)?,
                KeystoreAction::Replace(secret),
            )
        }
        NewKeystoreSlot::Given(secret) => (keystore_slot(secret, &master)?, KeystoreAction::Keep),
        NewKeystoreSlot::Off => (decoy_keystore_slot()?, KeystoreAction::Delete),
    };
    let slots = UnlockSlots {
        keystore,
        passphrase: passphrase_slot,
        duress: old.duress.clone(),
    };
    let old_keyring = dir.join(keyring_file_name(&session.master));
    let old_policy = session.keyring.policy;
    session.keyring.policy = policy;
    let staged = write_keyring(dir, &master, &session.keyring).and_then(|()| {
        atomic_file::crash_point("rotation-keyring-written")
            .map_err(ProfileError::io("rotate the master key", dir))
    });
    if let Err(e) = staged.and_then(|()| slots.commit(dir)) {
        // A failure after the rename (the directory fsync) still committed:
        // then the new master key is the one, or later keyring writes would
        // go where the slots no longer lead.
        if !slots.is_on_disk(dir) {
            session.keyring.policy = old_policy;
            return Err(e);
        }
    }
    session.master = master;
    atomic_file::crash_point("rotation-committed")
        .map_err(ProfileError::io("rotate the master key", dir))?;
    UnlockSlots::scrub_replaced(dir)?;
    atomic_file::scrub_path(&old_keyring)
        .and_then(|()| atomic_file::remove_if_present(&old_keyring))
        .and_then(|()| atomic_file::sync_dir(dir))
        .map_err(ProfileError::io(
            "overwrite the replaced keyring",
            &old_keyring,
        ))?;
    Ok(action)
}

/// The body of `Profile::destroy_in_background`: list once, then overwrite
/// and delete, batch by batch under the lock, whatever the current session
/// does not reference. Stops when the profile is locked or wiped (the next
/// unlock's sweep, or the wipe, takes over). Errors are left to that sweep
/// too: this thread has no one to report to.
fn destroy_stale_files(dir: &Path, state: &Mutex<State>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|name| is_sweepable_name(name))
        .collect();
    for batch in names.chunks(32) {
        let guard = lock_state(state);
        let State::Unlocked(session) = &*guard else {
            return;
        };
        let keep = keep_set(session);
        for name in batch.iter().filter(|n| !keep.contains(*n)) {
            let path = dir.join(name);
            if atomic_file::scrub_path(&path).is_ok() {
                let _ = atomic_file::remove_if_present(&path);
            }
        }
        let _ = atomic_file::sync_dir(dir);
    }
}

fn keep_set(session: &Session) -> HashSet<String> {
    let mut keep: HashSet<String> = session.store.referenced_files().into_iter().collect();
    keep.insert(keyring_file_name(&session.master));
    keep
}

fn slots_log_n(slots: &UnlockSlots) -> Result<u8, ProfileError> {
    slots.log_n().ok_or_else(|| {
        ProfileError::Corrupt("the passphrase slot has no scrypt work factor".into())
    })
}

fn build_session(
    dir: &Path,
    master: SymmetricKey,
    keyring: Keyring,
    fill: impl FnOnce(&mut DocumentStore) -> Result<(), crate::store::StoreError>,
) -> Result<Session, ProfileError> {
    write_keyring(dir, &master, &keyring)?;
    let mut store = DocumentStore::create(dir, keyring.storage_key().clone())?;
    fill(&mut store)?;
    Ok(Session {
        master,
        keyring,
        store,
    })
}

fn write_keyring(dir: &Path, master: &SymmetricKey, keyring: &Keyring) -> Result<(), ProfileError> {
    let name = keyring_file_name(master);
    let sealed = seal_padded(&keyring_seal_key(master), &keyring.encode())?;
    // The replaced version is overwritten in place: it holds the keys the
    // new one dropped (a removed space's key, a replaced storage policy).
    atomic_file::replace_keeping_old(dir, &name, &sealed)
        .and_then(|()| atomic_file::finish_scrubbing(dir, &name))
        .map_err(ProfileError::io("write keyring", dir.join(&name)))
}

/// Destroys files left behind by crashes or by a previous profile: temporary
/// files, unreferenced chunks, an old keyring or manifest. Each is
/// overwritten in place before it is unlinked, because a stale file cannot
/// be told apart from a replaced keyring (its name is a keyed hash of a
/// master key that is gone). Only names the profile itself could have
/// written are touched.
fn sweep(dir: &Path, session: &Session) -> Result<(), ProfileError> {
    let keep = keep_set(session);
    let entries = fs::read_dir(dir).map_err(ProfileError::io("list profile directory", dir))?;
    let mut removed = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_sweepable_name(name) && !keep.contains(name) {
            atomic_file::scrub_path(&entry.path())
                .and_then(|()| atomic_file::remove_if_present(&entry.path()))
                .map_err(ProfileError::io("remove stale file", entry.path()))?;
            removed = true;
        }
    }
    if removed {
        atomic_file::sync_dir(dir).map_err(ProfileError::io("sync profile directory", dir))?;
    }
    Ok(())
}

/// The wipe procedure; see [`Profile::wipe`]. `known` names key-bearing
/// files (keyring, manifest) to scrub besides the slots file.
pub(crate) fn wipe_dir(dir: &Path, known: &[String]) -> Result<(), ProfileError> {
    if !dir.exists() {
        return Ok(());
    }
    let slots = dir.join(SLOTS_FILE);
    atomic_file::scrub_path(&slots).map_err(ProfileError::io("overwrite unlock slots", &slots))?;
    // Replaced slots a crash left under their second name: scrubbed (even
    // if they are the live inode, which was just scrubbed anyway).
    let replaced = dir.join(format!("{SLOTS_FILE}{}", atomic_file::REPLACED_SUFFIX));
    atomic_file::scrub_path(&replaced)
        .and_then(|()| atomic_file::remove_if_present(&replaced))
        .map_err(ProfileError::io(
            "overwrite replaced unlock slots",
            &replaced,
        ))?;
    for name in known {
        let path = dir.join(name);
        atomic_file::scrub_path(&path).map_err(ProfileError::io("overwrite key file", &path))?;
    }
    let entries = fs::read_dir(dir).map_err(ProfileError::io("list profile directory", dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_sweepable_name(name) || name == ATTEMPTS_FILE {
            atomic_file::remove_if_present(&entry.path())
                .map_err(ProfileError::io("delete profile file", entry.path()))?;
        }
    }
    // The slots file goes last: while it exists the directory still counts as
    // a (wiped, undecryptable) profile, so an interrupted wipe is visible and
    // can be finished by calling wipe again.
    atomic_file::remove_if_present(&slots)
        .map_err(ProfileError::io("delete unlock slots", &slots))?;
    atomic_file::sync_dir(dir).map_err(ProfileError::io("sync profile directory", dir))?;
    // Leave the directory if the app keeps other things in it.
    let _ = fs::remove_dir(dir);
    Ok(())
}

/// Fresh random bytes for a keystore secret, for apps that do not have one.
pub fn generate_keystore_secret() -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::atomic_file::fault::FAIL_AT;

    const FAST: ProfileOptions = ProfileOptions {
        passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
    };

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn copy_dir(from: &Path) -> tempfile::TempDir {
        let to = tempfile::tempdir().expect("tempdir");
        for entry in fs::read_dir(from).expect("ls").flatten() {
            fs::copy(entry.path(), to.path().join(entry.file_name())).expect("copy");
        }
        to
    }

    fn opens(dir: &Path, secret: &UnlockSecret) -> bool {
        let profile = Profile::open_with_options(dir, FAST).expect("open");
        match profile.unlock(secret) {
            Ok(_) => true,
            Err(ProfileError::WrongSecret) => false,
            Err(e) => panic!("unlock failed: {e}"),
        }
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("ls")
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn old_passphrase_opens_no_copy_taken_after_a_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let doc = DocumentId::random();
        let profile =
            Profile::create_with_options(dir.path(), UnlockSecret::passphrase("one"), FAST)
                .expect("create");
        profile.put_snapshot(doc, b"journal").expect("put");
        let before = copy_dir(dir.path());
        let old_names = file_names(dir.path());
        let action = profile.set_passphrase(&pass("two")).expect("change");
        assert!(matches!(action, KeystoreAction::Delete));
        let after = copy_dir(dir.path());

        // A copy taken before the change still opens with the old one: it
        // holds the old slots, as any backup of the old disk would.
        assert!(opens(before.path(), &UnlockSecret::passphrase("one")));
        assert!(!opens(after.path(), &UnlockSecret::passphrase("one")));
        assert!(opens(after.path(), &UnlockSecret::passphrase("two")));
        let reopened = Profile::open_with_options(after.path(), FAST).expect("open");
        reopened
            .unlock(&UnlockSecret::passphrase("two"))
            .expect("unlock");
        assert!(reopened.get_document(doc).expect("get").is_some());

        // The master key changed: the old keyring's name (a keyed hash of
        // the old master key) is gone, replaced by exactly one new one, and
        // no second name of the old slots is left.
        let new_names = file_names(dir.path());
        assert_eq!(old_names.len(), new_names.len());
        assert_ne!(old_names, new_names);
        assert!(
            !new_names
                .iter()
                .any(|n| n.ends_with(atomic_file::REPLACED_SUFFIX))
        );
    }

    #[test]
    fn a_new_keystore_secret_rotates_the_master_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let doc = DocumentId::random();
        let profile = Profile::create_with_options(dir.path(), UnlockSecret::passphrase("p"), FAST)
            .expect("create");
        profile.put_snapshot(doc, b"journal").expect("put");
        profile
            .set_keystore_secret(&[1; 32], Some(&pass("p")))
            .expect("first secret");
        let before = copy_dir(dir.path());
        // Without the current passphrase nothing changes: an unlocked phone
        // taken from her hand cannot add a fingerprint unlock.
        let names = file_names(dir.path());
        for wrong in [None, Some(pass("not p"))] {
            assert!(matches!(
                profile.set_keystore_secret(&[2; 32], wrong.as_ref()),
                Err(ProfileError::WrongSecret)
            ));
        }
        assert_eq!(file_names(dir.path()), names);
        assert!(matches!(
            profile.set_keystore_secret(&[2; 32], Some(&pass("p"))),
            Ok(KeystoreAction::Keep)
        ));
        assert!(opens(dir.path(), &UnlockSecret::Keystore([2; 32])));
        assert!(opens(dir.path(), &UnlockSecret::passphrase("p")));
        assert!(!opens(dir.path(), &UnlockSecret::Keystore([1; 32])));
        // The old slot recovered from flash, put back beside today's files,
        // with the old keychain item (a device backup keeps it): it wraps a
        // master key whose keyring is gone.
        let recovered = copy_dir(dir.path());
        fs::copy(
            before.path().join(super::super::unlock_slots::SLOTS_FILE),
            recovered
                .path()
                .join(super::super::unlock_slots::SLOTS_FILE),
        )
        .expect("old slots");
        let old = Profile::open_with_options(recovered.path(), FAST).expect("open");
        assert!(old.unlock(&UnlockSecret::Keystore([1; 32])).is_err());
        let reopened = Profile::open_with_options(dir.path(), FAST).expect("open");
        reopened
            .unlock(&UnlockSecret::Keystore([2; 32]))
            .expect("unlock");
        assert!(reopened.get_document(doc).expect("get").is_some());

        // A keystore-only profile rotates without a passphrase.
        let other = tempfile::tempdir().expect("tempdir");
        let keystore_only =
            Profile::create_with_options(other.path(), UnlockSecret::Keystore([5; 32]), FAST)
                .expect("create");
        assert!(matches!(
            keystore_only.set_keystore_secret(&[6; 32], Some(&pass("p"))),
            Err(ProfileError::InvalidInput(_))
        ));
        assert!(matches!(
            keystore_only.set_keystore_secret(&[6; 32], None),
            Ok(KeystoreAction::Keep)
        ));
        assert!(!opens(other.path(), &UnlockSecret::Keystore([5; 32])));
        assert!(opens(other.path(), &UnlockSecret::Keystore([6; 32])));
    }

    #[test]
    fn a_passphrase_change_hands_a_keystore_profile_a_new_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile =
            Profile::create_with_options(dir.path(), UnlockSecret::Keystore([1; 32]), FAST)
                .expect("create");
        let KeystoreAction::Replace(secret) = profile.set_passphrase(&pass("p")).expect("set")
        else {
            panic!("a keystore profile's rotation must replace the keystore secret");
        };
        assert!(!opens(dir.path(), &UnlockSecret::Keystore([1; 32])));
        assert!(opens(dir.path(), &UnlockSecret::Keystore(*secret)));
        assert!(opens(dir.path(), &UnlockSecret::passphrase("p")));
        assert!(matches!(
            profile.unlock(&UnlockSecret::Keystore(*secret)),
            Ok(KeystoreAction::Keep)
        ));
    }

    #[test]
    fn require_passphrase_leaves_only_a_decoy_in_the_keystore_slot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = Profile::create_with_options(dir.path(), UnlockSecret::passphrase("p"), FAST)
            .expect("create");
        assert!(matches!(
            profile.set_keystore_secret(&[2; 32], Some(&pass("p"))),
            Ok(KeystoreAction::Keep)
        ));
        assert!(opens(dir.path(), &UnlockSecret::Keystore([2; 32])));
        assert!(matches!(
            profile.set_require_passphrase(&pass("wrong"), true),
            Err(ProfileError::WrongSecret)
        ));
        assert!(matches!(
            profile.set_require_passphrase(&pass("p"), true),
            Ok(KeystoreAction::Delete)
        ));
        assert!(profile.requires_passphrase().expect("read"));
        assert!(!opens(dir.path(), &UnlockSecret::Keystore([2; 32])));
        assert!(matches!(
            profile.set_keystore_secret(&[3; 32], Some(&pass("p"))),
            Err(ProfileError::InvalidInput(_))
        ));
        // A passphrase unlock tells the app to delete any item it still has.
        assert!(matches!(
            profile.unlock(&UnlockSecret::passphrase("p")),
            Ok(KeystoreAction::Delete)
        ));
        // The setting is sealed in the keyring: it survives a reopen.
        let reopened = Profile::open_with_options(dir.path(), FAST).expect("open");
        reopened
            .unlock(&UnlockSecret::passphrase("p"))
            .expect("unlock");
        assert!(reopened.requires_passphrase().expect("read"));
        assert!(matches!(
            reopened.set_require_passphrase(&pass("p"), false),
            Ok(KeystoreAction::Delete)
        ));
        assert!(matches!(
            reopened.set_keystore_secret(&[3; 32], Some(&pass("p"))),
            Ok(KeystoreAction::Keep)
        ));
        assert!(opens(dir.path(), &UnlockSecret::Keystore([3; 32])));
    }

    #[test]
    fn duress_unlock_and_wipe_tell_the_app_to_delete_its_keystore_item() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = Profile::create_with_options(dir.path(), UnlockSecret::passphrase("p"), FAST)
            .expect("create");
        profile
            .set_keystore_secret(&[4; 32], Some(&pass("p")))
            .expect("keystore");
        assert!(matches!(
            profile.set_duress_passphrase(Some(&pass("d"))),
            Ok(KeystoreAction::Keep)
        ));
        assert!(matches!(
            profile.unlock(&UnlockSecret::Keystore([4; 32])),
            Ok(KeystoreAction::Keep)
        ));
        assert!(matches!(
            profile.unlock(&UnlockSecret::passphrase("d")),
            Ok(KeystoreAction::Delete)
        ));
        profile.finish_cleanup();
        assert!(!opens(dir.path(), &UnlockSecret::Keystore([4; 32])));
        assert!(matches!(profile.wipe(), Ok(KeystoreAction::Delete)));
    }

    #[test]
    fn duress_needs_a_passphrase_to_be_typed_at() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile =
            Profile::create_with_options(dir.path(), UnlockSecret::Keystore([5; 32]), FAST)
                .expect("create");
        assert!(matches!(
            profile.set_duress_passphrase(Some(&pass("d"))),
            Err(ProfileError::InvalidInput(_))
        ));
    }

    #[test]
    fn duress_cleanup_destroys_every_file_of_the_replaced_profile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = Profile::create_with_options(dir.path(), UnlockSecret::passphrase("p"), FAST)
            .expect("create");
        for _ in 0..100 {
            profile
                .put_snapshot(DocumentId::random(), &[9; 2000])
                .expect("put");
        }
        profile
            .set_duress_passphrase(Some(&pass("d")))
            .expect("duress");
        let old = file_names(dir.path());
        profile
            .unlock(&UnlockSecret::passphrase("d"))
            .expect("duress unlock");
        profile.finish_cleanup();
        let left = file_names(dir.path());
        // A fresh profile's files: unlock, attempts, keyring, manifest.
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(
            left.iter()
                .all(|n| n == SLOTS_FILE || n == ATTEMPTS_FILE || !old.contains(n))
        );
    }

    /// A crash at each step of a rotation leaves a profile that opens with
    /// the old passphrase (before the commit) or the new one (after), with
    /// its documents, and the next unlock leaves no replaced file behind.
    #[test]
    fn a_crash_at_any_step_of_a_rotation_leaves_a_profile_that_opens() {
        for (step, committed) in [
            ("rotation-keyring-written", false),
            ("linked", false),
            ("rotation-committed", true),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let doc = DocumentId::random();
            let fresh_names;
            {
                let profile =
                    Profile::create_with_options(dir.path(), UnlockSecret::passphrase("old"), FAST)
                        .expect("create");
                profile.put_snapshot(doc, b"entry").expect("put");
                fresh_names = file_names(dir.path()).len();
                FAIL_AT.with(|f| f.set(Some(step)));
                let result = profile.set_passphrase(&pass("new"));
                FAIL_AT.with(|f| f.set(None));
                assert!(
                    result.is_err(),
                    "{step}: the simulated crash must stop the change"
                );
            }
            let (opening, refused) = if committed {
                ("new", "old")
            } else {
                ("old", "new")
            };
            assert!(
                !opens(dir.path(), &UnlockSecret::passphrase(refused)),
                "{step}"
            );
            let profile = Profile::open_with_options(dir.path(), FAST).expect("open");
            profile
                .unlock(&UnlockSecret::passphrase(opening))
                .unwrap_or_else(|e| panic!("{step}: {opening} must open: {e}"));
            assert!(profile.get_document(doc).expect("get").is_some(), "{step}");
            let names = file_names(dir.path());
            assert_eq!(names.len(), fresh_names, "{step}: left behind {names:?}");
            // And the profile keeps working: the change can be redone.
            profile.set_passphrase(&pass("newer")).expect("retry");
            assert!(
                opens(dir.path(), &UnlockSecret::passphrase("newer")),
                "{step}"
            );
        }
    }
}
