//! The device profile: one directory, one unlock, one keyring, one store.
//!
//! See the module documentation of [`crate::profile`] for the life cycle and
//! `docs/storage.md` for the on-disk format.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use age_core::secrecy::SecretString;
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, Zeroizing};

use super::ProfileError;
use super::attempts::{ATTEMPTS_FILE, Attempts};
use super::backup;
use super::keyring::{KeyId, Keyring};
use super::passphrase::{PassphraseWork, open_with_passphrase};
use super::unlock_slots::{
    PassphraseMatch, SLOTS_FILE, UnlockSlots, decoy_keystore_slot, decoy_passphrase_slot,
    keystore_slot, passphrase_slot,
};
use crate::crypto::SymmetricKey;
use crate::store::padding::{open_padded, seal_padded};
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
    state: Mutex<State>,
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
        Self::create_from(dir, &secret, options, Keyring::generate(), |_| Ok(()))
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
        Ok(Self {
            dir: dir.to_owned(),
            options,
            state: Mutex::new(State::Locked),
        })
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
    /// reaching the limit wipes the profile (the call still reports
    /// `WrongSecret`; later calls report [`ProfileError::Wiped`]).
    ///
    /// The duress passphrase wipes the real data and unlocks an empty profile
    /// that behaves like a freshly created one.
    ///
    /// Calling `unlock` on an unlocked profile locks it first and checks the
    /// secret from scratch, so a wrong secret leaves it locked.
    pub fn unlock(&self, secret: &UnlockSecret) -> Result<(), ProfileError> {
        let mut state = self.state();
        if matches!(*state, State::Wiped) {
            return Err(ProfileError::Wiped);
        }
        // Unlocking again re-checks the secret from scratch.
        *state = State::Locked;
        let slots = UnlockSlots::read(&self.dir)?;
        let session = match secret {
            UnlockSecret::Keystore(bytes) => match slots.open_keystore(bytes) {
                Some(master) => Some(self.open_session(master)?),
                None => None,
            },
            UnlockSecret::Passphrase(passphrase) => match slots.open_passphrase(passphrase) {
                PassphraseMatch::Real(master) => Some(self.open_session(master)?),
                PassphraseMatch::Duress(master) => Some(self.enter_duress(&slots, master)?),
                PassphraseMatch::None => None,
            },
        };
        match session {
            Some(session) => {
                Attempts::record_success(&self.dir)?;
                *state = State::Unlocked(Box::new(session));
                Ok(())
            }
            None => {
                if Attempts::record_failure(&self.dir)? {
                    wipe_dir(&self.dir, &[])?;
                    *state = State::Wiped;
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
    pub fn wipe(&self) -> Result<(), ProfileError> {
        let mut state = self.state();
        let known = match &*state {
            State::Unlocked(session) => vec![
                keyring_file_name(&session.master),
                DocumentStore::manifest_file_name(session.keyring.storage_key()),
            ],
            _ => Vec::new(),
        };
        // Drop keys from memory before touching the disk.
        *state = State::Wiped;
        wipe_dir(&self.dir, &known)
    }

    /// Sets or replaces the passphrase slot.
    pub fn set_passphrase(&self, passphrase: &SecretString) -> Result<(), ProfileError> {
        self.with_session(|dir, _options, session| {
            let mut slots = UnlockSlots::read(dir)?;
            let log_n = slots_log_n(&slots)?;
            slots.passphrase =
                passphrase_slot(passphrase, PassphraseWork::exact(log_n), &session.master)?.0;
            slots.write(dir)
        })
    }

    /// Sets or replaces the keystore-secret slot.
    pub fn set_keystore_secret(&self, secret: &[u8; 32]) -> Result<(), ProfileError> {
        self.with_session(|dir, _options, session| {
            let mut slots = UnlockSlots::read(dir)?;
            slots.keystore = keystore_slot(secret, &session.master)?;
            slots.write(dir)
        })
    }

    /// Sets (`Some`) or removes (`None`) the duress passphrase. Unlocking with
    /// it later wipes this profile and opens an empty one, protected by the
    /// duress passphrase. It must differ from the unlock passphrase.
    pub fn set_duress_passphrase(
        &self,
        passphrase: Option<&SecretString>,
    ) -> Result<(), ProfileError> {
        self.with_session(|dir, _options, _session| {
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
            slots.write(dir)
        })
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
        Self::create_from(dir, &secret, options, keyring, |store| {
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

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated
        // (every transition is a single assignment), so recover the guard.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
        keyring: Keyring,
        fill: impl FnOnce(&mut DocumentStore) -> Result<(), crate::store::StoreError>,
    ) -> Result<Self, ProfileError> {
        fs::create_dir_all(dir).map_err(ProfileError::io("create profile directory", dir))?;
        if Self::exists(dir) {
            return Err(ProfileError::AlreadyExists(dir.to_owned()));
        }
        let master = SymmetricKey::generate();
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
        Ok(Self {
            dir: dir.to_owned(),
            options,
            state: Mutex::new(State::Unlocked(Box::new(session))),
        })
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
        sweep(&self.dir, &session)?;
        Ok(session)
    }

    /// The duress transition. A new, empty profile is built under the master
    /// key the duress slot wrapped; the new slots file (keystore decoy, the
    /// duress slot moved into the passphrase position, a fresh decoy in the
    /// duress position) is the atomic commit point; the replaced slots file is
    /// then scrubbed through a handle opened before the rename, and the old
    /// files are deleted. A kill before the commit leaves the old profile (the
    /// duress passphrase still triggers duress); after it, the new one.
    fn enter_duress(
        &self,
        old: &UnlockSlots,
        master: SymmetricKey,
    ) -> Result<Session, ProfileError> {
        let log_n = slots_log_n(old)?;
        let session = build_session(&self.dir, master, Keyring::generate(), |_| Ok(()))?;
        let slots = UnlockSlots {
            keystore: decoy_keystore_slot()?,
            passphrase: old.duress.clone(),
            duress: decoy_passphrase_slot(log_n)?,
        };
        let old_path = self.dir.join(SLOTS_FILE);
        let mut old_file = fs::OpenOptions::new()
            .write(true)
            .open(&old_path)
            .map_err(ProfileError::io("open unlock slots", &old_path))?;
        slots.write(&self.dir)?;
        atomic_file::scrub(&mut old_file)
            .map_err(ProfileError::io("overwrite old unlock slots", &old_path))?;
        drop(old_file);
        Attempts::default().write(&self.dir)?;
        sweep(&self.dir, &session)?;
        Ok(session)
    }
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
    atomic_file::replace(dir, &name, &sealed)
        .map_err(ProfileError::io("write keyring", dir.join(&name)))
}

/// Deletes files left behind by crashes or by a previous profile: temporary
/// files, unreferenced chunks, an old keyring or manifest. Only names the
/// profile itself could have written are touched.
fn sweep(dir: &Path, session: &Session) -> Result<(), ProfileError> {
    let mut keep: HashSet<String> = session.store.referenced_files().into_iter().collect();
    keep.insert(keyring_file_name(&session.master));
    let entries = fs::read_dir(dir).map_err(ProfileError::io("list profile directory", dir))?;
    let mut removed = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_sweepable_name(name) && !keep.contains(name) {
            atomic_file::remove_if_present(&entry.path())
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
