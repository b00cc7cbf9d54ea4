//! When a mailbox is compacted, and how far (protocol.md §7, docs/sync.md
//! "Compaction").
//!
//! Only a device holding the mailbox's admin key compacts. It uploads a
//! snapshot of its document, then asks the relay to drop what the snapshot
//! covers: never past what this device has applied (two devices compacting
//! at once lose nothing), and never an attendance request a lead may not
//! have read yet.

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

/// Blobs past the last snapshot after which a device compacts: a joining
/// device then reads at most this many blobs after the snapshot, while a
/// busy space uploads a snapshot only every few hundred envelopes.
pub const COMPACT_AFTER_BLOBS: u64 = 300;

/// How long an unrecorded attendance request waits before it is sealed
/// again. A request can be lost without its sender knowing (a compaction by
/// a device that cannot open it, a lead who stood down, a mailbox that
/// rotated), so it is re-sent until a lead records it or a newer statement
/// overtakes it; a lead ignores a copy it already recorded.
pub const RESEND_REQUEST_AFTER_SECS: i64 = 6 * 60 * 60;

/// How long compaction keeps an attendance request in the mailbox after a
/// device first pulled it: twice the re-send interval, so while its sender
/// syncs, the newest copy of every unrecorded request is always there for
/// a lead to read, whoever compacts (protocol.md §7).
pub const HOLD_REQUESTS_SECS: i64 = 2 * RESEND_REQUEST_AFTER_SECS;

/// A request envelope in the mailbox that compaction must not delete yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRequest {
    /// Its sequence number in the mailbox.
    pub seq: u64,
    /// When this device first pulled it (its own clock).
    pub seen_at: Timestamp,
}

/// How far a compaction may delete: through `cursor` (what this device has
/// applied), but never an attendance request held for less than
/// [`HOLD_REQUESTS_SECS`]. Returns the bound and the holds still running.
pub fn compaction_bound(
    cursor: u64,
    held: &[HeldRequest],
    now: Timestamp,
) -> (u64, Vec<HeldRequest>) {
    let running: Vec<HeldRequest> = held
        .iter()
        // A clock set back keeps a hold rather than ending it early.
        .filter(|h| now < h.seen_at.plus_secs(HOLD_REQUESTS_SECS) || now < h.seen_at)
        .cloned()
        .collect();
    let bound = running
        .iter()
        .map(|h| h.seq.saturating_sub(1))
        .min()
        .map_or(cursor, |first| first.min(cursor));
    (bound, running)
}

/// What a compaction would do now: delete through `through`, keeping
/// `holds`. `None` while it is not due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionPlan {
    /// The last sequence number the relay may delete.
    pub through: u64,
    /// The holds still running afterwards.
    pub holds: Vec<HeldRequest>,
}

/// Whether this device compacts now: it holds the admin key, nothing it
/// pulled still waits (a waiting envelope is not applied, so what it needs
/// must stay), the tail has grown [`COMPACT_AFTER_BLOBS`] past the last
/// snapshot, and the holds leave something to delete.
pub fn compaction_due(
    admin: bool,
    waiting: bool,
    cursor: u64,
    snapshot_seq: u64,
    held: &[HeldRequest],
    now: Timestamp,
) -> Option<CompactionPlan> {
    if !admin || waiting || cursor < snapshot_seq.saturating_add(COMPACT_AFTER_BLOBS) {
        return None;
    }
    let (through, holds) = compaction_bound(cursor, held, now);
    (through > snapshot_seq).then_some(CompactionPlan { through, holds })
}

/// Whether a pending attendance request should be sealed again now: never
/// sent, sent to another set of lead devices than today's (`to`), or
/// unrecorded for [`RESEND_REQUEST_AFTER_SECS`]. `sent` is when and to whom
/// it last went.
pub fn resend_due(sent: Option<(Timestamp, &str)>, to: &str, now: Timestamp) -> bool {
    match sent {
        Some((at, sent_to)) => {
            sent_to != to || now >= at.plus_secs(RESEND_REQUEST_AFTER_SECS) || now < at
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(seq: u64, at: i64) -> HeldRequest {
        HeldRequest {
            seq,
            seen_at: Timestamp(at),
        }
    }

    #[test]
    fn compaction_stops_short_of_a_request_held_for_less_than_twelve_hours() {
        let holds = [held(40, 1_000), held(70, 2_000)];
        assert_eq!(compaction_bound(100, &holds, Timestamp(3_000)).0, 39);
        // The first hold ran out: compaction may pass it, not the second.
        let later = Timestamp(1_000 + HOLD_REQUESTS_SECS);
        let (bound, running) = compaction_bound(100, &holds, later);
        assert_eq!((bound, running), (69, vec![held(70, 2_000)]));
        // Nothing held: everything applied may go.
        assert_eq!(compaction_bound(100, &[], later).0, 100);
        // A request past the cursor does not hold anything back.
        assert_eq!(compaction_bound(30, &holds, Timestamp(3_000)).0, 30);
        // A clock set back keeps the hold.
        assert_eq!(compaction_bound(100, &holds, Timestamp(10)).0, 39);
    }

    #[test]
    fn compaction_is_due_only_for_an_admin_past_the_threshold_with_nothing_waiting() {
        let now = Timestamp(5_000);
        let at = COMPACT_AFTER_BLOBS;
        assert_eq!(
            compaction_due(true, false, at, 0, &[], now),
            Some(CompactionPlan {
                through: at,
                holds: vec![]
            })
        );
        // One blob short of the threshold past the last snapshot.
        assert_eq!(compaction_due(true, false, at + 9, 10, &[], now), None);
        assert!(compaction_due(true, false, at + 10, 10, &[], now).is_some());
        // A member's device never compacts; nor one with envelopes waiting.
        assert_eq!(compaction_due(false, false, 10 * at, 0, &[], now), None);
        assert_eq!(compaction_due(true, true, 10 * at, 0, &[], now), None);
        // A hold right after the snapshot leaves nothing to delete.
        assert_eq!(
            compaction_due(true, false, at, 0, &[held(1, 4_999)], now),
            None
        );
    }

    #[test]
    fn a_request_goes_again_when_unsent_when_the_leads_changed_or_after_six_hours() {
        assert!(resend_due(None, "leads", Timestamp(5)));
        let sent = Some((Timestamp(100), "leads"));
        assert!(!resend_due(sent, "leads", Timestamp(101)));
        assert!(resend_due(sent, "other leads", Timestamp(101)));
        assert!(resend_due(
            sent,
            "leads",
            Timestamp(100 + RESEND_REQUEST_AFTER_SECS)
        ));
        // A clock set back never strands it.
        assert!(resend_due(sent, "leads", Timestamp(99)));
    }
}
