//! Reading one page of a mailbox's blobs, for reads and for the fan-out.

use bytes::Bytes;
use safespaces_wire::MailboxId;
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgRow};

use super::super::interface::{Page, StoreError, from_sql, to_sql};
use super::super::mailbox_rules;
use super::backend::backend;

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
        "WITH m AS (SELECT rid, last_seq, compacted_through, deleted FROM mailbox WHERE id = $1)
         SELECT m.last_seq, m.compacted_through, b.seq, b.data, m.deleted
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
    let first = mailbox_rules::found(rows.first())?;
    mailbox_rules::not_deleted(first.try_get::<bool, _>(4).map_err(backend)?)?;
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
