//! The sandbox one program runs in: its store state, its WASI context with no
//! ambient authority, its resource limiter, its captured output and its clocks.
//!
//! What a guest may touch is decided here. WASI preview 1 is linked for the
//! conveniences of `std` (printing, random numbers, a coarse clock) with no
//! preopened directories, no environment, no arguments and stdin closed; stdout and
//! stderr go to bounded per-callback buffers.

pub(crate) mod boundary;
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

use crate::config::Limits;
use boundary::GuestExports;
use limiter::GuestLimiter;
use std::time::Duration;
use wasmtime_wasi::p1::WasiP1Ctx;

/// What one running program is confined by: its WASI context, limiter, clocks,
/// budget, output and exports. It knows nothing of capabilities or of who the
/// program is; the host's store state holds it and hands it out through
/// [`Sandboxed`].
pub struct Sandbox {
    /// WASI preview 1, sandboxed; made at the program's first WASI call (see
    /// [`Sandbox::wasi`]).
    wasi: Option<WasiP1Ctx>,
    /// The program's effective limits.
    pub(crate) limits: Limits,
    limiter: GuestLimiter,
    /// The guest's monotonic clock (WASI `clock_time_get` and `poll_oneoff`).
    monotonic: clock::CoarseMonotonicClock,
    /// The guest's memory and allocator, once instantiated.
    pub(crate) exports: Option<std::sync::Arc<GuestExports>>,
    /// Captured stdout and stderr.
    pub(crate) output: OutputCapture,
    /// The running callback's budget.
    pub(crate) budget: CallbackBudget,
    /// Whether the host is running the guest's `miniapp_alloc` (which must not
    /// call the host: that is what bounds nesting to one level).
    pub(crate) in_allocator: bool,
    /// Why the guest was ended, once it was.
    pub(crate) fault: Option<Fault>,
    /// Whether host calls end the guest: while it is being pre-initialised, what
    /// it computes is shared by every later session.
    refuse_host_calls: bool,
}

/// A store state that holds a [`Sandbox`]: what the WASI functions, the
/// boundary and the dispatcher reach it by (as wasmtime-wasi reaches its context
/// through a projection).
pub trait Sandboxed: Send + 'static {
    /// The sandbox.
    fn sandbox(&mut self) -> &mut Sandbox;
    /// The sandbox, to read.
    fn sandbox_ref(&self) -> &Sandbox;
}

/// Links WASI preview 1 as the sandbox offers it: wasmtime-wasi's implementation,
/// with `poll_oneoff` replaced by one that waits under the callback's budget.
pub(crate) fn link_wasi<T: Sandboxed>(linker: &mut wasmtime::Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p1::add_to_linker_async(linker, |state: &mut T| state.sandbox().wasi())?;
    poll::link_poll_oneoff(linker)
}

impl Sandbox {
    /// A fresh sandbox for one instance under `limits`.
    pub(crate) fn new(limits: Limits) -> Sandbox {
        let output = OutputCapture::new(limits.output_bytes);
        let monotonic = clock::CoarseMonotonicClock::new();
        Sandbox {
            wasi: None,
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
            refuse_host_calls: false,
        }
    }

    /// The program's WASI context, made the first time it is needed. Making one
    /// seeds two random generators (twice over: wasmtime-wasi's builder makes a
    /// second context as it finishes), about 0.35 µs of the 2.5 µs instantiation
    /// took, and most programs' sessions never make a WASI call.
    pub(crate) fn wasi(&mut self) -> &mut WasiP1Ctx {
        let (output, monotonic) = (&self.output, self.monotonic);
        self.wasi.get_or_insert_with(|| {
            wasmtime_wasi::WasiCtxBuilder::new()
                .stdout(output.stdout())
                .stderr(output.stderr())
                .wall_clock(clock::CoarseWallClock)
                .monotonic_clock(monotonic)
                .build_p1()
        })
    }

    /// From now on, a host call ends the guest ([`Fault::HostCallBeforeLaunch`]).
    pub(crate) fn refuse_host_calls(&mut self) {
        self.refuse_host_calls = true;
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
        if self.refuse_host_calls {
            return Err(self.fail(Fault::HostCallBeforeLaunch));
        }
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
        self.budget.meter.tick();
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
