//! JavaScript mini-programs through the real binary: the `js` runtime (QuickJS
//! in a guest, built from `runtimes/js` on first use) running WeChat-style pages
//! under the same limits and gates as any program.

mod support;

use std::path::Path;
use support::{miniapp, text};

/// Whether the JavaScript runtime can be built here (Debian's clang and wasi-libc).
fn runtime_buildable() -> bool {
    support::c_toolchain()
}

/// Writes a one-page JavaScript program into `dir`: `page_js` and `page_wxml` are
/// `pages/index`; `extra` is added to the manifest.
fn js_program(dir: &Path, page_js: &str, page_wxml: &str, extra: &str) {
    std::fs::create_dir_all(dir.join("pages")).unwrap();
    let manifest = format!(
        "id = \"com.example.js-test\"\nname = \"JS test\"\nversion = \"0.1.0\"\npublisher = \"Example Co.\"\n\
         runtime = \"js\"\nmain = \"app.js\"\npages = [\"pages/index\"]\n\n[capabilities.view]\n{extra}"
    );
    std::fs::write(dir.join("miniapp.toml"), manifest).unwrap();
    std::fs::write(dir.join("app.js"), "App({});\n").unwrap();
    std::fs::write(dir.join("pages/index.js"), page_js).unwrap();
    std::fs::write(dir.join("pages/index.wxml"), page_wxml).unwrap();
}

#[test]
fn the_hello_js_sample_runs_its_demo_script() {
    if !runtime_buildable() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let out =
        miniapp(data.path(), &["run", "sample-programs/hello-js", "--script", "sample-programs/hello-js/demo.script"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("[com.example.hello-js] launched from direct"), "{stdout}");
    assert!(stdout.contains("visit 1"), "{stdout}");
    assert!(stdout.contains("━━ Item 2 ━━"), "the title set by wx.setNavigationBarTitle: {stdout}");
    assert!(stdout.contains("finished: 11 steps"), "{stdout}");

    // The program's storage is the host's: a second run is the second visit.
    let again =
        miniapp(data.path(), &["run", "sample-programs/hello-js", "--script", "sample-programs/hello-js/demo.script"]);
    assert!(text(&again.stdout).contains("visit 2"), "{}", text(&again.stdout));

    // Its sources are its identity: inspect shows the runtime and the pages.
    let inspect = miniapp(data.path(), &["inspect", "sample-programs/hello-js"]);
    let shown = text(&inspect.stdout);
    assert!(inspect.status.success(), "{shown}{}", text(&inspect.stderr));
    assert!(shown.contains("script        js runtime"), "{shown}");
    assert!(shown.contains("pages/index, pages/detail"), "{shown}");
}

#[test]
fn an_exception_is_one_line_with_the_file_and_line() {
    if !runtime_buildable() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    js_program(app.path(), "Page({\n  data: {},\n  onLoad() { this.missing(); },\n});\n", "<text>x</text>", "");
    let out = miniapp(data.path(), &["run", app.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.lines().any(|l| l.contains("TypeError") && l.contains("(pages/index.js:3:")),
        "the exception names its file and line: {stderr}"
    );

    // A syntax error stops the load and names its place.
    js_program(app.path(), "Page({ data: { }\n  oops here\n});\n", "<text>x</text>", "");
    let out = miniapp(data.path(), &["run", app.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("SyntaxError") && stderr.contains("pages/index.js:"), "{stderr}");
    assert!(stderr.contains("miniapp_runtime_load"), "{stderr}");

    // A template error names the template's file and line.
    js_program(app.path(), "Page({});\n", "<text>ok</text>\n<swiper></swiper>\n", "");
    let out = miniapp(data.path(), &["run", app.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("pages/index.wxml:2: <swiper> is not a miniapp component"), "{stderr}");
}

const HOSTILE_JS: &str = r#"
Page({
  data: { message: 'ready' },
  deepJson() {
    try { JSON.parse('['.repeat(200000)); } catch (e) { this.setData({ message: e.name + ': ' + e.message }); }
  },
  pay() {
    wx.requestPayment({ merchantId: '1900000109', outTradeNo: 'X1', amount: 100, description: 'x',
      fail: (res) => this.setData({ message: res.errMsg }) });
  },
  unsupported() {
    try { wx.request({ url: 'https://example.com' }); } catch (e) { this.setData({ message: e.message }); }
  },
  timers() {
    try { setTimeout(() => {}, 10); } catch (e) { this.setData({ message: e.message }); }
  },
  loop() { while (true) {} },
  grow() { const hoard = []; for (;;) hoard.push('x'.repeat(1 << 20) + hoard.length); },
});
"#;

const HOSTILE_WXML: &str = r#"
<text>{{message}}</text>
<button id="deep" bindtap="deepJson">deep</button>
<button id="pay" bindtap="pay">pay</button>
<button id="unsupported" bindtap="unsupported">unsupported</button>
<button id="timers" bindtap="timers">timers</button>
<button id="loop" bindtap="loop">loop</button>
<button id="grow" bindtap="grow">grow</button>
"#;

#[test]
fn hostile_javascript_meets_the_same_limits_and_gates() {
    if !runtime_buildable() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    js_program(app.path(), HOSTILE_JS, HOSTILE_WXML, "\n[limits]\nmemory_bytes = 33554432\ncallback_time_ms = 300\n");
    let script = app.path().join("gates.script");
    std::fs::write(
        &script,
        "tap deep\nexpect \"SyntaxError: JSON nested deeper than 512 levels\"\n\
         tap pay\nexpect \"requestPayment:fail payment.request: \"\n\
         tap unsupported\nexpect \"wx.request is not supported by miniapp\"\n\
         tap timers\nexpect \"setTimeout is not supported\"\n",
    )
    .unwrap();
    let dir = app.path().to_str().unwrap();
    let out = miniapp(data.path(), &["run", dir, "--script", script.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));

    for (action, limit) in [("loop", "limits.callback_time_ms"), ("grow", "limits.memory_bytes")] {
        let event = format!(r#"{{"type":"tap","action":"{action}"}}"#);
        let out = miniapp(data.path(), &["run", dir, "--event", &event]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{action} must end the program");
        assert!(stderr.contains(limit), "{action}: {stderr}");
    }
}

#[test]
fn a_javascript_program_packs_installs_and_runs_from_its_package() {
    if !runtime_buildable() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let package = out_dir.path().join("hello-js.mpkg");
    let pack = miniapp(data.path(), &["pack", "sample-programs/hello-js", "--out", package.to_str().unwrap()]);
    assert!(pack.status.success(), "{}", text(&pack.stderr));
    let inspect = miniapp(data.path(), &["inspect", package.to_str().unwrap()]);
    let shown = text(&inspect.stdout);
    assert!(shown.contains("source      pages/index.wxml"), "the sources are signed entries: {shown}");
    let install = miniapp(data.path(), &["install", package.to_str().unwrap()]);
    assert!(install.status.success(), "{}", text(&install.stderr));
    let run =
        miniapp(data.path(), &["run", "com.example.hello-js", "--script", "sample-programs/hello-js/demo.script"]);
    assert!(run.status.success(), "{}{}", text(&run.stdout), text(&run.stderr));
}

/// The views a transcript recorded, with each payment's provider-minted
/// transaction id masked (the one thing two runs may not share).
fn views(transcript: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(transcript).unwrap();
    let masked = mask_digits_after(&text, "交易号 Transaction ");
    let record: serde_json::Value = serde_json::from_str(&masked).unwrap();
    let entries = record["entries"].as_array().unwrap();
    entries.iter().filter(|e| e["kind"] == "view").map(|e| serde_json::json!([e["page"], e["view"]])).collect()
}

/// `text` with the digits after every `marker` replaced by `#`.
fn mask_digits_after(text: &str, marker: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let (head, tail) = rest.split_at(at + marker.len());
        out.push_str(head);
        out.push('#');
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Runs `script` against the Rust program `rust_app` and the JavaScript program
/// `js_app` (each in a fresh data directory, each to its end, `last` the script's
/// last line) and asserts that both showed the same views, one for one.
fn same_views(rust_app: &str, js_app: &str, script: &str, last: &str) {
    let mut shown = Vec::new();
    for app in [rust_app, js_app] {
        let data = tempfile::tempdir().unwrap();
        let transcript = data.path().join("transcript.json");
        let out = miniapp(data.path(), &["run", app, "--script", script, "--transcript", transcript.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert!(stdout.contains(last), "{app} did not run the script to its end:\n{stdout}\n{}", text(&out.stderr));
        shown.push(views(&transcript));
    }
    let (rust, js) = (&shown[0], &shown[1]);
    assert!(rust.len() > 5, "the script shows several views: {}", rust.len());
    for (index, (expected, actual)) in rust.iter().zip(js).enumerate() {
        assert_eq!(expected, actual, "view {index} differs between {rust_app} and {js_app}");
    }
    assert_eq!(rust.len(), js.len(), "both programs show as many views");
}

#[test]
fn the_javascript_storefront_runs_the_rust_storefronts_demo_script_view_for_view() {
    if !runtime_buildable() {
        return;
    }
    // The Rust storefront's own script, unchanged, against each storefront.
    same_views(
        "sample-programs/taobao-deals",
        "sample-programs/taobao-deals-js",
        "sample-programs/taobao-deals/demo.script",
        "[script] finished: 48 steps",
    );
}

#[test]
fn the_hostile_program_in_javascript_is_refused_as_the_rust_one_is() {
    if !runtime_buildable() {
        return;
    }
    // Every attack refused with the same answer, the loop ended by the callback limit.
    same_views(
        "sample-programs/hostile",
        "sample-programs/hostile-js",
        "sample-programs/hostile/demo.script",
        "[script] finished: 18 steps",
    );
}

#[test]
fn sessions_start_from_a_snapshot_with_math_random_reseeded_and_changed_files_make_a_new_one() {
    if !runtime_buildable() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    let page = |marker: &str| {
        format!(
            "const atLoad = Math.random();\nPage({{ data: {{}}, onLoad() {{ this.setData({{ now: Math.random(), atLoad }}); }} }});\n// {marker}\n"
        )
    };
    js_program(app.path(), &page("one"), "<text>now {{now}} at-load {{atLoad}}</text>", "");
    let dir = app.path().to_str().unwrap();
    let shown = |out: &std::process::Output| -> (String, String) {
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        assert!(!text(&out.stderr).contains("not pre-initialised"), "{}", text(&out.stderr));
        let line = stdout.lines().find(|l| l.starts_with("now ")).unwrap_or_else(|| panic!("{stdout}")).to_string();
        let mut words = line.split_whitespace();
        (words.nth(1).unwrap().to_string(), words.nth(1).unwrap().to_string())
    };
    let (first_now, first_at_load) = shown(&miniapp(data.path(), &["run", dir]));
    let (second_now, second_at_load) = shown(&miniapp(data.path(), &["run", dir]));
    // The files were evaluated once, into the snapshot both sessions started from …
    assert_eq!(first_at_load, second_at_load, "a value computed at the top of a file is the snapshot's");
    // … and Math.random was reseeded at each launch.
    assert_ne!(first_now, second_now, "two sessions drew the same Math.random()");

    // A changed file is a new version, never the old snapshot.
    std::fs::write(app.path().join("pages/index.wxml"), "<text>changed {{now}}</text>").unwrap();
    let changed = miniapp(data.path(), &["run", dir]);
    assert!(text(&changed.stdout).contains("changed 0."), "{}", text(&changed.stdout));
}

#[test]
fn files_that_call_the_host_at_their_top_level_run_without_a_snapshot_and_say_why() {
    if !runtime_buildable() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let app = tempfile::tempdir().unwrap();
    js_program(
        app.path(),
        "const visits = (wx.getStorageSync('visits') || 0) + 1;\nwx.setStorageSync('visits', visits);\n\
         Page({ data: { visits } });\n",
        "<text>visit {{visits}}</text>",
        "[capabilities.storage]\n",
    );
    let dir = app.path().to_str().unwrap();
    for visit in ["visit 1", "visit 2"] {
        let out = miniapp(data.path(), &["run", dir]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains(visit), "each session evaluates the files, with the user's storage: {stdout}");
        let note = stderr.lines().find(|l| l.contains("not pre-initialised")).unwrap_or_else(|| panic!("{stderr}"));
        assert!(note.contains("called the host while its files were evaluated"), "{note}");
    }
}

#[test]
fn every_wx_mapping_reaches_its_host_function() {
    if !runtime_buildable() {
        return;
    }
    // Storage (sync and async), consent (granted and refused), the address picker,
    // a card of the program's own page, another program, launch options and
    // canIUse, a cancelled payment, navigateTo / navigateBack / redirectTo / reLaunch,
    // an unhandled wx.* rejection and an unsupported wx.* name.
    let data = tempfile::tempdir().unwrap();
    let app = "cli/tests/programs/wx-tour";
    let out = miniapp(data.path(), &["run", app, "--script", "cli/tests/programs/wx-tour/tour.script"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("[script] finished: 42 steps"), "{stdout}");
    assert!(stdout.contains("[host] link: shared mini-program com.example.wx-tour /pages/index to chat"), "{stdout}");
    let uncaught =
        stderr.lines().find(|l| l.contains("uncaught navigateTo:fail")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(uncaught.contains("pages/nowhere"), "the rejection names what failed: {uncaught}");
    assert!(stderr.contains("wx.showToast is not supported by miniapp"), "{stderr}");
}
