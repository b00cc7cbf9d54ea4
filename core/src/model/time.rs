//! Time as the documents store it.
//!
//! Seconds since the Unix epoch, UTC, as a signed 64-bit integer. The model
//! never reads the clock itself: every operation that needs "now" takes it as
//! an argument, so rules are deterministic and testable, and the caller (the
//! app, the CLI) decides which clock to trust.

use std::fmt;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

/// A point in time: whole seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time from the system clock.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self(secs)
    }

    /// Seconds since the epoch.
    pub fn as_secs(self) -> i64 {
        self.0
    }

    /// This time plus a number of seconds (saturating, never panicking).
    pub fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

// Written by hand rather than derived: the derived newtype impl only
// overrides `hydrate`, so `Option<Timestamp>` (which calls `hydrate_int`
// directly) would refuse a stored integer.
impl Hydrate for Timestamp {
    fn hydrate_int(i: i64) -> Result<Self, autosurgeon::HydrateError> {
        Ok(Timestamp(i))
    }

    fn hydrate_uint(u: u64) -> Result<Self, autosurgeon::HydrateError> {
        i64::try_from(u).map(Timestamp).map_err(|_| {
            autosurgeon::HydrateError::unexpected("a timestamp", "an out-of-range integer".into())
        })
    }
}

impl Reconcile for Timestamp {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: autosurgeon::Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
        self.0.reconcile(reconciler)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
