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

/// A chat with everything its view shows, read in one statement with the list it is in (no
/// query per chat): its customer, whether that customer is online, its assignee's name, and
/// the customer meet going on in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedChat {
    pub chat: Chat,
    /// `None` when the customer row is missing.
    pub customer: Option<Customer>,
    pub customer_online: bool,
    pub assignee_name: Option<String>,
    pub ongoing_meet: Option<String>,
}

/// Which chats [`listed`] reads.
#[derive(Debug, Clone, Copy)]
pub enum ChatList<'a> {
    /// A channel's chats; `assignee`: any (`None`), unassigned (`Some(None)`), or one agent's.
    Channel {
        channel_id: &'a str,
        assignee: Option<Option<&'a str>>,
    },
    Customer(&'a str),
    One(&'a str),
}

/// The chats of `which`, newest activity first, each with its view's facts. `online_since`:
/// a customer seen by a live socket since then is online.
pub async fn listed(db: &mut Db, which: ChatList<'_>, online_since: i64) -> Result<Vec<ListedChat>> {
    const SELECT: &str = "SELECT c.*, cu.name AS customer_name, cu.email AS customer_email,
            cu.channel_id AS customer_channel,
            a.name AS assignee_name,
            (SELECT COUNT(*) FROM presence p WHERE p.customer_id = c.customer_id AND p.last_seen >= $1)
                AS customer_online,
            (SELECT m.id FROM meets m WHERE m.chat_id = c.id AND m.scope_kind = 'user_chat'
                AND m.phase <> 'ended' ORDER BY m.created_at DESC LIMIT 1) AS ongoing_meet
        FROM chats c
        LEFT JOIN customers cu ON cu.id = c.customer_id
        LEFT JOIN agents a ON a.id = c.assignee_id";
    const ORDER: &str = " ORDER BY c.updated_at DESC, c.id";
    let q = |filter: &str| format!("{SELECT} WHERE {filter}{ORDER}");
    let rows = match which {
        ChatList::Channel { channel_id, assignee: None } => {
            sqlx::query(&q("c.channel_id = $2")).bind(online_since).bind(channel_id).fetch_all(db).await?
        }
        ChatList::Channel { channel_id, assignee: Some(None) } => {
            sqlx::query(&q("c.channel_id = $2 AND c.assignee_id IS NULL"))
                .bind(online_since)
                .bind(channel_id)
                .fetch_all(db)
                .await?
        }
        ChatList::Channel { channel_id, assignee: Some(Some(agent)) } => {
            sqlx::query(&q("c.channel_id = $2 AND c.assignee_id = $3"))
                .bind(online_since)
                .bind(channel_id)
                .bind(agent)
                .fetch_all(db)
                .await?
        }
        ChatList::Customer(customer_id) => {
            sqlx::query(&q("c.customer_id = $2")).bind(online_since).bind(customer_id).fetch_all(db).await?
        }
        ChatList::One(id) => sqlx::query(&q("c.id = $2")).bind(online_since).bind(id).fetch_all(db).await?,
    };
    rows.iter()
        .map(|r| {
            let chat = chat(r)?;
            let customer = match os(r, "customer_name")? {
                Some(name) => Some(Customer {
                    id: chat.customer_id.clone(),
                    channel_id: s(r, "customer_channel")?,
                    name,
                    email: os(r, "customer_email")?,
                }),
                None => None,
            };
            Ok(ListedChat {
                customer,
                customer_online: i(r, "customer_online")? > 0,
                assignee_name: os(r, "assignee_name")?,
                ongoing_meet: os(r, "ongoing_meet")?,
                chat,
            })
        })
        .collect()
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
/// A message with what its view shows, read in one statement with its list: its author's name
/// and, for an indicator whose body is `indicator_body`, its meet's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    pub message: Message,
    pub author_name: Option<String>,
    /// The meet's state (JSON), for indicator messages only.
    pub meet_state: Option<String>,
}

/// Which messages [`listed_messages`] reads.
#[derive(Debug, Clone, Copy)]
pub enum MessageList<'a> {
    /// A user chat's messages (`internal`: its internal chat's).
    Chat {
        chat_id: &'a str,
        internal: bool,
    },
    Room(&'a str),
}

/// The messages of `which`, oldest first, each with its author's name (and an indicator with
/// its meet's state): one statement, however many messages.
pub async fn listed_messages(
    db: &mut Db,
    which: MessageList<'_>,
    indicator_body: &str,
) -> Result<Vec<ListedMessage>> {
    const SELECT: &str = "SELECT m.*, COALESCE(a.name, cu.name) AS author_name, mt.state AS meet_state
        FROM messages m
        LEFT JOIN agents a ON m.author_kind = 'agent' AND a.id = m.author_id
        LEFT JOIN customers cu ON m.author_kind = 'customer' AND cu.id = m.author_id
        LEFT JOIN meets mt ON m.author_kind = 'system' AND m.body = $1 AND mt.id = m.meet_id";
    const ORDER: &str = " ORDER BY m.created_at, m.id";
    let rows = match which {
        MessageList::Chat { chat_id, internal } => {
            sqlx::query(&format!("{SELECT} WHERE m.chat_id = $2 AND m.internal = $3{ORDER}"))
                .bind(indicator_body)
                .bind(chat_id)
                .bind(flag(internal))
                .fetch_all(db)
                .await?
        }
        MessageList::Room(room_id) => {
            sqlx::query(&format!("{SELECT} WHERE m.room_id = $2{ORDER}"))
                .bind(indicator_body)
                .bind(room_id)
                .fetch_all(db)
                .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok(ListedMessage {
                message: message(r)?,
                author_name: os(r, "author_name")?,
                meet_state: os(r, "meet_state")?,
            })
        })
        .collect()
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
