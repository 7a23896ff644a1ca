//! What a callback may spend and what it has spent.
//!
//! A program is charged for the time its own code runs and the waits it chooses
//! (a WASI sleep), never for the time it waits to be scheduled: not behind other
//! programs in the async run queue, not behind other processes on a busy machine,
//! and not while the host serves one of its host calls (the user, a provider or
//! the disk). So the charge is the calling thread's CPU time while the callback's
//! future is being polled — a fiber runs only inside a poll, on the polling
//! thread — plus the guest's own waits, which are added explicitly. Host calls
//! pause the meter while their handler runs.
//!
//! Reading a thread's CPU clock is a system call (about half a microsecond on a
//! virtual machine), and most callbacks end in microseconds, long before any limit
//! could matter. So a callback's meter starts reading the clock at the first
//! interruption tick its guest code sees — the engine's ticker interrupts running
//! wasm every `engine.epoch_tick_ms` — and from then on charges every segment
//! exactly. What ran before that tick is not charged: less than one tick of the
//! guest's own running, since a tick that passes while the guest waits (in the
//! run queue or a host call) is seen the moment it runs again. A callback that ends
//! within its first tick reads no clock at all.

use super::fault::LimitKind;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The CPU time the current thread has used. Threads run one poll at a time, so a
/// difference of two readings inside one poll is the time that poll ran.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(u64::try_from(now.tv_sec).unwrap_or(0), u32::try_from(now.tv_nsec).unwrap_or(0))
}

/// Without a per-thread CPU clock, time inside a poll stands in for it: the run
/// queue is still not charged, but another process's use of the CPU would be.
#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// Measures what one program's callbacks spend. Cheap to clone; the session's
/// poll wrapper and the store's host calls share it.
#[derive(Clone, Default)]
pub struct RunMeter {
    inner: Arc<Mutex<MeterState>>,
}

#[derive(Default)]
struct MeterState {
    /// Time charged to the running callback so far.
    charged: Duration,
    /// Whether the running callback is measured: its guest code has seen an
    /// interruption tick.
    measuring: bool,
    /// Whether a poll of the callback is running on this thread.
    polled: bool,
    /// The thread CPU reading at which the running segment began, while one runs
    /// and the callback is measured.
    segment_start: Option<Duration>,
    /// Whether the host is serving a host call (nothing is charged meanwhile).
    paused: bool,
}

impl MeterState {
    fn close_segment(&mut self) {
        if let Some(start) = self.segment_start.take() {
            self.charged += thread_cpu_time().saturating_sub(start);
        }
    }

    fn open_segment(&mut self) {
        if self.measuring && self.polled && !self.paused {
            self.segment_start = Some(thread_cpu_time());
        }
    }
}

impl RunMeter {
    fn lock(&self) -> MutexGuard<'_, MeterState> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a callback: nothing charged yet, not measured until its first tick.
    pub(crate) fn reset(&self) {
        *self.lock() = MeterState::default();
    }

    /// A poll of the callback begins on this thread.
    pub(crate) fn enter(&self) {
        let mut state = self.lock();
        state.polled = true;
        state.open_segment();
    }

    /// The poll ends: what ran since [`RunMeter::enter`] is charged.
    pub(crate) fn leave(&self) {
        let mut state = self.lock();
        state.close_segment();
        state.polled = false;
    }

    /// The host starts serving a host call.
    pub(crate) fn pause(&self) {
        let mut state = self.lock();
        state.close_segment();
        state.paused = true;
    }

    /// The host call's handler is done; the guest's code runs again (delivering the
    /// reply runs its allocator).
    pub(crate) fn resume(&self) {
        let mut state = self.lock();
        state.paused = false;
        state.open_segment();
    }

    /// The guest's code saw an interruption tick: from now on the callback's
    /// running time is read from the clock.
    pub(crate) fn tick(&self) {
        let mut state = self.lock();
        if !state.measuring {
            state.measuring = true;
            state.open_segment();
        }
    }

    /// Charges a wait the guest chose (a WASI sleep).
    pub(crate) fn charge(&self, waited: Duration) {
        self.lock().charged += waited;
    }

    /// What the running callback has been charged, including the running segment.
    pub(crate) fn charged(&self) -> Duration {
        let state = self.lock();
        let running = state.segment_start.map_or(Duration::ZERO, |start| thread_cpu_time().saturating_sub(start));
        state.charged + running
    }

    /// Polls `future` to completion, charging each poll's CPU time to this meter.
    pub async fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|context| {
            self.enter();
            let poll = future.as_mut().poll(context);
            self.leave();
            poll
        })
        .await
    }
}

/// What the running callback may still spend.
#[derive(Clone)]
pub(crate) struct CallbackBudget {
    /// Its time allowance.
    pub allowance: Duration,
    /// Which limit the allowance comes from.
    pub time_limit: LimitKind,
    /// Host calls made so far in this callback.
    pub host_calls: u32,
    /// What it has spent.
    pub meter: RunMeter,
}

impl CallbackBudget {
    /// The time still allowed, zero once it is spent.
    pub(crate) fn remaining(&self) -> Duration {
        self.allowance.saturating_sub(self.meter.charged())
    }

    /// The allowance in milliseconds, for the fault that names it.
    pub(crate) fn allowance_ms(&self) -> u64 {
        u64::try_from(self.allowance.as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(for_at_least: Duration) {
        let start = thread_cpu_time();
        while thread_cpu_time().saturating_sub(start) < for_at_least {
            std::hint::black_box(0u64);
        }
    }

    #[test]
    fn only_polled_work_and_chosen_waits_are_charged() {
        let meter = RunMeter::default();
        meter.enter();
        meter.tick();
        spin(Duration::from_millis(5));
        meter.leave();
        let after_run = meter.charged();
        assert!(after_run >= Duration::from_millis(5), "{after_run:?}");
        // Between polls nothing is charged, however long the wait.
        std::thread::sleep(Duration::from_millis(20));
        spin(Duration::from_millis(5));
        assert_eq!(meter.charged(), after_run);
        // A host call's handler is not charged either.
        meter.enter();
        meter.pause();
        spin(Duration::from_millis(5));
        meter.leave();
        assert!(meter.charged() < after_run + Duration::from_millis(5));
        // Delivering the reply runs guest code again, and is charged.
        meter.enter();
        meter.resume();
        spin(Duration::from_millis(5));
        meter.leave();
        assert!(meter.charged() >= after_run + Duration::from_millis(5));
        meter.charge(Duration::from_secs(1));
        assert!(meter.charged() >= after_run + Duration::from_secs(1));
        meter.reset();
        assert_eq!(meter.charged(), Duration::ZERO);
    }

    #[test]
    fn a_callback_is_measured_from_its_first_tick() {
        let meter = RunMeter::default();
        meter.enter();
        spin(Duration::from_millis(5));
        // Before the first tick nothing is read or charged.
        assert_eq!(meter.charged(), Duration::ZERO);
        meter.tick();
        spin(Duration::from_millis(5));
        assert!(meter.charged() >= Duration::from_millis(5));
        meter.leave();
        let charged = meter.charged();
        // A second tick changes nothing; the next poll is measured at once.
        meter.tick();
        meter.enter();
        spin(Duration::from_millis(5));
        meter.leave();
        assert!(meter.charged() >= charged + Duration::from_millis(5));
        // A tick seen inside a host call's handler starts no segment before it ends.
        meter.reset();
        meter.enter();
        meter.pause();
        meter.tick();
        spin(Duration::from_millis(5));
        meter.resume();
        meter.leave();
        assert!(meter.charged() < Duration::from_millis(5));
    }
}
