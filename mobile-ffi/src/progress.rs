//! Sync progress: a foreign listener told how far a sync has come, for a
//! progress bar on long transfers, and the handle that keeps it installed.

use std::sync::{Arc, Mutex, PoisonError};

use safespaces_core::app;

use crate::app::SafeSpaces;
use crate::error::SafeSpacesError;

/// How far a sync has come for one space.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// The space being synced (32 hex digits).
    pub space_id: String,
    /// Blobs received so far for this space in this pass over it.
    pub received: u64,
    /// Blobs there are to receive for this space in this pass, as the
    /// relay counts them; `received` reaches it when the pass is done
    /// (unless the relay compacted older blobs away, when it stays below).
    pub total: u64,
    /// Envelopes this device has sent so far in this sync.
    pub sent: u64,
}

impl From<app::Progress> for SyncProgress {
    fn from(p: app::Progress) -> Self {
        SyncProgress {
            space_id: p.space,
            received: p.received,
            total: p.total,
            sent: p.sent,
        }
    }
}

/// Told how far a sync has come, after each page of blobs it receives.
#[uniffi::export(with_foreign)]
pub trait SyncProgressListener: Send + Sync {
    /// The sync now stands at `progress`. Called on the thread running the
    /// sync, so return promptly; throwing loses only this report and never
    /// stops the sync.
    fn on_progress(&self, progress: SyncProgress) -> Result<(), SafeSpacesError>;
}

/// An installed progress listener; destroying (or dropping) it, or calling
/// [`ProgressSubscription::stop`], removes it.
#[derive(uniffi::Object)]
pub struct ProgressSubscription {
    inner: Mutex<Option<app::ProgressWatch>>,
}

#[uniffi::export]
impl ProgressSubscription {
    /// Removes the listener now, for languages where destroying an object
    /// waits for a garbage collector. Once it returns the listener is not
    /// called again (unless called from inside the listener, whose current
    /// call then finishes). Does nothing if a later `watchProgress`
    /// already replaced this listener.
    pub fn stop(&self) {
        drop(
            self.inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}

#[uniffi::export]
impl SafeSpaces {
    /// Calls `listener` with the progress of every sync (`sync` and live
    /// updates) until the returned handle is destroyed or stopped. A
    /// profile has one progress listener: watching again replaces it.
    pub fn watch_progress(
        &self,
        listener: Arc<dyn SyncProgressListener>,
    ) -> Arc<ProgressSubscription> {
        let watch = self.inner.watch_progress(Box::new(move |progress| {
            // A listener that throws is told again on the next page: a
            // progress bar is not worth failing a sync over, and the app
            // has no one else to report to.
            let _ = listener.on_progress(progress.into());
        }));
        Arc::new(ProgressSubscription {
            inner: Mutex::new(Some(watch)),
        })
    }
}
