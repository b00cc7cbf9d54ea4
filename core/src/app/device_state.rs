//! The device's saved state and the one rule for changing it: **persist
//! first, then swap memory**.
//!
//! What this device knows about its spaces lives twice while unlocked: in
//! the sealed store (the registry, `registry.rs`) and in memory
//! ([`Loaded::registry`]). Every change is made to a copy, the copy is
//! saved through the encrypted store, and only then does it replace what
//! is in memory. A change that fails (its own check, or the write) leaves
//! memory exactly as it was, so memory is never ahead of disk: a crash, a
//! full disk or a refused write can lose the change, never make the app
//! act on state it will not find again after a restart (docs/storage.md,
//! "Crash safety"). A poisoned state lock is recovered for the same reason
//! ([`Shared::lock_state`]).
//!
//! [`Shared::update_registry`], [`Shared::update_space`] and
//! [`Shared::update_space_with_document`] are the only ways to change the
//! saved registry; each ends in `swap_in_writing`, the one place memory
//! takes a new registry, and only after its write, private to this file.
//! A change that changes nothing writes nothing.
//!
//! Documents persist on their own (an automerge increment appended as they
//! change, [`Shared::persist_space`]); a change that also writes a document
//! persists it inside the closure, so the document is on disk before the
//! registry entry that points past it (a cursor, sealed heads). A receive,
//! the one such change on every live update, uses
//! [`Shared::update_space_with_document`] instead: the space's increment
//! and the registry in one store commit, both or neither.

use super::error::{AppError, AppResult};
use super::registry::{REGISTRY_DOCUMENT, REGISTRY_VERSION, Registry, SpaceEntry};
use super::shared::{Loaded, Shared};
use crate::protocol::SpaceId;

impl Shared {
    /// Changes the registry: `change` edits a copy, and may read and write
    /// the rest of the loaded state meanwhile (its documents, persisted
    /// inside the closure; the registry in memory is still the one before
    /// the change, and is replaced by the copy). The copy is then saved and
    /// only then swapped in. If `change` or the save fails, the registry in
    /// memory is as it was.
    pub(crate) fn update_registry<T>(
        &self,
        loaded: &mut Loaded,
        change: impl FnOnce(&mut Registry, &mut Loaded) -> AppResult<T>,
    ) -> AppResult<T> {
        let mut next = loaded.registry.clone();
        let out = change(&mut next, loaded)?;
        self.swap_in(loaded, next)?;
        Ok(out)
    }

    /// Changes one space's registry entry: `change` edits a copy of the
    /// entry, and may read and write the rest of the loaded state meanwhile
    /// (the registry in memory still holds the entry as it was). The
    /// registry as it then stands, with the copy in place of the entry, is
    /// saved and only then swapped in. If `change` or the save fails, the
    /// entry in memory is as it was.
    ///
    /// The registry is copied after `change`, not before, for the one note
    /// kept in memory until the next save: when this device last heard from
    /// each of the person's devices (`receive::note_seen`), which a
    /// receive notes on the registry in memory while it edits the entry.
    pub(crate) fn update_space<T>(
        &self,
        loaded: &mut Loaded,
        space: SpaceId,
        change: impl FnOnce(&mut SpaceEntry, &mut Loaded) -> AppResult<T>,
    ) -> AppResult<T> {
        let mut entry = super::space_handle::entry(loaded, space)?.clone();
        let out = change(&mut entry, loaded)?;
        let mut next = loaded.registry.clone();
        next.spaces.insert(space, entry);
        self.swap_in(loaded, next)?;
        Ok(out)
    }

    /// [`Shared::update_space`] for a change that also changes the space's
    /// document (a receive): the document's unsaved changes and the
    /// registry that points past them (the cursor, the envelopes still
    /// waiting) are written in one commit, both or neither, and only then
    /// is the registry swapped in. `change` leaves the document's changes
    /// unsaved; they are saved here.
    pub(crate) fn update_space_with_document<T>(
        &self,
        loaded: &mut Loaded,
        space: SpaceId,
        change: impl FnOnce(&mut SpaceEntry, &mut Loaded) -> AppResult<T>,
    ) -> AppResult<T> {
        let mut entry = super::space_handle::entry(loaded, space)?.clone();
        let document = entry.document;
        let out = change(&mut entry, loaded)?;
        let mut next = loaded.registry.clone();
        next.spaces.insert(space, entry);
        self.swap_in_writing(loaded, next, |loaded, registry| {
            let profile = &self.profile;
            let written = match (loaded.spaces.get_mut(&space), registry) {
                (Some(doc), registry) => doc.save_incremental_then(|increment, doc| {
                    match (increment.is_empty(), registry) {
                        (true, None) => Ok(()),
                        (true, Some(json)) => profile.put_snapshot(REGISTRY_DOCUMENT, json),
                        (false, None) => {
                            profile.append_increment_of(document, increment, || doc.save())
                        }
                        (false, Some(json)) => profile.append_increment_with_snapshot(
                            document,
                            increment,
                            || doc.save(),
                            REGISTRY_DOCUMENT,
                            json,
                        ),
                    }
                }),
                (None, Some(json)) => profile.put_snapshot(REGISTRY_DOCUMENT, json),
                (None, None) => Ok(()),
            };
            Ok(written?)
        })?;
        Ok(out)
    }

    /// Saves `next` and only then makes it the registry in memory. A change
    /// that changes nothing writes nothing.
    fn swap_in(&self, loaded: &mut Loaded, next: Registry) -> AppResult<()> {
        self.swap_in_writing(loaded, next, |_, registry| match registry {
            Some(json) => Ok(self.profile.put_snapshot(REGISTRY_DOCUMENT, json)?),
            None => Ok(()),
        })
    }

    /// The rule itself: `write` is given the registry's bytes when `next`
    /// changed it (and writes them, with whatever must go in the same
    /// commit); only once it succeeds is `next` the registry in memory.
    fn swap_in_writing(
        &self,
        loaded: &mut Loaded,
        next: Registry,
        write: impl FnOnce(&mut Loaded, Option<&[u8]>) -> AppResult<()>,
    ) -> AppResult<()> {
        let json = if next == loaded.registry {
            None
        } else {
            Some(encode_registry(&next)?)
        };
        write(loaded, json.as_deref().map(Vec::as_slice))?;
        loaded.registry = next;
        Ok(())
    }

    /// Saves the registry of a profile used for the first time (or after a
    /// duress unlock), before anything is in memory.
    pub(crate) fn save_first_registry(&self, registry: &Registry) -> AppResult<()> {
        save_registry(self, registry)
    }

    /// The saved registry, if the profile has one. Damage anywhere in it (a
    /// field that does not parse, another format version) is refused here,
    /// once, with what was wrong: nothing later re-parses or skips a field.
    pub(crate) fn read_registry(&self) -> AppResult<Option<Registry>> {
        let stored = self.profile.get_document(REGISTRY_DOCUMENT)?;
        let Some(bytes) = stored.and_then(|s| s.snapshot) else {
            return Ok(None);
        };
        decode_registry(&zeroize::Zeroizing::new(bytes)).map(Some)
    }
}

/// A first registry's write, with nothing in memory to swap.
fn save_registry(shared: &Shared, registry: &Registry) -> AppResult<()> {
    let json = encode_registry(registry)?;
    shared.profile.put_snapshot(REGISTRY_DOCUMENT, &json)?;
    Ok(())
}

/// The registry as saved (JSON), wiped from memory once written.
fn encode_registry(registry: &Registry) -> AppResult<zeroize::Zeroizing<Vec<u8>>> {
    Ok(zeroize::Zeroizing::new(
        serde_json::to_vec(registry).map_err(|e| AppError::internal("encoding the registry", e))?,
    ))
}

/// Parses a saved registry, refusing another format version before
/// anything else.
pub(crate) fn decode_registry(bytes: &[u8]) -> AppResult<Registry> {
    #[derive(serde::Deserialize)]
    struct Version {
        v: u8,
    }
    let version: Version =
        serde_json::from_slice(bytes).map_err(|e| AppError::damaged_by("the registry", e))?;
    if version.v != REGISTRY_VERSION {
        return Err(AppError::OtherVersion {
            found: version.v,
            reads: REGISTRY_VERSION,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| AppError::damaged_by("the registry", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;
    use crate::profile::{PassphraseWork, ProfileOptions, UnlockSecret};

    fn options() -> ProfileOptions {
        ProfileOptions {
            passphrase_work: PassphraseWork::InsecureTestOnly { log_n: 4 },
        }
    }

    fn secret() -> UnlockSecret {
        UnlockSecret::passphrase("correct horse battery staple")
    }

    /// A profile with one space, and that space's id.
    fn with_space(dir: &std::path::Path) -> (super::super::safe_spaces::SafeSpaces, SpaceId) {
        let app = super::super::safe_spaces::SafeSpaces::create(dir, secret(), options()).unwrap();
        let space = app.create_space("group", "Robin", Timestamp(1)).unwrap();
        let id = SpaceId(super::super::registry::parse16(&space.id()).unwrap());
        (app, id)
    }

    fn saved(app: &super::super::safe_spaces::SafeSpaces) -> Registry {
        app.shared.read_registry().unwrap().unwrap()
    }

    /// A profile with one space (in a directory kept while it is held),
    /// and its registry as saved.
    fn saved_space() -> (
        tempfile::TempDir,
        super::super::safe_spaces::SafeSpaces,
        SpaceId,
        Registry,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (app, space) = with_space(dir.path());
        let before = saved(&app);
        (dir, app, space, before)
    }

    #[test]
    fn a_failing_change_leaves_memory_and_disk_as_they_were() {
        let (_dir, app, space, before) = saved_space();
        let shared = &app.shared;
        let out: AppResult<()> = shared.with_loaded(|loaded| {
            shared.update_space(loaded, space, |entry, _| {
                entry.cursor = 42;
                entry.next_sequence = 7;
                Err(AppError::bug("refused halfway"))
            })
        });
        assert!(matches!(out, Err(AppError::Internal { .. })));
        shared
            .with_loaded(|loaded| {
                assert_eq!(loaded.registry, before);
                Ok(())
            })
            .unwrap();
        assert_eq!(saved(&app), before);
    }

    #[test]
    fn a_failed_save_leaves_memory_as_it_was() {
        let (_dir, app, space, before) = saved_space();
        let shared = &app.shared;
        {
            let mut state = shared.lock_state();
            let loaded = state.as_mut().unwrap();
            // The store refuses every write from here on: a real failure
            // of the save, after the closure succeeded.
            shared.profile.lock();
            let out = shared.update_space(loaded, space, |entry, _| {
                entry.cursor = 42;
                Ok(())
            });
            assert!(out.is_err(), "the save cannot succeed on a locked store");
            assert_eq!(loaded.registry, before);
        }
        app.unlock(&secret()).unwrap();
        assert_eq!(saved(&app), before);
    }

    #[test]
    fn a_change_is_on_disk_before_it_is_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (app, space) = with_space(dir.path());
        let shared = &app.shared;
        shared
            .with_loaded(|loaded| {
                shared.update_space(loaded, space, |entry, _| {
                    entry.cursor = 42;
                    Ok(())
                })?;
                assert_eq!(loaded.registry.spaces[&space].cursor, 42);
                Ok(())
            })
            .unwrap();
        assert_eq!(saved(&app).spaces[&space].cursor, 42);
    }

    /// What unlocking says of a profile with one space whose saved
    /// registry `damage` edited (given the JSON and the space's id); it must
    /// refuse it as damaged data.
    fn refused(damage: impl FnOnce(&mut serde_json::Value, &str)) -> String {
        let dir = tempfile::tempdir().unwrap();
        let (app, space) = with_space(dir.path());
        let mut json = serde_json::to_value(saved(&app)).unwrap();
        damage(&mut json, &space.to_hex());
        let bytes = serde_json::to_vec(&json).unwrap();
        app.shared
            .profile
            .put_snapshot(REGISTRY_DOCUMENT, &bytes)
            .unwrap();
        app.lock();
        match app.unlock(&secret()) {
            Err(e @ (AppError::DamagedLocalData { .. } | AppError::OtherVersion { .. })) => {
                let source = std::error::Error::source(&e).map(ToString::to_string);
                format!("{e}: {}", source.unwrap_or_default())
            }
            other => panic!("not refused as damaged: {other:?}"),
        }
    }

    #[test]
    fn a_damaged_change_hash_is_refused_when_the_registry_is_read() {
        let message = refused(|json, space| {
            json["spaces"][space]["sealed_heads"] = serde_json::json!(["not-a-hash"]);
        });
        assert!(message.contains("registry"), "{message}");
        assert!(message.contains("not-a-hash"), "{message}");
    }

    #[test]
    fn a_damaged_sealed_envelope_or_id_is_refused_when_the_registry_is_read() {
        let message = refused(|json, space| {
            json["spaces"][space]["outbox"] =
                serde_json::json!([{"epoch": 0, "envelope": "%%% not base64"}]);
        });
        assert!(message.contains("a sealed envelope"), "{message}");
        let message = refused(|json, _| json["journal_document"] = serde_json::json!("abc"));
        assert!(message.contains("a document id"), "{message}");
    }

    #[test]
    fn another_registry_version_is_refused_before_its_fields_are_read() {
        let message = refused(|json, _| {
            json["v"] = serde_json::json!(REGISTRY_VERSION - 1);
            json["spaces"] = serde_json::json!("an older shape");
        });
        assert!(message.contains("another version of the app"), "{message}");
    }
}
