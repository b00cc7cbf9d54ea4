//! The sync status the UI shows: offline, syncing, up to date, or an error
//! with its reason.
//!
//! Honesty rules: "up to date" only when nothing is in flight, the last
//! contact with the relay succeeded and the live subscription (if any) has
//! delivered everything the relay held when it subscribed; a problem that
//! needs a person (wrong pin, refused token, full quota, a clock so wrong the
//! relay rejects our signatures) is an error, never a silent "offline".

use std::sync::{Arc, Mutex, PoisonError};

use safespaces_wire::ErrorCode;
use tokio::sync::watch;

use super::error::RelayError;

/// What the UI should say about syncing with the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncStatus {
    /// The relay cannot be reached (or has not been tried yet); work is kept
    /// on the device and goes out later.
    Offline {
        /// Why, in words for a status line.
        reason: String,
    },
    /// Talking to the relay: requests in flight, or the subscription is
    /// connecting or catching up.
    Syncing,
    /// Nothing in flight and nothing known to be missing.
    UpToDate,
    /// Syncing cannot work until someone changes something.
    Error {
        /// What is wrong and what to do, in words for the UI.
        reason: String,
    },
}

impl SyncStatus {
    /// A stable name for the status, for logs: `offline`, `syncing`,
    /// `up_to_date`, `error`. The reasons are not logged: they may name the
    /// relay's address or pins.
    pub fn kind(&self) -> &'static str {
        match self {
            SyncStatus::Offline { .. } => "offline",
            SyncStatus::Syncing => "syncing",
            SyncStatus::UpToDate => "up_to_date",
            SyncStatus::Error { .. } => "error",
        }
    }

    /// Whether the status says something is wrong (offline or an error).
    fn is_trouble(&self) -> bool {
        matches!(self, SyncStatus::Offline { .. } | SyncStatus::Error { .. })
    }
}

/// A view of a client's [`SyncStatus`] that follows its changes.
#[derive(Clone, Debug)]
pub struct StatusWatch(watch::Receiver<SyncStatus>);

impl StatusWatch {
    /// The status now.
    pub fn get(&self) -> SyncStatus {
        self.0.borrow().clone()
    }

    /// Waits until the status changes and returns the new one; `None` once
    /// the client is gone.
    pub async fn changed(&mut self) -> Option<SyncStatus> {
        self.0.changed().await.ok()?;
        Some(self.0.borrow_and_update().clone())
    }
}

/// How the last contact on one channel (requests, or the subscription) went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// Never tried.
    Unknown,
    /// Worked.
    Reachable,
    /// Network failure.
    Offline(String),
    /// Needs a person.
    Error(String),
}

impl Health {
    /// How a finished request leaves the relay's health.
    pub(crate) fn after(result: Result<(), &RelayError>) -> Self {
        let Err(err) = result else {
            return Health::Reachable;
        };
        match err {
            RelayError::Offline { detail, .. } => Health::Offline(detail.clone()),
            RelayError::Refused { code, .. } if !needs_a_person(*code) => Health::Reachable,
            other => Health::Error(other.to_string()),
        }
    }
}

/// Refusals that will repeat until someone changes a setting or a clock;
/// others (no such drop-box, a bad compaction range) are answers to one call.
/// `bad_signature` is one of those: the relay gives it for a mailbox it does
/// not hold (so that nobody can probe which ids exist), and a device signs
/// with keys it derived, so for it the answer means "this mailbox is not
/// there", about one mailbox and not about the relay.
fn needs_a_person(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Forbidden
            | ErrorCode::Unauthenticated
            | ErrorCode::StaleTimestamp
            | ErrorCode::QuotaBlobsExceeded
            | ErrorCode::QuotaBytesExceeded
            | ErrorCode::RelayFull
    )
}

#[derive(Debug)]
struct Board {
    in_flight: u32,
    requests: Health,
    /// `None` while no subscription runs.
    subscription: Option<(Health, bool)>,
}

/// Combines what requests and the subscription report into one status.
#[derive(Clone, Debug)]
pub(crate) struct StatusBoard {
    board: Arc<Mutex<Board>>,
    tx: Arc<watch::Sender<SyncStatus>>,
}

impl StatusBoard {
    pub(crate) fn new() -> Self {
        let board = Board {
            in_flight: 0,
            requests: Health::Unknown,
            subscription: None,
        };
        let (tx, _) = watch::channel(compute(&board));
        Self {
            board: Arc::new(Mutex::new(board)),
            tx: Arc::new(tx),
        }
    }

    pub(crate) fn watch(&self) -> StatusWatch {
        StatusWatch(self.tx.subscribe())
    }

    fn update(&self, f: impl FnOnce(&mut Board)) {
        // A panic elsewhere while holding the lock leaves plain data behind;
        // the status is still worth showing.
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut board);
        let status = compute(&board);
        let mut change = None;
        self.tx.send_if_modified(|current| {
            let changed = *current != status;
            if changed {
                change = Some((
                    current.kind(),
                    status.kind(),
                    current.is_trouble() || status.is_trouble(),
                ));
            }
            *current = status;
            changed
        });
        // Logged with no lock held: the app's logger may read the status.
        drop(board);
        match change {
            // Going into or out of trouble is what a support person looks
            // for; every request flips syncing and up to date, which is detail.
            Some((from, to, true)) => tracing::info!(from, to, "sync status changed"),
            Some((from, to, false)) => tracing::debug!(from, to, "sync status changed"),
            None => {}
        }
    }

    pub(crate) fn request_started(&self) {
        self.update(|b| b.in_flight += 1);
    }

    /// One attempt failed and will be retried: show it now.
    pub(crate) fn attempt_failed(&self, err: &RelayError) {
        self.update(|b| b.requests = Health::after(Err(err)));
    }

    pub(crate) fn request_finished(&self, result: Result<(), &RelayError>) {
        self.update(|b| {
            b.in_flight = b.in_flight.saturating_sub(1);
            b.requests = Health::after(result);
        });
    }

    /// A request was cancelled: it no longer counts, and it proved nothing.
    pub(crate) fn request_abandoned(&self) {
        self.update(|b| b.in_flight = b.in_flight.saturating_sub(1));
    }

    /// The subscription's connection health and whether it is still behind
    /// the relay (connecting or delivering its backlog).
    pub(crate) fn subscription(&self, health: Health, behind: bool) {
        self.update(|b| {
            // A live subscription is newer evidence than a request that
            // failed for the network: the relay is reachable again.
            if health == Health::Reachable && matches!(b.requests, Health::Offline(_)) {
                b.requests = Health::Reachable;
            }
            b.subscription = Some((health, behind));
        });
    }

    /// The subscription is (re)connecting: behind, health as last known.
    pub(crate) fn subscription_connecting(&self) {
        self.update(|b| {
            let health = b
                .subscription
                .take()
                .map_or(Health::Unknown, |(health, _)| health);
            b.subscription = Some((health, true));
        });
    }

    pub(crate) fn subscription_stopped(&self) {
        self.update(|b| {
            // What the subscription last learnt about the relay stays true.
            if let Some((health, _)) = b.subscription.take() {
                if b.requests == Health::Unknown {
                    b.requests = health;
                }
            }
        });
    }
}

fn compute(b: &Board) -> SyncStatus {
    let sub = b.subscription.as_ref();
    for health in [Some(&b.requests), sub.map(|s| &s.0)].into_iter().flatten() {
        if let Health::Error(reason) = health {
            return SyncStatus::Error {
                reason: reason.clone(),
            };
        }
    }
    for health in [Some(&b.requests), sub.map(|s| &s.0)].into_iter().flatten() {
        if let Health::Offline(reason) = health {
            return SyncStatus::Offline {
                reason: reason.clone(),
            };
        }
    }
    if b.in_flight > 0 || sub.is_some_and(|s| s.1) {
        return SyncStatus::Syncing;
    }
    let ever_reached =
        b.requests == Health::Reachable || sub.is_some_and(|s| s.0 == Health::Reachable);
    if ever_reached {
        SyncStatus::UpToDate
    } else {
        SyncStatus::Offline {
            reason: "not connected to the relay yet".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> RelayError {
        RelayError::offline("connection refused", false)
    }

    #[test]
    fn starts_offline_then_syncing_then_up_to_date() {
        let board = StatusBoard::new();
        let w = board.watch();
        assert!(matches!(w.get(), SyncStatus::Offline { .. }));
        board.request_started();
        assert_eq!(w.get(), SyncStatus::Syncing);
        board.request_finished(Ok(()));
        assert_eq!(w.get(), SyncStatus::UpToDate);
    }

    #[test]
    fn a_failed_attempt_shows_offline_while_retrying_and_clears_on_success() {
        let board = StatusBoard::new();
        let w = board.watch();
        board.request_started();
        board.attempt_failed(&offline());
        assert!(matches!(w.get(), SyncStatus::Offline { reason } if reason.contains("refused")));
        board.request_finished(Ok(()));
        assert_eq!(w.get(), SyncStatus::UpToDate);
    }

    #[test]
    fn configuration_refusals_are_errors_but_answers_are_not() {
        let board = StatusBoard::new();
        let w = board.watch();
        let refused = |code| RelayError::Refused {
            code,
            status: 400,
            message: "m".into(),
        };
        board.request_started();
        board.request_finished(Err(&refused(ErrorCode::DropboxNotFound)));
        assert_eq!(w.get(), SyncStatus::UpToDate);
        board.request_started();
        board.request_finished(Err(&refused(ErrorCode::Forbidden)));
        assert!(matches!(w.get(), SyncStatus::Error { reason } if reason.contains("forbidden")));
    }

    #[test]
    fn a_subscription_catching_up_is_syncing() {
        let board = StatusBoard::new();
        let w = board.watch();
        board.subscription(Health::Reachable, true);
        assert_eq!(w.get(), SyncStatus::Syncing);
        board.subscription(Health::Reachable, false);
        assert_eq!(w.get(), SyncStatus::UpToDate);
        board.subscription(Health::Offline("relay closed".into()), true);
        assert!(matches!(w.get(), SyncStatus::Offline { .. }));
        board.subscription_stopped();
        assert!(matches!(w.get(), SyncStatus::Offline { .. }));
    }

    #[test]
    fn a_live_subscription_outdates_an_earlier_offline_request() {
        let board = StatusBoard::new();
        let w = board.watch();
        board.subscription_connecting();
        assert_eq!(w.get(), SyncStatus::Syncing, "first connection under way");
        board.request_started();
        board.request_finished(Err(&offline()));
        board.subscription(Health::Offline("cut".into()), true);
        board.subscription_connecting();
        assert!(matches!(w.get(), SyncStatus::Offline { .. }));
        board.subscription(Health::Reachable, false);
        assert_eq!(w.get(), SyncStatus::UpToDate);
    }
}
