//! What an empty call history suggests (P8): the customers and agents an agent talked with
//! lately.

use crate::row::{i, s};
use crate::{Db, Result};

/// A customer who chatted with the agent in one of the agent's own user chats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentCustomer {
    pub customer_id: String,
    pub name: String,
    /// The agent's most recent native chat with them (where a meet starts).
    pub chat_id: String,
    pub last_at: i64,
}

/// An agent the given agent exchanged direct messages with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentAgent {
    pub agent_id: String,
    pub name: String,
    pub room_id: String,
    pub last_at: i64,
}

/// Distinct customers with a message (from them or an agent, not internal) since `since` in a
/// native user chat assigned to `agent_id`, latest first, at most `limit`.
pub async fn recent_customers(
    db: &mut Db,
    channel_id: &str,
    agent_id: &str,
    since: i64,
    limit: i64,
) -> Result<Vec<RecentCustomer>> {
    let rows = sqlx::query(
        "SELECT c.customer_id AS customer_id, cu.name AS name, MAX(m.created_at) AS last_at
         FROM chats c
         JOIN messages m ON m.chat_id = c.id
         JOIN customers cu ON cu.id = c.customer_id
         WHERE c.channel_id = $1 AND c.assignee_id = $2 AND c.source = 'native' AND m.internal = 0
           AND m.author_kind IN ('customer', 'agent') AND m.created_at >= $3
         GROUP BY c.customer_id, cu.name
         ORDER BY MAX(m.created_at) DESC, c.customer_id
         LIMIT $4",
    )
    .bind(channel_id)
    .bind(agent_id)
    .bind(since)
    .bind(limit)
    .fetch_all(&mut *db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let customer_id = s(r, "customer_id")?;
        let chat_id: String = sqlx::query_scalar(
            "SELECT id FROM chats WHERE customer_id = $1 AND assignee_id = $2 AND source = 'native'
             ORDER BY updated_at DESC, id LIMIT 1",
        )
        .bind(&customer_id)
        .bind(agent_id)
        .fetch_one(&mut *db)
        .await?;
        out.push(RecentCustomer { customer_id, name: s(r, "name")?, chat_id, last_at: i(r, "last_at")? });
    }
    Ok(out)
}

/// Distinct agents with a direct message (from either side) since `since` in a DM with
/// `agent_id`, latest first, at most `limit`.
pub async fn recent_dm_agents(
    db: &mut Db,
    channel_id: &str,
    agent_id: &str,
    since: i64,
    limit: i64,
) -> Result<Vec<RecentAgent>> {
    let rows = sqlx::query(
        "SELECT other.agent_id AS agent_id, a.name AS name, r.id AS room_id, MAX(m.created_at) AS last_at
         FROM rooms r
         JOIN room_members me ON me.room_id = r.id AND me.agent_id = $2
         JOIN room_members other ON other.room_id = r.id AND other.agent_id <> $2
         JOIN agents a ON a.id = other.agent_id
         JOIN messages m ON m.room_id = r.id
         WHERE r.channel_id = $1 AND r.kind = 'dm' AND m.author_kind = 'agent' AND m.created_at >= $3
         GROUP BY other.agent_id, a.name, r.id
         ORDER BY MAX(m.created_at) DESC, other.agent_id",
    )
    .bind(channel_id)
    .bind(agent_id)
    .bind(since)
    .fetch_all(&mut *db)
    .await?;
    let mut out: Vec<RecentAgent> = Vec::new();
    for r in &rows {
        let agent_id = s(r, "agent_id")?;
        // Two DMs with the same agent count once (the latest).
        if out.iter().any(|a| a.agent_id == agent_id) {
            continue;
        }
        out.push(RecentAgent {
            agent_id,
            name: s(r, "name")?,
            room_id: s(r, "room_id")?,
            last_at: i(r, "last_at")?,
        });
        if out.len() as i64 >= limit {
            break;
        }
    }
    Ok(out)
}

/// The DM rooms of an agent with the other member of each: `(room_id, other_agent_id)`.
pub async fn dms_of(db: &mut Db, channel_id: &str, agent_id: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT r.id AS room_id, other.agent_id AS other_id FROM rooms r
         JOIN room_members me ON me.room_id = r.id AND me.agent_id = $2
         JOIN room_members other ON other.room_id = r.id AND other.agent_id <> $2
         WHERE r.channel_id = $1 AND r.kind = 'dm' ORDER BY r.id",
    )
    .bind(channel_id)
    .bind(agent_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(|r| Ok((s(r, "room_id")?, s(r, "other_id")?))).collect()
}
