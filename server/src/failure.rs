//! What goes wrong, with a stable code each: the server's own errors (binding)
//! and every refusal an API client gets, as `{"error": {"code", "message"}}` with
//! a fitting HTTP status. A bad request is answered, never a crash.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// An error of the server or of one request, with a stable [`ServeError::code`].
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The request carried no valid access token.
    #[error("this server needs its access token: send `Authorization: Bearer TOKEN` or `?token=TOKEN`")]
    Unauthorized,
    /// A cross-site page tried to use the server.
    #[error("requests from origin `{origin}` are refused: only the server's own page may call it")]
    OriginRefused {
        /// The `Origin` the request came from.
        origin: String,
    },
    /// No such route.
    #[error("no route {method} {path}; docs/server.md lists them")]
    NoRoute {
        /// The HTTP method.
        method: String,
        /// The path asked for.
        path: String,
    },
    /// The body or a parameter is not what the route takes.
    #[error("{message}")]
    BadRequest {
        /// What is wrong, naming the field.
        message: String,
    },
    /// The body is larger than the server reads.
    #[error("the request body is larger than the {limit} bytes this server reads")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON.
    #[error("the request body is not JSON: {message}")]
    InvalidJson {
        /// The parser's complaint.
        message: String,
    },
    /// No program of this id is loaded.
    #[error("no program `{id}` is loaded on this server")]
    UnknownProgram {
        /// The id asked for.
        id: String,
    },
    /// No session of this id is open.
    #[error("no session `{id}` on this server")]
    UnknownSession {
        /// The id asked for.
        id: String,
    },
    /// The session's program has ended; it takes no more events.
    #[error("session {id} has ended: {reason}")]
    SessionEnded {
        /// The session.
        id: String,
        /// Why the host ended it.
        reason: String,
    },
    /// The session's task is gone (closed while the request waited).
    #[error("session {id} was closed")]
    SessionClosed {
        /// The session.
        id: String,
    },
    /// No prompt of this id is waiting for an answer.
    #[error("session {session} has no prompt {prompt} waiting for an answer")]
    UnknownPrompt {
        /// The session.
        session: String,
        /// The prompt asked for.
        prompt: u64,
    },
    /// The answer does not fit its prompt.
    #[error("`{answer}` does not answer this {kind} prompt; expected {expected}")]
    AnswerDoesNotFit {
        /// The answer given.
        answer: String,
        /// The prompt's kind.
        kind: &'static str,
        /// What it takes.
        expected: String,
    },
    /// As many sessions as the server allows are open.
    #[error("this server already has {limit} sessions open, its limit (max_sessions); close one first")]
    SessionLimit {
        /// The limit.
        limit: usize,
    },
    /// As many programs as the server allows are loaded.
    #[error("this server already has {limit} programs loaded, its limit (max_programs)")]
    ProgramLimit {
        /// The limit.
        limit: usize,
    },
    /// The program could not be loaded.
    #[error("cannot load the program")]
    Load {
        /// Why.
        #[source]
        source: miniapp_host::LoadError,
    },
    /// The program's build command failed (watch mode keeps the last good module).
    #[error("{0}")]
    Build(#[from] crate::build::BuildError),
    /// The program could not be started.
    #[error("cannot start the program")]
    Start {
        /// Why.
        #[source]
        source: miniapp_host::SessionError,
    },
    /// The host's records could not be read or written.
    #[error("the host's records failed")]
    Store {
        /// Why.
        #[source]
        source: miniapp_host::store::StoreError,
    },
    /// The server could not listen.
    #[error("cannot listen on {bind}")]
    Bind {
        /// The address.
        bind: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another process listens there already.
    #[error(
        "cannot listen on {bind}: another process already does; pick another port with --bind (a port of 0 picks a free one)"
    )]
    AddressInUse {
        /// The address.
        bind: SocketAddr,
    },
    /// A non-loopback address without `allow_remote`.
    #[error(
        "refusing to listen on {bind}: it is not a loopback address, and the sessions API runs programs and pays; \
         pass --allow-remote (and keep the token secret) to serve other machines"
    )]
    RemoteRefused {
        /// The address.
        bind: SocketAddr,
    },
}

impl ServeError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Unauthorized => "unauthorized",
            ServeError::OriginRefused { .. } => "origin_refused",
            ServeError::NoRoute { .. } => "no_route",
            ServeError::BadRequest { .. } => "bad_request",
            ServeError::InvalidJson { .. } => "invalid_json",
            ServeError::BodyTooLarge { .. } => "body_too_large",
            ServeError::UnknownProgram { .. } => "unknown_program",
            ServeError::UnknownSession { .. } => "unknown_session",
            ServeError::SessionEnded { .. } => "session_ended",
            ServeError::SessionClosed { .. } => "session_closed",
            ServeError::UnknownPrompt { .. } => "unknown_prompt",
            ServeError::AnswerDoesNotFit { .. } => "answer_does_not_fit",
            ServeError::SessionLimit { .. } => "session_limit",
            ServeError::ProgramLimit { .. } => "program_limit",
            ServeError::Load { .. } => "load_failed",
            ServeError::Build(_) => "build_failed",
            ServeError::Start { .. } => "start_failed",
            ServeError::Store { .. } => "store_failed",
            ServeError::Bind { .. } => "bind_failed",
            ServeError::AddressInUse { .. } => "address_in_use",
            ServeError::RemoteRefused { .. } => "remote_refused",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ServeError::Unauthorized => StatusCode::UNAUTHORIZED,
            ServeError::OriginRefused { .. } => StatusCode::FORBIDDEN,
            ServeError::NoRoute { .. } | ServeError::UnknownProgram { .. } | ServeError::UnknownSession { .. } => {
                StatusCode::NOT_FOUND
            }
            ServeError::UnknownPrompt { .. } | ServeError::SessionEnded { .. } | ServeError::SessionClosed { .. } => {
                StatusCode::CONFLICT
            }
            ServeError::BadRequest { .. }
            | ServeError::InvalidJson { .. }
            | ServeError::AnswerDoesNotFit { .. }
            | ServeError::Load { .. }
            | ServeError::Build(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServeError::SessionLimit { .. } | ServeError::ProgramLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServeError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::Start { .. }
            | ServeError::Store { .. }
            | ServeError::Bind { .. }
            | ServeError::AddressInUse { .. }
            | ServeError::RemoteRefused { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as the JSON clients receive: `{"code", "message"}`. Messages
    /// can quote what a program sent, so they pass the sanitizer.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code(),
            "message": miniapp_host::sanitize::line(&crate::messages::one_line(self)),
        })
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ServeError {
        ServeError::BadRequest { message: message.into() }
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_json() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if matches!(self, ServeError::Unauthorized) {
            response.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Gives every error response the JSON shape, including those the framework
/// answers itself before a handler runs (a malformed path or query parameter, a
/// refused WebSocket upgrade): their text becomes the message, their status stays.
pub(crate) async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), 16 << 10).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { status.to_string() } else { text };
    let error = ServeError::bad_request(message);
    (status, axum::Json(serde_json::json!({ "error": error.to_json() }))).into_response()
}

impl From<miniapp_host::store::StoreError> for ServeError {
    fn from(source: miniapp_host::store::StoreError) -> ServeError {
        ServeError::Store { source }
    }
}
