//! Extism 1.30 doing the same work: the same tap, the same guest logic on the
//! Extism PDK (WASI on, as miniapp's guests have a sandboxed WASI), one host
//! function that copies the view out, a timeout set so its interruption is on.

use crate::work::{self, System};
use extism::{CompiledPlugin, Function, Manifest, Plugin, PluginBuilder, UserData, Wasm};
use miniapp_host::Event;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Extism system.
pub struct Extism {
    wasm: Vec<u8>,
    last_view: Arc<Mutex<Vec<u8>>>,
    cache_config: PathBuf,
    compiled: CompiledPlugin,
    launch: Vec<u8>,
    tap: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn render(last_view: &Arc<Mutex<Vec<u8>>>) -> Function {
    let last_view = last_view.clone();
    Function::new("render", [extism::PTR], [], UserData::new(()), move |plugin, inputs, _outputs, _data| {
        let view: Vec<u8> = plugin.memory_get_val(&inputs[0])?;
        *last_view.lock().unwrap_or_else(|p| p.into_inner()) = view;
        Ok(())
    })
}

/// A plugin builder for `wasm`: WASI, the render function, a 1 s timeout, and the
/// module cache `cache` (`None`: no cache).
fn builder(wasm: &[u8], last_view: &Arc<Mutex<Vec<u8>>>, cache: Option<&Path>) -> PluginBuilder<'static> {
    let manifest = Manifest::new([Wasm::data(wasm.to_vec())]).with_timeout(Duration::from_secs(1));
    let builder = PluginBuilder::new(manifest).with_wasi(true).with_functions([render(last_view)]);
    match cache {
        Some(config) => builder.with_cache_config(config.to_path_buf()),
        None => builder.with_cache_disabled(),
    }
}

impl Extism {
    /// Extism with its module cache in a temporary directory.
    pub fn new() -> Extism {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache_config = dir.path().join("cache.toml");
        let cache_dir = dir.path().join("cache").display().to_string();
        std::fs::write(&cache_config, format!("[cache]\ndirectory = {cache_dir:?}\n")).expect("cache config");
        let wasm = work::extism_module();
        let last_view = Arc::new(Mutex::new(Vec::new()));
        // Compiling once also fills the on-disk cache the cached cold starts read.
        let compiled = builder(&wasm, &last_view, Some(&cache_config)).compile().expect("compile the guest");
        Extism {
            wasm,
            last_view,
            cache_config,
            compiled,
            launch: work::json(&work::launch()),
            tap: work::json(&work::tap()),
            _dir: dir,
        }
    }

    fn launched(&self, mut plugin: Plugin) -> Plugin {
        plugin.call::<&[u8], &[u8]>("on_launch", &self.launch).expect("on_launch");
        plugin
    }

    fn first_event(&self, plugin: Plugin) {
        let mut plugin = self.launched(plugin);
        plugin.call::<&[u8], &[u8]>("on_event", &self.tap).expect("on_event");
        assert!(!self.last_view.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
    }
}

impl System for Extism {
    fn name(&self) -> &'static str {
        "Extism 1.30"
    }

    fn cold_start_cached(&mut self, samples: usize) -> Vec<Duration> {
        crate::stats::time_each(samples, || {
            let plugin = builder(&self.wasm, &self.last_view, Some(&self.cache_config)).build().expect("plugin");
            self.first_event(plugin);
        })
    }

    fn cold_start_new_host(&mut self, samples: usize) -> Vec<Duration> {
        // A plugin is its own host: each cold start already builds a new one.
        self.cold_start_cached(samples)
    }

    fn cold_start_first(&mut self, samples: usize) -> Vec<Duration> {
        crate::stats::time_each(samples, || {
            let plugin = builder(&self.wasm, &self.last_view, None).build().expect("plugin");
            self.first_event(plugin);
        })
    }

    fn instantiate(&mut self, samples: usize) -> Vec<Duration> {
        let mut durations = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = Instant::now();
            let plugin = Plugin::new_from_compiled(&self.compiled).expect("instantiate");
            durations.push(started.elapsed());
            drop(plugin);
        }
        durations
    }

    fn round_trip(&mut self, samples: usize, event: &Event) -> Vec<Duration> {
        let mut plugin = self.launched(Plugin::new_from_compiled(&self.compiled).expect("instantiate"));
        let event = work::json(event);
        crate::stats::time_each(samples, || {
            plugin.call::<&[u8], &[u8]>("on_event", &event).expect("on_event");
        })
    }

    fn idle_memory(&mut self, programs: usize) -> u64 {
        let before = crate::memory::pss_bytes();
        let held: Vec<Plugin> = (0..programs)
            .map(|_| self.launched(Plugin::new_from_compiled(&self.compiled).expect("instantiate")))
            .collect();
        let after = crate::memory::pss_bytes();
        drop(held);
        after.saturating_sub(before)
    }
}
