//! Live fan-out: who is subscribed to which mailbox, and handing each
//! committed blob to them.
//!
//! The store calls [`Hub`] (as its [`CommitSink`]) after every commit, in
//! sequence order per mailbox. The hub serialises the `blob` frame once and
//! offers it to every subscribed connection with a non-blocking `try_send`.
//! A connection whose queue is full is not waited for: it is flagged as
//! overflowed and re-reads what it missed from the store, so a slow device
//! never stalls the writer or other devices, and never misses a blob.
//!
//! A queue is bounded twice: at [`QUEUE`] events and at a number of bytes
//! per connection (`--max-queued-bytes-per-conn`). Frames are shared between
//! subscribers, but a connection that never reads would otherwise pin up to
//! [`QUEUE`] blobs of up to the largest blob size each; with the byte bound a
//! subscriber that stops reading costs at most that many bytes here (and is
//! cut off by [`crate::pacing`] once its socket has stayed blocked too long).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use safespaces_wire::MailboxId;
use safespaces_wire::subscription::ServerFrame;
use tokio::sync::mpsc;

use crate::store::CommitSink;

/// Capacity of each connection's queue of live events.
pub const QUEUE: usize = 64;

/// A live event for one connection.
#[derive(Debug, Clone)]
pub enum Event {
    /// A committed blob, with its frame ready to send.
    Blob {
        /// Which mailbox.
        mailbox: MailboxId,
        /// Its sequence number.
        seq: u64,
        /// The serialised `blob` frame.
        frame: Utf8Bytes,
        /// When the store reported the commit (for the fan-out delay metric).
        committed_at: std::time::Instant,
    },
    /// The mailbox was deleted.
    Deleted(MailboxId),
}

impl Event {
    /// Bytes this event keeps alive while queued (its frame).
    fn queued_bytes(&self) -> usize {
        match self {
            Event::Blob { frame, .. } => frame.len(),
            Event::Deleted(_) => 0,
        }
    }
}

/// One connection's registration.
#[derive(Debug, Clone)]
pub struct Subscriber {
    conn: u64,
    tx: mpsc::Sender<Event>,
    overflowed: Arc<AtomicBool>,
    /// Bytes of frames waiting in `tx`.
    queued: Arc<AtomicUsize>,
    max_queued: usize,
}

/// The connection side of a registration: receives events.
#[derive(Debug)]
pub struct Inbox {
    /// Connection id in the hub.
    pub conn: u64,
    /// Live events.
    pub rx: mpsc::Receiver<Event>,
    /// Set when an event could not be queued; the connection must catch up from the store.
    pub overflowed: Arc<AtomicBool>,
    subscriber: Subscriber,
}

impl Inbox {
    /// The next live event (cancel-safe, like [`mpsc::Receiver::recv`]).
    pub async fn recv(&mut self) -> Option<Event> {
        let ev = self.rx.recv().await?;
        self.subscriber
            .queued
            .fetch_sub(ev.queued_bytes(), Ordering::AcqRel);
        Some(ev)
    }
}

/// The subscribers of one mailbox on this node.
#[derive(Debug, Default)]
struct Watch {
    subs: Vec<Subscriber>,
    /// Highest sequence number offered to them so far (0: none yet). With
    /// several relay nodes, the store uses it to catch up after missed
    /// notifications.
    last: u64,
}

/// The fan-out registry.
#[derive(Debug, Default)]
pub struct Hub {
    subscribers: Mutex<HashMap<MailboxId, Watch>>,
    next_conn: AtomicU64,
    delivered: AtomicU64,
}

impl Hub {
    /// A new connection's inbox (subscribes to nothing yet), queueing at
    /// most `max_queued_bytes` of frames.
    pub fn connect(&self, max_queued_bytes: usize) -> Inbox {
        let (tx, rx) = mpsc::channel(QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        Inbox {
            conn,
            rx,
            overflowed: overflowed.clone(),
            subscriber: Subscriber {
                conn,
                tx,
                overflowed,
                queued: Arc::new(AtomicUsize::new(0)),
                max_queued: max_queued_bytes,
            },
        }
    }

    /// Bytes of live frames queued to connections right now (for metrics).
    pub fn queued_bytes(&self) -> u64 {
        let subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut seen = std::collections::HashSet::new();
        subs.values()
            .flat_map(|w| w.subs.iter())
            .filter(|s| seen.insert(s.conn))
            .map(|s| s.queued.load(Ordering::Relaxed) as u64)
            .sum()
    }

    /// Starts delivering `mailbox`'s commits to `inbox`.
    pub fn subscribe(&self, mailbox: MailboxId, inbox: &Inbox) {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let watch = subs.entry(mailbox).or_default();
        if !watch.subs.iter().any(|s| s.conn == inbox.conn) {
            watch.subs.push(inbox.subscriber.clone());
        }
    }

    /// Stops delivering `mailbox`'s commits to connection `conn`.
    pub fn unsubscribe(&self, mailbox: &MailboxId, conn: u64) {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(watch) = subs.get_mut(mailbox) {
            watch.subs.retain(|s| s.conn != conn);
            if watch.subs.is_empty() {
                subs.remove(mailbox);
            }
        }
    }

    /// Total live events queued to connections so far (for metrics).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Number of mailboxes with at least one subscriber (for metrics).
    pub fn watched_mailboxes(&self) -> usize {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn offer(&self, mailbox: &MailboxId, event: impl FnOnce() -> Option<Event>) {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(watch) = subs.get_mut(mailbox) else {
            return;
        };
        let Some(event) = event() else {
            return;
        };
        if let Event::Blob { seq, .. } = &event {
            watch.last = watch.last.max(*seq);
        }
        let mut n = 0;
        let len = event.queued_bytes();
        watch.subs.retain(|s| {
            // Counted before sending, so the receiver never subtracts more
            // than was added; undone if the event does not go in.
            let before = s.queued.fetch_add(len, Ordering::AcqRel);
            if len > 0 && before + len > s.max_queued {
                s.queued.fetch_sub(len, Ordering::AcqRel);
                s.overflowed.store(true, Ordering::Release);
                return true;
            }
            match s.tx.try_send(event.clone()) {
                Ok(()) => {
                    n += 1;
                    true
                }
                Err(e) => {
                    s.queued.fetch_sub(len, Ordering::AcqRel);
                    match e {
                        mpsc::error::TrySendError::Full(_) => {
                            s.overflowed.store(true, Ordering::Release);
                            true
                        }
                        // The connection is gone: forget it.
                        mpsc::error::TrySendError::Closed(_) => false,
                    }
                }
            }
        });
        if watch.subs.is_empty() {
            subs.remove(mailbox);
        }
        self.delivered.fetch_add(n, Ordering::Relaxed);
    }
}

/// Serialises a `blob` frame.
pub fn blob_frame(mailbox: MailboxId, seq: u64, data: &[u8]) -> Utf8Bytes {
    let frame = ServerFrame::Blob {
        mailbox,
        seq,
        data: data.to_vec(),
    };
    // Serialising this enum cannot fail: it has only strings and integers.
    Utf8Bytes::from(serde_json::to_string(&frame).unwrap_or_default())
}

impl CommitSink for Hub {
    fn committed(&self, mailbox: &MailboxId, seq: u64, data: &Bytes) {
        self.offer(mailbox, || {
            Some(Event::Blob {
                mailbox: *mailbox,
                seq,
                frame: blob_frame(*mailbox, seq, data),
                committed_at: std::time::Instant::now(),
            })
        });
    }

    fn mailbox_deleted(&self, mailbox: &MailboxId) {
        self.offer(mailbox, || Some(Event::Deleted(*mailbox)));
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(mailbox);
    }

    fn watches(&self, mailbox: &MailboxId) -> bool {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(mailbox)
    }

    fn watched(&self) -> Vec<(MailboxId, u64)> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(m, w)| (*m, w.last))
            .collect()
    }
}
