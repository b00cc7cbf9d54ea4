//! The relay client and its sync status, and the one tokio runtime the
//! FFI keeps for what runs in the background (live updates, status
//! listeners).

use std::sync::{Arc, OnceLock};

use safespaces_core::sync;

use crate::SafeSpacesError;

/// The process-wide runtime for background tasks. Async methods run on
/// uniffi's tokio support instead; this one only hosts what outlives a call.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("safespaces-ffi")
            .enable_all()
            .build()
            .expect("the FFI's tokio runtime starts")
    })
}

/// What the UI should say about syncing with the relay.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// The relay cannot be reached (or has not been tried yet); work is
    /// kept on the device and goes out later.
    Offline {
        /// Why, for a status line.
        reason: String,
    },
    /// Talking to the relay.
    Syncing,
    /// Nothing in flight and nothing known to be missing.
    UpToDate,
    /// Syncing cannot work until someone changes something.
    Error {
        /// What is wrong and what to do.
        reason: String,
    },
}

impl From<sync::SyncStatus> for SyncStatus {
    fn from(s: sync::SyncStatus) -> Self {
        match s {
            sync::SyncStatus::Offline { reason } => SyncStatus::Offline { reason },
            sync::SyncStatus::Syncing => SyncStatus::Syncing,
            sync::SyncStatus::UpToDate => SyncStatus::UpToDate,
            sync::SyncStatus::Error { reason } => SyncStatus::Error { reason },
            other => SyncStatus::Error {
                reason: format!("{other:?}"),
            },
        }
    }
}

/// Told when a relay client's sync status changes.
#[uniffi::export(with_foreign)]
pub trait SyncStatusListener: Send + Sync {
    /// The status is now `status`.
    fn status_changed(&self, status: SyncStatus) -> Result<(), SafeSpacesError>;
}

/// A running status subscription; destroying (or dropping) it stops it.
#[derive(uniffi::Object)]
pub struct StatusSubscription {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StatusSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connection to one relay, shared by every call that talks to it.
#[derive(uniffi::Object)]
pub struct RelayClient {
    pub(crate) inner: sync::RelayClient,
}

#[uniffi::export]
impl RelayClient {
    /// A client for the relay at `url` (`https://host:port`) whose
    /// certificate has the SHA-256 pin `pin_hex`.
    #[uniffi::constructor]
    pub fn pinned(url: String, pin_hex: String) -> Result<Self, SafeSpacesError> {
        let config = sync::RelayConfig::pinned(&url, &pin_hex)?;
        Ok(RelayClient {
            inner: sync::RelayClient::new(config)?,
        })
    }

    /// The sync status now.
    pub fn status(&self) -> SyncStatus {
        self.inner.status().get().into()
    }

    /// Calls `listener` on every status change until the returned handle
    /// is destroyed.
    pub fn watch_status(&self, listener: Arc<dyn SyncStatusListener>) -> Arc<StatusSubscription> {
        let mut watch = self.inner.status();
        let task = runtime().spawn(async move {
            while let Some(status) = watch.changed().await {
                // A listener that throws keeps being told: the next change
                // may succeed, and the app has no one else to report to.
                let _ = listener.status_changed(status.into());
            }
        });
        Arc::new(StatusSubscription { task })
    }
}
