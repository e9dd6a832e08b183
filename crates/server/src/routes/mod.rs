//! HTTP routes. Each module's handlers are thin: authorise, call the domain, map to views.
//! The OpenAPI document is built from the same handler annotations (`/api/openapi.json`).

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method, StatusCode};
use axum::routing::get;
use axum::Router;
use tower_http::cors::{Any, CorsLayer};
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
mod pages;
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
    let mut api = api.route(
        "/api/openapi.json",
        get(move || async move { ([("content-type", "application/json")], doc_json) }),
    );
    if state.demo {
        api = api.merge(demo::routes());
    }
    // The 405 fallback goes inside the CORS layer, so a preflight (OPTIONS, a method no route
    // has) reaches the layer instead of the 405 answer.
    let api = api.method_not_allowed_fallback(method_not_allowed).layer(cors());
    api.route("/healthz", get(accounts::healthz))
        .merge(pages::routes(state.demo))
        .merge(assets::routes(&state.widget_dir))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for `/api/*`: the widget runs on customers' sites (other origins) and calls the API
/// with `Authorization: Bearer`. Any origin is allowed, without credentials: bearer tokens are
/// not ambient (a browser never attaches them by itself, unlike cookies), so a page of another
/// origin can do nothing with this that `curl` could not.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600))
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
