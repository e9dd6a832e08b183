//! Follow-ups for customers (meet links to offline customers), written in the same transaction
//! as the meet, then handed to the channel's notifier.

use sqlx::any::AnyRow;

use crate::row::{i, os, s};
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: String,
    pub channel_id: String,
    pub kind: String,
    /// An e-mail address, when the customer left one.
    pub recipient: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
}

fn item(r: &AnyRow) -> Result<OutboxItem> {
    Ok(OutboxItem {
        id: s(r, "id")?,
        channel_id: s(r, "channel_id")?,
        kind: s(r, "kind")?,
        recipient: os(r, "recipient")?,
        subject: s(r, "subject")?,
        body: s(r, "body")?,
        created_at: i(r, "created_at")?,
        attempts: i(r, "attempts")?,
    })
}

pub async fn insert(db: &mut Db, o: &OutboxItem) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, channel_id, kind, recipient, subject, body, created_at, sent_at, attempts, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, NULL)",
    )
    .bind(&o.id)
    .bind(&o.channel_id)
    .bind(&o.kind)
    .bind(&o.recipient)
    .bind(&o.subject)
    .bind(&o.body)
    .bind(o.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn pending(db: &mut Db, max_attempts: i64, limit: i64) -> Result<Vec<OutboxItem>> {
    let rows = sqlx::query(
        "SELECT * FROM outbox WHERE sent_at IS NULL AND attempts < $1 ORDER BY created_at, id LIMIT $2",
    )
    .bind(max_attempts)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter().map(item).collect()
}

pub async fn all(db: &mut Db) -> Result<Vec<OutboxItem>> {
    let rows = sqlx::query("SELECT * FROM outbox ORDER BY created_at, id").fetch_all(db).await?;
    rows.iter().map(item).collect()
}

/// Takes an item for one delivery attempt: a compare-and-swap on `attempts`, so when several
/// nodes drain the outbox only one of them sends it.
pub async fn claim(db: &mut Db, item: &OutboxItem) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1 AND attempts = $2 AND sent_at IS NULL",
    )
    .bind(&item.id)
    .bind(item.attempts)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_sent(db: &mut Db, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET sent_at = $1 WHERE id = $2").bind(now).bind(id).execute(db).await?;
    Ok(())
}

pub async fn mark_failed(db: &mut Db, id: &str, error: &str) -> Result<()> {
    sqlx::query("UPDATE outbox SET last_error = $1 WHERE id = $2").bind(error).bind(id).execute(db).await?;
    Ok(())
}
