//! Which changes have every write to the member list in their past.
//!
//! A receiver judges each change by the member list as it stood at the
//! change's causal point (protocol.md §4: who its author was, their role,
//! whether the device was removed). Read through automerge's history, each
//! such read rebuilds a vector clock for the causal point; in a live group
//! nearly every change is concurrent with some other, so nearly every read
//! paid it. But member lists change rarely: when every change that wrote
//! `members` or `invites` is in the causal point's past, the member list at
//! that point *is* the current one, and the current state (cheap, and
//! remembered between receives) gives the same answer.
//!
//! Kept per document, from the moment it was loaded (or last forgot):
//! - the heads at that moment, the *roots*: every change before them is in
//!   their past;
//! - each change applied since, with the set of roots and member-list
//!   changes in its past, as bits (one per root and one per member-list
//!   change applied since).
//!
//! A causal point has every member-list write in its past exactly when its
//! heads together carry every bit. Anything the document takes without
//! saying what it wrote (a load, a merge, encoded changes) counts every
//! change as writing the member list, or starts again from the current
//! heads. A change the document holds that was noted neither way makes the
//! answer "not known", never a wrong "yes".

use std::collections::HashMap;
use std::sync::Arc;

use automerge::ChangeHash;

/// Past this many bits, or this many changes noted, the record starts
/// again from the current heads: memory stays bounded however long a
/// device stays open.
const MAX_BITS: usize = 4096;
const MAX_NOTED: usize = 200_000;

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct MemberListPast {
    /// The heads when the record (re)started.
    roots: Vec<ChangeHash>,
    /// Bits in use: one per root, one per member-list change noted.
    bits: usize,
    /// Each change noted since, with the bits in its past (itself included).
    past: HashMap<ChangeHash, Arc<Vec<u64>>>,
}

impl MemberListPast {
    /// A record starting at `heads`.
    pub(super) fn starting_at(mut heads: Vec<ChangeHash>) -> Self {
        heads.sort();
        heads.dedup();
        let bits = heads.len();
        MemberListPast {
            roots: heads,
            bits,
            past: HashMap::new(),
        }
    }

    /// A record that knows nothing: no point is settled until it starts
    /// again (one bit that nothing carries).
    pub(super) fn not_known() -> Self {
        MemberListPast {
            roots: Vec::new(),
            bits: 1,
            past: HashMap::new(),
        }
    }

    /// The bits in `hash`'s past, if it is known: a root or a change noted.
    fn bits_of(&self, hash: &ChangeHash) -> Option<Arc<Vec<u64>>> {
        if let Some(bits) = self.past.get(hash) {
            return Some(Arc::clone(bits));
        }
        let root = self.roots.binary_search(hash).ok()?;
        let mut words = vec![0u64; root / 64 + 1];
        words[root / 64] |= 1 << (root % 64);
        Some(Arc::new(words))
    }

    /// Notes a change the document took, with its dependencies, and
    /// whether it wrote the member list (or may have). Dependencies must be
    /// noted first (they are, in causal order); one that is not known
    /// counts as carrying nothing, which can only make later answers "no".
    /// Returns `false` once the record is full; the caller starts again.
    pub(super) fn note(
        &mut self,
        hash: ChangeHash,
        deps: &[ChangeHash],
        writes_members: bool,
    ) -> bool {
        if self.past.contains_key(&hash) || self.roots.binary_search(&hash).is_ok() {
            return true;
        }
        let mut carried: Option<Arc<Vec<u64>>> = None;
        for dep in deps {
            let Some(bits) = self.bits_of(dep) else {
                continue;
            };
            carried = Some(match carried {
                None => bits,
                Some(so_far) if so_far == bits => so_far,
                Some(so_far) => Arc::new(union(&so_far, &bits)),
            });
        }
        let mut bits = carried.unwrap_or_default();
        if writes_members {
            let bit = self.bits;
            self.bits += 1;
            let words = Arc::make_mut(&mut bits);
            if words.len() <= bit / 64 {
                words.resize(bit / 64 + 1, 0);
            }
            words[bit / 64] |= 1 << (bit % 64);
        }
        self.past.insert(hash, bits);
        self.bits <= MAX_BITS && self.past.len() <= MAX_NOTED
    }

    /// Whether every change the document holds that wrote the member list
    /// is in the past of `heads`, as far as this record can tell.
    pub(super) fn settled_at(&self, heads: &[ChangeHash]) -> bool {
        let mut carried: Vec<u64> = Vec::new();
        for head in heads {
            let Some(bits) = self.bits_of(head) else {
                continue;
            };
            carried = union(&carried, &bits);
        }
        let ones: usize = carried.iter().map(|w| w.count_ones() as usize).sum();
        ones == self.bits
    }

    /// Whether every one of `heads` is a root or a change noted: nothing
    /// entered the document unnoted.
    pub(super) fn knows_all(&self, heads: &[ChangeHash]) -> bool {
        heads
            .iter()
            .all(|h| self.past.contains_key(h) || self.roots.binary_search(h).is_ok())
    }
}

fn union(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out = long.to_vec();
    for (o, s) in out.iter_mut().zip(short) {
        *o |= s;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    #[test]
    fn a_point_is_settled_once_every_member_list_write_is_in_its_past() {
        // root 1; then 2 (members) and 3 (a session) concurrent on 1; 4 on both.
        let mut past = MemberListPast::starting_at(vec![hash(1)]);
        assert!(
            past.settled_at(&[hash(1)]),
            "the roots carry everything before them"
        );
        assert!(past.note(hash(2), &[hash(1)], true));
        assert!(past.note(hash(3), &[hash(1)], false));
        assert!(!past.settled_at(&[hash(1)]));
        assert!(
            !past.settled_at(&[hash(3)]),
            "concurrent with the member-list write"
        );
        assert!(past.settled_at(&[hash(2)]));
        assert!(past.settled_at(&[hash(3), hash(2)]));
        assert!(past.note(hash(4), &[hash(2), hash(3)], false));
        assert!(past.settled_at(&[hash(4)]));
        // An unknown head carries nothing: never a wrong "yes".
        assert!(!MemberListPast::not_known().settled_at(&[]));
        assert!(!past.settled_at(&[hash(9)]));
        assert!(past.knows_all(&[hash(4), hash(1)]));
        assert!(!past.knows_all(&[hash(9)]));
    }

    #[test]
    fn a_change_depending_on_an_unknown_change_is_not_settled() {
        let mut past = MemberListPast::starting_at(vec![hash(1)]);
        assert!(past.note(hash(2), &[hash(8)], false));
        assert!(
            !past.settled_at(&[hash(2)]),
            "the root is not in its known past"
        );
    }
}
