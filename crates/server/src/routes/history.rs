//! Call history (P8): the changes feed a desktop cache syncs from, deletes (one, all, and
//! replayed offline ones with idempotency keys), calling again from a record, suggestions for
//! an empty history and the new-team-meet search. Agents only, and only their own records.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use meetdesk_protocol as p;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::error::{AppError, AppResult, Json, Path, Query};
use crate::history;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(changes))
        .routes(routes!(delete_all))
        .routes(routes!(get_record, delete_record))
        .routes(routes!(call_back))
        .routes(routes!(offline_deletes))
        .routes(routes!(suggestions))
        .routes(routes!(search))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesQuery {
    /// The cursor of the last page applied (0 or absent: from the beginning).
    #[serde(default)]
    #[param(minimum = 0)]
    since: Option<i64>,
    /// Changes per page (1 to 5,000; default 1,000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<i64>,
}

/// The agent's record changes (upserts and tombstones) after a cursor, oldest first. A cold
/// start pulls from 0 until `has_more` is false; a warm start from its cursor. `reset: true`
/// means: drop the cached records first (the cursor is too old or from another database).
#[utoipa::path(get, path = "/api/history/changes", params(ChangesQuery), security(("bearer" = [])),
    responses((status = 200, body = p::ChangesPage), (status = 403, body = p::ErrorBody)))]
async fn changes(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<ChangesQuery>,
) -> AppResult<impl IntoResponse> {
    let agent = who.agent()?;
    // Written directly (stored record bodies spliced in): the shape of `p::ChangesPage`.
    let body = history::changes_page(&state, agent, q.since.unwrap_or(0), q.limit).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteAllQuery {
    /// Only records written at or before this seq (`created_seq`): what the client has seen.
    #[serde(default)]
    through: Option<i64>,
}

/// Deletes all the agent's call records (menu → Delete all call records).
#[utoipa::path(delete, path = "/api/history", params(DeleteAllQuery), security(("bearer" = [])),
    responses((status = 200, body = p::DeleteAllResponse), (status = 403, body = p::ErrorBody)))]
async fn delete_all(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<DeleteAllQuery>,
) -> AppResult<Json<p::DeleteAllResponse>> {
    let agent = who.agent()?;
    Ok(Json(p::DeleteAllResponse { deleted: history::delete_all(&state, agent, q.through).await? }))
}

#[utoipa::path(get, path = "/api/history/records/{id}", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = p::CallRecordView), (status = 404, body = p::ErrorBody)))]
async fn get_record(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<p::CallRecordView>> {
    let agent = who.agent()?;
    Ok(Json(history::get(&state, agent, &id).await?))
}

/// Deletes one record (long press / context menu). Deleting it again answers 204 too.
#[utoipa::path(delete, path = "/api/history/records/{id}", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = p::ErrorBody)))]
async fn delete_record(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let agent = who.agent()?;
    history::delete_one(&state, agent, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a new meet of the record's kind (audio stays audio) with its counterpart, exactly as
/// `POST /api/meets` would (same refusals, e.g. `meet_in_progress` for a room whose meet is
/// going on: join the room's `ongoing_meet`). Records of internal meets answer 409
/// `internal_not_returnable`.
#[utoipa::path(post, path = "/api/history/records/{id}/call", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = p::CallBackResponse), (status = 404, body = p::ErrorBody),
              (status = 409, body = p::ErrorBody), (status = 403, body = p::ErrorBody)))]
async fn call_back(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<p::CallBackResponse>> {
    Ok(Json(history::call_back(&state, &who, &id).await?))
}

/// Deletes made offline, replayed in the order they were made; each idempotency key is applied
/// once (a retry after a lost answer reports `already_applied`).
#[utoipa::path(post, path = "/api/history/deletes", request_body = p::DeletesRequest, security(("bearer" = [])),
    responses((status = 200, body = p::DeletesResponse), (status = 400, body = p::ErrorBody), (status = 403, body = p::ErrorBody)))]
async fn offline_deletes(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<p::DeletesRequest>,
) -> AppResult<Json<p::DeletesResponse>> {
    let agent = who.agent()?;
    Ok(Json(history::apply_offline(&state, agent, req).await?))
}

/// Suggestions for an empty history: recent customers and DM partners (P8).
#[utoipa::path(get, path = "/api/history/suggestions", security(("bearer" = [])),
    responses((status = 200, body = p::Suggestions), (status = 403, body = p::ErrorBody)))]
async fn suggestions(State(state): State<AppState>, Auth(who): Auth) -> AppResult<Json<p::Suggestions>> {
    let agent = who.agent()?;
    Ok(Json(history::suggestions(&state, agent).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// Part of a room's or an agent's name (or an agent's e-mail); empty: everything.
    #[serde(default)]
    q: Option<String>,
}

/// New team meet: agents and rooms, ordered public groups, private groups, then DMs, each
/// alphabetically.
#[utoipa::path(get, path = "/api/history/search", params(SearchQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<p::TeamSearchResult>), (status = 400, body = p::ErrorBody), (status = 403, body = p::ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<SearchQuery>,
) -> AppResult<Json<Vec<p::TeamSearchResult>>> {
    let agent = who.agent()?;
    let q = q.q.unwrap_or_default();
    if q.chars().count() > 200 {
        return Err(AppError::bad_request("invalid_query", "A search has at most 200 characters."));
    }
    Ok(Json(history::search(&state, agent, &q).await?))
}
