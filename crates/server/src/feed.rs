//! Writing chat-side events: messages and chat updates, with the audience each one has.

use meetdesk_protocol::EventBody;
use meetdesk_store::chats::{self, Chat, Message};
use meetdesk_store::{rooms, Db, Result};

use crate::hub::{publish, Audience};
use crate::state::AppState;
use crate::views;

/// A user chat's events: every agent of the channel, and that chat's customer.
pub fn chat_audience(chat: &Chat) -> Audience {
    Audience { channel_agents: true, customers: vec![chat.customer_id.clone()], ..Audience::default() }
}

/// An internal chat's events: agents only, never the customer.
pub fn internal_audience() -> Audience {
    Audience { channel_agents: true, ..Audience::default() }
}

/// A room's events: public groups reach every agent, private rooms and DMs their members.
pub async fn room_audience(db: &mut Db, room: &rooms::Room) -> Result<Audience> {
    if room.kind == "public" {
        return Ok(Audience { channel_agents: true, ..Audience::default() });
    }
    Ok(Audience::agents(rooms::members(db, &room.id).await?))
}

pub async fn chat_updated(db: &mut Db, state: &AppState, chat: &Chat) -> Result<()> {
    let now = state.clock.now_ms();
    let view = views::chat_view(db, chat, true, now).await?;
    publish(
        db,
        &state.store,
        &chat.channel_id,
        &chat_audience(chat),
        &EventBody::ChatUpdated { chat: view },
        now,
    )
    .await?;
    Ok(())
}

/// Stores a message and publishes it to `audience`.
pub async fn post(
    db: &mut Db,
    state: &AppState,
    channel_id: &str,
    m: &Message,
    audience: &Audience,
) -> Result<()> {
    chats::insert_message(db, m).await?;
    let view = views::message_view(db, m).await?;
    publish(db, &state.store, channel_id, audience, &EventBody::Message { message: view }, m.created_at)
        .await?;
    Ok(())
}
