//! The SDK's side of the boundary: the host imports, the allocator the host fills,
//! and the callback entry points. The only `unsafe` code in the SDK lives here.

use crate::{Error, ErrorCode, Event, LaunchContext, MiniApp, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::alloc::Layout;
use std::any::Any;
use std::cell::RefCell;

/// A host function: `(request ptr, request len, reply slot) -> status`.
pub(crate) type RawHostFn = unsafe extern "C" fn(i32, i32, i32) -> i32;

/// Declares the host functions of one capability import module. On wasm32 they are
/// real imports; elsewhere (unit tests, docs) they answer `unavailable`.
macro_rules! host_functions {
    ($module:literal { $($name:ident => $rust:ident),* $(,)? }) => {
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = $module)]
        unsafe extern "C" {
            $(
                #[link_name = stringify!($name)]
                pub(crate) fn $rust(request_ptr: i32, request_len: i32, reply_slot: i32) -> i32;
            )*
        }

        $(
            #[cfg(not(target_arch = "wasm32"))]
            pub(crate) unsafe extern "C" fn $rust(_: i32, _: i32, _: i32) -> i32 {
                $crate::host::NOT_IN_A_GUEST
            }
        )*

        /// This import module's functions by name, for [`crate::raw::call`].
        pub(crate) const FUNCTIONS: &[(&str, $crate::host::RawHostFn)] =
            &[$((stringify!($name), $rust as $crate::host::RawHostFn)),*];
    };
}
pub(crate) use host_functions;

/// The status the non-wasm stand-ins return.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const NOT_IN_A_GUEST: i32 = 6; // ErrorCode::Unavailable

/// Calls a host function with a JSON request and decodes its JSON reply.
pub(crate) fn request<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
    function: RawHostFn,
    request: &Req,
) -> Result<Resp> {
    let bytes = serde_json::to_vec(request)
        .map_err(|e| Error::new(ErrorCode::InvalidArgument, format!("cannot encode the request: {e}")))?;
    let reply = call(function, &bytes)?;
    let reply: &[u8] = if reply.is_empty() { b"null" } else { &reply };
    serde_json::from_slice(reply)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot decode the host's reply: {e}")))
}

/// Calls a host function with request bytes; the reply's bytes, or the host's error.
pub(crate) fn call(function: RawHostFn, request: &[u8]) -> Result<Vec<u8>> {
    let mut slot = [0u32; 2];
    // SAFETY: the request buffer and the reply slot are live for the whole call; the
    // host only reads the former and writes the 8 bytes of the latter.
    let status = unsafe { function(request.as_ptr() as i32, request.len() as i32, slot.as_mut_ptr() as i32) };
    // SAFETY: a non-empty reply was allocated by `alloc` with exactly this length.
    let reply = unsafe { take_buffer(slot[0], slot[1]) };
    if status == 0 {
        return Ok(reply);
    }
    let code = ErrorCode::from_number(status).unwrap_or(ErrorCode::Internal);
    Err(serde_json::from_slice::<Error>(&reply).unwrap_or_else(|_| {
        let message = if cfg!(target_arch = "wasm32") {
            format!("host call failed with status {status}")
        } else {
            "miniapp host functions exist only inside a wasm32 guest".to_string()
        };
        Error::new(code, message)
    }))
}

/// `miniapp_alloc`: a buffer of `size` bytes for the host to fill, or 0.
pub fn alloc(size: i32) -> i32 {
    let Ok(size) = usize::try_from(size) else {
        return 0;
    };
    let Ok(layout) = Layout::array::<u8>(size) else {
        return 0;
    };
    if size == 0 {
        return 0;
    }
    // SAFETY: the layout has a non-zero size.
    unsafe { std::alloc::alloc(layout) as i32 }
}

/// Takes ownership of a buffer the host filled through [`alloc`].
///
/// # Safety
/// `ptr` must be 0 or a pointer `alloc(len)` returned, not yet taken.
pub unsafe fn take_buffer(ptr: u32, len: u32) -> Vec<u8> {
    if ptr == 0 || len == 0 {
        return Vec::new();
    }
    // SAFETY: `alloc` allocated exactly `len` bytes with `u8` alignment, which is
    // the layout `Vec<u8>` with capacity `len` frees with.
    unsafe { Vec::from_raw_parts(ptr as usize as *mut u8, len as usize, len as usize) }
}

fn take_message<T: DeserializeOwned>(ptr: i32, len: i32) -> Result<T> {
    // SAFETY: the host passes buffers it obtained from `alloc` for this callback.
    let bytes = unsafe { take_buffer(ptr as u32, len as u32) };
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::new(ErrorCode::InvalidArgument, format!("cannot decode the host's message: {e}")))
}

thread_local! {
    static APP: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `callback` on the program's state (created on first use) and turns its
/// result into a status.
fn with_app<A: MiniApp>(callback: impl FnOnce(&mut A) -> Result<()>) -> i32 {
    APP.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            eprintln!("miniapp: a lifecycle callback was entered while another was running");
            return ErrorCode::Internal.number();
        };
        let state = slot.get_or_insert_with(|| Box::new(A::default()));
        let Some(app) = state.downcast_mut::<A>() else {
            return ErrorCode::Internal.number();
        };
        match callback(app) {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("error: {error}");
                error.code.number()
            }
        }
    })
}

/// `miniapp_on_launch`.
pub fn on_launch<A: MiniApp>(ptr: i32, len: i32) -> i32 {
    with_app::<A>(|app| app.on_launch(take_message::<LaunchContext>(ptr, len)?))
}

/// `miniapp_on_show`.
pub fn on_show<A: MiniApp>() -> i32 {
    with_app::<A>(|app| app.on_show())
}

/// `miniapp_on_hide`.
pub fn on_hide<A: MiniApp>() -> i32 {
    with_app::<A>(|app| app.on_hide())
}

/// `miniapp_on_event`.
pub fn on_event<A: MiniApp>(ptr: i32, len: i32) -> i32 {
    with_app::<A>(|app| app.on_event(take_message::<Event>(ptr, len)?))
}
