//! The routes (docs/server.md documents each with an example): programs,
//! sessions, their actions, prompts, messages and stream, and the panels' records.
//! Every body is read here, so every malformed one gets a JSON error naming what
//! is wrong; an unknown route or method gets one too.

use crate::failure::ServeError;
use crate::messages::Batch;
use crate::sessions::{Action, Handle};
use crate::{ServerState, page, panels};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as Frame, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use miniapp_abi::lifecycle::{Event, LaunchContext, Surface};
use miniapp_host::consent::Answer;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

type Shared = State<Arc<ServerState>>;
type Reply = Result<Response, ServeError>;

/// The whole router: the page and its assets, and the API, all behind the token.
pub(crate) fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/devtools.js", get(page::script))
        .route("/devtools.css", get(page::style))
        .route("/api", get(info))
        .route("/api/programs", get(programs).post(load_program))
        .route("/api/programs/{program}", get(program))
        .route("/api/programs/{program}/storage", get(panels::storage))
        .route(
            "/api/programs/{program}/storage/{key}",
            axum::routing::put(panels::put_storage).delete(panels::delete_storage),
        )
        .route("/api/sessions", get(sessions).post(open_session))
        .route("/api/sessions/{session}", get(session).delete(close_session))
        .route("/api/sessions/{session}/events", post(event))
        .route("/api/sessions/{session}/back", post(|s: Shared, p: Path<String>| act(s, p, Action::Back)))
        .route("/api/sessions/{session}/refresh", post(|s: Shared, p: Path<String>| act(s, p, Action::Refresh)))
        .route("/api/sessions/{session}/show", post(|s: Shared, p: Path<String>| act(s, p, Action::Show)))
        .route("/api/sessions/{session}/hide", post(|s: Shared, p: Path<String>| act(s, p, Action::Hide)))
        .route("/api/sessions/{session}/relaunch", post(relaunch))
        .route("/api/sessions/{session}/prompts/{prompt}", post(answer))
        .route("/api/sessions/{session}/messages", get(messages))
        .route("/api/sessions/{session}/stream", get(stream))
        .route("/api/sessions/{session}/transcript", get(transcript))
        .route("/api/ledger", get(panels::ledger))
        .route("/api/audit", get(panels::audit))
        .route("/api/permissions", get(panels::permissions))
        .route("/api/permissions/{program}/{scope}", axum::routing::delete(panels::revoke))
        .route("/api/settings", get(panels::settings))
        .route("/api/settings/links/{surface}", axum::routing::put(panels::set_links))
        .route("/api/payment-scenario", get(panels::scenario).put(panels::set_scenario))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::require_token))
        .layer(axum::middleware::from_fn(crate::failure::json_errors))
        .with_state(state)
}

async fn no_route(method: Method, uri: Uri) -> ServeError {
    ServeError::NoRoute { method: method.to_string(), path: miniapp_host::sanitize::line(uri.path()) }
}

/// The largest request body read (a storage value is at most 1 MiB by default).
pub(crate) const MAX_BODY_BYTES: usize = 2 << 20;

/// A request's body, refused as JSON (`body_too_large`) past [`MAX_BODY_BYTES`].
pub(crate) struct Body(pub Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = ServeError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Body, ServeError> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ServeError::BodyTooLarge { limit: MAX_BODY_BYTES })
            }
            Err(rejection) => Err(ServeError::bad_request(format!("the request body: {}", rejection.body_text()))),
        }
    }
}

/// Reads a JSON body as `T`, naming what is wrong. An empty body reads as `{}`.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ServeError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => ServeError::bad_request(format!("the request body: {error}")),
        _ => ServeError::InvalidJson { message: error.to_string() },
    })
}

pub(crate) fn ok(value: Value) -> Reply {
    Ok(axum::Json(value).into_response())
}

async fn info(State(state): Shared) -> Reply {
    let dev = state.dev_program.read().unwrap_or_else(|p| p.into_inner()).clone();
    let build_error = state.build_error.read().unwrap_or_else(|p| p.into_inner()).clone();
    ok(json!({
        "server": "miniapp",
        "version": env!("CARGO_PKG_VERSION"),
        "abi": miniapp_host::ABI_VERSION.to_string(),
        "programs": state.programs.read().unwrap_or_else(|p| p.into_inner()).len(),
        "sessions": state.sessions.list().len(),
        "max_sessions": state.config.max_sessions,
        "max_programs": state.config.max_programs,
        "dev_program": dev,
        "build_error": build_error,
        "surfaces": Surface::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    }))
}

fn describe_program(app: &miniapp_host::App) -> Value {
    let program = app.program();
    let mut capabilities: Vec<&str> = app.manifest().capabilities.keys().map(String::as_str).collect();
    capabilities.sort_unstable();
    json!({
        "id": program.id,
        "name": miniapp_host::sanitize::line(&program.name),
        "version": miniapp_host::sanitize::line(&program.version),
        "publisher_key": program.identity.publisher().as_str(),
        "module_sha256": program.module_hash,
        "abi": app.abi_version().to_string(),
        "capabilities": capabilities,
        "dir": app.dir().map(|d| d.display().to_string()),
    })
}

async fn programs(State(state): Shared) -> Reply {
    let list: Vec<Value> =
        state.programs.read().unwrap_or_else(|p| p.into_inner()).values().map(describe_program).collect();
    ok(json!({ "programs": list }))
}

async fn program(State(state): Shared, Path(id): Path<String>) -> Reply {
    let app = state.program(&id).ok_or(ServeError::UnknownProgram { id })?;
    ok(describe_program(&app))
}

/// What `POST /api/programs` loads: exactly one of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadRequest {
    /// An app directory (holding miniapp.toml).
    dir: Option<String>,
    /// Whether to run the manifest's build command first (an app directory only).
    #[serde(default)]
    build: bool,
    /// A package file.
    package: Option<String>,
    /// Install the package (binding its id to its publisher key) rather than only load it.
    #[serde(default)]
    install: bool,
    /// An installed program's id.
    installed: Option<String>,
}

async fn load_program(State(state): Shared, Body(bytes): Body) -> Reply {
    let request: LoadRequest = body(&bytes)?;
    let host = &state.host;
    let load = |source| ServeError::Load { source };
    let app = match (request.dir, request.package, request.installed) {
        (Some(dir), None, None) => {
            let dir = std::path::PathBuf::from(dir);
            if request.build && !state.config.allow_builds {
                return Err(ServeError::bad_request(
                    "build: this server does not run build commands (a manifest's command runs on the server's \
                     machine); start it with --allow-builds, or load a built program",
                ));
            }
            if request.build {
                let manifest = miniapp_host::Manifest::from_dir(&dir).map_err(|e| load(e.into()))?;
                let build_dir = dir.clone();
                tokio::task::spawn_blocking(move || {
                    crate::build::build(&build_dir, &manifest, crate::build::Output::Capture)
                })
                .await
                .map_err(|e| ServeError::bad_request(format!("the build stopped: {e}")))??;
            }
            host.load_app(&dir).await.map_err(load)?
        }
        (None, Some(package), None) if request.install => host.install_package(&package).await.map_err(load)?.1,
        (None, Some(package), None) => host.load_package_file(&package).await.map_err(load)?,
        (None, None, Some(id)) => host.load_installed(&id).await.map_err(load)?,
        _ => return Err(ServeError::bad_request("give exactly one of `dir`, `package` or `installed`")),
    };
    let described = describe_program(&app);
    state.add_program(app)?;
    Ok((StatusCode::CREATED, axum::Json(described)).into_response())
}

/// Launch options: WeChat's compile modes (surface, page, query, referrer).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaunchOptions {
    surface: Option<String>,
    #[serde(default)]
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
    referrer: Option<String>,
}

impl LaunchOptions {
    pub(crate) fn context(self) -> Result<LaunchContext, ServeError> {
        let surface = match self.surface.as_deref() {
            None => Surface::Direct,
            Some(name) => Surface::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Surface::ALL.iter().map(|s| s.as_str()).collect();
                ServeError::bad_request(format!(
                    "launch.surface: unknown surface `{}`; expected one of: {}",
                    miniapp_host::sanitize::line(name),
                    known.join(", ")
                ))
            })?,
        };
        let referrer = self.referrer.filter(|r| !r.is_empty());
        Ok(LaunchContext { surface, path: self.path, query: self.query, referrer })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenRequest {
    program: String,
    #[serde(default)]
    launch: LaunchOptions,
    user: Option<String>,
}

async fn sessions(State(state): Shared) -> Reply {
    let list: Vec<Value> = state.sessions.list().iter().map(|h| h.describe()).collect();
    ok(json!({ "sessions": list }))
}

async fn open_session(State(state): Shared, Body(bytes): Body) -> Reply {
    let request: OpenRequest = body(&bytes)?;
    let app = state.program(&request.program).ok_or(ServeError::UnknownProgram { id: request.program })?;
    let context = request.launch.context()?;
    let user = request.user.unwrap_or_else(|| miniapp_host::consent::LOCAL_USER.to_string());
    check_user(&user)?;
    let handle = state.sessions.open(&state, app, context, user).await?;
    Ok((StatusCode::CREATED, axum::Json(handle.describe())).into_response())
}

/// A user id is a short name of letters, digits and `._-`: it keys the user's
/// settings and grants.
pub(crate) fn check_user(user: &str) -> Result<(), ServeError> {
    let fine = !user.is_empty()
        && user.len() <= 64
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fine { Ok(()) } else { Err(ServeError::bad_request("user: 1 to 64 letters, digits, `.`, `_` or `-`")) }
}

async fn session(State(state): Shared, Path(id): Path<String>) -> Reply {
    ok(state.sessions.get(&id)?.describe())
}

async fn close_session(State(state): Shared, Path(id): Path<String>) -> Reply {
    state.sessions.close(&id).await?;
    ok(json!({ "session": id, "closed": true }))
}

/// An event a driver may deliver: a tap, an input or a custom event (`page`
/// events are the host's to send).
pub(crate) fn driver_event(value: Value) -> Result<Event, ServeError> {
    match serde_json::from_value::<Event>(value) {
        Ok(event @ (Event::Tap { .. } | Event::Input { .. } | Event::Custom { .. })) => Ok(event),
        Ok(_) => Err(ServeError::bad_request("event.type: expected tap, input or custom")),
        Err(error) => Err(ServeError::bad_request(format!("the event: {error}"))),
    }
}

async fn event(State(state): Shared, Path(id): Path<String>, Body(bytes): Body) -> Reply {
    let event = driver_event(body(&bytes)?)?;
    let handle = state.sessions.get(&id)?;
    ok(handle.act(Action::Event(event)).await?)
}

async fn act(State(state): Shared, Path(id): Path<String>, action: Action) -> Reply {
    let handle = state.sessions.get(&id)?;
    ok(handle.act(action).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelaunchRequest {
    launch: Option<LaunchOptions>,
}

async fn relaunch(State(state): Shared, Path(id): Path<String>, Body(bytes): Body) -> Reply {
    let request: RelaunchRequest = body(&bytes)?;
    let context = request.launch.map(LaunchOptions::context).transpose()?;
    let handle = state.sessions.get(&id)?;
    ok(handle.relaunch(context, None).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerRequest {
    answer: String,
}

pub(crate) fn parse_answer(text: &str) -> Result<Answer, ServeError> {
    Answer::parse(text).ok_or_else(|| {
        ServeError::bad_request(format!(
            "answer: `{}` is not an answer; expected yes, no or a choice's number",
            miniapp_host::sanitize::line(text)
        ))
    })
}

async fn answer(State(state): Shared, Path((id, prompt)): Path<(String, String)>, Body(bytes): Body) -> Reply {
    let request: AnswerRequest = body(&bytes)?;
    let prompt: u64 = prompt.parse().map_err(|_| ServeError::bad_request("the prompt number is not a number"))?;
    let handle = state.sessions.get(&id)?;
    handle.waiting.answer(&id, prompt, parse_answer(&request.answer)?)?;
    ok(json!({ "session": id, "prompt": prompt, "answered": true }))
}

#[derive(Deserialize)]
struct FromQuery {
    from: Option<u64>,
}

fn batch_json(batch: Batch) -> Value {
    let messages: Vec<Value> = batch.messages.iter().filter_map(|m| serde_json::from_str(m).ok()).collect();
    json!({ "messages": messages, "next": batch.next, "dropped": batch.dropped, "closed": batch.closed })
}

async fn messages(State(state): Shared, Path(id): Path<String>, Query(query): Query<FromQuery>) -> Reply {
    let handle = state.sessions.get(&id)?;
    ok(batch_json(handle.log.since(query.from.unwrap_or(0))))
}

async fn transcript(State(state): Shared, Path(id): Path<String>) -> Reply {
    let handle = state.sessions.get(&id)?;
    let document = handle.transcript().await?;
    let mut response = axum::Json(document).into_response();
    if let Ok(value) = format!("attachment; filename=\"{}-{id}.transcript.json\"", handle.program).parse() {
        response.headers_mut().insert(axum::http::header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn stream(
    State(state): Shared,
    Path(id): Path<String>,
    Query(query): Query<FromQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Reply {
    let upgrade = upgrade.map_err(|e| ServeError::bad_request(format!("this route is a WebSocket: {e}")))?;
    let handle = state.sessions.get(&id)?;
    let from = query.from.unwrap_or(0);
    Ok(upgrade.on_upgrade(move |socket| follow(socket, handle, from)))
}

/// A session's WebSocket: every message from `from` on as it happens, and the
/// driver's commands (`event`, `back`, `refresh`, `show`, `hide`, `relaunch`,
/// `answer`), each answered with a `reply` carrying the command's `id`.
async fn follow(socket: WebSocket, handle: Arc<Handle>, from: u64) {
    let (mut sink, mut incoming) = socket.split();
    let (replies, mut replied) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut changed = handle.log.subscribe();
    let mut next = from;
    let reader_handle = handle.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = incoming.next().await {
            let text = match frame {
                Frame::Text(text) => text.to_string(),
                Frame::Close(_) => break,
                _ => continue,
            };
            command(&reader_handle, &text, &replies);
        }
    });
    'stream: loop {
        let batch = handle.log.since(next);
        next = batch.next;
        if batch.dropped > 0 {
            let notice = json!({ "type": "dropped", "count": batch.dropped }).to_string();
            if sink.send(Frame::Text(notice.into())).await.is_err() {
                break;
            }
        }
        for message in batch.messages {
            if sink.send(Frame::Text(message.to_string().into())).await.is_err() {
                break 'stream;
            }
        }
        if batch.closed {
            break;
        }
        tokio::select! {
            seen = changed.changed() => if seen.is_err() { break },
            // With the reader gone (the client closed), this branch is disabled.
            // A reply follows what its command caused: the session pushed that
            // before replying, so send the log up to now first.
            Some(reply) = replied.recv() => {
                let batch = handle.log.since(next);
                next = batch.next;
                for message in batch.messages {
                    if sink.send(Frame::Text(message.to_string().into())).await.is_err() {
                        break 'stream;
                    }
                }
                if sink.send(Frame::Text(reply.into())).await.is_err() {
                    break;
                }
            },
        }
    }
    reader.abort();
    let _ = sink.send(Frame::Close(None)).await;
}

/// One command from a session's WebSocket. An answer is given at once (the
/// session may be waiting on it); the rest are queued for the session and
/// replied to when done.
fn command(handle: &Arc<Handle>, text: &str, replies: &tokio::sync::mpsc::UnboundedSender<String>) {
    let request: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            let error = ServeError::InvalidJson { message: error.to_string() };
            let _ = replies.send(json!({ "type": "reply", "id": null, "error": error.to_json() }).to_string());
            return;
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let reply = move |result: Result<Value, ServeError>| {
        let message = match result {
            Ok(result) => json!({ "type": "reply", "id": id, "result": result }),
            Err(error) => json!({ "type": "reply", "id": id, "error": error.to_json() }),
        };
        message.to_string()
    };
    let kind = request.get("type").and_then(Value::as_str).unwrap_or("");
    let action = match kind {
        "answer" => {
            let result = (|| {
                let prompt = request
                    .get("prompt")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| ServeError::bad_request("answer: `prompt` must be the prompt's number"))?;
                let answer = request
                    .get("answer")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ServeError::bad_request("answer: `answer` must be yes, no or a number"))?;
                handle.waiting.answer(&handle.id, prompt, parse_answer(answer)?)?;
                Ok(json!({ "answered": prompt }))
            })();
            let _ = replies.send(reply(result));
            return;
        }
        "event" => match driver_event(request.get("event").cloned().unwrap_or(Value::Null)) {
            Ok(event) => Ok(Some(Action::Event(event))),
            Err(error) => Err(error),
        },
        "back" => Ok(Some(Action::Back)),
        "refresh" => Ok(Some(Action::Refresh)),
        "show" => Ok(Some(Action::Show)),
        "hide" => Ok(Some(Action::Hide)),
        "relaunch" => Ok(None),
        other => Err(ServeError::bad_request(format!(
            "unknown command `{}`; expected event, back, refresh, show, hide, relaunch or answer",
            miniapp_host::sanitize::line(other)
        ))),
    };
    let action = match action {
        Ok(action) => action,
        Err(error) => {
            let _ = replies.send(reply(Err(error)));
            return;
        }
    };
    let launch = match request.get("launch").cloned().map(serde_json::from_value::<LaunchOptions>) {
        None => Ok(None),
        Some(Ok(options)) => options.context().map(Some),
        Some(Err(error)) => Err(ServeError::bad_request(format!("launch: {error}"))),
    };
    let (handle, replies) = (handle.clone(), replies.clone());
    tokio::spawn(async move {
        let result = match (action, launch) {
            (_, Err(error)) => Err(error),
            (Some(action), _) => handle.act(action).await,
            (None, Ok(context)) => handle.relaunch(context, None).await,
        };
        let _ = replies.send(reply(result));
    });
}
