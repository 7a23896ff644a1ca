//! The clocks a guest sees: real time at millisecond resolution. There is no
//! high-resolution timer, which takes the easy timing side channels away.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

const RESOLUTION: Duration = Duration::from_millis(1);

/// Wall-clock time, truncated to the millisecond.
pub(super) struct CoarseWallClock;

impl HostWallClock for CoarseWallClock {
    fn resolution(&self) -> Duration {
        RESOLUTION
    }

    fn now(&self) -> Duration {
        wall_now()
    }
}

/// Wall-clock time as the guest sees it.
pub(super) fn wall_now() -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Duration::from_millis(u64::try_from(now.as_millis()).unwrap_or(u64::MAX))
}

/// Monotonic time since the program started, truncated to the millisecond.
#[derive(Clone, Copy)]
pub(super) struct CoarseMonotonicClock {
    start: Instant,
}

impl CoarseMonotonicClock {
    pub(super) fn new() -> CoarseMonotonicClock {
        CoarseMonotonicClock { start: Instant::now() }
    }

    /// Nanoseconds since the program started, as the guest sees them.
    pub(super) fn now_ns(&self) -> u64 {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        millis.saturating_mul(1_000_000)
    }
}

impl HostMonotonicClock for CoarseMonotonicClock {
    fn resolution(&self) -> u64 {
        RESOLUTION.as_nanos() as u64
    }

    fn now(&self) -> u64 {
        self.now_ns()
    }
}
