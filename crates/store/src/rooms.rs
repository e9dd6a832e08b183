//! Team chat rooms: public groups, private groups and DMs.

use sqlx::any::AnyRow;

use crate::row::s;
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: String,
    pub channel_id: String,
    /// `public`, `private` or `dm`.
    pub kind: String,
    pub name: String,
}

fn room(r: &AnyRow) -> Result<Room> {
    Ok(Room { id: s(r, "id")?, channel_id: s(r, "channel_id")?, kind: s(r, "kind")?, name: s(r, "name")? })
}

pub async fn insert_room(db: &mut Db, r: &Room, members: &[String], now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO rooms (id, channel_id, kind, name, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&r.id)
    .bind(&r.channel_id)
    .bind(&r.kind)
    .bind(&r.name)
    .bind(now)
    .execute(&mut *db)
    .await?;
    for m in members {
        sqlx::query("INSERT INTO room_members (room_id, agent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&r.id)
            .bind(m)
            .execute(&mut *db)
            .await?;
    }
    Ok(done.rows_affected() == 1)
}

pub async fn room_by_id(db: &mut Db, id: &str) -> Result<Option<Room>> {
    let row = sqlx::query("SELECT * FROM rooms WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(room).transpose()
}

pub async fn members(db: &mut Db, room_id: &str) -> Result<Vec<String>> {
    let ids = sqlx::query_scalar("SELECT agent_id FROM room_members WHERE room_id = $1 ORDER BY agent_id")
        .bind(room_id)
        .fetch_all(db)
        .await?;
    Ok(ids)
}

/// The DM between two agents of a channel, if there is one.
pub async fn dm_between(db: &mut Db, channel_id: &str, a: &str, b: &str) -> Result<Option<Room>> {
    let row = sqlx::query(
        "SELECT * FROM rooms r WHERE r.channel_id = $1 AND r.kind = 'dm'
           AND EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.agent_id = $2)
           AND EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.agent_id = $3)
           AND (SELECT COUNT(*) FROM room_members m WHERE m.room_id = r.id) = 2
         ORDER BY r.id LIMIT 1",
    )
    .bind(channel_id)
    .bind(a)
    .bind(b)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(room).transpose()
}

/// Rooms an agent can see: public groups of the channel and rooms they are a member of.
pub async fn rooms_for_agent(db: &mut Db, channel_id: &str, agent_id: &str) -> Result<Vec<Room>> {
    let rows = sqlx::query(
        "SELECT * FROM rooms r WHERE r.channel_id = $1 AND (r.kind = 'public' OR EXISTS (
             SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.agent_id = $2))
         ORDER BY CASE r.kind WHEN 'public' THEN 0 WHEN 'private' THEN 1 ELSE 2 END, r.name, r.id",
    )
    .bind(channel_id)
    .bind(agent_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(room).collect()
}
