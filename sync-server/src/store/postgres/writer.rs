//! The writer of one node: group commit of everything waiting, in one
//! transaction, under row locks on the touched mailboxes (see the parent
//! module's docs for why this keeps sequences gapless across nodes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use safespaces_wire::{DropboxId, MailboxId};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection as _, PgConnection, Row as _};
use tokio::sync::mpsc;

use super::super::committed::{self, Effect};
use super::super::interface::{
    CommitSink, Compaction, MailboxKeys, StoreError, StoreLimits, VouchedPut, from_sql, to_sql,
};
use super::super::key_cache::KeyCache;
use super::super::mailbox_rules::{
    self, AnonymousPut, Claim, CompactionStep, DropboxRow, MailboxCounters, Totals,
};
use super::backend::backend;
use super::command::{MAX_BATCH, Op, Outcome, Request};
use super::fanout::{self, Announce};

/// The value of a rule's answer, or its refusal returned as the command's
/// outcome: a refusal is no database error, and the batch goes on.
macro_rules! or_refuse {
    ($rule:expr) => {
        match $rule {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}

/// Advisory lock key serialising drop-box puts across nodes, so the
/// relay-wide drop-box limit holds exactly ("ssdropbx" in ASCII).
const DROPBOX_LOCK: i64 = 0x7373_6472_6f70_6278;

/// How often a batch that hit a deadlock or serialisation failure is retried.
const RETRIES: usize = 3;

/// A mailbox's row id and counters, read under its row lock, and whether
/// they changed since.
#[derive(Clone)]
struct MailboxState {
    rid: i64,
    counters: MailboxCounters,
    dirty: bool,
}

fn mailbox_state(row: &PgRow) -> Result<(MailboxId, MailboxState), sqlx::Error> {
    let id: Vec<u8> = row.try_get("id")?;
    let key: Vec<u8> = row.try_get("key")?;
    let bad =
        |what: &str| sqlx::Error::Decode(format!("stored {what} has the wrong length").into());
    let id: [u8; 32] = id.try_into().map_err(|_| bad("mailbox id"))?;
    let key = MailboxKeys::from_slice(&key).ok_or_else(|| bad("keys"))?;
    Ok((
        MailboxId::from_bytes(id),
        MailboxState {
            rid: row.try_get("rid")?,
            counters: MailboxCounters {
                keys: key,
                last_seq: from_sql(row.try_get("last_seq")?),
                compacted_through: from_sql(row.try_get("compacted_through")?),
                blob_count: from_sql(row.try_get("blob_count")?),
                byte_count: from_sql(row.try_get("byte_count")?),
                deleted: row.try_get("deleted")?,
            },
            dirty: false,
        },
    ))
}

const LOCK_MAILBOXES: &str =
    "SELECT rid, id, key, last_seq, compacted_through, blob_count, byte_count, deleted
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
    /// The row of `relay_totals`, read under its row lock at the start of
    /// the batch, written back at the end.
    totals: Totals,
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
        if ops
            .iter()
            .any(|op| matches!(op, Op::PutDropbox { .. } | Op::PutVouched { .. }))
        {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(DROPBOX_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        // Last of the locks, so every batch takes them in the same order
        // (mailbox rows by id, the drop-box lock, the totals).
        let (mailboxes, bytes, anonymous): (i64, i64, i64) = sqlx::query_as(
            "SELECT mailboxes, bytes, anonymous_dropboxes FROM relay_totals FOR UPDATE",
        )
        .fetch_one(&mut *tx)
        .await?;
        let totals = Totals {
            mailboxes: from_sql(mailboxes),
            bytes: from_sql(bytes),
            anonymous_dropboxes: from_sql(anonymous),
        };
        let mut batch = Batch {
            limits,
            node,
            state,
            totals,
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
        if batch.totals != totals {
            sqlx::query(
                "UPDATE relay_totals SET mailboxes = $1, bytes = $2, anonymous_dropboxes = $3",
            )
            .bind(to_sql(batch.totals.mailboxes))
            .bind(to_sql(batch.totals.bytes))
            .bind(to_sql(batch.totals.anonymous_dropboxes))
            .execute(&mut *tx)
            .await?;
        }
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
            Op::PutVouched { put } => self
                .put_vouched_dropbox(conn, put)
                .await?
                .map(|()| Outcome::Done),
            Op::ClaimDropbox { id, now } => self
                .claim_dropbox(conn, id, *now)
                .await?
                .map(Outcome::Claimed),
            Op::Sweep { now } => {
                let (n, bytes, anonymous): (i64, i64, i64) = sqlx::query_as(
                    "WITH d AS (DELETE FROM dropbox WHERE expires_at <= $1
                         RETURNING octet_length(data) AS len, owner IS NULL AS anonymous)
                     SELECT count(*), coalesce(sum(len), 0)::int8, count(*) FILTER (WHERE anonymous) FROM d",
                )
                .bind(to_sql(*now))
                .fetch_one(&mut *conn)
                .await?;
                self.totals.swept(from_sql(bytes), from_sql(anonymous));
                let n = from_sql(n);
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
        key: MailboxKeys,
    ) -> Result<Result<bool, StoreError>, sqlx::Error> {
        if let Some(st) = self.state.get(&id) {
            return Ok(mailbox_rules::create_existing(&st.counters, &key));
        }
        // Another node may have created this very id meanwhile; the answer
        // to a full store is the same "full" either way, and nothing changes.
        or_refuse!(mailbox_rules::admit_mailbox(&self.totals, &self.limits));
        let rid: Option<i64> = sqlx::query_scalar(
            "INSERT INTO mailbox (id, key, last_seq, compacted_through, blob_count, byte_count)
             VALUES ($1, $2, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING RETURNING rid",
        )
        .bind(id.as_bytes().as_slice())
        .bind(key.to_bytes().as_slice())
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
            let answer = mailbox_rules::create_existing(&st.counters, &key);
            self.state.insert(id, st);
            return Ok(answer);
        };
        let counters = mailbox_rules::mailbox_created(&mut self.totals, key);
        self.state.insert(
            id,
            MailboxState {
                rid,
                counters,
                dirty: false,
            },
        );
        self.effects.push(Effect::Created(id, key));
        Ok(Ok(true))
    }

    fn append(&mut self, id: MailboxId, data: &'a Bytes) -> Result<u64, StoreError> {
        let st = mailbox_rules::found(self.state.get_mut(&id))?;
        let seq = mailbox_rules::append(
            &mut st.counters,
            &mut self.totals,
            &self.limits,
            data.len() as u64,
        )?;
        st.dirty = true;
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
        let col = |f: fn(&MailboxCounters) -> u64| -> Vec<i64> {
            dirty.iter().map(|s| to_sql(f(&s.counters))).collect()
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
        let st = or_refuse!(mailbox_rules::found(self.state.get(&id)));
        let pending = or_refuse!(mailbox_rules::compaction(
            &st.counters,
            snapshot_seq,
            through_seq
        ));
        let rid = st.rid;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM blob WHERE mailbox = $1 AND seq = $2")
                .bind(rid)
                .bind(to_sql(snapshot_seq))
                .fetch_optional(&mut *conn)
                .await?;
        let through_seq = match or_refuse!(pending.with_snapshot(exists.is_some())) {
            CompactionStep::Done(done) => return Ok(Ok(done)),
            CompactionStep::DeleteThrough(through) => through,
        };
        let (count, bytes): (i64, i64) = sqlx::query_as(
            "WITH d AS (DELETE FROM blob WHERE mailbox = $1 AND seq <= $2 RETURNING octet_length(data) AS n)
             SELECT count(*), coalesce(sum(n), 0)::int8 FROM d",
        )
        .bind(rid)
        .bind(to_sql(through_seq))
        .fetch_one(&mut *conn)
        .await?;
        let st = or_refuse!(mailbox_rules::found(self.state.get_mut(&id)));
        st.dirty = true;
        Ok(Ok(mailbox_rules::compacted(
            &mut st.counters,
            &mut self.totals,
            through_seq,
            from_sql(count),
            from_sql(bytes),
        )))
    }

    async fn delete(
        &mut self,
        conn: &mut PgConnection,
        id: MailboxId,
    ) -> Result<Result<(), StoreError>, sqlx::Error> {
        let st = or_refuse!(mailbox_rules::found(self.state.get_mut(&id)));
        // The rules decide the tombstone's counters; the statement below
        // writes the same ones (and if it fails, the whole batch is undone).
        // A mailbox appended to earlier in this batch stays dirty, so its
        // last sequence number is written back with the counters too.
        or_refuse!(mailbox_rules::delete(&mut st.counters, &mut self.totals));
        sqlx::query("DELETE FROM blob WHERE mailbox = $1")
            .bind(st.rid)
            .execute(&mut *conn)
            .await?;
        // The row stays as the tombstone: its keys and last sequence number.
        sqlx::query(
            "UPDATE mailbox SET deleted = true, blob_count = 0, byte_count = 0,
                 compacted_through = last_seq WHERE rid = $1",
        )
        .bind(st.rid)
        .execute(&mut *conn)
        .await?;
        // Earlier appends in this batch went to the deleted rid: nothing to announce.
        self.appended.remove(&id);
        self.deleted.push(id);
        self.effects.push(Effect::Deleted(id));
        Ok(Ok(()))
    }

    /// The drop-box row at `id`, if any.
    async fn dropbox_row(
        conn: &mut PgConnection,
        id: &DropboxId,
    ) -> Result<Option<DropboxRow>, sqlx::Error> {
        let row: Option<(i64, bool, i32)> = sqlx::query_as(
            "SELECT expires_at, reserved, octet_length(data) FROM dropbox WHERE id = $1",
        )
        .bind(id.as_bytes().as_slice())
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.map(|(exp, reserved, len)| DropboxRow {
            expires_at: from_sql(exp),
            reserved,
            len: u64::try_from(len).unwrap_or(0),
        }))
    }

    /// Deletes the row at `id` and takes it off the totals.
    async fn delete_dropbox_row(
        &mut self,
        conn: &mut PgConnection,
        id: &DropboxId,
    ) -> Result<(), sqlx::Error> {
        let row: Option<(i32, bool)> = sqlx::query_as(
            "DELETE FROM dropbox WHERE id = $1 RETURNING octet_length(data), owner IS NULL",
        )
        .bind(id.as_bytes().as_slice())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((len, anonymous)) = row {
            self.totals
                .remove_dropbox(u64::try_from(len).unwrap_or(0), anonymous);
        }
        Ok(())
    }

    async fn put_dropbox(
        &mut self,
        conn: &mut PgConnection,
        id: &DropboxId,
        data: &[u8],
        now: u64,
        expires_at: u64,
    ) -> Result<Result<(), StoreError>, sqlx::Error> {
        let len = data.len() as u64;
        let row = Self::dropbox_row(conn, id).await?;
        match or_refuse!(mailbox_rules::anonymous_put(row, now)) {
            AnonymousPut::FillReservation => {
                or_refuse!(mailbox_rules::room_for(&self.totals, &self.limits, len));
                sqlx::query(
                    "UPDATE dropbox SET data = $2, expires_at = least(expires_at, $3) WHERE id = $1",
                )
                .bind(id.as_bytes().as_slice())
                .bind(data)
                .bind(to_sql(expires_at))
                .execute(&mut *conn)
                .await?;
                self.totals.reservation_filled(len);
                return Ok(Ok(()));
            }
            AnonymousPut::Insert { replace_expired } => {
                if replace_expired {
                    self.delete_dropbox_row(conn, id).await?;
                }
            }
        }
        or_refuse!(mailbox_rules::admit_anonymous_dropbox(
            &self.totals,
            &self.limits,
            len
        ));
        sqlx::query("INSERT INTO dropbox (id, data, expires_at) VALUES ($1, $2, $3)")
            .bind(id.as_bytes().as_slice())
            .bind(data)
            .bind(to_sql(expires_at))
            .execute(&mut *conn)
            .await?;
        self.totals.add_dropbox(len, true);
        Ok(Ok(()))
    }

    async fn put_vouched_dropbox(
        &mut self,
        conn: &mut PgConnection,
        put: &VouchedPut,
    ) -> Result<Result<(), StoreError>, sqlx::Error> {
        // Everything is read and checked before anything changes: a refusal
        // stores nothing.
        let here = Self::dropbox_row(conn, &put.id).await?;
        let there = match &put.reserve {
            Some(r) => Self::dropbox_row(conn, r).await?,
            None => None,
        };
        let held: i64 =
            sqlx::query_scalar("SELECT count(*) FROM dropbox WHERE owner = $1 AND expires_at > $2")
                .bind(put.owner.as_bytes().as_slice())
                .bind(to_sql(put.now))
                .fetch_one(&mut *conn)
                .await?;
        or_refuse!(mailbox_rules::vouched_put(
            put,
            here,
            there,
            from_sql(held),
            &self.totals,
            &self.limits
        ));
        // Any row still at the ids has expired.
        if here.is_some() {
            self.delete_dropbox_row(conn, &put.id).await?;
        }
        sqlx::query(
            "INSERT INTO dropbox (id, data, expires_at, owner, reserved) VALUES ($1, $2, $3, $4, false)",
        )
        .bind(put.id.as_bytes().as_slice())
        .bind(&put.data[..])
        .bind(to_sql(put.expires_at))
        .bind(put.owner.as_bytes().as_slice())
        .execute(&mut *conn)
        .await?;
        if let Some(r) = &put.reserve {
            if there.is_some() {
                self.delete_dropbox_row(conn, r).await?;
            }
            sqlx::query(
                "INSERT INTO dropbox (id, data, expires_at, owner, reserved) VALUES ($1, ''::bytea, $2, $3, true)",
            )
            .bind(r.as_bytes().as_slice())
            .bind(to_sql(put.expires_at))
            .bind(put.owner.as_bytes().as_slice())
            .execute(&mut *conn)
            .await?;
        }
        self.totals.add_dropbox(put.data.len() as u64, false);
        Ok(Ok(()))
    }

    async fn claim_dropbox(
        &mut self,
        conn: &mut PgConnection,
        id: &DropboxId,
        now: u64,
    ) -> Result<Result<Option<Bytes>, StoreError>, sqlx::Error> {
        let row: Option<(Vec<u8>, i64, bool)> =
            // FOR UPDATE: of two nodes claiming at once, the second waits and
            // then finds the row gone (or emptied), so exactly one wins.
            sqlx::query_as("SELECT data, expires_at, reserved FROM dropbox WHERE id = $1 FOR UPDATE")
                .bind(id.as_bytes().as_slice())
                .fetch_optional(&mut *conn)
                .await?;
        let Some((data, exp, reserved)) = row else {
            return Ok(Ok(None));
        };
        let found = DropboxRow {
            expires_at: from_sql(exp),
            reserved,
            len: data.len() as u64,
        };
        match mailbox_rules::claim(Some(found), now) {
            Claim::Nothing => return Ok(Ok(None)),
            Claim::DeleteExpired => {
                self.delete_dropbox_row(conn, id).await?;
                return Ok(Ok(None));
            }
            Claim::TakeKeepReservation => {
                sqlx::query("UPDATE dropbox SET data = ''::bytea WHERE id = $1")
                    .bind(id.as_bytes().as_slice())
                    .execute(&mut *conn)
                    .await?;
                self.totals.reservation_emptied(found.len);
            }
            Claim::Take => self.delete_dropbox_row(conn, id).await?,
        }
        Ok(Ok(Some(Bytes::from(data))))
    }
}

/// Whether PostgreSQL says "try again": a deadlock or serialisation failure.
fn retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

/// After this long without a batch the writer pings its connection first.
const IDLE_PING_AFTER: Duration = Duration::from_secs(1);

pub(super) struct Writer {
    options: PgConnectOptions,
    /// Dropped after any error, and opened again for the next batch.
    conn: Option<PgConnection>,
    /// When `conn` last finished a batch.
    last_used: std::time::Instant,
    limits: StoreLimits,
    sink: Arc<dyn CommitSink>,
    keys: Arc<KeyCache>,
    node: u64,
    announce: mpsc::UnboundedSender<Vec<Announce>>,
}

impl Writer {
    pub(super) fn new(
        options: PgConnectOptions,
        limits: StoreLimits,
        sink: Arc<dyn CommitSink>,
        keys: Arc<KeyCache>,
        node: u64,
        announce: mpsc::UnboundedSender<Vec<Announce>>,
    ) -> Self {
        Self {
            options,
            conn: None,
            last_used: std::time::Instant::now(),
            limits,
            sink,
            keys,
            node,
            announce,
        }
    }

    /// Applies batches until the store closes.
    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
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
        // A connection that sat idle may have died with a database restart
        // or fail-over: a ping (nothing written, so safe to retry) finds out
        // before a batch is sent into it and fails. Back-to-back batches
        // under load skip the ping.
        if self.last_used.elapsed() > IDLE_PING_AFTER {
            if let Some(conn) = self.conn.as_mut() {
                if conn.ping().await.is_err() {
                    self.conn = None;
                }
            }
        }
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
        self.last_used = std::time::Instant::now();
        match result {
            Ok(applied) => {
                committed::publish(applied.effects, self.sink.as_ref(), &self.keys);
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
