//! Media (WebRTC audio through the SFU of the node carrying the meet): the offer/answer
//! exchange, forwarded between nodes when needed, and the ICE servers clients need.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use meetdesk_protocol as p;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::cluster::{self, Forward};
use crate::error::{AppError, AppResult, Json, Path};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(offer)).routes(routes!(config))
}

/// Sends this device's WebRTC offer for a meet it takes part in; answers with the server's SDP
/// (candidates included: no trickle). The offer has 1 audio m-line for the microphone, then 7
/// `recvonly` audio m-lines: the receive slots, announced by `media_slots` events. A meet's
/// media is carried by one node (`MeetView.node_id`, the node that started it); any node takes
/// the offer and, when it is not that node, forwards it there and hands back its answer (or,
/// when that node is dead, carries the meet's media itself from then on). `restart: true` is
/// an ICE restart of the device's connection.
#[utoipa::path(post, path = "/api/meets/{id}/media", params(("id" = String, Path)), request_body = p::MediaOfferRequest,
    security(("bearer" = [])),
    responses((status = 200, body = p::MediaAnswer), (status = 400, body = p::ErrorBody, description = "bad_offer"),
              (status = 401, body = p::ErrorBody, description = "bad_node_signature (a forwarded offer)"),
              (status = 403, body = p::ErrorBody, description = "not_in_meet"), (status = 404, body = p::ErrorBody),
              (status = 409, body = p::ErrorBody, description = "other_device, media_full, no_media_connection, wrong_media_node (a forwarded offer whose meet moved meanwhile)"),
              (status = 410, body = p::ErrorBody, description = "ended")))]
async fn offer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<p::MediaOfferRequest>,
) -> AppResult<Response> {
    let path = format!("/api/meets/{id}/media");
    let forwarded = cluster::forwarded_by(&state, &headers, &path)?.is_some();
    // Twice at most: a dead carrying node's meet is taken over, then answered here.
    for _ in 0..2 {
        let node = state.media.carrying_node(&state, &who, &id).await?;
        if node == state.node_id || forwarded {
            // A forwarded offer is never sent on again: this node answers (or refuses with
            // `wrong_media_node` when the meet moved away meanwhile).
            return Ok(Json(state.media.offer(&state, &who, &id, req).await?).into_response());
        }
        let body = serde_json::to_value(&req).map_err(|e| AppError::Internal(e.into()))?;
        let auth = headers.get(axum::http::header::AUTHORIZATION);
        match cluster::forward_post(&state, &node, &path, auth, &body).await? {
            Forward::Answered(response) => return Ok(response),
            Forward::NodeDown => {
                cluster::take_over(&state, &id, &node).await?;
            }
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("meet {id}'s media node kept changing")))
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
