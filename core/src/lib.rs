//! Safe Spaces core: everything below the phone UI that is not I/O glue.
//!
//! # Layout
//! - [`model`]: the automerge documents (a *space* per group, a *journal* per
//!   person) mapped with autosurgeon, and the rules derived from them
//!   (waitlists, lead clearance, conflicts). Pure and synchronous: no keys, no
//!   disk, no network.
#![forbid(unsafe_code)]

pub mod model;
