//! Drives a session the way a person does: launch, taps and text input, the
//! host's back button, show and hide — and, after each, tells the program about
//! the page changes it made (`page` events) so that what is on screen is always
//! the view of the page on top. A [`Transcript`], when given, records all of it.
//!
//! The terminal front end (`miniapp run`) and scripts ([`script`]) both drive
//! sessions through a [`Driver`], so a scripted run is the interactive run minus
//! the person.

pub mod script;

use crate::capability::view::{PageEntry, Screen, ViewGrant};
use crate::error::SessionError;
use crate::sandbox::{CapturedOutput, Notice};
use crate::session::Session;
use crate::transcript::{Record, Transcript};
use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_abi::view::{Page, PageReason};
use std::sync::Arc;
use std::time::Instant;

/// Page changes a program may chain (navigating again while handling a `page`
/// event) before the host stops telling it: a program redirecting in a loop must
/// not keep the host busy.
const MAX_CHAINED_PAGE_CHANGES: usize = 8;

/// A session with its screen, driven by a person or a script.
pub struct Driver {
    session: Session,
    screen: Option<Arc<Screen>>,
    transcript: Option<Transcript>,
    recorded_version: Option<u64>,
    /// What the driver itself has to tell the person, shown with the next output.
    notices: Vec<Notice>,
}

impl Driver {
    /// Drives `session`, recording into `transcript` if given.
    pub fn new(mut session: Session, transcript: Option<Transcript>) -> Driver {
        if let Some(transcript) = &transcript {
            session.record_to(transcript.clone());
        }
        let grant = session.app().program().grant(miniapp_abi::view::CAPABILITY).ok();
        let screen = grant
            .as_ref()
            .and_then(|grant| grant.downcast_ref::<ViewGrant>())
            .map(|grant| Screen::of(&session.slots(), grant));
        Driver { session, screen, transcript, recorded_version: None, notices: Vec::new() }
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

    /// Why the program was ended by the host, if it was.
    pub fn ended(&self) -> Option<&SessionError> {
        self.session.ended()
    }

    /// Launches the program at `context`'s page.
    pub async fn launch(&mut self, context: &LaunchContext) -> Result<(), SessionError> {
        if let Some(screen) = &self.screen {
            screen.reset(Page { path: context.path.clone(), query: context.query.clone() });
        }
        self.record(|| Record::Launch { context: context.clone() });
        let started = Instant::now();
        let result = self.session.launch(context).await;
        self.finish(miniapp_abi::EXPORT_ON_LAUNCH, started, result).await
    }

    /// Delivers `event` (a tap, an input, a custom event).
    pub async fn event(&mut self, event: &Event) -> Result<(), SessionError> {
        self.record(|| Record::Event { event: event.clone() });
        let started = Instant::now();
        let result = self.session.event(event).await;
        self.finish(miniapp_abi::EXPORT_ON_EVENT, started, result).await
    }

    /// The program comes to the foreground.
    pub async fn show(&mut self) -> Result<(), SessionError> {
        self.record(|| Record::Lifecycle { callback: "show".into() });
        let started = Instant::now();
        let result = self.session.show().await;
        self.finish(miniapp_abi::EXPORT_ON_SHOW, started, result).await
    }

    /// The program goes to the background.
    pub async fn hide(&mut self) -> Result<(), SessionError> {
        self.record(|| Record::Lifecycle { callback: "hide".into() });
        let started = Instant::now();
        let result = self.session.hide().await;
        self.finish(miniapp_abi::EXPORT_ON_HIDE, started, result).await
    }

    /// The host's back button: closes the top page and tells the program. Returns
    /// `Ok(false)` on the first page, where there is nothing to close.
    pub async fn back(&mut self) -> Result<bool, SessionError> {
        let Some(screen) = &self.screen else { return Ok(false) };
        if !screen.user_back() {
            return Ok(false);
        }
        self.settle().await?;
        Ok(true)
    }

    /// Asks the program for a fresh view of the page on top.
    pub async fn refresh(&mut self) -> Result<(), SessionError> {
        let Some((top, _, _)) = self.top() else { return Ok(()) };
        self.page_event(PageReason::Refresh, top.page).await?;
        self.settle().await
    }

    /// Takes what the program printed (and the host did for it) since last asked.
    pub fn take_output(&mut self) -> CapturedOutput {
        let mut output = self.session.take_output();
        output.notices.append(&mut self.notices);
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

    /// Records how a callback ended, then follows the page changes it made. A
    /// callback that reported failure still changed what it changed.
    async fn finish(
        &mut self,
        callback: &str,
        started: Instant,
        result: Result<(), SessionError>,
    ) -> Result<(), SessionError> {
        let result = self.record_outcome(callback, started, result);
        if let Err(error) = &result
            && error.ends_program()
        {
            return result;
        }
        self.settle().await?;
        result
    }

    /// Records a callback's result, and the end of the program if it ended.
    fn record_outcome(
        &self,
        callback: &str,
        started: Instant,
        result: Result<(), SessionError>,
    ) -> Result<(), SessionError> {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let outcome = result.as_ref().map_or_else(|e| e.to_string(), |()| "ok".to_string());
        self.record(|| Record::Callback { callback: callback.to_string(), result: outcome, micros });
        if let Err(error) = &result
            && error.ends_program()
        {
            self.record(|| Record::Ended { reason: error.to_string() });
        }
        result
    }

    /// Tells the program about page changes until it stops making them.
    async fn settle(&mut self) -> Result<(), SessionError> {
        let Some(screen) = self.screen.clone() else { return Ok(()) };
        for _ in 0..MAX_CHAINED_PAGE_CHANGES {
            let Some((reason, page)) = screen.take_pending() else { return Ok(()) };
            self.page_event(reason, page).await?;
        }
        if screen.take_pending().is_some() {
            let program = self.session.app().program().id.clone();
            let message = format!(
                "{program} changed pages {MAX_CHAINED_PAGE_CHANGES} times in a row without a user action; \
                 the host stopped following"
            );
            self.notices.push(Notice { capability: miniapp_abi::view::CAPABILITY.into(), message });
        }
        Ok(())
    }

    /// Delivers a `page` event; only the program's end stops the caller.
    async fn page_event(&mut self, reason: PageReason, page: Page) -> Result<(), SessionError> {
        let event = Event::Page { reason, path: page.path, query: page.query };
        self.record(|| Record::Event { event: event.clone() });
        let started = Instant::now();
        let result = self.session.event(&event).await;
        match self.record_outcome(miniapp_abi::EXPORT_ON_EVENT, started, result) {
            Err(error) if error.ends_program() => Err(error),
            _ => Ok(()),
        }
    }

    fn record(&self, record: impl FnOnce() -> Record) {
        if let Some(transcript) = &self.transcript {
            transcript.record(record());
        }
    }
}
