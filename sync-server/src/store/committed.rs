//! What a committed write batch tells the key cache and the subscribers.
//!
//! Both stores collect these while they apply a batch and hand them over
//! only after the commit returned: a subscriber must never see a blob, nor
//! the cache a key, that a failed commit took back.

use bytes::Bytes;
use safespaces_wire::MailboxId;

use super::interface::{CommitSink, MailboxKeys, MailboxRecord};
use super::key_cache::KeyCache;

/// One change a batch made that someone outside the store cares about.
pub(crate) enum Effect {
    /// A blob was appended.
    Blob(MailboxId, u64, Bytes),
    /// A mailbox was created with these keys.
    Created(MailboxId, MailboxKeys),
    /// A mailbox became a tombstone.
    Deleted(MailboxId),
}

/// Tells `sink` and `keys` about a committed batch's effects, in order.
pub(crate) fn publish(effects: Vec<Effect>, sink: &dyn CommitSink, keys: &KeyCache) {
    for effect in effects {
        match effect {
            Effect::Blob(id, seq, data) => sink.committed(&id, seq, &data),
            Effect::Created(id, created) => {
                let generation = keys.generation();
                let record = MailboxRecord {
                    keys: created,
                    deleted: false,
                };
                keys.insert_if_current(id, record, generation);
            }
            Effect::Deleted(id) => {
                keys.remove(&id);
                sink.mailbox_deleted(&id);
            }
        }
    }
}
