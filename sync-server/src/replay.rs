//! Replay protection: remembers nonces for as long as their timestamps are
//! acceptable, and not longer, within a bounded amount of memory.
//!
//! A request is accepted only if its timestamp is within ±`window` of the
//! relay's clock, so a nonce needs remembering for at most `2 × window` after
//! it was first seen. Two generations of sets, rotated every `2 × window`,
//! give exactly that with O(1) work per request and no per-entry timers.
//!
//! # The bound, and why it never opens a replay
//! Only correctly signed requests get here, but signing is not scarce:
//! anyone may create mailboxes with keys of their own (on a relay without
//! an access token) and sign as many valid requests as the rate limits let
//! through, each nonce costing memory for up to `4 × window`. So the memory
//! is bounded, and the one rule that must hold at the bound is that **a
//! nonce whose timestamp can still be accepted is never forgotten**: no
//! eviction, ever, because an evicted nonce is a replay waiting to happen.
//! What gives instead is admission. A request whose nonce cannot be
//! remembered is refused *before it has any effect* (`relay_busy`, 503,
//! retryable), and a refused request left no nonce behind, so the client may
//! send it again later: refusing is always safe, forgetting never is.
//!
//! Who is refused is chosen so that nobody can take memory from anyone else:
//!
//! 1. each mailbox holds at most `max_per_mailbox` nonces: a hostile key
//!    holder (a member, or a stranger with self-made mailboxes) fills only
//!    its own mailboxes' share;
//! 2. once `max_total` nonces are held, the relay admits only mailboxes that
//!    hold fewer than [`FLOOR`] (so a mailbox that an honest device uses a
//!    little keeps working slowly during a flood made of other mailboxes) and
//!    no mailbox creation (which would bring a new mailbox with a fresh
//!    floor). The memory therefore stays below `max_total + FLOOR × mailboxes`,
//!    and the number of mailboxes is bounded by the store's quota.
//!
//! Nonces are partitioned by mailbox: a nonce is remembered in the shard of
//! its mailbox, and two requests are the same request only if they are for
//! the same mailbox (the signature covers the mailbox id). Two mailboxes in
//! one shard that happen to use the same random nonce make the second request
//! look replayed: a false refusal with probability 2⁻¹²⁸, never a false
//! acceptance.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use safespaces_wire::MailboxId;

const SHARDS: usize = 16;

/// Below this many nonces a mailbox is admitted even when the relay is at
/// its total: the share nobody can take away from a mailbox.
pub const FLOOR: u32 = 64;

/// What the cache says about a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Never seen: it is now remembered and the request may proceed.
    Fresh,
    /// Seen before within the window: a replay.
    Replayed,
    /// Not seen, but it cannot be remembered now: refuse the request (it
    /// had no effect and may be sent again later).
    Busy,
}

/// How much the cache may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceLimits {
    /// Nonces held in all, before only small mailboxes are admitted.
    pub max_total: usize,
    /// Nonces one mailbox may hold.
    pub max_per_mailbox: usize,
}

#[derive(Default)]
struct Generation {
    nonces: HashSet<[u8; 16]>,
    per_mailbox: HashMap<MailboxId, u32>,
}

struct Shard {
    current: Generation,
    previous: Generation,
    rotated_at: u64,
}

impl Shard {
    fn held(&self, mailbox: &MailboxId) -> u32 {
        let n = |g: &Generation| g.per_mailbox.get(mailbox).copied().unwrap_or(0);
        n(&self.current).saturating_add(n(&self.previous))
    }
}

/// The set of recently seen nonces.
pub struct NonceCache {
    shards: Vec<Mutex<Shard>>,
    rotate_every: u64,
    limits: NonceLimits,
    total: AtomicUsize,
}

impl std::fmt::Debug for NonceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceCache")
            .field("rotate_every", &self.rotate_every)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl NonceCache {
    /// A cache for a timestamp window of ±`window_secs`.
    pub fn new(window_secs: u64, now: u64, limits: NonceLimits) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        current: Generation::default(),
                        previous: Generation::default(),
                        rotated_at: now,
                    })
                })
                .collect(),
            rotate_every: window_secs.saturating_mul(2).max(1),
            limits,
            total: AtomicUsize::new(0),
        }
    }

    /// Records `nonce` of a correctly signed request for `mailbox`;
    /// `creating` says the request creates the mailbox (see the module docs
    /// for when that is refused).
    pub fn insert(
        &self,
        mailbox: &MailboxId,
        nonce: [u8; 16],
        now: u64,
        creating: bool,
    ) -> Admission {
        let shard = &self.shards[usize::from(mailbox.as_bytes()[0]) % SHARDS];
        let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_sub(s.rotated_at);
        if elapsed >= self.rotate_every {
            // Lazy per shard. After two idle periods both generations are
            // stale; after one, only the previous one is.
            let dropped = if elapsed >= self.rotate_every.saturating_mul(2) {
                let n = s.current.nonces.len() + s.previous.nonces.len();
                s.current = Generation::default();
                s.previous = Generation::default();
                n
            } else {
                let n = s.previous.nonces.len();
                s.previous = std::mem::take(&mut s.current);
                n
            };
            s.rotated_at = now;
            self.total.fetch_sub(dropped, Ordering::AcqRel);
        }
        if s.previous.nonces.contains(&nonce) || s.current.nonces.contains(&nonce) {
            return Admission::Replayed;
        }
        let held = s.held(mailbox);
        if held as usize >= self.limits.max_per_mailbox {
            return Admission::Busy;
        }
        if self.total.load(Ordering::Acquire) >= self.limits.max_total
            && (creating || held >= FLOOR)
        {
            return Admission::Busy;
        }
        s.current.nonces.insert(nonce);
        *s.current.per_mailbox.entry(*mailbox).or_default() += 1;
        self.total.fetch_add(1, Ordering::AcqRel);
        Admission::Fresh
    }

    /// How many nonces are remembered (for metrics).
    pub fn len(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOMY: NonceLimits = NonceLimits {
        max_total: 1_000_000,
        max_per_mailbox: 100_000,
    };

    fn mb(n: u8) -> MailboxId {
        MailboxId::from_bytes([n; 32])
    }

    fn nonce(i: u32) -> [u8; 16] {
        let mut n = [0u8; 16];
        n[..4].copy_from_slice(&i.to_le_bytes());
        n
    }

    #[test]
    fn a_nonce_is_accepted_once() {
        let c = NonceCache::new(300, 1000, ROOMY);
        assert_eq!(c.insert(&mb(1), [1; 16], 1000, false), Admission::Fresh);
        assert_eq!(c.insert(&mb(1), [1; 16], 1001, false), Admission::Replayed);
        assert_eq!(c.insert(&mb(1), [2; 16], 1001, false), Admission::Fresh);
    }

    #[test]
    fn a_nonce_is_remembered_for_at_least_twice_the_window() {
        let c = NonceCache::new(300, 0, ROOMY);
        assert_eq!(c.insert(&mb(1), [1; 16], 599, false), Admission::Fresh);
        // One rotation later it is in `previous` and still refused.
        assert_eq!(c.insert(&mb(1), [1; 16], 600, false), Admission::Replayed);
        assert_eq!(c.insert(&mb(1), [1; 16], 1198, false), Admission::Replayed);
    }

    #[test]
    fn old_nonces_are_forgotten() {
        let c = NonceCache::new(300, 0, ROOMY);
        assert_eq!(c.insert(&mb(1), [1; 16], 0, false), Admission::Fresh);
        assert_eq!(c.insert(&mb(1), nonce(7), 600, false), Admission::Fresh);
        assert_eq!(c.len(), 2);
        assert_eq!(c.insert(&mb(1), nonce(8), 1200, false), Admission::Fresh);
        assert_eq!(c.len(), 2);
        // By now its timestamp is long outside the window, so the clock check refuses it.
        assert_eq!(c.insert(&mb(1), [1; 16], 1200, false), Admission::Fresh);
    }

    #[test]
    fn one_mailbox_cannot_take_more_than_its_share() {
        let c = NonceCache::new(
            300,
            0,
            NonceLimits {
                max_total: 1_000,
                max_per_mailbox: 10,
            },
        );
        for i in 0..10 {
            assert_eq!(c.insert(&mb(1), nonce(i), 0, false), Admission::Fresh);
        }
        assert_eq!(c.insert(&mb(1), nonce(10), 0, false), Admission::Busy);
        // Refused means not remembered: the same request is fine later.
        assert_eq!(c.insert(&mb(2), nonce(10), 0, false), Admission::Fresh);
        assert_eq!(c.len(), 11);
        // Once the mailbox's nonces rotate out it has room again.
        assert_eq!(c.insert(&mb(1), nonce(10), 1200, false), Admission::Fresh);
    }

    #[test]
    fn a_full_cache_refuses_big_holders_and_creations_but_never_forgets() {
        let max_total = 2_000usize;
        let c = NonceCache::new(
            300,
            0,
            NonceLimits {
                max_total,
                max_per_mailbox: 1_000,
            },
        );
        // An honest mailbox used a little before the flood.
        for i in 0..5 {
            assert_eq!(c.insert(&mb(0), nonce(i), 0, false), Admission::Fresh);
        }
        // The flood: self-made mailboxes 1 and 2 up to their share, then more.
        let mut i = 100;
        let mut flooders = 1u8;
        while c.len() < max_total {
            if c.insert(&mb(flooders), nonce(i), 0, false) == Admission::Busy {
                flooders += 1;
            }
            i += 1;
        }
        assert_eq!(c.insert(&mb(1), nonce(i), 0, false), Admission::Busy);
        assert_eq!(
            c.insert(&mb(9), nonce(i), 0, true),
            Admission::Busy,
            "no creations"
        );
        // The honest mailbox still gets its floor, and every nonce it used is
        // still remembered.
        for j in 5..FLOOR {
            assert_eq!(c.insert(&mb(0), nonce(j), 1, false), Admission::Fresh);
        }
        assert_eq!(c.insert(&mb(0), nonce(FLOOR), 1, false), Admission::Busy);
        for j in 0..FLOOR {
            assert_eq!(c.insert(&mb(0), nonce(j), 2, false), Admission::Replayed);
        }
        // Every flood nonce is remembered too: nothing was evicted.
        assert_eq!(c.insert(&mb(1), nonce(100), 2, false), Admission::Replayed);
        assert!(c.len() <= max_total + FLOOR as usize);
    }
}
