//! The objects an app holds: a profile with its spaces and journal, shaped
//! for the FFI (`Send + Sync`, `&self` methods, no lifetimes, owned values).
//!
//! # Layout
//! This file only declares the modules and re-exports what apps use; no
//! child imports through it (`docs/architecture.md`, "No import cycles
//! between files").
//!
//! - [`SafeSpaces`] (`safe_spaces.rs`): the profile's life cycle (create,
//!   unlock, lock, wipe) and its spaces.
//! - `shared.rs`: what the handles share (`Shared`: the profile, the
//!   decrypted `Loaded` state while unlocked, the progress slot) and
//!   loading it after an unlock.
//! - [`Space`] (`space_handle.rs`): one space: members, sessions, sign-ups,
//!   training, signposting, conflicts.
//! - [`Journal`] (`journal_handle.rs`): the private journal.
//! - `offline.rs` and `bundle.rs`: invites, joining, and offline bundles
//!   (syncing face to face by passing one age file); [`BundleReport`]
//!   (`bundle_report.rs`): what receiving envelopes did, for bundles and
//!   relay pulls alike.
//! - `journal_sync.rs`: opt-in journal sync between a person's own devices.
//! - `linking.rs`: linking a person's second device through the relay.
//! - `own_devices.rs`: the person's own devices: listing and naming them,
//!   removing a lost one from every space and the journal.
//! - `leaving.rs`: a space this person is no longer in: how it shows,
//!   forgetting it, coming back; `standing.rs`: where this device stands
//!   in a space (member, left, removed as a device).
//! - `space_sync.rs`: the device's half of a sync pass (sealing the outbox,
//!   the snapshot envelope, receiving pulled blobs), and [`SyncReport`].
//! - `drive/`: the drivers of the engine (`core/src/engine/`): the relay
//!   driver behind [`SafeSpaces::sync`] and live updates
//!   ([`SafeSpaces::live`], a listener told which space changed).
//! - `receive.rs`: what each received envelope does, for bundles and relay alike.
//! - `author_sequences.rs`: each author's envelope numbers, checked for
//!   envelopes the relay withheld and numbers used twice; the numbers seen
//!   and the counts, as persisted ([`MailboxNumbers`], [`SequenceCounts`]),
//!   in `mailbox_numbers.rs`.
//! - `rotation.rs`: removing a member and moving to a new epoch.
//! - `key_grants.rs`: granting the current key to devices a handover missed,
//!   and the mailbox admin seed to coordinators' devices that lack it.
//! - `snapshots.rs`: the snapshots this device signs, and the first one a
//!   joining or newly linked device checks from the space's creation.
//! - `registry.rs`: what the device persists about its spaces, typed (its
//!   format, version 4).
//! - `device_state.rs`: the one way to change it: persist first, then swap
//!   memory (`Shared::update_registry`, `Shared::update_space`).
//! - `keys.rs`: where every key this device holds is found (`Keys`).
//! - `adopting.rs`: adopting a space, the one path for joining by bundle,
//!   joining through the relay and linking.
//! - `sync_log.rs`: what the sync engine logs about a pass (counts only).
//! - [`ProgressWatch`] (`progress.rs`): installing the sync progress
//!   callback and the guard that removes it; [`Progress`] and the slot that
//!   holds the callback in `progress_slot.rs`.
//! - [`AppError`] (`error.rs`): what went wrong, with
//!   [`InviteUseError`] (`invite_use_error.rs`): which join step an invite
//!   failed at; [`ErrorClass`] (`error_class.rs`): the one classification
//!   apps and the CLI act on.
//!
//! Decrypted documents live only inside [`SafeSpaces`] while unlocked.
//! Handles hold no document of their own, so [`SafeSpaces::lock`] really
//! drops every document and key from memory: a handle used after locking
//! answers [`AppError::Locked`].
//!
//! Every write is persisted (as an automerge increment, sealed by the
//! store) before it returns, so a write that returned survives a crash.

mod adopting;
mod author_sequences;
mod bundle;
mod bundle_report;
mod cover_leads;
mod device_state;
mod drive;
mod error;
mod error_class;
mod invite_use_error;
mod joining;
mod journal_handle;
mod journal_sync;
mod key_grants;
mod keys;
mod leaving;
mod linking;
mod mailbox_numbers;
mod offline;
mod own_devices;
mod progress;
mod progress_slot;
mod receive;
mod registry;
mod rotation;
mod safe_spaces;
mod shared;
mod snapshots;
mod space_handle;
mod space_sync;
mod standing;
mod sync_log;

pub use author_sequences::{SequenceAlert, SequenceStatus};
pub use bundle_report::BundleReport;
pub use drive::live::{LIVE_PUSH_DEBOUNCE, LIVE_PUSH_INTERVAL, LiveSync, SpaceListener};
pub use error::{AppError, AppResult, BoxError, InputSource};
pub use error_class::ErrorClass;
pub use invite_use_error::InviteUseError;
pub use joining::{Invitation, InviteStatus, JoinRequestFile, PendingJoinStatus};
pub use journal_handle::Journal;
pub use linking::{LINK_TTL, LinkOffer, PendingLink};
pub use mailbox_numbers::{MailboxNumbers, SequenceCounts};
pub use own_devices::DeviceInfo;
pub use progress::ProgressWatch;
pub use progress_slot::{Progress, ProgressFn};
pub use safe_spaces::{SafeSpaces, SpaceSummary};
pub use space_sync::{SpaceSyncFailure, SyncReport};
// The engine's rules, where apps and tests looked for them before.
pub use crate::engine::{COMPACT_AFTER_BLOBS, HOLD_REQUESTS_SECS, RESEND_REQUEST_AFTER_SECS};
pub use space_handle::{Blocked, MyPlace, RosterView, Space};

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
