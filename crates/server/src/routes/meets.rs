//! Meets: start (P2–P5), answer, decline, join, hang up, invite (P6), and open a meet link
//! (or ask what opening it would do).

use axum::extract::State;
use meetdesk_meet::{CustomerId, DeviceId, Input, Party};
use meetdesk_protocol as p;
use meetdesk_store::accounts::{self, Session};
use meetdesk_store::chats::{self, Customer};
use meetdesk_store::meets::{self, StoredMeet};
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
        .routes(routes!(link_status))
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
              (status = 404, body = p::ErrorBody), (status = 409, body = p::ErrorBody), (status = 410, body = p::ErrorBody)))]
async fn open_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<p::OpenLinkRequest>,
) -> AppResult<Json<p::CustomerSessionResponse>> {
    let now = state.clock.now_ms();
    let link = checked_link(&state, &id, &req.token).await?;
    let (m, c, e) = (link.stored.meet.id.0.clone(), link.customer.id.clone(), link.expires_at);
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
        channel_id: link.stored.channel_id,
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
        customer: views::customer_view(&mut db, &link.customer, now, false).await?,
        chats: Vec::new(),
        meet: Some(meet),
    }))
}

/// What opening a meet link would do, without opening it or changing anything: the meet page
/// calls it on load to show "Join" or say exactly why the link no longer works. Answers the
/// same refusals as `open-link`.
#[utoipa::path(post, path = "/api/meets/{id}/link-status", params(("id" = String, Path)), request_body = p::OpenLinkRequest,
    responses((status = 200, body = p::MeetLinkStatus), (status = 400, body = p::ErrorBody),
              (status = 404, body = p::ErrorBody), (status = 409, body = p::ErrorBody), (status = 410, body = p::ErrorBody)))]
async fn link_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<p::OpenLinkRequest>,
) -> AppResult<Json<p::MeetLinkStatus>> {
    let link = checked_link(&state, &id, &req.token).await?;
    // A dry run of `open-link`'s input on a copy of the meet (never stored, its effects
    // dropped): the state machine itself says whether the link is used or the meet over.
    let mut copy = link.stored.meet.clone();
    let open =
        Input::OpenLink { customer: CustomerId(link.customer.id.clone()), device: DeviceId(String::new()) };
    copy.handle(state.clock.now(), open)?;
    let mut db = state.store.conn().await?;
    let caller_name = match &link.stored.meet.caller {
        Party::Agent(a) => accounts::agent_by_id(&mut db, &a.0).await?.map(|a| a.name).unwrap_or_default(),
        Party::Customer(_) => String::new(),
    };
    Ok(Json(p::MeetLinkStatus { meet_id: link.stored.meet.id.0, caller_name, expires_at: link.expires_at }))
}

/// A meet link checked against meet `id`: signed, not expired, a meet link, for that meet; and
/// the meet and customer it names, as stored now.
struct CheckedLink {
    stored: StoredMeet,
    customer: Customer,
    expires_at: i64,
}

async fn checked_link(state: &AppState, id: &str, token: &str) -> AppResult<CheckedLink> {
    let claims = state.signer.verify(token, state.clock.now_ms()).map_err(|e| match e {
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
    let mut db = state.store.conn().await?;
    let stored = meets::get(&mut db, &m).await?.ok_or_else(|| AppError::not_found("meet"))?;
    let customer = chats::customer_by_id(&mut db, &c).await?.ok_or_else(|| AppError::not_found("meet"))?;
    Ok(CheckedLink { stored, customer, expires_at: e })
}
