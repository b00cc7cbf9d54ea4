//! The embedded default store: one SQLite file in WAL mode.
//!
//! # Durability and group commit
//! All writes go through one writer thread. It takes every command waiting in
//! its queue (up to [`MAX_BATCH`]), applies them in one transaction and
//! commits once with `synchronous=FULL`, so one WAL fsync covers the whole
//! batch. Replies are sent only after that commit returned: an acknowledged
//! append is on disk. If the commit fails, every command in the batch fails
//! and the in-memory counters are dropped and reloaded from disk.
//!
//! Reads use a small pool of separate connections; WAL lets them run beside
//! the writer and see only committed data.
//!
//! # Schema
//! ```sql
//! mailbox(rid INTEGER PRIMARY KEY, id BLOB UNIQUE, key BLOB (member ‖ admin, 64 B),
//!         deleted (1 = a tombstone: no blobs, last_seq kept), last_seq, compacted_through, blob_count, byte_count)
//! blob(mailbox → mailbox.rid, seq, data BLOB, PRIMARY KEY (mailbox, seq))
//! dropbox(id BLOB PRIMARY KEY, data BLOB, expires_at INTEGER)
//! nonce(nonce BLOB PRIMARY KEY, expires_at INTEGER)
//! ```
//!
//! # Migrations
//! The schema is built by numbered migrations
//! (`sync-server/migrations/sqlite/NNNN_name.sql`, embedded in the binary)
//! and its version is SQLite's `user_version` (rusqlite_migration). Opening
//! applies the missing ones in one transaction. A file whose version is
//! newer than this binary knows was written by a newer relay: it is refused
//! with [`StoreError::SchemaTooNew`] before anything is written to it (not
//! even the switch to WAL mode), so going back to an older binary after an
//! upgrade fails loudly instead of corrupting data.
//!
//! # Nonces
//! Every correctly signed request's nonce goes through the writer into the
//! `nonce` table and is answered after the commit, so a request recorded
//! during one run is refused after a restart, even after a SIGKILL. A write
//! request's nonce is queued before its write and so is durable whenever the
//! write is. A batch holding only nonces commits with `synchronous=NORMAL`:
//! in WAL mode that survives the process dying (the frames are in the WAL
//! file), but not a power cut before the next full sync; it spares every
//! read an fsync. Expired nonces are deleted by the periodic sweep.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use safespaces_wire::{DropboxId, MailboxId};
use tokio::sync::oneshot;

use super::committed::{self, Effect};
use super::interface::{
    CommitSink, Compaction, MailboxKeys, MailboxRecord, Page, Store, StoreError, StoreFuture,
    StoreLimits, VouchedPut, from_sql, to_sql,
};
use super::key_cache::KeyCache;
use super::mailbox_rules::{
    self, AnonymousPut, Claim, CompactionStep, DropboxRow, MailboxCounters, Totals,
};

/// Most commands committed in one transaction.
pub const MAX_BATCH: usize = 2048;
/// Idle read connections kept open.
const READ_POOL: usize = 4;
/// Above this many cached mailboxes the writer forgets them all (they reload lazily).
const WRITER_CACHE_MAX: usize = super::key_cache::CACHE_MAX;

/// The schema migrations, in order; migration `n` (1-based) takes the file
/// to `user_version = n`. Append only: a released migration never changes.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../migrations/sqlite/0002_nonce.sql"),
    include_str!("../../migrations/sqlite/0003_mailbox_admin_key.sql"),
    include_str!("../../migrations/sqlite/0004_dropbox_owner.sql"),
];

/// The schema version this binary writes: the number of migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn migrations() -> rusqlite_migration::Migrations<'static> {
    rusqlite_migration::Migrations::new(
        MIGRATIONS
            .iter()
            .map(|sql| rusqlite_migration::M::up(sql))
            .collect(),
    )
}

/// Refuses a file written by a newer relay. Only reads the header.
fn refuse_newer_schema(conn: &Connection) -> Result<(), StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Command {
    Create {
        id: MailboxId,
        key: MailboxKeys,
        reply: Reply<bool>,
    },
    Append {
        id: MailboxId,
        data: Bytes,
        reply: Reply<u64>,
    },
    Compact {
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
        reply: Reply<Compaction>,
    },
    Delete {
        id: MailboxId,
        reply: Reply<()>,
    },
    PutDropbox {
        id: DropboxId,
        data: Bytes,
        now: u64,
        expires_at: u64,
        reply: Reply<()>,
    },
    PutVouched {
        put: VouchedPut,
        reply: Reply<()>,
    },
    ClaimDropbox {
        id: DropboxId,
        now: u64,
        reply: Reply<Option<Bytes>>,
    },
    Sweep {
        now: u64,
        reply: Reply<u64>,
    },
    Nonce {
        nonce: [u8; 16],
        expires_at: u64,
        reply: Reply<bool>,
    },
    Close {
        reply: Reply<()>,
    },
}

/// A reply computed inside a batch, sent only after the batch committed.
enum Pending {
    Bool(Reply<bool>, Result<bool, StoreError>),
    Seq(Reply<u64>, Result<u64, StoreError>),
    Compaction(Reply<Compaction>, Result<Compaction, StoreError>),
    Unit(Reply<()>, Result<(), StoreError>),
    Claim(Reply<Option<Bytes>>, Result<Option<Bytes>, StoreError>),
}

impl Pending {
    /// Sends the result, or `failure` if the batch did not commit.
    fn send(self, failure: Option<&StoreError>) {
        fn pick<T>(r: Result<T, StoreError>, f: Option<&StoreError>) -> Result<T, StoreError> {
            match f {
                Some(e) => Err(e.clone()),
                None => r,
            }
        }
        // A dropped receiver means the client went away; the write stands.
        match self {
            Pending::Bool(tx, r) => drop(tx.send(pick(r, failure))),
            Pending::Seq(tx, r) => drop(tx.send(pick(r, failure))),
            Pending::Compaction(tx, r) => drop(tx.send(pick(r, failure))),
            Pending::Unit(tx, r) => drop(tx.send(pick(r, failure))),
            Pending::Claim(tx, r) => drop(tx.send(pick(r, failure))),
        }
    }
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path).map_err(backend)?;
                c.busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(backend)?;
                c.pragma_update(None, "query_only", true).map_err(backend)?;
                c
            }
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READ_POOL {
            idle.push(conn);
        }
        out
    }
}

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    commands: mpsc::Sender<Command>,
    readers: Arc<Readers>,
    keys: Arc<KeyCache>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.readers.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts its writer thread.
    pub fn open(
        path: &Path,
        limits: StoreLimits,
        sink: Arc<dyn CommitSink>,
    ) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(backend)?;
        // Before anything writes to the file: a newer relay's file stays as it was.
        refuse_newer_schema(&conn)?;
        // WAL: readers never block the writer. FULL: the WAL is fsynced at
        // every commit, which is what makes an acknowledgement mean durable.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "SQLite refused WAL mode (got {mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        // Compacted, deleted and claimed blobs are overwritten with zeros
        // rather than left in free pages: "deleted" must mean gone, also for
        // whoever images the disk later.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        migrations().to_latest(&mut conn).map_err(|e| match e {
            // A race with another process stamping the file is the only way here.
            rusqlite_migration::Error::MigrationDefinition(
                rusqlite_migration::MigrationDefinitionError::DatabaseTooFarAhead,
            ) => StoreError::SchemaTooNew {
                found: conn
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap_or(SCHEMA_VERSION + 1),
                known: SCHEMA_VERSION,
            },
            e => StoreError::Backend(format!("could not migrate the database schema: {e}")),
        })?;

        let keys = Arc::new(KeyCache::default());
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            conn,
            limits,
            sink,
            keys: keys.clone(),
            mailboxes: HashMap::new(),
            synchronous_full: true,
            totals: None,
        };
        let handle = std::thread::Builder::new()
            .name("relay-sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(backend)?;
        Ok(Self {
            commands: tx,
            readers: Arc::new(Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
            keys,
            writer: Mutex::new(Some(handle)),
        })
    }

    fn submit<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> StoreFuture<'_, T> {
        let (tx, rx) = oneshot::channel();
        let sent = self.commands.send(make(tx));
        Box::pin(async move {
            sent.map_err(|_| StoreError::Closed)?;
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn read_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let readers = self.readers.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || readers.with(f))
                .await
                .map_err(backend)?
        })
    }
}

impl Store for SqliteStore {
    fn create_mailbox(&self, id: MailboxId, key: MailboxKeys) -> StoreFuture<'_, bool> {
        self.submit(|reply| Command::Create { id, key, reply })
    }

    fn mailbox_record(&self, id: MailboxId) -> StoreFuture<'_, Option<MailboxRecord>> {
        if let Some(key) = self.keys.get(&id) {
            return Box::pin(async move { Ok(Some(key)) });
        }
        let keys = self.keys.clone();
        let generation = keys.generation();
        let lookup = self.read_blocking(move |conn| {
            conn.query_row(
                "SELECT key, deleted FROM mailbox WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .map_err(backend)
        });
        Box::pin(async move {
            let Some((raw, deleted)) = lookup.await? else {
                return Ok(None);
            };
            let record = MailboxRecord {
                keys: mailbox_rules::stored_keys(&raw)?,
                deleted: deleted != 0,
            };
            keys.insert_if_current(id, record, generation);
            Ok(Some(record))
        })
    }

    fn append(&self, id: MailboxId, data: Bytes) -> StoreFuture<'_, u64> {
        self.submit(|reply| Command::Append { id, data, reply })
    }

    fn read(
        &self,
        id: MailboxId,
        after: u64,
        limit: u32,
        max_bytes: usize,
    ) -> StoreFuture<'_, Page> {
        self.read_blocking(move |conn| read_page(conn, &id, after, limit, max_bytes))
    }

    fn compact(
        &self,
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
    ) -> StoreFuture<'_, Compaction> {
        self.submit(|reply| Command::Compact {
            id,
            snapshot_seq,
            through_seq,
            reply,
        })
    }

    fn delete_mailbox(&self, id: MailboxId) -> StoreFuture<'_, ()> {
        self.submit(|reply| Command::Delete { id, reply })
    }

    fn put_dropbox(
        &self,
        id: DropboxId,
        data: Bytes,
        now: u64,
        expires_at: u64,
    ) -> StoreFuture<'_, ()> {
        self.submit(|reply| Command::PutDropbox {
            id,
            data,
            now,
            expires_at,
            reply,
        })
    }

    fn put_vouched_dropbox(&self, put: VouchedPut) -> StoreFuture<'_, ()> {
        self.submit(|reply| Command::PutVouched { put, reply })
    }

    fn claim_dropbox(&self, id: DropboxId, now: u64) -> StoreFuture<'_, Option<Bytes>> {
        self.submit(|reply| Command::ClaimDropbox { id, now, reply })
    }

    fn dropbox_expiry(&self, id: DropboxId, now: u64) -> StoreFuture<'_, Option<u64>> {
        // A read: it goes to the reader pool, not through the writer, and
        // sees only committed drop-boxes (an acknowledged put is committed).
        self.read_blocking(move |conn| {
            conn.prepare_cached("SELECT expires_at FROM dropbox WHERE id = ?1 AND expires_at > ?2 AND length(data) > 0")
                .map_err(backend)?
                .query_row(params![id.as_bytes().as_slice(), to_sql(now)], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|exp| exp.map(from_sql))
                .map_err(backend)
        })
    }

    fn sweep_dropboxes(&self, now: u64) -> StoreFuture<'_, u64> {
        self.submit(|reply| Command::Sweep { now, reply })
    }

    fn remember_nonce(&self, nonce: [u8; 16], expires_at: u64) -> StoreFuture<'_, bool> {
        self.submit(|reply| Command::Nonce {
            nonce,
            expires_at,
            reply,
        })
    }

    fn ready(&self) -> StoreFuture<'_, ()> {
        let writer_alive = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|h| !h.is_finished());
        let path = self.readers.path.clone();
        Box::pin(async move {
            if !writer_alive {
                return Err(StoreError::Closed);
            }
            // A fresh connection, not a pooled one: pooled connections and
            // the writer keep an open file even after the file at the path
            // was deleted or replaced (a data volume unmounted, a botched
            // restore), and writes would then go nowhere anyone will find.
            tokio::task::spawn_blocking(move || check_file(&path))
                .await
                .map_err(backend)?
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        let closed = self.submit(|reply| Command::Close { reply });
        Box::pin(async move {
            super::interface::close_once(closed).await?;
            let handle = self
                .writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(h) = handle {
                tokio::task::spawn_blocking(move || h.join())
                    .await
                    .map_err(backend)?
                    .map_err(|_| StoreError::Backend("the writer thread panicked".into()))?;
            }
            Ok(())
        })
    }
}

/// The readiness check: the file at `path` is this store's database, at
/// this binary's schema version, and answers a query.
fn check_file(path: &Path) -> Result<(), StoreError> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(1))
        .map_err(backend)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "{} is at schema version {version}, not {SCHEMA_VERSION}: the file was replaced",
            path.display()
        )));
    }
    conn.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM mailbox LIMIT 1)",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map_err(backend)?;
    Ok(())
}

fn read_page(
    conn: &Connection,
    id: &MailboxId,
    after: u64,
    limit: u32,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    // One read transaction: the counters and the blobs come from the same snapshot.
    let tx = conn.unchecked_transaction().map_err(backend)?;
    let head = tx
        .query_row(
            "SELECT rid, last_seq, compacted_through, deleted FROM mailbox WHERE id = ?1",
            [id.as_bytes().as_slice()],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    let (rid, last_seq, compacted_through, deleted) = mailbox_rules::found(head)?;
    mailbox_rules::not_deleted(deleted != 0)?;
    let limit = limit.max(1) as usize;
    let mut stmt = tx
        .prepare_cached(
            "SELECT seq, data FROM blob WHERE mailbox = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(backend)?;
    let mut rows = stmt
        .query(params![rid, to_sql(after), to_sql(limit as u64 + 1)])
        .map_err(backend)?;
    let mut blobs = Vec::new();
    let mut bytes = 0usize;
    let mut more = false;
    while let Some(row) = rows.next().map_err(backend)? {
        let data: Vec<u8> = row.get(1).map_err(backend)?;
        if blobs.len() >= limit || (!blobs.is_empty() && bytes + data.len() > max_bytes) {
            more = true;
            break;
        }
        bytes += data.len();
        blobs.push((from_sql(row.get(0).map_err(backend)?), Bytes::from(data)));
    }
    drop(rows);
    drop(stmt);
    tx.finish().map_err(backend)?;
    Ok(Page {
        blobs,
        last_seq: from_sql(last_seq),
        compacted_through: from_sql(compacted_through),
        more,
    })
}

/// A mailbox's row id and counters, and whether they changed since the
/// last write-back.
#[derive(Clone)]
struct MailboxState {
    rid: i64,
    counters: MailboxCounters,
    dirty: bool,
}

struct Writer {
    conn: Connection,
    limits: StoreLimits,
    sink: Arc<dyn CommitSink>,
    keys: Arc<KeyCache>,
    /// Counters of mailboxes touched recently. Authoritative while the writer
    /// runs because it is the only writer; written back at every commit.
    mailboxes: HashMap<MailboxId, MailboxState>,
    /// Whether the connection is at `synchronous=FULL` (else NORMAL).
    synchronous_full: bool,
    /// Store-wide counts for the global quotas, read from the tables when
    /// first needed and after a failed batch, then kept up to date here
    /// (the writer is the only writer).
    totals: Option<Totals>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
        while let Ok(first) = rx.recv() {
            let mut closing = matches!(first, Command::Close { .. });
            let mut batch = vec![first];
            while !closing && batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(c) => {
                        closing = matches!(c, Command::Close { .. });
                        batch.push(c);
                    }
                    Err(_) => break,
                }
            }
            self.execute(batch);
            if closing {
                break;
            }
        }
        // Dropping `rx` here makes every later submission fail with `Closed`.
    }

    fn execute(&mut self, batch: Vec<Command>) {
        if self.mailboxes.len() > WRITER_CACHE_MAX {
            self.mailboxes.clear();
        }
        let mut pending = Vec::with_capacity(batch.len());
        let mut effects = Vec::new();
        // Only nonces (see the module docs): no fsync. SQLite refuses to
        // change this inside a transaction, so it is set before BEGIN.
        let full = batch
            .iter()
            .any(|c| !matches!(c, Command::Nonce { .. } | Command::Close { .. }));
        let mut failure: Option<StoreError> = None;
        if full != self.synchronous_full {
            let mode = if full { "FULL" } else { "NORMAL" };
            failure = self
                .conn
                .pragma_update(None, "synchronous", mode)
                .err()
                .map(backend);
            if failure.is_none() {
                self.synchronous_full = full;
            }
        }
        if failure.is_none() {
            failure = self
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .err()
                .map(backend);
        }
        for cmd in batch {
            pending.push(self.apply(cmd, &mut effects, &mut failure));
        }
        if failure.is_none() {
            failure = self.flush_counters().err();
        }
        if failure.is_none() {
            failure = self.conn.execute_batch("COMMIT").err().map(backend);
        }
        if let Some(e) = &failure {
            tracing::error!(error = %e, "write batch failed; nothing in it was stored");
            // Best effort: the transaction may already be gone.
            let _ = self.conn.execute_batch("ROLLBACK");
            self.mailboxes.clear();
            self.totals = None;
        } else {
            committed::publish(effects, self.sink.as_ref(), &self.keys);
        }
        for p in pending {
            p.send(failure.as_ref());
        }
    }

    fn flush_counters(&mut self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE mailbox SET last_seq = ?2, compacted_through = ?3, blob_count = ?4, byte_count = ?5, deleted = ?6 WHERE rid = ?1",
            )
            .map_err(backend)?;
        for st in self.mailboxes.values_mut().filter(|s| s.dirty) {
            let c = &st.counters;
            stmt.execute(params![
                st.rid,
                to_sql(c.last_seq),
                to_sql(c.compacted_through),
                to_sql(c.blob_count),
                to_sql(c.byte_count),
                i64::from(c.deleted)
            ])
            .map_err(backend)?;
            st.dirty = false;
        }
        Ok(())
    }

    /// Applies one command inside the open transaction. A logical refusal
    /// (quota, not found) touches nothing; a backend error poisons the batch.
    fn apply(
        &mut self,
        cmd: Command,
        effects: &mut Vec<Effect>,
        failure: &mut Option<StoreError>,
    ) -> Pending {
        macro_rules! guarded {
            ($variant:ident, $reply:expr, $body:expr) => {{
                if failure.is_some() {
                    return Pending::$variant($reply, Err(StoreError::Closed));
                }
                let r = $body;
                if let Err(StoreError::Backend(_)) = &r {
                    *failure = r.as_ref().err().cloned();
                }
                Pending::$variant($reply, r)
            }};
        }
        match cmd {
            Command::Create { id, key, reply } => {
                guarded!(Bool, reply, self.create(id, key, effects))
            }
            Command::Append { id, data, reply } => {
                guarded!(Seq, reply, self.append(id, data, effects))
            }
            Command::Compact {
                id,
                snapshot_seq,
                through_seq,
                reply,
            } => guarded!(
                Compaction,
                reply,
                self.compact(id, snapshot_seq, through_seq)
            ),
            Command::Delete { id, reply } => guarded!(Unit, reply, self.delete(id, effects)),
            Command::PutDropbox {
                id,
                data,
                now,
                expires_at,
                reply,
            } => guarded!(Unit, reply, self.put_dropbox(id, &data, now, expires_at)),
            Command::PutVouched { put, reply } => {
                guarded!(Unit, reply, self.put_vouched_dropbox(&put))
            }
            Command::ClaimDropbox { id, now, reply } => {
                guarded!(Claim, reply, self.claim_dropbox(id, now))
            }
            Command::Sweep { now, reply } => guarded!(Seq, reply, self.sweep(now)),
            Command::Nonce {
                nonce,
                expires_at,
                reply,
            } => guarded!(Bool, reply, self.nonce(nonce, expires_at)),
            Command::Close { reply } => guarded!(Unit, reply, Ok(())),
        }
    }

    fn totals(&mut self) -> Result<&mut Totals, StoreError> {
        if self.totals.is_none() {
            let (mailboxes, blob_bytes): (i64, i64) = self
                .conn
                .query_row(
                    "SELECT count(*), coalesce(sum(byte_count), 0) FROM mailbox",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(backend)?;
            let (dropbox_bytes, anonymous): (i64, i64) = self
                .conn
                .query_row(
                    "SELECT coalesce(sum(length(data)), 0), count(*) FILTER (WHERE owner IS NULL) FROM dropbox",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(backend)?;
            self.totals = Some(Totals {
                mailboxes: from_sql(mailboxes),
                bytes: from_sql(blob_bytes).saturating_add(from_sql(dropbox_bytes)),
                anonymous_dropboxes: from_sql(anonymous),
            });
        }
        self.totals
            .as_mut()
            .ok_or_else(|| StoreError::Backend("totals not loaded".into()))
    }

    /// The mailbox's state (if the id is known) and the totals, both
    /// loaded, borrowed together so a rule can update both.
    fn mailbox_and_totals(
        &mut self,
        id: &MailboxId,
    ) -> Result<(Option<&mut MailboxState>, &mut Totals), StoreError> {
        self.totals()?;
        self.state(id)?;
        let totals = self
            .totals
            .as_mut()
            .ok_or_else(|| StoreError::Backend("totals not loaded".into()))?;
        Ok((self.mailboxes.get_mut(id), totals))
    }

    fn state(&mut self, id: &MailboxId) -> Result<Option<&mut MailboxState>, StoreError> {
        if !self.mailboxes.contains_key(id) {
            let row = self
                .conn
                .prepare_cached(
                    "SELECT rid, key, last_seq, compacted_through, blob_count, byte_count, deleted FROM mailbox WHERE id = ?1",
                )
                .map_err(backend)?
                .query_row([id.as_bytes().as_slice()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                })
                .optional()
                .map_err(backend)?;
            let Some((rid, key, last, compacted, count, bytes, deleted)) = row else {
                return Ok(None);
            };
            self.mailboxes.insert(
                *id,
                MailboxState {
                    rid,
                    counters: MailboxCounters {
                        keys: mailbox_rules::stored_keys(&key)?,
                        last_seq: from_sql(last),
                        compacted_through: from_sql(compacted),
                        blob_count: from_sql(count),
                        byte_count: from_sql(bytes),
                        deleted: deleted != 0,
                    },
                    dirty: false,
                },
            );
        }
        Ok(self.mailboxes.get_mut(id))
    }

    fn create(
        &mut self,
        id: MailboxId,
        key: MailboxKeys,
        effects: &mut Vec<Effect>,
    ) -> Result<bool, StoreError> {
        let limits = self.limits;
        let (existing, totals) = self.mailbox_and_totals(&id)?;
        if let Some(st) = existing {
            return mailbox_rules::create_existing(&st.counters, &key);
        }
        mailbox_rules::admit_mailbox(totals, &limits)?;
        self.conn
            .prepare_cached(
                "INSERT INTO mailbox (id, key, last_seq, compacted_through, blob_count, byte_count) VALUES (?1, ?2, 0, 0, 0, 0)",
            )
            .map_err(backend)?
            .execute(params![id.as_bytes().as_slice(), key.to_bytes().as_slice()])
            .map_err(backend)?;
        let rid = self.conn.last_insert_rowid();
        let counters = mailbox_rules::mailbox_created(self.totals()?, key);
        self.mailboxes.insert(
            id,
            MailboxState {
                rid,
                counters,
                dirty: false,
            },
        );
        effects.push(Effect::Created(id, key));
        Ok(true)
    }

    fn append(
        &mut self,
        id: MailboxId,
        data: Bytes,
        effects: &mut Vec<Effect>,
    ) -> Result<u64, StoreError> {
        let limits = self.limits;
        let (st, totals) = self.mailbox_and_totals(&id)?;
        let st = mailbox_rules::found(st)?;
        // The counters change first; if the insert below fails, the batch
        // fails and every counter is reloaded from disk.
        let seq = mailbox_rules::append(&mut st.counters, totals, &limits, data.len() as u64)?;
        st.dirty = true;
        let rid = st.rid;
        self.conn
            .prepare_cached("INSERT INTO blob (mailbox, seq, data) VALUES (?1, ?2, ?3)")
            .map_err(backend)?
            .execute(params![rid, to_sql(seq), &data[..]])
            .map_err(backend)?;
        effects.push(Effect::Blob(id, seq, data));
        Ok(seq)
    }

    fn compact(
        &mut self,
        id: MailboxId,
        snapshot_seq: u64,
        through_seq: u64,
    ) -> Result<Compaction, StoreError> {
        let st = mailbox_rules::found(self.state(&id)?)?;
        let pending = mailbox_rules::compaction(&st.counters, snapshot_seq, through_seq)?;
        let rid = st.rid;
        let stored = self
            .conn
            .prepare_cached("SELECT 1 FROM blob WHERE mailbox = ?1 AND seq = ?2")
            .map_err(backend)?
            .exists(params![rid, to_sql(snapshot_seq)])
            .map_err(backend)?;
        let through = match pending.with_snapshot(stored)? {
            CompactionStep::Done(done) => return Ok(done),
            CompactionStep::DeleteThrough(through) => through,
        };
        let (count, bytes): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(length(data)), 0) FROM blob WHERE mailbox = ?1 AND seq <= ?2",
            )
            .map_err(backend)?
            .query_row(params![rid, to_sql(through)], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        self.conn
            .prepare_cached("DELETE FROM blob WHERE mailbox = ?1 AND seq <= ?2")
            .map_err(backend)?
            .execute(params![rid, to_sql(through)])
            .map_err(backend)?;
        let (st, totals) = self.mailbox_and_totals(&id)?;
        let st = mailbox_rules::found(st)?;
        st.dirty = true;
        Ok(mailbox_rules::compacted(
            &mut st.counters,
            totals,
            through,
            from_sql(count),
            from_sql(bytes),
        ))
    }

    fn delete(&mut self, id: MailboxId, effects: &mut Vec<Effect>) -> Result<(), StoreError> {
        let (st, totals) = self.mailbox_and_totals(&id)?;
        let st = mailbox_rules::found(st)?;
        // The row stays as the tombstone, written back with the counters.
        mailbox_rules::delete(&mut st.counters, totals)?;
        st.dirty = true;
        let rid = st.rid;
        self.conn
            .prepare_cached("DELETE FROM blob WHERE mailbox = ?1")
            .map_err(backend)?
            .execute([rid])
            .map_err(backend)?;
        effects.push(Effect::Deleted(id));
        Ok(())
    }

    /// The drop-box row at `id`, if any.
    fn dropbox_row(&mut self, id: &DropboxId) -> Result<Option<DropboxRow>, StoreError> {
        self.conn
            .prepare_cached("SELECT expires_at, reserved, length(data) FROM dropbox WHERE id = ?1")
            .map_err(backend)?
            .query_row([id.as_bytes().as_slice()], |r| {
                Ok(DropboxRow {
                    expires_at: from_sql(r.get(0)?),
                    reserved: r.get::<_, i64>(1)? != 0,
                    len: from_sql(r.get(2)?),
                })
            })
            .optional()
            .map_err(backend)
    }

    /// Deletes the row at `id` and takes it off the totals.
    fn delete_dropbox_row(&mut self, id: &DropboxId) -> Result<(), StoreError> {
        let row: Option<(i64, bool)> = self
            .conn
            .prepare_cached(
                "DELETE FROM dropbox WHERE id = ?1 RETURNING length(data), owner IS NULL",
            )
            .map_err(backend)?
            .query_row([id.as_bytes().as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)?;
        if let Some((len, anonymous)) = row {
            self.totals()?.remove_dropbox(from_sql(len), anonymous);
        }
        Ok(())
    }

    fn put_dropbox(
        &mut self,
        id: DropboxId,
        data: &[u8],
        now: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let len = data.len() as u64;
        let row = self.dropbox_row(&id)?;
        match mailbox_rules::anonymous_put(row, now)? {
            AnonymousPut::FillReservation => {
                let limits = self.limits;
                mailbox_rules::room_for(self.totals()?, &limits, len)?;
                self.conn
                    .prepare_cached(
                        "UPDATE dropbox SET data = ?2, expires_at = min(expires_at, ?3) WHERE id = ?1",
                    )
                    .map_err(backend)?
                    .execute(params![id.as_bytes().as_slice(), data, to_sql(expires_at)])
                    .map_err(backend)?;
                self.totals()?.reservation_filled(len);
                return Ok(());
            }
            AnonymousPut::Insert { replace_expired } => {
                if replace_expired {
                    self.delete_dropbox_row(&id)?;
                }
            }
        }
        let limits = self.limits;
        mailbox_rules::admit_anonymous_dropbox(self.totals()?, &limits, len)?;
        self.conn
            .prepare_cached("INSERT INTO dropbox (id, data, expires_at) VALUES (?1, ?2, ?3)")
            .map_err(backend)?
            .execute(params![id.as_bytes().as_slice(), data, to_sql(expires_at)])
            .map_err(backend)?;
        self.totals()?.add_dropbox(len, true);
        Ok(())
    }

    fn put_vouched_dropbox(&mut self, put: &VouchedPut) -> Result<(), StoreError> {
        // Everything is read and checked before anything changes: a refusal
        // stores nothing.
        let here = self.dropbox_row(&put.id)?;
        let there = match &put.reserve {
            Some(r) => self.dropbox_row(r)?,
            None => None,
        };
        let held: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM dropbox WHERE owner = ?1 AND expires_at > ?2")
            .map_err(backend)?
            .query_row(
                params![put.owner.as_bytes().as_slice(), to_sql(put.now)],
                |r| r.get(0),
            )
            .map_err(backend)?;
        let limits = self.limits;
        mailbox_rules::vouched_put(put, here, there, from_sql(held), self.totals()?, &limits)?;
        // Any row still at the ids has expired.
        if here.is_some() {
            self.delete_dropbox_row(&put.id)?;
        }
        self.conn
            .prepare_cached(
                "INSERT INTO dropbox (id, data, expires_at, owner, reserved) VALUES (?1, ?2, ?3, ?4, 0)",
            )
            .map_err(backend)?
            .execute(params![
                put.id.as_bytes().as_slice(),
                &put.data[..],
                to_sql(put.expires_at),
                put.owner.as_bytes().as_slice(),
            ])
            .map_err(backend)?;
        if let Some(r) = &put.reserve {
            if there.is_some() {
                self.delete_dropbox_row(r)?;
            }
            self.conn
                .prepare_cached(
                    "INSERT INTO dropbox (id, data, expires_at, owner, reserved) VALUES (?1, x'', ?2, ?3, 1)",
                )
                .map_err(backend)?
                .execute(params![
                    r.as_bytes().as_slice(),
                    to_sql(put.expires_at),
                    put.owner.as_bytes().as_slice()
                ])
                .map_err(backend)?;
        }
        self.totals()?.add_dropbox(put.data.len() as u64, false);
        Ok(())
    }

    fn claim_dropbox(&mut self, id: DropboxId, now: u64) -> Result<Option<Bytes>, StoreError> {
        let row: Option<(Vec<u8>, i64, bool)> = self
            .conn
            .prepare_cached("SELECT data, expires_at, reserved FROM dropbox WHERE id = ?1")
            .map_err(backend)?
            .query_row([id.as_bytes().as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
            })
            .optional()
            .map_err(backend)?;
        let Some((data, exp, reserved)) = row else {
            return Ok(None);
        };
        let found = DropboxRow {
            expires_at: from_sql(exp),
            reserved,
            len: data.len() as u64,
        };
        match mailbox_rules::claim(Some(found), now) {
            Claim::Nothing => return Ok(None),
            Claim::DeleteExpired => {
                self.delete_dropbox_row(&id)?;
                return Ok(None);
            }
            Claim::TakeKeepReservation => {
                self.conn
                    .prepare_cached("UPDATE dropbox SET data = x'' WHERE id = ?1")
                    .map_err(backend)?
                    .execute([id.as_bytes().as_slice()])
                    .map_err(backend)?;
                self.totals()?.reservation_emptied(found.len);
            }
            Claim::Take => self.delete_dropbox_row(&id)?,
        }
        Ok(Some(Bytes::from(data)))
    }

    fn sweep(&mut self, now: u64) -> Result<u64, StoreError> {
        let (n, bytes, anonymous): (i64, i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(length(data)), 0), count(*) FILTER (WHERE owner IS NULL) FROM dropbox WHERE expires_at <= ?1",
            )
            .map_err(backend)?
            .query_row([to_sql(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(backend)?;
        self.conn
            .prepare_cached("DELETE FROM dropbox WHERE expires_at <= ?1")
            .map_err(backend)?
            .execute([to_sql(now)])
            .map_err(backend)?;
        // Their timestamps are outside the window now: the clock check refuses them.
        self.conn
            .prepare_cached("DELETE FROM nonce WHERE expires_at <= ?1")
            .map_err(backend)?
            .execute([to_sql(now)])
            .map_err(backend)?;
        self.totals()?.swept(from_sql(bytes), from_sql(anonymous));
        Ok(from_sql(n))
    }

    /// `true` if the nonce was new; `false` if recorded before (a replay).
    fn nonce(&mut self, nonce: [u8; 16], expires_at: u64) -> Result<bool, StoreError> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO nonce (nonce, expires_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING",
            )
            .map_err(backend)?
            .execute(params![nonce.as_slice(), to_sql(expires_at)])
            .map_err(backend)?;
        Ok(inserted == 1)
    }
}
