//! The work every system does, defined once: the guests, the launch message and
//! the tap event (about 200 bytes of JSON), and the operations each system
//! implements.

use miniapp_host::{Event, LaunchContext, Surface};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bench crate's directory.
pub fn here() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The miniapp guest's app directory (its `miniapp.toml`).
pub fn miniapp_app_dir() -> PathBuf {
    here().join("guests/tap-render")
}

/// The miniapp guest's module; the floor runs the same module.
pub fn miniapp_module() -> Vec<u8> {
    read(&here().join("guests/tap-render/target/wasm32-wasip1/release/tap_render.wasm"))
}

/// The Extism guest's module: the same logic on the Extism PDK.
pub fn extism_module() -> Vec<u8> {
    read(&here().join("guests/tap-render-extism/target/wasm32-wasip1/release/tap_render_extism.wasm"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (build.rs builds the guests)", path.display()))
}

/// A number no earlier call in this run or another has answered (the clock's
/// nanoseconds), to keep each measurement's order numbers new.
pub fn nonce() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// The launch every program gets.
pub fn launch() -> LaunchContext {
    LaunchContext::new(Surface::Direct)
}

/// The event of the round trip: a tap on "add to cart" with a product payload.
pub fn tap() -> Event {
    Event::Tap {
        action: "add-to-cart".into(),
        payload: serde_json::json!({"item": 1042, "shop": 58, "price": 2990, "sku": "red-xl", "note": "x".repeat(90)}),
    }
}

/// The same tap on a button the guest ignores: the event is delivered and
/// decoded, and no host call is made.
pub fn ignored_tap() -> Event {
    match tap() {
        Event::Tap { payload, .. } => Event::Tap { action: "browse".into(), payload },
        other => other,
    }
}

/// A message as JSON bytes, as every host sends it.
pub fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("bench messages encode")
}

/// The operations compared across systems. Each returns one duration per sample.
pub trait System {
    /// Its name in the table.
    fn name(&self) -> &'static str;
    /// From a compiled module in the on-disk cache to the first event answered,
    /// on a host (an engine) that is already running and keeps no compiled
    /// module in memory.
    fn cold_start_cached(&mut self, samples: usize) -> Vec<Duration>;
    /// The same on a host (an engine) made just before, untimed: the first
    /// program it runs, whose first use of the instance pool and fiber stacks
    /// falls in the timer.
    fn cold_start_new_host(&mut self, samples: usize) -> Vec<Duration>;
    /// From wasm bytes never seen before (compiling) to the first event answered.
    fn cold_start_first(&mut self, samples: usize) -> Vec<Duration>;
    /// A fresh instance of a ready (compiled, linked) program.
    fn instantiate(&mut self, samples: usize) -> Vec<Duration>;
    /// `event` in and its callback run to the end: for [`tap`], one host call
    /// with the ~100-byte view and its reply; for [`ignored_tap`], no host call.
    fn round_trip(&mut self, samples: usize, event: &Event) -> Vec<Duration>;
    /// `programs` launched programs held at once; the PSS they take, in bytes.
    fn idle_memory(&mut self, programs: usize) -> u64;
}
