//! Channels, agents and sessions (agent devices, customer widget sessions, meet-link sessions).

use sqlx::any::AnyRow;

use crate::row::{b, i, oi, os, s};
use crate::{flag, Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub widget_key: String,
    pub audio_enabled: bool,
    pub video_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub channel_id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    /// `admin` or `agent`.
    pub role: String,
    pub seat: bool,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The device id.
    pub id: String,
    pub channel_id: String,
    pub agent_id: Option<String>,
    pub customer_id: Option<String>,
    /// Set for a session opened from a meet link: it reaches that meet only.
    pub meet_id: Option<String>,
    pub device_name: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

fn channel(r: &AnyRow) -> Result<Channel> {
    Ok(Channel {
        id: s(r, "id")?,
        name: s(r, "name")?,
        widget_key: s(r, "widget_key")?,
        audio_enabled: b(r, "audio_enabled")?,
        video_enabled: b(r, "video_enabled")?,
    })
}

fn agent(r: &AnyRow) -> Result<Agent> {
    Ok(Agent {
        id: s(r, "id")?,
        channel_id: s(r, "channel_id")?,
        email: s(r, "email")?,
        name: s(r, "name")?,
        password_hash: s(r, "password_hash")?,
        role: s(r, "role")?,
        seat: b(r, "seat")?,
    })
}

fn session(r: &AnyRow) -> Result<Session> {
    Ok(Session {
        id: s(r, "id")?,
        channel_id: s(r, "channel_id")?,
        agent_id: os(r, "agent_id")?,
        customer_id: os(r, "customer_id")?,
        meet_id: os(r, "meet_id")?,
        device_name: os(r, "device_name")?,
        created_at: i(r, "created_at")?,
        expires_at: i(r, "expires_at")?,
        revoked_at: oi(r, "revoked_at")?,
    })
}

pub async fn insert_channel(db: &mut Db, c: &Channel, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO channels (id, name, widget_key, audio_enabled, video_enabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.widget_key)
    .bind(flag(c.audio_enabled))
    .bind(flag(c.video_enabled))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn channel_by_id(db: &mut Db, id: &str) -> Result<Option<Channel>> {
    let row = sqlx::query("SELECT * FROM channels WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(channel).transpose()
}

pub async fn channel_by_widget_key(db: &mut Db, key: &str) -> Result<Option<Channel>> {
    let row =
        sqlx::query("SELECT * FROM channels WHERE widget_key = $1").bind(key).fetch_optional(db).await?;
    row.as_ref().map(channel).transpose()
}

pub async fn set_channel_media(db: &mut Db, id: &str, audio: bool, video: bool) -> Result<()> {
    sqlx::query("UPDATE channels SET audio_enabled = $1, video_enabled = $2 WHERE id = $3")
        .bind(flag(audio))
        .bind(flag(video))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn insert_agent(db: &mut Db, a: &Agent, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO agents (id, channel_id, email, name, password_hash, role, seat, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&a.id)
    .bind(&a.channel_id)
    .bind(&a.email)
    .bind(&a.name)
    .bind(&a.password_hash)
    .bind(&a.role)
    .bind(flag(a.seat))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn agent_by_email(db: &mut Db, email: &str) -> Result<Option<Agent>> {
    let row = sqlx::query("SELECT * FROM agents WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(agent).transpose()
}

pub async fn agent_by_id(db: &mut Db, id: &str) -> Result<Option<Agent>> {
    let row = sqlx::query("SELECT * FROM agents WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(agent).transpose()
}

pub async fn agents_of_channel(db: &mut Db, channel_id: &str) -> Result<Vec<Agent>> {
    let rows = sqlx::query("SELECT * FROM agents WHERE channel_id = $1 ORDER BY name, id")
        .bind(channel_id)
        .fetch_all(db)
        .await?;
    rows.iter().map(agent).collect()
}

pub async fn insert_session(db: &mut Db, sess: &Session, token_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, channel_id, agent_id, customer_id, meet_id, device_name,
                               created_at, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
    )
    .bind(&sess.id)
    .bind(token_hash)
    .bind(&sess.channel_id)
    .bind(&sess.agent_id)
    .bind(&sess.customer_id)
    .bind(&sess.meet_id)
    .bind(&sess.device_name)
    .bind(sess.created_at)
    .bind(sess.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn session_by_token_hash(db: &mut Db, token_hash: &str) -> Result<Option<Session>> {
    let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(session).transpose()
}

pub async fn revoke_session(db: &mut Db, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Devices an agent is signed in on now.
pub async fn live_agent_devices(db: &mut Db, agent_id: &str, now: i64) -> Result<Vec<String>> {
    let ids = sqlx::query_scalar(
        "SELECT id FROM sessions WHERE agent_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id",
    )
    .bind(agent_id)
    .bind(now)
    .fetch_all(db)
    .await?;
    Ok(ids)
}
