//! Exponential backoff with full jitter for transient relay failures.
//!
//! Why jitter: when a relay restarts, every device that lost it retries; with
//! fixed delays they would all come back in the same instant and knock it
//! over again. "Full jitter" draws each delay uniformly from zero to the
//! exponential bound, which spreads the herd best for the fewest retries.

use std::time::Duration;

use rand::Rng;

/// How often and how patiently to retry a transient failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The bound of the first delay; each later bound doubles.
    pub base_delay: Duration,
    /// No delay bound grows past this.
    pub max_delay: Duration,
    /// Attempts in all, the first included; `1` means never retry. The live
    /// subscription ignores this and reconnects until it is dropped.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 250 ms doubling up to 30 s, five attempts: a request gives up after a
    /// few seconds (then the caller reports "offline"), while a relay
    /// restart of a few seconds is ridden out.
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_attempts: 5,
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the delay before retry number `retry` (0 for the
    /// first retry): `min(max_delay, base_delay * 2^retry)`.
    pub fn delay_bound(&self, retry: u32) -> Duration {
        // Past 2^31 the doubling has long since hit any sane maximum.
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    /// The delay before retry number `retry`, drawn uniformly from
    /// `[0, delay_bound(retry)]` with `rng` (seed it in tests).
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let bound = self.delay_bound(retry);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.gen_range(0..=nanos))
    }

    /// Whether a failure on attempt number `attempt` (1 for the first) may
    /// be followed by another.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;
    use rand::rngs::StdRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_attempts: 4,
        }
    }

    #[test]
    fn bounds_double_then_stop_at_the_maximum() {
        let p = policy();
        let bounds: Vec<u128> = (0..6).map(|r| p.delay_bound(r).as_millis()).collect();
        assert_eq!(bounds, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay_bound(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_their_bound_and_are_spread() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 0..8 {
            let draws: Vec<Duration> = (0..200).map(|_| p.delay(retry, &mut rng)).collect();
            assert!(draws.iter().all(|d| *d <= p.delay_bound(retry)));
            // Jitter: 200 draws are not all the same, and reach both halves.
            let half = p.delay_bound(retry) / 2;
            assert!(draws.iter().any(|d| *d < half));
            assert!(draws.iter().any(|d| *d > half));
        }
    }

    #[test]
    fn same_seed_gives_the_same_schedule() {
        let p = policy();
        let a: Vec<Duration> = {
            let mut rng = StdRng::seed_from_u64(42);
            (0..5).map(|r| p.delay(r, &mut rng)).collect()
        };
        let b: Vec<Duration> = {
            let mut rng = StdRng::seed_from_u64(42);
            (0..5).map(|r| p.delay(r, &mut rng)).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn attempts_are_counted_including_the_first() {
        let p = policy();
        assert!(p.may_retry(1));
        assert!(p.may_retry(3));
        assert!(!p.may_retry(4));
        let never = RetryPolicy {
            max_attempts: 1,
            ..p
        };
        assert!(!never.may_retry(1));
    }
}
