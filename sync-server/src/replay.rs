//! Replay protection: remembers nonces for as long as their timestamps are
//! acceptable, and not longer.
//!
//! A request is accepted only if its timestamp is within ±`window` of the
//! relay's clock, so a nonce needs remembering for at most `2 × window` after
//! it was first seen. Two generations of sets, rotated every `2 × window`,
//! give exactly that with O(1) work per request and no per-entry timers.
//! Only nonces of correctly signed requests get here, so an outsider cannot
//! fill this memory.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

const SHARDS: usize = 16;

struct Generations {
    current: HashSet<[u8; 16]>,
    previous: HashSet<[u8; 16]>,
    rotated_at: u64,
}

/// The set of recently seen nonces.
pub struct NonceCache {
    shards: Vec<Mutex<Generations>>,
    rotate_every: u64,
}

impl std::fmt::Debug for NonceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceCache")
            .field("rotate_every", &self.rotate_every)
            .finish_non_exhaustive()
    }
}

impl NonceCache {
    /// A cache for a timestamp window of ±`window_secs`.
    pub fn new(window_secs: u64, now: u64) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Generations {
                        current: HashSet::new(),
                        previous: HashSet::new(),
                        rotated_at: now,
                    })
                })
                .collect(),
            rotate_every: window_secs.saturating_mul(2).max(1),
        }
    }

    /// Records `nonce`; returns `false` if it was already seen (a replay).
    pub fn insert(&self, nonce: [u8; 16], now: u64) -> bool {
        let shard = &self.shards[usize::from(nonce[0]) % SHARDS];
        let mut g = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_sub(g.rotated_at);
        if elapsed >= self.rotate_every.saturating_mul(2) {
            // Rotation is lazy per shard: after two idle periods both generations are stale.
            g.current.clear();
            g.previous.clear();
            g.rotated_at = now;
        } else if elapsed >= self.rotate_every {
            g.previous = std::mem::take(&mut g.current);
            g.rotated_at = now;
        }
        if g.previous.contains(&nonce) {
            return false;
        }
        g.current.insert(nonce)
    }

    /// How many nonces are remembered (for metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let g = s.lock().unwrap_or_else(PoisonError::into_inner);
                g.current.len() + g.previous.len()
            })
            .sum()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once() {
        let c = NonceCache::new(300, 1000);
        assert!(c.insert([1; 16], 1000));
        assert!(!c.insert([1; 16], 1001));
        assert!(c.insert([2; 16], 1001));
    }

    #[test]
    fn a_nonce_is_remembered_for_at_least_twice_the_window() {
        let c = NonceCache::new(300, 0);
        assert!(c.insert([1; 16], 599));
        // One rotation later it is in `previous` and still refused.
        assert!(!c.insert([1; 16], 600));
        assert!(!c.insert([1; 16], 1198));
    }

    #[test]
    fn old_nonces_are_forgotten() {
        let c = NonceCache::new(300, 0);
        assert!(c.insert([1; 16], 0));
        assert!(c.insert([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 600));
        assert_eq!(c.len(), 2);
        assert!(c.insert([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1200));
        assert_eq!(c.len(), 2);
        // By now its timestamp is long outside the window, so the clock check refuses it.
        assert!(c.insert([1; 16], 1200));
    }
}
