//! Call records (P8) and their changes feed.
//!
//! Every change of a record (written, marked "already handled", deleted) takes the next value
//! of one counter as the row's `seq`; a desktop cache pulls `seq > cursor` in order. For that
//! cursor to be safe, seqs must become visible in order: on PostgreSQL every change first takes
//! the same transaction-scoped advisory lock as the event log (so a meet transaction, which
//! writes events and records, always takes the locks in one order), and SQLite has a single
//! writer anyway. A deleted record stays as a tombstone until [`purge_tombstones`].
//!
//! Each row also keeps the record's wire JSON (`body`), made by the caller's [`Render`] every
//! time the record is written or changed, so a page of the feed ([`feed`]) is one range read
//! sent as it is. Rows from before that column have none until [`fill_bodies`] gets to them;
//! [`feed`] renders those on the way.

use sqlx::any::AnyRow;

use crate::row::{b, i, oi, os, s};
use crate::{flag, Backend, Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: String,
    pub channel_id: String,
    /// The agent whose history this is.
    pub agent_id: String,
    pub meet_id: String,
    /// `incoming`, `outgoing`, `missed` or `invited`.
    pub direction: String,
    /// `user_chat`, `internal`, `team_group` or `team_dm`.
    pub scope_kind: String,
    /// `audio` or `video`.
    pub media: String,
    pub chat_id: Option<String>,
    pub room_id: Option<String>,
    /// `customer`, `agent` or `room`.
    pub counterpart_kind: String,
    pub counterpart_id: String,
    /// The name when the record was written.
    pub counterpart_name: String,
    pub invited_by_id: Option<String>,
    pub invited_by_name: Option<String>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// A missed meet that was called back.
    pub handled: bool,
    /// The seq the record was written with (bounds a "delete all" made offline).
    pub created_seq: i64,
    /// The seq of its latest change.
    pub seq: i64,
    /// Set on tombstones.
    pub deleted_at: Option<i64>,
}

fn record(r: &AnyRow) -> Result<CallRecord> {
    Ok(CallRecord {
        id: s(r, "id")?,
        channel_id: s(r, "channel_id")?,
        agent_id: s(r, "agent_id")?,
        meet_id: s(r, "meet_id")?,
        direction: s(r, "direction")?,
        scope_kind: s(r, "scope_kind")?,
        media: s(r, "media")?,
        chat_id: os(r, "chat_id")?,
        room_id: os(r, "room_id")?,
        counterpart_kind: s(r, "counterpart_kind")?,
        counterpart_id: s(r, "counterpart_id")?,
        counterpart_name: s(r, "counterpart_name")?,
        invited_by_id: os(r, "invited_by_id")?,
        invited_by_name: os(r, "invited_by_name")?,
        started_at: i(r, "started_at")?,
        answered_at: oi(r, "answered_at")?,
        ended_at: oi(r, "ended_at")?,
        handled: b(r, "handled")?,
        created_seq: i(r, "created_seq")?,
        seq: i(r, "seq")?,
        deleted_at: oi(r, "deleted_at")?,
    })
}

/// Makes a record's wire JSON (the store knows no wire types; the server passes its own).
pub type Render = fn(&CallRecord) -> Result<String>;

/// One row of the changes feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    pub seq: i64,
    pub id: String,
    /// The record's wire JSON; `None` for a tombstone.
    pub body: Option<String>,
}

/// The lock that orders record changes (and events) on PostgreSQL, held until commit.
pub async fn lock(db: &mut Db, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(crate::events::EVENT_LOCK)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

/// Takes `n` seqs; returns the last (the first is `last - n + 1`).
async fn allocate(db: &mut Db, backend: Backend, n: i64) -> Result<i64> {
    lock(db, backend).await?;
    let last: i64 =
        sqlx::query_scalar("UPDATE call_record_seq SET value = value + $1 WHERE id = 1 RETURNING value")
            .bind(n)
            .fetch_one(&mut *db)
            .await?;
    Ok(last)
}

/// The highest seq handed out so far.
pub async fn current_seq(db: &mut Db) -> Result<i64> {
    let v: i64 = sqlx::query_scalar("SELECT value FROM call_record_seq WHERE id = 1").fetch_one(db).await?;
    Ok(v)
}

const INSERT_COLUMNS: &str = "id, channel_id, agent_id, meet_id, direction, scope_kind, media, chat_id, room_id,
    counterpart_kind, counterpart_id, counterpart_name, invited_by_id, invited_by_name, started_at, answered_at,
    ended_at, handled, created_seq, seq, deleted_at, body";
const COLUMNS_PER_ROW: usize = 22;

fn bind_record<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    r: &'q CallRecord,
    body: String,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&r.id)
        .bind(&r.channel_id)
        .bind(&r.agent_id)
        .bind(&r.meet_id)
        .bind(&r.direction)
        .bind(&r.scope_kind)
        .bind(&r.media)
        .bind(&r.chat_id)
        .bind(&r.room_id)
        .bind(&r.counterpart_kind)
        .bind(&r.counterpart_id)
        .bind(&r.counterpart_name)
        .bind(&r.invited_by_id)
        .bind(&r.invited_by_name)
        .bind(r.started_at)
        .bind(r.answered_at)
        .bind(r.ended_at)
        .bind(flag(r.handled))
        .bind(r.created_seq)
        .bind(r.seq)
        .bind(r.deleted_at)
        .bind(body)
}

fn placeholders(rows: usize) -> String {
    (0..rows)
        .map(|row| {
            let cols: Vec<String> =
                (1..=COLUMNS_PER_ROW).map(|c| format!("${}", row * COLUMNS_PER_ROW + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes a new record (its `seq`, `created_seq` and `deleted_at` are set here). Returns
/// `None` when this meet already left a record for this agent (written once, by whoever
/// ended the meet).
pub async fn insert(
    db: &mut Db,
    backend: Backend,
    new: &CallRecord,
    render: Render,
) -> Result<Option<CallRecord>> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM call_records WHERE meet_id = $1 AND agent_id = $2")
            .bind(&new.meet_id)
            .bind(&new.agent_id)
            .fetch_optional(&mut *db)
            .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let seq = allocate(db, backend, 1).await?;
    let r = CallRecord { seq, created_seq: seq, deleted_at: None, ..new.clone() };
    let sql = format!("INSERT INTO call_records ({INSERT_COLUMNS}) VALUES {}", placeholders(1));
    bind_record(sqlx::query(&sql), &r, render(&r)?).execute(&mut *db).await?;
    Ok(Some(r))
}

/// Writes many records at once (demo data, benchmarks), in chunks; seqs in slice order.
pub async fn insert_bulk(db: &mut Db, backend: Backend, new: &[CallRecord], render: Render) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let last = allocate(db, backend, new.len() as i64).await?;
    let first = last - new.len() as i64 + 1;
    let rows: Vec<CallRecord> = new
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let seq = first + k as i64;
            CallRecord { seq, created_seq: seq, deleted_at: None, ..r.clone() }
        })
        .collect();
    // SQLite allows 32,766 parameters per statement; PostgreSQL 65,535.
    for chunk in rows.chunks(1000) {
        let sql = format!("INSERT INTO call_records ({INSERT_COLUMNS}) VALUES {}", placeholders(chunk.len()));
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = bind_record(q, r, render(r)?);
        }
        q.execute(&mut *db).await?;
    }
    Ok(())
}

pub async fn get(db: &mut Db, id: &str) -> Result<Option<CallRecord>> {
    let row = sqlx::query("SELECT * FROM call_records WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(record).transpose()
}

/// An agent's changes after `since`, oldest first, as the feed sends them: one range read of
/// `(seq, id, deleted_at, body)`. Records without a stored body (written before it existed)
/// are read whole and rendered.
pub async fn feed(
    db: &mut Db,
    agent_id: &str,
    since: i64,
    limit: i64,
    render: Render,
) -> Result<Vec<FeedRow>> {
    let rows: Vec<(i64, String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT seq, id, deleted_at, body FROM call_records WHERE agent_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(agent_id)
    .bind(since)
    .bind(limit)
    .fetch_all(&mut *db)
    .await?;
    let mut out: Vec<FeedRow> = rows
        .into_iter()
        .map(|(seq, id, deleted_at, body)| FeedRow {
            seq,
            id,
            body: if deleted_at.is_some() { None } else { body },
        })
        .collect();
    if let (true, Some(first), Some(last)) =
        (out.iter().any(|r| r.body.is_none()), out.first().map(|r| r.seq), out.last().map(|r| r.seq))
    {
        let old = sqlx::query(
            "SELECT * FROM call_records WHERE agent_id = $1 AND seq >= $2 AND seq <= $3
             AND body IS NULL AND deleted_at IS NULL",
        )
        .bind(agent_id)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *db)
        .await?;
        let mut bodies = std::collections::HashMap::new();
        for row in &old {
            let r = record(row)?;
            bodies.insert(r.seq, render(&r)?);
        }
        for row in &mut out {
            if row.body.is_none() {
                row.body = bodies.remove(&row.seq);
            }
        }
    }
    Ok(out)
}

/// Stores the body of up to `limit` records written before bodies were (see [`feed`]).
/// Returns how many. A record changed meanwhile keeps the body its change wrote.
pub async fn fill_bodies(db: &mut Db, limit: i64, render: Render) -> Result<u64> {
    let rows = sqlx::query("SELECT * FROM call_records WHERE body IS NULL AND deleted_at IS NULL LIMIT $1")
        .bind(limit)
        .fetch_all(&mut *db)
        .await?;
    for row in &rows {
        let r = record(row)?;
        sqlx::query("UPDATE call_records SET body = $1 WHERE id = $2 AND seq = $3 AND body IS NULL")
            .bind(render(&r)?)
            .bind(&r.id)
            .bind(r.seq)
            .execute(&mut *db)
            .await?;
    }
    Ok(rows.len() as u64)
}

/// An agent's changes with seqs in `first..=last` (the changes of one transaction).
pub async fn changes_between(db: &mut Db, agent_id: &str, first: i64, last: i64) -> Result<Vec<CallRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM call_records WHERE agent_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
    )
    .bind(agent_id)
    .bind(first)
    .bind(last)
    .fetch_all(db)
    .await?;
    rows.iter().map(record).collect()
}

/// An agent's records that are not deleted, newest first.
pub async fn live(db: &mut Db, agent_id: &str) -> Result<Vec<CallRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM call_records WHERE agent_id = $1 AND deleted_at IS NULL ORDER BY started_at DESC, id",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(record).collect()
}

/// Below this seq an agent's tombstones may have been purged: a cache behind it starts over.
pub async fn horizon(db: &mut Db, agent_id: &str) -> Result<i64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT seq FROM call_record_horizons WHERE agent_id = $1")
        .bind(agent_id)
        .fetch_optional(db)
        .await?;
    Ok(v.unwrap_or(0))
}

/// Deletes one of `agent_id`'s records. `Ok(None)` when it does not exist or is already
/// deleted.
pub async fn delete_one(
    db: &mut Db,
    backend: Backend,
    agent_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<CallRecord>> {
    lock(db, backend).await?;
    let found =
        sqlx::query("SELECT * FROM call_records WHERE id = $1 AND agent_id = $2 AND deleted_at IS NULL")
            .bind(id)
            .bind(agent_id)
            .fetch_optional(&mut *db)
            .await?;
    let Some(found) = found.as_ref().map(record).transpose()? else { return Ok(None) };
    let seq = allocate(db, backend, 1).await?;
    sqlx::query("UPDATE call_records SET seq = $1, deleted_at = $2 WHERE id = $3")
        .bind(seq)
        .bind(now)
        .bind(id)
        .execute(&mut *db)
        .await?;
    Ok(Some(CallRecord { seq, deleted_at: Some(now), ..found }))
}

/// Deletes every record of `agent_id` (only those written at or before seq `through`, when
/// given). Returns how many, and the seqs their tombstones took (`first..=last`).
pub async fn delete_all(
    db: &mut Db,
    backend: Backend,
    agent_id: &str,
    through: Option<i64>,
    now: i64,
) -> Result<(i64, i64, i64)> {
    lock(db, backend).await?;
    let through = through.unwrap_or(i64::MAX);
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM call_records WHERE agent_id = $1 AND deleted_at IS NULL AND created_seq <= $2",
    )
    .bind(agent_id)
    .bind(through)
    .fetch_one(&mut *db)
    .await?;
    if n == 0 {
        return Ok((0, 0, 0));
    }
    let last = allocate(db, backend, n).await?;
    let base = last - n;
    tombstone_ranked(
        db,
        "agent_id = $3 AND deleted_at IS NULL AND created_seq <= $4",
        base,
        now,
        (agent_id, through),
    )
    .await?;
    Ok((n, base + 1, last))
}

/// Tombstones the rows matching `filter` (which uses `$3` and `$4`), giving them the seqs
/// `base + 1, base + 2, …` in their seq order — one statement, portable (`UPDATE … FROM` and
/// window functions exist on both databases).
async fn tombstone_ranked(db: &mut Db, filter: &str, base: i64, now: i64, args: (&str, i64)) -> Result<()> {
    let sql = format!(
        "UPDATE call_records SET seq = $1 + ranked.rn, deleted_at = $2
         FROM (SELECT id AS rid, ROW_NUMBER() OVER (ORDER BY seq) AS rn FROM call_records WHERE {filter}) AS ranked
         WHERE call_records.id = ranked.rid"
    );
    sqlx::query(&sql).bind(base).bind(now).bind(args.0).bind(args.1).execute(&mut *db).await?;
    Ok(())
}

/// A missed meet called back (P8): every unhandled missed record with this customer in the
/// channel becomes "already handled". Returns the changed records.
pub async fn mark_handled(
    db: &mut Db,
    backend: Backend,
    channel_id: &str,
    customer_id: &str,
    render: Render,
) -> Result<Vec<CallRecord>> {
    lock(db, backend).await?;
    let rows = sqlx::query(
        "SELECT * FROM call_records WHERE channel_id = $1 AND counterpart_id = $2 AND direction = 'missed'
         AND handled = 0 AND deleted_at IS NULL ORDER BY seq",
    )
    .bind(channel_id)
    .bind(customer_id)
    .fetch_all(&mut *db)
    .await?;
    let found: Vec<CallRecord> = rows.iter().map(record).collect::<Result<_>>()?;
    if found.is_empty() {
        return Ok(found);
    }
    let last = allocate(db, backend, found.len() as i64).await?;
    let first = last - found.len() as i64 + 1;
    let mut out = Vec::with_capacity(found.len());
    for (k, r) in found.into_iter().enumerate() {
        let changed = CallRecord { handled: true, seq: first + k as i64, ..r };
        sqlx::query("UPDATE call_records SET handled = 1, seq = $1, body = $2 WHERE id = $3")
            .bind(changed.seq)
            .bind(render(&changed)?)
            .bind(&changed.id)
            .execute(&mut *db)
            .await?;
        out.push(changed);
    }
    Ok(out)
}

/// Retention: tombstones up to `limit` records that started before `before`. Returns the
/// `(agent, channel)` pairs concerned and the seqs the tombstones took (`first..=last`).
pub async fn expire_batch(
    db: &mut Db,
    backend: Backend,
    before: i64,
    limit: i64,
    now: i64,
) -> Result<(Vec<(String, String)>, i64, i64)> {
    lock(db, backend).await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM call_records WHERE deleted_at IS NULL AND started_at < $1 ORDER BY started_at, id LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *db)
    .await?;
    if ids.is_empty() {
        return Ok((Vec::new(), 0, 0));
    }
    let last = allocate(db, backend, ids.len() as i64).await?;
    let first = last - ids.len() as i64 + 1;
    let mut owners: Vec<(String, String)> = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let row = sqlx::query(
            "UPDATE call_records SET seq = $1, deleted_at = $2 WHERE id = $3 RETURNING agent_id, channel_id",
        )
        .bind(first + k as i64)
        .bind(now)
        .bind(id)
        .fetch_one(&mut *db)
        .await?;
        let owner = (s(&row, "agent_id")?, s(&row, "channel_id")?);
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }
    owners.sort();
    Ok((owners, first, last))
}

/// Forgets up to `limit` tombstones deleted before `before`, raising each agent's horizon to
/// the highest seq forgotten. Returns how many were forgotten.
pub async fn purge_tombstones(db: &mut Db, before: i64, limit: i64) -> Result<u64> {
    let rows = sqlx::query(
        "SELECT id, agent_id, seq FROM call_records WHERE deleted_at IS NOT NULL AND deleted_at < $1
         ORDER BY deleted_at, id LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *db)
    .await?;
    let mut horizons: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for r in &rows {
        let agent = s(r, "agent_id")?;
        let seq = i(r, "seq")?;
        let h = horizons.entry(agent).or_insert(seq);
        *h = (*h).max(seq);
    }
    for (agent, seq) in &horizons {
        sqlx::query(
            "INSERT INTO call_record_horizons (agent_id, seq) VALUES ($1, $2)
             ON CONFLICT (agent_id) DO UPDATE SET seq = CASE WHEN excluded.seq > call_record_horizons.seq
                 THEN excluded.seq ELSE call_record_horizons.seq END",
        )
        .bind(agent)
        .bind(seq)
        .execute(&mut *db)
        .await?;
    }
    for r in &rows {
        sqlx::query("DELETE FROM call_records WHERE id = $1").bind(s(r, "id")?).execute(&mut *db).await?;
    }
    Ok(rows.len() as u64)
}

/// The result of an offline delete already applied under this idempotency key.
pub async fn applied_delete(db: &mut Db, agent_id: &str, key: &str) -> Result<Option<i64>> {
    let v =
        sqlx::query_scalar("SELECT deleted FROM call_record_deletes WHERE agent_id = $1 AND idem_key = $2")
            .bind(agent_id)
            .bind(key)
            .fetch_optional(db)
            .await?;
    Ok(v)
}

/// Remembers that the delete under `key` was applied (deleting `deleted` records).
pub async fn remember_delete(db: &mut Db, agent_id: &str, key: &str, deleted: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO call_record_deletes (agent_id, idem_key, deleted, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (agent_id, idem_key) DO NOTHING",
    )
    .bind(agent_id)
    .bind(key)
    .bind(deleted)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets idempotency keys older than `before`.
pub async fn prune_delete_keys(db: &mut Db, before: i64) -> Result<u64> {
    let done =
        sqlx::query("DELETE FROM call_record_deletes WHERE created_at < $1").bind(before).execute(db).await?;
    Ok(done.rows_affected())
}
