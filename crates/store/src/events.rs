//! The event log. Its `id` is the cursor clients resume from, so ids must become visible in
//! order: on PostgreSQL every insert takes one transaction-scoped advisory lock (commits are
//! serialised) and notifies [`crate::EVENTS_CHANNEL`] (delivered at commit); SQLite has a
//! single writer anyway.

use sqlx::any::AnyRow;

use crate::row::{i, s};
use crate::{Backend, Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub channel_id: String,
    /// JSON: who may receive it (decided by the server when it was written).
    pub audience: String,
    /// JSON: the event body.
    pub body: String,
    pub created_at: i64,
}

fn event(r: &AnyRow) -> Result<StoredEvent> {
    Ok(StoredEvent {
        id: i(r, "id")?,
        channel_id: s(r, "channel_id")?,
        audience: s(r, "audience")?,
        body: s(r, "body")?,
        created_at: i(r, "created_at")?,
    })
}

pub(crate) const EVENT_LOCK: i64 = 0x6d65_6574; // "meet"

pub async fn insert(
    db: &mut Db,
    backend: Backend,
    channel_id: &str,
    audience: &str,
    body: &str,
    now: i64,
) -> Result<i64> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(EVENT_LOCK).execute(&mut *db).await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO events (channel_id, audience, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(channel_id)
    .bind(audience)
    .bind(body)
    .bind(now)
    .fetch_one(&mut *db)
    .await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')").bind(crate::EVENTS_CHANNEL).execute(&mut *db).await?;
    }
    Ok(id)
}

pub async fn after(db: &mut Db, after_id: i64, limit: i64) -> Result<Vec<StoredEvent>> {
    let rows = sqlx::query("SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after_id)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(event).collect()
}

pub async fn max_id(db: &mut Db) -> Result<i64> {
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events").fetch_one(db).await?;
    Ok(id.unwrap_or(0))
}

/// The oldest id still kept (0 when empty).
pub async fn min_id(db: &mut Db) -> Result<i64> {
    let id: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM events").fetch_one(db).await?;
    Ok(id.unwrap_or(0))
}

/// Drops events older than `before` (clients further behind get a resync).
pub async fn prune(db: &mut Db, before: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM events WHERE created_at < $1").bind(before).execute(db).await?;
    Ok(done.rows_affected())
}
