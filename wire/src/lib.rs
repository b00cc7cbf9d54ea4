//! Wire types shared by the relay (`safespaces-relay`) and its clients in
//! `safespaces-core`.
//!
//! # Layout
//! This crate is the only thing the relay and core have in common. It knows
//! about mailboxes, opaque blobs and signatures over requests; it knows nothing
//! about spaces, members or sessions, so the relay cannot grow a dependency on
//! the model by accident.
#![forbid(unsafe_code)]
