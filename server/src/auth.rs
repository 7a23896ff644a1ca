//! The access token: made at start (or configured) and required on every
//! request and WebSocket — as `Authorization: Bearer`, a `token` query
//! parameter, or the cookie the page is given when opened with the token — and
//! the same-origin rule that keeps other web pages from using a browser's cookie.

use crate::ServerState;
use crate::failure::ServeError;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The cookie the page's own requests authenticate with.
const COOKIE_NAME: &str = "miniapp_token";

/// A fresh token: 32 random bytes in hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // Without the system's randomness there is no safe token; a fixed one would
    // open the server to anyone, so stop instead.
    getrandom::fill(&mut bytes).unwrap_or_else(|error| panic!("the system's random source failed: {error}"));
    hex::encode(bytes)
}

/// Refuses a request without the token, or from another site's page.
pub(crate) async fn require_token(State(state): State<Arc<ServerState>>, request: Request, next: Next) -> Response {
    if let Some(origin) = foreign_origin(request.headers()) {
        return ServeError::OriginRefused { origin }.into_response();
    }
    let from_query = query_token(request.uri().query());
    let presented = bearer(request.headers()).or(from_query.clone()).or_else(|| cookie(request.headers()));
    if !presented.is_some_and(|token| same(&token, &state.token)) {
        return ServeError::Unauthorized.into_response();
    }
    let mut response = next.run(request).await;
    // The page opened as `/?token=…` keeps the token in a cookie only the
    // server's own pages send (SameSite=Strict), so its scripts never handle it.
    if from_query.is_some()
        && let Ok(value) =
            HeaderValue::from_str(&format!("{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/", state.token))
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|token| token.trim().to_string())
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| pair.strip_prefix("token=")).map(str::to_string)
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|line| {
        line.split(';')
            .map(str::trim)
            .find_map(|pair| pair.strip_prefix(&format!("{COOKIE_NAME}=")))
            .map(str::to_string)
    })
}

/// The `Origin` of a browser request from a page not served here, if it is one.
/// Requests without an `Origin` (tests, curl, a platform's server) pass.
fn foreign_origin(headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(ORIGIN)?.to_str().unwrap_or("?");
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let own = ["http://", "https://"].iter().any(|scheme| origin.strip_prefix(scheme) == Some(host));
    (!own).then(|| origin.to_string())
}

/// Compares in time that does not depend on where the strings differ.
fn same(given: &str, token: &str) -> bool {
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_where_clients_put_them() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        headers.insert(COOKIE, HeaderValue::from_static("a=b; miniapp_token=def"));
        assert_eq!(bearer(&headers).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers).as_deref(), Some("def"));
        assert_eq!(query_token(Some("x=1&token=ghi")).as_deref(), Some("ghi"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
        assert_eq!(random_token().len(), 64);
    }

    #[test]
    fn other_sites_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:7000"));
        assert_eq!(foreign_origin(&headers), None);
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:7000"));
        assert_eq!(foreign_origin(&headers), None);
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert_eq!(foreign_origin(&headers).as_deref(), Some("https://evil.example"));
    }
}
