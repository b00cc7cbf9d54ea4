//! The progress callback: what it is told ([`Progress`]) and the slot that
//! holds a profile's one callback (`progress.rs` installs and removes it for
//! the app). Callbacks are numbered so a stale guard cannot remove a newer
//! one, and a call is made outside the slot's lock, so the callback may
//! replace or remove itself.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// How far a sync has come, for a progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The space being synced, hex.
    pub space: String,
    /// Blobs received so far for this space in this pass over it.
    pub received: u64,
    /// Blobs there are to receive for this space in this pass (as the
    /// relay counts them on the latest page read).
    pub total: u64,
    /// Envelopes sent so far.
    pub sent: u64,
}

/// A progress callback.
pub type ProgressFn = Box<dyn Fn(Progress) + Send + Sync>;

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
    pub(super) fn install(&self, callback: ProgressFn) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Some((generation, Arc::from(callback)));
        generation
    }

    /// Removes callback `generation` if it is still the installed one, then
    /// waits for a call to it in progress on another thread.
    pub(super) fn remove(&self, generation: u64) {
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
