//! Telling the app how far a sync has come: the one progress callback a
//! [`SafeSpaces`] holds, replaceable at any time through `&self` (the FFI
//! shares the object from its constructor on), and the guard that removes
//! it.
//!
//! The callback is always called outside the state lock and outside the
//! slot's own lock, so it may call back into the profile (read a space,
//! even replace itself) without deadlocking.
//!
//! ```no_run
//! # fn demo(app: &safespaces_core::app::SafeSpaces) {
//! let watch = app.watch_progress(Box::new(|p| {
//!     eprintln!("{}: {}/{} received", p.space, p.received, p.total);
//! }));
//! // ... `app.sync(..)` calls it while pulling ...
//! drop(watch); // no call starts after this returns
//! # }
//! ```

use std::sync::{Arc, Weak};

use super::progress_slot::ProgressFn;
use super::safe_spaces::SafeSpaces;
use super::shared::Shared;

/// A progress callback installed by [`SafeSpaces::watch_progress`];
/// dropping it removes the callback (unless a later one replaced it).
#[must_use = "dropping the guard removes the progress callback"]
pub struct ProgressWatch {
    shared: Weak<Shared>,
    generation: u64,
}

impl Drop for ProgressWatch {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.progress.remove(self.generation);
        }
    }
}

impl SafeSpaces {
    /// Reports sync progress to `progress` from now on, for as long as this
    /// `SafeSpaces` lives (the CLI's progress bar). Replaces any earlier
    /// callback.
    pub fn with_progress(self, progress: ProgressFn) -> Self {
        self.shared.progress.install(progress);
        self
    }

    /// Reports sync progress to `progress` until the returned guard is
    /// dropped; once the drop returns, no call starts (one already running
    /// on another thread is waited for). Replaces any earlier callback:
    /// a profile has one progress bar. Calls come from whichever thread
    /// runs the sync, outside every lock of this profile.
    pub fn watch_progress(&self, progress: ProgressFn) -> ProgressWatch {
        ProgressWatch {
            shared: Arc::downgrade(&self.shared),
            generation: self.shared.progress.install(progress),
        }
    }
}
