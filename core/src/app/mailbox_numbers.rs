//! What a receiving device has seen of each author device's envelope
//! numbers in one epoch's mailbox ([`MailboxNumbers`]), and a space's
//! counts of gaps and reused numbers ([`SequenceCounts`]); both persisted
//! in its registry entry. `author_sequences.rs` explains the checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::DeviceId;
use crate::protocol::snapshot::{MAX_VOUCHED_RANGES, Vouched};

/// How many of an author's newest numbers keep their digests: a number
/// reused further back than this is not noticed. Small, because the
/// registry holds it for every author device of a space.
pub(super) const RECENT: u64 = 8;

/// Most digests kept for one number (an author who reuses it again and
/// again is counted once per distinct envelope up to this).
const DIGESTS_PER_NUMBER: usize = 4;

/// What a receiving device knows of one author device's numbers in one
/// mailbox.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AuthorNumbers {
    /// Every number from 1 through this one was seen or vouched for.
    through: u64,
    /// Ranges `(first, last)` seen above `through + 1`: ascending, disjoint
    /// and not touching, at most [`MAX_VOUCHED_RANGES`].
    #[serde(default)]
    pub(super) ahead: Vec<(u64, u64)>,
    /// Digests (hex) of the newest numbers seen; a number appears more than
    /// once when its author used it for different envelopes.
    #[serde(default)]
    pub(super) recent: Vec<(u64, String)>,
    /// Every number missing at or below this one was counted as noticed.
    #[serde(default)]
    noticed: u64,
    /// Numbers still missing that were folded into `through` to keep
    /// `ahead` bounded.
    #[serde(default)]
    given_up: u64,
    /// How many of `given_up` were not counted as noticed yet.
    #[serde(default)]
    given_up_unnoticed: u64,
}

/// What became of a number that was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not seen before.
    New,
    /// The same envelope again.
    Duplicate,
    /// Another envelope under a number already seen.
    Reused,
    /// A number seen or vouched for long ago whose digest is not kept:
    /// nothing can be said, so nothing is.
    Old,
}

impl AuthorNumbers {
    fn has(&self, n: u64) -> bool {
        n <= self.through || self.ahead.iter().any(|(f, l)| *f <= n && n <= *l)
    }

    fn highest(&self) -> u64 {
        self.ahead.last().map_or(self.through, |r| r.1)
    }

    /// Adds `first..=last` to what was seen.
    fn add(&mut self, first: u64, last: u64) {
        if first > last || last <= self.through {
            return;
        }
        let first = first.max(self.through.saturating_add(1));
        self.ahead.push((first, last));
        self.ahead.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.ahead.len());
        for (f, l) in self.ahead.drain(..) {
            match merged.last_mut() {
                Some(prev) if f <= prev.1.saturating_add(1) => prev.1 = prev.1.max(l),
                _ => merged.push((f, l)),
            }
        }
        self.ahead = merged;
        while let Some(&(f, l)) = self.ahead.first() {
            if f > self.through.saturating_add(1) {
                break;
            }
            self.through = self.through.max(l);
            self.ahead.remove(0);
        }
        // Bounded: the lowest gap is given up on (still counted missing),
        // so a relay that withholds every other envelope cannot make the
        // registry grow.
        while self.ahead.len() > MAX_VOUCHED_RANGES {
            let (f, l) = self.ahead.remove(0);
            let hole_first = self.through.saturating_add(1);
            let hole = f - hole_first;
            let unnoticed_from = hole_first.max(self.noticed.saturating_add(1));
            self.given_up = self.given_up.saturating_add(hole);
            self.given_up_unnoticed = self
                .given_up_unnoticed
                .saturating_add(f.saturating_sub(unnoticed_from));
            self.through = l;
        }
    }

    fn record(&mut self, n: u64, digest: &str) -> Seen {
        let digests: Vec<&String> = self
            .recent
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, d)| d)
            .collect();
        if digests.iter().any(|d| d.as_str() == digest) {
            return Seen::Duplicate;
        }
        if !digests.is_empty() {
            if digests.len() < DIGESTS_PER_NUMBER {
                self.recent.push((n, digest.to_string()));
            }
            return Seen::Reused;
        }
        if self.has(n) {
            return Seen::Old;
        }
        self.add(n, n);
        self.recent.push((n, digest.to_string()));
        let floor = self.highest().saturating_sub(RECENT);
        self.recent.retain(|(m, _)| *m > floor);
        Seen::New
    }

    /// The gaps: numbers above `through`, up to the highest seen, that were
    /// not seen; and those given up on.
    fn missing(&self) -> u64 {
        self.holes_above(0).saturating_add(self.given_up)
    }

    /// Missing numbers above `floor`.
    fn holes_above(&self, floor: u64) -> u64 {
        let mut count = 0u64;
        let mut after = self.through;
        for (f, l) in &self.ahead {
            let from = after.saturating_add(1).max(floor.saturating_add(1));
            count = count.saturating_add(f.saturating_sub(from));
            after = *l;
        }
        count
    }

    /// Counts the gaps not noticed before, and marks them noticed.
    fn notice(&mut self) -> u64 {
        let new = self
            .holes_above(self.noticed)
            .saturating_add(self.given_up_unnoticed);
        self.noticed = self.noticed.max(self.highest());
        self.given_up_unnoticed = 0;
        new
    }
}

/// The numbers a device has seen in one epoch's mailbox, per author device.
/// Saved in the space's registry entry with the cursor, in the same write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxNumbers {
    #[serde(default)]
    pub(super) authors: BTreeMap<DeviceId, AuthorNumbers>,
}

impl MailboxNumbers {
    /// Notes number `n` of `author`, an envelope whose signature verified.
    pub(crate) fn record(&mut self, author: &DeviceId, n: u64, digest: [u8; 16]) -> Seen {
        self.authors
            .entry(author.clone())
            .or_default()
            .record(n, &hex::encode(digest))
    }

    /// Counts as seen what a snapshot vouches for, for devices `known`
    /// (listed in the space): a snapshot only fills numbers in.
    pub(crate) fn vouch(&mut self, vouched: &[Vouched], known: impl Fn(&DeviceId) -> bool) {
        for v in vouched.iter().filter(|v| known(&v.device)) {
            let author = self.authors.entry(v.device.clone()).or_default();
            author.add(1, v.through);
            for (first, last) in &v.ahead {
                author.add(*first, *last);
            }
        }
    }

    /// What a snapshot made now vouches for.
    pub(crate) fn vouched(&self) -> Vec<Vouched> {
        self.authors
            .iter()
            .map(|(device, a)| Vouched {
                device: device.clone(),
                through: a.through,
                ahead: a.ahead.clone(),
            })
            .collect()
    }

    /// The highest number seen or vouched for from `author`.
    pub(crate) fn highest(&self, author: &DeviceId) -> u64 {
        self.authors.get(author).map_or(0, AuthorNumbers::highest)
    }

    /// Numbers missing now, over all authors.
    pub(crate) fn missing(&self) -> u64 {
        self.authors
            .values()
            .fold(0u64, |sum, a| sum.saturating_add(a.missing()))
    }

    /// Counts the gaps not noticed before, and marks them noticed.
    pub(crate) fn notice(&mut self) -> u64 {
        self.authors
            .values_mut()
            .fold(0u64, |sum, a| sum.saturating_add(a.notice()))
    }

    /// Whether [`MailboxNumbers::notice`] would find anything new.
    pub(crate) fn has_news(&self) -> bool {
        self.authors
            .values()
            .any(|a| a.given_up_unnoticed > 0 || a.holes_above(a.noticed) > 0)
    }
}

/// Gaps and reused numbers of one space as this device counts them, and
/// how much of that it has reported to the app.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceCounts {
    /// Missing now from the current epoch's mailbox (at the last read
    /// through).
    #[serde(default)]
    pub missing: u64,
    /// Missing numbers noticed over the space's life here.
    #[serde(default)]
    pub missing_noticed: u64,
    /// Numbers reused by an author, noticed over the space's life here.
    #[serde(default)]
    pub reused: u64,
    /// `missing_noticed` as last reported in a `SyncReport`.
    #[serde(default)]
    pub reported_missing: u64,
    /// `reused` as last reported in a `SyncReport`.
    #[serde(default)]
    pub reported_reused: u64,
}
