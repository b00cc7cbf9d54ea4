//! Schema migrations, applied when a relay node starts.
//!
//! Migrations are SQL files embedded in the binary
//! (`sync-server/migrations/postgres/NNNN_name.sql`), applied in order, each
//! in its own transaction together with its row in `relay_schema`. Nodes
//! starting at the same moment take a session advisory lock first, so
//! exactly one applies each migration and the others wait and then see it
//! done (the lock also dies with the connection if a node dies mid-way). A database whose schema is newer than this binary is refused rather
//! than written with assumptions that no longer hold.

use sqlx::{Connection as _, PgConnection, Row as _};

use super::super::interface::StoreError;
use super::backend::backend;

/// `(version, SQL)`, ascending. Append only: a released migration never changes.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_nonce.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_limits.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_mailbox_admin_key.sql"),
    ),
];

/// Advisory lock key serialising migrations across nodes ("ssrelay1" in ASCII).
const MIGRATION_LOCK: i64 = 0x7373_7265_6c61_7931;

/// Brings the schema up to date.
pub(super) async fn run(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let result = apply(conn).await;
    // Best effort: closing the connection releases the lock anyway.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await;
    result
}

async fn apply(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS relay_schema (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    for &(version, sql) in MIGRATIONS {
        let mut tx = conn.begin().await.map_err(backend)?;
        let current: i64 = sqlx::query("SELECT coalesce(max(version), 0) FROM relay_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
        if current > newest {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known: newest,
            });
        }
        if current >= version {
            tx.rollback().await.map_err(backend)?;
            continue;
        }
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO relay_schema (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
