//! Drives a session the way a person does: launch, taps and text input, the
//! host's back button, a refresh, show and hide, with the screen the view
//! capability keeps for the session (the session itself delivers the `page`
//! events the ABI promises). A [`Transcript`], when given, records all of it.
//!
//! The terminal front end (`miniapp run`) and scripts ([`script`]) both drive
//! sessions through a [`Driver`], so a scripted run is the interactive run minus
//! the person.

pub mod replay;
pub mod script;

use crate::capabilities::view::{PageEntry, Screen};
use crate::error::SessionError;
use crate::sandbox::CapturedOutput;
use crate::session::Session;
use crate::transcript::{Record, Transcript};
use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_abi::view::PageReason;
use std::sync::Arc;

/// A session with its screen, driven by a person or a script.
pub struct Driver {
    session: Session,
    screen: Option<Arc<Screen>>,
    transcript: Option<Transcript>,
    recorded_version: Option<u64>,
    /// The last reply of each host function, once a script asked to check them.
    last_call: Option<Arc<LastCall>>,
    /// Steps recorded by [`Driver::record_step`].
    steps_taken: usize,
}

/// A host call as a script sees it: which, its status, its reply as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCall {
    /// `capability.function`.
    pub function: String,
    /// 0, or the error code's number.
    pub status: i32,
    /// The reply (the error object on failure), as text.
    pub reply: String,
}

/// Keeps the session's last call of each host function (`expect reply`).
#[derive(Default)]
struct LastCall(std::sync::Mutex<std::collections::HashMap<String, HostCall>>);

impl crate::capability::CallObserver for LastCall {
    fn host_call(&self, capability: &str, function: &str, _: &[u8], status: i32, reply: &[u8], _: std::time::Duration) {
        let call = HostCall {
            function: format!("{capability}.{function}"),
            status,
            reply: String::from_utf8_lossy(reply).into_owned(),
        };
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(call.function.clone(), call);
    }
}

impl crate::session::SessionObserver for LastCall {}

impl Driver {
    /// Drives `session`, recording into `transcript` if given.
    pub fn new(mut session: Session, transcript: Option<Transcript>) -> Driver {
        if let Some(transcript) = &transcript {
            session.observe(Arc::new(transcript.clone()));
        }
        let screen = session.data::<Screen>(miniapp_abi::view::CAPABILITY);
        Driver { session, screen, transcript, recorded_version: None, last_call: None, steps_taken: 0 }
    }

    /// From now on keeps the last reply of each host function, for
    /// [`Driver::last_host_call`] (a script that checks replies turns it on).
    pub fn keep_replies(&mut self) {
        if self.last_call.is_none() {
            let last_call = Arc::new(LastCall::default());
            self.session.observe(last_call.clone());
            self.last_call = Some(last_call);
        }
    }

    /// Records a step the person took (`tap cart.add {"id":1042}`, `back`) in the
    /// transcript, if there is one, in the script language (docs/scripts.md): a
    /// replay runs it again.
    pub fn record_step(&mut self, step: &str) {
        if let Some(transcript) = &self.transcript {
            self.steps_taken += 1;
            transcript.record(Record::Step { line: self.steps_taken, step: step.to_string() });
        }
    }

    /// The step a person's event is, in the script language.
    pub fn step_of(event: &Event) -> String {
        // A name a script reads back as one bare word; anything else is written as the raw event.
        let bare = |name: &str| {
            !name.is_empty()
                && !name.starts_with(['"', '#', '{', '['])
                && !name.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        match event {
            Event::Tap { action, payload } if bare(action) && payload.is_null() => format!("tap {action}"),
            Event::Tap { action, payload } if bare(action) => format!("tap {action} {payload}"),
            Event::Input { field, value } if bare(field) => {
                format!("input {field} {}", serde_json::Value::String(value.clone()))
            }
            other => format!("event {}", serde_json::to_string(other).unwrap_or_default()),
        }
    }

    /// The session's last call of `function` (`capability.function`) since
    /// [`Driver::keep_replies`], if it made one.
    pub fn last_host_call(&self, function: &str) -> Option<HostCall> {
        let calls = self.last_call.as_ref()?;
        calls.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(function).cloned()
    }

    /// The session.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Whether the program shows views (declares the `view` capability).
    pub fn has_screen(&self) -> bool {
        self.screen.is_some()
    }

    /// The page on top with its view, the stack's depth and its limit.
    pub fn top(&self) -> Option<(PageEntry, u32, u32)> {
        let screen = self.screen.as_ref()?;
        let (top, depth) = screen.top();
        Some((top, depth, screen.max_pages()))
    }

    /// The pages on the stack, first page first (empty without a screen).
    pub fn pages(&self) -> Vec<miniapp_abi::view::Page> {
        self.screen.as_ref().map(|screen| screen.pages()).unwrap_or_default()
    }

    /// Why the program was ended by the host, if it was.
    pub fn ended(&self) -> Option<&SessionError> {
        self.session.ended()
    }

    /// Launches the program at `context`'s page.
    pub async fn launch(&mut self, context: &LaunchContext) -> Result<(), SessionError> {
        self.record(|| Record::Launch { context: context.clone() });
        self.session.launch(context).await
    }

    /// Delivers `event` (a tap, an input, a custom event).
    pub async fn event(&mut self, event: &Event) -> Result<(), SessionError> {
        self.session.event(event).await
    }

    /// The program comes to the foreground.
    pub async fn show(&mut self) -> Result<(), SessionError> {
        self.record(|| Record::Lifecycle { callback: "show".into() });
        self.session.show().await
    }

    /// The program goes to the background.
    pub async fn hide(&mut self) -> Result<(), SessionError> {
        self.record(|| Record::Lifecycle { callback: "hide".into() });
        self.session.hide().await
    }

    /// The host's back button: closes the top page and tells the program. Returns
    /// `Ok(false)` on the first page, where there is nothing to close.
    pub async fn back(&mut self) -> Result<bool, SessionError> {
        let Some(screen) = &self.screen else { return Ok(false) };
        if !screen.user_back() {
            return Ok(false);
        }
        self.session.follow_up().await?;
        Ok(true)
    }

    /// Asks the program for a fresh view of the page on top.
    pub async fn refresh(&mut self) -> Result<(), SessionError> {
        let Some((top, _, _)) = self.top() else { return Ok(()) };
        let event = Event::Page { reason: PageReason::Refresh, path: top.page.path, query: top.page.query };
        match self.session.event(&event).await {
            Err(error) if error.ends_program() => Err(error),
            _ => Ok(()),
        }
    }

    /// Takes what the program printed (and the host did for it) since last asked.
    pub fn take_output(&mut self) -> CapturedOutput {
        let output = self.session.take_output();
        if let Some(transcript) = &self.transcript {
            transcript.output(&output);
        }
        output
    }

    /// Whether the view on screen changed since last asked; records it if so.
    pub fn view_changed(&mut self) -> bool {
        let Some(screen) = &self.screen else { return false };
        let version = screen.version();
        if self.recorded_version == Some(version) {
            return false;
        }
        self.recorded_version = Some(version);
        if let (Some(transcript), (top, depth)) = (&self.transcript, screen.top())
            && let Some(view) = top.view
        {
            transcript.record(Record::View { page: top.page, depth, view });
        }
        true
    }

    fn record(&self, record: impl FnOnce() -> Record) {
        if let Some(transcript) = &self.transcript {
            transcript.record(record());
        }
    }
}
