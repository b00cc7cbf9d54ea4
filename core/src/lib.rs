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
//! - [`app`]: what an app holds: the profile with its spaces and journal,
//!   `Send + Sync` handles shaped for the FFI.
//! - [`sync`]: the relay client: signed HTTPS requests, the live WebSocket
//!   subscription with resume, retries with backoff and jitter, sync status.
#![forbid(unsafe_code)]

pub mod app;
pub mod crypto;
pub mod model;
pub mod profile;
pub mod protocol;
pub mod store;
pub mod sync;
