//! Receiving a batch of envelopes until nothing more settles, and what is
//! kept of those left waiting.
//!
//! An envelope may need one that comes later in the same page (a change
//! batch whose dependencies arrive after it, an author added by a change
//! still to come), so the batch is received again while anything in it
//! settles. What never settles waits for a later pass, within a byte budget.

/// What became of one envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Applied, skipped as known, or refused (and counted).
    Settled,
    /// Signed by a member's device, and needs changes that have not
    /// arrived yet; keep it and try again.
    Waiting,
    /// Not verified yet: its author is no device this replica knows (the
    /// change adding it may not have arrived), or it came after a handover
    /// moved the space on. Kept while there is room, after everything that
    /// verified.
    Unverified,
}

/// The most bytes of envelopes kept waiting per space. Verified envelopes
/// come first; when the budget runs out the rest are dropped (their
/// changes come again with the next snapshot).
pub const WAITING_BUDGET: usize = 8 * 1024 * 1024;

/// Receives `queue` with `receive` again and again while something settles.
/// `receive` returns one fate per envelope, in order, and whether a
/// handover moved the space (then what is left belongs to the epoch it
/// left, and the loop stops). Returns what never settled, with its fate.
pub fn settle<E>(
    mut queue: Vec<Vec<u8>>,
    mut receive: impl FnMut(&[Vec<u8>]) -> Result<(Vec<Fate>, bool), E>,
) -> Result<Vec<(Vec<u8>, Fate)>, E> {
    loop {
        let (fates, moved) = receive(&queue)?;
        let progressed = fates.contains(&Fate::Settled);
        let waiting: Vec<(Vec<u8>, Fate)> = std::mem::take(&mut queue)
            .into_iter()
            .zip(fates)
            .filter(|(_, fate)| *fate != Fate::Settled)
            .collect();
        if !progressed || waiting.is_empty() || moved {
            return Ok(waiting);
        }
        queue = waiting.into_iter().map(|(sealed, _)| sealed).collect();
    }
}

/// What to keep of the envelopes left waiting, within [`WAITING_BUDGET`]:
/// those that verified first, in order, then unverified ones in order.
/// Returns what is kept, and how many that verified had to go (reported,
/// never silently).
pub fn bound_waiting(waiting: Vec<(Vec<u8>, Fate)>) -> (Vec<Vec<u8>>, usize) {
    bound_waiting_within(waiting, WAITING_BUDGET)
}

fn bound_waiting_within(waiting: Vec<(Vec<u8>, Fate)>, budget: usize) -> (Vec<Vec<u8>>, usize) {
    let mut used = 0usize;
    let mut kept = Vec::new();
    let mut dropped_verified = 0;
    for class in [Fate::Waiting, Fate::Unverified] {
        for (sealed, fate) in waiting.iter().filter(|(_, f)| *f == class) {
            if used + sealed.len() <= budget {
                used += sealed.len();
                kept.push(sealed.clone());
            } else if *fate == Fate::Waiting {
                dropped_verified += 1;
            }
        }
    }
    (kept, dropped_verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Received = Result<(Vec<Fate>, bool), ()>;

    /// Envelopes `b"n"` settle once every envelope `< n` has: a page whose
    /// order is the reverse of what it depends on.
    fn chain_receiver(
        applied: &mut Vec<u8>,
        moves: bool,
    ) -> impl FnMut(&[Vec<u8>]) -> Received + '_ {
        move |queue| {
            let fates = queue
                .iter()
                .map(|e| {
                    let n = e[0];
                    if n == 0 || applied.contains(&(n - 1)) {
                        applied.push(n);
                        Fate::Settled
                    } else {
                        Fate::Waiting
                    }
                })
                .collect();
            Ok((fates, moves))
        }
    }

    #[test]
    fn an_envelope_waiting_on_a_later_one_in_the_same_page_settles_in_the_same_pass() {
        let mut applied = Vec::new();
        let page = vec![vec![2], vec![1], vec![0]];
        let left = settle(page, chain_receiver(&mut applied, false)).unwrap();
        assert!(left.is_empty());
        assert_eq!(applied, vec![0, 1, 2]);
    }

    #[test]
    fn what_never_settles_is_left_waiting_and_a_handover_stops_the_loop() {
        let mut applied = Vec::new();
        // 5 needs 4, which never comes.
        let left = settle(vec![vec![5], vec![0]], chain_receiver(&mut applied, false)).unwrap();
        assert_eq!(left, vec![(vec![5], Fate::Waiting)]);
        // A handover moved the space after the first round: nothing more.
        let mut applied = Vec::new();
        let left = settle(
            vec![vec![2], vec![1], vec![0]],
            chain_receiver(&mut applied, true),
        )
        .unwrap();
        assert_eq!(applied, vec![0]);
        assert_eq!(left.len(), 2);
    }

    #[test]
    fn the_waiting_budget_keeps_verified_envelopes_first_and_counts_what_it_drops() {
        let waiting = vec![
            (vec![0; 6], Fate::Unverified),
            (vec![1; 6], Fate::Waiting),
            (vec![2; 6], Fate::Waiting),
        ];
        let (kept, dropped) = bound_waiting_within(waiting, 10);
        assert_eq!(kept, vec![vec![1; 6]]);
        // The unverified one is dropped silently (it was never checked);
        // the verified one is counted.
        assert_eq!(dropped, 1);
    }
}
