//! The boundary: the only code that reads or writes guest memory.
//!
//! Every pointer and length a guest hands over is a pair of `i32`s that wasm
//! defines as unsigned 32-bit values. Before anything is copied or any host buffer
//! is allocated, [`guest_range`] turns the pair into a byte range with checked
//! arithmetic and tests it against the memory's current size, and message lengths
//! are tested against `limits.message_bytes`. A failed check ends the guest with an
//! [`Fault::Abi`] or [`Fault::Limit`] naming what was wrong.
//!
//! Bytes the host gives the guest (callback arguments, host-call replies) are put
//! in buffers the guest allocates with its `miniapp_alloc` export; the answer of
//! that export is checked like any other guest pointer.

use super::{Fault, LimitKind, Sandbox, Sandboxed};
use std::ops::Range;
use wasmtime::{AsContextMut, Memory, TypedFunc};

/// The size of a reply slot: reply pointer then reply length, both `u32`
/// little-endian.
pub const REPLY_SLOT_BYTES: u32 = 8;

/// The guest exports the boundary needs, looked up once per instance.
#[derive(Clone)]
pub(crate) struct GuestExports {
    /// The guest's linear memory.
    pub memory: Memory,
    /// `miniapp_alloc(size) -> ptr`.
    pub alloc: TypedFunc<i32, i32>,
}

/// The byte range `ptr .. ptr + len` of a memory `memory_len` bytes long, or the
/// fault that describes why it is not one.
pub(crate) fn guest_range(ptr: i32, len: i32, memory_len: usize) -> Result<Range<usize>, Fault> {
    // wasm32 addresses and sizes are unsigned: reinterpret, never sign-extend.
    let start = ptr as u32 as usize;
    let length = len as u32 as usize;
    let end = start
        .checked_add(length)
        .ok_or_else(|| Fault::Abi(format!("pointer {start:#x} plus length {length} overflows")))?;
    if end > memory_len {
        return Err(Fault::Abi(format!("bytes {start:#x}..{end:#x} lie outside the guest's {memory_len}-byte memory")));
    }
    Ok(start..end)
}

fn exports(state: &mut Sandbox) -> Result<std::sync::Arc<GuestExports>, wasmtime::Error> {
    match &state.exports {
        Some(exports) => Ok(exports.clone()),
        None => Err(not_started(state)),
    }
}

/// The guest's memory: a copied handle, without taking a reference on the exports.
fn memory(state: &mut Sandbox) -> Result<Memory, wasmtime::Error> {
    match &state.exports {
        Some(exports) => Ok(exports.memory),
        None => Err(not_started(state)),
    }
}

fn not_started(state: &mut Sandbox) -> wasmtime::Error {
    state.fail(Fault::Abi("host call made before the instance finished starting".into()))
}

/// Copies a guest message `ptr, len` into a host buffer, after checking its length
/// against the message limit and its range against the guest's memory.
pub(crate) fn read_message<T: Sandboxed>(
    mut store: impl AsContextMut<Data = T>,
    ptr: i32,
    len: i32,
) -> Result<Vec<u8>, wasmtime::Error> {
    let mut context = store.as_context_mut();
    let limit = context.data().sandbox_ref().limits.message_bytes;
    if len as u32 > limit {
        return Err(context.data_mut().sandbox().fail(Fault::limit(LimitKind::MessageBytes, u64::from(limit))));
    }
    read_bytes(context, ptr, len as u32)
}

/// The guest's memory and the range `ptr .. ptr + len` in it, or the fault that
/// ends the guest: the one range check behind every read and write below.
fn checked<T: Sandboxed>(
    context: &mut wasmtime::StoreContextMut<'_, T>,
    ptr: i32,
    len: u32,
) -> Result<(Memory, Range<usize>), wasmtime::Error> {
    let memory = memory(context.data_mut().sandbox())?;
    match guest_range(ptr, len as i32, memory.data_size(&*context)) {
        Ok(range) => Ok((memory, range)),
        Err(fault) => Err(context.data_mut().sandbox().fail(fault)),
    }
}

/// Copies `len` bytes at `ptr` out of guest memory, after checking the range
/// (so the host buffer is never larger than the guest's memory). For WASI calls
/// the host implements itself; host-call messages go through [`read_message`].
pub(crate) fn read_bytes<T: Sandboxed>(
    mut store: impl AsContextMut<Data = T>,
    ptr: i32,
    len: u32,
) -> Result<Vec<u8>, wasmtime::Error> {
    let mut context = store.as_context_mut();
    let (memory, range) = checked(&mut context, ptr, len)?;
    Ok(memory.data(&context)[range].to_vec())
}

/// Checks that `len` bytes at `ptr` lie in guest memory, before a call acts.
pub(crate) fn check_range<T: Sandboxed>(
    mut store: impl AsContextMut<Data = T>,
    ptr: i32,
    len: u32,
) -> Result<(), wasmtime::Error> {
    checked(&mut store.as_context_mut(), ptr, len).map(|_| ())
}

/// Writes `bytes` into guest memory at `ptr`, after checking the range.
pub(crate) fn write_bytes<T: Sandboxed>(
    mut store: impl AsContextMut<Data = T>,
    ptr: i32,
    bytes: &[u8],
) -> Result<(), wasmtime::Error> {
    let mut context = store.as_context_mut();
    // The host writes only what it built to fit guest memory; more is a host bug.
    let len = u32::try_from(bytes.len()).map_err(|_| wasmtime::Error::msg("host bytes over 4 GiB for guest memory"))?;
    let (memory, range) = checked(&mut context, ptr, len)?;
    memory.data_mut(&mut context)[range].copy_from_slice(bytes);
    Ok(())
}

/// Checks that a reply slot (`REPLY_SLOT_BYTES` at `slot`) lies in guest memory.
/// Done before a host call acts, so a call whose answer cannot be delivered has no
/// effect.
pub(crate) fn check_reply_slot<T: Sandboxed>(
    store: impl AsContextMut<Data = T>,
    slot: i32,
) -> Result<(), wasmtime::Error> {
    check_range(store, slot, REPLY_SLOT_BYTES)
}

/// Writes `(ptr, len)` into the reply slot at `slot`.
pub(crate) fn write_reply_slot<T: Sandboxed>(
    store: impl AsContextMut<Data = T>,
    slot: i32,
    ptr: u32,
    len: u32,
) -> Result<(), wasmtime::Error> {
    let mut bytes = [0u8; REPLY_SLOT_BYTES as usize];
    bytes[..4].copy_from_slice(&ptr.to_le_bytes());
    bytes[4..].copy_from_slice(&len.to_le_bytes());
    write_bytes(store, slot, &bytes)
}

/// Hands `bytes` to the guest: asks `miniapp_alloc` for a buffer, checks the
/// answer, and copies the bytes in. Returns the buffer's `(ptr, len)`; `(0, 0)`
/// for no bytes, without calling the allocator. The buffer belongs to the guest.
pub(crate) async fn deliver<T: Sandboxed>(
    mut store: impl AsContextMut<Data = T>,
    bytes: &[u8],
) -> Result<(u32, u32), wasmtime::Error> {
    if bytes.is_empty() {
        return Ok((0, 0));
    }
    let mut context = store.as_context_mut();
    let limit = context.data().sandbox_ref().limits.message_bytes;
    let len = match u32::try_from(bytes.len()) {
        Ok(len) if len <= limit => len,
        _ => {
            // The host never builds a message over the limit; reaching this is a host bug.
            return Err(wasmtime::Error::msg(format!(
                "host message of {} bytes exceeds the {limit}-byte message limit",
                bytes.len()
            )));
        }
    };
    let exports = exports(context.data_mut().sandbox())?;
    context.data_mut().sandbox().in_allocator = true;
    let allocated = exports.alloc.call_async(&mut context, len as i32).await;
    context.data_mut().sandbox().in_allocator = false;
    let ptr = allocated?;
    if ptr == 0 {
        return Err(context
            .data_mut()
            .sandbox()
            .fail(Fault::Abi(format!("miniapp_alloc returned 0 when asked for {len} bytes"))));
    }
    let range = match guest_range(ptr, len as i32, exports.memory.data_size(&context)) {
        Ok(range) => range,
        Err(fault) => {
            let fault = Fault::Abi(format!("miniapp_alloc returned an unusable buffer: {fault}"));
            return Err(context.data_mut().sandbox().fail(fault));
        }
    };
    exports.memory.data_mut(&mut context)[range].copy_from_slice(bytes);
    Ok((ptr as u32, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_inside_memory_are_accepted() {
        assert_eq!(guest_range(0, 0, 0).unwrap(), 0..0);
        assert_eq!(guest_range(16, 8, 24).unwrap(), 16..24);
        assert_eq!(guest_range(65_535, 1, 65_536).unwrap(), 65_535..65_536);
    }

    #[test]
    fn ranges_outside_or_overflowing_are_faults() {
        assert!(guest_range(16, 9, 24).is_err());
        assert!(guest_range(-1, 1, 65_536).is_err(), "0xffffffff is past the end");
        assert!(guest_range(1, -1, 65_536).is_err(), "length 0xffffffff");
        assert!(guest_range(-1, -1, usize::MAX).is_ok() || cfg!(target_pointer_width = "32"));
    }

    proptest! {
        #[test]
        fn accepted_ranges_always_fit(ptr in any::<i32>(), len in any::<i32>(), memory in 0usize..(1 << 33)) {
            if let Ok(range) = guest_range(ptr, len, memory) {
                prop_assert!(range.start <= range.end);
                prop_assert!(range.end <= memory);
                prop_assert_eq!(range.end - range.start, len as u32 as usize);
            }
        }
    }
}
