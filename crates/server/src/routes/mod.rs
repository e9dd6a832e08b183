//! HTTP routes. Each module's handlers are thin: authorise, call the domain, map to views.
//! The OpenAPI document is built from the same handler annotations (`/api/openapi.json`).

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

mod accounts;
pub mod assets;
mod chats;
mod demo;
mod events;
mod history;
mod media;
mod meets;
mod rooms;
mod widget;

/// Largest JSON body accepted.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "meetdesk", description = "Voice and video meets inside support chats."),
    modifiers(&BearerAuth),
    components(schemas(meetdesk_protocol::ErrorBody, meetdesk_protocol::Event, meetdesk_protocol::EventBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::routes())
        .merge(chats::routes())
        .merge(rooms::routes())
        .merge(meets::routes())
        .merge(media::routes())
        .merge(widget::routes())
        .merge(events::routes())
        .merge(history::routes())
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = api().split_for_parts();
    doc
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = api().split_for_parts();
    let doc_json = doc.to_pretty_json().unwrap_or_default();
    let mut app = api
        .route(
            "/api/openapi.json",
            get(move || async move { ([("content-type", "application/json")], doc_json) }),
        )
        .route("/healthz", get(accounts::healthz));
    if state.demo {
        app = app.merge(demo::routes());
    }
    app = app.merge(assets::routes(&state.widget_dir));
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "not_found", "No such route.")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This route does not take that method.",
    )
}
