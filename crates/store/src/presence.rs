//! Which devices hold a live event socket, on which node. Rows are heart-beaten by their node;
//! a node that died stops beating and its rows age out.

use crate::{Db, Result};

pub async fn upsert(
    db: &mut Db,
    device_id: &str,
    node_id: &str,
    agent_id: Option<&str>,
    customer_id: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO presence (device_id, node_id, agent_id, customer_id, last_seen) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (device_id) DO UPDATE SET node_id = $2, agent_id = $3, customer_id = $4, last_seen = $5",
    )
    .bind(device_id)
    .bind(node_id)
    .bind(agent_id)
    .bind(customer_id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn remove(db: &mut Db, device_id: &str, node_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM presence WHERE device_id = $1 AND node_id = $2")
        .bind(device_id)
        .bind(node_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks every socket of `node_id` as seen now.
pub async fn heartbeat(db: &mut Db, node_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE presence SET last_seen = $1 WHERE node_id = $2")
        .bind(now)
        .bind(node_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn customer_online(db: &mut Db, customer_id: &str, seen_since: i64) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM presence WHERE customer_id = $1 AND last_seen >= $2")
            .bind(customer_id)
            .bind(seen_since)
            .fetch_one(db)
            .await?;
    Ok(n > 0)
}

/// Forgets rows not seen since `before` (dead nodes) or left by this node's previous life.
pub async fn sweep(db: &mut Db, before: i64) -> Result<()> {
    sqlx::query("DELETE FROM presence WHERE last_seen < $1").bind(before).execute(db).await?;
    Ok(())
}
