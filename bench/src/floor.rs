//! The floor: bare wasmtime 48 running the miniapp guest module with no host
//! logic — the pooling allocator, an `InstancePre`, the module loaded with
//! `Module::deserialize_file`, epoch interruption on with a ticking clock, and a
//! `view.render` import that copies the view out and replies nothing. What miniapp
//! adds on top (the ABI checks, limits, capabilities, WASI sandbox, async) is the
//! difference between this and the miniapp figures.

use crate::work::{self, System};
use miniapp_host::Event;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::{
    Caller, Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module, PoolingAllocationConfig,
    Store, TypedFunc,
};

#[derive(Default)]
struct State {
    memory: Option<Memory>,
    last_view: Vec<u8>,
}

/// One running instance.
struct Program {
    store: Store<State>,
    alloc: TypedFunc<i32, i32>,
    on_launch: TypedFunc<(i32, i32), i32>,
    on_event: TypedFunc<(i32, i32), i32>,
}

impl Program {
    fn start(engine: &Engine, pre: &InstancePre<State>) -> Program {
        let mut store = Store::new(engine, State::default());
        store.set_epoch_deadline(1_000);
        let instance = pre.instantiate(&mut store).expect("instantiate");
        let memory = instance.get_memory(&mut store, "memory").expect("memory");
        store.data_mut().memory = Some(memory);
        let alloc = instance.get_typed_func(&mut store, "miniapp_alloc").expect("alloc");
        let on_launch = instance.get_typed_func(&mut store, "miniapp_on_launch").expect("on_launch");
        let on_event = instance.get_typed_func(&mut store, "miniapp_on_event").expect("on_event");
        if let Ok(initialize) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            initialize.call(&mut store, ()).expect("_initialize");
        }
        Program { store, alloc, on_launch, on_event }
    }

    fn send(
        store: &mut Store<State>,
        alloc: &TypedFunc<i32, i32>,
        callback: &TypedFunc<(i32, i32), i32>,
        message: &[u8],
    ) {
        let len = message.len() as i32;
        let ptr = alloc.call(&mut *store, len).expect("alloc");
        let memory = store.data().memory.expect("memory");
        memory.write(&mut *store, ptr as usize, message).expect("message fits");
        let status = callback.call(&mut *store, (ptr, len)).expect("callback");
        assert_eq!(status, 0);
    }

    fn launch(&mut self, message: &[u8]) {
        Program::send(&mut self.store, &self.alloc, &self.on_launch, message);
    }

    fn event(&mut self, message: &[u8]) {
        Program::send(&mut self.store, &self.alloc, &self.on_event, message);
    }
}

/// The floor system.
pub struct Floor {
    engine: Engine,
    wasm: Vec<u8>,
    compiled: PathBuf,
    pre: InstancePre<State>,
    launch: Vec<u8>,
    tap: Vec<u8>,
    stop_clock: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

fn engine(slots: u32) -> Engine {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .max_memories_per_module(1)
        .max_memory_size(64 << 20);
    let mut config = Config::new();
    config.epoch_interruption(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("engine")
}

fn linker(engine: &Engine, module: &Module) -> Linker<State> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap(
            "miniapp:view",
            "render",
            |mut caller: Caller<'_, State>, ptr: i32, len: i32, slot: i32| -> wasmtime::Result<i32> {
                let memory = caller.data().memory.expect("memory");
                let data = memory.data(&caller);
                let (ptr, len, slot) = (ptr as u32 as usize, len as u32 as usize, slot as u32 as usize);
                let view =
                    data.get(ptr..ptr + len).ok_or_else(|| wasmtime::Error::msg("request out of bounds"))?.to_vec();
                // An accepted view has an empty reply: (0, 0) in the reply slot.
                let reply = memory
                    .data_mut(&mut caller)
                    .get_mut(slot..slot + 8)
                    .ok_or_else(|| wasmtime::Error::msg("reply slot out of bounds"))?;
                reply.fill(0);
                caller.data_mut().last_view = view;
                Ok(0)
            },
        )
        .expect("render");
    // The guest's other imports (WASI, the link capability) are never called on
    // the measured path.
    linker.define_unknown_imports_as_traps(module).expect("unknown imports");
    linker
}

impl Floor {
    /// The floor with a pool of `slots` instances.
    pub fn new(slots: u32) -> Floor {
        let engine = engine(slots);
        let wasm = work::miniapp_module();
        let dir = tempfile::tempdir().expect("temp dir");
        let compiled = dir.path().join("tap_render.cwasm");
        std::fs::write(&compiled, engine.precompile_module(&wasm).expect("precompile")).expect("write cwasm");
        let module = deserialize(&engine, &compiled);
        let pre = linker(&engine, &module).instantiate_pre(&module).expect("instantiate_pre");
        let stop_clock = Arc::new(AtomicBool::new(false));
        let (clock_engine, stop) = (engine.clone(), stop_clock.clone());
        // The same interruption clock miniapp runs: a 5 ms tick.
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                clock_engine.increment_epoch();
            }
        });
        Floor {
            engine,
            wasm,
            compiled,
            pre,
            launch: work::json(&work::launch()),
            tap: work::json(&work::tap()),
            stop_clock,
            _dir: dir,
        }
    }

    fn first_event(&self, engine: &Engine, module: &Module) {
        let pre = linker(engine, module).instantiate_pre(module).expect("instantiate_pre");
        let mut program = Program::start(engine, &pre);
        program.launch(&self.launch);
        program.event(&self.tap);
        assert!(!program.store.data().last_view.is_empty());
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        self.stop_clock.store(true, Ordering::Relaxed);
    }
}

fn deserialize(engine: &Engine, path: &std::path::Path) -> Module {
    // SAFETY: the file was written by `precompile_module` of this engine just now.
    unsafe { Module::deserialize_file(engine, path) }.expect("deserialize")
}

impl System for Floor {
    fn name(&self) -> &'static str {
        "floor (bare wasmtime)"
    }

    fn cold_start_cached(&mut self, samples: usize) -> Vec<Duration> {
        crate::stats::time_each(samples, || {
            let module = deserialize(&self.engine, &self.compiled);
            self.first_event(&self.engine, &module);
        })
    }

    fn cold_start_new_host(&mut self, samples: usize) -> Vec<Duration> {
        (0..samples)
            .map(|_| {
                // The same settings, so the compiled file is this engine's too.
                let engine = engine(8);
                let started = Instant::now();
                let module = deserialize(&engine, &self.compiled);
                self.first_event(&engine, &module);
                started.elapsed()
            })
            .collect()
    }

    fn cold_start_first(&mut self, samples: usize) -> Vec<Duration> {
        crate::stats::time_each(samples, || {
            let module = Module::new(&self.engine, &self.wasm).expect("compile");
            self.first_event(&self.engine, &module);
        })
    }

    fn instantiate(&mut self, samples: usize) -> Vec<Duration> {
        let mut durations = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = Instant::now();
            let program = Program::start(&self.engine, &self.pre);
            durations.push(started.elapsed());
            drop(program);
        }
        durations
    }

    fn round_trip(&mut self, samples: usize, event: &Event) -> Vec<Duration> {
        let mut program = Program::start(&self.engine, &self.pre);
        program.launch(&self.launch);
        let event = work::json(event);
        crate::stats::time_each(samples, || program.event(&event))
    }

    fn idle_memory(&mut self, programs: usize) -> u64 {
        let before = crate::memory::pss_bytes();
        let held: Vec<Program> = (0..programs)
            .map(|_| {
                let mut program = Program::start(&self.engine, &self.pre);
                program.launch(&self.launch);
                program
            })
            .collect();
        let after = crate::memory::pss_bytes();
        drop(held);
        after.saturating_sub(before)
    }
}
