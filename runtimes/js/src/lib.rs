//! The miniapp JavaScript runtime: QuickJS (quickjs-ng, through `rquickjs`) in a
//! wasm32-wasip1 guest that speaks ABI 1.1 like any other.
//!
//! The host hands it a program's sources once through `miniapp_runtime_load`
//! (docs/abi.md §4.6) — once per program when it snapshots the instance after the
//! load (pre-initialisation), else once per session; from then on each lifecycle callback
//! is passed to the framework in `framework.js` (WeChat's `App`, `Page`,
//! `setData`, templates and `wx.*`), whose host calls come back through one
//! native function, `__miniapp_call`, to [`miniapp_sdk::raw::call`]. The runtime
//! holds no capability of its own: every call is gated by the host against the
//! program's manifest, as a compiled guest's would be.

mod json_guard;

use miniapp_abi::script::Sources;
use miniapp_sdk::prelude::*;
use rquickjs::context::EvalOptions;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Function, Object, Runtime};
use std::cell::{Cell, RefCell};

/// The framework: everything of WeChat's shape, in JavaScript, evaluated before
/// the program's own files.
const FRAMEWORK: &str = include_str!("framework.js");

/// One session's JavaScript engine and context.
struct Engine {
    runtime: Runtime,
    context: Context,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// `Math.random`'s state (SplitMix64). The host may snapshot this instance
    /// after `miniapp_runtime_load` and start every session from the snapshot, so
    /// the state is reseeded from the host's entropy at each launch: no two
    /// sessions share a sequence.
    static RANDOM: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) };
}

unsafe extern "C" {
    /// wasi-libc's `getentropy` (WASI `random_get`): at most 256 bytes.
    fn getentropy(buffer: *mut u8, len: usize) -> i32;
}

/// Seeds `Math.random` from the host's entropy.
fn reseed() -> Result<()> {
    let mut seed = [0u8; 8];
    // SAFETY: `seed` is a valid, writable buffer of the length passed.
    if unsafe { getentropy(seed.as_mut_ptr(), seed.len()) } != 0 {
        return Err(Error::new(ErrorCode::Internal, "the host gave no entropy for Math.random".to_string()));
    }
    RANDOM.with(|state| state.set(u64::from_le_bytes(seed)));
    Ok(())
}

/// `Math.random()`: a float in [0, 1) from 53 bits of SplitMix64.
fn random() -> f64 {
    RANDOM.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// `miniapp_runtime_load(ptr, len) -> status`: evaluates the framework and the
/// program's sources (the host calls it once, right after instantiation).
#[unsafe(no_mangle)]
pub extern "C" fn miniapp_runtime_load(ptr: i32, len: i32) -> i32 {
    // SAFETY: the host passes a buffer it obtained from `miniapp_alloc` for this
    // call, as for every callback's message.
    let bytes = unsafe { miniapp_sdk::__private::take_buffer(ptr as u32, len as u32) };
    match load(&bytes) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            error.code.number()
        }
    }
}

fn load(bytes: &[u8]) -> Result<()> {
    let sources: Sources = serde_json::from_slice(bytes)
        .map_err(|e| Error::new(ErrorCode::InvalidArgument, format!("cannot decode the program's sources: {e}")))?;
    let runtime = Runtime::new().map_err(internal)?;
    // The framework counts rejections nobody handles (a callback's failure).
    runtime.set_host_promise_rejection_tracker(Some(Box::new(|ctx, promise, reason, handled| {
        if let Ok(track) = ctx.globals().get::<_, Function>("__miniapp_rejection") {
            // A throw here would have nowhere to go; the framework's function does not throw.
            let _ = track.call::<_, ()>((promise, reason, handled));
        }
    })));
    // No heap ceiling of QuickJS's own: the host's memory limit is the program's,
    // and growth past it ends the program with that limit's name.
    let context = Context::full(&runtime).map_err(internal)?;
    context.with(|ctx| -> Result<()> {
        install_natives(&ctx).map_err(internal)?;
        evaluate(&ctx, FRAMEWORK, "miniapp:framework.js")?;
        let boot: Function = ctx.globals().get("__miniapp_boot").map_err(internal)?;
        let files = serde_json::to_string(&sources.files).map_err(internal)?;
        let pages = serde_json::to_string(&sources.pages).map_err(internal)?;
        let result = boot.call::<_, ()>((sources.main, pages, files)).catch(&ctx);
        result.map_err(|caught| exception(&ctx, caught))
    })?;
    drain_jobs(&runtime)?;
    ENGINE.with(|cell| *cell.borrow_mut() = Some(Engine { runtime, context }));
    Ok(())
}

/// The functions the framework reaches the host and the guest's own services by
/// (it takes them off the global object before the program's files run).
fn install_natives(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    globals.set("__miniapp_call", Function::new(ctx.clone(), host_call)?)?;
    globals.set("__miniapp_compile", Function::new(ctx.clone(), compile)?)?;
    globals.set(
        "__miniapp_print",
        Function::new(ctx.clone(), |stream: String, line: String| {
            if stream == "stderr" {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        })?,
    )?;
    globals.set("__miniapp_random", Function::new(ctx.clone(), random)?)?;
    globals.set("__miniapp_json_depth", Function::new(ctx.clone(), |text: String| json_guard::depth(&text) as f64)?)?;
    Ok(())
}

/// `__miniapp_call(capability, function, request)`: `{ok, reply}` or `{ok: false,
/// code, message}`, the host's error as a value for the framework to throw.
fn host_call<'js>(
    ctx: Ctx<'js>,
    capability: String,
    function: String,
    request: String,
) -> rquickjs::Result<Object<'js>> {
    let reply = Object::new(ctx)?;
    match miniapp_sdk::raw::call(&capability, &function, request.as_bytes()) {
        Ok(bytes) => {
            reply.set("ok", true)?;
            reply.set("reply", String::from_utf8_lossy(&bytes).into_owned())?;
        }
        Err(error) => {
            reply.set("ok", false)?;
            reply.set("code", error.code.as_str())?;
            reply.set("message", error.message)?;
        }
    }
    Ok(reply)
}

/// `__miniapp_compile(file, source)`: evaluates one of the program's files (wrapped
/// by the framework as a function) under its own name, so that exceptions and
/// syntax errors name the file and line.
fn compile<'js>(ctx: Ctx<'js>, file: String, source: String) -> rquickjs::Result<Function<'js>> {
    ctx.eval_with_options(source, options(file))
}

fn options(file: String) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = false;
    options.filename = Some(file);
    options
}

fn evaluate(ctx: &Ctx<'_>, source: &str, name: &str) -> Result<()> {
    ctx.eval_with_options::<(), _>(source, options(name.to_string()))
        .catch(ctx)
        .map_err(|caught| exception(ctx, caught))
}

/// Runs the promise jobs a callback left (an `async` handler, `wx.requestPayment`'s
/// promise): host calls are synchronous, so they all settle within the callback.
fn drain_jobs(runtime: &Runtime) -> Result<()> {
    loop {
        match runtime.execute_pending_job() {
            Ok(true) => continue,
            Ok(false) => return Ok(()),
            Err(job) => {
                let message = job.0.with(|ctx| {
                    let caught = CaughtError::from_error(&ctx, rquickjs::Error::Exception);
                    exception(&ctx, caught).message
                });
                return Err(Error::new(ErrorCode::Internal, message));
            }
        }
    }
}

/// A JavaScript exception as one line: its name and message, and where in the
/// program's files it was thrown (the framework formats it: `__miniapp_describe`).
fn exception<'js>(ctx: &Ctx<'js>, caught: CaughtError<'js>) -> Error {
    let thrown = match &caught {
        CaughtError::Exception(exception) => Some(exception.clone().into_value()),
        CaughtError::Value(value) => Some(value.clone()),
        _ => None,
    };
    let describe: Option<Function> = ctx.globals().get("__miniapp_describe").ok();
    let described = thrown.zip(describe).and_then(|(thrown, describe)| {
        let description = describe.call::<_, Object>((thrown,)).ok()?;
        let code: String = description.get("code").ok()?;
        let message: String = description.get("message").ok()?;
        Some((code, message))
    });
    match described {
        Some((code, message)) => {
            Error::new(ErrorCode::ALL.into_iter().find(|c| c.as_str() == code).unwrap_or(ErrorCode::Internal), message)
        }
        None => Error::new(ErrorCode::Internal, one_line(&caught.to_string())),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn internal(error: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::Internal, format!("the JavaScript runtime failed: {error}"))
}

/// Passes one lifecycle callback to the framework's `__miniapp_dispatch`.
fn dispatch(kind: &str, message: String) -> Result<()> {
    ENGINE.with(|cell| {
        let slot = cell.borrow();
        let Some(engine) = slot.as_ref() else {
            return Err(Error::new(ErrorCode::Internal, "the program's sources were not loaded".to_string()));
        };
        engine.context.with(|ctx| {
            let dispatch: Function = ctx.globals().get("__miniapp_dispatch").map_err(internal)?;
            dispatch.call::<_, ()>((kind, message)).catch(&ctx).map_err(|caught| exception(&ctx, caught))
        })?;
        drain_jobs(&engine.runtime)?;
        engine.context.with(|ctx| {
            let flush: Function = ctx.globals().get("__miniapp_flush").map_err(internal)?;
            flush.call::<_, ()>(()).catch(&ctx).map_err(|caught| exception(&ctx, caught))
        })
    })
}

/// The program, as the SDK drives it: each callback goes to the framework.
#[derive(Default)]
struct JsProgram;

impl MiniApp for JsProgram {
    fn on_launch(&mut self, launch: LaunchContext) -> Result<()> {
        reseed()?;
        dispatch("launch", serde_json::to_string(&launch).map_err(internal)?)
    }

    fn on_show(&mut self) -> Result<()> {
        dispatch("show", String::new())
    }

    fn on_hide(&mut self) -> Result<()> {
        dispatch("hide", String::new())
    }

    fn on_event(&mut self, event: Event) -> Result<()> {
        dispatch("event", serde_json::to_string(&event).map_err(internal)?)
    }
}

miniapp_sdk::export_app!(JsProgram);
