//! The shared WebAssembly engine: wasmtime set up for untrusted guests and for
//! speed — epoch interruption driven by one ticker thread, a bounded wasm stack,
//! optional fuel, the pooling instance allocator — plus the compiled-module cache.

pub(crate) mod admission;
mod cache;
mod files;

pub(crate) use cache::{CompiledModule, ModuleCache};
pub(crate) use files::{FileStamp, KnownByStamp, KnownFile};

use crate::config::{EngineSettings, Limits};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Room the host's own frames need on a guest's async stack beyond the wasm stack.
const HOST_STACK_HEADROOM: usize = 1 << 20;

/// An engine and the thread that advances its interruption clock.
pub(crate) struct SharedEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
}

impl SharedEngine {
    /// Builds the engine and starts its ticker.
    pub(crate) fn new(settings: &EngineSettings, limits: &Limits) -> Result<SharedEngine, String> {
        let engine = Engine::new(&engine_config(settings, limits)).map_err(|e| {
            let hint = if settings.pooling {
                " (the pooling allocator reserves address space up front; try `engine.pooling = false` or a smaller `engine.max_live_programs`)"
            } else {
                ""
            };
            format!("cannot create the WebAssembly engine: {e:#}{hint}")
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let tick = Duration::from_millis(settings.epoch_tick_ms.max(1));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        std::thread::Builder::new()
            .name("miniapp-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| format!("cannot start the interruption clock: {e}"))?;
        Ok(SharedEngine { engine, stop })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for SharedEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn engine_config(settings: &EngineSettings, limits: &Limits) -> Config {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(settings.fuel)
        .max_wasm_stack(settings.wasm_stack_bytes)
        .async_stack_size(settings.wasm_stack_bytes + HOST_STACK_HEADROOM)
        // A mini-program's memory is 32-bit; the boundary assumes it.
        .wasm_memory64(false);
    if settings.pooling {
        let slots = settings.max_live_programs.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(slots)
            .total_memories(slots)
            .total_tables(slots)
            // A program in a callback holds one fiber stack, and a host call that
            // delivers its reply through the guest's allocator runs a nested call
            // on a second.
            .total_stacks(slots.saturating_mul(2))
            .max_memories_per_module(1)
            .max_tables_per_module(4)
            .max_memory_size(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX))
            .table_elements(usize::try_from(limits.table_elements).unwrap_or(usize::MAX));
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}
