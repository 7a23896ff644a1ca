//! A running program: one instance in its own sandbox, driven through the
//! lifecycle callbacks. Each callback runs under its own budget (time, fuel, host
//! calls, output); a broken limit, an ABI violation or a trap ends the session with
//! a [`SessionError`] naming the cause, and never affects other sessions.

use crate::capability::{
    CallObserver, CallState, Calling, Capability, CapabilityState, Grant, OncePerLaunch, ProgramInfo, SessionView,
    UserAction,
};
use crate::config::Limits;
use crate::consent::User;
use crate::error::SessionError;
use crate::sandbox::boundary::{self, GuestExports};
use crate::sandbox::{CapturedOutput, Fault, LimitKind, OutputCapture, Sandbox, Sandboxed};
use miniapp_abi::lifecycle::{Event, LaunchContext, Surface};
use miniapp_abi::{self as abi, STATUS_OK};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Engine, InstancePre, Module, ModuleExport, Store, Trap, TypedFunc};

/// Events capabilities may chain (a program navigating again while handling a
/// `page` event) before the host stops delivering them: a program redirecting in
/// a loop must not keep the host busy.
pub const MAX_CHAINED_FOLLOW_UPS: usize = 8;

/// The state wasmtime keeps for one running program (`Store<SessionState>`): its
/// sandbox, and what host calls need to know of the program and its session.
pub struct SessionState {
    sandbox: Sandbox,
    call: CallState,
}

impl Sandboxed for SessionState {
    fn sandbox(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }

    fn sandbox_ref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl Calling for SessionState {
    fn call_state(&self) -> &CallState {
        &self.call
    }
}

/// The lifecycle exports, looked up once per module.
#[derive(Clone)]
pub(crate) struct ExportIndices {
    pub memory: ModuleExport,
    pub alloc: ModuleExport,
    pub on_launch: ModuleExport,
    pub on_show: Option<ModuleExport>,
    pub on_hide: Option<ModuleExport>,
    pub on_event: Option<ModuleExport>,
    pub initialize: Option<ModuleExport>,
    pub runtime_load: Option<ModuleExport>,
}

impl ExportIndices {
    pub(crate) fn of(module: &Module) -> Option<ExportIndices> {
        Some(ExportIndices {
            memory: module.get_export_index(abi::EXPORT_MEMORY)?,
            alloc: module.get_export_index(abi::EXPORT_ALLOC)?,
            on_launch: module.get_export_index(abi::EXPORT_ON_LAUNCH)?,
            on_show: module.get_export_index(abi::EXPORT_ON_SHOW),
            on_hide: module.get_export_index(abi::EXPORT_ON_HIDE),
            on_event: module.get_export_index(abi::EXPORT_ON_EVENT),
            initialize: module.get_export_index(abi::EXPORT_INITIALIZE),
            runtime_load: module.get_export_index(abi::EXPORT_RUNTIME_LOAD),
        })
    }
}

/// Everything a session is started from (an app hands it over).
pub(crate) struct SessionSpec<'a> {
    pub program: Arc<ProgramInfo>,
    pub limits: Limits,
    pub wasm_stack_bytes: usize,
    pub user: Arc<dyn User>,
    /// The capabilities the program is granted, with their grants (an app keeps
    /// this list from its load).
    pub capabilities: &'a [(Arc<dyn Capability>, Grant)],
    pub pre: &'a InstancePre<SessionState>,
    pub exports: &'a ExportIndices,
    pub engine: &'a Engine,
    /// A script program's sources, for its runtime's `miniapp_runtime_load`.
    pub script: Option<&'a [u8]>,
}

/// Watches a session: the events delivered (including those capabilities
/// chain, like `page` events), how each callback ended, and the end. A
/// transcript is one.
pub trait SessionObserver: CallObserver {
    /// An event is about to be delivered.
    fn event(&self, _event: &Event) {}
    /// A callback finished: `ok`, or why not, after `micros`.
    fn callback(&self, _callback: &str, _outcome: &str, _micros: u64) {}
    /// The host ended the program.
    fn ended(&self, _reason: &str) {}
}

/// A running instance of a loaded program.
pub struct Session {
    program: Arc<ProgramInfo>,
    limits: Limits,
    wasm_stack_bytes: usize,
    store: Store<SessionState>,
    /// The instance (a snapshot of it is what pre-initialisation keeps).
    instance: wasmtime::Instance,
    output: OutputCapture,
    /// The lifecycle callbacks, shared so that running one clones no function
    /// (a typed function's clone counts a reference to its type in the engine).
    funcs: Arc<Lifecycle>,
    /// A script runtime's loader and the sources it has yet to load: run before
    /// the first launch.
    script: Option<PendingScript>,
    ended: Option<SessionError>,
    /// The capabilities with state in this session, with that state.
    hooks: Arc<[CapabilityState]>,
    observers: Vec<Arc<dyn SessionObserver>>,
}

/// A program's lifecycle exports, typed.
struct Lifecycle {
    on_launch: TypedFunc<(i32, i32), i32>,
    on_show: Option<TypedFunc<(), i32>>,
    on_hide: Option<TypedFunc<(), i32>>,
    on_event: Option<TypedFunc<(i32, i32), i32>>,
}

/// A script runtime's loader and the program's sources, not yet loaded.
struct PendingScript {
    load: TypedFunc<(i32, i32), i32>,
    sources: Arc<[u8]>,
}

enum Callback<'a> {
    WithMessage(&'a TypedFunc<(i32, i32), i32>, &'a [u8]),
    Plain(&'a TypedFunc<(), i32>),
}

impl Session {
    pub(crate) async fn start(spec: SessionSpec<'_>) -> Result<Session, SessionError> {
        let SessionSpec { program, limits, wasm_stack_bytes, user, capabilities, pre, exports, engine, script } = spec;
        let states: Vec<CapabilityState> = capabilities
            .iter()
            .filter_map(|(capability, grant)| {
                capability.prepare(grant).map(|data| CapabilityState { capability: capability.clone(), data })
            })
            .collect();
        let states: Arc<[CapabilityState]> = Arc::from(states);
        let sandbox = Sandbox::new(limits);
        let output = sandbox.output.clone();
        let session = SessionView {
            user,
            surface: Surface::Direct,
            gesture: false,
            action: UserAction::default(),
            output: output.clone(),
            once: OncePerLaunch::default(),
            states: states.clone(),
        };
        let call = CallState { program: program.clone(), session, observers: Vec::new() };
        let mut store = Store::new(engine, SessionState { sandbox, call });
        store.limiter(|state| state.sandbox.limiter());
        store.epoch_deadline_callback(|mut context| context.data_mut().sandbox.on_epoch_tick());
        let ends = Ends { program: program.clone(), limits, wasm_stack_bytes };
        let callbacks = instantiate(&mut store, pre, exports, &ends).await?;
        let script = match (script, callbacks.runtime_load.clone()) {
            (Some(sources), Some(load)) => Some(PendingScript { load, sources: Arc::from(sources) }),
            (Some(_), None) => return Err(host_error(&program, format!("`{}` is missing", abi::EXPORT_RUNTIME_LOAD))),
            (None, _) => None,
        };
        Ok(Session {
            program,
            limits,
            wasm_stack_bytes,
            store,
            instance: callbacks.instance,
            output,
            funcs: Arc::new(Lifecycle {
                on_launch: callbacks.on_launch,
                on_show: callbacks.on_show,
                on_hide: callbacks.on_hide,
                on_event: callbacks.on_event,
            }),
            script,
            ended: None,
            hooks: states,
            observers: Vec::new(),
        })
    }

    /// Runs `miniapp_on_launch` with `context` (after every capability's launch
    /// hook: the view capability starts the page stack at the launch page), then
    /// delivers the events capabilities chain to it.
    pub async fn launch(&mut self, context: &LaunchContext) -> Result<(), SessionError> {
        self.load_script().await?;
        let message = self.encode(context)?;
        self.store.data_mut().call.session.surface = context.surface;
        for state in self.hooks.iter() {
            state.capability.on_launch(&state.data, context);
        }
        let funcs = self.funcs.clone();
        let callback = Callback::WithMessage(&funcs.on_launch, &message);
        let time = self.limits.launch_time();
        // Opening the program is the user's action.
        self.store.data().call.session.action.set(true);
        let result = self.run(abi::EXPORT_ON_LAUNCH, callback, time, LimitKind::LaunchTime).await;
        self.store.data().call.session.action.set(false);
        self.settle(result).await
    }

    /// Hands a script runtime its program's sources, once, under the launch's
    /// time limit. A program whose sources do not load (a syntax error, an
    /// exception at the top of a file) cannot run: the session ends, and what the
    /// runtime printed says why.
    async fn load_script(&mut self) -> Result<(), SessionError> {
        let Some(PendingScript { load, sources }) = self.script.take() else { return Ok(()) };
        let callback = Callback::WithMessage(&load, &sources);
        let time = self.limits.launch_time();
        let result = self.run(abi::EXPORT_RUNTIME_LOAD, callback, time, LimitKind::LaunchTime).await;
        if let Err(error) = &result
            && self.ended.is_none()
        {
            self.ended = Some(error.clone());
        }
        result
    }

    /// Pre-initialisation: hands the script runtime its sources with every host
    /// call refused (what the files compute at their top level is shared by every
    /// later session, so it may depend on no user or session), and leaves the
    /// instance as the load left it, for [`Session::snapshot_parts`].
    pub(crate) async fn preinitialise(&mut self) -> Result<(), SessionError> {
        if self.script.is_none() {
            return Err(host_error(&self.program, "pre-initialisation needs a script program's sources".into()));
        }
        self.store.data_mut().sandbox.refuse_host_calls();
        self.load_script().await
    }

    /// The store and the instance, for taking a snapshot of its state.
    pub(crate) fn snapshot_parts(&mut self) -> (&mut Store<SessionState>, wasmtime::Instance) {
        (&mut self.store, self.instance)
    }

    /// Runs `miniapp_on_show`, if the program exports it.
    pub async fn show(&mut self) -> Result<(), SessionError> {
        let funcs = self.funcs.clone();
        let result = match &funcs.on_show {
            Some(func) => self.run_plain(abi::EXPORT_ON_SHOW, func).await,
            None => self.check_alive(),
        };
        self.settle(result).await
    }

    /// Runs `miniapp_on_hide`, if the program exports it.
    pub async fn hide(&mut self) -> Result<(), SessionError> {
        let funcs = self.funcs.clone();
        let result = match &funcs.on_hide {
            Some(func) => self.run_plain(abi::EXPORT_ON_HIDE, func).await,
            None => self.check_alive(),
        };
        self.settle(result).await
    }

    /// Delivers `event` to `miniapp_on_event`, if the program exports it, then the
    /// events capabilities chain to it (a `page` event after a navigation).
    pub async fn event(&mut self, event: &Event) -> Result<(), SessionError> {
        let result = self.deliver(event).await;
        self.settle(result).await
    }

    /// Delivers the events capabilities have waiting (after the host changed
    /// something itself: the back button closed a page).
    pub async fn follow_up(&mut self) -> Result<(), SessionError> {
        self.settle(Ok(())).await
    }

    /// Watches this session from now on (a transcript records it).
    pub fn observe(&mut self, observer: Arc<dyn SessionObserver>) {
        let call_observer: Arc<dyn CallObserver> = observer.clone();
        self.store.data_mut().call.observers.push(call_observer);
        self.observers.push(observer);
    }

    /// The state capability `name` keeps for this session (the view
    /// capability's `Screen`), if it keeps one of type `T`.
    pub fn data<T: std::any::Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        let state = self.hooks.iter().find(|state| state.capability.name() == name)?;
        state.data.clone().downcast::<T>().ok()
    }

    /// The program this session runs.
    pub fn program(&self) -> &Arc<ProgramInfo> {
        &self.program
    }

    /// Whether the program handles events.
    pub fn handles_events(&self) -> bool {
        self.funcs.on_event.is_some()
    }

    /// Takes what the program printed since the last call.
    pub fn take_output(&mut self) -> CapturedOutput {
        self.output.drain()
    }

    /// The size of the program's linear memory now, in bytes; never more than its
    /// `limits.memory_bytes`.
    pub fn memory_bytes(&self) -> u64 {
        self.store.data().sandbox.exports.as_ref().map_or(0, |exports| exports.memory.data_size(&self.store) as u64)
    }

    /// Why the session ended, if it has.
    pub fn ended(&self) -> Option<&SessionError> {
        self.ended.as_ref()
    }

    async fn deliver(&mut self, event: &Event) -> Result<(), SessionError> {
        for observer in &self.observers {
            observer.event(event);
        }
        let funcs = self.funcs.clone();
        let Some(func) = &funcs.on_event else {
            return self.check_alive();
        };
        let message = self.encode(event)?;
        let time = self.limits.callback_time();
        // Only a tap is a user gesture; the host knows which event it delivers.
        let tap = matches!(event, Event::Tap { .. });
        self.store.data_mut().call.session.gesture = tap;
        self.store.data().call.session.action.set(tap);
        let callback = Callback::WithMessage(func, &message);
        let result = self.run(abi::EXPORT_ON_EVENT, callback, time, LimitKind::CallbackTime).await;
        self.store.data_mut().call.session.gesture = false;
        self.store.data().call.session.action.set(false);
        result
    }

    /// After a callback: delivers the events capabilities chain, until none has
    /// one or [`MAX_CHAINED_FOLLOW_UPS`] were delivered. A callback that reported
    /// failure still changed what it changed; only the program's end stops this,
    /// and a chained event's own failure is not the caller's.
    async fn settle(&mut self, result: Result<(), SessionError>) -> Result<(), SessionError> {
        if result.as_ref().is_err_and(SessionError::ends_program) {
            return result;
        }
        for _ in 0..MAX_CHAINED_FOLLOW_UPS {
            let Some(event) = self.next_follow_up() else { return result };
            if let Err(error) = self.deliver(&event).await
                && error.ends_program()
            {
                return Err(error);
            }
        }
        if let Some((name, _)) = self.pending_follow_up() {
            let message = format!(
                "{} changed pages {MAX_CHAINED_FOLLOW_UPS} times in a row without a user action; \
                 the host stopped following",
                self.program.id
            );
            self.output.notice(name, message);
        }
        result
    }

    fn next_follow_up(&self) -> Option<Event> {
        self.hooks.iter().find_map(|state| state.capability.follow_up(&state.data))
    }

    /// Whether a capability still has an event waiting (taking it: the host stops
    /// following), with the capability's name.
    fn pending_follow_up(&self) -> Option<(&'static str, Event)> {
        self.hooks
            .iter()
            .find_map(|state| state.capability.follow_up(&state.data).map(|e| (state.capability.name(), e)))
    }

    async fn run_plain(&mut self, name: &'static str, func: &TypedFunc<(), i32>) -> Result<(), SessionError> {
        let time = self.limits.callback_time();
        self.run(name, Callback::Plain(func), time, LimitKind::CallbackTime).await
    }

    fn check_alive(&self) -> Result<(), SessionError> {
        match &self.ended {
            Some(reason) => {
                Err(SessionError::AlreadyEnded { program: self.program.id.clone(), reason: reason.to_string() })
            }
            None => Ok(()),
        }
    }

    fn encode(&self, message: &impl serde::Serialize) -> Result<Vec<u8>, SessionError> {
        // Room for a typical event at once: serde_json's own start (128 bytes)
        // would grow, and copy, for most.
        let mut bytes = Vec::with_capacity(512);
        serde_json::to_writer(&mut bytes, message).map_err(|e| host_error(&self.program, e.to_string()))?;
        let limit = self.limits.message_bytes as usize;
        if bytes.len() > limit {
            return Err(host_error(
                &self.program,
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
        // Only an observed session pays for timing and describing its callbacks.
        let started = (!self.observers.is_empty()).then(Instant::now);
        let fuel = self.limits.fuel_per_callback;
        begin(&mut self.store, time, time_limit, fuel).map_err(|reason| host_error(&self.program, reason))?;
        let meter = self.store.data().sandbox.meter();
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
        let result = match result {
            Ok(STATUS_OK) => Ok(()),
            Ok(status) => {
                Err(SessionError::CallbackFailed { program: self.program.id.clone(), callback: name, status })
            }
            Err(error) => {
                let ends = Ends {
                    program: self.program.clone(),
                    limits: self.limits,
                    wasm_stack_bytes: self.wasm_stack_bytes,
                };
                let error = classify(&ends, &mut self.store, error, name);
                self.ended = Some(error.clone());
                Err(error)
            }
        };
        let Some(started) = started else { return result };
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let outcome = result.as_ref().map_or_else(|e| e.to_string(), |()| "ok".to_string());
        for observer in &self.observers {
            observer.callback(name, &outcome, micros);
            if let Err(error) = &result
                && error.ends_program()
            {
                observer.ended(&error.to_string());
            }
        }
        result
    }
}

/// The callbacks of an instantiated program.
struct Callbacks {
    instance: wasmtime::Instance,
    on_launch: TypedFunc<(i32, i32), i32>,
    on_show: Option<TypedFunc<(), i32>>,
    on_hide: Option<TypedFunc<(), i32>>,
    on_event: Option<TypedFunc<(i32, i32), i32>>,
    runtime_load: Option<TypedFunc<(i32, i32), i32>>,
}

/// What a guest's end is reported with: who, and the limits it ran under.
struct Ends {
    program: Arc<ProgramInfo>,
    limits: Limits,
    wasm_stack_bytes: usize,
}

/// Instantiates the program (running its WASI initialiser, if any) and finds its
/// callbacks, all under the launch budget.
async fn instantiate(
    store: &mut Store<SessionState>,
    pre: &InstancePre<SessionState>,
    exports: &ExportIndices,
    ends: &Ends,
) -> Result<Callbacks, SessionError> {
    let limits = ends.limits;
    begin(store, limits.launch_time(), LimitKind::LaunchTime, limits.fuel_per_callback)
        .map_err(|reason| SessionError::Host { program: ends.program.id.clone(), reason })?;
    let meter = store.data().sandbox.meter();
    let instance = match meter.run(pre.instantiate_async(&mut *store)).await {
        Ok(instance) => instance,
        Err(error) => return Err(classify(ends, store, error, "instantiation")),
    };
    let missing = |what: &str| SessionError::Host {
        program: ends.program.id.clone(),
        reason: format!("export `{what}` does not match its checked type"),
    };
    let memory = instance
        .get_module_export(&mut *store, &exports.memory)
        .and_then(|e| e.into_memory())
        .ok_or_else(|| missing(abi::EXPORT_MEMORY))?;
    let func = |store: &mut Store<SessionState>, index: &wasmtime::ModuleExport| {
        instance.get_module_export(&mut *store, index).and_then(|e| e.into_func())
    };
    let alloc = func(&mut *store, &exports.alloc)
        .and_then(|f| f.typed::<i32, i32>(&*store).ok())
        .ok_or_else(|| missing(abi::EXPORT_ALLOC))?;
    let on_launch = func(&mut *store, &exports.on_launch)
        .and_then(|f| f.typed::<(i32, i32), i32>(&*store).ok())
        .ok_or_else(|| missing(abi::EXPORT_ON_LAUNCH))?;
    let optional_plain = |store: &mut Store<SessionState>, index: &Option<wasmtime::ModuleExport>| {
        index.as_ref().and_then(|i| func(store, i)).and_then(|f| f.typed::<(), i32>(&*store).ok())
    };
    let on_show = optional_plain(&mut *store, &exports.on_show);
    let on_hide = optional_plain(&mut *store, &exports.on_hide);
    let on_event = exports
        .on_event
        .as_ref()
        .and_then(|i| func(&mut *store, i))
        .and_then(|f| f.typed::<(i32, i32), i32>(&*store).ok());
    let runtime_load = exports
        .runtime_load
        .as_ref()
        .and_then(|i| func(&mut *store, i))
        .and_then(|f| f.typed::<(i32, i32), i32>(&*store).ok());
    let initialize =
        exports.initialize.as_ref().and_then(|i| func(&mut *store, i)).and_then(|f| f.typed::<(), ()>(&*store).ok());
    store.data_mut().sandbox.exports = Some(Arc::new(GuestExports { memory, alloc }));

    if let Some(initialize) = initialize
        && let Err(error) = meter.run(initialize.call_async(&mut *store, ())).await
    {
        return Err(classify(ends, store, error, abi::EXPORT_INITIALIZE));
    }
    Ok(Callbacks { instance, on_launch, on_show, on_hide, on_event, runtime_load })
}

/// Starts a callback's budget in `store`.
fn begin(
    store: &mut Store<SessionState>,
    time: Duration,
    time_limit: LimitKind,
    fuel: Option<u64>,
) -> Result<(), String> {
    store.data_mut().sandbox.begin_callback(time, time_limit);
    store.set_epoch_deadline(1);
    if let Some(fuel) = fuel {
        store.set_fuel(fuel).map_err(|e| format!("cannot set fuel: {e:#}"))?;
    }
    Ok(())
}

fn host_error(program: &ProgramInfo, reason: String) -> SessionError {
    SessionError::Host { program: program.id.clone(), reason }
}

/// Turns the error a guest call ended with into the reason the guest ended.
fn classify(
    ends: &Ends,
    store: &mut Store<SessionState>,
    error: wasmtime::Error,
    callback: &'static str,
) -> SessionError {
    let program = ends.program.id.clone();
    let state = &mut store.data_mut().sandbox;
    let recorded = state.fault.take().or_else(|| state.take_side_fault());
    let fault =
        recorded.or_else(|| error.downcast_ref::<Fault>().cloned()).or_else(|| match error.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => Some(Fault::limit(LimitKind::WasmStack, ends.wasm_stack_bytes as u64)),
            Some(Trap::OutOfFuel) => Some(Fault::limit(LimitKind::Fuel, ends.limits.fuel_per_callback.unwrap_or(0))),
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
