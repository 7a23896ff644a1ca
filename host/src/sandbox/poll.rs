//! WASI's `poll_oneoff`, the one WASI call that waits, implemented by the host so
//! that waiting is under the callback's budget.
//!
//! A guest's sleep is a wait it chose, so it is charged to its time allowance; a
//! sleep longer than what is left ends the guest when the allowance runs out, not
//! when the sleep would have ended. The sandbox has no files or sockets: stdin is
//! closed (always ready, at end of file), stdout and stderr are always writable, and
//! any other descriptor is reported as `badf`. Subscriptions and events are read and
//! written through the boundary.

use super::Sandboxed;
use super::boundary;
use std::time::Duration;
use wasmtime::Caller;

const SUBSCRIPTION_BYTES: u32 = 48;
const EVENT_BYTES: u32 = 32;

const ERRNO_SUCCESS: u16 = 0;
const ERRNO_BADF: u16 = 8;
const ERRNO_INVAL: i32 = 28;

const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;

const CLOCKID_REALTIME: u32 = 0;
const CLOCKID_MONOTONIC: u32 = 1;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;
const EVENTRWFLAGS_HANGUP: u16 = 1;

/// What one subscription asks for.
enum Wanted {
    /// A clock that fires after this wait.
    Clock(Duration),
    /// A descriptor that is ready now (or bad), with its event's fields.
    Ready { kind: u8, error: u16, flags: u16 },
}

/// Replaces wasmtime-wasi's `poll_oneoff` in `linker` with the budgeted one.
pub(crate) fn link_poll_oneoff<T: Sandboxed>(linker: &mut wasmtime::Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let linked = linker
        .func_wrap_async(
            "wasi_snapshot_preview1",
            "poll_oneoff",
            |mut caller: Caller<'_, T>, (subs, events, count, nevents): (i32, i32, i32, i32)| {
                Box::new(async move { poll_oneoff(&mut caller, subs, events, count as u32, nevents).await })
            },
        )
        .map(|_| ());
    linker.allow_shadowing(false);
    linked
}

async fn poll_oneoff<T: Sandboxed>(
    caller: &mut Caller<'_, T>,
    subs: i32,
    events: i32,
    count: u32,
    nevents: i32,
) -> wasmtime::Result<i32> {
    if count == 0 {
        return Ok(ERRNO_INVAL);
    }
    // Sizes past the 32-bit space cannot lie in memory: the range check refuses them.
    let subs_len = count.saturating_mul(SUBSCRIPTION_BYTES);
    let events_len = count.saturating_mul(EVENT_BYTES);
    boundary::check_range(&mut *caller, events, events_len)?;
    boundary::check_range(&mut *caller, nevents, 4)?;
    let bytes = boundary::read_bytes(&mut *caller, subs, subs_len)?;

    let state = caller.data().sandbox_ref();
    let monotonic_now = state.monotonic.now_ns();
    let wall_now = u64::try_from(super::clock::wall_now().as_nanos()).unwrap_or(u64::MAX);
    let mut wanted = Vec::with_capacity(count as usize);
    for sub in bytes.chunks_exact(SUBSCRIPTION_BYTES as usize) {
        let userdata = u64_at(sub, 0);
        let want = match sub[8] {
            0 => {
                let (id, timeout, flags) = (u32_at(sub, 16), u64_at(sub, 24), u16_at(sub, 40));
                let absolute = flags & SUBCLOCKFLAGS_ABSTIME != 0;
                let wait = match (id, absolute) {
                    (CLOCKID_REALTIME | CLOCKID_MONOTONIC, false) => timeout,
                    (CLOCKID_MONOTONIC, true) => timeout.saturating_sub(monotonic_now),
                    (CLOCKID_REALTIME, true) => timeout.saturating_sub(wall_now),
                    _ => return Ok(ERRNO_INVAL),
                };
                Wanted::Clock(Duration::from_nanos(wait))
            }
            tag @ (1 | 2) => {
                let kind = if tag == 1 { EVENTTYPE_FD_READ } else { EVENTTYPE_FD_WRITE };
                match (kind, u32_at(sub, 16)) {
                    (EVENTTYPE_FD_READ, 0) => Wanted::Ready { kind, error: ERRNO_SUCCESS, flags: EVENTRWFLAGS_HANGUP },
                    (EVENTTYPE_FD_WRITE, 1 | 2) => Wanted::Ready { kind, error: ERRNO_SUCCESS, flags: 0 },
                    _ => Wanted::Ready { kind, error: ERRNO_BADF, flags: 0 },
                }
            }
            _ => return Ok(ERRNO_INVAL),
        };
        wanted.push((userdata, want));
    }

    let anything_ready = wanted.iter().any(|(_, want)| matches!(want, Wanted::Ready { .. }));
    let shortest =
        wanted.iter().filter_map(|(_, want)| if let Wanted::Clock(wait) = want { Some(*wait) } else { None }).min();
    let waited = match shortest {
        Some(wait) if !anything_ready && !wait.is_zero() => {
            let budget = caller.data().sandbox_ref().budget.clone();
            let remaining = budget.remaining();
            let slept = wait.min(remaining);
            tokio::time::sleep(slept).await;
            budget.meter.charge(slept);
            if wait >= remaining {
                let fault = caller.data().sandbox_ref().time_fault();
                return Err(caller.data_mut().sandbox().fail(fault));
            }
            wait
        }
        _ => Duration::ZERO,
    };

    let mut out = Vec::with_capacity(wanted.len() * EVENT_BYTES as usize);
    for (userdata, want) in &wanted {
        let (kind, error, flags) = match want {
            Wanted::Clock(wait) if *wait <= waited => (EVENTTYPE_CLOCK, ERRNO_SUCCESS, 0),
            Wanted::Clock(_) => continue,
            Wanted::Ready { kind, error, flags } => (*kind, *error, *flags),
        };
        let mut event = [0u8; EVENT_BYTES as usize];
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[8..10].copy_from_slice(&error.to_le_bytes());
        event[10] = kind;
        event[24..26].copy_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&event);
    }
    let written = (out.len() / EVENT_BYTES as usize) as u32;
    boundary::write_bytes(&mut *caller, events, &out)?;
    boundary::write_bytes(&mut *caller, nevents, &written.to_le_bytes())?;
    Ok(0)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}
