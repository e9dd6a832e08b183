//! Media (WebRTC audio through the node's SFU): the offer/answer exchange and the ICE servers
//! clients need.

use axum::extract::State;
use meetdesk_protocol as p;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::error::{AppResult, Json, Path};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(offer)).routes(routes!(config))
}

/// Sends this device's WebRTC offer for a meet it takes part in; answers with the server's SDP
/// (candidates included: no trickle). The offer has 1 audio m-line for the microphone, then 7
/// `recvonly` audio m-lines: the receive slots, announced by `media_slots` events. A meet's
/// media is carried by the node that started it (`MeetView.node_id`): another node answers
/// 409 `wrong_media_node`. `restart: true` is an ICE restart of the device's connection.
#[utoipa::path(post, path = "/api/meets/{id}/media", params(("id" = String, Path)), request_body = p::MediaOfferRequest,
    security(("bearer" = [])),
    responses((status = 200, body = p::MediaAnswer), (status = 400, body = p::ErrorBody, description = "bad_offer"),
              (status = 403, body = p::ErrorBody, description = "not_in_meet"), (status = 404, body = p::ErrorBody),
              (status = 409, body = p::ErrorBody, description = "wrong_media_node, other_device, media_full, no_media_connection"),
              (status = 410, body = p::ErrorBody, description = "ended")))]
async fn offer(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::MediaOfferRequest>,
) -> AppResult<Json<p::MediaAnswer>> {
    Ok(Json(state.media.offer(&state, &who, &id, req).await?))
}

/// The STUN/TURN servers a client's peer connection should use, and its slot count.
#[utoipa::path(get, path = "/api/media/config", security(("bearer" = [])),
    responses((status = 200, body = p::MediaConfigView), (status = 401, body = p::ErrorBody)))]
async fn config(State(state): State<AppState>, Auth(_who): Auth) -> AppResult<Json<p::MediaConfigView>> {
    let ice_servers = state
        .media
        .settings()
        .client_ice_servers
        .iter()
        .map(|s| p::IceServerView {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    Ok(Json(p::MediaConfigView { ice_servers, receive_slots: meetdesk_rtc::MAX_REMOTE as u32 }))
}
