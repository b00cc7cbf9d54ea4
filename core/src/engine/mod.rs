//! The sync engine: what a device does to sync a space, as state machines
//! that do no I/O (no tokio, no locks, no relay client), in the style of
//! automerge's `sync` module and matrix-sdk-crypto's outgoing requests.
//!
//! A driver (the relay driver behind [`crate::app::SafeSpaces::sync`], live
//! updates, or a test's [`MemoryMailbox`]) asks a [`SpacePass`] for the next
//! [`Step`], carries it out, and tells the pass the [`Outcome`]. The pass
//! changes the device's state only through [`SyncDevice`], whose calls
//! persist before they return, so a pass cut off anywhere resumes from
//! what was saved. `docs/sync.md` ("The engine") describes the behaviour.
//!
//! # Layout
//! - [`pass`]: [`SpacePass`], the pass over one space: seal, make sure of
//!   the mailbox, push, pull page by page, read the epoch left behind,
//!   compact; up to [`MAX_ROUNDS`] rounds when handovers move the space.
//! - [`compaction`]: when a mailbox is compacted and how far
//!   ([`COMPACT_AFTER_BLOBS`], the attendance-request holds), and when a
//!   request is sent again.
//! - [`settle`]: receiving a batch until nothing more settles, and the
//!   waiting list's budget.
//! - [`memory_mailbox`]: [`MemoryMailbox`], a mailbox in memory with the
//!   relay's semantics, for tests and examples.
//!
//! # Example: two devices, one pass each
//!
//! Each device's state of a space is whatever implements [`SyncDevice`];
//! here, a toy device whose document is a list of notes. Ann writes a
//! note; her pass creates the mailbox (starting it with a snapshot) and
//! pushes it; Ben's pass pulls it.
//!
//! ```
//! use safespaces_core::engine::{
//!     HeldRequest, MemoryMailbox, PassMode, SpacePass, SpaceSyncState, SpaceView, SyncDevice,
//! };
//! use safespaces_core::model::Timestamp;
//! use safespaces_core::relay::ReadPage;
//!
//! #[derive(Default)]
//! struct Notes { notes: Vec<String>, unsent: Vec<String>, outbox: Vec<Vec<u8>>, cursor: u64 }
//!
//! impl SyncDevice for Notes {
//!     type Error = std::convert::Infallible;
//!     fn seal(&mut self) -> Result<(), Self::Error> {
//!         // Real devices sign and encrypt here (one envelope per burst of edits).
//!         self.outbox.extend(self.unsent.drain(..).map(String::into_bytes));
//!         Ok(())
//!     }
//!     fn view(&mut self) -> Result<SpaceView, Self::Error> {
//!         let outbox = self.outbox.iter().map(|e| (0, e.clone())).collect();
//!         Ok(SpaceView { cursor: self.cursor, outbox, ..SpaceView::default() })
//!     }
//!     fn snapshot(&mut self) -> Result<Vec<u8>, Self::Error> { Ok(b"snapshot".to_vec()) }
//!     fn snapshot_stored(&mut self, _: u64, _: Option<Vec<HeldRequest>>) -> Result<(), Self::Error> { Ok(()) }
//!     fn pushed(&mut self, _: u32, envelope: &[u8]) -> Result<(), Self::Error> {
//!         self.outbox.retain(|e| e != envelope);
//!         Ok(())
//!     }
//!     fn receive(&mut self, _: u32, page: ReadPage) -> Result<bool, Self::Error> {
//!         for blob in page.blobs {
//!             self.cursor = blob.seq;
//!             let note = String::from_utf8_lossy(&blob.data).into_owned();
//!             if note != "snapshot" && !self.notes.contains(&note) { self.notes.push(note) }
//!         }
//!         Ok(false) // no handover moved the space
//!     }
//!     fn receive_previous(&mut self, _: u32, _: ReadPage) -> Result<bool, Self::Error> { Ok(false) }
//!     fn read_through(&mut self) -> Result<(), Self::Error> { Ok(()) }
//!     fn round_done(&mut self, _: u32, _: bool) {}
//! }
//!
//! let mut relay = MemoryMailbox::default();
//! let (mut ann, mut ben) = (Notes::default(), Notes::default());
//! ann.notes.push("tea at 6".into());
//! ann.unsent.push("tea at 6".into());
//!
//! let now = Timestamp(0);
//! let (mut ann_state, mut ben_state) = (SpaceSyncState::default(), SpaceSyncState::default());
//! let ann_steps = relay.run(SpacePass::new(PassMode::Full, now), &mut ann_state, &mut ann).unwrap();
//! // Ann's pass: create the mailbox, start it with a snapshot, push, read.
//! assert_eq!(ann_steps, ["create", "append", "append", "read"]);
//! relay.run(SpacePass::new(PassMode::Full, now), &mut ben_state, &mut ben).unwrap();
//! assert_eq!(ben.notes, ["tea at 6"]);
//!
//! // Live, with nothing to push: no request at all.
//! let idle = relay.run(SpacePass::new(PassMode::PushOnly, now), &mut ben_state, &mut ben).unwrap();
//! assert!(idle.is_empty());
//! ```

pub mod compaction;
pub mod memory_mailbox;
pub mod pass;
#[cfg(test)]
mod pass_tests;
pub mod settle;

pub use compaction::{
    COMPACT_AFTER_BLOBS, CompactionPlan, HOLD_REQUESTS_SECS, HeldRequest,
    RESEND_REQUEST_AFTER_SECS, compaction_bound, compaction_due, resend_due,
};
pub use memory_mailbox::MemoryMailbox;
pub use pass::{
    MAX_ROUNDS, Outcome, PassError, PassMode, SpacePass, SpaceSyncState, SpaceView, Step,
    SyncDevice, UnexpectedOutcome,
};
pub use settle::{Fate, WAITING_BUDGET, bound_waiting, settle};
