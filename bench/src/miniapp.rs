//! miniapp, through its public host library: a [`Host`] with its defaults (the
//! pooling allocator, the on-disk module cache, epoch interruption, the sandboxed
//! WASI context, every capability registered), the guest loaded from its app
//! directory and driven through [`miniapp_host::Session`].

use crate::work::{self, System};
use miniapp_host::{App, Event, Host, HostConfig};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The miniapp system.
pub struct Miniapp {
    runtime: Runtime,
    slots: u32,
    /// Holds the on-disk module cache the cached cold starts read.
    cached: tempfile::TempDir,
    /// The host `app` was loaded on; kept alive while its sessions run.
    _host: Host,
    app: App,
    /// A host over the same cache that keeps no compiled module in memory: each
    /// load maps the compiled file, as a long-running host does for a program it
    /// has not run lately.
    running: Host,
}

fn config(dir: &Path, slots: u32) -> HostConfig {
    let mut config = HostConfig::with_data_dir(dir);
    config.engine.max_live_programs = slots;
    config
}

impl Miniapp {
    /// miniapp with a pool of `slots` programs.
    pub fn new(slots: u32) -> Miniapp {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        let cached = tempfile::tempdir().expect("temp dir");
        let host = Host::new(config(cached.path(), slots)).expect("host");
        // The first load compiles and fills the on-disk cache.
        let app = runtime.block_on(host.load_app(work::miniapp_app_dir())).expect("load the guest");
        let mut running = config(cached.path(), 8);
        running.engine.modules_in_memory = 0;
        let running = Host::new(running).expect("host");
        Miniapp { runtime, slots, cached, _host: host, app, running }
    }

    async fn first_event(host: &Host) {
        let app = host.load_app(work::miniapp_app_dir()).await.expect("load");
        let mut session = app.start().await.expect("start");
        session.launch(&work::launch()).await.expect("launch");
        session.event(&work::tap()).await.expect("event");
    }
}

impl System for Miniapp {
    fn name(&self) -> &'static str {
        "miniapp"
    }

    fn cold_start_cached(&mut self, samples: usize) -> Vec<Duration> {
        crate::stats::time_each(samples, || self.runtime.block_on(Miniapp::first_event(&self.running)))
    }

    fn cold_start_new_host(&mut self, samples: usize) -> Vec<Duration> {
        (0..samples)
            .map(|_| {
                // A new host has an empty in-memory cache: the module comes from disk.
                let host = Host::new(config(self.cached.path(), 8)).expect("host");
                let started = Instant::now();
                self.runtime.block_on(Miniapp::first_event(&host));
                started.elapsed()
            })
            .collect()
    }

    fn cold_start_first(&mut self, samples: usize) -> Vec<Duration> {
        (0..samples)
            .map(|_| {
                let fresh = tempfile::tempdir().expect("temp dir");
                let host = Host::new(config(fresh.path(), 8)).expect("host");
                let started = Instant::now();
                self.runtime.block_on(Miniapp::first_event(&host));
                started.elapsed()
            })
            .collect()
    }

    fn instantiate(&mut self, samples: usize) -> Vec<Duration> {
        let app = &self.app;
        self.runtime.block_on(async {
            let mut durations = Vec::with_capacity(samples);
            for _ in 0..samples {
                let started = Instant::now();
                let session = app.start().await.expect("start");
                durations.push(started.elapsed());
                drop(session);
            }
            durations
        })
    }

    fn round_trip(&mut self, samples: usize, event: &Event) -> Vec<Duration> {
        let app = &self.app;
        self.runtime.block_on(async {
            let mut session = app.start().await.expect("start");
            session.launch(&work::launch()).await.expect("launch");
            let mut durations = Vec::with_capacity(samples);
            for _ in 0..samples {
                let started = Instant::now();
                session.event(event).await.expect("event");
                durations.push(started.elapsed());
            }
            durations
        })
    }

    fn idle_memory(&mut self, programs: usize) -> u64 {
        assert!(programs <= self.slots as usize, "the pool holds {} programs", self.slots);
        let app = &self.app;
        self.runtime.block_on(async {
            let before = crate::memory::pss_bytes();
            let mut held = Vec::with_capacity(programs);
            for _ in 0..programs {
                let mut session = app.start().await.expect("start");
                session.launch(&work::launch()).await.expect("launch");
                held.push(session);
            }
            let after = crate::memory::pss_bytes();
            drop(held);
            after.saturating_sub(before)
        })
    }
}
