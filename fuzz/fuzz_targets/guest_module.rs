//! The guest side: arbitrary valid wasm modules (wasm-smith) that import the
//! miniapp host functions and export the ABI's entry points, loaded beside a valid
//! manifest. Each must load or be refused with a load error; one that loads is
//! launched and sent an event, and must end cleanly (a status, a trap, a limit)
//! within its limits: memory never past `limits.memory_bytes`, never a host error.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use miniapp_host::{Event, Host, HostConfig, LaunchContext, Manifest, SessionError, Surface};
use std::path::Path;
use std::sync::OnceLock;

/// What a generated module may import: every host function shape a mini-program
/// sees, and a WASI function.
const IMPORTS: &str = r#"(module
  (import "miniapp:storage" "get" (func (param i32 i32 i32) (result i32)))
  (import "miniapp:storage" "set" (func (param i32 i32 i32) (result i32)))
  (import "miniapp:link" "open" (func (param i32 i32 i32) (result i32)))
  (import "miniapp:identity" "user_id" (func (param i32 i32 i32) (result i32)))
  (import "miniapp:view" "render" (func (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
)"#;

/// What it must export: the ABI's entry points.
const EXPORTS: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "miniapp_abi_v1_0"))
  (func (export "miniapp_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32) (i32.const 0))
  (func (export "miniapp_on_event") (param i32 i32) (result i32) (i32.const 0))
)"#;

const MANIFEST: &str = r#"id = "fuzz.smith"
name = "Smith"
version = "0.1.0"
publisher = "fuzz"
module = "module.wasm"

[capabilities.storage]
[capabilities.identity]
[capabilities.view]
[capabilities.link]
domains = ["taobao.com"]

[limits]
memory_bytes = 4194304
launch_time_ms = 100
callback_time_ms = 100
host_calls_per_callback = 64
message_bytes = 4096
output_bytes = 4096
"#;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    host: Host,
    manifest: Manifest,
    _data: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = HostConfig::with_data_dir(data.path());
        config.engine.max_live_programs = 4;
        config.engine.module_cache = false;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let host = runtime.block_on(async { Host::new(config) }).expect("host");
        let manifest = Manifest::parse(MANIFEST, Path::new("miniapp.toml")).expect("manifest");
        Fixture { runtime, host, manifest, _data: data }
    })
}

fn module(data: &[u8]) -> Result<Vec<u8>> {
    let mut u = Unstructured::new(data);
    // Half the modules are generated without traps, so they run on into the
    // host calls, loops and memory growth the limits are for.
    let without_traps: bool = u.arbitrary()?;
    let mut config: wasm_smith::Config = u.arbitrary()?;
    config.disallow_traps = without_traps;
    config.available_imports = Some(wat::parse_str(IMPORTS).expect("imports"));
    config.exports = Some(wat::parse_str(EXPORTS).expect("exports"));
    // The exported memory comes from `EXPORTS`; one more would break the pool's
    // one-memory-per-program rule and only be refused at load.
    config.max_memories = 0;
    config.memory64_enabled = false;
    config.threads_enabled = false;
    // Proposals the host's engine does not enable would only be refused at load.
    config.exceptions_enabled = false;
    config.gc_enabled = false;
    config.reference_types_enabled = false;
    config.max_memory32_bytes = 64 << 16;
    Ok(wasm_smith::Module::new(config, &mut u)?.to_bytes())
}

fn check_end(result: Result<(), SessionError>) {
    if let Err(SessionError::Host { reason, .. }) = &result {
        panic!("a guest caused a host error: {reason}");
    }
}

/// With `MINIAPP_FUZZ_STATS` set, says how far each module got (refused at load,
/// launched, ...), so a run can show that modules do load and run.
fn report(stage: &str) {
    if std::env::var_os("MINIAPP_FUZZ_STATS").is_some() {
        eprintln!("guest_module: {stage}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(bytes) = module(data) else { return };
    let fixture = fixture();
    fixture.runtime.block_on(async {
        // Refusal is a fine answer; the error type says it was a clean one.
        let app = match fixture.host.load_app_from_parts(fixture.manifest.clone(), bytes).await {
            Ok(app) => app,
            Err(error) => return report(&format!("refused at load ({}): {error}", error.code())),
        };
        let limit = app.limits().memory_bytes;
        let mut session = match app.start().await {
            Ok(session) => session,
            Err(error) => return check_end(Err(error)),
        };
        let launched = session.launch(&LaunchContext::new(Surface::Direct)).await;
        report(&format!("launched: {}", launched.as_ref().map_or_else(|e| e.code(), |()| "ok")));
        check_end(launched);
        assert!(session.memory_bytes() <= limit, "memory {} past the limit {limit}", session.memory_bytes());
        let tap = Event::Tap { action: "buy".into(), payload: serde_json::json!({"item": 1}) };
        check_end(session.event(&tap).await);
        assert!(session.memory_bytes() <= limit, "memory {} past the limit {limit}", session.memory_bytes());
        assert!(session.take_output().stdout.len() <= 4096 * 2);
    });
});
