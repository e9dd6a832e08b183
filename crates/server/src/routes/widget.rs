//! The customer side: an anonymous visitor opens the widget, or resumes a chat from a link.

use axum::extract::State;
use meetdesk_protocol as p;
use meetdesk_store::accounts::{self, Session};
use meetdesk_store::chats::{self, Chat, Customer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, new_id, CUSTOMER_SESSION_MS};
use crate::error::{AppError, AppResult, Json};
use crate::links::{LinkClaims, LinkError};
use crate::state::AppState;
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(visitor)).routes(routes!(resume))
}

/// A new visitor: creates a customer and a chat with the team, and a customer session.
#[utoipa::path(post, path = "/api/widget/visitors", request_body = p::VisitorRequest,
    responses((status = 200, body = p::CustomerSessionResponse), (status = 404, body = p::ErrorBody)))]
async fn visitor(
    State(state): State<AppState>,
    Json(req): Json<p::VisitorRequest>,
) -> AppResult<Json<p::CustomerSessionResponse>> {
    let now = state.clock.now_ms();
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Visitor");
    if name.chars().count() > 100 {
        return Err(AppError::bad_request("name_too_long", "A name has at most 100 characters."));
    }
    let mut tx = state.store.begin().await?;
    let channel = accounts::channel_by_widget_key(&mut tx, &req.channel_key)
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    let customer =
        Customer { id: new_id("cus"), channel_id: channel.id.clone(), name: name.to_owned(), email: None };
    chats::insert_customer(&mut tx, &customer, now).await?;
    let chat = Chat {
        id: new_id("chat"),
        channel_id: channel.id.clone(),
        customer_id: customer.id.clone(),
        assignee_id: None,
        state: "open".into(),
        source: "native".into(),
        input_open: true,
        created_at: now,
        updated_at: now,
    };
    chats::insert_chat(&mut tx, &chat).await?;
    crate::feed::chat_updated(&mut tx, &state, &chat).await?;
    let response = customer_session(&mut tx, &state, &customer).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(Json(response))
}

/// Resumes a customer's chats from a signed resume link.
#[utoipa::path(post, path = "/api/widget/resume", request_body = p::ResumeRequest,
    responses((status = 200, body = p::CustomerSessionResponse), (status = 400, body = p::ErrorBody), (status = 410, body = p::ErrorBody)))]
async fn resume(
    State(state): State<AppState>,
    Json(req): Json<p::ResumeRequest>,
) -> AppResult<Json<p::CustomerSessionResponse>> {
    let claims = state.signer.verify(&req.token, state.clock.now_ms()).map_err(|e| match e {
        LinkError::Invalid => {
            AppError::bad_request("link_invalid", "This link is not valid (it may have been altered).")
        }
        LinkError::Expired => {
            AppError::new(axum::http::StatusCode::GONE, "link_expired", "This link has expired.")
        }
    })?;
    let LinkClaims::Resume { c, .. } = claims else {
        return Err(AppError::bad_request("link_invalid", "This is not a chat link."));
    };
    let mut tx = state.store.begin().await?;
    let customer =
        chats::customer_by_id(&mut tx, &c).await?.ok_or_else(|| AppError::not_found("customer"))?;
    let response = customer_session(&mut tx, &state, &customer).await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    Ok(Json(response))
}

async fn customer_session(
    db: &mut meetdesk_store::Db,
    state: &AppState,
    customer: &Customer,
) -> AppResult<p::CustomerSessionResponse> {
    let now = state.clock.now_ms();
    let (token, token_hash) = auth::new_token();
    let session = Session {
        id: new_id("dev"),
        channel_id: customer.channel_id.clone(),
        agent_id: None,
        customer_id: Some(customer.id.clone()),
        meet_id: None,
        device_name: Some("widget".into()),
        created_at: now,
        expires_at: now + CUSTOMER_SESSION_MS,
        revoked_at: None,
    };
    accounts::insert_session(db, &session, &token_hash).await?;
    let out =
        views::chat_views(db, &customer.channel_id, chats::ChatList::Customer(&customer.id), false, now)
            .await?;
    Ok(p::CustomerSessionResponse {
        token,
        device_id: session.id,
        expires_at: session.expires_at,
        customer: views::customer_view(db, customer, now, false).await?,
        chats: out,
        meet: None,
    })
}
