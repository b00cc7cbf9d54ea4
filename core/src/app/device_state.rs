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
//! [`Shared::update_registry`] and [`Shared::update_space`] are the only
//! ways to change the saved registry; the write itself
//! ([`save_registry`]) is private to this file. A change that changes
//! nothing writes nothing.
//!
//! Documents persist on their own (an automerge increment appended as they
//! change, [`Shared::persist_space`]); a change that also writes a document
//! persists it inside the closure, so the document is on disk before the
//! registry entry that points past it (a cursor, sealed heads).

use super::registry::{REGISTRY_DOCUMENT, REGISTRY_VERSION, Registry, SpaceEntry};
use super::{AppError, AppResult, Loaded, Shared};
use crate::protocol::SpaceId;

impl Shared {
    /// Changes the registry: `change` edits a copy, and may read and write
    /// the rest of the loaded state meanwhile (its documents, persisted
    /// inside the closure; the registry in memory is still the one before
    /// the change). The copy is then saved and only then swapped in. If
    /// `change` or the save fails, the registry in memory is as it was.
    pub(crate) fn update_registry<T>(
        &self,
        loaded: &mut Loaded,
        change: impl FnOnce(&mut Registry, &mut Loaded) -> AppResult<T>,
    ) -> AppResult<T> {
        let mut next = loaded.registry.clone();
        let out = change(&mut next, loaded)?;
        // A change that changes nothing writes nothing.
        if next != loaded.registry {
            save_registry(self, &next)?;
            loaded.registry = next;
        }
        Ok(out)
    }

    /// Changes one space's registry entry, as [`Shared::update_registry`]
    /// changes the registry: `change` edits a copy of the entry.
    pub(crate) fn update_space<T>(
        &self,
        loaded: &mut Loaded,
        space: SpaceId,
        change: impl FnOnce(&mut SpaceEntry, &mut Loaded) -> AppResult<T>,
    ) -> AppResult<T> {
        self.update_registry(loaded, |registry, loaded| {
            let entry = registry
                .spaces
                .get_mut(&space)
                .ok_or_else(|| AppError::UnknownSpace(space.to_hex()))?;
            change(entry, loaded)
        })
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

/// The one write of the registry (see the module docs for who calls it).
fn save_registry(shared: &Shared, registry: &Registry) -> AppResult<()> {
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(registry).map_err(|e| AppError::Corrupt(e.to_string()))?,
    );
    shared.profile.put_snapshot(REGISTRY_DOCUMENT, &json)?;
    Ok(())
}

/// Parses a saved registry, refusing another format version before
/// anything else.
pub(crate) fn decode_registry(bytes: &[u8]) -> AppResult<Registry> {
    #[derive(serde::Deserialize)]
    struct Version {
        v: u8,
    }
    let version: Version =
        serde_json::from_slice(bytes).map_err(|e| AppError::Corrupt(format!("registry: {e}")))?;
    if version.v != REGISTRY_VERSION {
        return Err(AppError::Corrupt(format!(
            "this profile was made by another version of the app (registry {}, this app reads {REGISTRY_VERSION})",
            version.v
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| AppError::Corrupt(format!("registry: {e}")))
}
