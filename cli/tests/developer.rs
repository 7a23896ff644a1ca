//! The developer's loop through the real binary: `miniapp new` makes a program
//! that `miniapp run` and `miniapp test` pass on at once, outside the repository;
//! `miniapp test` reports a failing script with its line and the screen, in each
//! format, with the exit code CI reads.

mod support;

use std::path::Path;
use support::{c_toolchain, miniapp, text};

/// `miniapp new NAME --template TEMPLATE` in `parent`; the project's directory.
fn new_program(data: &Path, parent: &Path, name: &str, template: &str) -> std::path::PathBuf {
    let dir = parent.join(name);
    let out = miniapp(data, &["new", dir.to_str().unwrap(), "--template", template]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("com.example.{name}")), "{}", text(&out.stdout));
    for file in ["miniapp.toml", "demo.script", ".gitignore"] {
        assert!(dir.join(file).is_file(), "{template}: {file} is missing");
    }
    dir
}

fn run_and_test(data: &Path, dir: &Path) {
    let dir_text = dir.to_str().unwrap();
    let demo = dir.join("demo.script");
    let run = miniapp(data, &["run", dir_text, "--script", demo.to_str().unwrap()]);
    assert!(run.status.success(), "run:\n{}\n{}", text(&run.stdout), text(&run.stderr));
    assert!(text(&run.stdout).contains("[script] finished"), "{}", text(&run.stdout));
    let test = miniapp(data, &["test", dir_text]);
    let stdout = text(&test.stdout);
    assert!(test.status.success(), "test:\n{stdout}\n{}", text(&test.stderr));
    assert!(stdout.contains("tests: 1 passed, 0 failed"), "{stdout}");
}

#[test]
fn new_programs_of_every_template_run_and_pass_their_tests_outside_the_repository() {
    let data = tempfile::tempdir().unwrap();
    let projects = tempfile::tempdir().unwrap();
    for template in ["wat", "js", "c", "rust"] {
        if ["js", "c"].contains(&template) && !c_toolchain() {
            eprintln!("skipped the {template} template: it needs clang, lld and wasi-libc");
            continue;
        }
        let dir = new_program(data.path(), projects.path(), &format!("my-{template}"), template);
        run_and_test(data.path(), &dir);
    }
}

#[test]
fn new_refuses_a_bad_name_and_a_directory_in_use_and_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let projects = tempfile::tempdir().unwrap();
    let bad = projects.path().join("My App");
    let out = miniapp(data.path(), &["new", bad.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("cannot name a program"), "{stderr}");
    assert!(!bad.exists(), "nothing was written");

    let used = projects.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("notes.txt"), "mine").unwrap();
    let out = miniapp(data.path(), &["new", used.to_str().unwrap(), "--template", "wat"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already exists and is not empty"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_dir(&used).unwrap().count(), 1, "nothing was added");
}

#[test]
fn a_failing_script_fails_miniapp_test_with_its_line_in_every_format() {
    let data = tempfile::tempdir().unwrap();
    let projects = tempfile::tempdir().unwrap();
    let dir = new_program(data.path(), projects.path(), "tapper", "wat");
    std::fs::write(dir.join("tests/wrong.script"), "# a wrong expectation\ntap hello.tap\nexpect \"Untapped\"\n")
        .unwrap();
    std::fs::write(dir.join("tests/missing-button.script"), "tap buy\n").unwrap();
    let dir_text = dir.to_str().unwrap();

    let pretty = miniapp(data.path(), &["test", dir_text]);
    let stdout = text(&pretty.stdout);
    assert_eq!(pretty.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ok      tests/tap.script"), "{stdout}");
    assert!(stdout.contains("tests/wrong.script line 3: the screen does not show \"Untapped\""), "{stdout}");
    assert!(stdout.contains("Tapped!"), "the failure shows the screen: {stdout}");
    assert!(stdout.contains("tests/missing-button.script line 1: no button `buy`"), "{stdout}");
    assert!(stdout.contains("tests: 1 passed, 2 failed"), "{stdout}");

    let json = miniapp(data.path(), &["test", dir_text, "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("the json report is JSON");
    assert_eq!(report["failed"], 2);
    let wrong = report["cases"].as_array().unwrap().iter().find(|c| c["name"] == "wrong").unwrap();
    assert_eq!(wrong["line"], 3);
    assert_eq!(wrong["passed"], false);

    let junit = miniapp(data.path(), &["test", dir_text, "--format", "junit"]);
    assert_eq!(junit.status.code(), Some(1));
    let xml = text(&junit.stdout);
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"));
    let cases: Vec<_> = document.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 3, "one case per script");
    let failures = cases.iter().filter(|case| case.children().any(|c| c.has_tag_name("failure"))).count();
    assert_eq!(failures, 2);

    // --filter runs the matching cases only; all of them passing is exit code 0.
    let filtered = miniapp(data.path(), &["test", dir_text, "--filter", "tap"]);
    assert!(filtered.status.success(), "{}", text(&filtered.stdout));
    assert!(text(&filtered.stdout).contains("tests: 1 passed, 0 failed"), "{}", text(&filtered.stdout));
    let none = miniapp(data.path(), &["test", dir_text, "--filter", "nothing-matches"]);
    assert!(!none.status.success());
    assert!(text(&none.stderr).contains("no test script"), "{}", text(&none.stderr));
}

#[test]
fn each_case_starts_from_an_empty_data_directory() {
    let data = tempfile::tempdir().unwrap();
    let projects = tempfile::tempdir().unwrap();
    let dir = new_program(data.path(), projects.path(), "counter", "rust");
    // Two cases that each count from zero: neither sees the other's storage, nor
    // the count left by a `miniapp run` on the user's data directory.
    std::fs::copy(dir.join("tests/counter.script"), dir.join("tests/again.script")).unwrap();
    let dir_text = dir.to_str().unwrap();
    let demo = dir.join("demo.script");
    assert!(miniapp(data.path(), &["run", dir_text, "--script", demo.to_str().unwrap()]).status.success());
    let out = miniapp(data.path(), &["test", dir_text, "--jobs", "2"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("tests: 2 passed, 0 failed"), "{}", text(&out.stdout));
}

#[test]
fn the_c_sample_renders_stores_pays_and_links() {
    if !c_toolchain() {
        eprintln!("skipped: the C sample needs clang, lld, wasi-libc and libclang-rt-14-dev-wasm32");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let app = "sample-programs/hello-c";
    let out = miniapp(data.path(), &["run", app, "--script", "sample-programs/hello-c/demo.script"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("[com.example.hello-c] Hello C opened from direct"), "{stdout}");
    assert!(stdout.contains("[host] payment: HELLOC000001 ¥0.01 to merchant 1900000109: paid"), "{stdout}");
    assert!(stdout.contains("[host] link: shared https://item.taobao.com/item.htm?id=1042 to chat"), "{stdout}");
    assert!(stdout.contains("live room: opened"), "{stdout}");
    assert!(stdout.contains("[script] finished: 10 steps"), "{stdout}");
    let test = miniapp(data.path(), &["test", app]);
    assert!(test.status.success(), "{}\n{}", text(&test.stdout), text(&test.stderr));

    // Only what it calls is imported, so only what it declares is needed.
    let inspect = miniapp(data.path(), &["inspect", app, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let imported = report["capabilities"]["imported"].as_array().unwrap();
    assert_eq!(imported.len(), 4, "view, storage, payment, link: {imported:?}");
}

/// Copies the directory `from` to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn the_storefronts_demo_transcript_replays_entry_for_entry() {
    let data = tempfile::tempdir().unwrap();
    let transcript = data.path().join("demo.json");
    let app = "sample-programs/taobao-deals";
    let script = "sample-programs/taobao-deals/demo.script";
    let run = miniapp(data.path(), &["run", app, "--script", script, "--transcript", transcript.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    // The providers mint new transaction and refund ids; everything else is the same.
    let replay = miniapp(data.path(), &["replay", transcript.to_str().unwrap()]);
    let stdout = text(&replay.stdout);
    assert!(replay.status.success(), "{stdout}\n{}", text(&replay.stderr));
    assert!(stdout.contains("replayed 48 steps of com.taobao.deals: the same session, entry for entry"), "{stdout}");
}

#[test]
fn replaying_against_a_changed_program_reports_the_first_difference() {
    if !c_toolchain() {
        eprintln!("skipped: the JavaScript storefront needs clang, lld and wasi-libc");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let transcript = data.path().join("demo.json");
    let app = "sample-programs/taobao-deals-js";
    let script = "sample-programs/taobao-deals/demo.script";
    let run = miniapp(data.path(), &["run", app, "--script", script, "--transcript", transcript.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run.stderr));

    // A new version whose cart says something else.
    let changed = tempfile::tempdir().unwrap();
    copy_dir(&support::repo().join(app), changed.path());
    let item = changed.path().join("pages/item.js");
    let source = std::fs::read_to_string(&item).unwrap().replace("已加入购物车 Added to cart", "加购成功 In your cart");
    std::fs::write(&item, source).unwrap();
    let out =
        miniapp(data.path(), &["replay", transcript.to_str().unwrap(), "--against", changed.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("is not the recorded version's"), "{stdout}");
    let recorded =
        stdout.lines().find(|l| l.trim_start().starts_with("recorded:")).unwrap_or_else(|| panic!("{stdout}"));
    let replayed = stdout.lines().find(|l| l.trim_start().starts_with("replayed:")).unwrap();
    assert!(recorded.contains("已加入购物车 Added to cart"), "{recorded}");
    assert!(replayed.contains("加购成功 In your cart"), "{replayed}");
}
