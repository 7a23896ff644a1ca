//! Pre-initialising script programs: the runtime's `miniapp_runtime_load` runs
//! once per program version, in a session of its own with every host call
//! refused, and Wizer turns the instance it leaves into a module — so that each
//! later session starts with the framework and the program's files already
//! evaluated, as a compiled program starts with its code ready.
//!
//! The snapshot is kept in the module cache (memory and disk) under a digest of
//! the program's code hash, which covers the runtime module and every source
//! file: changed code is a new key and never meets an old snapshot. A program
//! that cannot be snapshotted (its files call the host at their top level, or
//! fail to load) is not an error here: its sessions load the sources at launch,
//! where a failure is reported as it always was.

use super::Runtime;
use crate::capability::{Capability, Grant, ProgramInfo};
use crate::config::Limits;
use crate::error::SessionError;
use crate::sandbox::{CapturedOutput, Fault, LimitKind};
use crate::script::Bundle;
use crate::session::{ExportIndices, Session, SessionSpec, SessionState};
use miniapp_abi as abi;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use wasmtime::{Instance, Module, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// Bump when the way snapshots are made changes: older ones are then not used.
const SNAPSHOT_FORMAT: &str = "miniapp pre-initialised script 1";

/// What a snapshot is made from.
pub(crate) struct Plan<'a> {
    pub program: Arc<ProgramInfo>,
    pub limits: Limits,
    pub capabilities: &'a [(Arc<dyn Capability>, Grant)],
    /// The runtime's module (binary: one in the text format is not instrumented).
    pub runtime: &'a [u8],
    pub bundle: &'a Bundle,
}

/// The program's pre-initialised module: from the cache, or made now (with what
/// the load printed). `Err` says why there is none (the sessions then load the
/// sources themselves).
pub(crate) async fn snapshot(host: &Arc<Runtime>, plan: Plan<'_>) -> Result<(Module, CapturedOutput), String> {
    // The code and the limits the load runs under (a memory limit decides whether
    // it fits, and the snapshot's memory must fit every session).
    let made_from = format!("{SNAPSHOT_FORMAT}\0{}\0{:?}", plan.program.module_hash, plan.limits);
    let key = hex::encode(Sha256::digest(made_from));
    let cached = {
        let (host, key) = (host.clone(), key.clone());
        tokio::task::spawn_blocking(move || {
            let engine = host.engine.engine();
            match host.cache.refusal(engine, &key) {
                Some(reason) => Err(reason),
                None => Ok(host.cache.kept(engine, &key)),
            }
        })
        .await
        .map_err(|e| e.to_string())??
    };
    if let Some(module) = cached {
        return Ok((module, CapturedOutput::default()));
    }
    let (bytes, output) = match make(host, &plan).await {
        Ok(made) => made,
        Err(Refusal::Program(reason)) => {
            // The same code under the same limits fails the same way: not again.
            host.cache.keep_refusal(host.engine.engine(), &key, &reason);
            return Err(reason);
        }
        Err(Refusal::Host(reason)) => return Err(reason),
    };
    let host = host.clone();
    let module = tokio::task::spawn_blocking(move || host.cache.keep_derived(host.engine.engine(), &key, &bytes))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the snapshot does not compile: {}", crate::error::one_line(&format!("{e:#}"))))?;
    Ok((module, output))
}

/// Why a snapshot was not made: the code's doing (its load failed or called the
/// host: the same next time), or not (worth trying again).
enum Refusal {
    Program(String),
    Host(String),
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal::Host(reason)
    }
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Refusal {
        Refusal::Host(reason.to_string())
    }
}

/// Runs the load in an instrumented runtime and snapshots the instance.
async fn make(host: &Arc<Runtime>, plan: &Plan<'_>) -> Result<(Vec<u8>, CapturedOutput), Refusal> {
    let mut wizer = Wizer::new();
    // The load ran: the snapshot no longer exports it, so its sessions skip it.
    wizer.init_func(abi::EXPORT_RUNTIME_LOAD);
    let (context, instrumented) = wizer.instrument(plan.runtime).map_err(|e| {
        // The runtime module's doing, the same at every load.
        Refusal::Program(format!(
            "the runtime cannot be pre-initialised: {}",
            crate::error::one_line(&format!("{e:#}"))
        ))
    })?;
    let module = {
        let engine = host.engine.engine().clone();
        tokio::task::spawn_blocking(move || Module::new(&engine, &instrumented))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("the instrumented runtime does not compile: {e}"))?
    };
    let pre = host.linker.instantiate_pre(&module).map_err(|e| format!("cannot link the runtime: {e}"))?;
    let exports = ExportIndices::of(&module).ok_or("the instrumented runtime lost its lifecycle exports")?;
    let mut session = Session::start(SessionSpec {
        program: plan.program.clone(),
        limits: plan.limits,
        wasm_stack_bytes: host.config.engine.wasm_stack_bytes,
        user: host.user.clone(),
        capabilities: plan.capabilities,
        pre: &pre,
        exports: &exports,
        engine: host.engine.engine(),
        script: Some(plan.bundle.message()),
    })
    .await
    .map_err(|e| e.to_string())?;
    session.preinitialise().await.map_err(|e| match e {
        // The host's state, or a time limit (what a busy moment can break): try again next load.
        SessionError::Host { .. } | SessionError::Capacity { .. } => Refusal::Host(e.to_string()),
        SessionError::Ended {
            fault: Fault::Limit { kind: LimitKind::LaunchTime | LimitKind::CallbackTime, .. },
            ..
        } => Refusal::Host(e.to_string()),
        _ => Refusal::Program(e.to_string()),
    })?;
    let output = session.take_output();
    let (store, instance) = session.snapshot_parts();
    check_state_exports(&module, store, instance)?;
    let bytes = wizer
        .snapshot(&context, &mut State { store, instance })
        .await
        .map_err(|e| format!("cannot snapshot the runtime: {}", crate::error::one_line(&format!("{e:#}"))))?;
    Ok((bytes, output))
}

/// Whether every global and memory the instrumentation exported is there to be
/// read (what [`State`] relies on).
fn check_state_exports(module: &Module, store: &mut Store<SessionState>, instance: Instance) -> Result<(), String> {
    for export in module.exports() {
        let name = export.name();
        let present = if name.starts_with("__wizer_global_") {
            instance.get_global(&mut *store, name).is_some()
        } else if name.starts_with("__wizer_memory_") {
            instance.get_memory(&mut *store, name).is_some()
        } else {
            true
        };
        if !present {
            return Err(format!("the instrumented runtime's export `{name}` is missing"));
        }
    }
    Ok(())
}

/// The instance's state, as Wizer reads it.
struct State<'a> {
    store: &'a mut Store<SessionState>,
    instance: Instance,
}

impl InstanceState for State<'_> {
    async fn global_get(&mut self, name: &str, _type_hint: ValType) -> SnapshotVal {
        // Wizer asks only for the globals its instrumentation exported, which
        // `check_state_exports` found; a reference-typed global is refused by its
        // validation before any of this runs.
        let global = self.instance.get_global(&mut *self.store, name).expect("checked by check_state_exports");
        match global.get(&mut *self.store) {
            Val::I32(x) => SnapshotVal::I32(x),
            Val::I64(x) => SnapshotVal::I64(x),
            Val::F32(x) => SnapshotVal::F32(x),
            Val::F64(x) => SnapshotVal::F64(x),
            Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => unreachable!("Wizer's validation refuses a global of type {:?}", other.ty(&*self.store)),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self.instance.get_memory(&mut *self.store, name).expect("checked by check_state_exports");
        contents(memory.data(&*self.store))
    }
}
