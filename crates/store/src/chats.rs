//! Customers, user chats and messages (user-chat, internal and team-room messages).

use sqlx::any::AnyRow;

use crate::row::{b, i, os, s};
use crate::{flag, Db, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub channel_id: String,
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: String,
    pub channel_id: String,
    pub customer_id: String,
    pub assignee_id: Option<String>,
    /// `open`, `snoozed` or `closed`.
    pub state: String,
    /// `native` or the external messenger.
    pub source: String,
    pub input_open: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub chat_id: Option<String>,
    pub room_id: Option<String>,
    pub internal: bool,
    /// `agent`, `customer` or `system`.
    pub author_kind: String,
    pub author_id: Option<String>,
    pub body: String,
    pub meet_id: Option<String>,
    pub link: Option<String>,
    pub created_at: i64,
}

fn customer(r: &AnyRow) -> Result<Customer> {
    Ok(Customer {
        id: s(r, "id")?,
        channel_id: s(r, "channel_id")?,
        name: s(r, "name")?,
        email: os(r, "email")?,
    })
}

fn chat(r: &AnyRow) -> Result<Chat> {
    Ok(Chat {
        id: s(r, "id")?,
        channel_id: s(r, "channel_id")?,
        customer_id: s(r, "customer_id")?,
        assignee_id: os(r, "assignee_id")?,
        state: s(r, "state")?,
        source: s(r, "source")?,
        input_open: b(r, "input_open")?,
        created_at: i(r, "created_at")?,
        updated_at: i(r, "updated_at")?,
    })
}

fn message(r: &AnyRow) -> Result<Message> {
    Ok(Message {
        id: s(r, "id")?,
        chat_id: os(r, "chat_id")?,
        room_id: os(r, "room_id")?,
        internal: b(r, "internal")?,
        author_kind: s(r, "author_kind")?,
        author_id: os(r, "author_id")?,
        body: s(r, "body")?,
        meet_id: os(r, "meet_id")?,
        link: os(r, "link")?,
        created_at: i(r, "created_at")?,
    })
}

pub async fn insert_customer(db: &mut Db, c: &Customer, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO customers (id, channel_id, name, email, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&c.id)
    .bind(&c.channel_id)
    .bind(&c.name)
    .bind(&c.email)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn customer_by_id(db: &mut Db, id: &str) -> Result<Option<Customer>> {
    let row = sqlx::query("SELECT * FROM customers WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(customer).transpose()
}

pub async fn customers_of_channel(db: &mut Db, channel_id: &str) -> Result<Vec<Customer>> {
    let rows = sqlx::query("SELECT * FROM customers WHERE channel_id = $1 ORDER BY name, id")
        .bind(channel_id)
        .fetch_all(db)
        .await?;
    rows.iter().map(customer).collect()
}

pub async fn insert_chat(db: &mut Db, c: &Chat) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO chats (id, channel_id, customer_id, assignee_id, state, source, input_open, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&c.id)
    .bind(&c.channel_id)
    .bind(&c.customer_id)
    .bind(&c.assignee_id)
    .bind(&c.state)
    .bind(&c.source)
    .bind(flag(c.input_open))
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn chat_by_id(db: &mut Db, id: &str) -> Result<Option<Chat>> {
    let row = sqlx::query("SELECT * FROM chats WHERE id = $1").bind(id).fetch_optional(db).await?;
    row.as_ref().map(chat).transpose()
}

/// Chats of a channel, newest activity first. `assignee`: `Some(Some(id))` mine,
/// `Some(None)` unassigned, `None` all.
pub async fn chats_of_channel(
    db: &mut Db,
    channel_id: &str,
    assignee: Option<Option<&str>>,
) -> Result<Vec<Chat>> {
    let rows = match assignee {
        None => {
            sqlx::query("SELECT * FROM chats WHERE channel_id = $1 ORDER BY updated_at DESC, id")
                .bind(channel_id)
                .fetch_all(db)
                .await?
        }
        Some(None) => sqlx::query(
            "SELECT * FROM chats WHERE channel_id = $1 AND assignee_id IS NULL ORDER BY updated_at DESC, id",
        )
        .bind(channel_id)
        .fetch_all(db)
        .await?,
        Some(Some(agent)) => {
            sqlx::query(
                "SELECT * FROM chats WHERE channel_id = $1 AND assignee_id = $2 ORDER BY updated_at DESC, id",
            )
            .bind(channel_id)
            .bind(agent)
            .fetch_all(db)
            .await?
        }
    };
    rows.iter().map(chat).collect()
}

pub async fn chats_of_customer(db: &mut Db, customer_id: &str) -> Result<Vec<Chat>> {
    let rows = sqlx::query("SELECT * FROM chats WHERE customer_id = $1 ORDER BY updated_at DESC, id")
        .bind(customer_id)
        .fetch_all(db)
        .await?;
    rows.iter().map(chat).collect()
}

pub async fn update_chat(db: &mut Db, c: &Chat) -> Result<()> {
    sqlx::query(
        "UPDATE chats SET assignee_id = $1, state = $2, input_open = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&c.assignee_id)
    .bind(&c.state)
    .bind(flag(c.input_open))
    .bind(c.updated_at)
    .bind(&c.id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn insert_message(db: &mut Db, m: &Message) -> Result<()> {
    sqlx::query(
        "INSERT INTO messages (id, chat_id, room_id, internal, author_kind, author_id, body, meet_id, link, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&m.id)
    .bind(&m.chat_id)
    .bind(&m.room_id)
    .bind(flag(m.internal))
    .bind(&m.author_kind)
    .bind(&m.author_id)
    .bind(&m.body)
    .bind(&m.meet_id)
    .bind(&m.link)
    .bind(m.created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Messages of a user chat (`internal` false) or of its internal chat (`internal` true), oldest first.
pub async fn chat_messages(db: &mut Db, chat_id: &str, internal: bool) -> Result<Vec<Message>> {
    let rows =
        sqlx::query("SELECT * FROM messages WHERE chat_id = $1 AND internal = $2 ORDER BY created_at, id")
            .bind(chat_id)
            .bind(flag(internal))
            .fetch_all(db)
            .await?;
    rows.iter().map(message).collect()
}

pub async fn room_messages(db: &mut Db, room_id: &str) -> Result<Vec<Message>> {
    let rows = sqlx::query("SELECT * FROM messages WHERE room_id = $1 ORDER BY created_at, id")
        .bind(room_id)
        .fetch_all(db)
        .await?;
    rows.iter().map(message).collect()
}

/// Agents who wrote in a chat or its internal chat: with the assignee, the chat's managers (P4).
pub async fn agents_in_chat(db: &mut Db, chat_id: &str) -> Result<Vec<String>> {
    let ids = sqlx::query_scalar(
        "SELECT DISTINCT author_id FROM messages
         WHERE chat_id = $1 AND author_kind = 'agent' AND author_id IS NOT NULL ORDER BY author_id",
    )
    .bind(chat_id)
    .fetch_all(db)
    .await?;
    Ok(ids)
}
