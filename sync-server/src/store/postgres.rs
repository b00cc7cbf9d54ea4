//! The PostgreSQL store: several stateless relay nodes on one database.
//!
//! Selected with `--database-url postgres://…`; the schema is created or
//! upgraded when a node starts (`postgres/migrate.rs`). It keeps exactly what the SQLite
//! store keeps and gives the same outcomes, limits and error codes: both run
//! the same behaviour suite (`tests/store_suite/`).
//!
//! # Durability and group commit
//! Each node has one writer task with its own connection
//! (`postgres/writer.rs`; the commands it queues are in
//! `postgres/command.rs`, the page read it shares with the fan-out in
//! `postgres/page.rs`). It takes every
//! write waiting in its queue (up to [`MAX_BATCH`]), applies them in one
//! transaction and commits once; with `synchronous_commit = on` (forced on
//! for this connection if the server default is `off`) the commit returns
//! only after its WAL record is flushed, so one fsync covers the batch.
//! Replies go out only after that commit returned: an acknowledged append is
//! durable. If the transaction fails, nothing in it happened and every
//! command in it fails; deadlocks and serialisation failures between nodes
//! are retried a few times first.
//!
//! # Several nodes, one mailbox
//! A batch first locks the rows of every mailbox it touches with
//! `SELECT … ORDER BY id FOR UPDATE`, and reads the counters (`last_seq`,
//! quotas) under that lock. A second node appending to the same mailbox
//! waits for the first one's commit and then continues from its `last_seq`,
//! so sequence numbers stay gapless and strictly ordered. Locks are always
//! taken in id order, so two batches cannot deadlock on mailbox rows.
//!
//! # Live fan-out across nodes
//! See `postgres/fanout.rs`: after each commit the node announces `(mailbox, first seq,
//! last seq)` — never a payload — with one batched `NOTIFY` outside the
//! insert path; other nodes read those blobs back and hand them to their hub.
//!
//! # Replay protection across nodes
//! See `postgres/nonces.rs`: every accepted request nonce is also recorded in the
//! database, so a request replayed to another node is refused too.
//!
//! # What "deleted" means here
//! PostgreSQL does not overwrite deleted rows: compacted, deleted and claimed
//! blobs stay in the table's pages until `VACUUM` reclaims the space and new
//! rows overwrite it, and they remain in WAL segments, WAL archives and base
//! backups until those are recycled. `docs/deploy.md` says how to keep that
//! window short (autovacuum, backup retention).

mod backend;
mod command;
mod fanout;
mod migrate;
mod nonces;
mod page;
mod writer;

use std::str::FromStr as _;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use safespaces_wire::{DropboxId, MailboxId};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection as _, PgConnection};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::interface::{
    CommitSink, Compaction, MailboxKeys, MailboxRecord, Page, Store, StoreError, StoreFuture,
    StoreLimits, VouchedPut, from_sql, to_sql,
};
use super::key_cache::KeyCache;
use super::mailbox_rules;
use backend::backend;
pub use command::MAX_BATCH;
use command::{Op, Outcome, Request};
use page::read_page;
use writer::Writer;

/// Connections in each node's pool for reads (the pool has three more for
/// the listener, the notifier and the nonce task; the writer has its own).
const READ_POOL: u32 = 16;

/// The PostgreSQL-backed [`Store`].
pub struct PgStore {
    requests: mpsc::UnboundedSender<Request>,
    /// Taken (dropped) by `close`, which ends the nonce task.
    nonces: Mutex<Option<mpsc::UnboundedSender<nonces::Remember>>>,
    pool: PgPool,
    keys: Arc<KeyCache>,
    tasks: Mutex<Option<Tasks>>,
}

struct Tasks {
    writer: JoinHandle<()>,
    nonces: JoinHandle<()>,
    notifier: JoinHandle<()>,
    listener: JoinHandle<()>,
    stop_listener: watch::Sender<bool>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host/db?sslmode=…`, or
    /// `?host=/socket/dir` for a unix socket), brings the schema up to date
    /// and starts this node's writer, notifier and listener tasks. Must be
    /// called inside a Tokio runtime.
    pub async fn connect(
        url: &str,
        limits: StoreLimits,
        sink: Arc<dyn CommitSink>,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad database URL: {e}")))?
            .application_name("safespaces-relay");
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(backend)?;
        migrate::run(&mut conn).await.map_err(|e| match e {
            StoreError::Backend(m) => StoreError::Backend(format!("migration failed: {m}")),
            e => e,
        })?;
        let fsync: String = sqlx::query_scalar("SHOW fsync")
            .fetch_one(&mut conn)
            .await
            .map_err(backend)?;
        if fsync != "on" {
            tracing::warn!(
                "the PostgreSQL server runs with fsync={fsync}: acknowledged appends are NOT durable"
            );
        }
        drop(conn);
        // The pool reads, records nonces and sends notifications: none of
        // that needs to wait for a WAL flush (the writer's own connection,
        // made from `options`, keeps `synchronous_commit = on`).
        let pool = PgPoolOptions::new()
            .max_connections(READ_POOL + 3)
            .min_connections(1)
            .connect_with(options.clone().options([("synchronous_commit", "off")]))
            .await
            .map_err(backend)?;
        let keys = Arc::new(KeyCache::default());
        // Tells this node's notifications from other nodes' apart.
        let node: u64 = rand::random();
        let (announce_tx, announce_rx) = mpsc::unbounded_channel();
        let (requests, requests_rx) = mpsc::unbounded_channel();
        let (stop_listener, stop_rx) = watch::channel(false);
        let (nonce_tx, nonce_rx) = mpsc::unbounded_channel();
        let writer = Writer::new(
            options,
            limits,
            sink.clone(),
            keys.clone(),
            node,
            announce_tx,
        );
        let tasks = Tasks {
            writer: tokio::spawn(writer.run(requests_rx)),
            nonces: tokio::spawn(nonces::run(pool.clone(), nonce_rx)),
            notifier: tokio::spawn(fanout::notifier(pool.clone(), node, announce_rx)),
            listener: tokio::spawn(fanout::listener(
                pool.clone(),
                node,
                sink,
                keys.clone(),
                stop_rx,
            )),
            stop_listener,
        };
        Ok(Self {
            requests,
            nonces: Mutex::new(Some(nonce_tx)),
            pool,
            keys,
            tasks: Mutex::new(Some(tasks)),
        })
    }

    fn submit<T: Send + 'static>(
        &self,
        op: Op,
        pick: fn(Outcome) -> Option<T>,
    ) -> StoreFuture<'_, T> {
        let (reply, rx) = oneshot::channel();
        let sent = self.requests.send(Request { op, reply });
        Box::pin(async move {
            sent.map_err(|_| StoreError::Closed)?;
            let outcome = rx.await.map_err(|_| StoreError::Closed)??;
            pick(outcome).ok_or_else(|| StoreError::Backend("mismatched store reply".into()))
        })
    }
}

impl Store for PgStore {
    fn create_mailbox(&self, id: MailboxId, key: MailboxKeys) -> StoreFuture<'_, bool> {
        self.submit(Op::Create { id, key }, |o| match o {
            Outcome::Created(b) => Some(b),
            _ => None,
        })
    }

    fn mailbox_record(&self, id: MailboxId) -> StoreFuture<'_, Option<MailboxRecord>> {
        if let Some(record) = self.keys.get(&id) {
            return Box::pin(async move { Ok(Some(record)) });
        }
        Box::pin(async move {
            let generation = self.keys.generation();
            let row: Option<(Vec<u8>, bool)> =
                sqlx::query_as("SELECT key, deleted FROM mailbox WHERE id = $1")
                    .bind(id.as_bytes().as_slice())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
            let Some((raw, deleted)) = row else {
                return Ok(None);
            };
            let record = MailboxRecord {
                keys: mailbox_rules::stored_keys(&raw)?,
                deleted,
            };
            self.keys.insert_if_current(id, record, generation);
            Ok(Some(record))
        })
    }

    fn append(&self, id: MailboxId, data: Bytes) -> StoreFuture<'_, u64> {
        self.submit(Op::Append { id, data }, |o| match o {
            Outcome::Seq(s) => Some(s),
            _ => None,
        })
    }

    fn read(
        &self,
        id: MailboxId,
        after: u64,
        limit: u32,
        max_bytes: usize,
    ) -> StoreFuture<'_, Page> {
        Box::pin(async move { read_page(&self.pool, &id, after, limit, max_bytes).await })
    }

    fn compact(
        &self,
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
    ) -> StoreFuture<'_, Compaction> {
        self.submit(
            Op::Compact {
                id,
                snapshot_seq,
                through_seq,
            },
            |o| match o {
                Outcome::Compacted(c) => Some(c),
                _ => None,
            },
        )
    }

    fn delete_mailbox(&self, id: MailboxId) -> StoreFuture<'_, ()> {
        self.submit(Op::Delete { id }, |o| match o {
            Outcome::Done => Some(()),
            _ => None,
        })
    }

    fn put_dropbox(
        &self,
        id: DropboxId,
        data: Bytes,
        now: u64,
        expires_at: u64,
    ) -> StoreFuture<'_, ()> {
        self.submit(
            Op::PutDropbox {
                id,
                data,
                now,
                expires_at,
            },
            |o| match o {
                Outcome::Done => Some(()),
                _ => None,
            },
        )
    }

    fn put_vouched_dropbox(&self, put: VouchedPut) -> StoreFuture<'_, ()> {
        self.submit(Op::PutVouched { put }, |o| match o {
            Outcome::Done => Some(()),
            _ => None,
        })
    }

    fn claim_dropbox(&self, id: DropboxId, now: u64) -> StoreFuture<'_, Option<Bytes>> {
        self.submit(Op::ClaimDropbox { id, now }, |o| match o {
            Outcome::Claimed(c) => Some(c),
            _ => None,
        })
    }

    fn dropbox_expiry(&self, id: DropboxId, now: u64) -> StoreFuture<'_, Option<u64>> {
        // A read: it goes to the pool, not through the writer. A put is
        // acknowledged only after its commit, so it is visible here.
        Box::pin(async move {
            let exp: Option<i64> = sqlx::query_scalar(
                "SELECT expires_at FROM dropbox WHERE id = $1 AND expires_at > $2 AND octet_length(data) > 0",
            )
            .bind(id.as_bytes().as_slice())
            .bind(to_sql(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
            Ok(exp.map(from_sql))
        })
    }

    fn sweep_dropboxes(&self, now: u64) -> StoreFuture<'_, u64> {
        self.submit(Op::Sweep { now }, |o| match o {
            Outcome::Swept(n) => Some(n),
            _ => None,
        })
    }

    fn remember_nonce(&self, nonce: [u8; 16], expires_at: u64) -> StoreFuture<'_, bool> {
        let (reply, rx) = oneshot::channel();
        let sent = self
            .nonces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|tx| {
                tx.send(nonces::Remember {
                    nonce,
                    expires_at,
                    reply,
                })
            });
        Box::pin(async move {
            match sent {
                Some(Ok(())) => rx.await.map_err(|_| StoreError::Closed)?,
                _ => Err(StoreError::Closed),
            }
        })
    }

    fn ready(&self) -> StoreFuture<'_, ()> {
        let writer_alive = self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|t| !t.writer.is_finished());
        Box::pin(async move {
            if !writer_alive {
                return Err(StoreError::Closed);
            }
            let one: i32 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
            if one == 1 {
                Ok(())
            } else {
                Err(StoreError::Backend("SELECT 1 did not answer 1".into()))
            }
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        let closed = self.submit(Op::Close, |o| match o {
            Outcome::Done => Some(()),
            _ => None,
        });
        Box::pin(async move {
            super::interface::close_once(closed).await?;
            let tasks = self
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            self.nonces
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(t) = tasks {
                t.writer.await.map_err(backend)?;
                t.nonces.await.map_err(backend)?;
                // The writer dropped its announcement sender: the notifier
                // sends what is left and ends.
                t.notifier.await.map_err(backend)?;
                let _ = t.stop_listener.send(true);
                t.listener.await.map_err(backend)?;
                self.pool.close().await;
            }
            Ok(())
        })
    }
}
