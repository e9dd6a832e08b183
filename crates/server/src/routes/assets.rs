//! `/widget/*`: the customer widget's built files (`widget/dist`: `meetdesk.js`, the pages
//! that embed it), served as they are from `Config::widget_dir`.
//!
//! Not part of the API (no OpenAPI entry). A missing file answers 404 `not_found`; when the
//! directory holds no built widget at all, every path answers 404 `widget_not_built` with the
//! command that builds it (the directory itself is logged at start, not sent).

use std::path::{Path, PathBuf};

use axum::handler::HandlerWithoutStateExt;
use axum::http::StatusCode;
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
    let files = ServeDir::new(dir).append_index_html_on_directories(false).fallback(missing.into_service());
    Router::new().nest_service("/widget", files)
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
