//! Replay protection shared by every node: nonces of signed requests in the
//! `nonce` table (migration 0002).
//!
//! Every correctly signed request records its nonce here after the node's
//! own in-memory cache accepted it, so recording is on the hot path of every
//! append. One task per node batches whatever is waiting into a single
//! `INSERT … SELECT FROM UNNEST(…) ON CONFLICT DO NOTHING RETURNING nonce`,
//! on a connection with `synchronous_commit = off` into an unlogged table:
//! one round trip per batch, no WAL flush. A nonce that comes back was new;
//! one that does not was recorded before, by this node or another — a replay.

use std::collections::HashSet;

use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::super::interface::{StoreError, to_sql};
use super::backend::backend;

/// Most nonces recorded in one statement.
const MAX_BATCH: usize = 4096;

/// A nonce to record, and where to say whether it was new.
pub(super) struct Remember {
    pub(super) nonce: [u8; 16],
    pub(super) expires_at: u64,
    pub(super) reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// Records nonces until every sender is gone.
pub(super) async fn run(pool: PgPool, mut rx: mpsc::UnboundedReceiver<Remember>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // The same nonce twice in one batch: only the first may win, and the
        // statement must see each key once.
        let mut unique = HashSet::new();
        let (nonces, expiries): (Vec<&[u8]>, Vec<i64>) = batch
            .iter()
            .filter(|r| unique.insert(r.nonce))
            .map(|r| (r.nonce.as_slice(), to_sql(r.expires_at)))
            .unzip();
        let inserted: Result<Vec<Vec<u8>>, _> = sqlx::query_scalar(
            "INSERT INTO nonce (nonce, expires_at)
             SELECT * FROM UNNEST($1::bytea[], $2::int8[])
             ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
        )
        .bind(&nonces)
        .bind(&expiries)
        .fetch_all(&pool)
        .await;
        match inserted {
            Ok(rows) => {
                let mut new: HashSet<Vec<u8>> = rows.into_iter().collect();
                for r in batch {
                    let fresh = new.remove(r.nonce.as_slice());
                    let _ = r.reply.send(Ok(fresh));
                }
            }
            Err(e) => {
                let e = backend(e);
                tracing::error!(error = %e, "could not record request nonces");
                for r in batch {
                    let _ = r.reply.send(Err(e.clone()));
                }
            }
        }
    }
}
