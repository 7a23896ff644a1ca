//! A realistic program beside the synthetic one: the Taobao Deals storefront,
//! compiled from Rust (`sample-programs/taobao-deals`) and written in JavaScript
//! (`sample-programs/taobao-deals-js`, on the `js` runtime, pre-initialised),
//! through miniapp's public host library with its defaults.
//!
//! The figures: a cold start from the on-disk caches (a new host: manifest,
//! sources, module or snapshot from disk, instantiate, launch, the home page
//! rendered), launch to first view on a loaded program (instantiate + launch),
//! and a tap that renders a page (the home page's "more deals": a redirect, the
//! `page` event it brings, the next page of deals rendered).

use crate::stats::{Summary, Unit};
use miniapp_host::script::ScriptRuntime;
use miniapp_host::{App, Event, Host, HostConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The storefronts: a name and an app directory. The third is the JavaScript
/// one with a host call at the top of `app.js`, which the host cannot
/// pre-initialise: each of its sessions evaluates the files at launch (the
/// copy lives in `scratch`).
pub fn storefronts(scratch: &Path) -> [(&'static str, PathBuf); 3] {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let js = repo.join("sample-programs/taobao-deals-js");
    let unsnapshotted = scratch.join("taobao-deals-js");
    copy_dir(&js, &unsnapshotted);
    let app = std::fs::read_to_string(js.join("app.js")).expect("app.js");
    std::fs::write(unsnapshotted.join("app.js"), format!("wx.getStorageInfoSync();\n{app}")).expect("write app.js");
    [
        ("storefront, Rust", repo.join("sample-programs/taobao-deals")),
        ("storefront, JavaScript (pre-initialised)", js),
        ("the same, not pre-initialised", unsnapshotted),
    ]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("make a directory");
    for entry in std::fs::read_dir(from).expect("read a directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// The JavaScript runtime's module, as the build script built it.
fn js_runtime() -> ScriptRuntime {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtimes/js/target/wasm32-wasip1/release/miniapp_js_runtime.wasm");
    ScriptRuntime::from_file("js", path)
}

/// A host with the payment simulators (the storefront checks out with them) and the JavaScript runtime.
fn host(dir: &Path) -> Host {
    miniapp_providers::install(Host::builder(HostConfig::with_data_dir(dir)))
        .script_runtime(js_runtime())
        .build()
        .expect("host")
}

/// "More deals" (page `page`) on the home page.
fn more_deals(page: u32) -> Event {
    Event::Tap { action: "home.page".into(), payload: serde_json::json!({ "page": page }) }
}

/// One storefront's three figures.
pub struct Figures {
    pub cold_start: Summary,
    /// `App::start`: a fresh instance (of the snapshot, for the JavaScript one).
    pub instantiate: Summary,
    pub first_view: Summary,
    pub tap: Summary,
}

/// Measures the storefront in `app_dir`.
pub fn measure(app_dir: &Path, cold: usize, launches: usize, taps: usize) -> Figures {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let data = tempfile::tempdir().expect("temp dir");
    // The first load fills the on-disk caches (the compiled module, the snapshot).
    let warm = host(data.path());
    let app = runtime.block_on(warm.load_app(app_dir)).expect("load the storefront");
    let cold_start = (0..cold)
        .map(|_| {
            let host = host(data.path());
            let started = Instant::now();
            runtime.block_on(async {
                let app = host.load_app(app_dir).await.expect("load");
                let mut session = app.start().await.expect("start");
                session.launch(&crate::work::launch()).await.expect("launch");
            });
            started.elapsed()
        })
        .collect::<Vec<_>>();
    let (instantiate, first_view) = first_views(&runtime, &app, launches);
    let tap = taps_that_render(&runtime, &app, taps);
    Figures {
        cold_start: Summary::of_durations(&cold_start, Unit::Micros),
        instantiate: Summary::of_durations(&instantiate, Unit::Micros),
        first_view: Summary::of_durations(&first_view, Unit::Micros),
        tap: Summary::of_durations(&tap, Unit::Micros),
    }
}

/// Each launch's instantiation, and the whole of it to the first view.
fn first_views(runtime: &Runtime, app: &App, samples: usize) -> (Vec<Duration>, Vec<Duration>) {
    runtime.block_on(async {
        let (mut starts, mut durations) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
        for _ in 0..samples {
            let started = Instant::now();
            let mut session = app.start().await.expect("start");
            starts.push(started.elapsed());
            session.launch(&crate::work::launch()).await.expect("launch");
            durations.push(started.elapsed());
        }
        (starts, durations)
    })
}

fn taps_that_render(runtime: &Runtime, app: &App, samples: usize) -> Vec<Duration> {
    runtime.block_on(async {
        let mut session = app.start().await.expect("start");
        session.launch(&crate::work::launch()).await.expect("launch");
        let mut durations = Vec::with_capacity(samples);
        for n in 0..samples {
            // Pages 2 and 1 in turn: each tap redirects and renders eight deals.
            let event = more_deals(if n % 2 == 0 { 2 } else { 1 });
            let started = Instant::now();
            session.event(&event).await.expect("tap");
            durations.push(started.elapsed());
        }
        durations
    })
}
