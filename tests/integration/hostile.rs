//! The hostile-guest suite: one hand-written attacker per case, each ending in its
//! documented error while a well-behaved program on the same host keeps working.

use crate::common::{self, expect_limit, neighbour_still_works};
use miniapp_host::{Fault, Host, LimitKind, SessionError};

const STORAGE: &str = "[capabilities.storage]\n";

/// Loads and launches hostile guest `name`; returns the launch result.
async fn launch_hostile(host: &Host, name: &str, extra: &str) -> Result<(), SessionError> {
    let manifest = common::manifest(&format!("test.hostile.{}", name.replace('_', "-")), extra);
    let app = host.load_app_from_parts(manifest, common::hostile_module(name)).await.expect("hostile guest loads");
    let mut session = app.start().await?;
    session.launch(&common::direct()).await
}

fn expect_abi_violation(result: Result<(), SessionError>, needle: &str) {
    match result {
        Err(SessionError::Ended { fault: Fault::Abi(message), .. }) => {
            assert!(message.contains(needle), "{message}")
        }
        other => panic!("expected an ABI violation, got {other:?}"),
    }
}

#[tokio::test]
async fn infinite_loop_hits_the_launch_time_limit() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let error = expect_limit(
        launch_hostile(&host, "infinite_loop", "[limits]\nlaunch_time_ms = 200\n").await,
        LimitKind::LaunchTime,
    );
    assert!(error.to_string().contains("launch time limit of 200 ms (limits.launch_time_ms)"), "{error}");
    assert_eq!(error.code(), "limit_exceeded");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn infinite_loop_runs_out_of_fuel_when_fuel_is_metered() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_with(&data, |c| {
        c.engine.fuel = true;
        c.limits.fuel_per_callback = Some(5_000_000);
    });
    expect_limit(launch_hostile(&host, "infinite_loop", "").await, LimitKind::Fuel);
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let error = expect_limit(
        launch_hostile(&host, "memory_bomb", "[limits]\nmemory_bytes = 4194304\n").await,
        LimitKind::Memory,
    );
    assert!(error.to_string().contains("4194304 bytes"), "{error}");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn deep_recursion_hits_the_stack_limit() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    expect_limit(launch_hostile(&host, "deep_recursion", "").await, LimitKind::WasmStack);
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn out_of_bounds_request_is_an_abi_violation() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    expect_abi_violation(
        launch_hostile(&host, "out_of_bounds", STORAGE).await,
        "outside the guest's 65536-byte memory",
    );
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn overflowing_pointer_is_an_abi_violation() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    expect_abi_violation(launch_hostile(&host, "overflowing_pointer", STORAGE).await, "0xfffffff0");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn reply_slot_outside_memory_is_an_abi_violation() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    expect_abi_violation(launch_hostile(&host, "bad_reply_slot", STORAGE).await, "0xfffffffc");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn oversized_message_hits_the_message_limit() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    expect_limit(launch_hostile(&host, "oversized_message", STORAGE).await, LimitKind::MessageBytes);
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn invalid_utf8_and_malformed_json_are_errors_as_values() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    for name in ["invalid_utf8", "malformed_json"] {
        // The guest returns the host's status from on_launch: 1 is invalid_argument,
        // and the program is not ended.
        match launch_hostile(&host, name, STORAGE).await {
            Err(error @ SessionError::CallbackFailed { status: 1, .. }) => {
                assert!(!error.ends_program());
                assert!(error.to_string().contains("invalid_argument"), "{error}");
            }
            other => panic!("{name}: expected status 1, got {other:?}"),
        }
    }
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn a_trap_ends_the_guest_with_the_trap() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    match launch_hostile(&host, "trap", "").await {
        Err(error @ SessionError::Trapped { .. }) => {
            assert!(error.to_string().contains("unreachable"), "{error}");
            assert_eq!(error.code(), "guest_trapped");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn output_flood_hits_the_output_limit_and_keeps_what_fit() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.hostile.flood", "[limits]\noutput_bytes = 10000\n");
    let app = host.load_app_from_parts(manifest, common::hostile_module("output_flood")).await.unwrap();
    let mut session = app.start().await.unwrap();
    expect_limit(session.launch(&common::direct()).await, LimitKind::OutputBytes);
    assert_eq!(session.take_output().stdout.len(), 10_000);
    let again = session.launch(&common::direct()).await;
    assert!(matches!(again, Err(SessionError::AlreadyEnded { .. })), "{again:?}");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn host_call_flood_hits_the_host_call_limit() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let extra = "[capabilities.storage]\n[limits]\nhost_calls_per_callback = 50\n";
    expect_limit(launch_hostile(&host, "host_call_flood", extra).await, LimitKind::HostCalls);
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn an_allocator_answering_null_is_an_abi_violation() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    expect_abi_violation(launch_hostile(&host, "null_allocator", "").await, "miniapp_alloc returned 0");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn calling_exit_is_a_trap() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    match launch_hostile(&host, "exits", "").await {
        Err(error @ SessionError::Trapped { .. }) => {
            assert!(error.to_string().contains("exit(3)"), "{error}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn undeclared_capability_import_is_refused_at_load() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.hostile.undeclared", "");
    let error = host.load_app_from_parts(manifest, common::hostile_module("undeclared_import")).await.err().unwrap();
    assert_eq!(error.code(), "undeclared_capability");
    assert!(error.to_string().contains("[capabilities.storage]"), "{error}");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn unknown_abi_major_version_is_refused_at_load() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    let manifest = common::manifest("test.hostile.v2", "");
    let error = host.load_app_from_parts(manifest, common::hostile_module("abi_v2")).await.err().unwrap();
    assert_eq!(error.code(), "abi_version_unsupported");
    assert!(error.to_string().contains("ABI 2.0"), "{error}");
    neighbour_still_works(&host).await;
}

#[tokio::test]
async fn malformed_wasm_is_refused_at_load() {
    let data = tempfile::tempdir().unwrap();
    let host = common::host(&data);
    for bytes in [b"\0asm\x01\0\0\0\x01\xff".to_vec(), b"not wasm at all".to_vec(), Vec::new()] {
        let manifest = common::manifest("test.hostile.garbage", "");
        let error = host.load_app_from_parts(manifest, bytes).await.err().unwrap();
        assert_eq!(error.code(), "module_invalid", "{error}");
    }
    neighbour_still_works(&host).await;
}
