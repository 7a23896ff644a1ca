//! Containment: time is charged for running, never for waiting to run; a guest's
//! own waits are charged and cut at the budget; nesting through the allocator is
//! bounded; payment sheets need a user action; modules are counted before they
//! are compiled.

use crate::common::{self, expect_limit, neighbour_still_works, probe_op};
use miniapp_host::capabilities::payment::PaymentSettings;
use miniapp_host::consent::{Answer, ScriptedUser};
use miniapp_host::{Fault, LimitKind, LoadError, SessionError};
use miniapp_providers::SimulatorSettings;
use serde_json::json;
use std::time::Duration;

/// An hour's sleep through `poll_oneoff` ends at the launch budget, and the
/// host, its other programs and the session's own thread are free meanwhile.
#[tokio::test]
async fn a_wasi_sleep_is_cut_at_the_budget() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.hostile.sleeper", "[limits]\nlaunch_time_ms = 300\n");
    let app = host.load_app_from_parts(manifest, common::hostile_module("sleeper")).await.unwrap();
    let mut session = app.start().await.unwrap();
    let sleeper = tokio::spawn(async move { session.launch(&common::direct()).await });
    // While it sleeps, a neighbour runs on the same host.
    neighbour_still_works(&host).await;
    let error = expect_limit(sleeper.await.unwrap(), LimitKind::LaunchTime);
    assert!(error.to_string().contains("launch time limit of 300 ms (limits.launch_time_ms)"), "{error}");
}

/// Short sleeps work (std's `thread::sleep` is `poll_oneoff`) and count against the
/// callback's time: two sleeps that fit pass, a third over the budget ends it.
#[tokio::test]
async fn a_guests_own_sleeps_count_against_its_time() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let app = common::probe(&host, "test.sleeper", "[limits]\ncallback_time_ms = 400\n").await;
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    assert_eq!(probe_op(&mut session, "sleep", json!({"ms": 150})).await, json!({"op": "sleep", "ok": null}));
    assert_eq!(probe_op(&mut session, "sleep", json!({"ms": 150})).await, json!({"op": "sleep", "ok": null}));
    let error =
        expect_limit(session.event(&common::custom("sleep", json!({"ms": 5_000}))).await, LimitKind::CallbackTime);
    assert!(error.to_string().contains("callback time limit of 400 ms"), "{error}");
}

/// A program is charged for the time it runs, not for the time the host's threads
/// are busy elsewhere: here a neighbour task blocks the only async worker for
/// 1.5 s at a time, far longer than the program's 1 s budget, each time the
/// program yields at an interruption tick. Charged by wall time the program would
/// be ended; charged by its running time it finishes.
#[tokio::test(flavor = "current_thread")]
async fn waiting_to_be_scheduled_is_not_charged() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let app = common::probe(&host, "test.busy-neighbours", "[limits]\ncallback_time_ms = 1000\n").await;
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    session.take_output();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hog_done = done.clone();
    let hog = tokio::spawn(async move {
        let mut turns = 0;
        while !hog_done.load(std::sync::atomic::Ordering::SeqCst) && turns < 3 {
            // Blocks the thread, as an overloaded host (or machine) would.
            std::thread::sleep(Duration::from_millis(1_500));
            turns += 1;
            tokio::task::yield_now().await;
        }
        turns
    });
    // Runs across several interruption ticks, yielding to the hog at each.
    let reply = probe_op(&mut session, "spin", json!({"iterations": 50_000_000})).await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(reply["ok"].is_u64(), "{reply}");
    assert!(hog.await.unwrap() >= 1, "the program yielded to its neighbour");
}

/// An allocator that calls the host is an ABI violation at the first nested call,
/// so one program can never hold more than its two fiber stacks; a neighbour
/// starts and runs in a pool with room for just the two of them.
#[tokio::test]
async fn a_host_call_inside_the_allocator_ends_the_program() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_with(&data, |config| config.engine.max_live_programs = 2);
    let manifest = common::manifest("test.hostile.reentrant-alloc", "[capabilities.storage]\n");
    let app = host.load_app_from_parts(manifest, common::hostile_module("reentrant_alloc")).await.unwrap();
    let mut session = app.start().await.unwrap();
    match session.launch(&common::direct()).await {
        Err(SessionError::Ended { fault: Fault::Abi(message), .. }) => {
            assert!(message.contains("miniapp_alloc called `miniapp:storage.keys`"), "{message}")
        }
        other => panic!("expected an ABI violation, got {other:?}"),
    }
    neighbour_still_works(&host).await;
}

/// 500 payment requests in one launch: one sheet, 499 refusals that show nothing.
#[tokio::test]
async fn one_payment_sheet_per_user_action() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.hostile.sheet-flood", common::PROBE_PAYMENT);
    let app = host.load_app_from_parts(manifest, common::hostile_module("sheet_flood")).await.unwrap();
    let user = ScriptedUser::new([Answer::No]);
    let mut session = app.start_with_user(user.clone()).await.unwrap();
    session.launch(&common::direct()).await.expect("all but the first request were refused");
    assert_eq!(user.prompts().len(), 1, "{:?}", user.prompts());
    let denied = host.audit().count("payment", "request").await.unwrap();
    assert!(denied >= 499, "every refusal is audited ({denied})");
}

/// A payment outside a tap (a custom event, a page event) shows no sheet and
/// records nothing; the same order from a tap is paid, and a retry of the paid
/// order (no sheet needed) is answered outside a tap too.
#[tokio::test]
async fn a_payment_sheet_needs_a_tap() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_with(&data, |config| {
        SimulatorSettings::update(config, |s| s.notification_delay_scale = 0.0).unwrap();
        config.update_section("payment", |p: &mut PaymentSettings| p.confirm_wait_ms = 5_000).unwrap();
    });
    let app = common::probe(&host, "test.untapped", "").await;
    let user = ScriptedUser::new([Answer::Pick(1)]);
    let mut session = app.start_with_user(user.clone()).await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    session.take_output();
    let order = json!({"merchant_id": "1900000109", "out_trade_no": "UNTAPPED-1", "amount": 990, "description": "Tea"});
    let refused = probe_op(&mut session, "pay", order.clone()).await;
    assert_eq!(refused["error"]["code"], "capability_denied", "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("user action"), "{refused}");
    assert!(user.prompts().is_empty());
    assert!(host.payment_ledger().get("1900000109", "UNTAPPED-1").await.unwrap().is_none(), "nothing recorded");
    let paid = common::probe_tap(&mut session, "pay", order.clone()).await;
    assert_eq!(paid["ok"]["status"], "paid", "{paid}");
    let again = probe_op(&mut session, "pay", order).await;
    assert_eq!(again["ok"]["transaction_id"], paid["ok"]["transaction_id"], "{again}");
    assert_eq!(user.prompts().len(), 1);
}

/// A minimal guest with `count` more functions, each with `body`.
fn functions_module_with(count: usize, body: &str) -> Vec<u8> {
    let mut text = String::from("(module (memory (export \"memory\") 1) (func (export \"miniapp_abi_v1_0\"))\n");
    text.push_str("(func (export \"miniapp_alloc\") (param i32) (result i32) (i32.const 1024))\n");
    text.push_str("(func (export \"miniapp_on_launch\") (param i32 i32) (result i32) (i32.const 0))\n");
    for _ in 0..count {
        text.push_str(&format!("(func {body})\n"));
    }
    text.push(')');
    text.into_bytes()
}

/// A minimal guest with `count` more empty functions.
fn functions_module(count: usize) -> Vec<u8> {
    functions_module_with(count, "")
}

async fn load_error(host: &miniapp_host::Host, module: Vec<u8>, extra: &str) -> LoadError {
    match host.load_app_from_parts(common::manifest("test.hostile.bomb", extra), module).await {
        Err(error) => error,
        Ok(_) => panic!("the module loaded"),
    }
}

/// Compile-time bombs are refused by count before any code is compiled, naming the
/// limit; a module within the limits loads.
#[tokio::test]
async fn modules_are_counted_before_they_are_compiled() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_with(&data, |config| {
        config.limits.module_functions = 1_000;
        config.limits.module_bytes = 64 << 10;
    });
    let error = load_error(&host, functions_module(1_000), "").await;
    assert_eq!(error.code(), "limit_exceeded");
    assert!(error.to_string().contains("1003 functions, over the limit of 1000 (limits.module_functions)"), "{error}");
    let error = load_error(&host, functions_module(20_000), "").await;
    assert!(error.to_string().contains("(limits.module_bytes)"), "{error}");
    let imports: String = (0..1_001).map(|i| format!("(import \"wasi_snapshot_preview1\" \"f{i}\" (func))")).collect();
    let error = load_error(&host, format!("(module {imports})").into_bytes(), "").await;
    assert!(error.to_string().contains("1001 imports, over the limit of 1000 (limits.module_imports)"), "{error}");
    // A manifest may tighten them like any limit.
    let error = load_error(&host, functions_module(10), "[limits]\nmodule_functions = 5\n").await;
    assert!(error.to_string().contains("(limits.module_functions)"), "{error}");
    host.load_app_from_parts(common::manifest("test.small", ""), functions_module(10)).await.expect("loads");
}

/// Minimums an instance could never be given are refused at load as the limits
/// they break, not as the instance allocator's words.
#[tokio::test]
async fn memory_and_table_minimums_over_the_limits_name_the_limit() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let exports = "(func (export \"miniapp_abi_v1_0\")) (func (export \"miniapp_alloc\") (param i32) (result i32) (i32.const 0)) (func (export \"miniapp_on_launch\") (param i32 i32) (result i32) (i32.const 0))";
    let memory = format!("(module (memory (export \"memory\") 2000) {exports})");
    let error = load_error(&host, memory.into_bytes(), "").await;
    assert!(error.to_string().contains("(limits.memory_bytes)"), "{error}");
    assert!(!error.to_string().contains("pooling"), "{error}");
    let table = format!("(module (memory (export \"memory\") 1) (table 20000 funcref) {exports})");
    let error = load_error(&host, table.into_bytes(), "").await;
    assert!(error.to_string().contains("(limits.table_elements)"), "{error}");
}

/// WASI calls given impossible arguments end the guest (or fail) with one line
/// naming the cause, never a wasm backtrace.
#[tokio::test]
async fn wasi_misuse_is_reported_on_one_line() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let calls = [
        r#"(import "wasi_snapshot_preview1" "random_get" (func $f (param i32 i32) (result i32)))"#,
        r#"(import "wasi_snapshot_preview1" "path_open" (func $f (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))"#,
    ];
    let bodies = [
        "(drop (call $f (i32.const 0) (i32.const 1073741824)))",
        "(drop (call $f (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0)))",
    ];
    for (import, body) in calls.iter().zip(bodies) {
        let module = format!(
            "(module {import} (memory (export \"memory\") 1) (func (export \"miniapp_abi_v1_0\"))
             (func (export \"miniapp_alloc\") (param i32) (result i32) (i32.const 1024))
             (func (export \"miniapp_on_launch\") (param i32 i32) (result i32) {body} (i32.const 0)))"
        );
        let app =
            host.load_app_from_parts(common::manifest("test.wasi-misuse", ""), module.into_bytes()).await.unwrap();
        let mut session = app.start().await.unwrap();
        if let Err(error) = session.launch(&common::direct()).await {
            let text = error.to_string();
            assert!(!text.contains('\n') && !text.contains("backtrace"), "{text}");
        }
    }
}

/// Every gate decision is in the audit log: a refused load (an undeclared
/// capability, a bad ABI version) and the user's consent answers, readable by
/// program, capability and decision.
#[tokio::test]
async fn refused_loads_and_consent_answers_are_audited() {
    use miniapp_host::audit::{AuditFilter, Outcome};
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.hostile.undeclared", "");
    assert!(host.load_app_from_parts(manifest, common::hostile_module("undeclared_import")).await.is_err());
    let manifest = common::manifest("test.hostile.abi-v2", "");
    assert!(host.load_app_from_parts(manifest, common::hostile_module("abi_v2")).await.is_err());
    let filter = |program: &str| AuditFilter { program_id: Some(program.into()), ..AuditFilter::default() };
    let undeclared = host.audit().query(&filter("test.hostile.undeclared"), 10).await.unwrap();
    assert_eq!((undeclared[0].capability.as_str(), undeclared[0].action.as_str()), ("storage", "load"));
    assert_eq!(undeclared[0].outcome.as_str(), "denied");
    assert!(undeclared[0].reason.contains("does not declare [capabilities.storage]"), "{:?}", undeclared[0]);
    let abi = host.audit().query(&filter("test.hostile.abi-v2"), 10).await.unwrap();
    assert_eq!(abi[0].capability, "module");
    assert!(abi[0].reason.contains("ABI 2.0"), "{:?}", abi[0]);

    let app = common::probe(&host, "test.consenting", "").await;
    let user = ScriptedUser::new([Answer::Yes, Answer::No]);
    let mut session = app.start_with_user(user).await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    probe_op(&mut session, "phone", json!({})).await;
    probe_op(&mut session, "profile", json!({})).await;
    let consent = AuditFilter { capability: Some("identity".into()), ..AuditFilter::default() };
    let answers = host.audit().query(&consent, 10).await.unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> =
        answers.iter().skip(1).map(|d| (d.action.as_str(), d.outcome.as_str(), d.target.as_deref())).collect();
    assert_eq!((answers[0].action.as_str(), answers[0].outcome.as_str()), ("load", "allowed"));
    assert_eq!(seen, [("consent", "confirmed", Some("phone")), ("consent", "declined", Some("profile"))]);
    let declined = AuditFilter { outcome: Some(Outcome::Declined), ..consent };
    assert_eq!(host.audit().query(&declined, 10).await.unwrap().len(), 1);
}

/// Version markers have one form: a `() -> ()` function, each number written
/// without leading zeros. Anything else is `abi_marker_invalid`, not 1.0.
#[tokio::test]
async fn malformed_version_markers_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let rest = "(memory (export \"memory\") 1)
        (func (export \"miniapp_alloc\") (param i32) (result i32) (i32.const 1024))
        (func (export \"miniapp_on_launch\") (param i32 i32) (result i32) (i32.const 0))";
    for marker in [
        "(func (export \"miniapp_abi_v1_0\") (param i32))",
        "(func (export \"miniapp_abi_v1_0\") (result i32) (i32.const 0))",
        "(global (export \"miniapp_abi_v1_0\") i32 (i32.const 0))",
        "(func (export \"miniapp_abi_v01_0\"))",
    ] {
        let module = format!("(module {marker} {rest})");
        let error = load_error(&host, module.into_bytes(), "").await;
        assert_eq!(error.code(), "abi_marker_invalid", "{marker}: {error}");
    }
}

/// A message limit below what the host's own messages need is refused at load,
/// naming the field; at the floor, an oversized reply is an error value and the
/// guest keeps running.
#[tokio::test]
async fn the_message_limit_has_a_floor_and_replies_over_it_are_values() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let error = load_error(&host, functions_module(1), "[limits]\nmessage_bytes = 100\n").await;
    assert!(error.to_string().contains("limits.message_bytes") && error.to_string().contains("4096"), "{error}");
    let app = common::probe(&host, "test.small-messages", "[limits]\nmessage_bytes = 4096\n").await;
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    // 600 keys make a `keys` reply of about 6,000 bytes: over the limit.
    let filled = probe_op(&mut session, "fill", json!({"size": 1, "count": 600})).await;
    assert_eq!(filled["ok"], 600, "{filled}");
    let keys = probe_op(&mut session, "keys", json!({})).await;
    assert_eq!(keys["error"]["code"], "limit_exceeded", "{keys}");
    assert!(session.ended().is_none(), "the guest keeps running");
}

/// Compiling a large module runs off the thread that runs programs: on a
/// single-threaded host, a running program's events are served while the
/// compilation is still under way.
#[tokio::test(flavor = "current_thread")]
async fn compiling_does_not_stall_other_programs() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let app = common::probe(&host, "test.running", "").await;
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    session.take_output();
    let module = functions_module_with(15_000, &"(drop (i32.add (i32.const 1) (i32.const 2)))".repeat(4));
    let compiling = {
        let host = host.clone();
        tokio::spawn(async move { host.load_app_from_parts(common::manifest("test.big", ""), module).await })
    };
    tokio::task::yield_now().await;
    for _ in 0..5 {
        probe_op(&mut session, "spin", json!({"iterations": 1000})).await;
    }
    let finished = compiling.is_finished();
    let loaded = compiling.await.unwrap();
    assert!(!finished, "the events waited for the compilation");
    assert!(loaded.is_ok(), "{:?}", loaded.err());
}
