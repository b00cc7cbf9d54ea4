//! Live updates: staying subscribed to every space's mailbox and telling
//! the app which space changed.
//!
//! [`SafeSpaces::live`] starts a background task (on the caller's tokio
//! runtime) that follows every space's current mailbox over one WebSocket,
//! receives each new blob through the same path as `sync`, and calls the
//! [`SpaceListener`] with the space that changed. It also runs a full sync
//! pass (push what this device made, compact) on a tick, so local edits go
//! out without the app calling `sync`; with journal sync on, the same tick
//! carries the journal between the person's devices and tells the listener
//! when it changed. Dropping the returned [`LiveSync`] stops it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::relay_sync::SyncReport;
use super::space_handle::entry;
use super::{AppResult, SafeSpaces, Shared};
use crate::model::Timestamp;
use crate::protocol::SpaceId;
use crate::relay::{Blob, MailboxCredential, MailboxId, RelayTransport, SubscriptionEvent};

/// Told when a space, or the journal, changed because of something
/// received.
pub trait SpaceListener: Send + Sync {
    /// `space_id` (hex) changed; re-read what you show of it.
    fn space_changed(&self, space_id: String);

    /// The journal changed: the person's other device wrote to it (only
    /// with journal sync turned on). Ignored unless implemented.
    fn journal_changed(&self) {}
}

/// A running live subscription; dropping it stops it.
pub struct LiveSync {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LiveSync {
    fn drop(&mut self) {
        self.task.abort();
        tracing::info!("live updates stopped");
    }
}

/// How often local changes are pushed while live.
pub const LIVE_PUSH_INTERVAL: Duration = Duration::from_secs(2);

impl SafeSpaces {
    /// Starts live updates. Must be called inside a tokio runtime.
    pub fn live(
        &self,
        client: RelayTransport,
        listener: Arc<dyn SpaceListener>,
    ) -> AppResult<LiveSync> {
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            run(shared, client, listener).await;
        });
        Ok(LiveSync { task })
    }
}

/// Which mailbox belongs to which space, and at which epoch.
fn follow(
    shared: &Shared,
) -> AppResult<HashMap<MailboxId, (SpaceId, u32, MailboxCredential, u64)>> {
    shared.with_loaded(|loaded| {
        let mut out = HashMap::new();
        for (space, e) in &loaded.registry.spaces {
            let credential = shared.keys().credential(*space, e, e.epoch)?;
            out.insert(credential.id(), (*space, e.epoch, credential, e.cursor));
        }
        Ok(out)
    })
}

async fn run(shared: Arc<Shared>, client: RelayTransport, listener: Arc<dyn SpaceListener>) {
    let mut subscription = client.subscribe();
    let mut followed = match follow(&shared) {
        Ok(f) => f,
        Err(e) => {
            super::error::warn_failed!(&e, "live updates could not start");
            return;
        }
    };
    tracing::info!(spaces = followed.len(), "live updates started");
    for (credential, cursor) in followed
        .values()
        .map(|(_, _, c, cursor)| (c.clone(), *cursor))
    {
        subscription.add(credential, cursor);
    }
    let mut tick = tokio::time::interval(LIVE_PUSH_INTERVAL);
    loop {
        tokio::select! {
            event = subscription.next() => {
                let Some(event) = event else {
                    tracing::info!("live updates ended: the subscription stopped");
                    return;
                };
                let SubscriptionEvent::Blob { mailbox, seq, data } = event else { continue };
                let Some((space, epoch, _, _)) = followed.get(&mailbox).cloned() else { continue };
                let mut report = SyncReport::default();
                let moved = shared.apply_pulled(space, epoch, vec![Blob { seq, data }], Timestamp::now(), &mut report);
                match &moved {
                    Ok(_) => tracing::debug!(
                        applied = report.applied,
                        refused = report.refused,
                        "live update received"
                    ),
                    Err(e) => super::error::warn_failed!(e, "a live update could not be received"),
                }
                if let Ok(moved) = moved {
                    listener.space_changed(space.to_hex());
                    if moved {
                        // A handover: follow the new epoch's mailbox instead.
                        tracing::info!(from_epoch = epoch, "live updates follow a space's new epoch");
                        subscription.remove(mailbox);
                        if let Ok(next) = follow(&shared) {
                            for (id, (s, _, credential, cursor)) in &next {
                                if *s == space {
                                    subscription.add(credential.clone(), *cursor);
                                    let _ = id;
                                }
                            }
                            followed = next;
                        }
                    }
                }
            }
            _ = tick.tick() => {
                let spaces: Vec<SpaceId> = followed.values().map(|(s, _, _, _)| *s).collect();
                for space in spaces {
                    let pending = shared
                        .with_loaded(|loaded| Ok(entry(loaded, space).map(|e| !e.outbox.is_empty()).unwrap_or(false)))
                        .unwrap_or(false);
                    let mut report = SyncReport::default();
                    // A failed pass (offline) is retried on the next tick;
                    // the outbox keeps everything meanwhile.
                    // The relay client has already logged why at `warn`.
                    if let Err(e) = shared.sync_space(&client, space, Timestamp::now(), &mut report).await {
                        tracing::debug!(kind = e.kind(), "live push pass failed; retried on the next tick");
                    }
                    if report.applied > 0 || pending {
                        listener.space_changed(space.to_hex());
                    }
                }
                // The journal has no subscription of its own (its mailbox
                // holds whole snapshots, pushed when it changes): a pass on
                // the tick carries it between the person's devices. Does
                // nothing, and asks the relay nothing, while journal sync
                // is off.
                let journal_sync = shared
                    .with_loaded(|loaded| Ok(loaded.registry.journal_sync))
                    .unwrap_or(false);
                if !journal_sync {
                    continue;
                }
                let mut report = SyncReport::default();
                match shared.sync_journal(&client, Timestamp::now(), &mut report).await {
                    Ok(()) if report.applied > 0 => listener.journal_changed(),
                    Ok(()) => {}
                    Err(e) => tracing::debug!(kind = e.kind(), "live journal pass failed; retried on the next tick"),
                }
            }
        }
    }
}
