//! End-to-end test helpers: devices against real `safespaces-relay`
//! processes on loopback.
//!
//! # Layout
//! - [`RelayProcess`] and [`relay_binary`] are the relay's own harness
//!   (`safespaces_relay::test_support::relay_process`, behind its
//!   `test-utils` feature), re-exported here: it runs the relay binary on
//!   `127.0.0.1` with a data directory, in `--dev` mode or with given
//!   certificate files, reads the address and certificate pin it prints,
//!   sends it SIGHUP to reload its certificate, and can kill it with SIGKILL
//!   and start it again on the same address and data. `SAFESPACES_RELAY_BIN`
//!   names a prebuilt binary; without it the harness builds one.
//! - [`devices`]: a test profile and a pinned relay client; joining a
//!   space and linking a device through the relay.
//! - [`own_storage`]: the keys a device's own storage gives a hostile
//!   member's modified app, for attack tests.
//! - [`proxy`]: a TCP proxy between a device and the relay that a test can cut.
//! - `src/bin/link-snoop.rs`: someone else holding a link code, as its own
//!   process (`tests/link_confirmation.rs`).
#![forbid(unsafe_code)]
// Test scaffolding: a failure to set up a device should abort the test
// with the reason, which is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod devices;
pub mod own_storage;
pub mod proxy;
pub use devices::{
    assert_no_sequence_alerts, held_epoch_key, join_through_relay, journal_texts,
    link_through_relay, restore_test_device, session_titles, test_client, test_device,
    test_session,
};
pub use proxy::CuttableProxy;
pub use safespaces_relay::test_support::relay_process::{RelayProcess, relay_binary};
