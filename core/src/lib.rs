//! Safe Spaces core: everything below the phone UI that is not I/O glue.
//!
//! # Layout
//! - [`model`]: the automerge documents (a *space* per group, a *journal* per
//!   person) mapped with autosurgeon, and the rules derived from them
//!   (waitlists, lead clearance, conflicts). Pure and synchronous: no keys, no
//!   disk, no network.
//! - [`crypto`]: the `safespaces-key` symmetric age recipient/identity that
//!   seals every blob, and other primitives shared by store and protocol.
//! - [`store`]: the on-device document store: automerge bytes per document
//!   id, sealed, padded, crash-safe (temp file, fsync, rename, manifest).
//! - [`profile`]: the device profile: unlock slots, keyring, lock, wipe,
//!   duress, failed-attempt limit, backups and the journal export.
//! - [`engine`]: the sync engine as state machines with no I/O: a pass over
//!   a space (seal, push, pull, compact) yields steps a driver carries out.
//! - [`app`]: what an app holds: the profile with its spaces and journal,
//!   `Send + Sync` handles shaped for the FFI.
//! - [`relay`]: the transport: signed HTTPS requests to the relay, the live
//!   WebSocket subscription with resume, retries with backoff and jitter,
//!   sync status. The app's drivers carry the engine's steps out with it.
//!
//! # Logging
//! Core emits [`tracing`] events (targets `safespaces_core::…`) and installs
//! no subscriber: the app decides where they go (the FFI forwards them to
//! the app's logger, `docs/mobile.md`; `docs/sync.md` lists the events).
//! Levels: `debug` for per-pass detail, `info` for state changes, `warn` for
//! refusals and failures.
//!
//! **An event never carries content or identifiers.** Logs leave the
//! protection of the encrypted store: apps ship them to crash reporters and
//! support people read them, so a log line must be safe to show anyone. No
//! names, pseudonyms, titles, journal text, invite or link codes, keys, no
//! space, member, device or mailbox ids, no relay URLs or pins, and no
//! error messages (they may embed any of these): only counts, kinds
//! ([`relay::RelayError::kind`], [`app::AppError::kind`]), relay error
//! codes, durations, attempt numbers and epoch numbers. The end-to-end test
//! `tests/tests/logging.rs` checks a real sync for canary content.
#![forbid(unsafe_code)]

pub mod app;
pub mod crypto;
pub mod engine;
pub mod model;
pub mod profile;
pub mod protocol;
pub mod relay;
pub mod store;
