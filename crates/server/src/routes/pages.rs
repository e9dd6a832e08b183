//! The customer's full pages, built with the widget into `Config::widget_dir`:
//! `GET /m/{id}` (a meet link: `meet.html` as is; its script reads the meet id from the path and
//! the token from `?t=`) and, in demo mode only, `GET /demo` (`demo.html` with the demo channel's
//! widget key put in for `{{MEETDESK_CHANNEL_KEY}}`; its script reads `?resume=`).
//!
//! Not part of the API (no OpenAPI entry). Files are read on every request (small; a rebuilt
//! widget shows without a restart). A missing page answers 404 with an HTML page saying how
//! to build the widget.
//!
//! Headers: `no-cache`, `nosniff`, and a CSP allowing only same-origin scripts, styles,
//! connections (CSP3 `'self'` covers `ws:`/`wss:` to the same host and port) and media; inline
//! styles are allowed because the widget injects a `<style>` into its shadow root. Meet pages
//! carry the link's token in their URL: `Referrer-Policy: no-referrer` and no framing.

use std::path::Path;

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::AppError;
use crate::state::AppState;

/// Replaced in `demo.html` with the demo channel's widget key (HTML-escaped).
pub const CHANNEL_KEY_PLACEHOLDER: &str = "{{MEETDESK_CHANNEL_KEY}}";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   connect-src 'self'; media-src 'self' blob: mediastream:; img-src 'self' data:; \
                   font-src 'self'; base-uri 'none'; form-action 'self'";

/// `/m/{id}` always; `/demo` only in demo mode (otherwise the route does not exist).
pub fn routes(demo: bool) -> Router<AppState> {
    let router = Router::new().route("/m/{id}", get(meet_page));
    if demo {
        router.route("/demo", get(demo_page))
    } else {
        router
    }
}

async fn meet_page(State(state): State<AppState>) -> Response {
    let csp = format!("{CSP}; frame-ancestors 'none'");
    match read(&state.widget_dir, "meet.html").await {
        Ok(Some(bytes)) => {
            let mut res = page(StatusCode::OK, &csp, bytes);
            res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            res
        }
        Ok(None) => not_built(&csp),
        Err(e) => e.into_response(),
    }
}

async fn demo_page(State(state): State<AppState>) -> Response {
    match read(&state.widget_dir, "demo.html").await {
        Ok(Some(bytes)) => {
            let html = String::from_utf8_lossy(&bytes)
                .replace(CHANNEL_KEY_PLACEHOLDER, &escape_html(crate::demo::WIDGET_KEY));
            page(StatusCode::OK, CSP, html.into_bytes())
        }
        Ok(None) => not_built(CSP),
        Err(e) => e.into_response(),
    }
}

/// The page `name` in `dir`; `None` when it (or the directory) is not there.
async fn read(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, AppError> {
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            Ok(None)
        }
        Err(e) => {
            Err(AppError::Internal(anyhow::Error::new(e).context(format!("reading widget page {name}"))))
        }
    }
}

fn page(status: StatusCode, csp: &str, body: Vec<u8>) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(HeaderName::from_static("content-security-policy"), v);
    }
    res
}

fn not_built(csp: &str) -> Response {
    const BODY: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
        <title>Widget not built</title></head><body>\n<h1>The customer widget is not built</h1>\n\
        <p>This server has no built customer widget, so it cannot show this page. Run \
        <code>npm ci &amp;&amp; npm run build</code> in <code>widget/</code>, or start the server \
        with <code>--widget-dir</code> naming a built widget.</p>\n</body></html>\n";
    page(StatusCode::NOT_FOUND, csp, BODY.as_bytes().to_vec())
}

/// Escapes text for an HTML text node or a quoted attribute value.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escapes_html_specials() {
        assert_eq!(escape_html(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&#39;");
        assert_eq!(escape_html("demo"), "demo");
    }
}
