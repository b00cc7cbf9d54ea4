//! The Safe Spaces relay: a blind store-and-forward server for opaque,
//! end-to-end encrypted blobs.
//!
//! It keeps an append-only log of blobs per mailbox with server-assigned
//! sequence numbers, pushes new blobs to WebSocket subscribers, deletes
//! ranges that a signed compaction request says a snapshot covers, and holds
//! one-time expiring drop-boxes for invites. It never parses a payload, keeps
//! no accounts and never records client addresses. Every mailbox operation is
//! signed with the mailbox's Ed25519 key (see [`safespaces_wire::auth`]), so
//! knowing a mailbox id is not enough to do anything with it. The HTTP API,
//! limits and what an operator can observe are described in `docs/relay.md`.
//!
//! # Layout
//!
//! | module | role |
//! | --- | --- |
//! | [`config`] | flags and environment variables (clap), limits, what must not start |
//! | [`pin`] | the `safespaces-relay pin` subcommand: a certificate's or key's SPKI pin |
//! | [`server`] | [`Relay`]: TLS accept loop, per-connection HTTP/1.1, sweeper, graceful shutdown |
//! | [`tls`] | rustls configuration (ring, TLS 1.3 only), development certificate, public-key pins, reload on SIGHUP |
//! | [`routes`] | the router and handlers: [`routes::mailbox`], [`routes::dropbox`], [`routes::subscribe`] (WebSocket), [`routes::ops`] (health, metrics, OpenAPI); reading bodies and path ids in `routes/request.rs` |
//! | [`auth`] | checks request proofs: time window, signature, nonce |
//! | [`replay`] | the nonce memory behind replay protection |
//! | [`hub`] | live fan-out of committed blobs to subscribed connections |
//! | [`store`] | the [`store::Store`] trait and its types (`store/interface.rs`); the rules both stores apply ([`store::mailbox_rules`]: quotas, sequence numbers, compaction, tombstones); the SQLite store (default) and the PostgreSQL store (several nodes, cross-node fan-out by `LISTEN`/`NOTIFY`), both with group commit |
//! | [`rate_limit`] | per-connection token buckets |
//! | [`pacing`] | peers too slow to send a body or to read what they asked for are cut off |
//! | [`metrics`] | Prometheus counters without ids or addresses |
//! | [`api_error`] | refusals as JSON responses with stable codes |
//! | [`app`] | state shared by handlers |
//! | `test_support` | only with the `test-utils` feature (off by default): the test client and the relay-process harness that this crate's tests, the load generator, the end-to-end crate and the CLI's tests share |
//!
//! Binaries: `safespaces-relay` (`src/main.rs`) and the load generator
//! `relay-loadgen` (`src/bin/relay-loadgen.rs`, needs `--features test-utils`).
#![forbid(unsafe_code)]

pub mod api_error;
pub mod app;
pub mod auth;
pub mod config;
pub mod hub;
pub mod metrics;
pub mod pacing;
pub mod pin;
pub mod rate_limit;
pub mod replay;
pub mod routes;
pub mod server;
pub mod store;
#[cfg(feature = "test-utils")]
pub mod test_support;
pub mod tls;

pub use config::Config;
pub use server::{Relay, RelayError};

/// Prefix of the stdout line that announces the bound address.
pub const LISTENING_LINE: &str = "safespaces-relay listening on ";
/// Prefix of the stdout line that announces the certificate's pin (the
/// SHA-256 of its public key, SPKI), at start-up and after every successful
/// certificate reload (SIGHUP).
pub const PIN_LINE: &str = "certificate spki sha256 pin: ";
/// The stdout line printed when a reload (SIGHUP) failed and the previous
/// certificate stays in use; the reason goes to the log.
pub const RELOAD_FAILED_LINE: &str =
    "certificate reload failed; still serving the previous certificate";
/// Prefix of the stdout line that announces the metrics listener's bound
/// address (printed before the pin line, only with `--metrics-listen`).
pub const METRICS_LINE: &str = "safespaces-relay metrics on ";
