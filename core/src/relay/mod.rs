//! Talking to the relay: the transport half of sync.
//!
//! The relay (`docs/relay.md`) keeps an append-only log of opaque blobs per
//! mailbox. This module is its client: signed requests over HTTPS, a live
//! subscription over one WebSocket, retries with backoff and jitter, and an
//! honest [`SyncStatus`] for the UI. It knows nothing about spaces or
//! envelopes; the sync engine on top decides what the blobs mean.
//! `docs/sync.md` describes the behaviour in prose.
//!
//! # Layout
//! - [`client`] — [`RelayTransport`], every HTTP endpoint, pooled
//!   connections, per-endpoint retry rules.
//! - [`subscription`] — [`Subscription`], the live WebSocket that resumes from
//!   per-mailbox cursors after a disconnect.
//! - [`config`] — [`RelayConfig`], URL, trust, token, timeouts.
//! - [`trust`] — [`Trust`]: public-key pins, CA roots or the web PKI. The
//!   pin itself, [`SpkiPin`], and the rustls verifier that checks it are
//!   `safespaces_wire::pin` and `safespaces_wire::PinVerifier`, shared
//!   with the relay, which prints the pin.
//! - [`credential`] — [`MailboxCredential`], a mailbox id and its signing key.
//! - [`retry`] — [`RetryPolicy`], exponential backoff with full jitter.
//! - [`status`] — [`SyncStatus`] and [`StatusWatch`].
//! - [`error`] — [`RelayError`].
//! - `connection` — the TCP + TLS connect shared by requests and subscription.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), safespaces_core::relay::RelayError> {
//! use safespaces_core::protocol::{AdminSeed, EpochKey};
//! use safespaces_core::relay::{MailboxCredential, RelayTransport, RelayConfig, SubscriptionEvent};
//!
//! let config = RelayConfig::pinned("https://127.0.0.1:8443", &"3f".repeat(32))?;
//! let client = RelayTransport::new(config)?;
//! // A coordinator's device holds the admin seed; a member's passes `None`
//! // and can do everything below except compact or delete.
//! let admin = AdminSeed::generate();
//! let mailbox = MailboxCredential::for_epoch(&EpochKey::generate(), admin.public(), Some(&admin));
//! client.create_mailbox(&mailbox).await?;
//!
//! let mut live = client.subscribe();
//! live.add(mailbox.clone(), 0);
//! let seq = client.append(&mailbox, b"sealed envelope".to_vec()).await?;
//! if let Some(SubscriptionEvent::Blob { seq: got, .. }) = live.next().await {
//!     assert_eq!(got, seq);
//! }
//! # Ok(()) }
//! ```

pub mod client;
pub mod config;
mod connection;
pub mod credential;
pub mod error;
pub mod retry;
pub mod status;
pub mod subscription;
pub mod trust;

pub use client::RelayTransport;
pub use config::RelayConfig;
pub use credential::MailboxCredential;
pub use error::RelayError;
pub use retry::RetryPolicy;
pub use safespaces_wire::mailbox::{Blob, Compacted, ReadPage};
pub use safespaces_wire::{DropboxId, ErrorCode, MailboxId, SpkiPin};
pub use status::{StatusWatch, SyncStatus};
pub use subscription::{Subscription, SubscriptionEvent};
pub use trust::Trust;
