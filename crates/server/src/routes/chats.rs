//! User chats, their messages and internal chats, and customers.

use axum::extract::State;
use meetdesk_protocol as p;
use meetdesk_store::chats::{self, Chat, Message};
use meetdesk_store::Db;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{new_id, Auth, Principal};
use crate::error::{AppError, AppResult, Json, Path, Query};
use crate::feed;
use crate::state::AppState;
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_chats))
        .routes(routes!(get_chat, update_chat))
        .routes(routes!(assign_chat))
        .routes(routes!(list_messages, post_message))
        .routes(routes!(list_internal, post_internal))
        .routes(routes!(list_customers))
        .routes(routes!(get_customer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChatFilter {
    /// `mine` (default), `all` or `unassigned`. Customers always get their own chats.
    #[serde(default)]
    filter: Option<String>,
}

pub const MAX_MESSAGE: usize = 10_000;

/// A chat the caller may see: agents see their channel's chats, customers their own.
pub async fn visible_chat(db: &mut Db, who: &Principal, chat_id: &str) -> AppResult<Chat> {
    let chat = chats::chat_by_id(db, chat_id).await?.ok_or_else(|| AppError::not_found("chat"))?;
    let visible = match who {
        Principal::Agent { agent, .. } => chat.channel_id == agent.channel_id,
        Principal::Customer { customer_id, meet_scope, .. } => {
            &chat.customer_id == customer_id && meet_scope.is_none()
        }
    };
    if visible {
        Ok(chat)
    } else {
        Err(AppError::not_found("chat"))
    }
}

fn message_body(body: &str) -> AppResult<String> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::bad_request("empty_message", "The message is empty."));
    }
    if body.chars().count() > MAX_MESSAGE {
        return Err(AppError::bad_request(
            "message_too_long",
            "The message is longer than 10,000 characters.",
        ));
    }
    Ok(body.to_owned())
}

#[utoipa::path(get, path = "/api/chats", params(ChatFilter), security(("bearer" = [])),
    responses((status = 200, body = Vec<p::ChatView>), (status = 400, body = p::ErrorBody)))]
async fn list_chats(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<ChatFilter>,
) -> AppResult<Json<Vec<p::ChatView>>> {
    let now = state.clock.now_ms();
    let mut db = state.store.read_conn().await?;
    let views = match &who {
        Principal::Agent { agent, .. } => {
            let assignee = match q.filter.as_deref().unwrap_or("mine") {
                "mine" => Some(Some(agent.id.as_str())),
                "all" => None,
                "unassigned" => Some(None),
                _ => {
                    return Err(AppError::bad_request(
                        "invalid_filter",
                        "filter is one of mine, all, unassigned.",
                    ))
                }
            };
            let which = chats::ChatList::Channel { channel_id: &agent.channel_id, assignee };
            views::chat_views(&mut db, &agent.channel_id, which, true, now).await?
        }
        Principal::Customer { customer_id, channel_id, meet_scope: None, .. } => {
            views::chat_views(&mut db, channel_id, chats::ChatList::Customer(customer_id), false, now).await?
        }
        Principal::Customer { .. } => Vec::new(),
    };
    Ok(Json(views))
}

#[utoipa::path(get, path = "/api/chats/{id}", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = p::ChatView), (status = 404, body = p::ErrorBody)))]
async fn get_chat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<p::ChatView>> {
    let mut db = state.store.conn().await?;
    let chat = visible_chat(&mut db, &who, &id).await?;
    let is_agent = matches!(who, Principal::Agent { .. });
    Ok(Json(views::chat_view(&mut db, &chat, is_agent, state.clock.now_ms()).await?))
}

/// Changes a chat's state or opens/closes its input window (agents).
#[utoipa::path(patch, path = "/api/chats/{id}", params(("id" = String, Path)), request_body = p::UpdateChatRequest,
    security(("bearer" = [])), responses((status = 200, body = p::ChatView), (status = 404, body = p::ErrorBody)))]
async fn update_chat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::UpdateChatRequest>,
) -> AppResult<Json<p::ChatView>> {
    who.agent()?;
    change_chat(&state, &who, &id, |chat| {
        if let Some(s) = req.state {
            chat.state = views::chat_state_name(s).to_owned();
        }
        if let Some(open) = req.input_open {
            chat.input_open = open;
        }
        Ok(())
    })
    .await
}

/// Assigns the chat to an agent (or unassigns it with `null`).
#[utoipa::path(post, path = "/api/chats/{id}/assign", params(("id" = String, Path)), request_body = p::AssignRequest,
    security(("bearer" = [])), responses((status = 200, body = p::ChatView), (status = 404, body = p::ErrorBody)))]
async fn assign_chat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::AssignRequest>,
) -> AppResult<Json<p::ChatView>> {
    let agent = who.agent()?;
    if let Some(assignee) = &req.agent_id {
        let mut db = state.store.conn().await?;
        accounts_check(&mut db, assignee, &agent.channel_id).await?;
    }
    change_chat(&state, &who, &id, |chat| {
        chat.assignee_id = req.agent_id.clone();
        Ok(())
    })
    .await
}

async fn accounts_check(db: &mut Db, agent_id: &str, channel_id: &str) -> AppResult<()> {
    meetdesk_store::accounts::agent_by_id(db, agent_id)
        .await?
        .filter(|a| a.channel_id == channel_id)
        .map(|_| ())
        .ok_or_else(|| AppError::not_found("agent"))
}

async fn change_chat(
    state: &AppState,
    who: &Principal,
    id: &str,
    f: impl FnOnce(&mut Chat) -> AppResult<()>,
) -> AppResult<Json<p::ChatView>> {
    let mut tx = state.store.begin().await?;
    let mut chat = visible_chat(&mut tx, who, id).await?;
    f(&mut chat)?;
    chat.updated_at = state.clock.now_ms();
    chats::update_chat(&mut tx, &chat).await?;
    feed::chat_updated(&mut tx, state, &chat).await?;
    let view = views::chat_view(&mut tx, &chat, true, chat.updated_at).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(Json(view))
}

#[utoipa::path(get, path = "/api/chats/{id}/messages", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<p::MessageView>), (status = 404, body = p::ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<p::MessageView>>> {
    let mut db = state.store.conn().await?;
    let chat = visible_chat(&mut db, &who, &id).await?;
    let which = chats::MessageList::Chat { chat_id: &chat.id, internal: false };
    let mut out = views::message_views(&mut db, which).await?;
    for v in &mut out {
        views::redact_message(v, &who);
    }
    Ok(Json(out))
}

/// Posts in a user chat: agents always; customers while the input window is open.
#[utoipa::path(post, path = "/api/chats/{id}/messages", params(("id" = String, Path)), request_body = p::PostMessageRequest,
    security(("bearer" = [])), responses((status = 200, body = p::MessageView), (status = 404, body = p::ErrorBody)))]
async fn post_message(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::PostMessageRequest>,
) -> AppResult<Json<p::MessageView>> {
    let body = message_body(&req.body)?;
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let mut chat = visible_chat(&mut tx, &who, &id).await?;
    let (kind, author) = match &who {
        Principal::Agent { agent, .. } => ("agent", agent.id.clone()),
        Principal::Customer { customer_id, .. } => {
            if !chat.input_open {
                return Err(AppError::conflict(
                    "input_closed",
                    "This chat is not accepting messages right now.",
                ));
            }
            ("customer", customer_id.clone())
        }
    };
    let m = Message {
        id: new_id("msg"),
        chat_id: Some(chat.id.clone()),
        room_id: None,
        internal: false,
        author_kind: kind.into(),
        author_id: Some(author),
        body,
        meet_id: None,
        link: None,
        created_at: now,
    };
    feed::post(&mut tx, &state, &chat.channel_id, &m, &feed::chat_audience(&chat)).await?;
    chat.updated_at = now;
    chats::update_chat(&mut tx, &chat).await?;
    let view = views::message_view(&mut tx, &m).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(Json(view))
}

/// The internal chat of a user chat (agents only, P4).
#[utoipa::path(get, path = "/api/chats/{id}/internal-messages", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<p::MessageView>), (status = 404, body = p::ErrorBody)))]
async fn list_internal(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<p::MessageView>>> {
    if !matches!(who, Principal::Agent { .. }) {
        return Err(AppError::not_found("chat"));
    }
    let mut db = state.store.conn().await?;
    let chat = visible_chat(&mut db, &who, &id).await?;
    let which = chats::MessageList::Chat { chat_id: &chat.id, internal: true };
    let mut out = views::message_views(&mut db, which).await?;
    for v in &mut out {
        views::redact_message(v, &who);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/chats/{id}/internal-messages", params(("id" = String, Path)),
    request_body = p::PostMessageRequest, security(("bearer" = [])),
    responses((status = 200, body = p::MessageView), (status = 404, body = p::ErrorBody)))]
async fn post_internal(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::PostMessageRequest>,
) -> AppResult<Json<p::MessageView>> {
    let Principal::Agent { agent, .. } = &who else { return Err(AppError::not_found("chat")) };
    let body = message_body(&req.body)?;
    let mut tx = state.store.begin().await?;
    let chat = visible_chat(&mut tx, &who, &id).await?;
    let m = Message {
        id: new_id("msg"),
        chat_id: Some(chat.id.clone()),
        room_id: None,
        internal: true,
        author_kind: "agent".into(),
        author_id: Some(agent.id.clone()),
        body,
        meet_id: None,
        link: None,
        created_at: state.clock.now_ms(),
    };
    feed::post(&mut tx, &state, &chat.channel_id, &m, &feed::internal_audience()).await?;
    let view = views::message_view(&mut tx, &m).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(Json(view))
}

#[utoipa::path(get, path = "/api/customers", security(("bearer" = [])),
    responses((status = 200, body = Vec<p::CustomerView>), (status = 403, body = p::ErrorBody)))]
async fn list_customers(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> AppResult<Json<Vec<p::CustomerView>>> {
    let agent = who.agent()?;
    let now = state.clock.now_ms();
    let mut db = state.store.conn().await?;
    let mut out = Vec::new();
    for c in chats::customers_of_channel(&mut db, &agent.channel_id).await? {
        out.push(views::customer_view(&mut db, &c, now, true).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/customers/{id}", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = p::CustomerView), (status = 404, body = p::ErrorBody)))]
async fn get_customer(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<p::CustomerView>> {
    let agent = who.agent()?;
    let mut db = state.store.conn().await?;
    let c = chats::customer_by_id(&mut db, &id)
        .await?
        .filter(|c| c.channel_id == agent.channel_id)
        .ok_or_else(|| AppError::not_found("customer"))?;
    Ok(Json(views::customer_view(&mut db, &c, state.clock.now_ms(), true).await?))
}
