//! Meets: start (P2–P5), answer, decline, join, hang up, invite (P6), and open a meet link.

use axum::extract::State;
use meetdesk_meet::{CustomerId, DeviceId, Input};
use meetdesk_protocol as p;
use meetdesk_store::accounts::{self, Session};
use meetdesk_store::meets;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, new_id, Auth, Principal};
use crate::error::{AppError, AppResult, Json, Path};
use crate::links::{LinkClaims, LinkError};
use crate::meeting::{self, Action};
use crate::state::AppState;
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_meet))
        .routes(routes!(get_meet))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(join))
        .routes(routes!(hangup))
        .routes(routes!(invite))
        .routes(routes!(media_failed))
        .routes(routes!(open_link))
}

/// Starts a meet. Refusals answer with the rule's reason code (`meets_disabled`,
/// `no_assignee`, `input_closed`, `external_messenger`, `no_operator_seat`, `meet_in_progress`, …).
#[utoipa::path(post, path = "/api/meets", request_body = p::StartMeetRequest, security(("bearer" = [])),
    responses((status = 200, body = p::MeetView), (status = 409, body = p::ErrorBody), (status = 403, body = p::ErrorBody)))]
async fn start_meet(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<p::StartMeetRequest>,
) -> AppResult<Json<p::MeetView>> {
    Ok(Json(meeting::start(&state, &who, req).await?))
}

#[utoipa::path(get, path = "/api/meets/{id}", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = p::MeetView), (status = 404, body = p::ErrorBody)))]
async fn get_meet(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<p::MeetView>> {
    let mut db = state.store.conn().await?;
    let stored = meets::get(&mut db, &id).await?.ok_or_else(|| AppError::not_found("meet"))?;
    if !meeting::can_see(&mut db, &who, &stored).await? {
        return Err(AppError::not_found("meet"));
    }
    Ok(Json(meeting::view_for(&mut db, &stored, &who).await?))
}

macro_rules! action_route {
    ($name:ident, $path:literal, $action:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, params(("id" = String, Path)), security(("bearer" = [])),
            responses((status = 200, body = p::MeetView), (status = 404, body = p::ErrorBody), (status = 409, body = p::ErrorBody)))]
        async fn $name(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> AppResult<Json<p::MeetView>> {
            Ok(Json(meeting::act(&state, &who, &id, $action).await?))
        }
    };
}

action_route!(
    accept,
    "/api/meets/{id}/accept",
    Action::Accept,
    "Answers the ring on this device; the others stop."
);
action_route!(
    decline,
    "/api/meets/{id}/decline",
    Action::Decline,
    "Declines the ring (on all of the caller's devices)."
);
action_route!(join, "/api/meets/{id}/join", Action::Join, "Joins a meet going on (a room's meet, P5).");
action_route!(
    hangup,
    "/api/meets/{id}/hangup",
    Action::Hangup,
    "Leaves the meet; the caller leaving before an answer cancels it."
);
action_route!(
    media_failed,
    "/api/meets/{id}/media-failed",
    Action::MediaFailed,
    "The media never connected."
);

/// Rings one more agent into the meet (P6).
#[utoipa::path(post, path = "/api/meets/{id}/invite", params(("id" = String, Path)), request_body = p::InviteRequest,
    security(("bearer" = [])), responses((status = 200, body = p::MeetView), (status = 404, body = p::ErrorBody), (status = 409, body = p::ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::InviteRequest>,
) -> AppResult<Json<p::MeetView>> {
    Ok(Json(meeting::act(&state, &who, &id, Action::Invite(req.agent_id)).await?))
}

/// Opens the meet a follow-up link points at (P3): joins the customer to the meet and returns
/// a session that reaches that meet only.
#[utoipa::path(post, path = "/api/meets/{id}/open-link", params(("id" = String, Path)), request_body = p::OpenLinkRequest,
    responses((status = 200, body = p::CustomerSessionResponse), (status = 400, body = p::ErrorBody),
              (status = 409, body = p::ErrorBody), (status = 410, body = p::ErrorBody)))]
async fn open_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<p::OpenLinkRequest>,
) -> AppResult<Json<p::CustomerSessionResponse>> {
    let now = state.clock.now_ms();
    let claims = state.signer.verify(&req.token, now).map_err(|e| match e {
        LinkError::Invalid => {
            AppError::bad_request("link_invalid", "This meet link is not valid (it may have been altered).")
        }
        LinkError::Expired => {
            AppError::new(axum::http::StatusCode::GONE, "link_expired", "This meet link has expired.")
        }
    })?;
    let LinkClaims::Meet { m, c, e } = claims else {
        return Err(AppError::bad_request("link_invalid", "This is not a meet link."));
    };
    if m != id {
        return Err(AppError::bad_request("link_wrong_meet", "This link belongs to another meet."));
    }
    let (channel_id, customer) = {
        let mut db = state.store.conn().await?;
        let stored = meets::get(&mut db, &m).await?.ok_or_else(|| AppError::not_found("meet"))?;
        let customer = meetdesk_store::chats::customer_by_id(&mut db, &c)
            .await?
            .ok_or_else(|| AppError::not_found("meet"))?;
        (stored.channel_id, customer)
    };
    let device_id = new_id("dev");
    let stored = meeting::transition(
        &state,
        &m,
        Input::OpenLink { customer: CustomerId(c.clone()), device: DeviceId(device_id.clone()) },
    )
    .await?;
    let (token, token_hash) = auth::new_token();
    let session = Session {
        id: device_id.clone(),
        channel_id,
        agent_id: None,
        customer_id: Some(c.clone()),
        meet_id: Some(m.clone()),
        device_name: Some("meet link".into()),
        created_at: now,
        // Long enough for the meet itself after the link's own expiry.
        expires_at: e + 4 * 3600 * 1000,
        revoked_at: None,
    };
    let mut db = state.store.conn().await?;
    accounts::insert_session(&mut db, &session, &token_hash).await?;
    let who = Principal::Customer {
        customer_id: c,
        channel_id: session.channel_id.clone(),
        device_id: device_id.clone(),
        meet_scope: Some(m),
    };
    let meet = meeting::view_for(&mut db, &stored, &who).await?;
    Ok(Json(p::CustomerSessionResponse {
        token,
        device_id,
        expires_at: session.expires_at,
        customer: views::customer_view(&mut db, &customer, now, false).await?,
        chats: Vec::new(),
        meet: Some(meet),
    }))
}
