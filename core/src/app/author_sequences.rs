//! Checking every author's envelope numbers: envelopes the relay withheld,
//! and numbers an author used for two different envelopes (protocol.md §3,
//! "Sequence numbers"; docs/sync.md, "Sequence checks").
//!
//! Each device numbers the change batches and handovers it appends to an
//! epoch's mailbox 1, 2, 3, … in the order it appends them. A receiver
//! notes, per author device of the mailbox, which numbers it has seen
//! ([`MailboxNumbers`]): every one through `through`, a few ranges above,
//! and digests of the newest few. Once it has read the mailbox through, a
//! number missing below a higher one is a gap; a number seen again under
//! another digest was reused. Snapshots vouch for the numbers they replace,
//! so compaction opens no gap.
//!
//! ```text
//! seen from device d:   1 2 3 . 5 6      read through → 4 is missing
//! a snapshot vouches:   through 4        → nothing missing
//! 6 again, same bytes:  a duplicate      → nothing
//! 6 again, other bytes: reused           → reported
//! ```
//!
//! Nothing here refuses or holds back an envelope: the document converges
//! whatever order changes arrive in; this is what tells the person that
//! something did not arrive.

use super::error::AppResult;
use super::mailbox_numbers::{MailboxNumbers, Seen};
use super::registry::SpaceEntry;
use super::shared::Shared;
use super::space_handle::Space;
use super::space_handle::entry;
use crate::model::DeviceId;
use crate::protocol::SpaceId;
use crate::protocol::envelope::Unverified;
use crate::protocol::snapshot::Vouched;

/// Something noticed in one space's envelope numbers since the last
/// report: a sign that the relay withheld envelopes, or that a member's
/// device signed two different envelopes under one number. The space's
/// content was applied as usual; this says that some of it may be missing
/// or that someone's app misbehaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceAlert {
    /// The space, hex.
    pub space: String,
    /// Envelopes newly found missing: later envelopes of the same author
    /// device arrived, these did not, and no snapshot covers them. The
    /// relay withheld or lost them, or an author's app skipped numbers.
    pub missing: u64,
    /// Numbers newly found used by one author device for two different
    /// envelopes: a member's modified app, or a device whose state went
    /// back (restored from an old backup).
    pub reused: u64,
}

/// Where a space's envelope numbers stand on this device, to show with the
/// space (`Space::sequence_status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequenceStatus {
    /// Envelopes missing now from the current epoch's mailbox; back to 0
    /// if they arrive after all, and with a new epoch.
    pub missing: u64,
    /// Missing envelopes noticed over the space's life on this device.
    pub missing_noticed: u64,
    /// Numbers an author device used for two different envelopes, noticed
    /// over the space's life on this device.
    pub reused: u64,
}

/// The number, epoch and digest of a numbered envelope, taken before it is
/// handed on (and consumed) and noted once its signature verified.
#[derive(Clone, Debug)]
pub(crate) struct Stamp {
    author: DeviceId,
    epoch: u32,
    number: u64,
    digest: [u8; 16],
}

impl Stamp {
    /// The stamp of a numbered envelope with a number; `None` for kinds
    /// that are not numbered, and for a numbered one carrying 0 (which the
    /// receive path refuses).
    pub(crate) fn of(unverified: &Unverified) -> Option<Stamp> {
        let peek = unverified.peek();
        (peek.kind.is_numbered() && peek.sequence != 0).then(|| Stamp {
            author: peek.author.clone(),
            epoch: peek.epoch,
            number: peek.sequence,
            digest: unverified.digest(),
        })
    }
}

/// Whether an envelope is of a numbered kind and carries no number: no
/// honest app writes one, so it is refused (protocol.md §3).
pub(crate) fn unnumbered(unverified: &Unverified) -> bool {
    let peek = unverified.peek();
    peek.kind.is_numbered() && peek.sequence == 0
}

impl SpaceEntry {
    /// Notes a numbered envelope whose signature verified, in the numbers
    /// of its epoch's mailbox: the current one, or the one before (still
    /// read for competing handovers, and taken up again if one leaves this
    /// device there). This device never reuses a number of its own it sees
    /// (it came back to the space and reads what it wrote before).
    pub(crate) fn note_number(&mut self, own: &DeviceId, stamp: &Stamp) {
        let (numbers, next) = if stamp.epoch == self.epoch {
            (&mut self.numbers, &mut self.next_sequence)
        } else if stamp.epoch.checked_add(1) == Some(self.epoch) {
            (&mut self.previous_numbers, &mut self.previous_next_sequence)
        } else {
            return;
        };
        if numbers.record(&stamp.author, stamp.number, stamp.digest) == Seen::Reused {
            self.sequence_counts.reused = self.sequence_counts.reused.saturating_add(1);
            tracing::warn!(
                epoch = stamp.epoch,
                "an author device used one envelope number for two different envelopes"
            );
        }
        if &stamp.author == own && stamp.number >= *next {
            *next = stamp.number.saturating_add(1);
        }
    }

    /// Counts as seen what a snapshot of `epoch` vouches for, for devices
    /// `known`, in the current epoch's numbers (a stale snapshot vouches
    /// for nothing here).
    pub(crate) fn note_vouched(
        &mut self,
        own: &DeviceId,
        epoch: u32,
        vouched: &[Vouched],
        known: impl Fn(&DeviceId) -> bool,
    ) {
        if epoch != self.epoch {
            return;
        }
        self.numbers.vouch(vouched, known);
        let mine = self.numbers.highest(own);
        if mine >= self.next_sequence {
            self.next_sequence = mine.saturating_add(1);
        }
    }

    /// What a snapshot of the current epoch made now vouches for: what this
    /// device has seen, and its own numbers up to its counter (its
    /// document holds every change it sealed).
    pub(crate) fn vouched_numbers(&self, own: &DeviceId) -> Vec<Vouched> {
        let mut numbers = self.numbers.clone();
        let used = self.next_sequence.saturating_sub(1);
        numbers.vouch(
            &[Vouched {
                device: own.clone(),
                through: used,
                ahead: Vec::new(),
            }],
            |_| true,
        );
        numbers.vouched()
    }

    /// After reading the current epoch's mailbox through: counts what is
    /// missing now and what is newly noticed. Returns whether anything
    /// changed (the caller persists the entry).
    pub(crate) fn check_numbers(&mut self) -> bool {
        let before = self.sequence_counts.clone();
        let noticed = self.numbers.notice();
        let counts = &mut self.sequence_counts;
        counts.missing = self.numbers.missing();
        counts.missing_noticed = counts.missing_noticed.saturating_add(noticed);
        if noticed > 0 {
            tracing::warn!(
                epoch = self.epoch,
                missing = noticed,
                "envelopes of a space are missing from its mailbox"
            );
        }
        *counts != before
    }

    /// Moves the numbers to a new mailbox: this device starts at 1 there.
    /// Moving from the mailbox of the epoch left keeps its numbers as the
    /// previous ones; moving from a losing handover's mailbox to the
    /// winner's (`competing`) keeps the previous ones as they are.
    pub(crate) fn enter_mailbox(&mut self, competing: bool) {
        if !competing {
            self.previous_numbers = std::mem::take(&mut self.numbers);
            self.previous_next_sequence = self.next_sequence;
        }
        self.numbers = MailboxNumbers::default();
        self.next_sequence = 1;
        self.sequence_counts.missing = 0;
    }

    /// Goes back to the previous epoch's mailbox (a competing handover
    /// left this device out): its numbers, and this device's counter
    /// there, are where they were.
    pub(crate) fn return_to_previous_mailbox(&mut self) {
        self.numbers = std::mem::take(&mut self.previous_numbers);
        self.next_sequence = self.previous_next_sequence.max(1);
        self.sequence_counts.missing = self.numbers.missing();
    }

    /// What was noticed since the last report, marked reported.
    fn take_alert(&mut self, space: String) -> Option<SequenceAlert> {
        let c = &mut self.sequence_counts;
        let missing = c.missing_noticed.saturating_sub(c.reported_missing);
        let reused = c.reused.saturating_sub(c.reported_reused);
        c.reported_missing = c.missing_noticed;
        c.reported_reused = c.reused;
        (missing > 0 || reused > 0).then_some(SequenceAlert {
            space,
            missing,
            reused,
        })
    }
}

impl Shared {
    /// Step 3's end, once the mailbox was read through: counts the gaps,
    /// persisting the entry if anything changed.
    pub(crate) fn check_numbers(&self, space: SpaceId) -> AppResult<()> {
        self.with_loaded(|loaded| {
            // Every pass comes here: the entry is copied (to persist it
            // first) only when something changed.
            let e = entry(loaded, space)?;
            if !e.numbers.has_news() && e.sequence_counts.missing == e.numbers.missing() {
                return Ok(());
            }
            self.update_space(loaded, space, |e, _| {
                e.check_numbers();
                Ok(())
            })
        })
    }

    /// Everything noticed in any space since the last report, marked
    /// reported (persisted first). A report lost to a failed write is given
    /// again by the next sync.
    pub(crate) fn take_sequence_alerts(&self) -> AppResult<Vec<SequenceAlert>> {
        self.with_loaded(|loaded| {
            self.update_registry(loaded, |registry, _| {
                Ok(registry
                    .spaces
                    .iter_mut()
                    .filter_map(|(space, e)| e.take_alert(space.to_hex()))
                    .collect())
            })
        })
    }
}

impl Space {
    /// Where this space's envelope numbers stand: envelopes of its members
    /// that the relay has not delivered though later ones of the same
    /// device arrived, and numbers a member's device used twice. All zero
    /// when all is well; show anything else with the space.
    pub fn sequence_status(&self) -> AppResult<SequenceStatus> {
        self.shared.with_loaded(|loaded| {
            let c = &entry(loaded, self.id)?.sequence_counts;
            Ok(SequenceStatus {
                missing: c.missing,
                missing_noticed: c.missing_noticed,
                reused: c.reused,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::mailbox_numbers::*;
    use super::*;
    use crate::protocol::snapshot::MAX_VOUCHED_RANGES;
    use proptest::prelude::*;

    fn device(n: u8) -> DeviceId {
        DeviceId::from(format!("{n:016x}"))
    }

    fn digest(n: u64) -> [u8; 16] {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&n.to_be_bytes());
        d
    }

    /// Receives `numbers` of one author (digest = number) and reads through.
    fn after(numbers: &[u64]) -> (MailboxNumbers, u64) {
        let mut m = MailboxNumbers::default();
        for n in numbers {
            m.record(&device(1), *n, digest(*n));
        }
        let noticed = m.notice();
        (m, noticed)
    }

    #[test]
    fn numbers_in_any_order_leave_no_gap() {
        assert_eq!(after(&[3, 1, 2, 5, 4]).1, 0);
        assert_eq!(after(&[1, 2, 3]).0.missing(), 0);
    }

    #[test]
    fn a_number_missing_below_a_later_one_is_a_gap_noticed_once() {
        let (mut m, noticed) = after(&[1, 2, 4, 5, 7]);
        assert_eq!((noticed, m.missing()), (2, 2));
        // Read through again with nothing new: nothing newly noticed.
        assert_eq!(m.notice(), 0);
        // More envelopes after the gap: the gap is not noticed again.
        m.record(&device(1), 8, digest(8));
        assert_eq!((m.notice(), m.missing()), (0, 2));
        // A late arrival fills it.
        m.record(&device(1), 3, digest(3));
        assert_eq!((m.notice(), m.missing()), (0, 1));
        // A new gap further on is noticed.
        m.record(&device(1), 10, digest(10));
        assert_eq!((m.notice(), m.missing()), (1, 2));
    }

    #[test]
    fn the_same_envelope_twice_is_a_duplicate_and_another_one_is_a_reuse() {
        let mut m = MailboxNumbers::default();
        assert_eq!(m.record(&device(1), 1, digest(1)), Seen::New);
        assert_eq!(m.record(&device(1), 1, digest(1)), Seen::Duplicate);
        assert_eq!(m.record(&device(1), 1, digest(99)), Seen::Reused);
        // Either of the two again is a duplicate: counted once.
        assert_eq!(m.record(&device(1), 1, digest(99)), Seen::Duplicate);
        assert_eq!(m.record(&device(1), 1, digest(1)), Seen::Duplicate);
        // Another device's number 1 is its own.
        assert_eq!(m.record(&device(2), 1, digest(99)), Seen::New);
    }

    #[test]
    fn a_number_too_old_to_have_its_digest_says_nothing() {
        let mut m = MailboxNumbers::default();
        for n in 1..=20 {
            m.record(&device(1), n, digest(n));
        }
        assert_eq!(m.record(&device(1), 2, digest(77)), Seen::Old);
        assert_eq!(m.record(&device(1), 19, digest(77)), Seen::Reused);
    }

    #[test]
    fn a_snapshot_vouching_for_compacted_numbers_closes_the_gap() {
        // Offline past a compaction: the tail (40, 41) first, then the
        // snapshot that replaced 1..=39 and saw 40..=45, then 46.
        let mut m = MailboxNumbers::default();
        m.record(&device(1), 40, digest(40));
        m.record(&device(1), 41, digest(41));
        m.vouch(
            &[Vouched {
                device: device(1),
                through: 45,
                ahead: Vec::new(),
            }],
            |_| true,
        );
        m.record(&device(1), 46, digest(46));
        assert_eq!((m.notice(), m.missing()), (0, 0));
        // Only for devices the space lists.
        m.vouch(
            &[Vouched {
                device: device(9),
                through: 5,
                ahead: Vec::new(),
            }],
            |d| d != &device(9),
        );
        assert_eq!(m.highest(&device(9)), 0);
        // What it vouches for holds its own gaps.
        let mut other = MailboxNumbers::default();
        other.vouch(
            &[Vouched {
                device: device(1),
                through: 3,
                ahead: vec![(6, 8)],
            }],
            |_| true,
        );
        assert_eq!(other.notice(), 2);
    }

    #[test]
    fn a_relay_withholding_every_other_envelope_cannot_grow_the_entry() {
        let numbers: Vec<u64> = (1..=1_000).map(|n| 2 * n).collect();
        let (m, noticed) = after(&numbers);
        assert_eq!((noticed, m.missing()), (1_000, 1_000));
        let author = &m.authors[&device(1)];
        assert!(author.ahead.len() <= MAX_VOUCHED_RANGES);
        assert!(author.recent.len() <= RECENT as usize);
    }

    #[test]
    fn numbers_survive_the_registry() {
        let (m, _) = after(&[1, 2, 5]);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<MailboxNumbers>(&json).unwrap(), m);
    }

    proptest! {
        /// Every number of every author delivered, in any order and with
        /// duplicates, and vouched for in part by snapshots at any point:
        /// never a gap, never a reuse.
        #[test]
        fn complete_delivery_in_any_order_is_never_an_alarm(
            counts in proptest::collection::vec(1u64..30, 1..4),
            order in proptest::collection::vec(any::<u32>(), 0..200),
            vouch_at in proptest::collection::vec((0usize..3, 0u64..30), 0..3),
        ) {
            let mut all: Vec<(u8, u64)> = counts
                .iter()
                .enumerate()
                .flat_map(|(a, n)| (1..=*n).map(move |k| (a as u8, k)))
                .collect();
            // Some duplicates, then shuffle by the random keys.
            let extra: Vec<(u8, u64)> = all.iter().step_by(3).cloned().collect();
            all.extend(extra);
            let mut keyed: Vec<(u32, (u8, u64))> = all
                .into_iter()
                .enumerate()
                .map(|(i, x)| (order.get(i).copied().unwrap_or(i as u32), x))
                .collect();
            keyed.sort();
            let mut m = MailboxNumbers::default();
            for (i, (_, (a, n))) in keyed.iter().enumerate() {
                for (at, upto) in &vouch_at {
                    if *at == i % 3 && (*a as usize) < counts.len() {
                        let through = (*upto).min(counts[*a as usize]);
                        m.vouch(&[Vouched { device: device(*a), through, ahead: vec![] }], |_| true);
                    }
                }
                let seen = m.record(&device(*a), *n, digest(*n));
                prop_assert_ne!(seen, Seen::Reused);
            }
            prop_assert_eq!(m.notice(), 0);
            prop_assert_eq!(m.missing(), 0);
        }

        /// One number withheld from one author, everything else delivered
        /// in any order: exactly one gap, if a later number of that author
        /// arrived.
        #[test]
        fn one_withheld_envelope_is_one_gap(
            count in 2u64..40,
            withheld in 1u64..40,
            order in proptest::collection::vec(any::<u32>(), 0..40),
        ) {
            let withheld = withheld.min(count);
            let mut keyed: Vec<(u32, u64)> = (1..=count)
                .filter(|n| *n != withheld)
                .map(|n| (order.get(n as usize).copied().unwrap_or(n as u32), n))
                .collect();
            keyed.sort();
            let numbers: Vec<u64> = keyed.into_iter().map(|(_, n)| n).collect();
            let (m, noticed) = after(&numbers);
            let expected = u64::from(withheld < count);
            prop_assert_eq!(noticed, expected);
            prop_assert_eq!(m.missing(), expected);
        }
    }
}
