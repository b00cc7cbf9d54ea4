//! The state every handler shares.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::rate_limit::TokenBucket;
use crate::replay::NonceCache;
use crate::store::SharedStore;

/// Shared relay state.
pub struct App {
    /// The configuration the relay started with.
    pub config: Config,
    /// Where blobs live.
    pub store: SharedStore,
    /// Live fan-out.
    pub hub: Arc<Hub>,
    /// Nonces seen within the window.
    pub nonces: NonceCache,
    /// Counters.
    pub metrics: Metrics,
    /// Flips to `true` when the relay starts shutting down.
    pub shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// The handle handlers receive.
pub type AppState = Arc<App>;

/// Per-TLS-connection state, put into every request's extensions.
#[derive(Debug)]
pub struct ConnState {
    /// The connection's rate limit (HTTP requests and WebSocket frames alike).
    pub limiter: TokenBucket,
}

impl ConnState {
    /// Fresh state for a new connection.
    pub fn new(config: &Config) -> Self {
        Self {
            limiter: TokenBucket::new(config.rate_per_conn, config.burst_per_conn),
        }
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
