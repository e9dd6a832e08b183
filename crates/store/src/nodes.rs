//! Server nodes sharing this database: where each is reached, and whether it still runs (a
//! node beats every few seconds; one that stopped beating is taken for dead).

use crate::row::{i, s};
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    /// The base URL other nodes send node-to-node requests to.
    pub url: String,
    pub last_seen: i64,
}

/// Records this node as running at `url`, seen `now` (at start, then on every beat).
pub async fn beat(db: &mut Db, id: &str, url: &str, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO nodes (id, url, started_at, last_seen) VALUES ($1, $2, $3, $3)
         ON CONFLICT (id) DO UPDATE SET url = $2, last_seen = $3",
    )
    .bind(id)
    .bind(url)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(db: &mut Db, id: &str) -> Result<Option<Node>> {
    let row =
        sqlx::query("SELECT id, url, last_seen FROM nodes WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.map(|r| Ok(Node { id: s(&r, "id")?, url: s(&r, "url")?, last_seen: i(&r, "last_seen")? })).transpose()
}

/// A node stopping cleanly says so at once (its meets move on their next offer).
pub async fn remove(db: &mut Db, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM nodes WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

/// Forgets nodes not seen since `before`.
pub async fn sweep(db: &mut Db, before: i64) -> Result<()> {
    sqlx::query("DELETE FROM nodes WHERE last_seen < $1").bind(before).execute(db).await?;
    Ok(())
}
