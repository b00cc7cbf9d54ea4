//! Wire types shared by the relay (`safespaces-relay`) and its clients in
//! `safespaces-core`.
//!
//! # Layout
//! This crate is the only thing the relay and core have in common. It knows
//! about mailboxes, opaque blobs and signatures over requests; it knows nothing
//! about spaces, members or sessions, so the relay cannot grow a dependency on
//! the model by accident.
//!
//! | module | role |
//! | --- | --- |
//! | [`id`] | [`MailboxId`] and [`DropboxId`]: opaque 32-byte ids, hex on the wire, redacted in `Debug` |
//! | [`auth`] | the canonical bytes a request signature covers, and [`sign`]/[`verify`] helpers |
//! | [`error`] | [`ErrorCode`]: the stable error codes and the JSON error body |
//! | [`mailbox`] | request and response bodies of the mailbox endpoints |
//! | [`subscription`] | the JSON frames of the WebSocket subscription protocol |
//! | [`dropbox`] | request and response bodies of the one-time drop-box endpoints |
//! | [`base64_field`] | serde adapter that carries opaque bytes as base64 inside JSON |
//! | [`pin`] | [`SpkiPin`]: a relay's public-key pin, the one both the relay prints and clients compare |
//! | `pin_verifier` | `PinVerifier` (feature `tls`): the rustls check that accepts only a pinned key, for core's client and the relay's test client |
//!
//! # Features
//! - `tls`: the rustls pieces (`PinVerifier`, `SpkiPin::of_certificate`).
//!   Off by default, so a crate that needs only the wire types builds
//!   without rustls; core and the relay turn it on, and both already link
//!   the same rustls.
//!
//! # Signing a request, as a client does
//! ```
//! use ed25519_dalek::SigningKey;
//! use safespaces_wire::{auth, MailboxId, Operation};
//!
//! let key = SigningKey::from_bytes(&[7; 32]);
//! let mailbox = MailboxId::from_bytes([1; 32]);
//! let body = b"opaque ciphertext";
//! let host = "relay.example.org";
//! let proof = auth::sign(&key, host, Operation::Append, &mailbox, body, 1_700_000_000, [9; 16]);
//! // The relay checks the same thing with only the verifying key:
//! auth::verify(&key.verifying_key(), host, Operation::Append, &mailbox, body, &proof).unwrap();
//! // ...and a proof for one operation, or one relay, is useless for another.
//! assert!(auth::verify(&key.verifying_key(), host, Operation::Delete, &mailbox, body, &proof).is_err());
//! assert!(auth::verify(&key.verifying_key(), "other.example", Operation::Append, &mailbox, body, &proof).is_err());
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod base64_field;
pub mod dropbox;
pub mod error;
pub mod id;
pub mod mailbox;
pub mod pin;
#[cfg(feature = "tls")]
pub mod pin_verifier;
pub mod subscription;

pub use auth::{Operation, RequestProof, sign, verify};
pub use error::{ErrorBody, ErrorCode};
pub use id::{DropboxId, IdParseError, MailboxId};
pub use pin::{PinMismatch, PinParseError, SpkiPin};
#[cfg(feature = "tls")]
pub use pin_verifier::PinVerifier;
