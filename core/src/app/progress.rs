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

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use super::safe_spaces::SafeSpaces;
use super::shared::Shared;
use super::space_sync::{Progress, ProgressFn};

thread_local! {
    /// Set while this thread runs a progress callback: stopping from
    /// inside the callback must not wait for the callback itself.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

type Callback = Arc<dyn Fn(Progress) + Send + Sync>;

/// The installed callback, numbered so a stale guard cannot remove a
/// newer one.
#[derive(Default)]
pub(crate) struct ProgressSlot {
    current: RwLock<Option<(u64, Callback)>>,
    generations: AtomicU64,
    /// Held (shared) while a callback runs, so stopping can wait out calls
    /// already under way and promise that none starts after it returns.
    delivering: RwLock<()>,
}

impl ProgressSlot {
    /// Installs `callback` in place of any earlier one; returns its number.
    fn install(&self, callback: ProgressFn) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Some((generation, Arc::from(callback)));
        generation
    }

    /// Removes callback `generation` if it is still the installed one, then
    /// waits for a call to it in progress on another thread.
    fn remove(&self, generation: u64) {
        {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            if current.as_ref().is_none_or(|(g, _)| *g != generation) {
                return;
            }
            *current = None;
        }
        if !IN_CALLBACK.get() {
            drop(
                self.delivering
                    .write()
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    /// Calls the installed callback, if any, with `progress`.
    pub(crate) fn report(&self, progress: Progress) {
        let _delivering = self
            .delivering
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        // Cloned out so the slot's lock is not held during the call: the
        // callback may install or remove a callback itself.
        let callback = match &*self.current.read().unwrap_or_else(PoisonError::into_inner) {
            Some((_, callback)) => Arc::clone(callback),
            None => return,
        };
        let _in_callback = InCallback::enter();
        callback(progress);
    }
}

/// Marks this thread as running a callback until dropped, also when the
/// callback panics.
struct InCallback(bool);

impl InCallback {
    fn enter() -> Self {
        InCallback(IN_CALLBACK.replace(true))
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        IN_CALLBACK.set(self.0);
    }
}

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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn progress(received: u64) -> Progress {
        Progress {
            space: "00".repeat(16),
            received,
            total: 2,
            sent: 0,
        }
    }

    fn counting(count: &Arc<AtomicUsize>) -> ProgressFn {
        let count = Arc::clone(count);
        Box::new(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[test]
    fn a_removed_callback_is_not_called_again() {
        let slot = ProgressSlot::default();
        let count = Arc::new(AtomicUsize::new(0));
        let generation = slot.install(counting(&count));
        slot.report(progress(1));
        slot.remove(generation);
        slot.report(progress(2));
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_stale_generation_does_not_remove_the_newer_callback() {
        let slot = ProgressSlot::default();
        let first = Arc::new(AtomicUsize::new(0));
        let second = Arc::new(AtomicUsize::new(0));
        let old = slot.install(counting(&first));
        slot.install(counting(&second));
        slot.remove(old);
        slot.report(progress(1));
        assert_eq!(first.load(Ordering::SeqCst), 0);
        assert_eq!(second.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_callback_may_remove_itself_without_deadlocking() {
        let slot = Arc::new(ProgressSlot::default());
        let generation = Arc::new(Mutex::new(0));
        let count = Arc::new(AtomicUsize::new(0));
        let (inner_slot, inner_generation, inner_count) = (
            Arc::downgrade(&slot),
            Arc::clone(&generation),
            Arc::clone(&count),
        );
        let installed = slot.install(Box::new(move |_| {
            inner_count.fetch_add(1, Ordering::SeqCst);
            if let Some(slot) = inner_slot.upgrade() {
                slot.remove(
                    *inner_generation
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
        }));
        *generation.lock().unwrap_or_else(PoisonError::into_inner) = installed;
        slot.report(progress(1));
        slot.report(progress(2));
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn removing_waits_for_a_call_under_way_on_another_thread() {
        let slot = Arc::new(ProgressSlot::default());
        let (started_tx, started) = std::sync::mpsc::channel();
        let finished = Arc::new(AtomicUsize::new(0));
        let inner_finished = Arc::clone(&finished);
        let generation = slot.install(Box::new(move |_| {
            let _ = started_tx.send(());
            std::thread::sleep(std::time::Duration::from_millis(100));
            inner_finished.fetch_add(1, Ordering::SeqCst);
        }));
        let reporter = Arc::clone(&slot);
        let thread = std::thread::spawn(move || reporter.report(progress(1)));
        started.recv().expect("the callback starts");
        slot.remove(generation);
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        thread.join().expect("the reporting thread ends");
    }
}
