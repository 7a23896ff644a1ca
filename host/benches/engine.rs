//! The host's own costs on one small guest: instantiating a ready program, and an
//! event round trip (a ~200-byte JSON event in, one host call with a JSON reply).
//! Prints each figure's median and spread.
//!
//! `RUST_BACKTRACE=0 cargo bench -p miniapp-host --bench engine`

use miniapp_host::{Event, Host, HostConfig, LaunchContext, Manifest, Surface};
use std::path::Path;
use std::time::{Duration, Instant};

/// On each event: one `identity.user_id` call (pure computation, no I/O), reply
/// delivered through the guest's allocator.
const GUEST: &str = r#"(module
  (import "miniapp:identity" "user_id" (func $user_id (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "miniapp_abi_v1_0"))
  (global $heap (mut i32) (i32.const 4096))
  (func (export "miniapp_alloc") (param $size i32) (result i32)
    (local $ptr i32)
    ;; Reuse one region: every message is consumed before the next arrives.
    (if (i32.gt_u (global.get $heap) (i32.const 65536)) (then (global.set $heap (i32.const 4096))))
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $ptr))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32) (i32.const 0))
  (func (export "miniapp_on_event") (param i32 i32) (result i32)
    (call $user_id (i32.const 0) (i32.const 0) (i32.const 16))))"#;

const SAMPLES: usize = 2_000;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    println!(
        "{name:<28} median {:>8.2} µs   p10 {:>8.2}   p90 {:>8.2}   p99 {:>8.2}",
        at(0.5),
        at(0.1),
        at(0.9),
        at(0.99)
    );
}

async fn run() {
    let data = tempfile::tempdir().unwrap();
    let mut config = HostConfig::with_data_dir(data.path());
    config.engine.max_live_programs = 64;
    let host = Host::new(config).unwrap();
    let manifest = Manifest::parse(
        "id = \"bench.echo\"\nname = \"Bench\"\nversion = \"1.0.0\"\npublisher = \"bench\"\nmodule = \"m.wat\"\n[capabilities.identity]\n",
        Path::new("miniapp.toml"),
    )
    .unwrap();
    let app = host.load_app_from_parts(manifest, GUEST.as_bytes().to_vec()).await.unwrap();

    let mut instantiate = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let session = app.start().await.unwrap();
        instantiate.push(started.elapsed());
        drop(session);
    }
    report("instantiate a ready program", instantiate);

    let mut session = app.start().await.unwrap();
    session.launch(&LaunchContext::new(Surface::Direct)).await.unwrap();
    let event = Event::Tap {
        action: "add-to-cart".into(),
        payload: serde_json::json!({"item": 1042, "shop": 58, "price": 2990, "note": "x".repeat(110)}),
    };
    assert!((180..=240).contains(&serde_json::to_vec(&event).unwrap().len()));
    let mut round_trip = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        session.event(&event).await.unwrap();
        round_trip.push(started.elapsed());
    }
    report("event round trip (1 call)", round_trip);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}
