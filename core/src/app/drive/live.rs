//! Live updates: staying subscribed to every space's mailbox (and the
//! journal's, with journal sync on) and telling the app which space
//! changed.
//!
//! [`SafeSpaces::live`] starts a background task (on the caller's tokio
//! runtime) that follows every space's current mailbox over one WebSocket
//! and hands each new blob to the same receive as `sync`, then calls the
//! [`SpaceListener`] with the space that changed. On a tick it runs the
//! engine's push-only pass ([`PassMode::PushOnly`]): what this device made
//! is sealed and pushed, and a coordinator's device compacts when due;
//! with nothing to push it asks the relay nothing. The journal's pass runs
//! only when its mailbox got something or this device changed it. So an
//! idle live device costs the relay no request beyond the WebSocket's
//! keep-alives (`BENCHMARKS.md`, "Requests per idle device-hour").
//! Dropping the returned [`LiveSync`] stops it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use super::super::error::AppResult;
use super::super::safe_spaces::SafeSpaces;
use super::super::shared::Shared;
use super::super::space_handle::entry;
use super::super::space_sync::SyncReport;
use crate::engine::{PassMode, SpaceSyncState};
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

/// How often live updates run their pass with no local edit to push
/// (retrying a failed push, answering invites, a coordinator's compaction).
pub const LIVE_PUSH_INTERVAL: Duration = Duration::from_secs(2);

/// How long after a local edit live updates push it: edits made together
/// (a series, a form's fields, a lead's burst of changes) go out in one
/// envelope. The same 100 ms automerge-repo waits before syncing a changed
/// document with its peers (`DocSynchronizer`'s `syncDebounceRate`).
pub const LIVE_PUSH_DEBOUNCE: Duration = Duration::from_millis(100);

/// At most this many queued blobs are received together.
const LIVE_RECEIVE_BATCH: usize = 256;

/// Turns to receive, shared by every live subscription in this process:
/// one per core.
///
/// Receiving is CPU work (opening, verifying, checking and applying
/// envelopes, then one durable write) that holds the device's lock. With
/// several profiles live in one process (the test suites, the convergence
/// bench, an app holding two profiles), one receive per profile at once
/// would only share the cores among them: each receive, and the lock it
/// holds, lasts as many times longer as there are others running, and the
/// app's own edits wait behind that lock and compete for the same cores.
/// With a turn per core, a receive runs at full speed and a device that
/// waits for its turn receives everything that arrived meanwhile in one
/// batch. A phone with one profile receives one batch at a time anyway.
fn receive_turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    })
}

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

/// What a followed mailbox belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Followed {
    /// A space's mailbox, at this epoch.
    Space(SpaceId, u32),
    /// The journal's mailbox.
    Journal,
}

/// Every mailbox live updates follow: each space's current one, and the
/// journal's while journal sync is on. With each, its credential and this
/// device's cursor there.
fn follow(shared: &Shared) -> AppResult<HashMap<MailboxId, (Followed, MailboxCredential, u64)>> {
    shared.with_loaded(|loaded| {
        let mut out = HashMap::new();
        for (space, e) in &loaded.registry.spaces {
            let credential = shared.keys().credential(*space, e, e.epoch)?;
            out.insert(
                credential.id(),
                (Followed::Space(*space, e.epoch), credential, e.cursor),
            );
        }
        let registry = &loaded.registry;
        if registry.journal_sync {
            let key = shared
                .keys()
                .journal(registry, registry.journal_epoch.epoch)?;
            let credential = MailboxCredential::for_journal(&key);
            out.insert(
                credential.id(),
                (Followed::Journal, credential, registry.journal_cursor),
            );
        }
        Ok(out)
    })
}

/// Follows what [`follow`] says now: mailboxes left behind (an epoch a
/// handover or rotation moved on from, a forgotten space) are dropped,
/// new ones added from this device's cursor.
fn refollow(
    shared: &Shared,
    subscription: &mut crate::relay::Subscription,
    followed: &mut HashMap<MailboxId, (Followed, MailboxCredential, u64)>,
) {
    let Ok(next) = follow(shared) else { return };
    for id in followed.keys() {
        if !next.contains_key(id) {
            subscription.remove(*id);
        }
    }
    for (id, (_, credential, cursor)) in &next {
        if !followed.contains_key(id) {
            subscription.add(credential.clone(), *cursor);
        }
    }
    *followed = next;
}

/// Whether the journal has something to push: this device changed it
/// since its last push.
fn journal_changed_here(shared: &Shared) -> bool {
    shared
        .with_loaded(|loaded| {
            Ok(loaded.registry.journal_sync
                && loaded.journal.heads() != loaded.registry.journal_pushed_heads)
        })
        .unwrap_or(false)
}

async fn run(shared: Arc<Shared>, client: RelayTransport, listener: Arc<dyn SpaceListener>) {
    let mut subscription = client.subscribe();
    let journal_on = shared
        .with_loaded(|loaded| Ok(loaded.registry.journal_sync))
        .unwrap_or(false);
    // The journal's mailbox is made by its first pass: catch up once, then
    // follow it.
    if journal_on {
        let mut report = SyncReport::default();
        match shared
            .sync_journal(&client, Timestamp::now(), &mut report)
            .await
        {
            Ok(()) if report.applied > 0 => listener.journal_changed(),
            Ok(()) => {}
            Err(e) => tracing::debug!(
                kind = e.kind(),
                "live journal catch-up failed; retried on the next tick"
            ),
        }
    }
    let mut followed = match follow(&shared) {
        Ok(f) => f,
        Err(e) => {
            super::super::error::warn_failed!(&e, "live updates could not start");
            return;
        }
    };
    tracing::info!(mailboxes = followed.len(), "live updates started");
    for (credential, cursor) in followed.values().map(|(_, c, cursor)| (c.clone(), *cursor)) {
        subscription.add(credential, cursor);
    }
    // What each space's passes know between ticks (which mailboxes exist).
    let mut states: HashMap<SpaceId, SpaceSyncState> = HashMap::new();
    // The journal's mailbox got something, or a space moved: its pass is due.
    let mut journal_due = false;
    let mut tick = tokio::time::interval(LIVE_PUSH_INTERVAL);
    // A push after a local edit is scheduled (the tick moved up).
    let mut push_soon = false;
    loop {
        tokio::select! {
            event = subscription.next() => {
                let Some(event) = event else {
                    tracing::info!("live updates ended: the subscription stopped");
                    return;
                };
                // A turn to receive first (see `receive_turns`): what
                // arrives while this device waits for one joins this batch.
                // Held until every run of the batch is received.
                let _turn = receive_turns().acquire().await;
                // Everything already queued is received together: one
                // receive, one write and one look at the sessions for a
                // burst, instead of one per blob.
                let mut events = vec![event];
                while events.len() < LIVE_RECEIVE_BATCH {
                    match subscription.next().now_or_never() {
                        Some(Some(more)) => events.push(more),
                        _ => break,
                    }
                }
                let mut runs: Vec<(SpaceId, u32, Vec<Blob>)> = Vec::new();
                for event in events {
                    let SubscriptionEvent::Blob { mailbox, seq, data } = event else { continue };
                    let Some((what, _, _)) = followed.get(&mailbox).cloned() else { continue };
                    let Followed::Space(space, epoch) = what else {
                        // The journal's mailbox holds whole snapshots: its pass
                        // reads and folds them (on the next tick).
                        journal_due = true;
                        continue;
                    };
                    match runs.last_mut() {
                        Some((s, e, blobs)) if *s == space && *e == epoch => {
                            blobs.push(Blob { seq, data });
                        }
                        _ => runs.push((space, epoch, vec![Blob { seq, data }])),
                    }
                }
                let mut refollow_now = false;
                for (space, epoch, blobs) in runs {
                    let count = blobs.len();
                    // Off the async workers: receiving checks and writes,
                    // and the WebSocket and other devices' pushes go on.
                    let worker = Arc::clone(&shared);
                    let received = tokio::task::spawn_blocking(move || {
                        let mut report = SyncReport::default();
                        let moved = worker.apply_pulled(space, epoch, blobs, Timestamp::now(), &mut report);
                        (moved, report)
                    })
                    .await;
                    let (moved, report) = match received {
                        Ok(received) => received,
                        Err(e) => {
                            tracing::warn!(%e, "a live receive stopped; the next sync reads it again");
                            continue;
                        }
                    };
                    match &moved {
                        Ok(_) => tracing::debug!(
                            blobs = count,
                            applied = report.applied,
                            refused = report.refused,
                            "live update received"
                        ),
                        Err(e) => super::super::error::warn_failed!(e, "a live update could not be received"),
                    }
                    if let Ok(moved) = moved {
                        listener.space_changed(space.to_hex());
                        if moved {
                            // A handover: follow the new epoch's mailbox instead.
                            tracing::info!(from_epoch = epoch, "live updates follow a space's new epoch");
                            states.remove(&space);
                            refollow_now = true;
                        }
                    }
                }
                if refollow_now {
                    refollow(&shared, &mut subscription, &mut followed);
                    // It may have removed one of this person's devices.
                    journal_due = true;
                }
            }
            () = shared.edited.notified() => {
                // A local edit: push it soon, once for a burst of edits,
                // not on the tick up to two seconds later.
                if !push_soon {
                    push_soon = true;
                    tick.reset_after(LIVE_PUSH_DEBOUNCE);
                }
            }
            _ = tick.tick() => {
                push_soon = false;
                let spaces: Vec<(SpaceId, u32)> = followed
                    .values()
                    .filter_map(|(what, _, _)| match what {
                        Followed::Space(space, epoch) => Some((*space, *epoch)),
                        Followed::Journal => None,
                    })
                    .collect();
                let mut moved_on = false;
                for (space, epoch) in spaces {
                    let state = states.entry(space).or_default();
                    let mut report = SyncReport::default();
                    let now = Timestamp::now();
                    // A failed pass (offline) is retried on the next tick;
                    // the outbox keeps everything meanwhile. The relay
                    // client has already logged why at `warn`.
                    if let Err(e) = live_pass(&shared, &client, space, state, now, &mut report).await {
                        state.forget_mailboxes();
                        tracing::debug!(kind = e.kind(), "live push pass failed; retried on the next tick");
                    }
                    if report.applied > 0 || report.pushed > 0 || report.admitted > 0 {
                        listener.space_changed(space.to_hex());
                    }
                    let now_epoch = shared
                        .with_loaded(|loaded| Ok(entry(loaded, space)?.epoch))
                        .unwrap_or(epoch);
                    if now_epoch != epoch {
                        state.forget_mailboxes();
                        moved_on = true;
                    }
                }
                if moved_on {
                    // This device rotated (a removal it made or learned of).
                    refollow(&shared, &mut subscription, &mut followed);
                    journal_due = true;
                }
                let journal_sync = shared
                    .with_loaded(|loaded| Ok(loaded.registry.journal_sync))
                    .unwrap_or(false);
                if !journal_sync || !(journal_due || journal_changed_here(&shared)) {
                    continue;
                }
                journal_due = false;
                let mut report = SyncReport::default();
                match shared.sync_journal(&client, Timestamp::now(), &mut report).await {
                    Ok(()) if report.applied > 0 => listener.journal_changed(),
                    Ok(()) => {}
                    Err(e) => {
                        journal_due = true;
                        tracing::debug!(kind = e.kind(), "live journal pass failed; retried on the next tick");
                    }
                }
                // Its pass may have moved the journal to a new key.
                refollow(&shared, &mut subscription, &mut followed);
            }
        }
    }
}

impl Shared {
    /// Whether `space` has invites whose drop-boxes a sync must look at.
    pub(crate) fn has_issued_invites(&self, space: SpaceId) -> bool {
        self.with_loaded(|loaded| Ok(!entry(loaded, space)?.issued.is_empty()))
            .unwrap_or(false)
    }
}

/// One tick's work for a space: answering invites only while it has some
/// out (their drop-boxes have no subscription), and the push-only pass.
async fn live_pass(
    shared: &Shared,
    client: &RelayTransport,
    space: SpaceId,
    state: &mut SpaceSyncState,
    now: Timestamp,
    report: &mut SyncReport,
) -> AppResult<()> {
    let invites = shared.has_issued_invites(space);
    if invites {
        shared.answer_requests(client, space, now, report).await?;
    }
    shared
        .run_pass(client, space, PassMode::PushOnly, state, now, report)
        .await?;
    if invites {
        shared.deliver_welcomes(client, space, now).await?;
    }
    Ok(())
}
