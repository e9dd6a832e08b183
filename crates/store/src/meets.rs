//! Meets: the pure state machine stored as JSON beside the columns queries need.
//! Every update is a compare-and-swap on `version`.

use meetdesk_meet::{Meet, Phase, Scope};
use sqlx::any::AnyRow;

use crate::row::{i, s};
use crate::{Db, Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMeet {
    pub channel_id: String,
    pub node_id: String,
    pub version: i64,
    pub meet: Meet,
}

fn stored(r: &AnyRow) -> Result<StoredMeet> {
    let state = s(r, "state")?;
    let meet = serde_json::from_str(&state).map_err(|e| StoreError::Corrupt(format!("meet state: {e}")))?;
    Ok(StoredMeet {
        channel_id: s(r, "channel_id")?,
        node_id: s(r, "node_id")?,
        version: i(r, "version")?,
        meet,
    })
}

fn scope_columns(scope: &Scope) -> (&'static str, Option<&str>, Option<&str>) {
    match scope {
        Scope::UserChat(c) => ("user_chat", Some(c.as_str()), None),
        Scope::Internal(c) => ("internal", Some(c.as_str()), None),
        Scope::TeamGroup(r) => ("team_group", None, Some(r.as_str())),
        Scope::TeamDm(r) => ("team_dm", None, Some(r.as_str())),
    }
}

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Ringing => "ringing",
        Phase::WaitingForLink => "waiting_for_link",
        Phase::Active => "active",
        Phase::Ended => "ended",
    }
}

fn state_json(meet: &Meet) -> Result<String> {
    serde_json::to_string(meet).map_err(|e| StoreError::Corrupt(format!("meet state: {e}")))
}

/// Inserts a new meet. Returns false when the chat or room already has a meet going on.
pub async fn insert(db: &mut Db, m: &StoredMeet, now: i64) -> Result<bool> {
    let (kind, chat, room) = scope_columns(&m.meet.scope);
    let done = sqlx::query(
        "INSERT INTO meets (id, channel_id, scope_kind, chat_id, room_id, phase, next_deadline, node_id, state,
                            version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(m.meet.id.as_str())
    .bind(&m.channel_id)
    .bind(kind)
    .bind(chat)
    .bind(room)
    .bind(phase_name(m.meet.phase))
    .bind(m.meet.poll_timeout().map(|(t, _)| t.0))
    .bind(&m.node_id)
    .bind(state_json(&m.meet)?)
    .bind(m.version)
    .bind(now)
    .bind(now)
    .execute(db)
    .await;
    match done {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Writes `m.meet` if the stored version is still `m.version`; the stored version becomes
/// `m.version + 1`. Returns false when another writer got there first.
pub async fn update(db: &mut Db, m: &StoredMeet, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE meets SET phase = $1, next_deadline = $2, state = $3, version = version + 1, updated_at = $4
         WHERE id = $5 AND version = $6",
    )
    .bind(phase_name(m.meet.phase))
    .bind(m.meet.poll_timeout().map(|(t, _)| t.0))
    .bind(state_json(&m.meet)?)
    .bind(now)
    .bind(m.meet.id.as_str())
    .bind(m.version)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(db: &mut Db, id: &str) -> Result<Option<StoredMeet>> {
    let row = sqlx::query("SELECT * FROM meets WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(stored).transpose()
}

/// Every meet carried by `node_id` that has not ended, in one query.
pub async fn ongoing_on_node(db: &mut Db, node_id: &str) -> Result<Vec<StoredMeet>> {
    let rows = sqlx::query("SELECT * FROM meets WHERE node_id = $1 AND phase <> 'ended'")
        .bind(node_id)
        .fetch_all(db)
        .await?;
    rows.iter().map(stored).collect()
}

/// Moves a meet's media from node `from` (taken for dead) to node `to`. Returns false when
/// the meet is no longer carried by `from` (another node moved it first).
pub async fn move_media(db: &mut Db, id: &str, from: &str, to: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE meets SET node_id = $1 WHERE id = $2 AND node_id = $3")
        .bind(to)
        .bind(id)
        .bind(from)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every meet of a channel that is ringing someone: a meet still ringing its callees, or one
/// going on with an invited agent's ring (read when a device connects, to ring it at once).
pub async fn ringing_in_channel(db: &mut Db, channel_id: &str) -> Result<Vec<StoredMeet>> {
    let rows = sqlx::query(
        "SELECT * FROM meets WHERE channel_id = $1 AND phase <> 'ended' AND next_deadline IS NOT NULL",
    )
    .bind(channel_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(stored).collect()
}

/// The meet of a user chat (`internal` false) or its internal chat that has not ended.
pub async fn ongoing_in_chat(db: &mut Db, chat_id: &str, internal: bool) -> Result<Option<String>> {
    let kind = if internal { "internal" } else { "user_chat" };
    let id = sqlx::query_scalar(
        "SELECT id FROM meets WHERE chat_id = $1 AND scope_kind = $2 AND phase <> 'ended'
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(chat_id)
    .bind(kind)
    .fetch_optional(db)
    .await?;
    Ok(id)
}

pub async fn ongoing_in_room(db: &mut Db, room_id: &str) -> Result<Option<String>> {
    let id = sqlx::query_scalar(
        "SELECT id FROM meets WHERE room_id = $1 AND phase <> 'ended' ORDER BY created_at DESC LIMIT 1",
    )
    .bind(room_id)
    .fetch_optional(db)
    .await?;
    Ok(id)
}

/// The earliest pending deadline of any meet.
pub async fn next_deadline(db: &mut Db) -> Result<Option<i64>> {
    let t: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_deadline) FROM meets WHERE next_deadline IS NOT NULL")
            .fetch_one(db)
            .await?;
    Ok(t)
}

/// Meets whose next deadline is at or before `now`.
pub async fn due(db: &mut Db, now: i64, limit: i64) -> Result<Vec<String>> {
    let ids = sqlx::query_scalar(
        "SELECT id FROM meets WHERE next_deadline IS NOT NULL AND next_deadline <= $1
         ORDER BY next_deadline LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(ids)
}
