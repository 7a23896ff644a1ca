//! A running program: one instance in its own sandbox, driven through the
//! lifecycle callbacks. Each callback runs under its own budget (time, fuel, host
//! calls, output); a broken limit, an ABI violation or a trap ends the session with
//! a [`SessionError`] naming the cause, and never affects other sessions.

use crate::app::App;
use crate::boundary::{self, GuestExports};
use crate::error::SessionError;
use crate::sandbox::{CapturedOutput, Fault, LimitKind, OutputCapture, SessionState};
use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_abi::{self as abi, STATUS_OK};
use std::time::Duration;
use wasmtime::{Engine, InstancePre, Store, Trap, TypedFunc};

/// A running instance of an [`App`].
pub struct Session {
    app: App,
    store: Store<SessionState>,
    output: OutputCapture,
    on_launch: TypedFunc<(i32, i32), i32>,
    on_show: Option<TypedFunc<(), i32>>,
    on_hide: Option<TypedFunc<(), i32>>,
    on_event: Option<TypedFunc<(i32, i32), i32>>,
    ended: Option<SessionError>,
}

enum Callback<'a> {
    WithMessage(TypedFunc<(i32, i32), i32>, &'a [u8]),
    Plain(TypedFunc<(), i32>),
}

impl Session {
    pub(crate) async fn start(
        app: App,
        user: std::sync::Arc<dyn crate::consent::User>,
        pre: &InstancePre<SessionState>,
        exports: &crate::app::ExportIndices,
        engine: &Engine,
    ) -> Result<Session, SessionError> {
        let limits = *app.limits();
        let state = SessionState::new(app.program().clone(), limits, user);
        let output = state.output.clone();
        let mut store = Store::new(engine, state);
        store.limiter(|state| state.limiter());
        store.epoch_deadline_callback(|mut context| context.data_mut().on_epoch_tick());
        begin(&mut store, limits.launch_time(), LimitKind::LaunchTime, limits.fuel_per_callback)
            .map_err(|reason| host_error(&app, reason))?;

        let meter = store.data().meter();
        let instance = match meter.run(pre.instantiate_async(&mut store)).await {
            Ok(instance) => instance,
            Err(error) => return Err(classify(&app, &mut store, error, "instantiation")),
        };

        let program = app.program().id.clone();
        let missing = |what: &str| SessionError::Host {
            program: program.clone(),
            reason: format!("export `{what}` does not match its checked type"),
        };
        let memory = instance
            .get_module_export(&mut store, &exports.memory)
            .and_then(|e| e.into_memory())
            .ok_or_else(|| missing(abi::EXPORT_MEMORY))?;
        let func = |store: &mut Store<SessionState>, index: &wasmtime::ModuleExport| {
            instance.get_module_export(&mut *store, index).and_then(|e| e.into_func())
        };
        let alloc = func(&mut store, &exports.alloc)
            .and_then(|f| f.typed::<i32, i32>(&store).ok())
            .ok_or_else(|| missing(abi::EXPORT_ALLOC))?;
        let on_launch = func(&mut store, &exports.on_launch)
            .and_then(|f| f.typed::<(i32, i32), i32>(&store).ok())
            .ok_or_else(|| missing(abi::EXPORT_ON_LAUNCH))?;
        let optional_plain = |store: &mut Store<SessionState>, index: &Option<wasmtime::ModuleExport>| {
            index.as_ref().and_then(|i| func(store, i)).and_then(|f| f.typed::<(), i32>(&*store).ok())
        };
        let on_show = optional_plain(&mut store, &exports.on_show);
        let on_hide = optional_plain(&mut store, &exports.on_hide);
        let on_event = exports
            .on_event
            .as_ref()
            .and_then(|i| func(&mut store, i))
            .and_then(|f| f.typed::<(i32, i32), i32>(&store).ok());
        let initialize =
            exports.initialize.as_ref().and_then(|i| func(&mut store, i)).and_then(|f| f.typed::<(), ()>(&store).ok());
        store.data_mut().exports = Some(GuestExports { memory, alloc });

        if let Some(initialize) = initialize
            && let Err(error) = meter.run(initialize.call_async(&mut store, ())).await
        {
            return Err(classify(&app, &mut store, error, abi::EXPORT_INITIALIZE));
        }
        Ok(Session { app, store, output, on_launch, on_show, on_hide, on_event, ended: None })
    }

    /// Runs `miniapp_on_launch` with `context`.
    pub async fn launch(&mut self, context: &LaunchContext) -> Result<(), SessionError> {
        let message = self.encode(context)?;
        self.store.data_mut().surface = context.surface;
        let callback = Callback::WithMessage(self.on_launch.clone(), &message);
        let time = self.app.limits().launch_time();
        // Opening the program is the user's action.
        self.store.data().action.set(true);
        let result = self.run(abi::EXPORT_ON_LAUNCH, callback, time, LimitKind::LaunchTime).await;
        self.store.data().action.set(false);
        result
    }

    /// Runs `miniapp_on_show`, if the program exports it.
    pub async fn show(&mut self) -> Result<(), SessionError> {
        match self.on_show.clone() {
            Some(func) => self.run_plain(abi::EXPORT_ON_SHOW, func).await,
            None => self.check_alive(),
        }
    }

    /// Runs `miniapp_on_hide`, if the program exports it.
    pub async fn hide(&mut self) -> Result<(), SessionError> {
        match self.on_hide.clone() {
            Some(func) => self.run_plain(abi::EXPORT_ON_HIDE, func).await,
            None => self.check_alive(),
        }
    }

    /// Delivers `event` to `miniapp_on_event`, if the program exports it.
    pub async fn event(&mut self, event: &Event) -> Result<(), SessionError> {
        let Some(func) = self.on_event.clone() else {
            return self.check_alive();
        };
        let message = self.encode(event)?;
        let time = self.app.limits().callback_time();
        // Only a tap is a user gesture; the host knows which event it delivers.
        let tap = matches!(event, Event::Tap { .. });
        self.store.data_mut().gesture = tap;
        self.store.data().action.set(tap);
        let callback = Callback::WithMessage(func, &message);
        let result = self.run(abi::EXPORT_ON_EVENT, callback, time, LimitKind::CallbackTime).await;
        self.store.data_mut().gesture = false;
        self.store.data().action.set(false);
        result
    }

    /// Records every host call of this session into `transcript` from now on.
    pub fn record_to(&mut self, transcript: crate::transcript::Transcript) {
        self.store.data_mut().transcript = Some(transcript);
    }

    /// What capabilities keep for this session (its page stack, say).
    pub fn slots(&self) -> crate::sandbox::SessionSlots {
        self.store.data().slots.clone()
    }

    /// Whether the program handles events.
    pub fn handles_events(&self) -> bool {
        self.on_event.is_some()
    }

    /// Takes what the program printed since the last call.
    pub fn take_output(&mut self) -> CapturedOutput {
        self.output.drain()
    }

    /// The size of the program's linear memory now, in bytes; never more than its
    /// `limits.memory_bytes`.
    pub fn memory_bytes(&self) -> u64 {
        self.store.data().exports.as_ref().map_or(0, |exports| exports.memory.data_size(&self.store) as u64)
    }

    /// Why the session ended, if it has.
    pub fn ended(&self) -> Option<&SessionError> {
        self.ended.as_ref()
    }

    /// The program this session runs.
    pub fn app(&self) -> &App {
        &self.app
    }

    async fn run_plain(&mut self, name: &'static str, func: TypedFunc<(), i32>) -> Result<(), SessionError> {
        let time = self.app.limits().callback_time();
        self.run(name, Callback::Plain(func), time, LimitKind::CallbackTime).await
    }

    fn check_alive(&self) -> Result<(), SessionError> {
        match &self.ended {
            Some(reason) => {
                Err(SessionError::AlreadyEnded { program: self.app.program().id.clone(), reason: reason.to_string() })
            }
            None => Ok(()),
        }
    }

    fn encode(&self, message: &impl serde::Serialize) -> Result<Vec<u8>, SessionError> {
        let bytes = serde_json::to_vec(message).map_err(|e| host_error(&self.app, e.to_string()))?;
        let limit = self.app.limits().message_bytes as usize;
        if bytes.len() > limit {
            return Err(host_error(
                &self.app,
                format!("the host's message of {} bytes exceeds the program's {limit}-byte message limit", bytes.len()),
            ));
        }
        Ok(bytes)
    }

    async fn run(
        &mut self,
        name: &'static str,
        callback: Callback<'_>,
        time: Duration,
        time_limit: LimitKind,
    ) -> Result<(), SessionError> {
        self.check_alive()?;
        let fuel = self.app.limits().fuel_per_callback;
        begin(&mut self.store, time, time_limit, fuel).map_err(|reason| host_error(&self.app, reason))?;
        let meter = self.store.data().meter();
        let store = &mut self.store;
        let result = meter
            .run(async move {
                match callback {
                    Callback::WithMessage(func, message) => match boundary::deliver(&mut *store, message).await {
                        Ok((ptr, len)) => func.call_async(&mut *store, (ptr as i32, len as i32)).await,
                        Err(error) => Err(error),
                    },
                    Callback::Plain(func) => func.call_async(&mut *store, ()).await,
                }
            })
            .await;
        match result {
            Ok(STATUS_OK) => Ok(()),
            Ok(status) => {
                Err(SessionError::CallbackFailed { program: self.app.program().id.clone(), callback: name, status })
            }
            Err(error) => {
                let error = classify(&self.app, &mut self.store, error, name);
                self.ended = Some(error.clone());
                Err(error)
            }
        }
    }
}

/// Starts a callback's budget in `store`.
fn begin(
    store: &mut Store<SessionState>,
    time: Duration,
    time_limit: LimitKind,
    fuel: Option<u64>,
) -> Result<(), String> {
    store.data_mut().begin_callback(time, time_limit);
    store.set_epoch_deadline(1);
    if let Some(fuel) = fuel {
        store.set_fuel(fuel).map_err(|e| format!("cannot set fuel: {e:#}"))?;
    }
    Ok(())
}

fn host_error(app: &App, reason: String) -> SessionError {
    SessionError::Host { program: app.program().id.clone(), reason }
}

/// Turns the error a guest call ended with into the reason the guest ended.
fn classify(
    app: &App,
    store: &mut Store<SessionState>,
    error: wasmtime::Error,
    callback: &'static str,
) -> SessionError {
    let program = app.program().id.clone();
    let state = store.data_mut();
    let recorded = state.fault.take().or_else(|| state.take_side_fault());
    let fault =
        recorded.or_else(|| error.downcast_ref::<Fault>().cloned()).or_else(|| match error.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => Some(Fault::limit(LimitKind::WasmStack, app_stack_limit(app))),
            Some(Trap::OutOfFuel) => Some(Fault::limit(LimitKind::Fuel, app.limits().fuel_per_callback.unwrap_or(0))),
            _ => None,
        });
    if let Some(fault) = fault {
        return SessionError::Ended { program, callback, fault };
    }
    // The host ran out of a pooled resource (an instance slot, or a fiber stack for
    // a nested call): the host's capacity, not the program's fault.
    if let Some(pool) = error.chain().find_map(|cause| cause.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()) {
        return SessionError::Capacity { program, reason: format!("{pool} ({})", LimitKind::LivePrograms.key()) };
    }
    let message = match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        Some(exit) => format!("the program called exit({}), which the ABI does not allow", exit.0),
        None => match error.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => cause_line(&error),
        },
    };
    SessionError::Trapped { program, callback, message }
}

/// The causes of `error` as one line, without the wasm backtrace wasmtime attaches
/// (logged at debug level for the developer who wants it).
fn cause_line(error: &wasmtime::Error) -> String {
    tracing::debug!("guest call failed: {error:?}");
    // wasmtime adds the backtrace as a context layer (`WasmBacktrace` is not an
    // error type to downcast to); it is the layer that reads "wasm backtrace:".
    let causes: Vec<String> = error
        .chain()
        .map(|cause| cause.to_string())
        .filter(|text| !text.contains("wasm backtrace:"))
        .map(|text| crate::error::one_line(&text))
        .collect();
    causes.join(": ")
}

fn app_stack_limit(app: &App) -> u64 {
    app.host_config().engine.wasm_stack_bytes as u64
}
