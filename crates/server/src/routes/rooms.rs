//! Team chat rooms (public groups, private groups, DMs) and their messages.

use axum::extract::State;
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_store::chats::{self, Message};
use meetdesk_store::{accounts, rooms, Db};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{new_id, Auth};
use crate::error::{AppError, AppResult, Json, Path};
use crate::feed;
use crate::hub::publish;
use crate::state::AppState;
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rooms))
        .routes(routes!(dm))
        .routes(routes!(list_room_messages, post_room_message))
}

/// A room the agent may see: a public group of their channel, or a room they are in.
async fn visible_room(db: &mut Db, channel_id: &str, agent_id: &str, id: &str) -> AppResult<rooms::Room> {
    let room = rooms::room_by_id(db, id)
        .await?
        .filter(|r| r.channel_id == channel_id)
        .ok_or_else(|| AppError::not_found("room"))?;
    if room.kind == "public" || rooms::members(db, &room.id).await?.iter().any(|m| m == agent_id) {
        Ok(room)
    } else {
        Err(AppError::not_found("room"))
    }
}

/// Rooms ordered public groups, private groups, DMs, each alphabetically.
#[utoipa::path(get, path = "/api/rooms", security(("bearer" = [])),
    responses((status = 200, body = Vec<p::RoomView>), (status = 403, body = p::ErrorBody)))]
async fn list_rooms(State(state): State<AppState>, Auth(who): Auth) -> AppResult<Json<Vec<p::RoomView>>> {
    let agent = who.agent()?;
    let mut db = state.store.conn().await?;
    let mut out = Vec::new();
    for room in rooms::rooms_for_agent(&mut db, &agent.channel_id, &agent.id).await? {
        out.push(views::room_view(&mut db, &room).await?);
    }
    Ok(Json(out))
}

/// The DM with another agent of the channel, created on first use (P5: a team meet with an
/// agent the caller has no DM with yet — the new-meet search lists them with no room).
/// Idempotent: the same two agents always get the same room, even when both ask at once.
#[utoipa::path(post, path = "/api/rooms/dm", request_body = p::DmRequest, security(("bearer" = [])),
    responses((status = 200, body = p::RoomView), (status = 400, body = p::ErrorBody),
              (status = 403, body = p::ErrorBody), (status = 404, body = p::ErrorBody)))]
async fn dm(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<p::DmRequest>,
) -> AppResult<Json<p::RoomView>> {
    let agent = who.agent()?;
    if req.agent_id == agent.id {
        return Err(AppError::bad_request("dm_with_self", "A DM is with another agent."));
    }
    let mut tx = state.store.begin().await?;
    let other = accounts::agent_by_id(&mut tx, &req.agent_id)
        .await?
        .filter(|a| a.channel_id == agent.channel_id)
        .ok_or_else(|| AppError::not_found("agent"))?;
    let room = match rooms::dm_between(&mut tx, &agent.channel_id, &agent.id, &other.id).await? {
        Some(room) => room,
        None => {
            // One id per pair: two first requests at once insert the same row once.
            let (a, b) = if agent.id < other.id { (agent, &other) } else { (&other, agent) };
            let room = rooms::Room {
                id: format!("dm_{}_{}", a.id, b.id),
                channel_id: agent.channel_id.clone(),
                kind: "dm".into(),
                name: format!("{}, {}", a.name, b.name),
            };
            let now = state.clock.now_ms();
            if rooms::insert_room(&mut tx, &room, &[a.id.clone(), b.id.clone()], now).await? {
                // Both agents' Team screens follow (the other one's app learns of it now).
                let view = views::room_view(&mut tx, &room).await?;
                let audience = feed::room_audience(&mut tx, &room).await?;
                let body = EventBody::RoomUpdated { room: view };
                publish(&mut tx, &state.store, &room.channel_id, &audience, &body, now).await?;
            }
            room
        }
    };
    let view = views::room_view(&mut tx, &room).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(Json(view))
}

#[utoipa::path(get, path = "/api/rooms/{id}/messages", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<p::MessageView>), (status = 404, body = p::ErrorBody)))]
async fn list_room_messages(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<p::MessageView>>> {
    let agent = who.agent()?;
    let mut db = state.store.conn().await?;
    let room = visible_room(&mut db, &agent.channel_id, &agent.id, &id).await?;
    let mut out = views::message_views(&mut db, chats::MessageList::Room(&room.id)).await?;
    for v in &mut out {
        views::redact_message(v, &who);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/rooms/{id}/messages", params(("id" = String, Path)),
    request_body = p::PostMessageRequest, security(("bearer" = [])),
    responses((status = 200, body = p::MessageView), (status = 404, body = p::ErrorBody)))]
async fn post_room_message(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::PostMessageRequest>,
) -> AppResult<Json<p::MessageView>> {
    let agent = who.agent()?;
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > crate::routes::chats::MAX_MESSAGE {
        return Err(AppError::bad_request("invalid_message", "A message has 1 to 10,000 characters."));
    }
    let mut tx = state.store.begin().await?;
    let room = visible_room(&mut tx, &agent.channel_id, &agent.id, &id).await?;
    let m = Message {
        id: new_id("msg"),
        chat_id: None,
        room_id: Some(room.id.clone()),
        internal: false,
        author_kind: "agent".into(),
        author_id: Some(agent.id.clone()),
        body: body.to_owned(),
        meet_id: None,
        link: None,
        created_at: state.clock.now_ms(),
    };
    let audience = feed::room_audience(&mut tx, &room).await?;
    feed::post(&mut tx, &state, &room.channel_id, &m, &audience).await?;
    let view = views::message_view(&mut tx, &m).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(Json(view))
}
