//! The one path every host call takes, from wasm arguments to a delivered reply.
//!
//! Wasm signature of every host function: `(req_ptr: i32, req_len: i32,
//! reply_slot: i32) -> i32`. The return value is 0 or an error code number; the
//! reply (a result, or an [`ApiError`] when the status is not 0) is delivered into a
//! guest buffer whose `(ptr, len)` is written to the reply slot.

use super::{CallContext, Calling, HostFunction};
use crate::sandbox::boundary;
use crate::sandbox::{Fault, Sandboxed};
use miniapp_abi::{ApiError, ErrorCode, STATUS_OK};
use std::time::Instant;
use wasmtime::Caller;

pub(super) fn link<T: Sandboxed + Calling>(
    linker: &mut wasmtime::Linker<T>,
    capability: &'static str,
    function: HostFunction,
) -> wasmtime::Result<()> {
    let module = miniapp_abi::import_module(capability);
    let name = function.name;
    let handler = function.handler;
    linker.func_wrap_async(
        &module,
        name,
        move |mut caller: Caller<'_, T>, (request_ptr, request_len, reply_slot): (i32, i32, i32)| {
            let handler = handler.clone();
            Box::new(async move {
                if caller.data().sandbox_ref().in_allocator {
                    // Nesting stops here: a host call inside the allocator would need
                    // another fiber for its own reply, and so on without bound.
                    let fault = Fault::Abi(format!(
                        "miniapp_alloc called `{}.{name}`; the allocator must not call miniapp host functions",
                        miniapp_abi::import_module(capability)
                    ));
                    return Err(caller.data_mut().sandbox().fail(fault));
                }
                caller.data_mut().sandbox().count_host_call()?;
                boundary::check_reply_slot(&mut caller, reply_slot)?;
                let request = boundary::read_message(&mut caller, request_ptr, request_len)?;

                // The host's work and waits for this call are not the program's.
                let meter = caller.data().sandbox_ref().meter();
                meter.pause();
                let call = caller.data().call_state();
                let (program, session) = (call.program.clone(), call.session.clone());
                // Only an observed session pays for timing the call and keeping a
                // copy of its request.
                let observers = (!call.observers.is_empty()).then(|| call.observers.clone());
                let observed = observers.as_ref().map(|_| (request.clone(), Instant::now()));
                let result = match program.grant(capability) {
                    Ok(grant) => handler(CallContext::new(capability, program, grant, session), request).await,
                    Err(denied) => Err(denied),
                };
                meter.resume();

                let limit = caller.data().sandbox_ref().limits.message_bytes as usize;
                let (status, body) = match result {
                    Ok(body) if body.len() <= limit => (STATUS_OK, body),
                    Ok(body) => error_reply(&ApiError::new(
                        ErrorCode::LimitExceeded,
                        format!("reply of {} bytes exceeds the {limit}-byte message limit", body.len()),
                    )),
                    Err(error) => error_reply(&error),
                };
                if let (Some((request, started)), Some(observers)) = (observed, observers) {
                    for observer in &observers {
                        observer.host_call(capability, name, &request, status, &body, started.elapsed());
                    }
                }
                let (ptr, len) = boundary::deliver(&mut caller, &body).await?;
                boundary::write_reply_slot(&mut caller, reply_slot, ptr, len)?;
                Ok(status)
            })
        },
    )?;
    Ok(())
}

/// Longest error text the host sends, in characters: with its code it always fits
/// the smallest message limit (`config::MIN_MESSAGE_BYTES`), so an error reply
/// never itself breaks the limit.
const MAX_ERROR_CHARS: usize = 512;

fn error_reply(error: &ApiError) -> (i32, Vec<u8>) {
    let body = if error.message.chars().count() > MAX_ERROR_CHARS {
        let mut short = error.clone();
        short.message = error.message.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
        serde_json::to_vec(&short)
    } else {
        serde_json::to_vec(error)
    };
    // Encoding a code and a string cannot fail; the fallback keeps the status honest.
    (error.code.number(), body.unwrap_or_default())
}
