//! The real `miniapp` binary: the sample runs, inspect reports, and every bad input
//! ends in one clear `error:` line and a non-zero exit — never a panic.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::{miniapp, repo, text};

/// Asserts a failed run: non-zero exit, stderr ending in one `error:` line that
/// contains `needle`, and no panic or backtrace.
fn assert_clean_failure(output: &Output, needle: &str) {
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "expected failure; stderr: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "last line is not an error line: {stderr}");
    assert!(last.contains(needle), "expected {needle:?} in {last:?}");
    assert_eq!(stderr.matches("error: ").count(), 1, "one error line only: {stderr}");
    for forbidden in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(forbidden), "{forbidden} in {stderr}");
    }
}

/// An app directory holding `module.wat` and a manifest with `extra` TOML.
fn wat_app(dir: &Path, wat: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("module.wat"), wat).unwrap();
    std::fs::write(
        dir.join("miniapp.toml"),
        format!("id = \"test.cli\"\nname = \"CLI test\"\nversion = \"1.0.0\"\npublisher = \"tests\"\nmodule = \"module.wat\"\n{extra}"),
    )
    .unwrap();
    dir.to_path_buf()
}

fn hostile(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/guests/hostile").join(format!("{name}.wat"))).unwrap()
}

#[test]
fn run_builds_and_runs_hello_with_prefixed_output() {
    let data = tempfile::tempdir().unwrap();
    let first = miniapp(data.path(), &["run", "sample-programs/hello", "--surface", "chat", "--query", "item=1042"]);
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "stderr: {}", text(&first.stderr));
    assert!(
        stdout.contains("[com.example.hello] Hello from miniapp! Opened from chat — launched the first time."),
        "{stdout}"
    );
    assert!(stdout.contains("[com.example.hello] query: {\"item\": \"1042\"}"), "{stdout}");

    let second = miniapp(data.path(), &["run", "sample-programs/hello", "--event", r#"{"type":"tap","action":"buy"}"#]);
    let stdout = text(&second.stdout);
    assert!(second.status.success(), "stderr: {}", text(&second.stderr));
    assert!(stdout.contains("launched 2 times"), "{stdout}");
    assert!(stdout.contains("[com.example.hello] tapped buy"), "{stdout}");
}

#[test]
fn inspect_reports_imports_by_capability() {
    let data = tempfile::tempdir().unwrap();
    let output = miniapp(data.path(), &["inspect", "sample-programs/hello", "--json"]);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("inspect --json prints JSON");
    assert_eq!(report["id"], "com.example.hello");
    assert_eq!(report["abi_version"], "1.1");
    assert_eq!(report["capabilities"]["declared"], serde_json::json!(["storage"]));
    assert_eq!(report["capabilities"]["imported"], serde_json::json!(["storage"]));
    assert!(report["imports"]["storage"].as_array().unwrap().contains(&"get".into()));
    assert_eq!(report["module"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(report["problems"], serde_json::json!([]));

    let output = miniapp(data.path(), &["inspect", "sample-programs/hello", "--no-build"]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("ABI version   1.1") && stdout.contains("problems      none"), "{stdout}");
}

#[test]
fn inspect_lists_every_problem_of_a_bad_module() {
    let data = tempfile::tempdir().unwrap();
    let dir = wat_app(&data.path().join("app"), &hostile("undeclared_import"), "");
    let output = miniapp(data.path(), &["inspect", dir.to_str().unwrap()]);
    assert!(!output.status.success());
    let stdout = text(&output.stdout);
    assert!(stdout.contains("[undeclared_capability]"), "{stdout}");
    assert!(stdout.contains("imported      storage"), "{stdout}");
}

#[test]
fn load_errors_are_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    let root = data.path();
    let missing_manifest = root.join("empty");
    std::fs::create_dir_all(&missing_manifest).unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (missing_manifest, "no miniapp.toml here"),
        (root.join("does-not-exist"), "no miniapp.toml here"),
        (
            wat_app(&root.join("bad-id"), &hostile("trap"), "").tap_manifest(|m| m.replace("test.cli", "Bad Id")),
            "field `id`",
        ),
        (wat_app(&root.join("unknown-field"), &hostile("trap"), "colour = \"red\"\n"), "unknown field `colour`"),
        (
            wat_app(&root.join("escape"), &hostile("trap"), "")
                .tap_manifest(|m| m.replace("module.wat", "../escape.wat")),
            "leaves the app directory",
        ),
        (
            wat_app(&root.join("missing-module"), &hostile("trap"), "")
                .tap_manifest(|m| m.replace("module.wat", "gone.wasm")),
            "module not found",
        ),
        (wat_app(&root.join("garbage"), "this is not wasm", ""), "not a valid WebAssembly module"),
        (
            wat_app(&root.join("undeclared"), &hostile("undeclared_import"), ""),
            "does not declare [capabilities.storage]",
        ),
        (wat_app(&root.join("v2"), &hostile("abi_v2"), ""), "speaks miniapp ABI 2.0"),
        (
            wat_app(&root.join("unknown-cap"), &hostile("trap"), "[capabilities.teleport]\n"),
            "unknown capability `teleport`",
        ),
        (wat_app(&root.join("looser"), &hostile("trap"), "[limits]\nmemory_bytes = 1099511627776\n"), "only tighten"),
    ];
    for (dir, needle) in cases {
        let output = miniapp(root, &["run", dir.to_str().unwrap()]);
        assert_clean_failure(&output, needle);
    }
}

#[test]
fn guest_failures_are_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    let root = data.path();
    let storage = "[capabilities.storage]\n";
    let cases = [
        ("trap", "", "trapped in miniapp_on_launch"),
        ("infinite_loop", "[limits]\nlaunch_time_ms = 100\n", "launch time limit of 100 ms"),
        ("memory_bomb", "[limits]\nmemory_bytes = 1048576\n", "memory limit of 1048576 bytes"),
        ("out_of_bounds", storage, "violated the ABI"),
        ("output_flood", "[limits]\noutput_bytes = 4096\n", "output per callback limit of 4096 bytes"),
        ("malformed_json", storage, "reported failure from miniapp_on_launch (status 1, invalid_argument)"),
    ];
    for (name, extra, needle) in cases {
        let dir = wat_app(&root.join(name), &hostile(name), extra);
        let output = miniapp(root, &["run", dir.to_str().unwrap()]);
        assert_clean_failure(&output, needle);
    }
}

#[test]
fn bad_arguments_are_named() {
    let data = tempfile::tempdir().unwrap();
    let output = miniapp(data.path(), &["run", "sample-programs/hello", "--surface", "billboard"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("unknown surface `billboard`"));
    let output = miniapp(data.path(), &["run", "sample-programs/hello", "--event", "{\"type\":\"tap\"}"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("is not an event"));
    let output = miniapp(data.path(), &["run", "sample-programs/hello", "--query", "novalue"]);
    assert!(text(&output.stderr).contains("is not KEY=VALUE"));
}

#[test]
fn audit_lists_load_decisions_on_sqlite() {
    audit_lists_load_decisions(&[]);
}

#[test]
fn audit_lists_load_decisions_on_postgres() {
    if let Some(miniapp_host::testing::TestBackend::Postgres(settings)) = miniapp_host::testing::TestBackend::postgres()
    {
        audit_lists_load_decisions(&["--database", settings.url.as_deref().unwrap_or_default()]);
    }
}

fn audit_lists_load_decisions(database: &[&str]) {
    let data = tempfile::tempdir().unwrap();
    let with = |args: &[&'static str]| -> Vec<String> { database.iter().chain(args).map(|a| a.to_string()).collect() };
    let run = with(&["run", "sample-programs/hello"]);
    assert!(miniapp(data.path(), &run.iter().map(String::as_str).collect::<Vec<_>>()).status.success());
    let audit = with(&["audit", "--json"]);
    let output = miniapp(data.path(), &audit.iter().map(String::as_str).collect::<Vec<_>>());
    let decisions: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Recorded under the verified identity: the id and the development key.
    let program = decisions[0]["program_id"].as_str().unwrap();
    assert!(program.starts_with("com.example.hello@") && program.len() == "com.example.hello@".len() + 40, "{program}");
    assert_eq!(decisions[0]["outcome"], "allowed");
}

trait TapManifest {
    fn tap_manifest(self, edit: impl FnOnce(String) -> String) -> PathBuf;
}

impl TapManifest for PathBuf {
    /// Rewrites this app directory's manifest.
    fn tap_manifest(self, edit: impl FnOnce(String) -> String) -> PathBuf {
        let path = self.join("miniapp.toml");
        let manifest = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(manifest)).unwrap();
        self
    }
}

#[test]
fn link_demo_follows_the_users_surface_switches() {
    let data = tempfile::tempdir().unwrap();
    let run = || miniapp(data.path(), &["run", "sample-programs/link-demo", "--surface", "chat"]);
    let before = run();
    let stdout = text(&before.stdout);
    assert!(before.status.success(), "stderr: {}", text(&before.stderr));
    assert!(stdout.contains("open the shop: Opened — taobao://shop/58"), "{stdout}");
    assert!(stdout.contains("open a disguised link: Denied (userinfo)"), "{stdout}");
    assert!(stdout.contains("share to Moments: Denied (surface_disabled)"), "{stdout}");
    assert!(stdout.contains("[host] link: shared https://taobao.com/deals/1042 to chat"), "{stdout}");

    let enabled = miniapp(data.path(), &["settings", "links", "--surface", "moments", "--enable"]);
    assert!(text(&enabled.stdout).contains("moments       links switch on"), "{}", text(&enabled.stdout));
    let after = text(&run().stdout);
    assert!(after.contains("share to Moments: Opened"), "{after}");

    let audit = miniapp(data.path(), &["audit", "--program", "com.example.link-demo"]);
    assert!(text(&audit.stdout).contains("https://taobao.com/deals/1042 on moments"), "{}", text(&audit.stdout));
}

#[test]
fn prompts_take_scripted_answers_and_decline_without_them() {
    let data = tempfile::tempdir().unwrap();
    let tap = r#"{"type":"tap","action":"open-deals"}"#;
    let yes = miniapp(data.path(), &["run", "sample-programs/link-demo", "--event", tap, "--answer", "yes"]);
    assert!(text(&yes.stdout).contains("open Deals after a tap: Confirmed"), "{}", text(&yes.stdout));
    assert!(
        text(&yes.stderr).contains("wants to open mini-program com.taobao.deals /pages/index"),
        "{}",
        text(&yes.stderr)
    );
    let nobody = miniapp(data.path(), &["run", "sample-programs/link-demo", "--event", tap]);
    assert!(text(&nobody.stdout).contains("open Deals after a tap: Declined"), "{}", text(&nobody.stdout));
}

fn phone_wat() -> String {
    support::wat_guest(
        r#"(import "miniapp:identity" "phone" (func $phone (param i32 i32 i32) (result i32)))"#,
        "",
        "(call $phone (i32.const 0) (i32.const 0) (i32.const 16))",
    )
}

#[test]
fn permissions_are_listed_and_revoked() {
    let data = tempfile::tempdir().unwrap();
    let dir = wat_app(
        &data.path().join("phone"),
        &phone_wat(),
        "[capabilities.identity.scopes]\nphone = \"Call you when the parcel arrives\"\n",
    );
    let app = dir.to_str().unwrap();
    let granted = miniapp(data.path(), &["run", app, "--answer", "yes"]);
    assert!(granted.status.success(), "{}", text(&granted.stderr));
    assert!(
        text(&granted.stderr).contains("asks for your phone (\"Call you when the parcel arrives\")"),
        "{}",
        text(&granted.stderr)
    );
    assert!(text(&granted.stdout).contains("[host] identity: shared your phone: phone number +8613800138000"));

    let list = text(&miniapp(data.path(), &["permissions", "list"]).stdout);
    assert!(list.contains("test.cli") && list.contains("phone") && list.contains("granted"), "{list}");
    let revoked = text(&miniapp(data.path(), &["permissions", "revoke", app, "phone"]).stdout);
    assert!(revoked.trim().starts_with("revoked phone from test.cli@"), "{revoked}");

    let denied = miniapp(data.path(), &["run", app]);
    assert_clean_failure(&denied, "status 2, capability_denied");
    let list: serde_json::Value =
        serde_json::from_slice(&miniapp(data.path(), &["permissions", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["decision"], "revoked");
    let bad = miniapp(data.path(), &["permissions", "revoke", "test.cli", "email"]);
    assert_clean_failure(&bad, "unknown scope `email`");
}

#[test]
fn pay_demo_pays_and_the_receipt_verifies() {
    let data = tempfile::tempdir().unwrap();
    let paid = miniapp(data.path(), &["run", "sample-programs/pay-demo", "--answer", "2"]);
    let stdout = text(&paid.stdout);
    assert!(paid.status.success(), "{}", text(&paid.stderr));
    assert!(stdout.contains("paid PAYDEMO-000001 by alipay"), "{stdout}");
    assert!(text(&paid.stderr).contains("pay ¥29.90 to 淘宝特价 Taobao Deals"), "{}", text(&paid.stderr));
    let receipt = stdout.lines().find_map(|l| l.split("receipt: ").nth(1)).unwrap().trim().to_string();
    let verified = miniapp(data.path(), &["ledger", "verify", &receipt]);
    assert!(text(&verified.stdout).starts_with("valid: PAYDEMO-000001 paid ¥29.90"), "{}", text(&verified.stdout));
    let mut forged = receipt.clone();
    forged.insert(10, 'A');
    assert_clean_failure(&miniapp(data.path(), &["ledger", "verify", &forged]), "the receipt is not valid");

    let failed = miniapp(
        data.path(),
        &["run", "sample-programs/pay-demo", "--payment-scenario", "insufficient_funds", "--answer", "1"],
    );
    assert!(
        text(&failed.stdout).contains("payment failed for PAYDEMO-000002: insufficient_funds"),
        "{}",
        text(&failed.stdout)
    );
    let list: serde_json::Value =
        serde_json::from_slice(&miniapp(data.path(), &["ledger", "list", "--json"]).stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let show = text(&miniapp(data.path(), &["ledger", "show", "PAYDEMO-000001"]).stdout);
    assert!(show.contains("processing → paid: provider notification"), "{show}");
    assert_clean_failure(&miniapp(data.path(), &["ledger", "show", "NOPE-0001"]), "no order NOPE-0001");
    let bad = miniapp(data.path(), &["run", "sample-programs/pay-demo", "--payment-scenario", "lucky"]);
    assert!(text(&bad.stderr).contains("unknown scenario `lucky`"));
}

/// A program's output cannot rewrite the terminal or pass for the host: escape
/// sequences, carriage returns and bidi overrides are shown escaped, on a line
/// that starts with the program's id — in the terminal and in the transcript.
#[test]
fn program_output_cannot_imitate_the_host() {
    let data = tempfile::tempdir().unwrap();
    let apps = tempfile::tempdir().unwrap();
    let line = "\\1b[2K\\0d[host] payment T1 paid \\e2\\80\\ae\\0a";
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{line}")
  (func (export "miniapp_abi_v1_0"))
  (func (export "miniapp_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "miniapp_on_launch") (param i32 i32) (result i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 32))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (i32.const 0)))"#
    );
    let app = wat_app(&apps.path().join("forger"), &wat, "");
    let transcript = apps.path().join("t.json");
    let run = miniapp(
        data.path(),
        &["run", app.to_str().unwrap(), "--no-build", "--transcript", transcript.to_str().unwrap()],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\r') && !stdout.contains('\u{202e}'), "{stdout:?}");
    assert!(stdout.contains("[test.cli] \\u{1b}[2K\\u{d}[host] payment T1 paid \\u{202e}"), "{stdout}");
    assert!(stdout.lines().all(|l| !l.starts_with("[host] payment")), "{stdout}");
    let recorded = std::fs::read_to_string(&transcript).unwrap();
    assert!(!recorded.contains("\\u001b") && !recorded.contains('\u{202e}'), "{recorded}");
}

/// A closed stdout (`miniapp … | head`) ends the command quietly.
#[test]
fn a_closed_pipe_ends_quietly() {
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_miniapp"))
        .args(["settings", "links", "--data-dir"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("internal error") && !stderr.contains("panicked"), "{stderr}");
}

/// Reading commands create nothing: no data directory, no database, no key; and
/// on an existing directory they change no file.
#[test]
fn reading_commands_create_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let fresh = parent.path().join("never-made");
    for args in [
        &["ledger", "list"][..],
        &["ledger", "list", "--json"],
        &["audit"],
        &["audit", "--json"],
        &["permissions", "list"],
        &["settings", "links"],
        &["settings", "links", "--json"],
    ] {
        let output = miniapp(&fresh, args);
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
    }
    assert!(!fresh.exists(), "a reading command made the data directory");

    let data = tempfile::tempdir().unwrap();
    assert!(miniapp(data.path(), &["run", "sample-programs/hello", "--no-build"]).status.success());
    let files = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    let before = files(data.path());
    for args in [&["ledger", "list"][..], &["audit"], &["permissions", "list"], &["settings", "links"]] {
        assert!(miniapp(data.path(), args).status.success(), "{args:?}");
    }
    assert_eq!(files(data.path()), before);
    let key = miniapp(data.path(), &["ledger", "key"]);
    let key = text(&key.stdout);
    assert!(key.trim().len() == 64 && key.trim().bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    assert_eq!(files(data.path()), before);
    assert_clean_failure(&miniapp(&fresh, &["ledger", "key"]), "has no payment records");
}

/// Mistakes a new user makes get one line naming the problem.
#[test]
fn new_users_mistakes_are_named() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    assert_clean_failure(&miniapp(&file, &["audit"]), "is a file, not a directory");
    let switch = miniapp(data.path(), &["settings", "links", "--surface", "chat", "--disable"]);
    assert_clean_failure(&switch, "links on chat have no switch");

    let apps = tempfile::tempdir().unwrap();
    let broken = apps.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("miniapp.toml"), "id = \"test.broken\"\nname = \"x\nversion = \"1.0.0\"\n").unwrap();
    assert_clean_failure(&miniapp(data.path(), &["run", broken.to_str().unwrap()]), "(line 2, column");

    let text_module = apps.path().join("text");
    std::fs::create_dir_all(&text_module).unwrap();
    std::fs::write(text_module.join("module.wasm"), "(module)").unwrap();
    std::fs::write(
        text_module.join("miniapp.toml"),
        "id = \"test.text\"\nname = \"T\"\nversion = \"1.0.0\"\npublisher = \"t\"\nmodule = \"module.wasm\"\n",
    )
    .unwrap();
    let refused = miniapp(data.path(), &["run", text_module.to_str().unwrap(), "--no-build"]);
    assert_clean_failure(&refused, "must be named `.wat`");
}

/// The payment sheet takes only a method's number or a refusal: `--answer 3` of
/// two methods, or `yes`, is reported and the next answer is taken; answers left
/// over are an error.
#[test]
fn the_payment_sheet_reasks_on_answers_that_do_not_fit() {
    let data = tempfile::tempdir().unwrap();
    let paid =
        miniapp(data.path(), &["run", "sample-programs/pay-demo", "--answer", "3", "--answer", "yes", "--answer", "1"]);
    let stderr = text(&paid.stderr);
    assert!(paid.status.success(), "{stderr}");
    assert!(stderr.contains("the answer `3` does not fit; expected a method's number (1–2) or no"), "{stderr}");
    assert!(stderr.contains("the answer `yes` does not fit"), "{stderr}");
    assert!(text(&paid.stdout).contains("by wechat_pay"), "{}", text(&paid.stdout));
    let leftover =
        miniapp(data.path(), &["run", "sample-programs/pay-demo", "--no-build", "--answer", "1", "--answer", "no"]);
    assert_clean_failure(&leftover, "1 --answer value(s) were never asked for: no");
}

/// `inspect` reports every problem `run` refuses — a limit above the host's, a
/// link domain the host refuses — and `--json` is JSON even when the module does
/// not compile.
#[test]
fn inspect_reports_what_run_refuses_and_json_is_always_json() {
    let data = tempfile::tempdir().unwrap();
    let extra =
        "[limits]\nmemory_bytes = 1099511627776\n[capabilities.link]\ndomains = [\"localhost\", \"127.0.0.1\"]\n";
    let dir = wat_app(&data.path().join("app"), &hostile("trap"), extra);
    let dir = dir.to_str().unwrap();
    let run = miniapp(data.path(), &["run", dir]);
    assert!(!run.status.success());
    let inspected = miniapp(data.path(), &["inspect", dir, "--json"]);
    assert!(!inspected.status.success());
    let report: serde_json::Value = serde_json::from_slice(&inspected.stdout).expect("JSON");
    let problems = report["problems"].to_string();
    assert!(problems.contains("limits.memory_bytes"), "{problems}");
    assert!(problems.contains("capabilities.link.domains"), "{problems}");

    let broken = wat_app(&data.path().join("broken"), "(module (func $f (result i32)))", "");
    let inspected = miniapp(data.path(), &["inspect", broken.to_str().unwrap(), "--json"]);
    assert!(!inspected.status.success());
    let report: serde_json::Value = serde_json::from_slice(&inspected.stdout).expect("JSON on a compile failure");
    assert_eq!(report["problems"][0]["code"], "module_invalid", "{report}");
}
