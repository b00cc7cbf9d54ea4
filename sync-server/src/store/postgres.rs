//! The PostgreSQL store: several stateless relay nodes on one database.
//!
//! Selected with `--database-url postgres://…`; the schema is created or
//! upgraded when a node starts (`postgres/migrate.rs`). It keeps exactly what the SQLite
//! store keeps and gives the same outcomes, limits and error codes: both run
//! the same behaviour suite (`tests/store_suite/`).
//!
//! # Durability and group commit
//! Each node has one writer task with its own connection. It takes every
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

mod fanout;
mod migrate;
mod nonces;

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use safespaces_wire::{DropboxId, MailboxId};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, Row as _};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::key_cache::KeyCache;
use super::{
    CommitSink, Compaction, Page, Store, StoreError, StoreFuture, StoreLimits, from_sql, to_sql,
};
use fanout::Announce;

/// Most commands committed in one transaction.
pub const MAX_BATCH: usize = 2048;
/// Connections in each node's pool for reads (the pool has three more for
/// the listener, the notifier and the nonce task; the writer has its own).
const READ_POOL: u32 = 16;
/// How often a batch that hit a deadlock or serialisation failure is retried.
const RETRIES: usize = 3;
/// Advisory lock key serialising drop-box puts across nodes, so the
/// relay-wide drop-box limit holds exactly ("ssdropbx" in ASCII).
const DROPBOX_LOCK: i64 = 0x7373_6472_6f70_6278;

pub(super) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// What a command asks for.
enum Op {
    Create {
        id: MailboxId,
        key: [u8; 32],
    },
    Append {
        id: MailboxId,
        data: Bytes,
    },
    Compact {
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
    },
    Delete {
        id: MailboxId,
    },
    PutDropbox {
        id: DropboxId,
        data: Bytes,
        now: u64,
        expires_at: u64,
    },
    ClaimDropbox {
        id: DropboxId,
        now: u64,
    },
    Sweep {
        now: u64,
    },
    Close,
}

impl Op {
    fn mailbox(&self) -> Option<&MailboxId> {
        match self {
            Op::Create { id, .. }
            | Op::Append { id, .. }
            | Op::Compact { id, .. }
            | Op::Delete { id } => Some(id),
            _ => None,
        }
    }
}

/// What a command produced. Kept apart from the reply channel so that a
/// batch can be retried without losing where its answers go.
enum Outcome {
    Created(bool),
    Seq(u64),
    Compacted(Compaction),
    Done,
    Claimed(Option<Bytes>),
    Swept(u64),
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Outcome, StoreError>>,
}

/// What the node learns once a batch committed.
enum Effect {
    Blob(MailboxId, u64, Bytes),
    Created(MailboxId, [u8; 32]),
    Deleted(MailboxId),
}

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
        let writer = Writer {
            options,
            conn: None,
            limits,
            sink: sink.clone(),
            keys: keys.clone(),
            node,
            announce: announce_tx,
        };
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
    fn create_mailbox(&self, id: MailboxId, key: [u8; 32]) -> StoreFuture<'_, bool> {
        self.submit(Op::Create { id, key }, |o| match o {
            Outcome::Created(b) => Some(b),
            _ => None,
        })
    }

    fn mailbox_key(&self, id: MailboxId) -> StoreFuture<'_, Option<[u8; 32]>> {
        if let Some(key) = self.keys.get(&id) {
            return Box::pin(async move { Ok(Some(key)) });
        }
        Box::pin(async move {
            let generation = self.keys.generation();
            let raw: Option<Vec<u8>> = sqlx::query_scalar("SELECT key FROM mailbox WHERE id = $1")
                .bind(id.as_bytes().as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let key: [u8; 32] = raw
                .try_into()
                .map_err(|_| StoreError::Backend("stored key is not 32 bytes".into()))?;
            self.keys.insert_if_current(id, key, generation);
            Ok(Some(key))
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

    fn claim_dropbox(&self, id: DropboxId, now: u64) -> StoreFuture<'_, Option<Bytes>> {
        self.submit(Op::ClaimDropbox { id, now }, |o| match o {
            Outcome::Claimed(c) => Some(c),
            _ => None,
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

    fn close(&self) -> StoreFuture<'_, ()> {
        let closed = self.submit(Op::Close, |o| match o {
            Outcome::Done => Some(()),
            _ => None,
        });
        Box::pin(async move {
            // Already closed is fine: close is idempotent.
            match closed.await {
                Ok(()) | Err(StoreError::Closed) => {}
                Err(e) => return Err(e),
            }
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

/// One page of blobs with `seq > after`, with the counters, from one snapshot
/// (a single statement). Rows stop at `limit` and before `max_bytes` (but a
/// page is never empty if a blob exists); the row just past the byte budget
/// comes back without its data, only to say that more follow.
pub(super) async fn read_page(
    pool: &PgPool,
    id: &MailboxId,
    after: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    let limit = i64::from(limit.max(1));
    let rows: Vec<PgRow> = sqlx::query(
        "WITH m AS (SELECT rid, last_seq, compacted_through FROM mailbox WHERE id = $1)
         SELECT m.last_seq, m.compacted_through, b.seq, b.data
         FROM m LEFT JOIN LATERAL (
             SELECT seq, CASE WHEN rn = 1 OR run <= $4 THEN data END AS data
             FROM (
                 SELECT seq, data,
                        row_number() OVER w AS rn,
                        sum(octet_length(data)) OVER w AS run,
                        sum(octet_length(data)) OVER w - octet_length(data) AS before
                 FROM blob WHERE mailbox = m.rid AND seq > $2
                 WINDOW w AS (ORDER BY seq ROWS UNBOUNDED PRECEDING)
                 ORDER BY seq
                 LIMIT $3 + 1
             ) t
             WHERE rn = 1 OR before <= $4
         ) b ON true
         ORDER BY b.seq",
    )
    .bind(id.as_bytes().as_slice())
    .bind(to_sql(after))
    .bind(limit)
    .bind(i64::try_from(max_bytes).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let Some(first) = rows.first() else {
        return Err(StoreError::MailboxNotFound);
    };
    let last_seq: i64 = first.try_get(0).map_err(backend)?;
    let compacted_through: i64 = first.try_get(1).map_err(backend)?;
    let mut blobs = Vec::new();
    let mut more = false;
    for row in &rows {
        let Some(seq) = row.try_get::<Option<i64>, _>(2).map_err(backend)? else {
            break; // the mailbox has no blobs after the cursor
        };
        let data: Option<Vec<u8>> = row.try_get(3).map_err(backend)?;
        match data {
            Some(d) if (blobs.len() as i64) < limit => blobs.push((from_sql(seq), Bytes::from(d))),
            _ => {
                more = true;
                break;
            }
        }
    }
    Ok(Page {
        blobs,
        last_seq: from_sql(last_seq),
        compacted_through: from_sql(compacted_through),
        more,
    })
}

#[derive(Clone)]
struct MailboxState {
    rid: i64,
    key: [u8; 32],
    last_seq: u64,
    compacted_through: u64,
    blob_count: u64,
    byte_count: u64,
    dirty: bool,
}

fn mailbox_state(row: &PgRow) -> Result<(MailboxId, MailboxState), sqlx::Error> {
    let id: Vec<u8> = row.try_get("id")?;
    let key: Vec<u8> = row.try_get("key")?;
    let bad = |what: &str| sqlx::Error::Decode(format!("stored {what} is not 32 bytes").into());
    let id: [u8; 32] = id.try_into().map_err(|_| bad("mailbox id"))?;
    let key: [u8; 32] = key.try_into().map_err(|_| bad("key"))?;
    Ok((
        MailboxId::from_bytes(id),
        MailboxState {
            rid: row.try_get("rid")?,
            key,
            last_seq: from_sql(row.try_get("last_seq")?),
            compacted_through: from_sql(row.try_get("compacted_through")?),
            blob_count: from_sql(row.try_get("blob_count")?),
            byte_count: from_sql(row.try_get("byte_count")?),
            dirty: false,
        },
    ))
}

const LOCK_MAILBOXES: &str =
    "SELECT rid, id, key, last_seq, compacted_through, blob_count, byte_count
     FROM mailbox WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// A committed batch: one outcome per command, what to tell the hub and the
/// key cache, and what to announce to other nodes.
struct Applied {
    outcomes: Vec<Result<Outcome, StoreError>>,
    effects: Vec<Effect>,
    announce: Vec<Announce>,
}

/// Applies a batch inside one transaction. Logical refusals (quota, not
/// found) become outcomes and change nothing; a database error aborts the
/// whole transaction and is returned.
struct Batch<'a> {
    limits: StoreLimits,
    node: u64,
    state: HashMap<MailboxId, MailboxState>,
    /// Blob rows not yet inserted, inserted together with one statement.
    rids: Vec<i64>,
    seqs: Vec<i64>,
    data: Vec<&'a [u8]>,
    effects: Vec<Effect>,
    /// Per mailbox: first and last sequence number appended in this batch.
    appended: HashMap<MailboxId, (u64, u64)>,
    deleted: Vec<MailboxId>,
}

impl<'a> Batch<'a> {
    async fn run(
        conn: &mut PgConnection,
        ops: &[&'a Op],
        limits: StoreLimits,
        node: u64,
    ) -> Result<Applied, sqlx::Error> {
        let mut tx = conn.begin().await?;
        let mut ids: Vec<&[u8]> = ops
            .iter()
            .filter_map(|op| op.mailbox())
            .map(|m| m.as_bytes().as_slice())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut state = HashMap::new();
        if !ids.is_empty() {
            for row in sqlx::query(LOCK_MAILBOXES)
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?
            {
                let (id, st) = mailbox_state(&row)?;
                state.insert(id, st);
            }
        }
        if ops.iter().any(|op| matches!(op, Op::PutDropbox { .. })) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(DROPBOX_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let mut batch = Batch {
            limits,
            node,
            state,
            rids: Vec::new(),
            seqs: Vec::new(),
            data: Vec::new(),
            effects: Vec::new(),
            appended: HashMap::new(),
            deleted: Vec::new(),
        };
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            outcomes.push(batch.apply(&mut tx, op).await?);
        }
        batch.flush_blobs(&mut tx).await?;
        batch.flush_counters(&mut tx).await?;
        if !batch.deleted.is_empty() {
            // Deletions are announced inside their own transaction: rare, and
            // other nodes must drop the mailbox's cached key no matter what
            // happens to this node right after the commit.
            let gone: Vec<Announce> = batch
                .deleted
                .iter()
                .map(|m| Announce::Deleted(*m))
                .collect();
            for payload in fanout::payloads(batch.node, &gone) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(fanout::CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        let announce = batch
            .appended
            .iter()
            .map(|(m, &(first, last))| Announce::Appended {
                mailbox: *m,
                first,
                last,
            })
            .collect();
        Ok(Applied {
            outcomes,
            effects: batch.effects,
            announce,
        })
    }

    async fn apply(
        &mut self,
        conn: &mut PgConnection,
        op: &'a Op,
    ) -> Result<Result<Outcome, StoreError>, sqlx::Error> {
        Ok(match op {
            Op::Create { id, key } => self.create(conn, *id, *key).await?.map(Outcome::Created),
            Op::Append { id, data } => self.append(*id, data).map(Outcome::Seq),
            Op::Compact {
                id,
                snapshot_seq,
                through_seq,
            } => {
                self.flush_blobs(conn).await?;
                self.compact(conn, *id, *snapshot_seq, *through_seq)
                    .await?
                    .map(Outcome::Compacted)
            }
            Op::Delete { id } => {
                self.flush_blobs(conn).await?;
                self.delete(conn, *id).await?.map(|()| Outcome::Done)
            }
            Op::PutDropbox {
                id,
                data,
                now,
                expires_at,
            } => self
                .put_dropbox(conn, id, data, *now, *expires_at)
                .await?
                .map(|()| Outcome::Done),
            Op::ClaimDropbox { id, now } => {
                let row: Option<(Vec<u8>, i64)> =
                    sqlx::query_as("DELETE FROM dropbox WHERE id = $1 RETURNING data, expires_at")
                        .bind(id.as_bytes().as_slice())
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok(Outcome::Claimed(row.and_then(|(data, exp)| {
                    (from_sql(exp) > *now).then(|| Bytes::from(data))
                })))
            }
            Op::Sweep { now } => {
                let n = sqlx::query("DELETE FROM dropbox WHERE expires_at <= $1")
                    .bind(to_sql(*now))
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM nonce WHERE expires_at <= $1")
                    .bind(to_sql(*now))
                    .execute(&mut *conn)
                    .await?;
                Ok(Outcome::Swept(n))
            }
            Op::Close => Ok(Outcome::Done),
        })
    }

    async fn create(
        &mut self,
        conn: &mut PgConnection,
        id: MailboxId,
        key: [u8; 32],
    ) -> Result<Result<bool, StoreError>, sqlx::Error> {
        if let Some(st) = self.state.get(&id) {
            return Ok(if st.key == key {
                Ok(false)
            } else {
                Err(StoreError::MailboxExists)
            });
        }
        let rid: Option<i64> = sqlx::query_scalar(
            "INSERT INTO mailbox (id, key, last_seq, compacted_through, blob_count, byte_count)
             VALUES ($1, $2, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING RETURNING rid",
        )
        .bind(id.as_bytes().as_slice())
        .bind(key.as_slice())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(rid) = rid else {
            // Another node created it after this batch took its locks: lock
            // it now and answer as if it had been there all along.
            let row = sqlx::query(LOCK_MAILBOXES)
                .bind(vec![id.as_bytes().as_slice()])
                .fetch_one(&mut *conn)
                .await?;
            let (_, st) = mailbox_state(&row)?;
            let same = st.key == key;
            self.state.insert(id, st);
            return Ok(if same {
                Ok(false)
            } else {
                Err(StoreError::MailboxExists)
            });
        };
        self.state.insert(
            id,
            MailboxState {
                rid,
                key,
                last_seq: 0,
                compacted_through: 0,
                blob_count: 0,
                byte_count: 0,
                dirty: false,
            },
        );
        self.effects.push(Effect::Created(id, key));
        Ok(Ok(true))
    }

    fn append(&mut self, id: MailboxId, data: &'a Bytes) -> Result<u64, StoreError> {
        let Some(st) = self.state.get_mut(&id) else {
            return Err(StoreError::MailboxNotFound);
        };
        let len = data.len() as u64;
        if st.blob_count >= self.limits.max_blobs_per_mailbox {
            return Err(StoreError::QuotaBlobs);
        }
        if st.byte_count.saturating_add(len) > self.limits.max_bytes_per_mailbox {
            return Err(StoreError::QuotaBytes);
        }
        st.last_seq += 1;
        st.blob_count += 1;
        st.byte_count += len;
        st.dirty = true;
        let seq = st.last_seq;
        self.rids.push(st.rid);
        self.seqs.push(to_sql(seq));
        self.data.push(&data[..]);
        self.appended
            .entry(id)
            .and_modify(|r| r.1 = seq)
            .or_insert((seq, seq));
        self.effects.push(Effect::Blob(id, seq, data.clone()));
        Ok(seq)
    }

    async fn flush_blobs(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.rids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO blob (mailbox, seq, data)
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::bytea[])",
        )
        .bind(&self.rids)
        .bind(&self.seqs)
        .bind(&self.data)
        .execute(&mut *conn)
        .await?;
        self.rids.clear();
        self.seqs.clear();
        self.data.clear();
        Ok(())
    }

    async fn flush_counters(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let dirty: Vec<&MailboxState> = self.state.values().filter(|s| s.dirty).collect();
        if dirty.is_empty() {
            return Ok(());
        }
        let col = |f: fn(&MailboxState) -> u64| -> Vec<i64> {
            dirty.iter().map(|s| to_sql(f(s))).collect()
        };
        let rids: Vec<i64> = dirty.iter().map(|s| s.rid).collect();
        sqlx::query(
            "UPDATE mailbox AS m SET last_seq = u.last_seq, compacted_through = u.compacted_through,
                 blob_count = u.blob_count, byte_count = u.byte_count
             FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[])
                 AS u(rid, last_seq, compacted_through, blob_count, byte_count)
             WHERE m.rid = u.rid",
        )
        .bind(rids)
        .bind(col(|s| s.last_seq))
        .bind(col(|s| s.compacted_through))
        .bind(col(|s| s.blob_count))
        .bind(col(|s| s.byte_count))
        .execute(&mut *conn)
        .await?;
        for st in self.state.values_mut() {
            st.dirty = false;
        }
        Ok(())
    }

    async fn compact(
        &mut self,
        conn: &mut PgConnection,
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
    ) -> Result<Result<Compaction, StoreError>, sqlx::Error> {
        let Some(st) = self.state.get(&id) else {
            return Ok(Err(StoreError::MailboxNotFound));
        };
        if through_seq >= snapshot_seq {
            return Ok(Err(StoreError::BadCompaction(
                "the snapshot must come after the range it covers",
            )));
        }
        let (rid, already) = (st.rid, st.compacted_through);
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM blob WHERE mailbox = $1 AND seq = $2")
                .bind(rid)
                .bind(to_sql(snapshot_seq))
                .fetch_optional(&mut *conn)
                .await?;
        if exists.is_none() {
            return Ok(Err(StoreError::BadCompaction(
                "no stored blob has the snapshot's sequence number",
            )));
        }
        if through_seq <= already {
            return Ok(Ok(Compaction {
                deleted: 0,
                compacted_through: already,
            }));
        }
        let (count, bytes): (i64, i64) = sqlx::query_as(
            "WITH d AS (DELETE FROM blob WHERE mailbox = $1 AND seq <= $2 RETURNING octet_length(data) AS n)
             SELECT count(*), coalesce(sum(n), 0)::int8 FROM d",
        )
        .bind(rid)
        .bind(to_sql(through_seq))
        .fetch_one(&mut *conn)
        .await?;
        let deleted = from_sql(count);
        if let Some(st) = self.state.get_mut(&id) {
            st.blob_count = st.blob_count.saturating_sub(deleted);
            st.byte_count = st.byte_count.saturating_sub(from_sql(bytes));
            st.compacted_through = through_seq;
            st.dirty = true;
        }
        Ok(Ok(Compaction {
            deleted,
            compacted_through: through_seq,
        }))
    }

    async fn delete(
        &mut self,
        conn: &mut PgConnection,
        id: MailboxId,
    ) -> Result<Result<(), StoreError>, sqlx::Error> {
        let Some(st) = self.state.remove(&id) else {
            return Ok(Err(StoreError::MailboxNotFound));
        };
        sqlx::query("DELETE FROM blob WHERE mailbox = $1")
            .bind(st.rid)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM mailbox WHERE rid = $1")
            .bind(st.rid)
            .execute(&mut *conn)
            .await?;
        // Earlier appends in this batch went to the deleted rid: nothing to announce.
        self.appended.remove(&id);
        self.deleted.push(id);
        self.effects.push(Effect::Deleted(id));
        Ok(Ok(()))
    }

    async fn put_dropbox(
        &mut self,
        conn: &mut PgConnection,
        id: &DropboxId,
        data: &[u8],
        now: u64,
        expires_at: u64,
    ) -> Result<Result<(), StoreError>, sqlx::Error> {
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT expires_at FROM dropbox WHERE id = $1")
                .bind(id.as_bytes().as_slice())
                .fetch_optional(&mut *conn)
                .await?;
        match existing {
            Some(exp) if from_sql(exp) > now => return Ok(Err(StoreError::DropboxExists)),
            Some(_) => {
                sqlx::query("DELETE FROM dropbox WHERE id = $1")
                    .bind(id.as_bytes().as_slice())
                    .execute(&mut *conn)
                    .await?;
            }
            None => {}
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM dropbox")
            .fetch_one(&mut *conn)
            .await?;
        if from_sql(count) >= self.limits.max_dropboxes {
            return Ok(Err(StoreError::RelayFull));
        }
        sqlx::query("INSERT INTO dropbox (id, data, expires_at) VALUES ($1, $2, $3)")
            .bind(id.as_bytes().as_slice())
            .bind(data)
            .bind(to_sql(expires_at))
            .execute(&mut *conn)
            .await?;
        Ok(Ok(()))
    }
}

/// Whether PostgreSQL says "try again": a deadlock or serialisation failure.
fn retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

struct Writer {
    options: PgConnectOptions,
    /// Dropped after any error, and opened again for the next batch.
    conn: Option<PgConnection>,
    limits: StoreLimits,
    sink: Arc<dyn CommitSink>,
    keys: Arc<KeyCache>,
    node: u64,
    announce: mpsc::UnboundedSender<Vec<Announce>>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        while let Some(first) = rx.recv().await {
            let mut closing = matches!(first.op, Op::Close);
            let mut batch = vec![first];
            while !closing && batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => {
                        closing = matches!(r.op, Op::Close);
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.execute(batch).await;
            if closing {
                break;
            }
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
        // Dropping `rx` here makes every later submission fail with `Closed`,
        // and dropping `announce` ends the notifier.
    }

    async fn connection(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            let mut conn = PgConnection::connect_with(&self.options).await?;
            // An acknowledgement must mean durable, whatever the server's or
            // the role's default is. (`local`, `remote_write`, `remote_apply`
            // are at least as strong as `on` for this node and are kept.)
            let mode: String = sqlx::query_scalar("SHOW synchronous_commit")
                .fetch_one(&mut conn)
                .await?;
            if mode == "off" {
                sqlx::query("SET synchronous_commit = on")
                    .execute(&mut conn)
                    .await?;
            }
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| sqlx::Error::Protocol("no connection".into()))
    }

    async fn execute(&mut self, batch: Vec<Request>) {
        let ops: Vec<&Op> = batch.iter().map(|r| &r.op).collect();
        let (limits, node) = (self.limits, self.node);
        let mut attempt = 0;
        let result = loop {
            let run = match self.connection().await {
                Ok(conn) => Batch::run(conn, &ops, limits, node).await,
                Err(e) => Err(e),
            };
            match run {
                Ok(applied) => break Ok(applied),
                Err(e) if retryable(&e) && attempt < RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(5 * attempt as u64)).await;
                }
                Err(e) => {
                    // The connection may be broken or mid-transaction: start afresh.
                    self.conn = None;
                    break Err(backend(e));
                }
            }
        };
        drop(ops);
        match result {
            Ok(applied) => {
                for effect in applied.effects {
                    match effect {
                        Effect::Blob(id, seq, data) => self.sink.committed(&id, seq, &data),
                        Effect::Created(id, key) => {
                            let generation = self.keys.generation();
                            self.keys.insert_if_current(id, key, generation);
                        }
                        Effect::Deleted(id) => {
                            self.keys.remove(&id);
                            self.sink.mailbox_deleted(&id);
                        }
                    }
                }
                for (request, outcome) in batch.into_iter().zip(applied.outcomes) {
                    // A dropped receiver means the client went away; the write stands.
                    let _ = request.reply.send(outcome);
                }
                if !applied.announce.is_empty() {
                    let _ = self.announce.send(applied.announce);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write batch failed; nothing in it was stored");
                for request in batch {
                    let _ = request.reply.send(Err(e.clone()));
                }
            }
        }
    }
}
