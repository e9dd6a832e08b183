//! `GET /api/demo`: the demo directory (only in `--demo` mode; the route does not exist otherwise).

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use meetdesk_protocol as p;

use crate::error::{AppError, AppResult, Json};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/demo", get(directory))
}

async fn directory(State(state): State<AppState>) -> AppResult<Json<p::DemoDirectory>> {
    crate::demo::directory(&state.store, &state.signer, &state.public_url, state.clock.now_ms())
        .await
        .map(Json)
        .map_err(AppError::Internal)
}
