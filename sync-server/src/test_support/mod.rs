//! Test support, in one place for every crate that tests against a relay:
//! this crate's own tests and load generator, the end-to-end crate
//! (`tests/`) and the CLI's tests. Compiled only with the `test-utils`
//! feature, which is off by default, so the relay binary carries none of it.
//!
//! | module | role |
//! | --- | --- |
//! | [`client`] | [`client::TestRelayClient`]: raw signed requests over pinned TLS (checked by the wire crate's `PinVerifier`, core's too, against the pin [`crate::tls::pin_of`] prints), WebSocket subscriptions, plain HTTP for the operator listener |
//! | [`relay_process`] | [`relay_process::RelayProcess`]: the real relay binary as a child process on loopback (announcement lines read, SIGHUP reload, SIGKILL and restart on the same address and data) |
//!
//! A test that only needs a relay, not a process, starts one in its own
//! process with [`crate::Relay::start`].

pub mod client;
pub mod relay_process;
