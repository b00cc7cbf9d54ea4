//! Live updates: a foreign listener told which space changed, and the
//! handle that keeps them running.

use std::sync::Arc;

use safespaces_core::app;

use crate::app::SafeSpaces;
use crate::error::SafeSpacesError;
use crate::relay::RelayClient;
use crate::relay::runtime;

/// Told when a space, or the journal, changed because of something
/// received from the relay.
#[uniffi::export(with_foreign)]
pub trait SpaceListener: Send + Sync {
    /// `space_id` changed; re-read what you show of it.
    fn space_changed(&self, space_id: String) -> Result<(), SafeSpacesError>;

    /// The journal changed: another of this person's devices wrote to it
    /// (only while journal sync is on); re-read what you show of it.
    fn journal_changed(&self) -> Result<(), SafeSpacesError>;
}

/// Adapts the foreign listener to core's, which cannot fail: a listener
/// that throws is told again on the next change.
struct Forward(Arc<dyn SpaceListener>);

impl app::SpaceListener for Forward {
    fn space_changed(&self, space_id: String) {
        let _ = self.0.space_changed(space_id);
    }

    fn journal_changed(&self) {
        let _ = self.0.journal_changed();
    }
}

/// Running live updates; destroying (or dropping) it stops them.
#[derive(uniffi::Object)]
pub struct LiveSync {
    _inner: app::LiveSync,
}

#[uniffi::export]
impl SafeSpaces {
    /// Starts live updates from the relay: stays subscribed to every space,
    /// applies what arrives, calls `listener` with the space that changed,
    /// and pushes local changes every few seconds (and, with journal sync
    /// on, carries the journal between the person's devices). They run until the
    /// returned handle is destroyed.
    pub fn live(
        &self,
        client: Arc<RelayClient>,
        listener: Arc<dyn SpaceListener>,
    ) -> Result<Arc<LiveSync>, SafeSpacesError> {
        let _entered = runtime().enter();
        let inner = self
            .inner
            .live(client.inner.clone(), Arc::new(Forward(listener)))?;
        Ok(Arc::new(LiveSync { _inner: inner }))
    }
}
