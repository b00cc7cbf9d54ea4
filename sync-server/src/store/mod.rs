//! Storage behind one async trait, so the embedded SQLite store and the
//! PostgreSQL store (several relay nodes on one database) behave identically (same outcomes, same error codes). The
//! shared behaviour suite lives in `tests/store_suite/` and is run against
//! every implementation.
//!
//! What a store keeps is deliberately little: mailbox ids, verifying keys,
//! blobs with their sequence numbers, per-mailbox counters, drop-boxes and
//! their expiry times. No client addresses, no request times.
//!
//! The rules both stores apply — quotas, sequence numbers, compaction,
//! tombstones and their refusals — live once in [`mailbox_rules`]; a store
//! only reads and writes what those rules decide.

mod committed;
mod interface;
mod key_cache;
pub mod mailbox_rules;
pub mod postgres;
pub mod sqlite;

pub use interface::{
    CommitSink, Compaction, MailboxKeys, MailboxRecord, NoSink, Page, SharedStore, Store,
    StoreError, StoreFuture, StoreLimits, VouchedPut,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
