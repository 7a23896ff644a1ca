//! The sandbox one program runs in: its store state, its WASI context with no
//! ambient authority, its resource limiter, its captured output and its clocks.
//!
//! What a guest may touch is decided here. WASI preview 1 is linked for the
//! conveniences of `std` (printing, random numbers, a coarse clock) with no
//! preopened directories, no environment, no arguments and stdin closed; stdout and
//! stderr go to bounded per-callback buffers.

mod budget;
mod clock;
mod fault;
mod limiter;
mod output;
mod poll;

pub use budget::RunMeter;

pub(crate) use budget::CallbackBudget;
pub use fault::{Fault, LimitKind};
pub use output::{CapturedOutput, Notice, OutputCapture};

use crate::app::ProgramInfo;
use crate::boundary::GuestExports;
use crate::config::Limits;
use crate::consent::User;
use limiter::GuestLimiter;
use miniapp_abi::lifecycle::Surface;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::p1::WasiP1Ctx;

/// The state wasmtime keeps for one running program (`Store<SessionState>`).
pub struct SessionState {
    /// WASI preview 1, sandboxed.
    pub(crate) wasi: WasiP1Ctx,
    /// Who this program is and what it was granted.
    pub(crate) program: Arc<ProgramInfo>,
    /// The program's effective limits.
    pub(crate) limits: Limits,
    limiter: GuestLimiter,
    /// The guest's monotonic clock (WASI `clock_time_get` and `poll_oneoff`).
    monotonic: clock::CoarseMonotonicClock,
    /// The guest's memory and allocator, once instantiated.
    pub(crate) exports: Option<GuestExports>,
    /// Captured stdout and stderr.
    pub(crate) output: OutputCapture,
    /// The running callback's budget.
    pub(crate) budget: CallbackBudget,
    /// Whether the host is running the guest's `miniapp_alloc` (which must not
    /// call the host: that is what bounds nesting to one level).
    pub(crate) in_allocator: bool,
    /// Why the guest was ended, once it was.
    pub(crate) fault: Option<Fault>,
    /// The person using the program.
    pub(crate) user: Arc<dyn User>,
    /// The surface the program was launched on.
    pub(crate) surface: Surface,
    /// Whether the running callback handles a tap (a user gesture).
    pub(crate) gesture: bool,
    /// The running callback's user action, if it handles one.
    pub(crate) action: UserAction,
    /// What happened at most once in this launch.
    pub(crate) once: OncePerLaunch,
    /// What capabilities keep for this session.
    pub(crate) slots: SessionSlots,
    /// Where host calls are recorded, when the session is being recorded.
    pub(crate) transcript: Option<crate::transcript::Transcript>,
}

/// What capabilities keep for one session (a page stack, say): one shared value per
/// type, created on first use. Capabilities stay plug-ins: none of them needs a field
/// in the host's session state.
#[derive(Clone, Default)]
pub struct SessionSlots {
    values: Arc<std::sync::Mutex<std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>>,
}

impl SessionSlots {
    /// The session's value of type `T`, created with `create` if there is none yet.
    pub fn get_or_insert_with<T: std::any::Any + Send + Sync>(&self, create: impl FnOnce() -> T) -> Arc<T> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let value = values.entry(std::any::TypeId::of::<T>()).or_insert_with(|| Arc::new(create()));
        match value.clone().downcast::<T>() {
            Ok(value) => value,
            // The map is keyed by the value's own type, so this cannot happen.
            Err(_) => unreachable!("session slot holds a value of another type"),
        }
    }

    /// The session's value of type `T`, if one was created.
    pub fn get<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.get(&std::any::TypeId::of::<T>()).and_then(|value| value.clone().downcast::<T>().ok())
    }
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
    pub(crate) fn set(&self, handles_one: bool) {
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

/// Links WASI preview 1 as the sandbox offers it: wasmtime-wasi's implementation,
/// with `poll_oneoff` replaced by one that waits under the callback's budget.
pub(crate) fn link_wasi(linker: &mut wasmtime::Linker<SessionState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p1::add_to_linker_async(linker, |state: &mut SessionState| &mut state.wasi)?;
    poll::link_poll_oneoff(linker)
}

impl SessionState {
    /// Fresh state for one instance of `program`.
    pub(crate) fn new(program: Arc<ProgramInfo>, limits: Limits, user: Arc<dyn User>) -> SessionState {
        let output = OutputCapture::new(limits.output_bytes);
        let monotonic = clock::CoarseMonotonicClock::new();
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(output.stdout())
            .stderr(output.stderr())
            .wall_clock(clock::CoarseWallClock)
            .monotonic_clock(monotonic)
            .build_p1();
        SessionState {
            wasi,
            program,
            limiter: GuestLimiter::new(&limits),
            monotonic,
            limits,
            exports: None,
            output,
            budget: CallbackBudget {
                allowance: limits.launch_time(),
                time_limit: LimitKind::LaunchTime,
                host_calls: 0,
                meter: RunMeter::default(),
            },
            in_allocator: false,
            fault: None,
            user,
            surface: Surface::Direct,
            gesture: false,
            action: UserAction::default(),
            once: OncePerLaunch::default(),
            slots: SessionSlots::default(),
            transcript: None,
        }
    }

    /// Records `fault` as the reason this guest ends and returns the error that
    /// unwinds it. Only the first fault is kept: it is the cause.
    pub(crate) fn fail(&mut self, fault: Fault) -> wasmtime::Error {
        let error = wasmtime::Error::new(fault.clone());
        self.fault.get_or_insert(fault);
        error
    }

    /// Starts a callback's budget: `allowance` of running time, no host calls yet,
    /// a fresh output allowance.
    pub(crate) fn begin_callback(&mut self, allowance: Duration, time_limit: LimitKind) {
        self.budget.meter.reset();
        self.budget.allowance = allowance;
        self.budget.time_limit = time_limit;
        self.budget.host_calls = 0;
        self.output.begin_callback();
    }

    /// The meter the session polls its callbacks through.
    pub(crate) fn meter(&self) -> RunMeter {
        self.budget.meter.clone()
    }

    /// The fault that ends a callback whose time is spent.
    pub(crate) fn time_fault(&self) -> Fault {
        Fault::limit(self.budget.time_limit, self.budget.allowance_ms())
    }

    /// Counts one host call against the callback's allowance.
    pub(crate) fn count_host_call(&mut self) -> Result<(), wasmtime::Error> {
        self.budget.host_calls += 1;
        if self.budget.host_calls > self.limits.host_calls_per_callback {
            let limit = self.limits.host_calls_per_callback;
            return Err(self.fail(Fault::limit(LimitKind::HostCalls, u64::from(limit))));
        }
        Ok(())
    }

    /// Called on every interruption-clock tick while wasm runs: ends the guest if its
    /// callback has spent its time, else lets other tasks run.
    pub(crate) fn on_epoch_tick(&mut self) -> Result<wasmtime::UpdateDeadline, wasmtime::Error> {
        if self.budget.remaining().is_zero() {
            return Err(self.fail(self.time_fault()));
        }
        Ok(wasmtime::UpdateDeadline::Yield(1))
    }

    /// The resource limiter wasmtime consults on memory and table growth.
    pub(crate) fn limiter(&mut self) -> &mut dyn wasmtime::ResourceLimiter {
        &mut self.limiter
    }

    /// A limit fault the limiter or the output capture recorded outside the store's
    /// control flow, if any.
    pub(crate) fn take_side_fault(&mut self) -> Option<Fault> {
        self.limiter.take_fault().or_else(|| self.output.take_fault())
    }
}
