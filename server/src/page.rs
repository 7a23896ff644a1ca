//! The web DevTools: one page (HTML, script, style, compiled into the binary)
//! that draws a session's views in a phone frame, the host's prompts as the
//! host's dialogs, and the panels beside it. It fetches nothing but this server;
//! a strict Content-Security-Policy allows only its own script and style, and
//! the script builds every element with `textContent`, never markup, so no
//! program-supplied string is ever interpreted as HTML.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};

/// Only this server's own script, style and WebSocket; images only from here (a
/// program's https image is drawn as its alt text: the page fetches nothing else).
pub(crate) const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, POLICY),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    asset(include_str!("page/index.html"), "text/html; charset=utf-8")
}

pub(crate) async fn script() -> Response {
    asset(include_str!("page/devtools.js"), "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    asset(include_str!("page/devtools.css"), "text/css; charset=utf-8")
}
