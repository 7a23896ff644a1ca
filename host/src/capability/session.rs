//! What a host call knows of the session it comes from: the user, the surface,
//! the user action being handled, once-per-launch marks, where notices go, and
//! each capability's own per-session state (made by [`super::Capability::prepare`]).

use super::program::ProgramInfo;
use crate::consent::User;
use crate::sandbox::OutputCapture;
use miniapp_abi::lifecycle::Surface;
use std::any::Any;
use std::sync::Arc;

/// What a capability keeps for one session (a page stack, say).
pub type SessionData = Arc<dyn Any + Send + Sync>;

/// The session a host call comes from.
#[derive(Clone)]
pub struct SessionView {
    /// The person using the program; the host asks them, never the guest.
    pub user: Arc<dyn User>,
    /// The surface the program was launched on.
    pub surface: Surface,
    /// Whether the program is handling a tap right now.
    pub gesture: bool,
    /// The user action the running callback handles, which one payment sheet may use.
    pub action: UserAction,
    /// Where to report what the host did for the program.
    pub output: OutputCapture,
    /// Things the session may do at most once per launch.
    pub once: OncePerLaunch,
    /// The capabilities that keep state for this session, with that state.
    pub states: Arc<[CapabilityState]>,
}

/// One capability's state for a session, as its `prepare` made it.
#[derive(Clone)]
pub struct CapabilityState {
    /// The capability.
    pub capability: Arc<dyn super::Capability>,
    /// Its state.
    pub data: SessionData,
}

/// What the dispatcher needs from a store's state besides its sandbox: the
/// calling program and its session.
pub struct CallState {
    /// The program.
    pub program: Arc<ProgramInfo>,
    /// Its session.
    pub session: SessionView,
    /// Who watches host calls (a transcript, a debugger).
    pub observers: Vec<Arc<dyn CallObserver>>,
}

/// A store state the dispatcher can serve host calls for.
pub trait Calling {
    /// The call state.
    fn call_state(&self) -> &CallState;
}

/// Watches host calls as they are answered: the request, the status, the reply
/// and how long the host took.
pub trait CallObserver: Send + Sync + 'static {
    /// One answered host call of `capability.function`.
    fn host_call(
        &self,
        capability: &str,
        function: &str,
        request: &[u8],
        status: i32,
        reply: &[u8],
        took: std::time::Duration,
    );
}

/// The user's action a callback handles (opening the program, a tap), which a
/// screen that needs one — the payment sheet — may use once. Nothing else a
/// program does (a page event, a show, a timer) carries one.
#[derive(Clone, Default)]
pub struct UserAction {
    available: Arc<std::sync::atomic::AtomicBool>,
}

impl UserAction {
    /// The callback about to run handles a user action (`true`) or not.
    pub fn set(&self, handles_one: bool) {
        self.available.store(handles_one, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the action is there to use.
    pub fn available(&self) -> bool {
        self.available.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Uses the action up; `false` if the callback handles none or it was used.
    pub fn take(&self) -> bool {
        self.available.swap(false, std::sync::atomic::Ordering::SeqCst)
    }
}

/// Marks of things a session may do at most once per launch (asking the user again
/// for a scope they refused, …).
#[derive(Clone, Default)]
pub struct OncePerLaunch {
    marks: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl OncePerLaunch {
    /// Marks `what`; returns whether this is the first time in this launch.
    pub fn first(&self, what: &str) -> bool {
        self.marks.lock().unwrap_or_else(|p| p.into_inner()).insert(what.to_string())
    }
}
