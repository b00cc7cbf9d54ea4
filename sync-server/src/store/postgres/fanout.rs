//! Live fan-out across relay nodes with PostgreSQL `LISTEN`/`NOTIFY`.
//!
//! # Protocol
//! One channel, [`CHANNEL`]. A payload is text: the sending node's random id
//! (16 hex digits) on the first line, then one line per mailbox,
//! `a <mailbox hex> <first seq> <last seq>` for blobs appended, or
//! `d <mailbox hex>` for a deleted mailbox. Never a blob: payloads travel
//! through PostgreSQL's shared notification queue and logs, and a node that
//! wants the blobs reads them from the table like any read.
//!
//! # Why outside the insert path, and batched
//! A transaction that notifies takes a cluster-wide lock at commit and holds
//! it until the commit is flushed, so notifying inside the append transaction
//! would serialise every node's commits behind one another's fsyncs. Instead
//! the writer hands each committed batch's ranges to the *notifier* task,
//! which coalesces everything waiting into one short transaction with
//! `synchronous_commit = off` (a notification is not data and need not wait
//! for a flush) — one `NOTIFY` transaction per commit batch or fewer. Only
//! deletions notify inside their own transaction (rare, and other nodes must
//! drop the deleted mailbox's cached key however this node fares).
//!
//! # Receiving
//! The *listener* task keeps a `LISTEN` connection. For each `a` line from
//! another node about a mailbox somebody here watches
//! ([`CommitSink::watches`]), it reads the range from the database and
//! reports each blob to the hub; subscribers skip what they already have and
//! re-read gaps themselves. Notifications are lost while the `LISTEN`
//! connection is down, and a node killed between its commit and its notify
//! never sends one, so the listener also *resyncs*: after every reconnection
//! and every [`RESYNC_EVERY`] it compares the watched mailboxes' `last_seq`
//! with what the hub has seen and pushes what is missing (and forgets every
//! cached key after a reconnection, since deletions may have been missed).
//!
//! # Ceiling
//! Every node receives every notification, and notifying transactions commit
//! one at a time cluster-wide. With one notify transaction per commit batch
//! that is far below the append rate (a batch holds many appends), but it
//! bounds the number of *batches* per second across all nodes; the measured
//! figure and what to switch to beyond it are in `docs/relay.md`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use safespaces_wire::MailboxId;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{mpsc, watch};

use super::super::interface::{CommitSink, StoreError};
use super::super::key_cache::KeyCache;
use super::page::read_page;

/// The notification channel.
pub(super) const CHANNEL: &str = "safespaces_relay";
/// How often watched mailboxes are checked for commits whose notification never came.
pub(super) const RESYNC_EVERY: Duration = Duration::from_secs(5);
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;
/// Blobs read back per query when another node appended many at once.
const READ_PAGE_BLOBS: u32 = 500;
const READ_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// One line of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Announce {
    /// Blobs `first..=last` were committed to `mailbox`.
    Appended {
        mailbox: MailboxId,
        first: u64,
        last: u64,
    },
    /// The mailbox was deleted.
    Deleted(MailboxId),
}

/// Encodes announcements as payloads, each under PostgreSQL's size limit.
pub(super) fn payloads(node: u64, items: &[Announce]) -> Vec<String> {
    let header = format!("{node:016x}");
    let mut out = Vec::new();
    let mut current = header.clone();
    for item in items {
        let line = match item {
            Announce::Appended {
                mailbox,
                first,
                last,
            } => format!("\na {} {first} {last}", hex::encode(mailbox.as_bytes())),
            Announce::Deleted(mailbox) => format!("\nd {}", hex::encode(mailbox.as_bytes())),
        };
        if current.len() + line.len() > MAX_PAYLOAD {
            out.push(std::mem::replace(&mut current, header.clone()));
        }
        current.push_str(&line);
    }
    if current.len() > header.len() {
        out.push(current);
    }
    out
}

/// Decodes a payload: the sender's node id and its announcements. Malformed
/// lines are skipped (a payload can only come from someone with access to the
/// database, but parsing never trusts it with a panic).
pub(super) fn parse(payload: &str) -> Option<(u64, Vec<Announce>)> {
    let mut lines = payload.lines();
    let node = u64::from_str_radix(lines.next()?, 16).ok()?;
    let mailbox = |hex_id: &str| -> Option<MailboxId> {
        let mut id = [0u8; 32];
        hex::decode_to_slice(hex_id, &mut id).ok()?;
        Some(MailboxId::from_bytes(id))
    };
    let items = lines
        .filter_map(|line| {
            let mut parts = line.split(' ');
            match (parts.next()?, parts.next()?) {
                ("a", id) => {
                    let first = parts.next()?.parse().ok()?;
                    let last = parts.next()?.parse().ok()?;
                    (first >= 1 && first <= last).then_some(Announce::Appended {
                        mailbox: mailbox(id)?,
                        first,
                        last,
                    })
                }
                ("d", id) => Some(Announce::Deleted(mailbox(id)?)),
                _ => None,
            }
        })
        .collect();
    Some((node, items))
}

/// Sends the announcements the writer hands over, coalescing whatever queued
/// up while the previous notify transaction ran. Ends when the writer is gone.
pub(super) async fn notifier(
    pool: PgPool,
    node: u64,
    mut rx: mpsc::UnboundedReceiver<Vec<Announce>>,
) {
    while let Some(mut items) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            items.extend(more);
        }
        let items = coalesce(items);
        if let Err(e) = notify(&pool, node, &items).await {
            // Other nodes' resync delivers these blobs a few seconds late.
            tracing::warn!(error = %e, "could not notify other relay nodes");
        }
    }
}

/// One range per mailbox.
fn coalesce(items: Vec<Announce>) -> Vec<Announce> {
    let mut ranges: HashMap<MailboxId, (u64, u64)> = HashMap::new();
    let mut out = Vec::new();
    for item in items {
        match item {
            Announce::Appended {
                mailbox,
                first,
                last,
            } => {
                let r = ranges.entry(mailbox).or_insert((first, last));
                r.0 = r.0.min(first);
                r.1 = r.1.max(last);
            }
            other => out.push(other),
        }
    }
    out.extend(
        ranges
            .into_iter()
            .map(|(mailbox, (first, last))| Announce::Appended {
                mailbox,
                first,
                last,
            }),
    );
    out
}

async fn notify(pool: &PgPool, node: u64, items: &[Announce]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // `query`, not `raw_sql`: a spawned future using `raw_sql` on a borrowed
    // connection is not provably `Send` (sqlx's executor lifetimes).
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    for payload in payloads(node, items) {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// What the `LISTEN` connection task passes on.
enum Heard {
    Payload(String),
    /// The connection was lost and is back: notifications may be missing.
    Reconnected,
}

/// Keeps a `LISTEN` connection and forwards what it hears. Runs in its own
/// task so the listener can wait on it, its timer and shutdown at once
/// without cancelling a half-read message. After any error the connection
/// is dropped and a new one opened, and the listener is told to resync.
async fn listen(pool: PgPool, tx: mpsc::UnboundedSender<Heard>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(CHANNEL).await {
                Ok(()) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not open the LISTEN connection; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Commits made before LISTEN took effect were never heard here.
        if tx.send(Heard::Reconnected).is_err() {
            return;
        }
        loop {
            let heard = match listener.try_recv().await {
                Ok(Some(n)) => Heard::Payload(n.payload().to_owned()),
                // The connection dropped and sqlx already reconnected it.
                Ok(None) => Heard::Reconnected,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                    break;
                }
            };
            if tx.send(heard).is_err() {
                return;
            }
        }
        drop(listener);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Delivers other nodes' commits to this node's hub until `stop` flips.
pub(super) async fn listener(
    pool: PgPool,
    node: u64,
    sink: Arc<dyn CommitSink>,
    keys: Arc<KeyCache>,
    mut stop: watch::Receiver<bool>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = tokio::spawn(listen(pool.clone(), tx));
    let mut tick = tokio::time::interval(RESYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let receiver = Receiver {
        pool,
        node,
        sink,
        keys,
    };
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => receiver.resync().await,
            heard = rx.recv() => {
                let Some(first) = heard else { break };
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                receiver.handle(batch).await;
            }
        }
    }
    conn.abort();
    let _ = conn.await;
}

struct Receiver {
    pool: PgPool,
    node: u64,
    sink: Arc<dyn CommitSink>,
    keys: Arc<KeyCache>,
}

impl Receiver {
    async fn handle(&self, batch: Vec<Heard>) {
        let mut items = Vec::new();
        let mut reconnected = false;
        for heard in batch {
            match heard {
                Heard::Payload(p) => match parse(&p) {
                    Some((from, lines)) if from != self.node => items.extend(lines),
                    Some(_) => {}
                    None => tracing::warn!("ignoring a malformed relay notification"),
                },
                Heard::Reconnected => reconnected = true,
            }
        }
        for item in coalesce(items) {
            match item {
                Announce::Deleted(m) => {
                    self.keys.remove(&m);
                    self.sink.mailbox_deleted(&m);
                }
                Announce::Appended {
                    mailbox,
                    first,
                    last,
                } => {
                    if self.sink.watches(&mailbox) {
                        self.deliver(&mailbox, first - 1, last).await;
                    }
                }
            }
        }
        if reconnected {
            self.keys.clear();
            self.resync().await;
        }
    }

    /// Reads blobs `after+1..=last` and reports them to the hub.
    async fn deliver(&self, mailbox: &MailboxId, mut after: u64, last: u64) {
        while after < last {
            let page = match read_page(&self.pool, mailbox, after, READ_PAGE_BLOBS, READ_PAGE_BYTES)
                .await
            {
                Ok(p) => p,
                // Deleted meanwhile: its own notification ends the subscriptions.
                Err(StoreError::MailboxNotFound) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read another node's blobs; the resync retries");
                    return;
                }
            };
            for (seq, data) in &page.blobs {
                if *seq > last {
                    return;
                }
                self.sink.committed(mailbox, *seq, data);
                after = *seq;
            }
            if !page.more {
                return;
            }
        }
    }

    /// Catches up every watched mailbox with the database.
    async fn resync(&self) {
        let watched = self.sink.watched();
        for chunk in watched.chunks(1000) {
            let ids: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_bytes().as_slice()).collect();
            let rows: Vec<(Vec<u8>, i64)> =
                match sqlx::query_as("SELECT id, last_seq FROM mailbox WHERE id = ANY($1)")
                    .bind(&ids)
                    .fetch_all(&self.pool)
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "resync with the database failed");
                        return;
                    }
                };
            let current: HashMap<Vec<u8>, u64> = rows
                .into_iter()
                .map(|(id, last)| (id, u64::try_from(last).unwrap_or(0)))
                .collect();
            for (mailbox, seen) in chunk {
                match current.get(mailbox.as_bytes().as_slice()) {
                    None => {
                        self.keys.remove(mailbox);
                        self.sink.mailbox_deleted(mailbox);
                    }
                    Some(&last) if last > *seen => {
                        // Nothing seen yet: the subscribers read their backlog
                        // themselves, so offering the newest blob is enough to
                        // make anyone behind catch up from the store.
                        let after = if *seen == 0 { last - 1 } else { *seen };
                        self.deliver(mailbox, after, last).await;
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(n: u8) -> MailboxId {
        MailboxId::from_bytes([n; 32])
    }

    #[test]
    fn payloads_round_trip_and_stay_under_the_limit() {
        let items: Vec<Announce> = (0..200u8)
            .map(|n| Announce::Appended {
                mailbox: mb(n),
                first: u64::from(n) + 1,
                last: u64::from(n) + 10,
            })
            .chain([Announce::Deleted(mb(7))])
            .collect();
        let sent = payloads(0xfeed, &items);
        assert!(sent.len() > 1);
        let mut back = Vec::new();
        for p in &sent {
            assert!(p.len() < 8000);
            let (node, lines) = parse(p).expect("well formed");
            assert_eq!(node, 0xfeed);
            back.extend(lines);
        }
        assert_eq!(back, items);
    }

    #[test]
    fn malformed_payloads_are_skipped_not_trusted() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("zz"), None);
        let (_, lines) = parse("01\na nothex 1 2\na 00 0 1\nx y\nd").expect("header ok");
        assert!(lines.is_empty());
        let id = hex::encode([3u8; 32]);
        let (_, lines) = parse(&format!("01\na {id} 5 4\na {id} 0 3")).expect("header ok");
        assert!(lines.is_empty(), "empty or zero ranges are refused");
    }

    #[test]
    fn coalescing_keeps_one_range_per_mailbox() {
        let got = coalesce(vec![
            Announce::Appended {
                mailbox: mb(1),
                first: 4,
                last: 6,
            },
            Announce::Appended {
                mailbox: mb(1),
                first: 1,
                last: 3,
            },
        ]);
        assert_eq!(
            got,
            vec![Announce::Appended {
                mailbox: mb(1),
                first: 1,
                last: 6
            }]
        );
    }
}
