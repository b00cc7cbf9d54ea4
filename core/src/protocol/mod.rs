//! The end-to-end encryption protocol (docs/protocol.md).
//!
//! # Layout
//! - [`epoch`]: epoch keys and what derives from them (content key, relay
//!   mailbox id, mailbox signing key).
//! - [`envelope`]: the signed, sealed, padded unit every blob on the wire is.
//! - [`devices`]: a device's keys: parsing them, binding them to the device, which
//!   member a device writes as, and the recipients to seal to devices.
//! - [`error`]: the errors several files return, and an index of every protocol error.
//! - [`genesis`]: a space's creation, which its id commits to; checking a history from it.
//! - [`exchange`]: sealing a replica's changes, and receiving envelopes with every check.
//! - [`invite`]: invite codes and the three messages of a join: package, request, welcome.
//! - `admission`: the one change that uses an invite (an admission by the inviter), and revocations.
//! - [`link`]: linking a person's second device (link code, request, package).
//! - [`journal_epoch`]: the journal's epochs: a new journal key, sealed to the person's remaining devices, when one is removed.
//! - [`rotation`]: new epochs on removal or departure, sealed to the remaining devices.
//! - [`key_grant`]: a new epoch's key re-sealed to a device its handover missed (added concurrently).
//! - [`admin_grant`]: an epoch mailbox's admin seed sealed to a coordinator's device that does not hold it.
//! - [`removal`]: removals, which of them a new epoch still has to answer, and who may
//!   (a handover's check, `check_handover`, is in [`rotation`]).
//! - [`attendance`]: sign-ups only a session's leads can attribute.
//! - [`authorship`]: whether a signed change batch is its signer's to send.
//! - [`attestation`]: devices' signed proofs that changes are theirs, carried in batches and snapshots.
//! - [`snapshot`]: a snapshot's body: the document and its attestations.
//! - [`staging`]: checked changes held back so a run of batches is applied in one call.
//! - `state_at`: reading the document at a causal point, for every check above.

pub mod admin_grant;
mod admission;
pub mod attendance;
pub mod attestation;
pub mod authorship;
mod code;
pub mod devices;
pub mod envelope;
pub mod epoch;
pub mod error;
pub mod exchange;
pub mod genesis;
pub mod invite;
pub mod journal_epoch;
pub mod key_grant;
pub mod link;
mod parallel;
pub mod removal;
pub mod rotation;
mod session_rules;
pub mod snapshot;
pub mod staging;
mod state_at;

pub use authorship::check_batch;
pub use envelope::{Envelope, EnvelopeError, EnvelopeKind, SpaceId};
pub use epoch::{AdminKey, AdminSeed, EpochKey, MailboxId};
pub use error::{AuthorshipError, RotationError};
pub use rotation::Handover;
