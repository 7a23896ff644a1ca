//! The host's clock: the one time every time-dependent rule of payments reads —
//! a notification's age, the providers' retry schedules, WeChat Pay's five
//! minutes before an order may be closed, a refund's window and spacing, the
//! claims hosts hold on orders and how long a request waits for a confirmation.
//!
//! Real schedules span a day (WeChat Pay retries for 24 h 4 m, Alipay over ~25 h)
//! and refund windows a year, so the clock can run faster than the wall
//! (`[clock] scale`) and a script can move it on (`advance 25h`): whatever waits
//! on it — a retry, a refund settling at the provider, a lease — wakes when the
//! clock, not the wall, reaches its time. With the defaults it is the system
//! clock. Audit records and other facts keep wall-clock time: they say when
//! something happened, not what a rule allows.
//!
//! The clock belongs to one host. Hosts sharing a database should run at the same
//! scale and not be advanced (`advance` is for a host a script drives alone).

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// `[clock]`: how the host's clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockSettings {
    /// How many seconds pass on the clock per second of the wall (1.0: real
    /// time; 3600: an hour a second). Greater than 0.
    pub scale: f64,
}

impl Default for ClockSettings {
    fn default() -> ClockSettings {
        ClockSettings { scale: 1.0 }
    }
}

impl ClockSettings {
    /// Checks the settings: a scale that is a positive finite number.
    pub fn check(&self) -> Result<(), String> {
        match self.scale.is_finite() && self.scale > 0.0 {
            true => Ok(()),
            false => Err(format!("clock.scale: {} must be a positive number (1.0 is real time)", self.scale)),
        }
    }
}

/// The host's clock; clones share it.
#[derive(Debug, Clone)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    scale: f64,
    /// The wall at the start, and the clock's reading then (ms since the epoch).
    started: Instant,
    started_ms: i64,
    /// How far `advance` has moved the clock, in ms.
    advanced_ms: AtomicI64,
    /// Wakes whoever sleeps on the clock when it is advanced.
    moved: tokio::sync::Notify,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl Clock {
    /// The system clock: real time, not advanced.
    pub fn system() -> Clock {
        Clock::new(&ClockSettings::default())
    }

    /// A clock that starts at the system time and runs as `settings` say (a
    /// scale that is not a positive number is read as 1.0; [`ClockSettings::check`]
    /// refuses it first).
    pub fn new(settings: &ClockSettings) -> Clock {
        let scale = if settings.check().is_ok() { settings.scale } else { 1.0 };
        Clock(Arc::new(Inner {
            scale,
            started: Instant::now(),
            started_ms: crate::calendar::now_ms(),
            advanced_ms: AtomicI64::new(0),
            moved: tokio::sync::Notify::new(),
        }))
    }

    /// How many clock seconds pass per wall second.
    pub fn scale(&self) -> f64 {
        self.0.scale
    }

    /// Now, in ms since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let elapsed = self.0.started.elapsed().as_secs_f64() * 1000.0 * self.0.scale;
        // A float of ms since start: exact to well under a ms for centuries.
        let elapsed = if elapsed.is_finite() && elapsed < i64::MAX as f64 { elapsed as i64 } else { i64::MAX };
        self.0.started_ms.saturating_add(elapsed).saturating_add(self.0.advanced_ms.load(Ordering::SeqCst))
    }

    /// Now, in seconds since the Unix epoch.
    pub fn now_seconds(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves the clock on by `by`: whatever sleeps on it until a time that has
    /// now come wakes.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let _ = self.0.advanced_ms.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |a| Some(a.saturating_add(ms)));
        self.0.moved.notify_waiters();
    }

    /// How long on the wall `span` on the clock takes, unless advanced.
    pub fn wall_time(&self, span: Duration) -> Duration {
        Duration::try_from_secs_f64(span.as_secs_f64() / self.0.scale).unwrap_or(Duration::MAX)
    }

    /// Sleeps for `span` of the clock's time.
    pub async fn sleep(&self, span: Duration) {
        let until = self.now_ms().saturating_add(i64::try_from(span.as_millis()).unwrap_or(i64::MAX));
        self.sleep_until_ms(until).await;
    }

    /// Sleeps until the clock reads `until_ms` (ms since the epoch).
    pub async fn sleep_until_ms(&self, until_ms: i64) {
        loop {
            // Listen before reading, so an advance in between is not missed.
            let moved = self.0.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            let left = until_ms.saturating_sub(self.now_ms());
            if left <= 0 {
                return;
            }
            let wall = self.wall_time(Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX)));
            // A sleep past tokio's horizon is capped; the loop sleeps again.
            let wall = wall.min(Duration::from_secs(86_400 * 365));
            tokio::select! {
                () = tokio::time::sleep(wall) => {}
                () = &mut moved => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_is_checked() {
        assert!(ClockSettings { scale: 0.0 }.check().unwrap_err().contains("clock.scale"));
        assert!(ClockSettings { scale: f64::NAN }.check().is_err());
        assert!(ClockSettings { scale: -1.0 }.check().is_err());
        assert!(ClockSettings { scale: 86_400.0 }.check().is_ok());
    }

    #[test]
    fn advancing_moves_now_by_exactly_the_span() {
        let clock = Clock::new(&ClockSettings { scale: 1.0 });
        let before = clock.now_ms();
        clock.advance(Duration::from_secs(25 * 3600));
        let after = clock.now_ms();
        // The wall moved a little too; never less than the span, never a day more.
        assert!(after - before >= 25 * 3_600_000 && after - before < 25 * 3_600_000 + 60_000);
    }

    /// A sleep of a day ends when the clock is advanced past it, without a day
    /// on the wall; a sleep not yet due keeps sleeping.
    #[tokio::test]
    async fn sleepers_wake_when_the_clock_passes_their_time() {
        let clock = Clock::system();
        let (day, hour) = (Duration::from_secs(86_400), Duration::from_secs(3600));
        let long = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(day).await }
        });
        let longer = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(day * 2).await }
        });
        tokio::task::yield_now().await;
        clock.advance(day + hour);
        long.await.unwrap();
        assert!(!longer.is_finished());
        clock.advance(day);
        longer.await.unwrap();
    }
}
