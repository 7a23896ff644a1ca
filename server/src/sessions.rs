//! The sessions a server runs: a registry bounded by `max_sessions`, and one
//! task per session that owns its [`Driver`] and does, in order, what the API
//! asks of it (launch, events, back, refresh, show, hide, relaunch). Each session
//! is alone in its task: a program that fails, traps or is ended touches nothing
//! else, and a request for it waits only for it.

use crate::ServerState;
use crate::failure::ServeError;
use crate::messages::{Log, Message, Streamer, push_output};
use crate::user::{RemoteUser, Waiting};
use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_host::driver::Driver;
use miniapp_host::transcript::{RecordingUser, Transcript};
use miniapp_host::{App, SessionError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Commands queued for one session before the caller is told to slow down.
const COMMAND_QUEUE: usize = 64;

/// What a driver asks a session to do.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Deliver an event (a tap, an input, a custom event).
    Event(Event),
    /// The host's back button.
    Back,
    /// Ask for a fresh view of the page on top.
    Refresh,
    /// The program comes to the foreground.
    Show,
    /// The program goes to the background.
    Hide,
}

enum Command {
    Act(Action, oneshot::Sender<Result<Value, ServeError>>),
    /// Start the program afresh (from `app` if given: a rebuilt module) at
    /// `context` (else where it was last launched); its storage stays.
    Relaunch(Option<LaunchContext>, Option<App>, oneshot::Sender<Result<Value, ServeError>>),
    Transcript(oneshot::Sender<Value>),
}

/// The open sessions.
pub(crate) struct Sessions {
    max: usize,
    next: AtomicU64,
    /// Open sessions plus those being opened, so the limit holds under races.
    reserved: AtomicUsize,
    open: Mutex<BTreeMap<String, Arc<Handle>>>,
}

/// One open session, as requests see it.
pub(crate) struct Handle {
    pub id: String,
    pub program: String,
    pub user: String,
    pub log: Arc<Log>,
    pub waiting: Arc<Waiting>,
    commands: mpsc::Sender<Command>,
    state: Mutex<Snapshot>,
    /// Tells the task to stop, and hears that it has.
    stop: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

/// What a session's task last reported.
#[derive(Clone)]
struct Snapshot {
    context: LaunchContext,
    ended: Option<String>,
    module_sha256: String,
}

impl Sessions {
    pub(crate) fn new(max: usize) -> Sessions {
        Sessions { max, next: AtomicU64::new(1), reserved: AtomicUsize::new(0), open: Mutex::new(BTreeMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Handle>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session `id`.
    pub(crate) fn get(&self, id: &str) -> Result<Arc<Handle>, ServeError> {
        self.lock().get(id).cloned().ok_or_else(|| ServeError::UnknownSession { id: id.to_string() })
    }

    /// Every open session.
    pub(crate) fn list(&self) -> Vec<Arc<Handle>> {
        self.lock().values().cloned().collect()
    }

    /// Starts `app` for `user` in a new session and queues its launch at
    /// `context`; the launch's views and prompts arrive on the session's stream.
    pub(crate) async fn open(
        &self,
        server: &ServerState,
        app: App,
        context: LaunchContext,
        user: String,
    ) -> Result<Arc<Handle>, ServeError> {
        // The slot is taken first, so the limit holds while sessions start at once.
        let slot = Slot::take(&self.reserved, self.max)?;
        let id = format!("s{}", self.next.fetch_add(1, Ordering::Relaxed));
        let log = Arc::new(Log::new(server.config.max_session_messages, server.config.max_session_bytes));
        let waiting = Arc::new(Waiting::default());
        let transcript = Transcript::new();
        let person = Arc::new(RemoteUser {
            id: user.clone(),
            log: log.clone(),
            waiting: waiting.clone(),
            timeout: server.config.prompt_timeout,
        });
        let driver = start_driver(&app, person.clone(), &transcript, &log).await?;
        let program = app.program().clone();
        log.push(Message::Started {
            session: id.clone(),
            program: program.id.clone(),
            name: program.name.clone(),
            version: program.version.clone(),
            user: user.clone(),
        });
        let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
        let (finished, done) = oneshot::channel();
        let (stop, stopped) = oneshot::channel();
        let snapshot = Snapshot { context: context.clone(), ended: None, module_sha256: program.module_hash.clone() };
        let handle = Arc::new(Handle {
            id: id.clone(),
            program: program.id.clone(),
            user,
            log,
            waiting,
            commands,
            state: Mutex::new(snapshot),
            stop: Mutex::new(Some((stop, done))),
        });
        let task = Task { driver, app, person, transcript, handle: handle.clone() };
        tokio::spawn(async move {
            task.run(queue, stopped, context).await;
            let _ = finished.send(());
        });
        self.lock().insert(id, handle.clone());
        slot.keep();
        Ok(handle)
    }

    /// Closes session `id`: declines its prompts, lets what it is doing finish,
    /// ends it and forgets it.
    pub(crate) async fn close(&self, id: &str) -> Result<(), ServeError> {
        let handle = self.lock().remove(id).ok_or_else(|| ServeError::UnknownSession { id: id.to_string() })?;
        self.reserved.fetch_sub(1, Ordering::SeqCst);
        handle.waiting.close();
        let stop = handle.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((stop, done)) = stop {
            let _ = stop.send(());
            let _ = done.await;
        }
        Ok(())
    }

    /// Closes every session (the server is stopping).
    pub(crate) async fn close_all(&self) {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        for id in ids {
            let _ = self.close(&id).await;
        }
    }
}

/// A reserved place in the session limit, given back unless kept.
struct Slot<'a> {
    reserved: &'a AtomicUsize,
    kept: bool,
}

impl<'a> Slot<'a> {
    fn take(reserved: &'a AtomicUsize, max: usize) -> Result<Slot<'a>, ServeError> {
        if reserved.fetch_add(1, Ordering::SeqCst) >= max {
            reserved.fetch_sub(1, Ordering::SeqCst);
            return Err(ServeError::SessionLimit { limit: max });
        }
        Ok(Slot { reserved, kept: false })
    }

    /// The session opened: the place is its own until it closes.
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.reserved.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Handle {
    /// Does `action` and answers once the program has handled it (and the
    /// events it chained).
    pub(crate) async fn act(&self, action: Action) -> Result<Value, ServeError> {
        if let Some(reason) = self.snapshot().ended {
            return Err(ServeError::SessionEnded { id: self.id.clone(), reason });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Act(action, reply)).await?;
        answer.await.map_err(|_| self.closed())?
    }

    /// Relaunches the program, at `context` if given.
    pub(crate) async fn relaunch(&self, context: Option<LaunchContext>, app: Option<App>) -> Result<Value, ServeError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Relaunch(context, app, reply)).await?;
        answer.await.map_err(|_| self.closed())?
    }

    /// The session's transcript as one JSON document.
    pub(crate) async fn transcript(&self) -> Result<Value, ServeError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Transcript(reply)).await?;
        answer.await.map_err(|_| self.closed())
    }

    /// The session as the API describes it.
    pub(crate) fn describe(&self) -> Value {
        let snapshot = self.snapshot();
        let prompts: Vec<Value> = self
            .waiting
            .pending()
            .into_iter()
            .map(|(id, prompt)| serde_json::json!({ "prompt": id, "kind": prompt.kind(), "lines": prompt.lines() }))
            .collect();
        serde_json::json!({
            "session": self.id,
            "program": self.program,
            "user": self.user,
            "launch": snapshot.context,
            "module_sha256": snapshot.module_sha256,
            "ended": snapshot.ended,
            "prompts": prompts,
            "next_seq": self.log.since(u64::MAX).next,
        })
    }

    fn snapshot(&self) -> Snapshot {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        change(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    async fn send(&self, command: Command) -> Result<(), ServeError> {
        self.commands.send(command).await.map_err(|_| self.closed())
    }

    fn closed(&self) -> ServeError {
        ServeError::SessionClosed { id: self.id.clone() }
    }
}

/// A session's own task.
struct Task {
    driver: Driver,
    app: App,
    person: Arc<RemoteUser>,
    transcript: Transcript,
    handle: Arc<Handle>,
}

impl Task {
    async fn run(
        mut self,
        mut queue: mpsc::Receiver<Command>,
        mut stop: oneshot::Receiver<()>,
        context: LaunchContext,
    ) {
        self.launch(&context).await;
        loop {
            let command = tokio::select! {
                biased;
                _ = &mut stop => break,
                command = queue.recv() => match command {
                    Some(command) => command,
                    None => break,
                },
            };
            match command {
                Command::Act(action, reply) => {
                    let result = self.act(action).await;
                    self.present();
                    let _ = reply.send(result);
                }
                Command::Relaunch(context, app, reply) => {
                    let result = self.relaunch(context, app).await;
                    let _ = reply.send(result);
                }
                Command::Transcript(reply) => {
                    let context = self.handle.snapshot().context;
                    let header = miniapp_host::transcript::header(&self.app, context.surface);
                    let _ = reply.send(self.transcript.to_json(header));
                }
            }
        }
        self.handle.waiting.decline_all();
        self.handle.log.push(Message::Closed {});
    }

    async fn launch(&mut self, context: &LaunchContext) {
        self.handle.log.push(Message::Launched {
            context: context.clone(),
            module_sha256: self.app.program().module_hash.clone(),
        });
        let launched = self.driver.launch(context).await;
        self.present();
        if let Err(error) = launched
            && !error.ends_program()
        {
            // A launch that reports failure did not start the program.
            self.handle.log.push(Message::Ended { reason: sanitized(&error) });
            self.handle.update(|s| s.ended = Some(sanitized(&error)));
        }
    }

    async fn act(&mut self, action: Action) -> Result<Value, ServeError> {
        let result = match action {
            Action::Event(event) => self.driver.event(&event).await,
            Action::Back => match self.driver.back().await {
                Ok(false) => return Ok(serde_json::json!({ "ok": true, "closed_page": false })),
                other => other.map(|_| ()),
            },
            Action::Refresh => self.driver.refresh().await,
            Action::Show => self.driver.show().await,
            Action::Hide => self.driver.hide().await,
        };
        match result {
            Ok(()) => Ok(serde_json::json!({ "ok": true })),
            Err(error) if error.ends_program() || matches!(error, SessionError::AlreadyEnded { .. }) => {
                Err(ServeError::SessionEnded { id: self.handle.id.clone(), reason: sanitized(&error) })
            }
            // The program handled it and said it failed; it runs on.
            Err(error) => Ok(serde_json::json!({ "ok": false, "failure": sanitized(&error) })),
        }
    }

    async fn relaunch(&mut self, context: Option<LaunchContext>, app: Option<App>) -> Result<Value, ServeError> {
        let app = app.unwrap_or_else(|| self.app.clone());
        let context = context.unwrap_or_else(|| self.handle.snapshot().context);
        let driver = start_driver(&app, self.person.clone(), &self.transcript, &self.handle.log).await?;
        self.driver = driver;
        let module = app.program().module_hash.clone();
        self.app = app;
        self.handle.update(|s| {
            s.context = context.clone();
            s.ended = None;
            s.module_sha256 = module;
        });
        self.launch(&context).await;
        Ok(serde_json::json!({ "ok": self.handle.snapshot().ended.is_none() }))
    }

    /// Streams what happened since last time: output, notices, the view if it
    /// changed, and the end.
    fn present(&mut self) {
        push_output(&self.handle.log, self.driver.take_output());
        if self.driver.view_changed()
            && let Some((top, depth, max_pages)) = self.driver.top()
        {
            let pages = self.driver.pages();
            self.handle.log.push(Message::View { page: top.page, depth, max_pages, pages, view: top.view });
        }
        if let Some(ended) = self.driver.ended() {
            let reason = sanitized(ended);
            self.handle.update(|s| s.ended = Some(reason));
        }
    }
}

/// A new session of `app` for `person`, recorded in `transcript` and streamed to `log`.
async fn start_driver(
    app: &App,
    person: Arc<RemoteUser>,
    transcript: &Transcript,
    log: &Arc<Log>,
) -> Result<Driver, ServeError> {
    let user = Arc::new(RecordingUser::new(person, transcript.clone()));
    let session = app.start_with_user(user).await.map_err(|source| ServeError::Start { source })?;
    let mut driver = Driver::new(session, Some(transcript.clone()));
    driver.session().observe(Arc::new(Streamer { log: log.clone() }));
    Ok(driver)
}

fn sanitized(error: &SessionError) -> String {
    miniapp_host::sanitize::line(&crate::messages::one_line(error))
}
