#![deny(missing_docs)]
//! # miniapp server
//!
//! A miniapp [`Host`] served over HTTP and WebSocket, for whoever drives
//! sessions: a browser (the web DevTools this crate serves), a test, or a
//! platform's own front end. Many sessions run at once, each in its own task:
//! one session's failure never reaches another. What a session does — views,
//! output, host notices, host calls with request, reply and timing, prompts, its
//! end — is streamed as JSON messages; the host's prompts (payment sheet,
//! consent, link confirmations, address picker) are answered through the API.
//!
//! Safe by default: it binds loopback, and every request and WebSocket must carry
//! the access token (random unless configured). `docs/server.md` documents every
//! route and message.
//!
//! ```no_run
//! use miniapp_server::{Server, ServerConfig};
//! # async fn demo(host: miniapp_host::Host) -> Result<(), miniapp_server::ServeError> {
//! let server = Server::new(host, miniapp_providers::ScenarioSwitch::default(), ServerConfig::default());
//! let running = server.bind().await?;
//! println!("serving on {}", running.url());
//! running.wait().await;
//! # Ok(()) }
//! ```
//!
//! The pieces: `api` (the routes), `auth` (the token), `failure` (JSON errors
//! with stable codes), `sessions` (the registry and each session's task), `user`
//! (prompts answered through the API), `messages` (what is streamed), `panels`
//! (the host's records a DevTools shows), `page` (the DevTools page), [`build`]
//! (a program's build command) and [`watch`] (rebuild and relaunch on change).

mod api;
mod auth;
pub mod build;
mod failure;
mod messages;
mod page;
mod panels;
mod sessions;
mod user;
pub mod watch;

pub use failure::ServeError;

use miniapp_host::{App, Host};
use miniapp_providers::ScenarioSwitch;
use sessions::Sessions;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where it listens (default `127.0.0.1:0`: loopback, any free port).
    pub bind: SocketAddr,
    /// Whether it may listen on an address other than loopback; without it a
    /// non-loopback `bind` is refused.
    pub allow_remote: bool,
    /// The access token; random when unset.
    pub token: Option<String>,
    /// Sessions open at once; one more is refused with `session_limit`.
    pub max_sessions: usize,
    /// Programs loaded at once; one more is refused with `program_limit`.
    pub max_programs: usize,
    /// How long a prompt waits for its answer before it counts as unanswered
    /// (a declined prompt, as when nobody is at the device).
    pub prompt_timeout: Duration,
    /// Messages a session keeps for streams that connect late; older ones are
    /// dropped (a stream starting before them is told how many).
    pub max_session_messages: usize,
    /// Bytes of messages a session keeps, the same way: a thousand sessions
    /// of large views must not hold the host's memory.
    pub max_session_bytes: usize,
    /// Whether `POST /api/programs` may run a program's build command (a
    /// command from the program's own manifest, run on this machine): on for
    /// the developer's `miniapp dev`, off unless asked for otherwise.
    pub allow_builds: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_remote: false,
            token: None,
            max_sessions: 1_000,
            max_programs: 64,
            prompt_timeout: Duration::from_secs(600),
            max_session_messages: 10_000,
            max_session_bytes: 4 << 20,
            allow_builds: false,
        }
    }
}

/// A server: the host, its programs and sessions. Bind it to serve.
pub struct Server {
    state: Arc<ServerState>,
}

/// What every request handler shares.
pub(crate) struct ServerState {
    pub host: Host,
    pub switch: ScenarioSwitch,
    pub config: ServerConfig,
    pub token: String,
    pub programs: RwLock<BTreeMap<String, App>>,
    pub sessions: Sessions,
    /// The program the DevTools page opens, if the server was started for one.
    pub dev_program: RwLock<Option<String>>,
    /// The last build's outcome in watch mode: `None` while it is good.
    pub build_error: RwLock<Option<String>>,
}

impl Server {
    /// A server for `host`. `switch` is the scenario switch the host's payment
    /// simulators were given (`miniapp_providers::install_switched`), which the
    /// payment-scenario route sets; one they were not given changes nothing.
    pub fn new(host: Host, switch: ScenarioSwitch, config: ServerConfig) -> Server {
        let token = config.token.clone().unwrap_or_else(auth::random_token);
        let sessions = Sessions::new(config.max_sessions);
        let state = ServerState {
            host,
            switch,
            config,
            token,
            programs: RwLock::new(BTreeMap::new()),
            sessions,
            dev_program: RwLock::new(None),
            build_error: RwLock::new(None),
        };
        Server { state: Arc::new(state) }
    }

    /// Adds a loaded program (replacing one of the same id); returns its id.
    pub fn add_program(&self, app: App) -> Result<String, ServeError> {
        self.state.add_program(app)
    }

    /// Makes `program_id` the program the DevTools page opens.
    pub fn set_dev_program(&self, program_id: &str) {
        *self.state.dev_program.write().unwrap_or_else(|p| p.into_inner()) = Some(program_id.to_string());
    }

    /// The access token every request must carry.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// Starts listening; the server runs until [`Running::stop`].
    pub async fn bind(self) -> Result<Running, ServeError> {
        let bind = self.state.config.bind;
        if !bind.ip().is_loopback() && !self.state.config.allow_remote {
            return Err(ServeError::RemoteRefused { bind });
        }
        let listener = tokio::net::TcpListener::bind(bind).await.map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => ServeError::AddressInUse { bind },
            _ => ServeError::Bind { bind, source },
        })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { bind, source })?;
        let router = api::router(self.state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(shutdown).await {
                tracing::error!("the server stopped: {error}");
            }
        });
        Ok(Running { addr, state: self.state, stop: Some(stop), serving })
    }
}

/// A listening server.
pub struct Running {
    addr: SocketAddr,
    state: Arc<ServerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The access token.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// The DevTools page's address, with the token.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.state.token)
    }

    /// A handle for rebuilding and relaunching a program (watch mode).
    pub fn reloader(&self) -> watch::Reloader {
        watch::Reloader::new(self.state.clone())
    }

    /// Stops accepting requests, ends every session and waits for the server to stop.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.state.sessions.close_all().await;
        let _ = (&mut self.serving).await;
    }

    /// Serves until the process is interrupted (Ctrl-C), then stops.
    pub async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
        self.stop().await;
    }
}

impl ServerState {
    pub(crate) fn add_program(&self, app: App) -> Result<String, ServeError> {
        let id = app.program().id.clone();
        let mut programs = self.programs.write().unwrap_or_else(|p| p.into_inner());
        if !programs.contains_key(&id) && programs.len() >= self.config.max_programs {
            return Err(ServeError::ProgramLimit { limit: self.config.max_programs });
        }
        programs.insert(id.clone(), app);
        Ok(id)
    }

    pub(crate) fn program(&self, id: &str) -> Option<App> {
        self.programs.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }
}
