//! `/widget/*`: the customer widget's built files (`widget/dist`: `meetdesk.js`, the pages
//! that embed it), served as they are from `Config::widget_dir`.
//!
//! Not part of the API (no OpenAPI entry). A missing file answers 404 `not_found`; when the
//! directory holds no built widget at all, every path answers 404 `widget_not_built` with the
//! command that builds it (the directory itself is logged at start, not sent).
//!
//! Third-party sites load the embed script, so every answer may be read cross-origin (`*`,
//! `Cross-Origin-Resource-Policy: cross-origin`) and is `nosniff`; files found are cached
//! for 5 minutes (their names are not content-hashed), revalidated with `Last-Modified`.

use std::path::{Path, PathBuf};

use axum::handler::HandlerWithoutStateExt;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use tower_http::services::ServeDir;

use crate::error::AppError;
use crate::state::AppState;

/// The widget's entry script, relative to the widget directory: its presence means "built".
pub const WIDGET_SCRIPT: &str = "meetdesk.js";

/// Is there a built widget in `dir`?
pub fn is_built(dir: &Path) -> bool {
    dir.join(WIDGET_SCRIPT).is_file()
}

/// The `/widget` routes, serving `dir`.
pub fn routes(dir: &Path) -> Router<AppState> {
    let missing_dir: PathBuf = dir.to_owned();
    let missing = move || {
        let dir = missing_dir.clone();
        async move { missing(&dir) }
    };
    // The widget build writes .br and .gz copies of its scripts: sent as they are to browsers
    // that accept them (Vary: Accept-Encoding), never compressed per request.
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(false)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(missing.into_service());
    Router::new().nest_service("/widget", files).layer(axum::middleware::map_response(with_headers))
}

async fn with_headers(mut res: Response) -> Response {
    let ok = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if ok {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    }
    res
}

fn missing(dir: &Path) -> AppError {
    if is_built(dir) {
        AppError::new(StatusCode::NOT_FOUND, "not_found", "No such widget file.")
    } else {
        AppError::new(
            StatusCode::NOT_FOUND,
            "widget_not_built",
            "The customer widget is not built on this server: run `npm ci && npm run build` in \
             widget/, or start the server with --widget-dir naming a built widget.",
        )
    }
}
