//! The storage capability through a real guest: round trips, quota, isolation.

use crate::common::{self, probe_op};
use common::Backend;
use serde_json::json;

common::on_each_backend!(
    storage_round_trips_values,
    bad_keys_are_invalid_arguments,
    quota_is_enforced_and_a_refused_write_changes_nothing,
    entries_larger_than_the_host_allows_are_refused,
    programs_cannot_see_each_others_storage,
    manifest_quota_above_the_host_maximum_is_a_load_error,
    a_capability_the_host_disables_is_denied_as_a_value
);

async fn storage_round_trips_values(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.round-trip", "").await;
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    session.take_output();

    let value = json!({"items": [1042, 7], "note": "淘宝特价"});
    assert_eq!(probe_op(&mut session, "set", json!({"key": "cart", "value": value})).await["ok"], json!(null));
    assert_eq!(probe_op(&mut session, "get", json!({"key": "cart"})).await["ok"], value);
    assert_eq!(probe_op(&mut session, "get", json!({"key": "missing"})).await["ok"], json!(null));
    assert_eq!(probe_op(&mut session, "keys", json!({})).await["ok"], json!(["cart"]));
    let info = probe_op(&mut session, "info", json!({})).await;
    assert_eq!(info["ok"]["keys"], json!(1));
    assert_eq!(info["ok"]["used"], json!("cart".len() + value.to_string().len()));
    assert_eq!(probe_op(&mut session, "remove", json!({"key": "cart"})).await["ok"], json!(true));
    assert_eq!(probe_op(&mut session, "remove", json!({"key": "cart"})).await["ok"], json!(false));
    probe_op(&mut session, "set", json!({"key": "a", "value": 1})).await;
    assert_eq!(probe_op(&mut session, "clear", json!({})).await["ok"], json!(null));
    assert_eq!(probe_op(&mut session, "keys", json!({})).await["ok"], json!([]));
}

async fn bad_keys_are_invalid_arguments(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let mut session = common::probe(&host, "test.keys", "").await.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    for key in [String::new(), "k".repeat(257), "line\nbreak".to_string()] {
        let reply = probe_op(&mut session, "set", json!({"key": key, "value": 1})).await;
        assert_eq!(reply["error"]["code"], "invalid_argument", "{reply}");
    }
}

async fn quota_is_enforced_and_a_refused_write_changes_nothing(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let app = common::probe(&host, "test.quota", "quota_bytes = 1000").await;
    let mut session = app.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();

    // Each entry is "fill-N" (6 bytes) + 102 bytes of JSON string = 108 bytes; 9 fit.
    let reply = probe_op(&mut session, "fill", json!({"count": 20, "size": 100})).await;
    assert_eq!(reply["error"]["code"], "quota_exceeded", "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("quota of 1000 bytes"), "{reply}");
    let info = probe_op(&mut session, "info", json!({})).await;
    assert_eq!(info["ok"]["keys"], json!(9));
    assert_eq!(info["ok"]["used"], json!(9 * 108));
    assert_eq!(info["ok"]["quota"], json!(1000));

    // Replacing an entry with one of the same size still fits.
    let reply = probe_op(&mut session, "set", json!({"key": "fill-0", "value": "y".repeat(100)})).await;
    assert_eq!(reply["ok"], json!(null), "{reply}");
}

async fn entries_larger_than_the_host_allows_are_refused(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |c| {
        c.update_section("storage", |s: &mut miniapp_host::capabilities::storage::StorageSettings| {
            s.max_entry_bytes = 64
        })
        .unwrap()
    });
    let mut session = common::probe(&host, "test.entry", "").await.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    let reply = probe_op(&mut session, "set", json!({"key": "big", "value": "z".repeat(100)})).await;
    assert_eq!(reply["error"]["code"], "quota_exceeded", "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("largest entry allowed is 64 bytes"));
}

async fn programs_cannot_see_each_others_storage(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let mut alice = common::probe(&host, "test.alice", "").await.start().await.unwrap();
    let mut bob = common::probe(&host, "test.bob", "").await.start().await.unwrap();
    alice.launch(&common::direct()).await.unwrap();
    bob.launch(&common::direct()).await.unwrap();

    probe_op(&mut alice, "set", json!({"key": "secret", "value": "alice's"})).await;
    assert_eq!(probe_op(&mut bob, "get", json!({"key": "secret"})).await["ok"], json!(null));
    assert_eq!(probe_op(&mut bob, "keys", json!({})).await["ok"], json!([]));
    probe_op(&mut bob, "clear", json!({})).await;
    assert_eq!(probe_op(&mut alice, "get", json!({"key": "secret"})).await["ok"], json!("alice's"));
}

async fn manifest_quota_above_the_host_maximum_is_a_load_error(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |_| {});
    let manifest = common::manifest(
        "test.greedy",
        &format!(
            "[capabilities.storage]\nquota_bytes = 1000000000\n{}\n{}\n{}",
            common::PROBE_LINKS,
            common::PROBE_IDENTITY,
            common::PROBE_PAYMENT
        ),
    );
    let error = host.load_app_from_parts(manifest, common::probe_module()).await.expect_err("refused");
    assert_eq!(error.code(), "manifest_invalid");
    assert!(error.to_string().contains("capabilities.storage.quota_bytes"), "{error}");
}

async fn a_capability_the_host_disables_is_denied_as_a_value(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let host = common::host_on(&backend, &data, |c| {
        c.disabled_capabilities.insert("storage".into());
    });
    let mut session = common::probe(&host, "test.disabled", "").await.start().await.unwrap();
    session.launch(&common::direct()).await.unwrap();
    let reply = probe_op(&mut session, "set", json!({"key": "k", "value": 1})).await;
    assert_eq!(reply["error"]["code"], "capability_denied", "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("policy disables"));
    let decisions = host.audit().recent(Some("test.disabled"), 10).await.unwrap();
    let storage = decisions.iter().find(|d| d.capability == "storage").unwrap();
    assert_eq!(storage.outcome.as_str(), "denied");
}
