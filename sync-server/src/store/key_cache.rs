//! Verifying keys cached in memory, so that authorising a request rarely
//! touches the database.
//!
//! The danger of a key cache is a stale record: a mailbox deleted must never
//! be authorised as if it were still live. Every
//! removal bumps a generation counter, and a key looked up from storage is
//! cached only if no removal happened since the lookup started, so a reader
//! racing a delete cannot put the old key back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use safespaces_wire::MailboxId;

use super::interface::MailboxRecord;

/// Above this many cached keys the cache forgets them all (they reload lazily).
pub(crate) const CACHE_MAX: usize = 100_000;

/// Mailbox id → its keys and whether it is a tombstone.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    keys: RwLock<HashMap<MailboxId, MailboxRecord>>,
    /// Bumped on every removal (see the module docs).
    generation: AtomicU64,
}

impl KeyCache {
    /// The cached key, if any.
    pub(crate) fn get(&self, id: &MailboxId) -> Option<MailboxRecord> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .copied()
    }

    /// The generation to pass to [`KeyCache::insert_if_current`]; read it
    /// *before* looking the key up in storage.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches `key` unless something was removed since `generation` was read.
    pub(crate) fn insert_if_current(&self, id: MailboxId, key: MailboxRecord, generation: u64) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) == generation {
            if keys.len() >= CACHE_MAX {
                keys.clear();
            }
            keys.insert(id, key);
        }
    }

    /// Forgets one key (the mailbox was deleted).
    pub(crate) fn remove(&self, id: &MailboxId) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::SeqCst);
        keys.remove(id);
    }

    /// Forgets every key: used when deletions elsewhere may have gone unseen
    /// (another relay node's notifications were lost).
    pub(crate) fn clear(&self) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::SeqCst);
        keys.clear();
    }
}
